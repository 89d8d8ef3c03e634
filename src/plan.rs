//! The plan: for every managed prefix, what FRR has, what it should have, and what to do about it.
//!
//! Pure: configuration, health answers, FRR's running configs and the maintenance marker in, a [`Plan`] out. No
//! I/O and no clock: `plan` and `apply` compute it by the same function, so given the same inputs `apply` does what
//! `plan` printed. `apply` gathers fresh inputs and computes it again, so what it does is right for that moment.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Config, ManagedPrefix, OnCheckerError, Policy, Service, Vrf};
use crate::frr::{Asn, Change, ChangeKind, RunningConfig};
use crate::health::cabourotte::Answers;
use crate::health::{self, Condition, ServiceHealth};
use crate::state::maintenance::Maintenance;
use crate::state::streaks::{Streak, Streaks};

/// What each vtysh path's FRR has, or why it could not be read.
pub type FrrStates = BTreeMap<PathBuf, Result<RunningConfig, String>>;

/// Everything a plan is computed from, besides the configuration.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// What each Cabourotte answered.
    pub answers: Answers,
    /// What each FRR has.
    pub frr: FrrStates,
    /// The maintenance marker, when set.
    pub maintenance: Option<Maintenance>,
    /// The streaks of past passes.
    pub streaks: Streaks,
    /// The time of the pass (Unix seconds), to judge results' age; `None` does not judge it (offline plans).
    pub now: Option<i64>,
    /// Why this pass may withdraw but not announce, if it may not: it could not take the run lock, or cannot save
    /// the rise/fall counts, or cannot tell whether anycastd is in maintenance. A local problem never stops a
    /// withdrawal, and nothing but a passing check, in a pass that can keep its state, announces.
    pub withdraw_only: Option<String>,
    /// Whether someone else could have written the streaks (they were not used): `fall` cannot hold back a
    /// withdrawal then either.
    pub counts_forgeable: bool,
}

/// What the run is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Announce healthy services, withdraw the others (`plan`, `apply`, `run`).
    Reconcile,
    /// Withdraw every managed prefix, whatever the health (`withdraw-all`, and `run` on exit).
    WithdrawAll,
}

/// Why a service's prefixes should be announced, withdrawn, or left alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Healthy (for `rise` passes, or already announced): announce.
    Healthy,
    /// Unhealthy (for `fall` passes, or already withdrawn): withdraw.
    Unhealthy,
    /// Healthy, but not yet for `rise` consecutive passes: stays withdrawn.
    Rising {
        /// Consecutive healthy passes, this one included.
        healthy: u32,
        /// Passes needed.
        rise: u32,
    },
    /// Unhealthy, but not yet for `fall` consecutive passes: stays announced.
    Falling {
        /// Consecutive unhealthy passes, this one included.
        unhealthy: u32,
        /// Passes needed.
        fall: u32,
    },
    /// Cabourotte could not be asked and `on_checker_error = "keep"`: the prefixes stay as they are.
    KeptOnCheckerError,
    /// The maintenance marker is set: withdraw.
    Maintenance,
    /// `withdraw-all` or shutdown: withdraw.
    WithdrawAll,
}

impl Verdict {
    /// What the verdict wants for the service's prefixes.
    pub fn desired(&self) -> Desired {
        match self {
            Verdict::Healthy | Verdict::Falling { .. } => Desired::Announced,
            Verdict::KeptOnCheckerError => Desired::Unchanged,
            Verdict::Unhealthy | Verdict::Rising { .. } | Verdict::Maintenance | Verdict::WithdrawAll => {
                Desired::Withdrawn
            }
        }
    }
}

/// Whether FRR's running config has a managed `network` statement. Configured is what anycastd can see and change;
/// whether FRR advertises it also depends on its RIB (`bgp network import-check`), which only `plan` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// FRR's running config has the `network` line (shown as "announced").
    Configured,
    /// It does not (shown as "withdrawn").
    Absent,
    /// FRR could not be read.
    Unknown,
}

/// What a service's verdict wants for its prefixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Desired {
    /// Every prefix announced.
    Announced,
    /// Every prefix withdrawn.
    Withdrawn,
    /// Left as they are in FRR (`on_checker_error = "keep"`).
    Unchanged,
}

