//! The plan: for every managed prefix, what FRR has, what it should have, and what to do about it.
//!
//! Pure: configuration, health answers, FRR's running configs and the maintenance marker in, a [`Plan`] out. No
//! I/O and no clock: `plan` and `apply` compute it by the same function, so given the same inputs `apply` does what
//! `plan` printed. `apply` gathers fresh inputs and computes it again, so what it does is right for that moment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::config::{Config, ManagedPrefix, OnCheckerError, OnFalling, OnUnhealthy, Policy, RouteMap, Service, Vrf};
use crate::frr::{Asn, Change, ChangeKind, RunningConfig};
use crate::health::cabourotte::Answers;
use crate::health::{self, Condition, ServiceHealth};
use crate::state::maintenance::Maintenance;
use crate::state::managed::Entry;
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
    /// The services a pass made by a push concerns (`None`: a poll, or no push). Rise and fall count polls only, and
    /// a push can only withdraw what it names: see [`after_push`].
    pub pushed_services: Option<BTreeSet<String>>,
    /// The prefixes anycastd managed that the configuration no longer names (see `state/managed.rs`).
    pub departed: Vec<Departed>,
}

/// A prefix anycastd managed and the configuration no longer names: withdrawn wherever FRR still has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departed {
    /// What the record says of it.
    pub entry: Entry,
    /// Whether its vtysh may be run: one that a configuration names, or FRR's default. A record of another user's
    /// making must never make root run a program the configuration does not name.
    pub vtysh_allowed: bool,
}

/// What the run is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Announce healthy services, withdraw the others (`plan`, `apply`, `run`).
    Reconcile,
    /// Withdraw every managed prefix, whatever the health (`withdraw-all`, and `run` on exit).
    WithdrawAll,
    /// Drain every announced managed prefix until `until` (Unix seconds), whatever the health (`withdraw-all
    /// --drain`); a prefix without a drain route-map is withdrawn.
    Drain {
        /// The drain's deadline.
        until: u64,
    },
}

impl Intent {
    /// Whether a pass with this intent asks Cabourotte: every pass but a withdrawal of everything. A drain asks too,
    /// so that a service failing during it is withdrawn at once rather than kept drained until the deadline.
    pub fn asks_health(self) -> bool {
        match self {
            Intent::Reconcile | Intent::Drain { .. } => true,
            Intent::WithdrawAll => false,
        }
    }
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
    /// The maintenance marker asks for a drain that is not over (`withdraw-all --drain`): drain until `until`
    /// (Unix seconds), then withdraw.
    Draining {
        /// The drain's deadline.
        until: u64,
    },
    /// `withdraw-all` or shutdown: withdraw.
    WithdrawAll,
    /// No longer in the configuration: whatever anycastd announced of it is withdrawn.
    Removed,
    /// A pass made by a push about other services' checks: left exactly as it is until the next poll.
    Untouched,
}

impl Verdict {
    /// What the verdict wants for the service's prefixes, under the service's `policy`.
    pub fn desired(&self, policy: &Policy) -> Desired {
        match self {
            Verdict::Healthy => Desired::Announced,
            Verdict::Falling { .. } if policy.on_falling == OnFalling::Drain => Desired::Drained,
            Verdict::Falling { .. } => Desired::Announced,
            Verdict::Unhealthy if policy.on_unhealthy == OnUnhealthy::Drain => Desired::Drained,
            Verdict::Draining { .. } => Desired::Drained,
            Verdict::KeptOnCheckerError | Verdict::Untouched => Desired::Unchanged,
            Verdict::Unhealthy
            | Verdict::Rising { .. }
            | Verdict::Maintenance
            | Verdict::WithdrawAll
            | Verdict::Removed => Desired::Withdrawn,
        }
    }
}

/// What the maintenance marker asks of a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaintenanceMode {
    /// No marker: health decides.
    Off,
    /// Every managed prefix withdrawn.
    Withdraw,
    /// Announced prefixes drained until the deadline (Unix seconds).
    Drain {
        /// The drain's deadline.
        until: u64,
    },
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
    /// Every prefix announced, through its `route_map` if it has one.
    Announced,
    /// Every announced prefix kept, through its `drain_route_map`, so that peers prefer other nodes; prefixes without
    /// one withdrawn. Never announces a prefix FRR does not have.
    Drained,
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
    /// The prefix should be announced through a route-map that FRR does not have; anycastd never announces a prefix
    /// without its policy, and never creates a route-map.
    MissingRouteMap(RouteMap),
    /// A departed prefix was announced through a vtysh that no configuration names any more: it is not run.
    VtyshNotConfigured(PathBuf),
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
            PrefixError::VtyshNotConfigured(vtysh) => format!(
                "anycastd announced it through {}, which the configuration no longer names: not withdrawn (anycastd \
                 runs only the vtysh its configuration names, or /usr/bin/vtysh); withdraw it by hand, then `anycastd \
                 forget` it",
                vtysh.display()
            ),
            PrefixError::MissingRouteMap(route_map) => format!(
                "FRR has no route-map {route_map} (its route_map): not announced without it; define `route-map \
                 {route_map} permit 10` in FRR, or remove route_map from the configuration"
            ),
        }
    }
}

