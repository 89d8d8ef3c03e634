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
mod record;

use std::time::Instant;

use crate::config::Config;
use crate::context::Context;
use crate::frr::RunningConfig;
use crate::health::cabourotte::ResultList;
use crate::plan::{Inputs, Intent, Plan};
use crate::state::lock::RunLock;
use crate::state::streaks;
use crate::state::{Replacement, StateDir};
use gather::Gathered;

/// Where a pass takes its inputs from: each one asked live, unless given (for `plan --running-config/--health/
/// --assume` in a user's CI).
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// FRR's running config, used for every vtysh path instead of asking vtysh.
    pub running_config: Option<RunningConfig>,
    /// Cabourotte's results, used for every URL instead of asking Cabourotte.
    pub health: Option<ResultList>,
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

/// The hold stage of a changing pass for `command`.
fn hold(context: &Context, intent: Intent, command: &str) -> Held {
    let mut problems = Vec::new();
    let state_dir = StateDir::create(&context.state_dir).map_err(|error| problems.push(error.to_string())).ok();
    let lock = state_dir.as_ref().and_then(|state_dir| {
        RunLock::acquire(state_dir, command, context.lock_timeout)
            .map_err(|error| problems.push(error.to_string()))
            .ok()
    });
    let counts = match (intent, &state_dir, &lock) {
        (Intent::Reconcile, Some(state_dir), Some(_)) => {
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
    let started = Instant::now();
    let mut held = hold(context, intent, command);
    let gathered = gather::gather(config, context, intent, &Sources::live(), held.state_dir.as_ref());
    let plan = compute(config, gathered, intent, std::mem::take(&mut held.problems));
    let mut applied = apply::apply(plan, context.vtysh_timeout);
    applied.errors.splice(0..0, earlier);
    record::record(config, context, &applied, held, command, started);
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
    };
    let mut plan = Plan::compute(config, &inputs, intent);
    plan.errors =
        problems.iter().map(|problem| format!("{problem}; this pass withdraws but announces nothing")).collect();
    plan.warnings.extend(recalled.warning);
    plan
}
