//! One pass, in named stages: **hold → gather → compute → apply → record**.
//!
//! - *hold*: the state directory, the run lock and the file for the rise/fall counts (changing passes only);
//! - *gather*: Cabourotte's results, FRR's running configs (each as the caller's [`input`] says: live, from a file,
//!   remembered, pushed), the maintenance marker, the counts (I/O);
//! - *compute*: the [`Plan`], a pure function of the gathered inputs;
//! - *apply*: one vtysh batch per FRR, verified by reading FRR again;
//! - *record*: the counts and the metrics file (under the lock), then the log lines and the hooks.
//!
//! `plan` stops after *compute*; `apply`, `withdraw-all` and every pass of `run` go through all of them. Without
//! the lock or the state file a pass still withdraws, but announces nothing: a local problem never stops a
//! withdrawal.

pub mod advertised;
pub mod apply;
mod bird;
pub mod gather;
mod host;
pub mod input;
mod ownership;
pub mod record;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::context::Context;
use crate::daemon::memory::Memory;
use crate::plan::{Action, BirdStates, FrrStates, HoldProblem, Inputs, Intent, Outcome, PassError, Plan, Warning};
use crate::state::addresses::AddedAddresses;
use crate::state::lock::RunLock;
use crate::state::managed::Record;
use crate::state::streaks::{self, Streaks};
use crate::state::{Replacement, StateDir};
use crate::state::{changes, maintenance};
pub use gather::Daemons;
use gather::Gathered;
pub use input::{BirdInput, FrrInput, HealthInput};

/// What a changing pass holds while it changes FRR, and what it could not get.
struct Held {
    state_dir: Option<StateDir>,
    lock: Option<RunLock>,
    /// The file the counts will be saved to, prepared before anything is decided, so that a directory that cannot be
    /// written is known in time.
    counts: Option<Replacement>,
    /// What keeps this pass from announcing (the state directory, the lock, the counts' file).
    problems: Vec<PassError>,
}

/// The hold stage of a changing pass for `command`. `spare` is a counts file prepared by an earlier pass of the loop
/// and not needed then: taken instead of creating (and, most often, removing unused) another one every pass.
fn hold(context: &Context, intent: Intent, command: &str, spare: Option<Replacement>) -> Held {
    let mut problems = Vec::new();
    let state_dir = StateDir::create(&context.state_dir)
        .map_err(|error| problems.push(PassError::withdraw_only(HoldProblem::StateDir, error)))
        .ok();
    let lock = state_dir.as_ref().and_then(|state_dir| {
        RunLock::acquire(state_dir, command, context.lock_timeout)
            .map_err(|error| problems.push(PassError::withdraw_only(HoldProblem::Lock, error)))
            .ok()
    });
    if let (Some(state_dir), Some(_), None) = (&state_dir, &lock, &spare) {
        remove_counts_leftovers_once(state_dir);
    }
    let counts = match (intent, &state_dir, &lock, spare) {
        (Intent::Reconcile, Some(_), Some(_), Some(spare)) => Some(spare),
        (Intent::Reconcile, Some(state_dir), Some(_), None) => streaks::prepare_save(state_dir)
            .map_err(|error| problems.push(PassError::withdraw_only(HoldProblem::Counts, error)))
            .ok(),
        _ => None,
    };
    Held { state_dir, lock, counts, problems }
}

/// Removes what killed processes left of the counts file, once per process: only a crash leaves any, and a new
/// process follows a crash.
fn remove_counts_leftovers_once(state_dir: &StateDir) {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| streaks::remove_leftovers(state_dir));
}

