//! One pass at the edges: gather the inputs of a plan (Cabourotte, FRR, the marker), and apply a plan to FRR.
//!
//! Applying is one vtysh call per FRR, followed by a fresh read of its running config: FRR may reject some lines of
//! a batch and take the others, so only FRR itself can say what was applied. Every planned change is then checked
//! against what FRR has, and any difference is reported as a failure of that prefix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cabourotte::{self, Answers, ResultList};
use crate::config::{Config, Prefix, Vrf};
use crate::frr::{RouteLookup, RunningConfig, Vtysh, render_batch, routes_present};
use crate::log::LogFormat;
use crate::maintenance;
use crate::plan::{Action, FrrStates, Inputs, Intent, Outcome, Plan};
use crate::state;
use crate::state_dir::StateDir;

/// The knobs of a pass that come from the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where the maintenance marker, the run lock, the rise/fall counts and the config cache live.
    pub state_dir: PathBuf,
    /// The deadline of every vtysh call.
    pub vtysh_timeout: Duration,
    /// The deadline of every HTTP request.
    pub http_timeout: Duration,
    /// How long a changing pass waits for another anycastd's run lock.
    pub lock_timeout: Duration,
    /// Where to write metrics after each changing pass, if anywhere.
    pub metrics_file: Option<PathBuf>,
    /// How log lines are written.
    pub log_format: LogFormat,
}

/// Inputs given as files instead of asked live, for plans in a user's CI (`plan --running-config/--health/--assume`).
#[derive(Clone, Debug, Default)]
pub struct Offline {
    /// FRR's running config, used for every vtysh path.
    pub running_config: Option<RunningConfig>,
    /// Cabourotte's results, used for every URL.
    pub health: Option<ResultList>,
}

