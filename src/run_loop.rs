//! Loop mode (`anycastd run`): an apply pass every interval until SIGINT or SIGTERM, then withdraw everything.
//!
//! Between passes the loop blocks on a channel fed by a signal thread, so it sleeps without spinning and still
//! wakes at once when asked to stop.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::commands::Output;
use crate::config::Config;
use crate::pass;
use crate::plan::{Intent, Plan};
use crate::reconcile::Settings;
use crate::render::{self, Tense};
use crate::{EXIT_ERROR, EXIT_OK};

/// Runs apply passes every `interval` until a signal; returns the exit code.
pub fn run(config: &Config, settings: &Settings, interval: Duration, keep_on_exit: bool, output: &Output) -> u8 {
    let stop = match stop_signals() {
        Ok(stop) => stop,
        Err(error) => {
            eprintln!("anycastd: cannot listen for SIGINT/SIGTERM: {error}");
            return EXIT_ERROR;
        }
    };
    eprintln!(
        "anycastd: running an apply pass every {} for {} services; SIGINT or SIGTERM {}.",
        render::seconds(interval),
        config.services.len(),
        if keep_on_exit {
            "stops and leaves the prefixes as they are"
        } else {
            "withdraws every managed prefix and stops"
        }
    );
    let signal = loop {
        pass(config, settings, Intent::Reconcile, output);
        match stop.recv_timeout(interval) {
            Ok(signal) => break signal,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break "signal listener ended",
        }
    };
    if keep_on_exit {
        eprintln!("anycastd: received {signal}, stopping; prefixes left as they are.");
        return EXIT_OK;
    }
    eprintln!("anycastd: received {signal}, withdrawing every managed prefix.");
    if pass(config, settings, Intent::WithdrawAll, output).summary().has_errors() { EXIT_ERROR } else { EXIT_OK }
}

/// One pass, printing the report when something changed or failed.
fn pass(config: &Config, settings: &Settings, intent: Intent, output: &Output) -> Plan {
    let command = if intent == Intent::WithdrawAll { "withdraw-all" } else { "run" };
    let applied = pass::run(config, settings, intent, command, Vec::new());
    let summary = applied.summary();
    if summary.has_changes() || summary.has_errors() {
        output.plan(&applied, command, Tense::Applied);
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