/// What to do with one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Add the `network` statement, with the prefix's `route_map` if it has one.
    Announce,
    /// Remove the `network` statement.
    Withdraw,
    /// Put the prefix's `drain_route_map` on the `network` statement FRR has.
    Drain,
    /// Put the prefix's own `route_map` (or none) back on the `network` statement FRR has: after a drain, or when
    /// someone changed it by hand.
    Restore,
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
    /// The route-map of FRR's `network` line now, if it has the line and the line names one.
    pub route_map: Option<String>,
    /// What to do.
    pub action: Action,
    /// What applying did (always [`Outcome::Pending`] in a plan).
    pub outcome: Outcome,
    /// Whether its BGP instance has `bgp network import-check` on.
    pub import_check: bool,
    /// What the operator should know about this prefix (e.g. FRR will not advertise it, a route-map is missing).
    pub warnings: Vec<String>,
}

/// What FRR does with a managed prefix, as reports, logs, metrics and hooks name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefixState {
    /// FRR has the `network` line, not through the drain route-map.
    Announced,
    /// FRR has the `network` line through the prefix's drain route-map.
    Drained,
    /// FRR does not have it.
    Withdrawn,
    /// FRR could not be read.
    Unknown,
}

impl PrefixState {
    /// Its name in reports, logs, metrics and hooks.
    pub fn name(self) -> &'static str {
        match self {
            PrefixState::Announced => "announced",
            PrefixState::Drained => "drained",
            PrefixState::Withdrawn => "withdrawn",
            PrefixState::Unknown => "unknown",
        }
    }
}

impl PrefixPlan {
    /// The FRR change this prefix needs, if any.
    pub fn change(&self) -> Option<Change> {
        let kind = match self.action {
            Action::Withdraw => ChangeKind::NoNetwork,
            Action::Announce | Action::Drain | Action::Restore => {
                ChangeKind::Network(self.wanted_route_map()?.cloned())
            }
            Action::Keep | Action::Error(_) => return None,
        };
        let asn = self.asn.clone()?;
        Some(Change { asn, vrf: self.managed.vrf.clone(), prefix: self.managed.prefix, kind })
    }

    /// The route-map the action puts on the `network` line (`Some(None)`: none); `None` for an action that does not
    /// set a `network` line.
    pub fn wanted_route_map(&self) -> Option<Option<&RouteMap>> {
        match self.action {
            Action::Announce | Action::Restore => Some(self.managed.route_map.as_ref()),
            Action::Drain => Some(self.managed.drain_route_map.as_ref()),
            Action::Withdraw | Action::Keep | Action::Error(_) => None,
        }
    }

    /// Whether FRR will have this network after the plan is applied.
    pub fn will_be_announced(&self) -> bool {
        match self.action {
            Action::Announce | Action::Drain | Action::Restore => true,
            Action::Withdraw | Action::Error(_) => false,
            Action::Keep => self.current == Presence::Configured,
        }
    }

    /// What FRR does with the prefix now, before the plan is applied.
    pub fn current_state(&self) -> PrefixState {
        match self.current {
            Presence::Configured if self.is_drained_by(self.route_map.as_deref()) => PrefixState::Drained,
            Presence::Configured => PrefixState::Announced,
            Presence::Absent => PrefixState::Withdrawn,
            Presence::Unknown => PrefixState::Unknown,
        }
    }

    /// What FRR does with the prefix once the plan is applied (or, for a failed change, as it was).
    pub fn state_after(&self) -> PrefixState {
        match (&self.action, &self.outcome) {
            (_, Outcome::Failed(_)) | (Action::Keep | Action::Error(_), _) => self.current_state(),
            (Action::Announce | Action::Restore, _) => PrefixState::Announced,
            (Action::Drain, _) => PrefixState::Drained,
            (Action::Withdraw, _) => PrefixState::Withdrawn,
        }
    }

    fn is_drained_by(&self, route_map: Option<&str>) -> bool {
        let drain = self.managed.drain_route_map.as_ref().map(RouteMap::name);
        drain.is_some() && drain == route_map
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
    /// What the verdict wants for its prefixes, under its policy.
    pub desired: Desired,
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
    /// What anycastd announced for services or prefixes the configuration no longer has, by the service it was
    /// announced for ([`Verdict::Removed`]).
    pub departed: Vec<ServicePlan>,
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
    /// Prefixes to drain (or drained).
    pub drain: usize,
    /// Prefixes to restore to their own route-map (or restored).
    pub restore: usize,
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
        self.announce + self.withdraw + self.drain + self.restore > 0
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
            departed: plan_departed(inputs),
            warnings: config.warnings(),
            errors: Vec::new(),
            reason: None,
        }
    }

    /// The streaks to remember after this pass.
    pub fn streaks(&self) -> Streaks {
        Streaks { services: self.services.iter().map(|service| (service.name.clone(), service.streak)).collect() }
    }

    /// Every prefix of the plan, departed ones included.
    pub fn prefixes(&self) -> impl Iterator<Item = &PrefixPlan> {
        self.all_services().flat_map(|service| service.prefixes.iter())
    }

    /// Every prefix of the plan, departed ones included, to fill in what applying did.
    pub fn prefixes_mut(&mut self) -> impl Iterator<Item = &mut PrefixPlan> {
        self.services.iter_mut().chain(self.departed.iter_mut()).flat_map(|service| service.prefixes.iter_mut())
    }

    /// The configured services, then the departed ones.
    pub fn all_services(&self) -> impl Iterator<Item = &ServicePlan> {
        self.services.iter().chain(self.departed.iter())
    }

    /// Counts what the plan does; prefixes that failed to apply count as errors, not as changes.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for prefix in self.prefixes() {
            match (&prefix.action, prefix.is_error()) {
                (_, true) => summary.errors += 1,
                (Action::Announce, false) => summary.announce += 1,
                (Action::Withdraw, false) => summary.withdraw += 1,
                (Action::Drain, false) => summary.drain += 1,
                (Action::Restore, false) => summary.restore += 1,
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
    let health = intent.asks_health().then(|| health::evaluate(service, &inputs.answers, inputs.now));
    let condition = health.as_ref().map(ServiceHealth::condition);
    let previous = inputs.streaks.of(&service.name);
    // A pass that cannot keep the counts would count the same unhealthy pass again and again, and counts someone
    // else may have written could say anything: `fall` cannot hold back a withdrawal then.
    let policy = match (&inputs.withdraw_only, inputs.counts_forgeable) {
        (None, false) => service.policy,
        _ => Policy { fall: 1, ..service.policy },
    };
    let decided = decide(policy, condition, announced_now, previous, maintenance_mode(inputs, intent));
    let (verdict, desired, streak) = after_push(service, inputs, intent, decided, previous);
    let refusal = inputs.withdraw_only.as_deref();
    let prefixes =
        service.prefixes.iter().zip(observed).map(|(managed, seen)| seen.plan(managed, desired, refusal)).collect();
    ServicePlan { name: service.name.clone(), health, verdict, desired, policy: service.policy, streak, prefixes }
}

