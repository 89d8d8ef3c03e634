//! The record stage of a changing pass: what it leaves behind besides FRR's new state (the counts were kept before
//! applying). The metrics file is written under the run lock (two passes updating the metrics at once would lose
//! counter increments); the log lines and the hooks come after the lock is released, so a slow hook never holds up
//! another pass.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::{Held, Pass};
use crate::config::Config;
use crate::context::Context;
use crate::observe::hooks;
use crate::observe::log;
use crate::observe::metrics::{self, PassTiming};
use crate::plan::{PassError, Plan};

/// Records the `applied` plan of `pass`, which started at `started`, then lets go of what it held. A metrics file
/// that cannot be written is an error of the pass: whoever reads it would see a pass that did not happen.
pub(super) fn record(
    config: &Config,
    context: &Context,
    applied: &mut Plan,
    held: Held,
    pass: &Pass<'_>,
    started: Instant,
) {
    let command = pass.command;
    let timing = PassTiming {
        config_valid: pass.config_file_valid && pass.broken_config.is_none(),
        ..timing(started, pass.config_errors)
    };
    let metrics_error = context.metrics_file.as_deref().and_then(|path| metrics::write(path, applied, timing).err());
    drop(held.lock);
    applied.errors.extend(metrics_error.map(|error| PassError::MetricsNotWritten { detail: error.to_string() }));
    let mut events = log::events(applied, command);
    events.extend(hooks::run_changed(config, applied, command));
    context.logging.write(&events);
}

/// The timing of the pass that started at `started`, ending now.
pub fn timing(started: Instant, config_errors: u64) -> PassTiming {
    let finished_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |elapsed| elapsed.as_secs_f64());
    PassTiming { finished_at, duration: started.elapsed(), config_errors, config_valid: true }
}
