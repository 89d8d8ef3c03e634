//! What loop mode remembers between its passes, so that a pass that changes nothing costs no vtysh call: the running
//! config of each FRR as last read or verified, and who its bgpd was then.
//!
//! A remembered running config is trusted only while nothing says it is stale: the same bgpd runs (a restarted bgpd
//! comes back without anycastd's networks), the last pass had no error, and the periodic resync (`run --resync`)
//! is not due (it catches hand edits, which nothing else reveals). A vtysh whose bgpd cannot be watched (no
//! `bgpd_pid_file`, or one that cannot be read) is read on every pass, which `run` says once ([`unwatched`]). A
//! one-shot `apply` remembers nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::bgpd::{self, BgpdIdentity};
use crate::config::Config;
use crate::frr::RunningConfig;
use crate::health::cabourotte::Answers;
use crate::plan::FrrStates;
use crate::state::Replacement;
use crate::state::changes::Token;

/// The memory of loop mode, or none (`apply`, `withdraw-all`).
#[derive(Debug, Default)]
pub struct Memory {
    /// How long a running config read in full stays trusted; `None` remembers nothing.
    resync: Option<Duration>,
    frr: BTreeMap<PathBuf, Remembered>,
    /// When every FRR was last read in full.
    resynced: Option<Instant>,
    /// The last pass had an error: read everything again.
    failed: bool,
    /// The answers of the last poll of Cabourotte, for a pass made by a push.
    pub answers: Option<Answers>,
    /// The last verdict of each command check, and when it ran: loop mode runs one at its own interval.
    pub exec: crate::health::exec::Remembered,
    /// The last pass changed FRR or BIRD and some update had not reached its neighbors yet: the next pass reads what
    /// each sends again, so that the report and the metrics confirm it.
    pub advertisement_pending: bool,
    /// A counts file prepared and not needed, for the next pass (see `pass::hold`).
    pub spare_counts: Option<Replacement>,
    /// The last token of `state/changes.rs` seen or written: another token means another process changed FRR.
    changes: Option<Token>,
}

#[derive(Debug)]
struct Remembered {
    running: RunningConfig,
    bgpd: BgpdIdentity,
}

impl Memory {
    /// No memory: every pass reads every FRR.
    pub fn none() -> Memory {
        Memory::default()
    }

    /// Whether this is loop mode's memory (else a one-shot command's, which remembers nothing).
    pub fn is_loop(&self) -> bool {
        self.resync.is_some()
    }

    /// Loop mode's memory: a full read at least every `resync` (`0`: on every pass).
    pub fn with_resync(resync: Duration) -> Memory {
        Memory { resync: Some(resync), ..Memory::default() }
    }

    /// The running configs that can be trusted now, per vtysh path; every other vtysh of `config` must be read.
    /// `changes` is the token of the state directory now: when another process changed FRR since, nothing is.
    pub fn trusted(
        &mut self,
        config: &Config,
        now: Instant,
        changes: Option<Token>,
    ) -> BTreeMap<PathBuf, RunningConfig> {
        let due = match (self.resync, self.resynced) {
            (Some(resync), Some(resynced)) => now.duration_since(resynced) >= resync,
            _ => true,
        };
        let changed_elsewhere = changes != self.changes;
        self.changes = changes;
        if due || self.failed || changed_elsewhere {
            self.frr.clear();
            self.resynced = Some(now);
            return BTreeMap::new();
        }
        let watched = watched_pid_files(config);
        self.frr.retain(|path, remembered| {
            let pid_file = watched.get(path.as_path()).copied().flatten();
            pid_file.and_then(bgpd::identity) == Some(remembered.bgpd)
        });
        self.frr.iter().map(|(path, remembered)| (path.clone(), remembered.running.clone())).collect()
    }

    /// Learns FRR's running configs as just read or verified (`frr`), with who their bgpd is now. `bgpd_before` is
    /// who it was just before the read: a bgpd that restarted meanwhile is not taken for the one that answered.
    pub fn learn(&mut self, config: &Config, frr: &FrrStates, bgpd_before: &BTreeMap<PathBuf, Option<BgpdIdentity>>) {
        if self.resync.is_none() {
            return;
        }
        let watched = watched_pid_files(config);
        for (path, state) in frr {
            let Ok(running) = state else {
                self.frr.remove(path);
                continue;
            };
            let now = watched.get(path.as_path()).copied().flatten().and_then(bgpd::identity);
            match (now, bgpd_before.get(path).copied().flatten()) {
                (Some(now), Some(before)) if now == before => {
                    self.frr.insert(path.clone(), Remembered { running: running.clone(), bgpd: now });
                }
                _ => {
                    self.frr.remove(path);
                }
            }
        }
    }

    /// Who each watched bgpd of `config` is now (read before a vtysh read, see [`Memory::learn`]); nothing without a
    /// memory, which would not use it.
    pub fn bgpd_identities(&self, config: &Config) -> BTreeMap<PathBuf, Option<BgpdIdentity>> {
        if self.resync.is_none() {
            return BTreeMap::new();
        }
        watched_pid_files(config)
            .into_iter()
            .map(|(path, pid_file)| (path.to_path_buf(), pid_file.and_then(bgpd::identity)))
            .collect()
    }

    /// Keeps a prepared counts file that this pass did not need, in loop mode (elsewhere it is dropped: removed).
    /// Only an unnamed one is kept: a named one would be left behind if the process died.
    pub fn keep_spare_counts(&mut self, counts: Option<Replacement>) {
        if self.resync.is_some() {
            self.spare_counts = counts.filter(Replacement::is_unnamed);
        }
    }

    /// This process changed FRR and wrote `token`: its own change, not another's.
    pub fn changed(&mut self, token: Token) {
        self.changes = Some(token);
    }

    /// Whether the pass that just ended had an error (then the next one reads everything again).
    pub fn ended(&mut self, failed: bool) {
        self.failed = failed;
    }
}

/// A vtysh whose bgpd loop mode cannot watch now, so that every pass reads its running config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unwatched {
    /// The vtysh path.
    pub vtysh: PathBuf,
    /// Its bgpd pid file, which names no running bgpd; `None` when it has none.
    pub pid_file: Option<PathBuf>,
}

/// The vtysh paths of `config` whose bgpd cannot be watched now: no `bgpd_pid_file` (another vtysh than
/// `/usr/bin/vtysh`, which gets Debian's), or one that names no running bgpd (missing, unreadable, left behind).
/// Read at start, so that the operator learns why an idle `run` still calls vtysh on every pass.
pub fn unwatched(config: &Config) -> Vec<Unwatched> {
    watched_pid_files(config)
        .into_iter()
        .filter(|(_, pid_file)| pid_file.and_then(bgpd::identity).is_none())
        .map(|(vtysh, pid_file)| Unwatched { vtysh: vtysh.to_path_buf(), pid_file: pid_file.map(Path::to_path_buf) })
        .collect()
}

/// The bgpd pid file of each vtysh path of `config` (`None`: not watchable).
fn watched_pid_files(config: &Config) -> BTreeMap<&Path, Option<&Path>> {
    config.prefixes().filter_map(|(_, prefix)| Some((prefix.vtysh()?, prefix.bgpd_pid_file()))).collect()
}
