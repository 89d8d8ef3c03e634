//! What the plan's unit tests share: the seed configuration, answers, FRR states.

use std::path::PathBuf;

use crate::config::Config;
use crate::frr::RunningConfig;
use crate::health::cabourotte::{Answers, parse_result_list};
use crate::state::maintenance::Maintenance;

use super::{Action, FrrStates, Inputs, Intent, Plan};

pub(super) fn seed() -> Config {
    Config::parse(include_str!("../../examples/config.toml"), "seed").expect("valid seed")
}

pub(super) fn all_answer(config: &Config, body: &str) -> Answers {
    let list = parse_result_list(body, &|_| true).expect("valid list");
    config.checks().map(|(_, check)| (check.url.clone(), Ok(list.clone()))).collect()
}

pub(super) fn compute(
    config: &Config,
    answers: &Answers,
    frr: &FrrStates,
    maintenance: Option<Maintenance>,
    intent: Intent,
) -> Plan {
    let inputs = Inputs { answers: answers.clone(), frr: frr.clone(), maintenance, ..Inputs::default() };
    Plan::compute(config, &inputs, intent)
}

pub(super) fn frr(text: &str) -> FrrStates {
    FrrStates::from([(PathBuf::from("/usr/bin/vtysh"), Ok(RunningConfig::parse(text).expect("complete")))])
}

pub(super) const ALL_HEALTHY: &str =
    r#"[{"name":"dns","success":true},{"name":"ntp_v4","success":true},{"name":"ntp_v6","success":true}]"#;

pub(super) fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.prefixes().map(|p| (p.managed.prefix.to_string(), p.action.clone())).collect()
}

pub(super) const GRADED: &str = r#"
[services.dns]
prefixes.frrouting = ["203.0.113.53", { prefix = "203.0.113.54", drain_route_map = "OTHER-DRAIN" }]
checks.cabourotte = ["dns"]
route_map = "ANYCAST-OUT"
drain_route_map = "ANYCAST-DRAIN"
fall = 3
on_falling = "drain"
"#;

pub(super) fn graded(toml: &str) -> Config {
    Config::parse(toml, "graded").expect("valid graded config")
}

pub(super) const ROUTE_MAPS: &str = "route-map ANYCAST-OUT permit 10\n!\nroute-map ANYCAST-DRAIN permit 10\n!\n";

pub(super) fn graded_frr(networks: &str) -> FrrStates {
    frr(&format!("{ROUTE_MAPS}router bgp 65536\n address-family ipv4 unicast\n{networks} exit-address-family\nend\n"))
}

pub(super) fn plan_with(config: &Config, success: bool, frr: &FrrStates, inputs: Inputs) -> Plan {
    let answer = format!(r#"[{{"name":"dns","success":{success}}}]"#);
    let inputs = Inputs { answers: all_answer(config, &answer), frr: frr.clone(), ..inputs };
    Plan::compute(config, &inputs, Intent::Reconcile)
}
