//! The streaks of healthy and unhealthy passes per service, kept between runs in the state directory.
//!
//! rise/fall need memory, and a timer starts every run fresh: the counts live in `state.json`, so separate `apply`
//! processes count exactly like loop mode. The file is only a memory of past passes, never the truth about FRR: a
//! missing or damaged one starts every count from zero, and FRR's running config decides what is announced now.

use std::collections::BTreeMap;
use std::io;

use serde::{Deserialize, Serialize};

use crate::state::{Replacement, StateDir};

/// The state file's name inside the state directory.
const STATE_FILE: &str = "state.json";

/// The largest state file read: about 60 bytes per service, so room for a hundred thousand services.
const STATE_LIMIT: u64 = 8 << 20;

/// Consecutive healthy and unhealthy passes of one service; one of them is always zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Streak {
    /// Consecutive passes in which every check passed.
    pub healthy: u32,
    /// Consecutive passes in which the service was unhealthy.
    pub unhealthy: u32,
}

impl Streak {
    /// The streak with each count held at what decides anything: `rise` healthy passes, `fall` unhealthy ones.
    /// Counting further would change the file on every pass of a steady service, and loop mode writes it only when a
    /// count changes.
    pub(crate) fn capped(self, rise: u32, fall: u32) -> Streak {
        Streak { healthy: self.healthy.min(rise.max(1)), unhealthy: self.unhealthy.min(fall.max(1)) }
    }

    /// The streak after one more pass.
    pub(crate) fn after(self, healthy: bool) -> Streak {
        if healthy {
            Streak { healthy: self.healthy.saturating_add(1), unhealthy: 0 }
        } else {
            Streak { healthy: 0, unhealthy: self.unhealthy.saturating_add(1) }
        }
    }
}

/// The streaks of every service, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Streaks {
    /// By service name.
    pub services: BTreeMap<String, Streak>,
}

impl Streaks {
    /// The streak of `service` (zero when unknown).
    pub(crate) fn of(&self, service: &str) -> Streak {
        self.services.get(service).copied().unwrap_or_default()
    }
}

/// The streaks read back from the state directory.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Recalled {
    /// The streaks of past passes; zero where unknown.
    pub streaks: Streaks,
    /// Whether someone other than this user could have written (or removed) the file. Such counts are not used:
    /// whoever can write them could keep `fall` from ever withdrawing an unhealthy service, or skip `rise`.
    pub forgeable: bool,
    /// What the operator should know about the file.
    pub warning: Option<CountsProblem>,
}

/// Why the counts of earlier passes were not used (worded by the renderer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CountsProblem {
    /// The file is damaged.
    Damaged {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        error: String,
    },
    /// The file is not trusted (see [`StateDir::read_trusted`]).
    Untrusted {
        /// Why.
        why: String,
    },
}

/// Reads the streaks; a missing file (or state directory) is a fresh start, a damaged one too, with a warning. Only a
/// file nobody else can have written is used ([`StateDir::read_trusted`]); any other is ignored, with a warning, and
/// marked forgeable.
pub(crate) fn load(state_dir: Option<&StateDir>) -> Recalled {
    let Some(state_dir) = state_dir else { return Recalled::default() };
    let path = state_dir.file(STATE_FILE);
    let fresh = |warning: CountsProblem| Recalled { warning: Some(warning), ..Recalled::default() };
    match state_dir.read_trusted(STATE_FILE, STATE_LIMIT) {
        Ok(Some(text)) => match serde_json::from_slice(&text) {
            Ok(streaks) => Recalled { streaks, ..Recalled::default() },
            Err(error) => fresh(CountsProblem::Damaged { path, error: error.to_string() }),
        },
        Ok(None) => Recalled::default(),
        Err(why) => Recalled { forgeable: true, ..fresh(CountsProblem::Untrusted { why: why.to_string() }) },
    }
}

/// Starts saving the streaks: their new file is created now, so that a state directory that cannot be written is
/// known before the pass decides anything.
pub(crate) fn prepare_save(state_dir: &StateDir) -> io::Result<Replacement> {
    state_dir.prepare(STATE_FILE)
}

/// Removes the counts file, best effort: used when new counts could not be written over it (a full disk still lets
/// a file be removed).
pub(crate) fn forget(state_dir: &StateDir) {
    let _ = state_dir.remove(STATE_FILE);
}

/// Removes the temporary counts files that killed processes left behind; call it under the run lock.
pub(crate) fn remove_leftovers(state_dir: &StateDir) {
    state_dir.remove_leftovers(STATE_FILE);
}

/// Writes the streaks into the file prepared, atomically.
pub(crate) fn save(file: Replacement, streaks: &Streaks) -> io::Result<()> {
    let json = serde_json::to_string_pretty(streaks).map_err(io::Error::other)?;
    file.commit(json.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_counts_consecutive_passes_only() {
        assert_eq!(
            Streak::default().after(true).after(true).after(true).capped(2, 3),
            Streak { healthy: 2, unhealthy: 0 }
        );
        let streak = Streak::default().after(true).after(true);
        assert_eq!(streak, Streak { healthy: 2, unhealthy: 0 });
        assert_eq!(streak.after(false), Streak { healthy: 0, unhealthy: 1 });
    }

    #[test]
    fn saved_streaks_load_back_and_damage_is_only_a_warning() {
        let dir = std::env::temp_dir().join(format!("anycastd-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(load(None), Recalled::default());
        let state_dir = StateDir::create(&dir).expect("state dir");
        assert_eq!(load(Some(&state_dir)), Recalled::default());
        let streaks = Streaks { services: BTreeMap::from([("dns".to_string(), Streak { healthy: 0, unhealthy: 2 })]) };
        save(prepare_save(&state_dir).expect("prepared"), &streaks).expect("saved");
        assert_eq!(load(Some(&state_dir)), Recalled { streaks, ..Recalled::default() });
        std::fs::write(dir.join(STATE_FILE), "{ broken").expect("damage it");
        let damaged = load(Some(&state_dir));
        assert!(matches!(damaged.warning, Some(CountsProblem::Damaged { .. })), "{damaged:?}");
        assert_eq!((damaged.streaks, damaged.forgeable), (Streaks::default(), false));
        std::fs::set_permissions(dir.join(STATE_FILE), std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .expect("chmod");
        let loose = load(Some(&state_dir));
        assert!(loose.forgeable, "others could have written it");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
