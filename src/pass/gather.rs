//! The gather stage: every input of a plan, from the outside world. Cabourotte's results and FRR's running configs
//! are asked at the same time, so a pass waits for the slower of the two, not for both; the maintenance marker and
//! the rise/fall counts come from the state directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Sources;
use crate::clock;
use crate::config::{Config, Prefix, Vrf};
use crate::context::Context;
use crate::frr::{RouteLookup, RunningConfig, Vtysh, routes_present};
use crate::health::cabourotte::{self, Answers, CheckResult};
use crate::plan::{FrrStates, Intent, Plan};
use crate::state::StateDir;
use crate::state::maintenance::{self, Maintenance};
use crate::state::streaks::{self, Recalled};

/// What the outside world said, before anything is decided.
pub struct Gathered {
    /// Cabourotte's answer for every check (none for `withdraw-all`, which does not ask).
    pub answers: Answers,
    /// When Cabourotte was asked, to judge the age of its results; `None` for answers from a file.
    pub now: Option<i64>,
    /// FRR's running config, or why it could not be read, per vtysh path.
    pub frr: FrrStates,
    /// The maintenance marker, or why it could not be read.
    pub maintenance: std::io::Result<Option<Maintenance>>,
    /// The rise/fall counts of earlier passes.
    pub recalled: Recalled,
    /// The services a pass made by a push concerns (see [`Sources::pushed_services`]).
    pub pushed_services: Option<BTreeSet<String>>,
}

/// Gathers every input of a pass with `intent`, from `sources` or live. `state_dir` is `None` when it does not exist
/// or cannot be used: then there is no marker and no count.
pub fn gather(
    config: &Config,
    context: &Context,
    intent: Intent,
    sources: &Sources,
    state_dir: Option<&StateDir>,
) -> Gathered {
    let maintenance = maintenance::read(state_dir);
    let recalled = streaks::load(state_dir);
    let health = || match (intent, &sources.health, &sources.remembered_answers) {
        (Intent::WithdrawAll | Intent::Drain { .. }, _, _) => (Answers::new(), None),
        (Intent::Reconcile, Some(results), _) => (cabourotte::answer_everywhere(config, results), None),
        (Intent::Reconcile, None, Some(answers)) => (answers.clone(), Some(clock::unix_now())),
        (Intent::Reconcile, None, None) => {
            (cabourotte::fetch_all(config, context.http_timeout), Some(clock::unix_now()))
        }
    };
    let frr = || match &sources.running_config {
        Some(running) => {
            vtysh_paths(config).into_iter().map(|path| (path.to_path_buf(), Ok(running.clone()))).collect()
        }
        None => read_all(config, context.vtysh_timeout, &sources.remembered_frr),
    };
    let must_read = sources.running_config.is_none()
        && vtysh_paths(config).iter().any(|path| !sources.remembered_frr.contains_key(*path));
    let ((answers, now), frr): ((Answers, Option<i64>), FrrStates) = if must_read {
        // Cabourotte and FRR are asked at the same time: a pass waits for the slower of the two, not for both.
        std::thread::scope(|scope| {
            let asked = scope.spawn(health);
            let frr = frr();
            (asked.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), frr)
        })
    } else {
        // Nothing to read from FRR (loop mode remembers it): no thread to start for an idle pass.
        (health(), frr())
    };
    let answers = with_pushed(answers, &sources.pushed);
    Gathered { answers, now, frr, maintenance, recalled, pushed_services: sources.pushed_services.clone() }
}

/// The distinct vtysh paths of the config.
fn vtysh_paths(config: &Config) -> BTreeSet<&Path> {
    config.prefixes().map(|(_, prefix)| prefix.vtysh.as_path()).collect()
}

/// The running config of every distinct vtysh path of the config: `remembered` where it is, else read, in parallel.
fn read_all(config: &Config, timeout: Duration, remembered: &BTreeMap<PathBuf, RunningConfig>) -> FrrStates {
    let (known, unknown): (BTreeSet<&Path>, BTreeSet<&Path>) =
        vtysh_paths(config).into_iter().partition(|path| remembered.contains_key(*path));
    let mut states: FrrStates =
        known.into_iter().map(|path| (path.to_path_buf(), Ok(remembered[path].clone()))).collect();
    std::thread::scope(|scope| {
        let reads: Vec<_> = unknown
            .into_iter()
            .map(|path| (path, scope.spawn(move || Vtysh::new(path, timeout).read_running_config())))
            .collect();
        states.extend(reads.into_iter().map(|(path, read)| {
            (path.to_path_buf(), read.join().unwrap_or_else(|_| Err("reading FRR failed unexpectedly".into())))
        }));
    });
    states
}

/// The answers with every pushed result swapped in where it is newer than the polled one (see
/// [`crate::health::cabourotte::ResultList::with_newer`]).
fn with_pushed(mut answers: Answers, pushed: &BTreeMap<String, CheckResult>) -> Answers {
    if pushed.is_empty() {
        return answers;
    }
    for list in answers.values_mut().flatten() {
        let mut updated = std::mem::take(list);
        for (name, result) in pushed {
            updated = updated.with_newer(name, result);
        }
        *list = updated;
    }
    answers
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
        let warning = match lookup {
            Ok(routed) if routed.contains(&managed.prefix) => None,
            Ok(_) => Some(format!(
                "FRR has no route for {} in the RIB of {} and `bgp network import-check` is on: it keeps the network \
                 but does not advertise it; put the address on an interface (e.g. lo)",
                managed.prefix,
                managed.vrf.described()
            )),
            Err(reason) => Some(format!("cannot check FRR's RIB of {}: {reason}", managed.vrf.described())),
        };
        prefix.warnings.extend(warning);
    }
}