/// The plan of `plan`: gather and compute, changing nothing and writing nothing. It cannot know whether the counts
/// could be saved, so a state directory that would refuse announcements only when written is not seen here.
/// Its inputs are `health` and `frr`; a live FRR is also asked whether it has a route for what it will announce.
pub fn plan_only(
    config: &Config,
    context: &Context,
    health: &HealthInput,
    daemons: Daemons<'_>,
    withdraw_only: Option<PassError>,
) -> Plan {
    let frr = daemons.frr;
    let (state_dir, mut problems) = match StateDir::open(&context.state_dir) {
        Ok(state_dir) => (state_dir, Vec::new()),
        Err(problem) => (None, vec![PassError::withdraw_only(HoldProblem::StateDir, problem)]),
    };
    problems.splice(0..0, withdraw_only);
    let gathered = gather::gather(config, context, Intent::Reconcile, health, daemons, state_dir.as_ref());
    let (inputs, problems, warnings) = inputs(gathered, problems);
    let mut plan = compute(config, &inputs, Intent::Reconcile, &problems, warnings);
    if !matches!(frr, FrrInput::File(_)) {
        gather::warn_unrouted(&mut plan, context.vtysh_timeout);
        advertised::annotate(&mut plan, &inputs.frr, context.vtysh_timeout, false, Duration::ZERO);
    }
    if matches!(daemons.bird, BirdInput::Live) {
        advertised::annotate_bird(&mut plan, context.vtysh_timeout, false, Duration::ZERO);
    }
    plan
}

/// One changing pass as `pass` says, with no memory (`apply`, `withdraw-all`).
pub fn one_pass(config: &Config, context: &Context, pass: &Pass<'_>) -> Plan {
    remembering_pass(config, context, pass, &mut Memory::none())
}

/// A changing pass (`apply`, `withdraw-all`, each pass of `run`) for `command`: every stage, live. `earlier` are
/// errors the caller met before it (withdraw-all's marker), reported with the pass's own. Returns the applied plan.
pub fn changing_pass(
    config: &Config,
    context: &Context,
    intent: Intent,
    command: &str,
    earlier: Vec<PassError>,
) -> Plan {
    let pass = Pass { intent, command, earlier, ..Pass::new(intent, command) };
    remembering_pass(config, context, &pass, &mut Memory::none())
}

/// What a pass is for: its intent, the command it logs as, the errors met before it, and where it takes the health
/// from (loop mode's pushes, the last poll's answers for a pass made by a push).
#[derive(Clone, Debug)]
pub struct Pass<'a> {
    /// Reconcile, or withdraw every managed prefix.
    pub intent: Intent,
    /// The command the pass logs as.
    pub command: &'a str,
    /// Errors the caller met before the pass, reported with its own.
    pub earlier: Vec<PassError>,
    /// Where the health of the checks comes from.
    pub health: HealthInput,
    /// Why it withdraws every managed prefix, when not withdraw-all's own reason (see [`Plan::reason`]).
    pub reason: Option<String>,
    /// Configurations refused since the last pass, for the metrics.
    pub config_errors: u64,
    /// Why this pass may withdraw but not announce, decided before it started (a broken configuration file).
    pub broken_config: Option<PassError>,
    /// Whether the configuration file was valid when last read, for the metrics (`run` keeps its configuration in
    /// force when a SIGHUP finds the file broken).
    pub config_file_valid: bool,
}

