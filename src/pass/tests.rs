//! A pass handed its inputs as values, in-process: no binary, no Cabourotte, no FRR. The plan it computes is what a
//! changing pass would apply from the same inputs.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::clock;
use crate::frr::RunningConfig;
use crate::health::cabourotte::{self, Answers, CheckResult, ResultList};
use crate::observe::log::{LogFormat, LogLevel, Logging};
use crate::render::{Format, Output, Painter};

/// Two services of one prefix each, which a single failure withdraws.
const CONFIG: &str = r#"
[services.dns]
prefixes.frrouting = ["203.0.113.53"]
checks.cabourotte = ["dns"]
fall = 1

[services.web]
prefixes.frrouting = ["203.0.113.80"]
checks.cabourotte = ["web"]
fall = 1
"#;

/// FRR announcing both services' prefixes.
const BOTH_ANNOUNCED: &str = "router bgp 65536\n address-family ipv4 unicast\n  network 203.0.113.53/32\n  \
                              network 203.0.113.80/32\n exit-address-family\nexit\n!\nend\n";

/// FRR announcing nothing.
const NOTHING_ANNOUNCED: &str = "router bgp 65536\nexit\n!\nend\n";

fn config() -> Config {
    Config::parse(CONFIG, "test.toml").expect("a valid configuration")
}

/// A context whose state directory does not exist (no marker, no counts) and that prints and logs nothing.
fn context() -> Context {
    Context {
        config_path: PathBuf::from("test.toml"),
        state_dir: std::env::temp_dir().join(format!("anycastd-pass-tests-{}-absent", std::process::id())),
        vtysh_timeout: Duration::from_secs(1),
        http_timeout: Duration::from_secs(1),
        lock_timeout: Duration::from_secs(1),
        metrics_file: None,
        logging: Logging { format: LogFormat::Text, level: LogLevel::Error, journal: false },
        output: Output { format: Format::Text, painter: Painter::new(false), quiet: true },
    }
}

fn result(success: bool, timestamp: i64) -> CheckResult {
    let message = if success { "success" } else { "timeout" }.to_string();
    CheckResult { success, message, timestamp: Some(timestamp) }
}

/// The same result list from every Cabourotte of `config`.
fn answers(config: &Config, results: &[(&str, CheckResult)]) -> Answers {
    let list = ResultList::from_results(results.iter().map(|(name, result)| (name.to_string(), result.clone())));
    cabourotte::answer_everywhere(config, &list)
}

fn frr(text: &str) -> FrrInput {
    FrrInput::File(RunningConfig::parse(text).expect("a complete running config"))
}

/// FRR's running config from `frr`, and no BIRD (the configurations here have none).
fn daemons(frr: &FrrInput) -> Daemons<'_> {
    Daemons { frr, bird: &BirdInput::NotGiven }
}

/// Each prefix's action.
fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.prefixes().map(|prefix| (prefix.managed.prefix.to_string(), prefix.action.clone())).collect()
}

#[test]
fn results_from_a_file_announce_what_frr_lacks_and_withdraw_what_fails() {
    let config = config();
    let health = HealthInput::File(ResultList::from_results([
        ("dns".to_string(), result(true, 1)),
        ("web".to_string(), result(false, 1)),
    ]));
    let plan = plan_only(&config, &context(), &health, daemons(&frr(NOTHING_ANNOUNCED)), None);
    assert_eq!(
        actions(&plan),
        [("203.0.113.53/32".into(), Action::Announce), ("203.0.113.80/32".into(), Action::Keep)]
    );
    let plan = plan_only(&config, &context(), &health, daemons(&frr(BOTH_ANNOUNCED)), None);
    assert_eq!(
        actions(&plan),
        [("203.0.113.53/32".into(), Action::Keep), ("203.0.113.80/32".into(), Action::Withdraw)]
    );
}

