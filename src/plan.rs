//! The plan: for every managed prefix, what FRR has, what it should have, and what to do about it.
//!
//! Pure: configuration, health answers, FRR's running configs and the maintenance marker in, a [`Plan`] out. No
//! I/O and no clock, so `plan` prints exactly the value that `apply` then carries out.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cabourotte::Answers;
use crate::config::{Config, ManagedPrefix, Service};
use crate::frr::{Asn, Change, ChangeKind, RunningConfig};
use crate::health::{self, ServiceHealth};
use crate::maintenance::Maintenance;

/// What each vtysh path's FRR has, or why it could not be read.
pub type FrrStates = BTreeMap<PathBuf, Result<RunningConfig, String>>;

/// What the run is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Announce healthy services, withdraw the others (`plan`, `apply`, `run`).
    Reconcile,
    /// Withdraw every managed prefix, whatever the health (`withdraw-all`, and `run` on exit).
    WithdrawAll,
}

/// Why a service's prefixes should be announced or withdrawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every check passed: announce.
    Healthy,
    /// At least one check did not pass: withdraw.
    Unhealthy,
    /// The maintenance marker is set: withdraw.
    Maintenance,
    /// `withdraw-all` or shutdown: withdraw.
    WithdrawAll,
}

impl Verdict {
    /// Whether the service's prefixes should be announced.
    pub fn wants_announced(&self) -> bool {
        *self == Verdict::Healthy
    }
}

/// Whether FRR has a managed `network` statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// FRR has it: the prefix is announced.
    Announced,
    /// FRR does not have it.
    Withdrawn,
    /// FRR could not be read.
    Unknown,
}

/// Why a prefix cannot be reconciled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefixError {
    /// The vtysh of this prefix could not read FRR's running config.
    FrrUnavailable(String),
    /// FRR has no BGP instance in the prefix's VRF; anycastd never creates one.
    NoBgpInstance,
}

/// What to do with one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Add the `network` statement.
    Announce,
    /// Remove the `network` statement.
    Withdraw,
    /// Nothing: FRR already matches.
    Keep,
    /// Nothing can be done.
    Error(PrefixError),
}

/// What applying did to one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not applied (a plan), or nothing to apply.
    Pending,
    /// FRR now matches.
    Done,
    /// FRR does not match after applying, for this reason.
    Failed(String),
}

/// One managed prefix in the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixPlan {
    /// The prefix as configured.
    pub managed: ManagedPrefix,
    /// The AS number of its BGP instance, when FRR has one.
    pub asn: Option<Asn>,
    /// What FRR has now.
    pub current: Presence,
    /// What to do.
    pub action: Action,
    /// What applying did (always [`Outcome::Pending`] in a plan).
    pub outcome: Outcome,
}

impl PrefixPlan {
    /// The FRR change this prefix needs, if any.
    pub fn change(&self) -> Option<Change> {
        let kind = match self.action {
            Action::Announce => ChangeKind::Announce,
            Action::Withdraw => ChangeKind::Withdraw,
            Action::Keep | Action::Error(_) => return None,
        };
        let asn = self.asn.clone()?;
        Some(Change { asn, vrf: self.managed.vrf.clone(), prefix: self.managed.prefix, kind })
    }

    /// Whether this prefix failed to plan or to apply.
    pub fn is_error(&self) -> bool {
        matches!(self.action, Action::Error(_)) || matches!(self.outcome, Outcome::Failed(_))
    }
}

/// One service in the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePlan {
    /// The service's name.
    pub name: String,
    /// Its checks' verdicts (`None` when health was not asked: `withdraw-all`).
    pub health: Option<ServiceHealth>,
    /// Whether its prefixes should be announced, and why.
    pub verdict: Verdict,
    /// Its prefixes.
    pub prefixes: Vec<PrefixPlan>,
}

/// The plan of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The maintenance marker, when set.
    pub maintenance: Option<Maintenance>,
    /// Every service, sorted by name.
    pub services: Vec<ServicePlan>,
}

/// Counts of what a plan does (or an applied plan did).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Prefixes to announce (or announced).
    pub announce: usize,
    /// Prefixes to withdraw (or withdrawn).
    pub withdraw: usize,
    /// Prefixes already as they should be.
    pub unchanged: usize,
    /// Prefixes that could not be planned or applied.
    pub errors: usize,
    /// Checks whose Cabourotte could not be asked.
    pub checker_errors: usize,
}

