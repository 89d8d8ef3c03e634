//! Loop mode (`anycastd run`), in one place: the same changing pass as `apply`, every interval, until SIGINT or
//! SIGTERM; then one more pass that withdraws everything (unless `--keep-on-exit`). SIGHUP reads the configuration
//! again.
//!
//! Cheap when nothing happens: every interval Cabourotte is asked (one request per URL), but FRR only when something
//! must change, when the resync is due, after an error, or when bgpd restarted (see [`memory`], over [`bgpd`]). Quick
//! when something does: a failure pushed by Cabourotte's exporter (`--listen`, see [`listener`]) withdraws at once,
//! without waiting for the next poll; a pushed success waits for the poll to confirm it. Between passes the loop
//! blocks on one channel, fed by the signal thread and the listener, so it sleeps without spinning and wakes at once.
//!
//! Each pass is handed its health as a value the loop chooses here ([`crate::pass::HealthInput`]): a poll asks
//! Cabourotte, with the pushed failures it has not caught up with swapped in; a pass made by a push asks nobody and
//! takes the last poll's answers instead. FRR's running configs come from [`memory::Memory`], once the pass holds the
//! run lock.

pub mod bgpd;
pub mod listener;
pub mod memory;
pub mod pushes;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::commands::{CacheUse, Exit, load_config, load_config_or_last_valid};
use crate::config::{Config, describe};
use crate::context::Context;
use crate::error::Error;
use crate::observe::log::{Event, LogLevel, Logging};
use crate::observe::metrics::{self, PassTiming};
use crate::pass::{self, Pass, record};
use crate::plan::PassError;
use crate::plan::{Intent, Plan};
use crate::render::Tense;
use listener::mailbox::Mailbox;
use listener::routes::{Push, Routes};
use listener::secret::Secret;
use listener::{SharedStatus, Status, Wake};
use memory::{Memory, Unwatched};
use pushes::Pushes;

/// The options of `run`.
#[derive(Clone, Debug)]
pub struct Options {
    /// Time between polls (default: the shortest check interval).
    pub interval: Option<Duration>,
    /// Leave the prefixes as they are on SIGINT/SIGTERM.
    pub keep_on_exit: bool,
    /// How often FRR is read in full (`0`: on every pass).
    pub resync: Duration,
    /// Where to accept pushes (and serve metrics, unless `metrics_listen`).
    pub listen: Option<SocketAddr>,
    /// The file holding the pushes' shared secret.
    pub push_secret_file: Option<PathBuf>,
    /// Accept pushes from a loopback address without the secret.
    pub allow_unauthenticated_loopback: bool,
    /// Where to serve metrics and liveness instead of `listen`.
    pub metrics_listen: Option<SocketAddr>,
}

/// The command all of loop mode's log lines and reports carry.
const COMMAND: &str = "run";

/// Runs passes every interval until a signal.
///
/// A configuration file that cannot be read or is invalid at start does not keep the loop from withdrawing: the last
/// valid configuration stands in (see [`crate::commands::InForce`]), every pass withdraws the services whose checks
/// fail and announces nothing, until a SIGHUP finds the file valid.
pub fn run(context: &Context, options: &Options) -> Result<Exit, Error> {
    let in_force = load_config_or_last_valid(context, CacheUse::ReadAndRefresh)?;
    let broken_config = in_force.refusal(context, COMMAND);
    let config = in_force.config().clone();
    let interval = options.interval.unwrap_or_else(|| config.shortest_interval());
    let (wake, woken) = mpsc::channel();
    listen_for_signals(wake.clone()).map_err(Error::Signals)?;
    let status = Arc::new(Mutex::new(Status { patience: 3 * interval + Duration::from_secs(10), ..Status::default() }));
    let listening = start_listeners(options, &wake, &status, &config, context.logging).map_err(Error::Listen)?;
    let mut daemon = Daemon {
        config,
        context,
        interval,
        resync: options.resync,
        memory: Memory::with_resync(options.resync),
        pushes: Pushes::default(),
        config_errors: 0,
        counters: BTreeMap::new(),
        status,
        listening,
        file_valid: broken_config.is_none(),
        broken_config,
        unwatched_told: BTreeSet::new(),
    };
    daemon.notice("started", daemon.banner(options.keep_on_exit));
    daemon.tell_unwatched();
    let signal = daemon.serve(&woken);
    if options.keep_on_exit {
        daemon.notice("stopping", format!("received {signal}, stopping; prefixes left as they are"));
        return Ok(Exit::Done);
    }
    daemon.notice("stopping", format!("received {signal}, withdrawing every managed prefix"));
    let pass = Pass { reason: Some(format!("received {signal}")), ..Pass::new(Intent::WithdrawAll, COMMAND) };
    let stopped = daemon.pass(&pass);
    Ok(Exit::of(&stopped))
}

