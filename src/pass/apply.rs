//! The apply stage: one vtysh batch per FRR, then a fresh read of its running config to learn what was applied.
//!
//! FRR may reject some lines of a batch and take the others, so only FRR itself can say what happened. Every planned
//! change is checked against what FRR has afterwards, and any difference is a failure of that prefix. A vtysh error
//! whose changes are all in place anyway (say, someone removed a network by hand a moment before) is only a warning.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::frr::{RunningConfig, Vtysh, render_batch};
use crate::plan::{Action, FrrStates, Outcome, Plan};

/// Applies `plan` and returns it with the outcome of every change filled in, and the running configs read to verify
/// it (of the FRRs that had changes).
pub fn apply(mut plan: Plan, vtysh_timeout: Duration) -> (Plan, FrrStates) {
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
            (path, (batch_error, vtysh.read_running_config()))
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
    let verified = results.into_iter().map(|(path, (_, after))| (path, after)).collect();
    (plan, verified)
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