impl<'a> Pass<'a> {
    /// A pass with `intent` for `command`, asking everything live.
    pub fn new(intent: Intent, command: &'a str) -> Pass<'a> {
        Pass {
            intent,
            command,
            earlier: Vec::new(),
            health: HealthInput::Live,
            reason: None,
            config_errors: 0,
            broken_config: None,
            config_file_valid: true,
        }
    }
}

/// A changing pass that trusts what `memory` remembers of FRR where it can, so that a pass that changes nothing
/// makes no vtysh call, and teaches it what this pass read and verified (and what Cabourotte answered, when asked).
/// What FRR's running configs it may trust is decided once the run lock is held: another process that changed FRR
/// meanwhile says so in the state directory (`state/changes.rs`).
pub fn remembering_pass(config: &Config, context: &Context, pass: &Pass<'_>, memory: &mut Memory) -> Plan {
    let started = Instant::now();
    let mut held = hold(context, pass.intent, pass.command, memory.spare_counts.take());
    held.problems.splice(0..0, pass.broken_config.iter().cloned());
    let changes = held.state_dir.as_ref().and_then(changes::read);
    let frr = FrrInput::Remembered(memory.trusted(config, Instant::now(), changes));
    let bgpd_before = memory.bgpd_identities(config);
    let daemons = Daemons { frr: &frr, bird: &BirdInput::Live };
    let remembered = memory.is_loop().then_some(&memory.exec);
    let state_dir = held.state_dir.as_ref();
    let mut gathered =
        gather::gather_remembering(config, context, pass.intent, &pass.health, daemons, state_dir, remembered);
    if pass.health.asks_cabourotte() && pass.intent == Intent::Reconcile {
        memory.answers = Some(gathered.answers.clone());
    }
    memory.exec.learn(config, &gathered.exec_ran, started);
    memory.learn(config, &gathered.frr, &bgpd_before);
    let recalled = &gathered.recalled;
    let previous_counts = (recalled.streaks.clone(), recalled.warning.is_some() || recalled.forgeable);
    let record = std::mem::replace(&mut gathered.record, Record::Missing);
    let mut deciding = Deciding::new(config, pass.intent, gathered, std::mem::take(&mut held.problems));
    let plan = keep_before_applying(&mut deciding, &mut held, memory, previous_counts, &record);
    let mut learn = |verified: &FrrStates| memory.learn(config, verified, &bgpd_before);
    let mut applied = apply_heeding_the_marker(plan, &mut deciding, &held, context.vtysh_timeout, &mut learn);
    applied.errors.splice(0..0, pass.earlier.iter().cloned());
    applied.reason.clone_from(&pass.reason);
    let daemons = (&deciding.inputs.frr, &deciding.inputs.bird);
    keep_after_applying(&mut applied, config, &held, daemons, &deciding.inputs.added, memory);
    let changed = changed_frr(&applied);
    if changed {
        gather::warn_unrouted_in_vrfs(&mut applied, context.vtysh_timeout);
    }
    let wait = if memory.is_loop() { Duration::ZERO } else { advertised::PENDING_WAIT };
    let mut pending = false;
    let changed_bird = changed_bird(&applied);
    if changed_bird || memory.advertisement_pending {
        pending |= advertised::annotate_bird(&mut applied, context.vtysh_timeout, changed_bird, wait);
    }
    if changed || memory.advertisement_pending {
        let frr = &deciding.inputs.frr;
        pending |= advertised::annotate(&mut applied, frr, context.vtysh_timeout, changed, wait);
    }
    memory.advertisement_pending = pending && memory.is_loop();
    memory.ended(applied.summary().has_errors());
    record::record(config, context, &mut applied, held, pass, started);
    applied
}

/// The plan, once what must be kept before anything is applied is kept: the counts, and the record of what it
/// announces. What cannot be kept makes it withdraw-only; a maintenance marker that appeared since the inputs were
/// gathered (`withdraw-all` during a slow pass) is heeded before anything is announced.
fn keep_before_applying(
    deciding: &mut Deciding<'_>,
    held: &mut Held,
    memory: &mut Memory,
    previous_counts: (Streaks, bool),
    record: &Record,
) -> Plan {
    let mut plan = deciding.plan();
    if let Some(problem) = keep_counts(held, memory, &plan, previous_counts) {
        deciding.refuse_announcements(PassError::withdraw_only(HoldProblem::Counts, problem));
        plan = deciding.plan();
    }
    if let (Some(state_dir), Some(_)) = (&held.state_dir, &held.lock)
        && let Some(problem) = ownership::before_applying(state_dir, deciding.config, &plan, record)
    {
        deciding.refuse_announcements(PassError::withdraw_only(HoldProblem::Record, problem));
        plan = deciding.plan();
    }
    if let Some(problem) = record_added_addresses(held, &plan, &deciding.inputs.added) {
        // Nothing is added that could not be known as anycastd's; the announcements that need it wait.
        deciding.inputs.added = AddedAddresses::Unusable(problem);
        plan = deciding.plan();
    }
    if announces(&plan) && deciding.heed_marker(held.state_dir.as_ref()) {
        plan = deciding.plan();
    }
    plan
}

/// Keeps the addresses `plan` will add in the record of added addresses, before any is added. Returns why it
/// could not: without the state directory or the run lock, nothing may be added.
fn record_added_addresses(held: &Held, plan: &Plan, added: &AddedAddresses) -> Option<String> {
    if !plan.addresses.iter().any(|one| one.action == crate::plan::AddressAction::Add) {
        return None;
    }
    match (&held.state_dir, &held.lock) {
        (Some(state_dir), Some(_)) => host::record_before(state_dir, plan, added),
        _ => Some("the record of added addresses cannot be kept without the state directory and the run lock".into()),
    }
}

/// Applies `plan`; if it announced something and the maintenance marker appeared while its batch was in FRR's
/// hands, computes the plan again from what FRR now has and applies that too, so that nothing stays announced past
/// the marker. `learn` is told every running config read to verify.
fn apply_heeding_the_marker(
    plan: Plan,
    deciding: &mut Deciding<'_>,
    held: &Held,
    vtysh_timeout: std::time::Duration,
    learn: &mut impl FnMut(&FrrStates),
) -> Plan {
    let applied = apply_to_every_daemon(plan, deciding, vtysh_timeout, learn);
    if !announces(&applied) || !deciding.heed_marker(held.state_dir.as_ref()) {
        return applied;
    }
    let mut again = apply_to_every_daemon(deciding.plan(), deciding, vtysh_timeout, learn);
    again.warnings.push(Warning::MarkerAppeared);
    again
}

/// Adds the plan's addresses, applies it to FRR, then to BIRD, then removes the addresses whose prefixes are now
/// withdrawn; what each daemon reads to verify becomes what the pass knows of it.
fn apply_to_every_daemon(
    plan: Plan,
    deciding: &mut Deciding<'_>,
    vtysh_timeout: std::time::Duration,
    learn: &mut impl FnMut(&FrrStates),
) -> Plan {
    let mut plan = plan;
    host::add(&mut plan, &deciding.inputs.host, host::AddPhase::Before);
    let (mut applied, verified) = apply::apply(plan, vtysh_timeout);
    learn(&verified);
    deciding.inputs.frr.extend(verified);
    let verified = bird::apply(&mut applied, &deciding.inputs.bird, vtysh_timeout);
    deciding.inputs.bird.extend(verified);
    host::add(&mut applied, &deciding.inputs.host, host::AddPhase::After);
    host::remove(&mut applied, &deciding.inputs, vtysh_timeout);
    applied
}

/// What a pass keeps after applying: the record of managed prefixes, without the departed ones their daemon no
/// longer has (`daemons`: what each FRR and BIRD has now), and, when it sent anything to FRR, a new token, so that a
/// loop elsewhere reads FRR again.
fn keep_after_applying(
    applied: &mut Plan,
    config: &Config,
    held: &Held,
    daemons: (&FrrStates, &BirdStates),
    added: &AddedAddresses,
    memory: &mut Memory,
) {
    let Some(state_dir) = &held.state_dir else { return };
    if held.lock.is_some() {
        applied.warnings.extend(ownership::after_applying(state_dir, config, applied, daemons));
        if let Some(why) = host::record_after(state_dir, applied, added) {
            applied.warnings.push(Warning::AddressRecordNotUpdated { why });
        }
    }
    // Best effort: without the note, a loop elsewhere sees this change at its resync instead.
    if changed_frr(applied)
        && let Ok(token) = changes::record(state_dir)
    {
        memory.changed(token);
    }
}

/// Whether applying `applied` sent anything to FRR (done or failed).
fn changed_frr(applied: &Plan) -> bool {
    applied.prefixes().any(|prefix| prefix.outcome != Outcome::Pending)
}

/// Whether applying `applied` sent anything to BIRD (done or failed).
fn changed_bird(applied: &Plan) -> bool {
    applied.prefixes().any(|prefix| prefix.managed.bird().is_some() && prefix.outcome != Outcome::Pending)
}

/// Whether `plan` announces something, or puts a prefix's own route-map back: what a pass must not do once the
/// maintenance marker exists.
fn announces(plan: &Plan) -> bool {
    plan.prefixes().any(|prefix| matches!(prefix.action, Action::Announce | Action::Restore))
}

/// Keeps the counts of `plan` before anything is applied, when they changed since `previous` (or the file must be
/// repaired): counts that cannot be kept cannot hold back a withdrawal (`fall`), since every pass would count the
/// same unhealthy pass again. Returns why they could not be kept. An idle loop writes nothing, and keeps the file it
/// prepared for the next pass.
fn keep_counts(held: &mut Held, memory: &mut Memory, plan: &Plan, previous: (Streaks, bool)) -> Option<String> {
    let counts = held.counts.take();
    let (previous_counts, rewrite) = previous;
    if plan.streaks() == previous_counts && !rewrite {
        memory.keep_spare_counts(counts);
        return None;
    }
    let error = streaks::save(counts?, &plan.streaks()).err()?;
    // The old counts are now wrong (this pass counted and could not say so): without them the next pass counts from
    // zero, so `rise` cannot be skipped either.
    if let Some(state_dir) = &held.state_dir {
        streaks::forget(state_dir);
    }
    Some(error.to_string())
}

/// The compute stage of a changing pass, which may have to decide again: when the counts cannot be kept, or when
/// `withdraw-all` wrote the maintenance marker after the inputs were gathered.
struct Deciding<'a> {
    config: &'a Config,
    intent: Intent,
    inputs: Inputs,
    /// What keeps this pass from announcing.
    problems: Vec<PassError>,
    warnings: Vec<Warning>,
}