#[test]
fn a_pushed_failure_newer_than_the_poll_withdraws_only_the_service_the_push_names() {
    let config = config();
    let now = clock::unix_now();
    // The last poll saw dns healthy and web failing; the push is about dns alone.
    let remembered = answers(&config, &[("dns", result(true, now - 10)), ("web", result(false, now - 10))]);
    let health = HealthInput::Pushed {
        remembered,
        pushed: [("dns".to_string(), result(false, now - 1))].into(),
        services: BTreeSet::from(["dns".to_string()]),
    };
    let plan = plan_only(&config, &context(), &health, daemons(&frr(BOTH_ANNOUNCED)), None);
    assert_eq!(
        actions(&plan),
        [("203.0.113.53/32".into(), Action::Withdraw), ("203.0.113.80/32".into(), Action::Keep)],
        "web waits for the next poll: a push only withdraws what it names"
    );
}

#[test]
fn a_pushed_failure_older_than_the_poll_changes_nothing() {
    let config = config();
    let now = clock::unix_now();
    let remembered = answers(&config, &[("dns", result(true, now - 10)), ("web", result(true, now - 10))]);
    let health = HealthInput::Pushed {
        remembered,
        pushed: [("dns".to_string(), result(false, now - 20))].into(),
        services: BTreeSet::from(["dns".to_string()]),
    };
    let plan = plan_only(&config, &context(), &health, daemons(&frr(BOTH_ANNOUNCED)), None);
    assert_eq!(actions(&plan), [("203.0.113.53/32".into(), Action::Keep), ("203.0.113.80/32".into(), Action::Keep)]);
}

#[test]
fn a_pushed_success_announces_nothing() {
    let config = config();
    let now = clock::unix_now();
    let remembered = answers(&config, &[("dns", result(false, now - 10)), ("web", result(true, now - 10))]);
    let health = HealthInput::Pushed {
        remembered,
        pushed: [("dns".to_string(), result(true, now - 1))].into(),
        services: BTreeSet::from(["dns".to_string()]),
    };
    let plan = plan_only(&config, &context(), &health, daemons(&frr(NOTHING_ANNOUNCED)), None);
    assert_eq!(
        actions(&plan),
        [("203.0.113.53/32".into(), Action::Keep), ("203.0.113.80/32".into(), Action::Keep)],
        "only a poll announces"
    );
}

#[test]
fn a_poll_swaps_in_only_the_pushed_results_newer_than_its_answers() {
    let config = config();
    let polled = answers(&config, &[("dns", result(true, 100)), ("web", result(true, 100))]);
    let pushed = [("dns".to_string(), result(false, 101)), ("web".to_string(), result(false, 99))].into();
    let answered = HealthInput::Polled { pushed }.with_pushed(polled);
    for list in answered.values() {
        let list = list.as_ref().expect("an answer");
        assert_eq!(list.get("dns"), Some(&result(false, 101)));
        assert_eq!(list.get("web"), Some(&result(true, 100)));
    }
    let unchanged = answers(&config, &[("dns", result(true, 100))]);
    assert_eq!(HealthInput::Live.with_pushed(unchanged.clone()), unchanged);
}

/// `show protocols` of a BIRD whose one BGP session is established.
const PEER1_ESTABLISHED: &str = "2002-Name       Proto      Table      State  Since         Info\n\
                                 1002-peer1      BGP        ---        up     23:36:02.581  Established   \n0000 \n";
const EXPORT_OF_PEER1: &str = "show route export peer1 where proto ~ \"anycastd_*\"";
const EXPORTS_NOTHING: &str = "0000 \n";
/// The VRF's prefix, once the lab's pipe has copied it from table blue4 into the table peer1 exports from.
const EXPORTS_THE_BLUE_PREFIX: &str =
    "1007-Table master4:\n 203.0.113.60/32  blackhole [anycastd_203_0_113_60_32_t_blue4 10:00:00.000] * (250)\n0000 \n";