/// The departed prefixes, by the service they were for: withdrawn where their FRR still has them in their VRF
/// (whatever AS its instance has by now); errors where their vtysh may not be run or FRR cannot be read.
fn plan_departed(inputs: &Inputs) -> Vec<ServicePlan> {
    let mut by_service: BTreeMap<&str, Vec<PrefixPlan>> = BTreeMap::new();
    for departed in &inputs.departed {
        let entry = &departed.entry;
        let managed = ManagedPrefix {
            vrf: entry.vrf.clone(),
            prefix: entry.prefix,
            vtysh: entry.vtysh.clone(),
            bgpd_pid_file: None,
            route_map: None,
            drain_route_map: None,
        };
        let seen = match departed.vtysh_allowed {
            true => observe(&managed, &inputs.frr),
            false => Observed { error: Some(PrefixError::VtyshNotConfigured(entry.vtysh.clone())), ..Observed::none() },
        };
        let seen = match seen.error {
            Some(PrefixError::NoBgpInstance) => Observed { presence: Presence::Absent, ..Observed::none() },
            _ => seen,
        };
        by_service.entry(&entry.service).or_default().push(seen.plan(&managed, Desired::Withdrawn, None));
    }
    by_service
        .into_iter()
        .map(|(name, prefixes)| ServicePlan {
            name: name.to_string(),
            health: None,
            verdict: Verdict::Removed,
            desired: Desired::Withdrawn,
            policy: Policy::default(),
            streak: Streak::default(),
            prefixes,
        })
        .collect()
}

/// A service's verdict, what it wants and its streak after `decided` (this pass's verdict and streak), in a pass made
/// by a push. A push must neither announce nor count toward `rise` or `fall`: anyone who can reach the listener
/// (any local user, with `--allow-unauthenticated-loopback`) could otherwise drive another service's rise with
/// pushes about other checks. So a service the push does not name is left exactly as it is; a named one gets the
/// verdict a poll would give with the pushed failure counted, but only its withdrawal or drain is done, and its
/// streak stays what the polls made it. With `fall = 1` a pushed failure withdraws at once; with `fall = 3` only
/// after two unhealthy polls.
fn after_push(
    service: &Service,
    inputs: &Inputs,
    intent: Intent,
    decided: (Verdict, Streak),
    previous: Streak,
) -> (Verdict, Desired, Streak) {
    let (verdict, streak) = decided;
    let named = match (&inputs.pushed_services, intent) {
        (Some(named), Intent::Reconcile) => named.contains(&service.name),
        _ => {
            let desired = verdict.desired(&service.policy);
            return (verdict, desired, streak);
        }
    };
    if !named {
        return (Verdict::Untouched, Desired::Unchanged, previous);
    }
    let desired = match verdict.desired(&service.policy) {
        Desired::Announced => Desired::Unchanged,
        desired => desired,
    };
    (verdict, desired, previous)
}

/// What maintenance asks of this pass: `withdraw-all --drain`'s own pass drains and a withdrawal withdraws, whatever
/// the marker says; otherwise a marker with a drain that is not over drains, and any other marker withdraws.
fn maintenance_mode(inputs: &Inputs, intent: Intent) -> MaintenanceMode {
    match (intent, &inputs.maintenance) {
        (Intent::Drain { until }, _) => MaintenanceMode::Drain { until },
        (Intent::WithdrawAll, _) => MaintenanceMode::Withdraw,
        (Intent::Reconcile, None) => MaintenanceMode::Off,
        (Intent::Reconcile, Some(marker)) => match marker.draining_until(inputs.now) {
            Some(until) => MaintenanceMode::Drain { until },
            None => MaintenanceMode::Withdraw,
        },
    }
}

