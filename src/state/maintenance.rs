//! The maintenance marker: a file in the state directory that keeps every managed prefix withdrawn.
//!
//! `withdraw-all` writes it before withdrawing, so a timer-driven `apply` running a moment later cannot announce
//! the prefixes again; `resume` removes it. While the file exists, anycastd is in maintenance, whatever it says:
//! a marker that cannot be parsed still counts, so a damaged file never re-announces anything by surprise.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::state::StateDir;

/// The marker's file name inside the state directory.
const MARKER_FILE: &str = "maintenance.json";

/// The largest marker read: who, when and why fit in far less.
const MARKER_LIMIT: u64 = 1 << 20;

/// Who put anycastd in maintenance, when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// When it started, in Unix seconds.
    pub since: u64,
    /// Who started it (the invoking user).
    pub by: String,
    /// Why, as given with `--reason`.
    pub reason: Option<String>,
}

impl Maintenance {
    /// Maintenance starting now, by the invoking user.
    pub fn begin(reason: Option<String>) -> Maintenance {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
        Maintenance { since, by: invoking_user(), reason }
    }

    /// When it started, as an RFC 3339 UTC timestamp.
    pub fn since_utc(&self) -> String {
        utc_timestamp(self.since)
    }
}

/// Reads the marker: `None` when there is none (or no state directory). Whatever exists under the marker's name
/// means maintenance, even when it cannot be read or parsed (a symbolic link, a FIFO, a file too large): nothing is
/// re-announced by surprise. A directory that cannot be looked into is an error: it is unknown whether anycastd is
/// in maintenance.
pub fn read(state_dir: Option<&StateDir>) -> io::Result<Option<Maintenance>> {
    let Some(state_dir) = state_dir else { return Ok(None) };
    let path = state_dir.file(MARKER_FILE);
    let damaged = |why: String| Maintenance {
        since: 0,
        by: "unknown".into(),
        reason: Some(format!("the marker {} {why}; maintenance stays on", path.display())),
    };
    match state_dir.read(MARKER_FILE, MARKER_LIMIT) {
        Ok(Some(text)) => {
            Ok(Some(serde_json::from_slice(&text).unwrap_or_else(|error| damaged(format!("is damaged ({error})")))))
        }
        Ok(None) => Ok(None),
        Err(error) => match state_dir.exists(MARKER_FILE) {
            Ok(true) => Ok(Some(damaged(format!("cannot be read ({error})")))),
            Ok(false) => Ok(None),
            Err(_) => Err(io::Error::other(format!("cannot read the maintenance marker: {error}"))),
        },
    }
}

/// Writes the marker atomically (a temporary file renamed over it).
pub fn write(state_dir: &StateDir, maintenance: &Maintenance) -> io::Result<()> {
    let json = serde_json::to_string_pretty(maintenance).map_err(io::Error::other)?;
    state_dir.write(MARKER_FILE, json.as_bytes())
}

/// Removes the marker; `false` when there was none.
pub fn remove(state_dir: &StateDir) -> io::Result<bool> {
    state_dir.remove(MARKER_FILE)
}

/// The human behind the command: the sudo caller if any, else the login name, else the numeric user.
fn invoking_user() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .unwrap_or_else(|| {
            std::fs::metadata("/proc/self").map_or_else(|_| "unknown".into(), |meta| format!("uid {}", meta.uid()))
        })
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (the civil-from-days algorithm, proleptic Gregorian calendar).
pub fn utc_timestamp(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let seconds_of_day = unix_seconds % 86_400;
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let (hour, minute, second) = (seconds_of_day / 3600, seconds_of_day / 60 % 60, seconds_of_day % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporary_dir(name: &str) -> (std::path::PathBuf, StateDir) {
        let dir = std::env::temp_dir().join(format!("anycastd-maintenance-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state_dir = StateDir::create(&dir).expect("state dir");
        (dir, state_dir)
    }

    #[test]
    fn a_written_marker_reads_back_and_resume_removes_it() {
        let (dir, state_dir) = temporary_dir("roundtrip");
        assert_eq!(read(Some(&state_dir)).expect("readable"), None);
        let maintenance =
            Maintenance { since: 1_764_067_200, by: "alice".into(), reason: Some("kernel upgrade".into()) };
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
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_764_067_200), "2025-11-25T10:40:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
    }
}