impl Summary {
    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        self.announce + self.withdraw > 0
    }

    /// Whether anything went wrong (a prefix error, or a Cabourotte that could not be asked).
    pub fn has_errors(&self) -> bool {
        self.errors + self.checker_errors > 0
    }
}

impl Plan {
    /// Computes the plan from every input of a run.
    pub fn compute(
        config: &Config,
        answers: &Answers,
        frr: &FrrStates,
        maintenance: Option<Maintenance>,
        intent: Intent,
    ) -> Plan {
        let services = config
            .services
            .iter()
            .map(|service| plan_service(service, answers, frr, maintenance.is_some(), intent))
            .collect();
        Plan { maintenance, services }
    }

    /// Every prefix of the plan.
    pub fn prefixes(&self) -> impl Iterator<Item = &PrefixPlan> {
        self.services.iter().flat_map(|service| service.prefixes.iter())
    }

    /// Counts what the plan does; prefixes that failed to apply count as errors, not as changes.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for prefix in self.prefixes() {
            match (&prefix.action, prefix.is_error()) {
                (_, true) => summary.errors += 1,
                (Action::Announce, false) => summary.announce += 1,
                (Action::Withdraw, false) => summary.withdraw += 1,
                _ => summary.unchanged += 1,
            }
        }
        summary.checker_errors = self
            .services
            .iter()
            .filter_map(|service| service.health.as_ref())
            .flat_map(|health| health.checks.iter())
            .filter(|check| matches!(check.status, health::CheckStatus::Unavailable(_)))
            .count();
        summary
    }
}

fn plan_service(
    service: &Service,
    answers: &Answers,
    frr: &FrrStates,
    in_maintenance: bool,
    intent: Intent,
) -> ServicePlan {
    let health = (intent == Intent::Reconcile).then(|| health::evaluate(service, answers));
    let verdict = match (&health, in_maintenance) {
        (None, _) => Verdict::WithdrawAll,
        (Some(_), true) => Verdict::Maintenance,
        (Some(health), false) if health.is_healthy() => Verdict::Healthy,
        (Some(_), false) => Verdict::Unhealthy,
    };
    let prefixes =
        service.prefixes.iter().map(|managed| plan_prefix(managed, frr, verdict.wants_announced())).collect();
    ServicePlan { name: service.name.clone(), health, verdict, prefixes }
}

