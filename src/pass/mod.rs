//! One pass, in named stages: **hold → gather → compute → apply → record**.
//!
//! - *hold*: the state directory, the run lock and the file for the rise/fall counts (changing passes only);
//! - *gather*: Cabourotte's results, FRR's running configs, the maintenance marker, the counts (I/O);
//! - *compute*: the [`Plan`], a pure function of the gathered inputs;
//! - *apply*: one vtysh batch per FRR, verified by reading FRR again;
//! - *record*: the counts and the metrics file (under the lock), then the log lines and the hooks.
//!
//! `plan` stops after *compute*; `apply`, `withdraw-all` and every pass of `run` go through all of them. Without
//! the lock or the state file a pass still withdraws, but announces nothing: a local problem never stops a
//! withdrawal.

pub mod apply;
pub mod gather;
pub mod memory;
pub mod record;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use crate::config::Config;
use crate::context::Context;
use crate::frr::RunningConfig;
use crate::health::cabourotte::{Answers, CheckResult, ResultList};
use crate::plan::{Inputs, Intent, Plan};
use crate::state::lock::RunLock;
use crate::state::streaks;
use crate::state::{Replacement, StateDir};
use gather::Gathered;
use memory::Memory;

/// Where a pass takes its inputs from: each one asked live, unless given (for `plan --running-config/--health/
/// --assume` in a user's CI) or remembered (loop mode).
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// FRR's running config, used for every vtysh path instead of asking vtysh.
    pub running_config: Option<RunningConfig>,
    /// Cabourotte's results, used for every URL instead of asking Cabourotte.
    pub health: Option<ResultList>,
    /// Running configs trusted as FRR's state now, per vtysh path (see [`memory::Memory::trusted`]).
    pub remembered_frr: BTreeMap<PathBuf, RunningConfig>,
    /// Cabourotte's answers of the last poll, used instead of asking again (a pass made by a push).
    pub remembered_answers: Option<Answers>,
    /// Results pushed by Cabourotte's exporter, each swapped in where it is newer than the polled one.
    pub pushed: BTreeMap<String, CheckResult>,
    /// The services a pass made by a push concerns: only they may change, and only toward withdrawn (see
    /// [`crate::plan::Inputs::pushed_services`]). `None` for every other pass.
    pub pushed_services: Option<BTreeSet<String>>,
}

impl Sources {
    /// Every input asked live.
    pub fn live() -> Sources {
        Sources::default()
    }
}

/// What a changing pass holds while it changes FRR, and what it could not get.
struct Held {
    state_dir: Option<StateDir>,
    lock: Option<RunLock>,
    /// The file the counts will be saved to, prepared before anything is decided, so that a directory that cannot be
    /// written is known in time.
    counts: Option<Replacement>,
    /// What keeps this pass from announcing (the state directory, the lock, the counts' file).
    problems: Vec<String>,
}

/// The hold stage of a changing pass for `command`. `spare` is a counts file prepared by an earlier pass of the loop
/// and not needed then: taken instead of creating (and, most often, removing unused) another one every pass.
fn hold(context: &Context, intent: Intent, command: &str, spare: Option<Replacement>) -> Held {
    let mut problems = Vec::new();
    let state_dir = StateDir::create(&context.state_dir).map_err(|error| problems.push(error.to_string())).ok();
    let lock = state_dir.as_ref().and_then(|state_dir| {
        RunLock::acquire(state_dir, command, context.lock_timeout)
            .map_err(|error| problems.push(error.to_string()))
            .ok()
    });
    let counts = match (intent, &state_dir, &lock, spare) {
        (Intent::Reconcile, Some(_), Some(_), Some(spare)) => Some(spare),
        (Intent::Reconcile, Some(state_dir), Some(_), None) => {
            streaks::prepare_save(state_dir).map_err(|error| problems.push(error.to_string())).ok()
        }
        _ => None,
    };
    Held { state_dir, lock, counts, problems }
}

/// The plan of `plan`: gather and compute, changing nothing and writing nothing. It cannot know whether the counts
/// could be saved, so a state directory that would refuse announcements only when written is not seen here.
pub fn plan_only(config: &Config, context: &Context, sources: &Sources) -> Plan {
    let (state_dir, problems) = match StateDir::open(&context.state_dir) {
        Ok(state_dir) => (state_dir, Vec::new()),
        Err(problem) => (None, vec![problem.to_string()]),
    };
    let gathered = gather::gather(config, context, Intent::Reconcile, sources, state_dir.as_ref());
    let mut plan = compute(config, gathered, Intent::Reconcile, problems);
    if sources.running_config.is_none() {
        gather::warn_unrouted(&mut plan, context.vtysh_timeout);
    }
    plan
}