/// Decides a service's verdict and its streak after this pass. `condition` is `None` when health was not asked
/// (`withdraw-all`, with or without `--drain`).
pub fn decide(
    policy: Policy,
    condition: Option<Condition>,
    announced_now: bool,
    previous: Streak,
    maintenance: MaintenanceMode,
) -> (Verdict, Streak) {
    let Some(condition) = condition else {
        let verdict = match maintenance {
            MaintenanceMode::Drain { until } => Verdict::Draining { until },
            MaintenanceMode::Off | MaintenanceMode::Withdraw => Verdict::WithdrawAll,
        };
        return (verdict, previous);
    };
    let keep_on_checker_error = policy.on_checker_error == OnCheckerError::Keep;
    let streak = match condition {
        Condition::Healthy => previous.after(true).capped(policy.rise, policy.fall),
        Condition::CheckerUnavailable if keep_on_checker_error => previous,
        Condition::Unhealthy | Condition::CheckerUnavailable => previous.after(false).capped(policy.rise, policy.fall),
    };
    let verdict = match maintenance {
        MaintenanceMode::Drain { until } => drain_verdict(policy, condition, until),
        MaintenanceMode::Withdraw => Verdict::Maintenance,
        MaintenanceMode::Off => health_verdict(policy, condition, announced_now, streak),
    };
    (verdict, streak)
}

/// The verdict during a drain (`withdraw-all --drain`): a drain moves traffic gently away from a node that still
/// serves it, so only a healthy service stays drained until the deadline. A failing one is unhealthy at once, `fall`
/// notwithstanding (its prefixes are on their way out; no traffic should reach a failing service meanwhile), and
/// follows `on_unhealthy` (withdrawn, or drained with `on_unhealthy = "drain"`). A Cabourotte that cannot be asked
/// keeps the drain only with `on_checker_error = "keep"`.
fn drain_verdict(policy: Policy, condition: Condition, until: u64) -> Verdict {
    match condition {
        Condition::Healthy => Verdict::Draining { until },
        Condition::CheckerUnavailable if policy.on_checker_error == OnCheckerError::Keep => Verdict::Draining { until },
        Condition::Unhealthy | Condition::CheckerUnavailable => Verdict::Unhealthy,
    }
}

/// The verdict of health alone, out of maintenance: rise and fall applied to this pass's streak.
fn health_verdict(policy: Policy, condition: Condition, announced_now: bool, streak: Streak) -> Verdict {
    match condition {
        Condition::CheckerUnavailable if policy.on_checker_error == OnCheckerError::Keep => Verdict::KeptOnCheckerError,
        Condition::Healthy if announced_now || streak.healthy >= policy.rise => Verdict::Healthy,
        Condition::Healthy => Verdict::Rising { healthy: streak.healthy, rise: policy.rise },
        _ if !announced_now || streak.unhealthy >= policy.fall => Verdict::Unhealthy,
        _ => Verdict::Falling { unhealthy: streak.unhealthy, fall: policy.fall },
    }
}

/// What FRR has of one managed prefix.
struct Observed {
    asn: Option<Asn>,
    presence: Presence,
    /// The route-map of FRR's `network` line, if it has the line and the line names one.
    route_map: Option<String>,
    error: Option<PrefixError>,
    import_check: bool,
    /// The prefix's `route_map`, when FRR does not have it.
    missing_route_map: Option<RouteMap>,
    /// The prefix's `drain_route_map`, when FRR does not have it.
    missing_drain_route_map: Option<RouteMap>,
}

impl Observed {
    /// Nothing known: FRR was not read.
    fn none() -> Observed {
        Observed {
            asn: None,
            presence: Presence::Unknown,
            route_map: None,
            error: None,
            import_check: false,
            missing_route_map: None,
            missing_drain_route_map: None,
        }
    }
}

fn observe(managed: &ManagedPrefix, frr: &FrrStates) -> Observed {
    let nothing = Observed::none();
    let running = match frr.get(&managed.vtysh) {
        Some(Ok(running)) => running,
        Some(Err(reason)) => return Observed { error: Some(PrefixError::FrrUnavailable(reason.clone())), ..nothing },
        None => return Observed { error: Some(PrefixError::FrrUnavailable("not read".into())), ..nothing },
    };
    let Some(instance) = running.instance(&managed.vrf) else {
        return Observed { presence: Presence::Absent, error: Some(PrefixError::NoBgpInstance), ..nothing };
    };
    let missing = |route_map: &Option<RouteMap>| route_map.clone().filter(|map| !running.has_route_map(map.name()));
    let line = instance.networks.get(&managed.prefix);
    Observed {
        asn: Some(instance.asn.clone()),
        presence: if line.is_some() { Presence::Configured } else { Presence::Absent },
        route_map: line.cloned().flatten(),
        import_check: instance.import_check,
        missing_route_map: missing(&managed.route_map),
        missing_drain_route_map: missing(&managed.drain_route_map),
        ..nothing
    }
}

