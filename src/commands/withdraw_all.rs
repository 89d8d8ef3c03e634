//! `anycastd withdraw-all`: maintenance. The marker is written first, so that no pass starting after this moment
//! announces anything; then every managed prefix is withdrawn, whatever the health.
//!
//! With `--drain D`, the marker also holds a deadline D from now. Until then, announced prefixes carry their drain
//! route-map (peers move to other nodes while this one still answers), then they are withdrawn. The command waits
//! for the deadline and withdraws, unless `--no-wait`: the deadline is in the marker, so the next `apply` or `run`
//! pass after it withdraws just as well. When nothing drains (no announced prefix of a healthy service has a drain
//! route-map FRR has), the first pass has withdrawn everything: the marker loses its deadline and the command returns
//! at once, saying so.

use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{CacheUse, Exit, load_config_or_last_valid};
use crate::clock::utc_timestamp;
use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::pass;
use crate::plan::{Action, Intent, PassError, Plan, PrefixState, Verdict};
use crate::render::{Format, Tense, emit};
use crate::state::StateDir;
use crate::state::maintenance::{self, Maintenance};

/// `--drain D` and whether the command waits for its end (not `--no-wait`).
#[derive(Clone, Copy, Debug)]
pub struct Drain {
    /// How long announced prefixes are drained before they are withdrawn.
    pub period: Duration,
    /// Whether the command waits and withdraws itself.
    pub wait: bool,
}

/// Enters maintenance and withdraws (or drains, then withdraws). A marker that cannot be written does not stop the
/// withdrawal: it is an error of the pass, and the operator is told that the next pass may announce again.
pub fn withdraw_all(context: &Context, reason: Option<String>, drain: Option<Drain>) -> Result<Exit, Error> {
    // A broken file does not stop a withdrawal: the last valid configuration says what to withdraw.
    let in_force = load_config_or_last_valid(context, CacheUse::ReadAndRefresh)?;
    let broken = in_force.refusal(context, "withdraw-all");
    let config = in_force.config().clone();
    // The marker holds whole seconds, rounded up, and the command waits for exactly that instant: it withdraws when
    // the report, the marker and every other pass say, and the drain lasts at least the time asked for.
    let until = drain.map(|drain| unix_seconds_rounded_up(SystemTime::now() + drain.period));
    let deadline = until.map(|until| UNIX_EPOCH + Duration::from_secs(until));
    let marker_written =
        StateDir::create(&context.state_dir).and_then(|state_dir| begin_maintenance(&state_dir, reason.clone(), until));
    let unmarked = marker_written.err().map(|error| PassError::MarkerNotWritten { detail: error.to_string() });
    let (Some(drain), Some(until), Some(deadline)) = (drain, until, deadline) else {
        let withdrawn = withdraw_pass(&config, context, unmarked.into_iter().collect());
        return Ok(if broken.is_some() { Exit::Failed } else { withdrawn });
    };
    // Listening before the drain, so that a Ctrl-C from now on ends the drain with a withdrawal, not mid-way.
    let stop = if drain.wait { Some(stop_signals().map_err(Error::Signals)?) } else { None };
    let drained = pass::changing_pass(&config, context, Intent::Drain { until }, "withdraw-all", Vec::new());
    if !drains_anything(&drained) {
        let exit = nothing_to_drain(context, drained, reason, unmarked.is_none());
        // A marker that could not be written is this withdrawal's error, as without --drain: a pass reports it.
        let unwritten = unmarked.map(|error| withdraw_pass(&config, context, vec![error]));
        let failed = broken.is_some() || exit == Exit::Failed || unwritten == Some(Exit::Failed);
        return Ok(if failed { Exit::Failed } else { Exit::Done });
    }
    context.output.plan(&drained, "withdraw-all", Tense::Applied);
    let Some(stop) = stop else {
        note(
            context,
            &format!("Drained until {}; the first apply or run pass after it withdraws.\n", utc_timestamp(until)),
        );
        return Ok(Exit::of(&drained));
    };
    note(
        context,
        &format!(
            "Draining until {}, then withdrawing; Cabourotte is asked every {} meanwhile, and a service that fails \
             is withdrawn at once. Ctrl-C withdraws at once; `anycastd resume` (elsewhere) ends the drain and \
             restores the prefixes; --no-wait returns at once and leaves the withdrawal to the next apply or run pass \
             after the deadline.\n",
            utc_timestamp(until),
            crate::config::spoken(config.shortest_interval())
        ),
    );
    let watched = watch_drain(&config, context, &stop, (until, deadline), unmarked.is_none());
    if watched == DrainEnd::Resumed {
        note(context, "Maintenance was ended with `anycastd resume` during the drain: nothing withdrawn.\n");
        return Ok(Exit::of(&drained));
    }
    let withdrawn = withdraw_pass(&config, context, unmarked.into_iter().collect());
    let failed = drained.summary().has_errors() || watched == DrainEnd::WithErrors || broken.is_some();
    Ok(if failed { Exit::Failed } else { withdrawn })
}

/// Whether a drain pass left anything to wait for: a prefix it drained or found drained, or one of a service being
/// drained that has a drain route-map and an error (FRR could not be read: it may be announced, and the drain is
/// kept rather than turned into a withdrawal nobody asked for). A drain that FRR refused counts too: the wait, then
/// the withdrawal, are what happens today to a drain that went wrong.
fn drains_anything(drained: &Plan) -> bool {
    drained.all_services().any(|service| {
        let draining = matches!(service.verdict, Verdict::Draining { .. });
        service.prefixes.iter().any(|prefix| match &prefix.action {
            Action::Drain => true,
            Action::Keep => prefix.current == PrefixState::Drained,
            Action::Error(_) => draining && prefix.managed.drain_route_map.is_some(),
            _ => false,
        })
    })
}

