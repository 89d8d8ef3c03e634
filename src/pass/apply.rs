//! The apply stage: one vtysh batch per FRR, then a fresh read of its running config to learn what was applied.
//!
//! FRR may reject some lines of a batch and take the others, so only FRR itself can say what happened. Every planned
//! change is checked against what FRR has afterwards, and any difference is a failure of that prefix. A vtysh error
//! whose changes are all in place anyway (say, someone removed a network by hand a moment before) is only a warning.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::RouteMap;
use crate::frr::{RunningConfig, Vtysh, render_batch};
use crate::plan::{Action, Failure, FrrStates, Outcome, Plan, Warning};

/// Applies `plan` and returns it with the outcome of every change filled in, and the running configs read to verify
/// it (of the FRRs that had changes).
pub fn apply(mut plan: Plan, vtysh_timeout: Duration) -> (Plan, FrrStates) {
    let mut batches: BTreeMap<PathBuf, Vec<_>> = BTreeMap::new();
    for prefix in plan.prefixes() {
        if let (Some(change), Some(vtysh)) = (prefix.change(), prefix.managed.vtysh()) {
            batches.entry(vtysh.to_path_buf()).or_default().push(change);
        }
    }
    let results: BTreeMap<PathBuf, (Option<String>, Result<RunningConfig, String>)> = batches
        .into_iter()
        .map(|(path, changes)| {
            let vtysh = Vtysh::new(&path, vtysh_timeout);
            let batch_error = vtysh.configure(&render_batch(&changes)).err().map(|error| error.to_string());
            (path, (batch_error, vtysh.read_running_config()))
        })
        .collect();
    for prefix in plan.prefixes_mut() {
        // What FRR must have after the change: `Some(route-map)` for a `network` line, `None` for no line.
        let wanted: Option<Option<&str>> = match prefix.action {
            Action::Withdraw => None,
            Action::Announce | Action::Drain | Action::Restore => {
                prefix.wanted_route_map().map(|route_map| route_map.map(RouteMap::name))
            }
            Action::Keep | Action::Error(_) => continue,
        };
        let Some((batch_error, after)) = prefix.managed.vtysh().and_then(|vtysh| results.get(vtysh)) else { continue };
        let outcome = match after {
            Ok(running) => match running.network(&prefix.managed.vrf, &prefix.managed.prefix) {
                found if found == wanted => Outcome::Done,
                found => Outcome::Failed(mismatch(wanted, found, batch_error.clone())),
            },
            Err(reason) => Outcome::Failed(Failure::Unverified { reason: reason.clone() }),
        };
        prefix.outcome = outcome;
    }
    for (path, (batch_error, _)) in &results {
        let failed_here =
            plan.prefixes().any(|p| p.managed.vtysh() == Some(path) && matches!(p.outcome, Outcome::Failed(_)));
        if let (Some(error), false) = (batch_error, failed_here) {
            plan.warnings.push(Warning::VtyshErrorButApplied { error: error.clone() });
        }
    }
    let verified = results.into_iter().map(|(path, (_, after))| (path, after)).collect();
    (plan, verified)
}

/// What differs between the `network` line wanted and the one found (`None`: no line; `Some(None)`: a line without
/// a route-map).
fn mismatch(wanted: Option<Option<&str>>, found: Option<Option<&str>>, vtysh_error: Option<String>) -> Failure {
    match (wanted, found) {
        (Some(_), None) => Failure::Absent { vtysh_error },
        (None, _) => Failure::StillPresent { vtysh_error },
        (Some(wanted), Some(found)) => {
            Failure::WrongRouteMap { found: found.map(str::to_string), wanted: wanted.map(str::to_string), vtysh_error }
        }
    }
}