/// Why a prefix cannot be reconciled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefixError {
    /// The vtysh of this prefix could not read FRR's running config.
    FrrUnavailable(String),
    /// FRR has no BGP instance in the prefix's VRF; anycastd never creates one.
    NoBgpInstance,
    /// The prefix should be announced, but this pass may only withdraw, for this reason.
    AnnounceRefused(String),
}

impl PrefixError {
    /// What went wrong for a prefix in `vrf`, and how to fix it.
    pub fn explain(&self, vrf: &Vrf) -> String {
        match self {
            PrefixError::FrrUnavailable(reason) => format!("cannot read FRR's running config: {reason}"),
            PrefixError::NoBgpInstance => {
                let block = match vrf.name() {
                    Some(name) => format!("router bgp <ASN> vrf {name}"),
                    None => "router bgp <ASN>".to_string(),
                };
                format!(
                    "FRR has no BGP instance in {}; anycastd never creates one: add `{block}` to FRR's configuration",
                    vrf.described()
                )
            }
            PrefixError::AnnounceRefused(reason) => format!("not announced: {reason}"),
        }
    }
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
    /// Whether its BGP instance has `bgp network import-check` on.
    pub import_check: bool,
    /// Something the operator should know about this prefix (e.g. FRR will not advertise it).
    pub warning: Option<String>,
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

    /// Whether FRR will have this network after the plan is applied.
    pub fn will_be_announced(&self) -> bool {
        match self.action {
            Action::Announce => true,
            Action::Withdraw | Action::Error(_) => false,
            Action::Keep => self.current == Presence::Configured,
        }
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
    /// Its rise/fall policy.
    pub policy: Policy,
    /// Its streak of healthy or unhealthy passes, this pass included (what a changing pass saves).
    pub streak: Streak,
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
    /// Things the operator should know that are not errors (e.g. a damaged state file).
    pub warnings: Vec<String>,
    /// Errors of the pass as a whole, not of one prefix (the state directory, the lock, the marker).
    pub errors: Vec<String>,
    /// Why this pass withdraws every managed prefix, when it is not withdraw-all's own reason: the signal that
    /// stopped `run`, or a reload that removed the prefixes from the configuration.
    pub reason: Option<String>,
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
    /// Errors of the pass as a whole.
    pub pass_errors: usize,
}

impl Summary {
    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        self.announce + self.withdraw > 0
    }

    /// Whether anything went wrong (a prefix error, a Cabourotte that could not be asked, an error of the pass).
    pub fn has_errors(&self) -> bool {
        self.errors + self.checker_errors + self.pass_errors > 0
    }
}

impl Plan {
    /// Computes the plan from every input of a run.
    pub fn compute(config: &Config, inputs: &Inputs, intent: Intent) -> Plan {
        let services = config.services.iter().map(|service| plan_service(service, inputs, intent)).collect();
        Plan {
            maintenance: inputs.maintenance.clone(),
            services,
            warnings: config.warnings(),
            errors: Vec::new(),
            reason: None,
        }
    }

    /// The streaks to remember after this pass.
    pub fn streaks(&self) -> Streaks {
        Streaks { services: self.services.iter().map(|service| (service.name.clone(), service.streak)).collect() }
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
        summary.pass_errors = self.errors.len();
        summary
    }
}

fn plan_service(service: &Service, inputs: &Inputs, intent: Intent) -> ServicePlan {
    let observed: Vec<Observed> = service.prefixes.iter().map(|managed| observe(managed, &inputs.frr)).collect();
    let announced_now = observed.iter().any(|seen| seen.presence == Presence::Configured);
    let health = (intent == Intent::Reconcile).then(|| health::evaluate(service, &inputs.answers, inputs.now));
    let condition = health.as_ref().map(ServiceHealth::condition);
    let previous = inputs.streaks.of(&service.name);
    // A pass that cannot keep the counts would count the same unhealthy pass again and again, and counts someone
    // else may have written could say anything: `fall` cannot hold back a withdrawal then.
    let policy = match (&inputs.withdraw_only, inputs.counts_forgeable) {
        (None, false) => service.policy,
        _ => Policy { fall: 1, ..service.policy },
    };
    let (verdict, streak) = decide(policy, condition, announced_now, previous, inputs.maintenance.is_some());
    let desired = verdict.desired();
    let refusal = inputs.withdraw_only.as_deref();
    let prefixes =
        service.prefixes.iter().zip(observed).map(|(managed, seen)| seen.plan(managed, desired, refusal)).collect();
    ServicePlan { name: service.name.clone(), health, verdict, policy: service.policy, streak, prefixes }
}