/// The drain pass drained nothing, so it withdrew every announced prefix: maintenance without a drain. The marker
/// loses its deadline (so `plan` and the next passes say maintenance, not "draining until"), the report says what
/// happened (the services are in maintenance, nothing drains), and the command returns at once.
fn nothing_to_drain(context: &Context, mut drained: Plan, reason: Option<String>, marked: bool) -> Exit {
    let kept = if marked {
        StateDir::create(&context.state_dir).and_then(|state_dir| begin_maintenance(&state_dir, reason, None))
    } else {
        Ok(())
    };
    if let Some(marker) = &mut drained.maintenance {
        marker.drain_until = None;
    }
    for service in &mut drained.services {
        if matches!(service.verdict, Verdict::Draining { .. }) {
            service.verdict = Verdict::Maintenance;
        }
    }
    context.output.plan(&drained, "withdraw-all", Tense::Applied);
    note(
        context,
        "Nothing to drain: no announced prefix of a healthy service has a drain_route_map that FRR has, so every \
         managed prefix was withdrawn at once, without waiting.\n",
    );
    if let Err(error) = kept {
        note(
            context,
            &format!("The maintenance marker keeps the drain's deadline ({error}); it withdraws all the same.\n"),
        );
    }
    Exit::of(&drained)
}

/// How the wait for a drain's deadline ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DrainEnd {
    /// The deadline came, or SIGINT/SIGTERM: withdraw now.
    Withdraw,
    /// Likewise, but a pass during the drain had errors.
    WithErrors,
    /// `anycastd resume` removed the marker: nothing to withdraw.
    Resumed,
}

/// Waits for the drain's deadline (`until`, and the same instant as a `SystemTime`), a stop signal or a resume,
/// asking Cabourotte at every check interval meanwhile: a service that fails during the drain is withdrawn at once,
/// not left drained (and still receiving traffic) until the deadline. These passes are what a timer's `apply` would
/// do in this maintenance (`marked`); without the marker they are drain passes, which never restore anything.
fn watch_drain(
    config: &Config,
    context: &Context,
    stop: &mpsc::Receiver<i32>,
    (until, deadline): (u64, SystemTime),
    marked: bool,
) -> DrainEnd {
    let interval = config.shortest_interval();
    let mut errors = false;
    loop {
        let remaining = deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
        let signalled = remaining.is_zero() || stop.recv_timeout(remaining.min(interval)).is_ok();
        if marked && resumed_meanwhile(context) {
            return DrainEnd::Resumed;
        }
        if signalled || SystemTime::now() >= deadline {
            return if errors { DrainEnd::WithErrors } else { DrainEnd::Withdraw };
        }
        let intent = if marked { Intent::Reconcile } else { Intent::Drain { until } };
        let watched = pass::changing_pass(config, context, intent, "withdraw-all", Vec::new());
        let summary = watched.summary();
        if summary.has_changes() || summary.has_errors() {
            context.output.plan(&watched, "withdraw-all", Tense::Applied);
        }
        errors |= summary.has_errors();
    }
}

/// The withdrawal: every managed prefix, whatever the health.
fn withdraw_pass(config: &Config, context: &Context, earlier: Vec<PassError>) -> Exit {
    let applied = pass::changing_pass(config, context, Intent::WithdrawAll, "withdraw-all", earlier);
    context.output.plan(&applied, "withdraw-all", Tense::Applied);
    Exit::of(&applied)
}

/// Writes the maintenance marker with the drain's deadline (`None`: none). A marker that is there already keeps
/// its who, when and why; only its deadline changes, so that `withdraw-all` during a drain withdraws at once.
fn begin_maintenance(state_dir: &StateDir, reason: Option<String>, drain_until: Option<u64>) -> std::io::Result<()> {
    match maintenance::read(Some(state_dir)) {
        Ok(Some(marker)) if marker.drain_until == drain_until => Ok(()),
        Ok(Some(marker)) => maintenance::write(state_dir, &Maintenance { drain_until, ..marker }),
        Ok(None) | Err(_) => maintenance::write(state_dir, &Maintenance::begin(reason, drain_until)),
    }
}

/// Whether the marker is gone: someone ran `anycastd resume` while this command waited. A marker that cannot be
/// read means withdraw; one that was never written is not asked about (see [`watch_drain`]).
fn resumed_meanwhile(context: &Context) -> bool {
    let Ok(Some(state_dir)) = StateDir::open(&context.state_dir) else { return false };
    matches!(maintenance::read(Some(&state_dir)), Ok(None))
}

/// A channel that receives once SIGINT or SIGTERM arrives.
fn stop_signals() -> std::io::Result<mpsc::Receiver<i32>> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = sender.send(signal);
        }
    });
    Ok(receiver)
}

/// The deadline in whole Unix seconds, rounded up: a pass never withdraws before the drain's full length.
fn unix_seconds_rounded_up(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    since.as_secs() + u64::from(since.subsec_nanos() > 0)
}

/// A line for the operator beside the text report (not in JSON, not with `--quiet`).
fn note(context: &Context, text: &str) {
    if context.output.format == Format::Text && !context.output.quiet {
        emit(text);
    }
}