fn plan_prefix(managed: &ManagedPrefix, frr: &FrrStates, announce: bool) -> PrefixPlan {
    let plan =
        |asn, current, action| PrefixPlan { managed: managed.clone(), asn, current, action, outcome: Outcome::Pending };
    let running = match frr.get(&managed.vtysh) {
        Some(Ok(running)) => running,
        Some(Err(reason)) => {
            return plan(None, Presence::Unknown, Action::Error(PrefixError::FrrUnavailable(reason.clone())));
        }
        None => return plan(None, Presence::Unknown, Action::Error(PrefixError::FrrUnavailable("not read".into()))),
    };
    let Some(instance) = running.instance(&managed.vrf) else {
        return plan(None, Presence::Withdrawn, Action::Error(PrefixError::NoBgpInstance));
    };
    let present = instance.networks.contains(&managed.prefix);
    let action = match (announce, present) {
        (true, false) => Action::Announce,
        (false, true) => Action::Withdraw,
        _ => Action::Keep,
    };
    let current = if present { Presence::Announced } else { Presence::Withdrawn };
    plan(Some(instance.asn.clone()), current, action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cabourotte::parse_result_list;
    use crate::config::Vrf;

    fn seed() -> Config {
        Config::parse(include_str!("../examples/config.toml"), "seed").expect("valid seed")
    }

    fn all_answer(config: &Config, body: &str) -> Answers {
        let list = parse_result_list(body).expect("valid list");
        config.checks().map(|(_, check)| (check.url.clone(), Ok(list.clone()))).collect()
    }

    fn frr(text: &str) -> FrrStates {
        FrrStates::from([(PathBuf::from("/usr/bin/vtysh"), Ok(RunningConfig::parse(text)))])
    }

    const EMPTY_FRR: &str = "router bgp 65536\n!\nrouter bgp 65537 vrf 123\n!\n";
    const ALL_HEALTHY: &str =
        r#"[{"name":"dns","success":true},{"name":"ntp_v4","success":true},{"name":"ntp_v6","success":true}]"#;

    fn actions(plan: &Plan) -> Vec<(String, Action)> {
        plan.prefixes().map(|p| (p.managed.prefix.to_string(), p.action.clone())).collect()
    }

    #[test]
    fn healthy_services_announce_what_frr_lacks() {
        let config = seed();
        let plan = Plan::compute(&config, &all_answer(&config, ALL_HEALTHY), &frr(EMPTY_FRR), None, Intent::Reconcile);
        assert!(plan.prefixes().all(|p| p.action == Action::Announce));
        assert_eq!(plan.summary(), Summary { announce: 4, ..Summary::default() });
        let ntp = plan.prefixes().find(|p| p.managed.vrf == Vrf::Named("123".into())).expect("a vrf prefix");
        assert_eq!(ntp.change().map(|c| c.asn.to_string()), Some("65537".into()));
    }

    #[test]
    fn a_failing_check_withdraws_only_its_service() {
        let config = seed();
        let answers = all_answer(&config, include_str!("../tests/fixtures/cabourotte-result-list.json"));
        let running = include_str!("../tests/fixtures/frr-8.4.4-running-config.txt");
        let plan = Plan::compute(&config, &answers, &frr(running), None, Intent::Reconcile);
        assert_eq!(plan.services[1].verdict, Verdict::Unhealthy);
        assert_eq!(
            actions(&plan),
            [
                ("203.0.113.53/32".into(), Action::Keep),
                ("2001:db8::b19:bad:53/128".into(), Action::Keep),
                ("203.0.113.123/32".into(), Action::Withdraw),
                ("2001:db8::123:7e11:713e/128".into(), Action::Withdraw),
            ]
        );
        assert_eq!(plan.summary(), Summary { withdraw: 2, unchanged: 2, ..Summary::default() });
    }

    #[test]
    fn maintenance_and_withdraw_all_withdraw_everything_announced() {
        let config = seed();
        let running = include_str!("../tests/fixtures/frr-8.4.4-running-config.txt");
        let marker = Maintenance { since: 0, by: "alice".into(), reason: None };
        let healthy = all_answer(&config, ALL_HEALTHY);
        let in_maintenance = Plan::compute(&config, &healthy, &frr(running), Some(marker), Intent::Reconcile);
        assert!(in_maintenance.services.iter().all(|s| s.verdict == Verdict::Maintenance));
        assert_eq!(in_maintenance.summary().withdraw, 4);
        let withdraw_all = Plan::compute(&config, &Answers::new(), &frr(running), None, Intent::WithdrawAll);
        assert!(withdraw_all.services.iter().all(|s| s.verdict == Verdict::WithdrawAll && s.health.is_none()));
        assert_eq!(withdraw_all.summary().withdraw, 4);
    }

    #[test]
    fn a_missing_instance_or_an_unreadable_frr_is_an_error_for_those_prefixes_only() {
        let config = seed();
        let healthy = all_answer(&config, ALL_HEALTHY);
        let plan = Plan::compute(&config, &healthy, &frr("router bgp 65536\n"), None, Intent::Reconcile);
        assert_eq!(plan.summary(), Summary { announce: 2, errors: 2, ..Summary::default() });
        assert_eq!(plan.services[1].prefixes[0].action, Action::Error(PrefixError::NoBgpInstance));
        let unreadable = FrrStates::from([(PathBuf::from("/usr/bin/vtysh"), Err("connection refused".to_string()))]);
        let plan = Plan::compute(&config, &healthy, &unreadable, None, Intent::Reconcile);
        assert_eq!(plan.summary(), Summary { errors: 4, ..Summary::default() });
    }

    #[test]
    fn an_unreachable_cabourotte_withdraws_and_counts_as_a_checker_error() {
        let config = seed();
        let down: Answers =
            config.checks().map(|(_, c)| (c.url.clone(), Err("Connection refused".to_string()))).collect();
        let running = include_str!("../tests/fixtures/frr-8.4.4-running-config.txt");
        let plan = Plan::compute(&config, &down, &frr(running), None, Intent::Reconcile);
        assert_eq!(plan.summary(), Summary { withdraw: 4, checker_errors: 3, ..Summary::default() });
        assert!(plan.summary().has_errors());
    }
}