/// Decides a service's verdict and its streak after this pass. `condition` is `None` when health was not asked.
pub fn decide(
    policy: Policy,
    condition: Option<Condition>,
    announced_now: bool,
    previous: Streak,
    in_maintenance: bool,
) -> (Verdict, Streak) {
    let Some(condition) = condition else { return (Verdict::WithdrawAll, previous) };
    let keep_on_checker_error = policy.on_checker_error == OnCheckerError::Keep;
    let streak = match condition {
        Condition::Healthy => previous.after(true).capped(policy.rise, policy.fall),
        Condition::CheckerUnavailable if keep_on_checker_error => previous,
        Condition::Unhealthy | Condition::CheckerUnavailable => previous.after(false).capped(policy.rise, policy.fall),
    };
    let verdict = match condition {
        _ if in_maintenance => Verdict::Maintenance,
        Condition::CheckerUnavailable if keep_on_checker_error => Verdict::KeptOnCheckerError,
        Condition::Healthy if announced_now || streak.healthy >= policy.rise => Verdict::Healthy,
        Condition::Healthy => Verdict::Rising { healthy: streak.healthy, rise: policy.rise },
        _ if !announced_now || streak.unhealthy >= policy.fall => Verdict::Unhealthy,
        _ => Verdict::Falling { unhealthy: streak.unhealthy, fall: policy.fall },
    };
    (verdict, streak)
}

/// What FRR has of one managed prefix.
struct Observed {
    asn: Option<Asn>,
    presence: Presence,
    error: Option<PrefixError>,
    import_check: bool,
}

fn observe(managed: &ManagedPrefix, frr: &FrrStates) -> Observed {
    let unavailable = |reason: &str| Observed {
        asn: None,
        presence: Presence::Unknown,
        error: Some(PrefixError::FrrUnavailable(reason.to_string())),
        import_check: false,
    };
    let running = match frr.get(&managed.vtysh) {
        Some(Ok(running)) => running,
        Some(Err(reason)) => return unavailable(reason),
        None => return unavailable("not read"),
    };
    match running.instance(&managed.vrf) {
        None => Observed {
            asn: None,
            presence: Presence::Absent,
            error: Some(PrefixError::NoBgpInstance),
            import_check: false,
        },
        Some(instance) => {
            let present = instance.networks.contains(&managed.prefix);
            let presence = if present { Presence::Configured } else { Presence::Absent };
            Observed { asn: Some(instance.asn.clone()), presence, error: None, import_check: instance.import_check }
        }
    }
}