/// A changing pass (`apply`, `withdraw-all`, each pass of `run`) for `command`: every stage, live. `earlier` are
/// errors the caller met before it (withdraw-all's marker), reported with the pass's own. Returns the applied plan.
pub fn changing_pass(config: &Config, context: &Context, intent: Intent, command: &str, earlier: Vec<String>) -> Plan {
    let pass = Pass { intent, command, earlier, ..Pass::new(intent, command) };
    remembering_pass(config, context, &pass, &mut Memory::none())
}

/// What a pass is for: its intent, the command it logs as, the errors met before it, and what it takes from outside
/// the memory (pushed results, the last poll's answers for a pass made by a push).
#[derive(Clone, Debug)]
pub struct Pass<'a> {
    /// Reconcile, or withdraw every managed prefix.
    pub intent: Intent,
    /// The command the pass logs as.
    pub command: &'a str,
    /// Errors the caller met before the pass, reported with its own.
    pub earlier: Vec<String>,
    /// Inputs given instead of asked (pushes).
    pub sources: Sources,
    /// Why it withdraws every managed prefix, when not withdraw-all's own reason (see [`Plan::reason`]).
    pub reason: Option<String>,
    /// Configurations refused since the last pass, for the metrics.
    pub config_errors: u64,
}

impl<'a> Pass<'a> {
    /// A pass with `intent` for `command`, asking everything live.
    pub fn new(intent: Intent, command: &'a str) -> Pass<'a> {
        Pass { intent, command, earlier: Vec::new(), sources: Sources::live(), reason: None, config_errors: 0 }
    }
}

/// A changing pass that trusts what `memory` remembers of FRR where it can, so that a pass that changes nothing
/// makes no vtysh call, and teaches it what this pass read and verified.
pub fn remembering_pass(config: &Config, context: &Context, pass: &Pass<'_>, memory: &mut Memory) -> Plan {
    let started = Instant::now();
    let mut held = hold(context, pass.intent, pass.command, memory.spare_counts.take());
    let mut sources = pass.sources.clone();
    sources.remembered_frr = memory.trusted(config, Instant::now());
    let bgpd_before = memory.bgpd_identities(config);
    let gathered = gather::gather(config, context, pass.intent, &sources, held.state_dir.as_ref());
    if sources.remembered_answers.is_none() && pass.intent == Intent::Reconcile {
        memory.answers = Some(gathered.answers.clone());
    }
    memory.learn(config, &gathered.frr, &bgpd_before);
    let recalled = &gathered.recalled;
    let (previous_counts, rewrite_counts) =
        (recalled.streaks.clone(), recalled.warning.is_some() || recalled.forgeable);
    let plan = compute(config, gathered, pass.intent, std::mem::take(&mut held.problems));
    let (mut applied, verified) = apply::apply(plan, context.vtysh_timeout);
    memory.learn(config, &verified, &bgpd_before);
    applied.errors.splice(0..0, pass.earlier.iter().cloned());
    applied.reason.clone_from(&pass.reason);
    // The counts are written only when they change (or the file must be rewritten): an idle loop writes nothing.
    if applied.streaks() == previous_counts && !rewrite_counts {
        memory.keep_spare_counts(held.counts.take());
    }
    memory.ended(applied.summary().has_errors());
    record::record(config, context, &applied, held, pass, started);
    applied
}

/// The compute stage: the plan of the gathered inputs. `problems` keep this pass from announcing; a maintenance
/// marker that cannot be read is one more (it is unknown whether anything may be announced, but withdrawals go on).
/// A damaged counts file is only a warning.
fn compute(config: &Config, gathered: Gathered, intent: Intent, mut problems: Vec<String>) -> Plan {
    let maintenance = gathered.maintenance.unwrap_or_else(|error| {
        problems.push(error.to_string());
        None
    });
    let recalled = gathered.recalled;
    let inputs = Inputs {
        answers: gathered.answers,
        frr: gathered.frr,
        maintenance,
        streaks: recalled.streaks,
        now: gathered.now,
        // Every problem is reported; the first one is the reason given for each announcement refused.
        withdraw_only: problems.first().cloned(),
        counts_forgeable: recalled.forgeable,
        pushed_services: gathered.pushed_services,
    };
    let mut plan = Plan::compute(config, &inputs, intent);
    plan.errors =
        problems.iter().map(|problem| format!("{problem}; this pass withdraws but announces nothing")).collect();
    plan.warnings.extend(recalled.warning);
    plan
}