impl Observed {
    /// The prefix's plan, given what its service wants for it, and why it may not be announced in this pass, if it
    /// may not.
    fn plan(self, managed: &ManagedPrefix, desired: Desired, refusal: Option<&str>) -> PrefixPlan {
        let mut warnings = Vec::new();
        let action = match (&self.error, desired) {
            (Some(error), _) => Action::Error(error.clone()),
            (None, Desired::Announced) => self.announce(managed, refusal),
            (None, Desired::Drained) => self.drain(managed),
            (None, Desired::Withdrawn) if self.presence == Presence::Configured => Action::Withdraw,
            (None, _) => Action::Keep,
        };
        if let (Some(route_map), false) = (&self.missing_route_map, matches!(action, Action::Error(_))) {
            warnings.push(format!(
                "FRR has no route-map {route_map} (route_map): anycastd will not announce {} without it",
                managed.prefix
            ));
        }
        if let Some(drain) = &self.missing_drain_route_map {
            warnings.push(format!(
                "FRR has no route-map {drain} (drain_route_map): draining {} withdraws it instead",
                managed.prefix
            ));
        }
        PrefixPlan {
            managed: managed.clone(),
            asn: self.asn,
            current: self.presence,
            route_map: self.route_map,
            action,
            outcome: Outcome::Pending,
            import_check: self.import_check,
            warnings,
        }
    }

    /// Announced through the prefix's own route-map: announce it, or put that route-map back on the line FRR has.
    /// Neither is done without the route-map in FRR, nor in a pass that may only withdraw.
    fn announce(&self, managed: &ManagedPrefix, refusal: Option<&str>) -> Action {
        if let Some(route_map) = &self.missing_route_map {
            return Action::Error(PrefixError::MissingRouteMap(route_map.clone()));
        }
        let wanted = managed.route_map.as_ref().map(RouteMap::name);
        let action = match self.presence {
            Presence::Configured if self.route_map.as_deref() == wanted => return Action::Keep,
            Presence::Configured => Action::Restore,
            Presence::Absent | Presence::Unknown => Action::Announce,
        };
        match refusal {
            Some(reason) => Action::Error(PrefixError::AnnounceRefused(reason.to_string())),
            None => action,
        }
    }

