//! Loop mode (`anycastd run`): the same changing pass as `apply`, every interval, until SIGINT or SIGTERM; then one
//! more pass that withdraws everything (unless `--keep-on-exit`).
//!
//! Between passes the loop blocks on a channel fed by a signal thread, so it sleeps without spinning and still
//! wakes at once when asked to stop.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{CacheUse, Exit, load_config};
use crate::config::{Config, describe};
use crate::context::Context;
use crate::error::Error;
use crate::pass;
use crate::plan::{Intent, Plan};
use crate::render::Tense;

/// Runs a pass every `interval` (default: the shortest check interval) until a signal.
pub fn run_loop(context: &Context, interval: Option<Duration>, keep_on_exit: bool) -> Result<Exit, Error> {
    let config = load_config(context, CacheUse::ReadAndRefresh)?;
    let interval = interval.unwrap_or_else(|| config.shortest_interval());
    let stop = stop_signals().map_err(Error::Signals)?;
    eprintln!(
        "anycastd: running an apply pass every {} for {} services; SIGINT or SIGTERM {}.",
        describe(interval),
        config.services.len(),
        if keep_on_exit {
            "stops and leaves the prefixes as they are"
        } else {
            "withdraws every managed prefix and stops"
        }
    );
    let signal = loop {
        loop_pass(&config, context, Intent::Reconcile);
        match stop.recv_timeout(interval) {
            Ok(signal) => break signal,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break "signal listener ended",
        }
    };
    if keep_on_exit {
        eprintln!("anycastd: received {signal}, stopping; prefixes left as they are.");
        return Ok(Exit::Done);
    }
    eprintln!("anycastd: received {signal}, withdrawing every managed prefix.");
    Ok(Exit::of(&loop_pass(&config, context, Intent::WithdrawAll)))
}

/// One changing pass of the loop, printing the report only when something changed or failed.
fn loop_pass(config: &Config, context: &Context, intent: Intent) -> Plan {
    let command = if intent == Intent::WithdrawAll { "withdraw-all" } else { "run" };
    let applied = pass::changing_pass(config, context, intent, command, Vec::new());
    let summary = applied.summary();
    if summary.has_changes() || summary.has_errors() {
        context.output.plan(&applied, command, Tense::Applied);
    }
    applied
}

/// A channel that receives the name of the first SIGINT or SIGTERM.
fn stop_signals() -> std::io::Result<mpsc::Receiver<&'static str>> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
            if sender.send(name).is_err() {
                return;
            }
        }
    });
    Ok(receiver)
}