/// Gathers every input and computes the plan. `state_dir` is `None` when it does not exist or cannot be used;
/// `problems` are what already keeps this pass from announcing (the state directory, the lock, the counts). A
/// maintenance marker that cannot be read is one more: it is unknown whether anything may be announced, but
/// withdrawals go on. A damaged state file is only a warning.
pub fn gather(
    config: &Config,
    settings: &Settings,
    intent: Intent,
    offline: &Offline,
    state_dir: Option<&StateDir>,
    mut problems: Vec<String>,
) -> Plan {
    let maintenance = maintenance::read(state_dir).unwrap_or_else(|error| {
        problems.push(error);
        None
    });
    let recalled = state::load(state_dir);
    // Cabourotte and FRR are asked at the same time: a pass waits for the slower of the two, not for both.
    let (answers, now, frr) = std::thread::scope(|scope| {
        let health = scope.spawn(|| match (intent, &offline.health) {
            (Intent::WithdrawAll, _) => (Answers::new(), None),
            (Intent::Reconcile, Some(results)) => (cabourotte::answer_everywhere(config, results), None),
            (Intent::Reconcile, None) => (cabourotte::fetch_all(config, settings.http_timeout), Some(unix_now())),
        });
        let frr: FrrStates = match &offline.running_config {
            Some(running) => {
                vtysh_paths(config).into_iter().map(|path| (path.to_path_buf(), Ok(running.clone()))).collect()
            }
            None => read_all(config, settings.vtysh_timeout),
        };
        let (answers, now) = health.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (answers, now, frr)
    });
    // Every problem is reported; the first one is the reason given for each announcement refused.
    let withdraw_only = problems.first().cloned();
    let counts_forgeable = recalled.forgeable;
    let inputs = Inputs { answers, frr, maintenance, streaks: recalled.streaks, now, withdraw_only, counts_forgeable };
    let mut plan = Plan::compute(config, &inputs, intent);
    plan.errors =
        problems.iter().map(|problem| format!("{problem}; this pass withdraws but announces nothing")).collect();
    plan.warnings.extend(recalled.warning);
    plan
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// The distinct vtysh paths of the config.
fn vtysh_paths(config: &Config) -> BTreeSet<&Path> {
    config.prefixes().map(|(_, prefix)| prefix.vtysh.as_path()).collect()
}

/// Reads the running config of every distinct vtysh path of the config, in parallel.
fn read_all(config: &Config, timeout: Duration) -> FrrStates {
    let paths = vtysh_paths(config);
    std::thread::scope(|scope| {
        let reads: Vec<_> =
            paths.into_iter().map(|path| (path, scope.spawn(move || read_one(path, timeout)))).collect();
        reads
            .into_iter()
            .map(|(path, read)| {
                (path.to_path_buf(), read.join().unwrap_or_else(|_| Err("reading FRR failed unexpectedly".into())))
            })
            .collect()
    })
}

fn read_one(path: &Path, timeout: Duration) -> Result<RunningConfig, String> {
    let text = Vtysh::new(path, timeout).running_config().map_err(|error| error.to_string())?;
    RunningConfig::parse(&text).map_err(|error| error.to_string())
}

/// Warns about every prefix that FRR will have but not advertise: `bgp network import-check` is on and its RIB has
/// no route for the prefix. Costs one vtysh call per FRR and VRF, so only `plan` asks (not every pass of `apply`).
pub fn warn_unrouted(plan: &mut Plan, vtysh_timeout: Duration) {
    let mut wanted: BTreeMap<PathBuf, BTreeSet<(Vrf, Prefix)>> = BTreeMap::new();
    for prefix in plan.prefixes().filter(|prefix| prefix.will_be_announced() && prefix.import_check) {
        wanted
            .entry(prefix.managed.vtysh.clone())
            .or_default()
            .insert((prefix.managed.vrf.clone(), prefix.managed.prefix));
    }
    let lookups: BTreeMap<PathBuf, RouteLookup> = wanted
        .into_iter()
        .map(|(path, prefixes)| {
            let lookup = routes_present(&Vtysh::new(&path, vtysh_timeout), &prefixes);
            (path, lookup)
        })
        .collect();
    let checked = plan.services.iter_mut().flat_map(|service| service.prefixes.iter_mut());
    for prefix in checked.filter(|prefix| prefix.will_be_announced() && prefix.import_check) {
        let managed = &prefix.managed;
        let Some(lookup) = lookups.get(&managed.vtysh).and_then(|lookup| lookup.get(&managed.vrf)) else { continue };
        prefix.warning = match lookup {
            Ok(routed) if routed.contains(&managed.prefix) => None,
            Ok(_) => Some(format!(
                "FRR has no route for {} in the RIB of {} and `bgp network import-check` is on: it keeps the network \
                 but does not advertise it; put the address on an interface (e.g. lo)",
                managed.prefix,
                managed.vrf.described()
            )),
            Err(reason) => Some(format!("cannot check FRR's RIB of {}: {reason}", managed.vrf.described())),
        };
    }
}

/// Applies `plan` and returns it with the outcome of every change filled in. What counts is what FRR has afterwards:
/// a vtysh error whose changes are all in place anyway (say, someone removed a network by hand a moment before) is
/// only a warning.
pub fn apply(mut plan: Plan, vtysh_timeout: Duration) -> Plan {
    let mut batches: BTreeMap<PathBuf, Vec<_>> = BTreeMap::new();
    for prefix in plan.prefixes() {
        if let Some(change) = prefix.change() {
            batches.entry(prefix.managed.vtysh.clone()).or_default().push(change);
        }
    }
    let results: BTreeMap<PathBuf, (Option<String>, Result<RunningConfig, String>)> = batches
        .into_iter()
        .map(|(path, changes)| {
            let vtysh = Vtysh::new(&path, vtysh_timeout);
            let batch_error = vtysh.configure(&render_batch(&changes)).err().map(|error| error.to_string());
            let after = read_one(&path, vtysh_timeout);
            (path, (batch_error, after))
        })
        .collect();
    for prefix in plan.services.iter_mut().flat_map(|service| service.prefixes.iter_mut()) {
        let wanted = match prefix.action {
            Action::Announce => true,
            Action::Withdraw => false,
            Action::Keep | Action::Error(_) => continue,
        };
        let Some((batch_error, after)) = results.get(&prefix.managed.vtysh) else { continue };
        prefix.outcome = match after {
            Ok(running) if running.has_network(&prefix.managed.vrf, &prefix.managed.prefix) == wanted => Outcome::Done,
            Ok(_) => Outcome::Failed(mismatch(wanted, batch_error.as_deref())),
            Err(reason) => Outcome::Failed(format!("cannot read FRR's running config after applying: {reason}")),
        };
    }
    for (path, (batch_error, _)) in &results {
        let failed_here = plan.prefixes().any(|p| &p.managed.vtysh == path && matches!(p.outcome, Outcome::Failed(_)));
        if let (Some(error), false) = (batch_error, failed_here) {
            plan.warnings.push(format!("vtysh reported an error, yet FRR now has every planned change: {error}"));
        }
    }
    plan
}

fn mismatch(wanted: bool, batch_error: Option<&str>) -> String {
    let what = if wanted {
        "FRR does not have the network after applying"
    } else {
        "FRR still has the network after applying"
    };
    match batch_error {
        Some(error) => format!("{what}: {error}"),
        None => what.to_string(),
    }
}