    /// Drained: the line FRR has gets the drain route-map. A prefix FRR does not have stays withdrawn (a drain never
    /// announces), and one without a drain route-map in FRR is withdrawn.
    fn drain(&self, managed: &ManagedPrefix) -> Action {
        if self.presence != Presence::Configured {
            return Action::Keep;
        }
        match &managed.drain_route_map {
            None => Action::Withdraw,
            Some(_) if self.missing_drain_route_map.is_some() => Action::Withdraw,
            Some(drain) if self.route_map.as_deref() == Some(drain.name()) => Action::Keep,
            Some(_) => Action::Drain,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Vrf;
    use crate::frr::Change;
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
        let marker = Maintenance { since: 0, by: "alice".into(), reason: None, drain_until: None };
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

    const RISE_2_FALL_3: Policy = Policy {
        rise: 2,
        fall: 3,
        on_checker_error: OnCheckerError::Withdraw,
        on_falling: OnFalling::Keep,
        on_unhealthy: OnUnhealthy::Withdraw,
    };

    #[test]
    fn an_announced_service_is_withdrawn_only_after_fall_unhealthy_passes() {
        let mut streak = Streak::default();
        let mut verdicts = Vec::new();
        for _ in 0..3 {
            let (verdict, next) = decide(RISE_2_FALL_3, Some(Condition::Unhealthy), true, streak, MaintenanceMode::Off);
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
        assert_eq!(verdicts[0].desired(&Policy::default()), Desired::Announced, "still announced while falling");
    }

    #[test]
    fn a_withdrawn_service_is_announced_only_after_rise_healthy_passes() {
        let (first, streak) =
            decide(RISE_2_FALL_3, Some(Condition::Healthy), false, Streak::default(), MaintenanceMode::Off);
        assert_eq!(first, Verdict::Rising { healthy: 1, rise: 2 });
        assert_eq!(first.desired(&Policy::default()), Desired::Withdrawn);
        let (second, _) = decide(RISE_2_FALL_3, Some(Condition::Healthy), false, streak, MaintenanceMode::Off);
        assert_eq!(second, Verdict::Healthy);
        let (already, _) =
            decide(RISE_2_FALL_3, Some(Condition::Healthy), true, Streak::default(), MaintenanceMode::Off);
        assert_eq!(already, Verdict::Healthy, "an announced healthy service stays announced");
    }

    #[test]
    fn one_healthy_pass_resets_the_fall_count() {
        let (_, streak) =
            decide(RISE_2_FALL_3, Some(Condition::Unhealthy), true, Streak::default(), MaintenanceMode::Off);
        let (_, streak) = decide(RISE_2_FALL_3, Some(Condition::Healthy), true, streak, MaintenanceMode::Off);
        let (verdict, _) = decide(RISE_2_FALL_3, Some(Condition::Unhealthy), true, streak, MaintenanceMode::Off);
        assert_eq!(verdict, Verdict::Falling { unhealthy: 1, fall: 3 });
    }

    fn pushed_about(services: &[&str]) -> Option<BTreeSet<String>> {
        Some(services.iter().map(|name| name.to_string()).collect())
    }

    const NTP_V4_FAILING: &str =
        r#"[{"name":"dns","success":true},{"name":"ntp_v4","success":false},{"name":"ntp_v6","success":true}]"#;

    #[test]
    fn a_push_leaves_every_service_it_does_not_name_exactly_as_it_is() {
        let mut config = seed();
        config.services[0].policy.rise = 3;
        let nothing = include_str!("../tests/fixtures/frr-8.4.4-nothing-announced.txt");
        let two_healthy_polls =
            Streaks { services: BTreeMap::from([("dns".to_string(), Streak { healthy: 2, unhealthy: 0 })]) };
        let inputs = Inputs {
            answers: all_answer(&config, NTP_V4_FAILING),
            frr: frr(nothing),
            streaks: two_healthy_polls.clone(),
            ..Inputs::default()
        };
        let poll = Plan::compute(&config, &inputs, Intent::Reconcile);
        assert_eq!(
            actions(&poll)[..2],
            [("203.0.113.53/32".into(), Action::Announce), ("2001:db8::b19:bad:53/128".into(), Action::Announce)],
            "a third healthy poll announces"
        );
        let push =
            Plan::compute(&config, &Inputs { pushed_services: pushed_about(&["ntp"]), ..inputs }, Intent::Reconcile);
        let dns = &push.services[0];
        assert_eq!(
            (&dns.verdict, dns.desired, dns.streak),
            (&Verdict::Untouched, Desired::Unchanged, Streak { healthy: 2, unhealthy: 0 })
        );
        assert!(
            dns.prefixes.iter().all(|p| p.action == Action::Keep),
            "a push about ntp is not dns's third healthy pass"
        );
        assert_eq!(push.streaks().of("dns"), two_healthy_polls.of("dns"), "nothing counted");
        assert_eq!(push.streaks().of("ntp"), Streak::default(), "nor for the service named");

        let announced = include_str!("../tests/fixtures/frr-8.4.4-running-config.txt");
        let dns_failing =
            r#"[{"name":"dns","success":false},{"name":"ntp_v4","success":false},{"name":"ntp_v6","success":true}]"#;
        let inputs = Inputs {
            answers: all_answer(&config, dns_failing),
            frr: frr(announced),
            pushed_services: pushed_about(&["ntp"]),
            ..Inputs::default()
        };
        let push = Plan::compute(&config, &inputs, Intent::Reconcile);
        assert_eq!(
            actions(&push),
            [
                ("203.0.113.53/32".into(), Action::Keep),
                ("2001:db8::b19:bad:53/128".into(), Action::Keep),
                ("203.0.113.123/32".into(), Action::Withdraw),
                ("2001:db8::123:7e11:713e/128".into(), Action::Withdraw),
            ],
            "dns waits for the poll, whatever its last answer said"
        );
    }

    #[test]
    fn a_push_withdraws_the_service_it_names_as_a_poll_would_without_counting_itself() {
        let mut config = seed();
        let announced = include_str!("../tests/fixtures/frr-8.4.4-running-config.txt");
        let before = Streak { healthy: 4, unhealthy: 0 };
        let answers = all_answer(&config, NTP_V4_FAILING);
        let inputs = |streak: Streak| Inputs {
            answers: answers.clone(),
            frr: frr(announced),
            streaks: Streaks { services: BTreeMap::from([("ntp".to_string(), streak)]) },
            pushed_services: pushed_about(&["ntp"]),
            ..Inputs::default()
        };
        let fall_1 = Plan::compute(&config, &inputs(before), Intent::Reconcile);
        assert_eq!(fall_1.services[1].verdict, Verdict::Unhealthy);
        assert!(fall_1.services[1].prefixes.iter().all(|p| p.action == Action::Withdraw), "fall = 1: at once");
        assert_eq!(fall_1.services[1].streak, before, "the push is not counted");

        config.services[1].policy.fall = 3;
        let first = Plan::compute(&config, &inputs(before), Intent::Reconcile);
        assert_eq!(first.services[1].verdict, Verdict::Falling { unhealthy: 1, fall: 3 });
        assert!(first.services[1].prefixes.iter().all(|p| p.action == Action::Keep));
        assert_eq!(first.services[1].streak, before);
        let two_unhealthy_polls = Streak { healthy: 0, unhealthy: 2 };
        let third = Plan::compute(&config, &inputs(two_unhealthy_polls), Intent::Reconcile);
        assert_eq!(third.services[1].verdict, Verdict::Unhealthy, "the push brings the third unhealthy pass forward");
        assert!(third.services[1].prefixes.iter().all(|p| p.action == Action::Withdraw));
        assert_eq!(third.services[1].streak, two_unhealthy_polls, "still what the polls made it");
    }

    #[test]
    fn a_push_never_announces_nor_restores_the_service_it_names_but_may_drain_it() {
        let config = graded(GRADED);
        let pushed = || Inputs { pushed_services: pushed_about(&["dns"]), ..Inputs::default() };
        let drifted = graded_frr("  network 203.0.113.54/32\n");
        let poll = plan_with(&config, true, &drifted, Inputs::default());
        assert_eq!(
            actions(&poll),
            [("203.0.113.53/32".into(), Action::Announce), ("203.0.113.54/32".into(), Action::Restore)]
        );
        let push = plan_with(&config, true, &drifted, pushed());
        assert_eq!(push.services[0].verdict, Verdict::Healthy, "the pushed failure was older than the poll");
        assert_eq!(
            actions(&push),
            [("203.0.113.53/32".into(), Action::Keep), ("203.0.113.54/32".into(), Action::Keep)]
        );
        assert!(!push.summary().has_changes() && !push.summary().has_errors());

        let announced = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-OUT\n");
        let falling = plan_with(&config, false, &announced, pushed());
        assert_eq!(falling.services[0].verdict, Verdict::Falling { unhealthy: 1, fall: 3 });
        assert_eq!(actions(&falling)[0], ("203.0.113.53/32".into(), Action::Drain), "on_falling = \"drain\" drains");
        assert_eq!(falling.services[0].streak, Streak::default());
    }

    #[test]
    fn keep_on_checker_error_leaves_prefixes_and_counts_alone() {
        let keep = Policy { on_checker_error: OnCheckerError::Keep, ..RISE_2_FALL_3 };
        let before = Streak { healthy: 0, unhealthy: 2 };
        let (verdict, after) = decide(keep, Some(Condition::CheckerUnavailable), true, before, MaintenanceMode::Off);
        assert_eq!((verdict.clone(), after), (Verdict::KeptOnCheckerError, before));
        assert_eq!(verdict.desired(&Policy::default()), Desired::Unchanged);
        let (withdraw, _) =
            decide(Policy::default(), Some(Condition::CheckerUnavailable), true, before, MaintenanceMode::Off);
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

    const GRADED: &str = r#"
[services.dns]
prefixes.frrouting = ["203.0.113.53", { prefix = "203.0.113.54", drain_route_map = "OTHER-DRAIN" }]
checks.cabourotte = ["dns"]
route_map = "ANYCAST-OUT"
drain_route_map = "ANYCAST-DRAIN"
fall = 3
on_falling = "drain"
"#;

    fn graded(toml: &str) -> Config {
        Config::parse(toml, "graded").expect("valid graded config")
    }

    const ROUTE_MAPS: &str = "route-map ANYCAST-OUT permit 10\n!\nroute-map ANYCAST-DRAIN permit 10\n!\n";

    fn graded_frr(networks: &str) -> FrrStates {
        frr(&format!(
            "{ROUTE_MAPS}router bgp 65536\n address-family ipv4 unicast\n{networks} exit-address-family\nend\n"
        ))
    }

    fn plan_with(config: &Config, success: bool, frr: &FrrStates, inputs: Inputs) -> Plan {
        let answer = format!(r#"[{{"name":"dns","success":{success}}}]"#);
        let inputs = Inputs { answers: all_answer(config, &answer), frr: frr.clone(), ..inputs };
        Plan::compute(config, &inputs, Intent::Reconcile)
    }

    fn lines(plan: &Plan) -> Vec<String> {
        let changes: Vec<Change> = plan.prefixes().filter_map(PrefixPlan::change).collect();
        crate::frr::render_batch(&changes)
    }

    #[test]
    fn announcements_carry_the_route_map_and_another_route_map_is_drift() {
        let config = graded(GRADED);
        let frr = graded_frr("  network 203.0.113.54/32\n");
        let plan = plan_with(&config, true, &frr, Inputs::default());
        assert_eq!(
            actions(&plan),
            [("203.0.113.53/32".into(), Action::Announce), ("203.0.113.54/32".into(), Action::Restore)]
        );
        assert_eq!(
            lines(&plan)[2..4],
            ["network 203.0.113.53/32 route-map ANYCAST-OUT", "network 203.0.113.54/32 route-map ANYCAST-OUT"]
        );
        let converged = graded_frr(
            "  network 203.0.113.53/32 route-map ANYCAST-OUT\n  network 203.0.113.54/32 route-map ANYCAST-OUT\n",
        );
        assert!(!plan_with(&config, true, &converged, Inputs::default()).summary().has_changes());
    }

    #[test]
    fn a_route_map_frr_lacks_is_an_error_never_an_announcement_without_it() {
        let config = graded(GRADED);
        let frr = frr("router bgp 65536\nend\n");
        let plan = plan_with(&config, true, &frr, Inputs::default());
        let missing = Action::Error(PrefixError::MissingRouteMap(RouteMap::parse("ANYCAST-OUT").expect("valid")));
        assert_eq!(actions(&plan), [("203.0.113.53/32".into(), missing.clone()), ("203.0.113.54/32".into(), missing)]);
        assert!(
            plan.prefixes()
                .all(|p| p.warnings.iter().any(|w| w.contains("route-map ANYCAST-DRAIN") || w.contains("OTHER-DRAIN")))
        );
        let unhealthy = plan_with(&config, false, &frr, Inputs::default());
        assert!(unhealthy.prefixes().all(|p| p.action == Action::Keep), "nothing announced: nothing to withdraw");
    }

    #[test]
    fn falling_drains_then_fall_withdraws_and_health_restores() {
        let config = graded(GRADED);
        let announced = graded_frr(
            "  network 203.0.113.53/32 route-map ANYCAST-OUT\n  network 203.0.113.54/32 route-map ANYCAST-OUT\n",
        );
        let first = plan_with(&config, false, &announced, Inputs::default());
        assert_eq!(first.services[0].desired, Desired::Drained);
        assert_eq!(
            first.prefixes().next().map(|p| (p.action.clone(), p.change().map(|c| c.kind))),
            Some((Action::Drain, Some(ChangeKind::Network(RouteMap::parse("ANYCAST-DRAIN")))))
        );
        assert_eq!(actions(&first)[1], ("203.0.113.54/32".into(), Action::Withdraw), "OTHER-DRAIN is not in FRR");
        let drained = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-DRAIN\n");
        let second = plan_with(&config, false, &drained, Inputs { streaks: first.streaks(), ..Inputs::default() });
        assert_eq!(second.services[0].verdict, Verdict::Falling { unhealthy: 2, fall: 3 });
        assert_eq!(second.prefixes().next().map(PrefixPlan::current_state), Some(PrefixState::Drained));
        assert_eq!(actions(&second)[0].1, Action::Keep);
        let third = plan_with(&config, false, &drained, Inputs { streaks: second.streaks(), ..Inputs::default() });
        assert_eq!(actions(&third)[0].1, Action::Withdraw);
        let healthy = plan_with(&config, true, &drained, Inputs { streaks: second.streaks(), ..Inputs::default() });
        assert_eq!(actions(&healthy)[0].1, Action::Restore, "a drained prefix counts as announced for rise");
    }

    #[test]
    fn a_drain_in_the_marker_drains_until_its_deadline_and_never_announces() {
        let mut config = graded(GRADED);
        config.services[0].prefixes[1].drain_route_map = None;
        let frr = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-OUT\n");
        let marker = Maintenance { since: 100, by: "alice".into(), reason: None, drain_until: Some(130) };
        let during = Inputs { maintenance: Some(marker.clone()), now: Some(120), ..Inputs::default() };
        let plan = plan_with(&config, true, &frr, during);
        assert_eq!(plan.services[0].verdict, Verdict::Draining { until: 130 });
        assert_eq!(
            actions(&plan),
            [("203.0.113.53/32".into(), Action::Drain), ("203.0.113.54/32".into(), Action::Keep)]
        );
        let with_plain = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-OUT\n  network 203.0.113.54/32\n");
        let during = Inputs { maintenance: Some(marker.clone()), now: Some(120), ..Inputs::default() };
        assert_eq!(
            actions(&plan_with(&config, true, &with_plain, during))[1].1,
            Action::Withdraw,
            "no drain route-map"
        );
        let after = Inputs { maintenance: Some(marker), now: Some(130), ..Inputs::default() };
        assert_eq!(actions(&plan_with(&config, true, &frr, after))[0].1, Action::Withdraw);
        let healthy = all_answer(&config, r#"[{"name":"dns","success":true}]"#);
        let asked = Inputs { frr: frr.clone(), answers: healthy, ..Inputs::default() };
        let command = Plan::compute(&config, &asked, Intent::Drain { until: 5 });
        assert_eq!(actions(&command)[0].1, Action::Drain, "withdraw-all --drain drains a healthy service");
        let marked = Inputs { frr: frr.clone(), maintenance: Some(marker_ahead()), ..Inputs::default() };
        let withdrawal = Plan::compute(&config, &marked, Intent::WithdrawAll);
        assert_eq!(
            actions(&withdrawal)[0].1,
            Action::Withdraw,
            "the withdrawal at the end of a drain withdraws, whatever the marker's deadline (it has no clock)"
        );
    }

    #[test]
    fn a_service_failing_during_a_drain_is_withdrawn_at_once_whatever_its_fall() {
        let mut config = graded(GRADED);
        config.services[0].policy.fall = 3;
        let frr = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-DRAIN\n");
        let marker = Maintenance { since: 100, by: "alice".into(), reason: None, drain_until: Some(130) };
        let during = || Inputs { maintenance: Some(marker.clone()), now: Some(120), ..Inputs::default() };
        let failing = plan_with(&config, false, &frr, during());
        assert_eq!(failing.services[0].verdict, Verdict::Unhealthy, "not Falling 1/3, not Draining");
        assert_eq!(actions(&failing)[0].1, Action::Withdraw);
        let down: Answers =
            config.checks().map(|(_, c)| (c.url.clone(), Err("Connection refused".to_string()))).collect();
        let inputs = Inputs { answers: down.clone(), frr: frr.clone(), ..during() };
        assert_eq!(Plan::compute(&config, &inputs, Intent::Reconcile).services[0].verdict, Verdict::Unhealthy);
        config.services[0].policy.on_checker_error = OnCheckerError::Keep;
        let inputs = Inputs { answers: down, frr: frr.clone(), ..during() };
        let kept = Plan::compute(&config, &inputs, Intent::Reconcile);
        assert_eq!(
            (kept.services[0].verdict.clone(), actions(&kept)[0].1.clone()),
            (Verdict::Draining { until: 130 }, Action::Keep)
        );
        let command = Plan::compute(&config, &Inputs { frr, ..Inputs::default() }, Intent::Drain { until: 130 });
        assert!(command.services[0].health.is_some(), "withdraw-all --drain asks Cabourotte");
    }

    fn marker_ahead() -> Maintenance {
        Maintenance { since: 100, by: "alice".into(), reason: None, drain_until: Some(u64::MAX) }
    }

    #[test]
    fn on_unhealthy_drain_keeps_a_failed_service_drained() {
        let config =
            graded(&GRADED.replace("on_falling = \"drain\"", "on_unhealthy = \"drain\"").replace("fall = 3", ""));
        let announced = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-OUT\n");
        let plan = plan_with(&config, false, &announced, Inputs::default());
        assert_eq!(
            (plan.services[0].verdict.clone(), plan.services[0].desired),
            (Verdict::Unhealthy, Desired::Drained)
        );
        assert_eq!(
            actions(&plan),
            [("203.0.113.53/32".into(), Action::Drain), ("203.0.113.54/32".into(), Action::Keep)]
        );
    }
}
