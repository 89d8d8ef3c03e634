//! A changing pass (`apply`, `withdraw-all`, each pass of `run`): under the run lock, gather the inputs, apply the
//! plan, save the counts and write the metrics file; then log every change and run the hooks. Without the lock or
//! the state file it still withdraws.

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::hooks;
use crate::lock::RunLock;
use crate::log::{self, Event};
use crate::metrics::{self, PassTiming};
use crate::plan::{Intent, Plan};
use crate::reconcile::{self, Offline, Settings};
use crate::state;
use crate::state_dir::StateDir;

/// Runs one changing pass for `command` and returns the applied plan; `earlier` are errors the caller met before
/// it (withdraw-all's marker), reported with the pass's own.
///
/// A state directory that cannot be used never stops a withdrawal. Without the lock (it cannot be opened, or
/// another anycastd holds it past the timeout), or without a way to save the rise/fall counts, the pass still
/// plans as usual and withdraws what must be withdrawn, but announces nothing: each announcement becomes an error
/// naming the reason, and the exit code is 1.
pub fn run(config: &Config, settings: &Settings, intent: Intent, command: &str, earlier: Vec<String>) -> Plan {
    let started = Instant::now();
    let mut problems = Vec::new();
    let state_dir = StateDir::create(&settings.state_dir).map_err(|error| problems.push(error)).ok();
    let lock = state_dir.as_ref().and_then(|state_dir| {
        RunLock::acquire(state_dir, command, settings.lock_timeout).map_err(|error| problems.push(error)).ok()
    });
    // The counts' file is created before anything is decided, so that a directory that cannot be written is known
    // in time; they are saved only under the lock.
    let counts = match (intent, &state_dir, &lock) {
        (Intent::Reconcile, Some(state_dir), Some(_)) => {
            state::prepare_save(state_dir).map_err(|error| problems.push(error.to_string())).ok()
        }
        _ => None,
    };
    let plan = reconcile::gather(config, settings, intent, &Offline::default(), state_dir.as_ref(), problems);
    let mut applied = reconcile::apply(plan, settings.vtysh_timeout);
    applied.errors.splice(0..0, earlier);
    let state_error = counts.and_then(|counts| state::save(counts, &applied.streaks()).err());
    // The metrics file is read, updated and rewritten under the lock too: two passes doing it at once would lose
    // increments of the error counters.
    let metrics_error = settings.metrics_file.as_deref().and_then(|path| write_metrics(path, &applied, started).err());
    drop(lock);
    let mut events = log::events(&applied, command);
    events
        .extend(state_error.map(|error| Event::warning(command, format!("cannot save the rise/fall counts: {error}"))));
    events.extend(metrics_error.map(|error| Event::pass_failed(command, error.to_string())));
    events.extend(hooks::run(config, &applied, command));
    log::write(&events, settings.log_format);
    applied
}

/// Writes the metrics of the pass that started at `started`.
fn write_metrics(path: &Path, applied: &Plan, started: Instant) -> std::io::Result<()> {
    let finished_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |elapsed| elapsed.as_secs_f64());
    metrics::write(path, applied, PassTiming { finished_at, duration: started.elapsed() })
}