impl Observed {
    /// The prefix's plan, given what its service wants for it, and why it may not be announced in this pass, if it
    /// may not.
    fn plan(self, managed: &ManagedPrefix, desired: Desired, refusal: Option<&str>) -> PrefixPlan {
        let present = self.presence == Presence::Configured;
        let action = match (self.error, desired) {
            (Some(error), _) => Action::Error(error),
            (None, Desired::Announced) if !present => match refusal {
                Some(reason) => Action::Error(PrefixError::AnnounceRefused(reason.to_string())),
                None => Action::Announce,
            },
            (None, Desired::Withdrawn) if present => Action::Withdraw,
            (None, _) => Action::Keep,
        };
        PrefixPlan {
            managed: managed.clone(),
            asn: self.asn,
            current: self.presence,
            action,
            outcome: Outcome::Pending,
            import_check: self.import_check,
            warning: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Vrf;
    use crate::health::cabourotte::parse_result_list;

    fn seed() -> Config {
        Config::parse(include_str!("../examples/config.toml"), "seed").expect("valid seed")
    }

    fn all_answer(config: &Config, body: &str) -> Answers {
        let list = parse_result_list(body, &|_| true).expect("valid list");
        config.checks().map(|(_, check)| (check.url.clone(), Ok(list.clone()))).collect()
    }

    fn compute(
        config: &Config,
        answers: &Answers,
        frr: &FrrStates,
        maintenance: Option<Maintenance>,
        intent: Intent,
    ) -> Plan {
        let inputs = Inputs { answers: answers.clone(), frr: frr.clone(), maintenance, ..Inputs::default() };
        Plan::compute(config, &inputs, intent)
    }

    fn frr(text: &str) -> FrrStates {
        FrrStates::from([(PathBuf::from("/usr/bin/vtysh"), Ok(RunningConfig::parse(text).expect("complete")))])
    }

    const EMPTY_FRR: &str = "router bgp 65536\n!\nrouter bgp 65537 vrf 123\n!\nend\n";
    const ALL_HEALTHY: &str =
        r#"[{"name":"dns","success":true},{"name":"ntp_v4","success":true},{"name":"ntp_v6","success":true}]"#;

    fn actions(plan: &Plan) -> Vec<(String, Action)> {
        plan.prefixes().map(|p| (p.managed.prefix.to_string(), p.action.clone())).collect()
    }

    #[test]
    fn healthy_services_announce_what_frr_lacks() {
        let config = seed();
        let plan = compute(&config, &all_answer(&config, ALL_HEALTHY), &frr(EMPTY_FRR), None, Intent::Reconcile);
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
        let plan = compute(&config, &answers, &frr(running), None, Intent::Reconcile);
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
        let in_maintenance = compute(&config, &healthy, &frr(running), Some(marker), Intent::Reconcile);
        assert!(in_maintenance.services.iter().all(|s| s.verdict == Verdict::Maintenance));
        assert_eq!(in_maintenance.summary().withdraw, 4);
        let withdraw_all = compute(&config, &Answers::new(), &frr(running), None, Intent::WithdrawAll);
        assert!(withdraw_all.services.iter().all(|s| s.verdict == Verdict::WithdrawAll && s.health.is_none()));
        assert_eq!(withdraw_all.summary().withdraw, 4);
    }

    #[test]
    fn a_missing_instance_or_an_unreadable_frr_is_an_error_for_those_prefixes_only() {
        let config = seed();
        let healthy = all_answer(&config, ALL_HEALTHY);
        let plan = compute(&config, &healthy, &frr("router bgp 65536\nend\n"), None, Intent::Reconcile);
        assert_eq!(plan.summary(), Summary { announce: 2, errors: 2, ..Summary::default() });
        assert_eq!(plan.services[1].prefixes[0].action, Action::Error(PrefixError::NoBgpInstance));
        let unreadable = FrrStates::from([(PathBuf::from("/usr/bin/vtysh"), Err("connection refused".to_string()))]);
        let plan = compute(&config, &healthy, &unreadable, None, Intent::Reconcile);
        assert_eq!(plan.summary(), Summary { errors: 4, ..Summary::default() });
    }

    #[test]
    fn an_unreachable_cabourotte_withdraws_and_counts_as_a_checker_error() {
        let config = seed();
        let down: Answers =
            config.checks().map(|(_, c)| (c.url.clone(), Err("Connection refused".to_string()))).collect();
        let running = include_str!("../tests/fixtures/frr-8.4.4-running-config.txt");
        let plan = compute(&config, &down, &frr(running), None, Intent::Reconcile);
        assert_eq!(plan.summary(), Summary { withdraw: 4, checker_errors: 3, ..Summary::default() });
        assert!(plan.summary().has_errors());
    }

    const RISE_2_FALL_3: Policy = Policy { rise: 2, fall: 3, on_checker_error: OnCheckerError::Withdraw };

    #[test]
    fn an_announced_service_is_withdrawn_only_after_fall_unhealthy_passes() {
        let mut streak = Streak::default();
        let mut verdicts = Vec::new();
        for _ in 0..3 {
            let (verdict, next) = decide(RISE_2_FALL_3, Some(Condition::Unhealthy), true, streak, false);
            verdicts.push(verdict);
            streak = next;
        }
        assert_eq!(
            verdicts,
            [
                Verdict::Falling { unhealthy: 1, fall: 3 },
                Verdict::Falling { unhealthy: 2, fall: 3 },
                Verdict::Unhealthy
            ]
        );
        assert_eq!(verdicts[0].desired(), Desired::Announced, "still announced while falling");
    }

    #[test]
    fn a_withdrawn_service_is_announced_only_after_rise_healthy_passes() {
        let (first, streak) = decide(RISE_2_FALL_3, Some(Condition::Healthy), false, Streak::default(), false);
        assert_eq!(first, Verdict::Rising { healthy: 1, rise: 2 });
        assert_eq!(first.desired(), Desired::Withdrawn);
        let (second, _) = decide(RISE_2_FALL_3, Some(Condition::Healthy), false, streak, false);
        assert_eq!(second, Verdict::Healthy);
        let (already, _) = decide(RISE_2_FALL_3, Some(Condition::Healthy), true, Streak::default(), false);
        assert_eq!(already, Verdict::Healthy, "an announced healthy service stays announced");
    }

    #[test]
    fn one_healthy_pass_resets_the_fall_count() {
        let (_, streak) = decide(RISE_2_FALL_3, Some(Condition::Unhealthy), true, Streak::default(), false);
        let (_, streak) = decide(RISE_2_FALL_3, Some(Condition::Healthy), true, streak, false);
        let (verdict, _) = decide(RISE_2_FALL_3, Some(Condition::Unhealthy), true, streak, false);
        assert_eq!(verdict, Verdict::Falling { unhealthy: 1, fall: 3 });
    }

    #[test]
    fn keep_on_checker_error_leaves_prefixes_and_counts_alone() {
        let keep = Policy { on_checker_error: OnCheckerError::Keep, ..RISE_2_FALL_3 };
        let before = Streak { healthy: 0, unhealthy: 2 };
        let (verdict, after) = decide(keep, Some(Condition::CheckerUnavailable), true, before, false);
        assert_eq!((verdict.clone(), after), (Verdict::KeptOnCheckerError, before));
        assert_eq!(verdict.desired(), Desired::Unchanged);
        let (withdraw, _) = decide(Policy::default(), Some(Condition::CheckerUnavailable), true, before, false);
        assert_eq!(withdraw, Verdict::Unhealthy, "the default withdraws, as the original did");
    }

    #[test]
    fn a_withdraw_only_pass_withdraws_at_once_and_refuses_every_announcement() {
        let mut config = seed();
        config.services[1].policy.fall = 3;
        let answers = all_answer(
            &config,
            r#"[{"name":"dns","success":true},{"name":"ntp_v4","success":false},{"name":"ntp_v6","success":true}]"#,
        );
        let running =
            include_str!("../tests/fixtures/frr-8.4.4-running-config.txt").replace(" network 203.0.113.53/32\n", "");
        let inputs =
            Inputs { answers, frr: frr(&running), withdraw_only: Some("the lock is gone".into()), ..Inputs::default() };
        let plan = Plan::compute(&config, &inputs, Intent::Reconcile);
        let refused = Action::Error(PrefixError::AnnounceRefused("the lock is gone".into()));
        assert_eq!(
            actions(&plan),
            [
                ("203.0.113.53/32".into(), refused),
                ("2001:db8::b19:bad:53/128".into(), Action::Keep),
                ("203.0.113.123/32".into(), Action::Withdraw),
                ("2001:db8::123:7e11:713e/128".into(), Action::Withdraw),
            ],
            "fall = 3 cannot keep an unhealthy service announced when the count cannot be kept"
        );
    }

    #[test]
    fn kept_prefixes_are_neither_announced_nor_withdrawn() {
        let mut config = seed();
        config.services[1].policy.on_checker_error = OnCheckerError::Keep;
        let down: Answers =
            config.checks().map(|(_, c)| (c.url.clone(), Err("Connection refused".to_string()))).collect();
        let running = include_str!("../tests/fixtures/frr-8.4.4-nothing-announced.txt");
        let plan = compute(&config, &down, &frr(running), None, Intent::Reconcile);
        assert_eq!(plan.services[1].verdict, Verdict::KeptOnCheckerError);
        assert!(plan.services[1].prefixes.iter().all(|p| p.action == Action::Keep));
        assert!(plan.summary().has_errors(), "a checker that could not be asked is still an error");
    }
}