/// The loop's state between passes.
struct Daemon<'a> {
    config: Config,
    context: &'a Context,
    interval: Duration,
    resync: Duration,
    memory: Memory,
    /// The pushed failures the polls have not caught up with.
    pushes: Pushes,
    /// Configurations refused since the last pass.
    config_errors: u64,
    /// The error counters of the metrics served on `/metrics`.
    counters: BTreeMap<String, u64>,
    status: SharedStatus,
    listening: Listening,
    /// Whether the configuration file was valid when last read (a failed SIGHUP keeps the configuration in force).
    file_valid: bool,
    /// Why nothing may be announced: the file was broken at start, and the last valid configuration stands in, until
    /// a SIGHUP finds it valid.
    broken_config: Option<PassError>,
    /// The vtysh paths already said to be read on every pass (once per process, not per pass or reload).
    unwatched_told: BTreeSet<PathBuf>,
}

impl Daemon<'_> {
    /// Polls every interval and answers what wakes the loop, until a stop signal; returns its name.
    ///
    /// When passes take longer than the interval (a slow vtysh, a loaded host), every poll is due at once: one waiting
    /// wake is answered before each of them, so that a SIGTERM or a SIGHUP is never left unread behind the polls.
    fn serve(&mut self, woken: &Receiver<Wake>) -> &'static str {
        let mut next_poll = Instant::now();
        loop {
            let now = Instant::now();
            if now >= next_poll {
                if let Ok(wake) = woken.try_recv()
                    && let Some(signal) = self.answer(wake)
                {
                    return signal;
                }
                self.poll();
                next_poll = now + self.interval;
                continue;
            }
            match woken.recv_timeout(next_poll - now) {
                Ok(wake) => {
                    if let Some(signal) = self.answer(wake) {
                        return signal;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return "the end of the signal listener",
            }
        }
    }

    /// Answers what woke the loop; the name of the signal that stops it, if one did.
    fn answer(&mut self, wake: Wake) -> Option<&'static str> {
        match wake {
            Wake::Stop(signal) => return Some(signal),
            Wake::Reload => self.reload(),
            Wake::Pushed => self.pushed(),
        }
        None
    }

    /// A pass with fresh answers from Cabourotte (pushed failures newer than them swapped in).
    fn poll(&mut self) {
        self.pass(&Pass { health: self.pushes.poll(), ..Pass::new(Intent::Reconcile, COMMAND) });
        if let Some(answers) = &self.memory.answers {
            self.pushes.caught_up(answers);
        }
    }

    /// Takes in the pushed results waiting in the mailbox: a failure newer than what is known may withdraw at once (see
    /// [`Pushes::take`]).
    fn pushed(&mut self) {
        let Some(mailbox) = &self.listening.mailbox else { return };
        let results = mailbox.take();
        let polled = self.memory.answers.as_ref();
        let taken = self.pushes.take(results, &self.config, polled, self.interval, Instant::now());
        // Only the services the push is about may change, and only toward withdrawn; rise and fall count polls.
        if let Some(health) = taken {
            self.pass(&Pass { health, ..Pass::new(Intent::Reconcile, COMMAND) });
        }
    }

    /// SIGHUP: the new configuration takes effect, and the prefixes it no longer has are withdrawn; an invalid one is
    /// logged and counted, and the old one stays.
    fn reload(&mut self) {
        self.reload_secret();
        let new = match load_config(self.context, CacheUse::ReadAndRefresh) {
            Ok(new) => new,
            Err(error) => {
                self.config_errors += 1;
                self.file_valid = false;
                let reason = format!("{}; the configuration in force stays", error.one_line());
                self.log(vec![Event { level: LogLevel::Error, ..Event::notice(COMMAND, "reload-failed", reason) }]);
                return;
            }
        };
        let count = removed_prefixes(&self.config, &new);
        if let Some(mailbox) = &self.listening.mailbox {
            mailbox.set_checks(check_names(&new));
        }
        self.pushes.keep_checks(&check_names(&new));
        self.config = new;
        self.file_valid = true;
        self.broken_config = None;
        // The last poll's answers stay: a pushed failure withdraws at once after a reload too, not only after the
        // next poll.
        let answers = self.memory.answers.take();
        self.memory = Memory::with_resync(self.resync);
        self.memory.answers = answers;
        // What the new configuration no longer has, anycastd announced: the record of managed prefixes makes this
        // pass withdraw it ("no longer in the configuration"), under any vtysh path, so that a prefix only moved
        // to another path of the same FRR does not flap.
        self.poll();
        self.notice(
            "reloaded",
            format!("the configuration is read again; {count} prefixes it no longer has withdrawn"),
        );
        self.tell_unwatched();
    }

    /// Says once, for each vtysh whose bgpd cannot be watched, that every pass reads its running config, and how to
    /// end that: loop mode's idle cost (a few ticks per 30 s) holds only for the vtysh it can watch, and an operator
    /// with another vtysh would otherwise see a vtysh call every interval with nothing saying why. Nothing to say with `--resync 0`, which asks for that read on every pass.
    fn tell_unwatched(&mut self) {
        if self.resync.is_zero() {
            return;
        }
        let events = memory::unwatched(&self.config)
            .into_iter()
            .filter(|unwatched| self.unwatched_told.insert(unwatched.vtysh.clone()))
            .map(|unwatched| Event {
                level: LogLevel::Warning,
                ..Event::notice(COMMAND, "bgpd-unwatched", unwatched_reason(&unwatched, self.interval))
            })
            .collect();
        self.log(events);
    }

    /// SIGHUP reads the push secret again; a file that cannot be used is logged, and the secret in force stays.
    fn reload_secret(&self) {
        let Some(secret) = &self.listening.secret else { return };
        if let Err(reason) = secret.reload() {
            let reason = format!("{reason}; the push secret in force stays");
            self.log(vec![Event { level: LogLevel::Error, ..Event::notice(COMMAND, "reload-failed", reason) }]);
        }
    }

    /// One changing pass, printing the report when something changed or failed, and updating what the listener serves.
    fn pass(&mut self, pass: &Pass<'_>) -> Plan {
        let started = Instant::now();
        let pass = Pass {
            config_errors: std::mem::take(&mut self.config_errors),
            config_file_valid: self.file_valid,
            broken_config: self.broken_config.clone(),
            ..pass.clone()
        };
        let applied = pass::remembering_pass(&self.config, self.context, &pass, &mut self.memory);
        let summary = applied.summary();
        if summary.has_changes() || summary.has_errors() {
            self.context.output.plan(&applied, COMMAND, Tense::Applied);
        }
        self.serve_status(&applied, started, pass.config_errors);
        applied
    }

    /// What `/metrics` and `/healthz` answer after `applied`.
    fn serve_status(&mut self, applied: &Plan, started: Instant, config_errors: u64) {
        let timing = PassTiming { config_valid: self.file_valid, ..record::timing(started, config_errors) };
        let text = metrics::render(applied, timing, &self.counters);
        self.counters = metrics::error_counts(&text);
        if let Ok(mut status) = self.status.lock() {
            status.metrics = Some(text.into());
            status.last_pass = Some((Instant::now(), !applied.summary().has_errors()));
        }
    }

    fn banner(&self, keep_on_exit: bool) -> String {
        format!(
            "running an apply pass every {} for {} services; SIGINT or SIGTERM {}; SIGHUP reloads",
            describe(self.interval),
            self.config.services.len(),
            if keep_on_exit {
                "stops and leaves the prefixes as they are"
            } else {
                "withdraws every managed prefix and stops"
            }
        )
    }

    fn notice(&self, event: &'static str, reason: String) {
        self.log(vec![Event::notice(COMMAND, event, reason)]);
    }

    fn log(&self, events: Vec<Event>) {
        self.context.logging.write(&events);
    }
}