/// A fake BIRD (in a directory of its own, by `name`) whose peer1 exports nothing of anycastd's for the first `late`
/// reads, and the VRF's prefix after.
fn bird_exporting_after(name: &str, late: usize) -> crate::bird::fake::FakeBird<Vec<String>> {
    let mut exports = 0;
    crate::bird::fake::FakeBird::answering(name, move |command| match command {
        "show protocols" => PEER1_ESTABLISHED.to_string(),
        EXPORT_OF_PEER1 => {
            exports += 1;
            if exports > late { EXPORTS_THE_BLUE_PREFIX } else { EXPORTS_NOTHING }.to_string()
        }
        _ => "9001 syntax error\n".to_string(),
    })
}

/// A plan that has just announced the VRF's prefix in BIRD at `socket`: a pass that changed BIRD, before reading
/// what BIRD exports.
fn just_announced_in_bird(socket: &std::path::Path) -> Plan {
    let toml = format!(
        "[services.dns]\nprefixes.bird = [{{ prefix = \"203.0.113.60\", table = \"blue4\", socket = {socket:?} }}]\n\
         checks.cabourotte = [\"dns\"]\n"
    );
    let config = Config::parse(&toml, "test.toml").expect("a valid configuration");
    let health = HealthInput::File(ResultList::from_results([("dns".to_string(), result(true, 1))]));
    let bird = BirdInput::File(crate::bird::BirdRoutes::new());
    let mut plan = plan_only(&config, &context(), &health, Daemons { frr: &frr(NOTHING_ANNOUNCED), bird: &bird }, None);
    assert_eq!(actions(&plan), [("203.0.113.60/32".into(), Action::Announce)]);
    plan.prefixes_mut().for_each(|prefix| prefix.outcome = Outcome::Done);
    plan
}

/// The peers the plan's one prefix is advertised to, as read.
fn advertised_to(plan: &Plan) -> Vec<String> {
    plan.prefixes()
        .flat_map(|prefix| prefix.advertising.clone().map(|advertising| advertising.reach.peers))
        .flatten()
        .collect()
}

/// BIRD 3 copies a route through a pipe a moment after anycastd's protocol has it: a one-shot pass reads the exports
/// again rather than report a just-announced prefix as rejected by peer1's filter (lab, BIRD 3.1.8, 1 run in 10).
#[test]
fn a_just_announced_bird_prefix_not_exported_yet_is_read_again_on_the_same_connection() {
    let fake = bird_exporting_after("pipe-late", 2);
    let mut plan = just_announced_in_bird(&fake.socket);
    let pending = advertised::annotate_bird(&mut plan, Duration::from_secs(5), true, advertised::PENDING_WAIT);
    assert!(!pending);
    assert_eq!(advertised_to(&plan), ["peer1"]);
    let commands = fake.observed();
    assert_eq!(commands.iter().filter(|command| *command == EXPORT_OF_PEER1).count(), 3, "{commands:?}");
}

/// The loop does not wait (its next pass reads again, and a wait would delay its next withdrawal), nor does a plan
/// that changed nothing: one read, and the prefix is said not to be exported yet.
#[test]
fn without_a_wait_a_bird_export_not_there_yet_is_read_once_and_said_pending() {
    for (after_changes, wait, pending) in [(true, Duration::ZERO, true), (false, advertised::PENDING_WAIT, false)] {
        let fake = bird_exporting_after(&format!("pipe-{after_changes}"), 1);
        let mut plan = just_announced_in_bird(&fake.socket);
        assert_eq!(advertised::annotate_bird(&mut plan, Duration::from_secs(5), after_changes, wait), pending);
        assert_eq!(advertised_to(&plan), Vec::<String>::new());
        let commands = fake.observed();
        assert_eq!(commands, ["show protocols", EXPORT_OF_PEER1], "after changes: {after_changes}");
    }
}
