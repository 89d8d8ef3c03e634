//! The maintenance marker: a file in the state directory that keeps every managed prefix withdrawn.
//!
//! `withdraw-all` writes it before withdrawing, so a timer-driven `apply` running a moment later cannot announce
//! the prefixes again; `resume` removes it. `withdraw-all --drain D` writes the drain's deadline into it: until then,
//! every pass keeps the announced prefixes drained; after it, the next pass withdraws them. The drain lives in the
//! file, not in a process, so the timer's passes carry it out as well as `run` or the waiting command. While the file exists, anycastd is in maintenance, whatever it says:
//! a marker that cannot be parsed still counts, so a damaged file never re-announces anything by surprise.

use std::io;

use serde::{Deserialize, Serialize};

use crate::clock::{self, utc_timestamp};
use crate::identity;
use crate::state::StateDir;

/// The marker's file name inside the state directory.
const MARKER_FILE: &str = "maintenance.json";

/// The largest marker read: who, when and why fit in far less.
const MARKER_LIMIT: u64 = 1 << 20;

/// Who put anycastd in maintenance, when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Maintenance {
    /// When it started, in Unix seconds.
    pub since: u64,
    /// Who started it (the invoking user).
    pub by: String,
    /// Why, as given with `--reason`.
    pub reason: Option<String>,
    /// Until when (Unix seconds) announced prefixes are drained rather than withdrawn (`withdraw-all --drain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_until: Option<u64>,
}

impl Maintenance {
    /// Maintenance starting now, by the invoking user, draining until `drain_until` if given.
    pub(crate) fn begin(reason: Option<String>, drain_until: Option<u64>) -> Maintenance {
        Maintenance { since: clock::unix_now().max(0).unsigned_abs(), by: invoking_user(), reason, drain_until }
    }

    /// The drain's deadline, if the marker asks for a drain that is not over at `now` (Unix seconds; `None`, in an
    /// offline plan, counts as before the deadline).
    pub(crate) fn draining_until(&self, now: Option<i64>) -> Option<u64> {
        let until = self.drain_until?;
        let before = now.is_none_or(|now| u64::try_from(now).map_or(true, |now| now < until));
        before.then_some(until)
    }

    /// The drain's deadline, if it is further from `now` (Unix seconds) than any `withdraw-all --drain` can set:
    /// whoever can write the state directory could otherwise keep a failing service announced, through its drain
    /// route-map, for as long as they like.
    pub(crate) fn beyond_any_drain(&self, now: i64) -> Option<u64> {
        let until = self.drain_until?;
        // The longest drain, plus the second that rounding the deadline up may add.
        let latest = now.saturating_add(i64::try_from(crate::config::DRAIN.max.as_secs()).unwrap_or(i64::MAX)) + 1;
        (i128::from(until) > i128::from(latest)).then_some(until)
    }

    /// The marker with its who and why cut to [`MAX_REASON`] characters: they are printed by every pass, and the
    /// file may come from whoever can write the state directory.
    fn shortened(self) -> Maintenance {
        Maintenance { by: shorten(self.by), reason: self.reason.map(shorten), ..self }
    }

    /// When it started, as an RFC 3339 UTC timestamp.
    pub(crate) fn since_utc(&self) -> String {
        utc_timestamp(self.since)
    }
}

/// The most characters of a maintenance reason (`withdraw-all --reason`), and of who wrote the marker, that anycastd
/// keeps: enough for a sentence and a ticket number.
pub const MAX_REASON: usize = 500;

/// `text` cut to [`MAX_REASON`] characters, saying how long it was.
fn shorten(text: String) -> String {
    match text.char_indices().nth(MAX_REASON) {
        Some((end, _)) => format!("{}… (cut: {} bytes in all)", &text[..end], text.len()),
        None => text,
    }
}

/// Reads the marker: `None` when there is none (or no state directory). Whatever exists under the marker's name
/// means maintenance, even when it cannot be read or parsed (a symbolic link, a FIFO, a file too large): nothing is
/// re-announced by surprise. A directory that cannot be looked into is an error: it is unknown whether anycastd is
/// in maintenance.
pub(crate) fn read(state_dir: Option<&StateDir>) -> io::Result<Option<Maintenance>> {
    let Some(state_dir) = state_dir else { return Ok(None) };
    let path = state_dir.file(MARKER_FILE);
    let damaged = |why: String| Maintenance {
        since: 0,
        by: "unknown".into(),
        reason: Some(format!("the marker {} {why}; maintenance stays on", path.display())),
        drain_until: None,
    };
    match state_dir.read(MARKER_FILE, MARKER_LIMIT) {
        Ok(Some(text)) => Ok(Some(match serde_json::from_slice::<Maintenance>(&text) {
            Ok(marker) => match marker.beyond_any_drain(clock::unix_now()) {
                Some(until) => damaged(format!(
                    "asks for a drain until {}, further ahead than the longest drain (withdraw-all --drain {}) \
                     allows: damaged or forged, so withdrawn rather than drained",
                    utc_timestamp(until),
                    crate::config::spoken(crate::config::DRAIN.max)
                )),
                None => marker.shortened(),
            },
            Err(error) => damaged(format!("is damaged ({error})")),
        })),
        Ok(None) => Ok(None),
        Err(error) => match state_dir.exists(MARKER_FILE) {
            Ok(true) => Ok(Some(damaged(format!("cannot be read ({error})")))),
            Ok(false) => Ok(None),
            Err(_) => Err(io::Error::other(format!("cannot read the maintenance marker: {error}"))),
        },
    }
}