/// Why `run` reads the running config behind `unwatched` on every pass, and what to set instead.
fn unwatched_reason(unwatched: &Unwatched, interval: Duration) -> String {
    let vtysh = unwatched.vtysh.display();
    let (why, until) = match &unwatched.pid_file {
        None => (format!("{vtysh} has no bgpd_pid_file"), ""),
        Some(pid_file) => (
            format!(
                "the bgpd_pid_file {} of {vtysh} names no running bgpd (missing, unreadable or left behind)",
                pid_file.display()
            ),
            " while it names none",
        ),
    };
    format!(
        "{why}: run cannot tell a restarted bgpd, so it reads that FRR's running config on every pass \
         (every {}){until}, not only at the resync; set bgpd_pid_file = \"PATH\" on its prefixes, the pid file \
         that bgpd writes (/run/frr/bgpd.pid for Debian's FRR)",
        describe(interval)
    )
}

/// How many prefixes of `old` `new` no longer names (the same prefix and VRF, under any vtysh path).
fn removed_prefixes(old: &Config, new: &Config) -> usize {
    let kept: BTreeSet<_> = new.prefixes().map(|(_, p)| (p.prefix, p.vrf.clone())).collect();
    old.prefixes().filter(|(_, p)| !kept.contains(&(p.prefix, p.vrf.clone()))).count()
}

