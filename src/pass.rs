//! A changing pass (`apply`, `withdraw-all`, each pass of `run`): under the run lock, gather the inputs, apply the
//! plan, log every change, and write the metrics file.

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

/// Runs one changing pass for `command` and returns the applied plan. On failure (the lock, the maintenance marker)
/// nothing was changed and the reason is returned for the caller to report.
pub fn run(config: &Config, settings: &Settings, intent: Intent, command: &str) -> Result<Plan, String> {
    let started = Instant::now();
    let state_dir = StateDir::create(&settings.state_dir)?;
    let applied = RunLock::acquire(&state_dir, command, settings.lock_timeout).and_then(|_lock| {
        let plan = reconcile::gather(config, settings, intent, &Offline::default(), Some(&state_dir))?;
        let applied = reconcile::apply(plan, settings.vtysh_timeout);
        let saved = match intent {
            Intent::Reconcile => state::save(&state_dir, &applied.streaks()).err(),
            Intent::WithdrawAll => None,
        };
        Ok((applied, saved))
    })?;
    let (applied, state_error) = applied;
    let mut events = log::events(&applied, command);
    events
        .extend(state_error.map(|error| Event::warning(command, format!("cannot save the rise/fall counts: {error}"))));
    events.extend(hooks::run(config, &applied, command));
    log::write(&events, settings.log_format);
    if let Some(path) = &settings.metrics_file {
        let finished_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |elapsed| elapsed.as_secs_f64());
        let timing = PassTiming { finished_at, duration: started.elapsed() };
        if let Err(error) = metrics::write(path, &applied, timing) {
            log::write(&[Event::pass_failed(command, error.to_string())], settings.log_format);
        }
    }
    Ok(applied)
}