/// Writes the marker atomically (a temporary file renamed over it).
pub(crate) fn write(state_dir: &StateDir, maintenance: &Maintenance) -> io::Result<()> {
    let json = serde_json::to_string_pretty(maintenance).map_err(io::Error::other)?;
    state_dir.write(MARKER_FILE, json.as_bytes())
}

/// Removes the marker; `false` when there was none.
pub(crate) fn remove(state_dir: &StateDir) -> io::Result<bool> {
    state_dir.remove(MARKER_FILE)
}

/// The human behind the command: the sudo caller if any, else the login name, else the name in `/etc/passwd` of the
/// user that started it (a unit or a cron job sets none of the variables; root acting as the units' user is still
/// root here), else `uid N`. The variables and the file are input from outside: cut to [`MAX_REASON`] characters
/// here, escaped wherever the marker is printed.
fn invoking_user() -> String {
    let named = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()));
    let by = named.unwrap_or_else(|| {
        let uid = identity::invoking_uid();
        identity::user_name_of(uid).unwrap_or_else(|| format!("uid {uid}"))
    });
    shorten(by)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporary_dir(name: &str) -> (std::path::PathBuf, StateDir) {
        crate::state::scratch_state_dir(&format!("maintenance-{name}"))
    }

    #[test]
    fn a_written_marker_reads_back_and_resume_removes_it() {
        let (dir, state_dir) = temporary_dir("roundtrip");
        assert_eq!(read(Some(&state_dir)).expect("readable"), None);
        let maintenance = Maintenance {
            since: 1_764_067_200,
            by: "alice".into(),
            reason: Some("kernel upgrade".into()),
            drain_until: Some(1_764_067_230),
        };
        write(&state_dir, &maintenance).expect("written");
        assert_eq!(read(Some(&state_dir)).expect("readable"), Some(maintenance));
        assert!(remove(&state_dir).expect("removed"));
        assert!(!remove(&state_dir).expect("nothing to remove"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_or_unreadable_marker_keeps_maintenance_on() {
        let (dir, state_dir) = temporary_dir("damaged");
        std::fs::write(dir.join(MARKER_FILE), "{ not json").expect("written");
        let maintenance = read(Some(&state_dir)).expect("readable").expect("still in maintenance");
        assert!(maintenance.reason.is_some_and(|reason| reason.contains("damaged")));
        std::fs::remove_file(dir.join(MARKER_FILE)).expect("removed");
        std::os::unix::fs::symlink("/dev/zero", dir.join(MARKER_FILE)).expect("planted");
        let maintenance = read(Some(&state_dir)).expect("readable").expect("still in maintenance");
        assert!(maintenance.reason.is_some_and(|reason| reason.contains("is a symbolic link")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_deadline_further_than_the_longest_drain_makes_the_marker_damaged() {
        let (dir, state_dir) = temporary_dir("far-deadline");
        let now = clock::unix_now().unsigned_abs();
        let marker =
            |until: u64| Maintenance { since: now, by: "mallory".into(), reason: None, drain_until: Some(until) };
        write(&state_dir, &marker(now + 86_400)).expect("written");
        assert_eq!(read(Some(&state_dir)).expect("readable"), Some(marker(now + 86_400)), "one day is allowed");
        write(&state_dir, &marker(now + 86_400 * 365)).expect("written");
        let damaged = read(Some(&state_dir)).expect("readable").expect("still in maintenance");
        assert_eq!(damaged.drain_until, None, "withdrawn, not drained");
        assert!(damaged.reason.is_some_and(|reason| reason.contains(
            "further ahead than the longest drain (withdraw-all \
                --drain 1 day) allows: damaged or forged, so withdrawn rather than drained"
        )),);
        write(&state_dir, &marker(u64::MAX)).expect("written");
        assert_eq!(read(Some(&state_dir)).expect("readable").and_then(|m| m.drain_until), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_long_reason_is_cut_when_read() {
        let (dir, state_dir) = temporary_dir("long-reason");
        let marker =
            Maintenance { since: 1, by: "é".repeat(600), reason: Some("x".repeat(900_000)), drain_until: None };
        write(&state_dir, &marker).expect("written");
        let read = read(Some(&state_dir)).expect("readable").expect("a marker");
        assert_eq!(read.reason, Some(format!("{}… (cut: 900000 bytes in all)", "x".repeat(500))));
        assert_eq!(read.by, format!("{}… (cut: 1200 bytes in all)", "é".repeat(500)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_drain_lasts_until_its_deadline() {
        let marker = Maintenance { since: 100, by: "alice".into(), reason: None, drain_until: Some(130) };
        assert_eq!(marker.draining_until(Some(129)), Some(130));
        assert_eq!(marker.draining_until(Some(130)), None, "the deadline itself withdraws");
        assert_eq!(marker.draining_until(None), Some(130), "an offline plan shows the drain");
        let plain = Maintenance { drain_until: None, ..marker };
        assert_eq!(plain.draining_until(Some(0)), None);
        let old: Maintenance =
            serde_json::from_str(r#"{"since":1,"by":"bob","reason":null}"#).expect("an older marker");
        assert_eq!(old.drain_until, None);
    }
}