impl<'a> Deciding<'a> {
    fn new(config: &'a Config, intent: Intent, gathered: Gathered, problems: Vec<PassError>) -> Deciding<'a> {
        let (inputs, problems, warnings) = inputs(gathered, problems);
        Deciding { config, intent, inputs, problems, warnings }
    }

    /// The plan of the inputs as they are now.
    fn plan(&self) -> Plan {
        compute(self.config, &self.inputs, self.intent, &self.problems, self.warnings.clone())
    }

    /// From now on, the pass may withdraw but not announce, because of `problem`.
    fn refuse_announcements(&mut self, problem: PassError) {
        self.problems.push(problem);
        self.inputs.withdraw_only = self.problems.first().map(|problem| problem.detail().to_string());
    }

    /// Reads the maintenance marker again; `true` when it changed into one that keeps prefixes from being announced
    /// (`withdraw-all` ran meanwhile, a slow FRR having held this pass), so that the plan must be computed again. A
    /// pass that decided before the marker existed must not announce once it does. A marker that cannot be read
    /// now refuses every announcement.
    fn heed_marker(&mut self, state_dir: Option<&StateDir>) -> bool {
        match maintenance::read(state_dir) {
            Ok(Some(marker)) if self.inputs.maintenance.as_ref() != Some(&marker) => {
                self.inputs.maintenance = Some(marker);
                true
            }
            Ok(_) => false,
            Err(error) => {
                self.refuse_announcements(PassError::withdraw_only(HoldProblem::Marker, error));
                true
            }
        }
    }
}

/// The inputs of the compute stage, from the gathered ones. `problems` keep this pass from announcing; a maintenance
/// marker that cannot be read is one more (it is unknown whether anything may be announced, but withdrawals go on).
/// A damaged counts file is only a warning, returned beside.
fn inputs(gathered: Gathered, mut problems: Vec<PassError>) -> (Inputs, Vec<PassError>, Vec<Warning>) {
    let maintenance = gathered.maintenance.unwrap_or_else(|error| {
        problems.push(PassError::withdraw_only(HoldProblem::Marker, error));
        None
    });
    let recalled = gathered.recalled;
    let inputs = Inputs {
        answers: gathered.answers,
        exec: gathered.exec,
        frr: gathered.frr,
        bird: gathered.bird,
        maintenance,
        streaks: recalled.streaks,
        now: gathered.now,
        // Every problem is reported; the first one is the reason given for each announcement refused.
        withdraw_only: problems.first().map(|problem| problem.detail().to_string()),
        counts_forgeable: recalled.forgeable,
        departed: gathered.departed,
        pushed_services: gathered.pushed_services,
        host: gathered.host,
        added: gathered.added,
    };
    let warnings = recalled.warning.map(Warning::CountsReset).into_iter().chain(gathered.warnings).collect();
    (inputs, problems, warnings)
}

/// The compute stage: the plan of `inputs`, with the pass's `problems` as its errors and its `warnings` (the counts, the
/// files the configuration names).
fn compute(config: &Config, inputs: &Inputs, intent: Intent, problems: &[PassError], warnings: Vec<Warning>) -> Plan {
    let mut plan = Plan::compute(config, inputs, intent);
    plan.errors = problems.to_vec();
    plan.warnings.extend(warnings);
    plan
}