/// What the listener shares with the loop when `--listen` takes pushes: the mailbox the pushes wait in, and the
/// secret they must carry (read again on SIGHUP).
#[derive(Default)]
struct Listening {
    mailbox: Option<Arc<Mailbox>>,
    secret: Option<Arc<Secret>>,
}

/// Starts the listeners `options` ask for: pushes (with metrics, unless elsewhere) and metrics.
fn start_listeners(
    options: &Options,
    wake: &Sender<Wake>,
    status: &SharedStatus,
    config: &Config,
    logging: Logging,
) -> Result<Listening, String> {
    let mut listening = Listening::default();
    if let Some(address) = options.listen {
        let secret = push_secret(options, address)?.map(Arc::new);
        let mailbox = Arc::new(Mailbox::new(check_names(config), wake.clone()));
        let push = Push {
            mailbox: Arc::clone(&mailbox),
            secret: secret.clone(),
            loopback_without_secret: options.allow_unauthenticated_loopback,
        };
        let status = options.metrics_listen.is_none().then(|| Arc::clone(status));
        listener::start(address, Routes { push: Some(push), status }, logging)?;
        listening = Listening { mailbox: Some(mailbox), secret };
    }
    if let Some(address) = options.metrics_listen {
        listener::start(address, Routes { push: None, status: Some(Arc::clone(status)) }, logging)?;
    }
    Ok(listening)
}

/// The secret that pushes to `--listen ADDRESS` must carry: always required, unless `--allow-unauthenticated-loopback`
/// on a loopback address (then there may be none, and only local users can push).
fn push_secret(options: &Options, address: SocketAddr) -> Result<Option<Secret>, String> {
    match (&options.push_secret_file, options.allow_unauthenticated_loopback) {
        (Some(path), _) => Secret::read(path).map(Some),
        (None, true) if address.ip().to_canonical().is_loopback() => Ok(None),
        (None, true) => Err(format!(
            "--listen {address} is not a loopback address: --allow-unauthenticated-loopback spares only local clients \
             the secret; give --push-secret-file"
        )),
        (None, false) => Err(format!(
            "--listen {address} needs --push-secret-file PATH: every push must carry the shared secret \
             (Authorization: Bearer SECRET), on loopback too; --allow-unauthenticated-loopback lets every local user \
             push without it"
        )),
    }
}

/// The names of the configuration's checks: the only ones a push may be about.
fn check_names(config: &Config) -> BTreeSet<String> {
    config.checks().map(|(_, check)| check.name.clone()).collect()
}

/// Sends SIGINT and SIGTERM (as a stop) and SIGHUP (as a reload) to the loop.
fn listen_for_signals(wake: Sender<Wake>) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let woken = match signal {
                SIGHUP => Wake::Reload,
                SIGINT => Wake::Stop("SIGINT"),
                _ => Wake::Stop("SIGTERM"),
            };
            if wake.send(woken).is_err() {
                return;
            }
        }
    });
    Ok(())
}
