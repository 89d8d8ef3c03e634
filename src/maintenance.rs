//! The maintenance marker: a file in the state directory that keeps every managed prefix withdrawn.
//!
//! `withdraw-all` writes it before withdrawing, so a timer-driven `apply` running a moment later cannot announce
//! the prefixes again; `resume` removes it. While the file exists, anycastd is in maintenance, whatever it says:
//! a marker that cannot be parsed still counts, so a damaged file never re-announces anything by surprise.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The marker's file name inside the state directory.
const MARKER_FILE: &str = "maintenance.json";

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

/// The marker file of a state directory.
pub fn marker_path(state_dir: &Path) -> PathBuf {
    state_dir.join(MARKER_FILE)
}

/// Reads the marker: `None` when there is none. An unreadable directory is an error: it is unknown whether
/// anycastd is in maintenance.
pub fn read(state_dir: &Path) -> io::Result<Option<Maintenance>> {
    let path = marker_path(state_dir);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io::Error::new(error.kind(), format!("cannot read {}: {error}", path.display()))),
    };
    Ok(Some(serde_json::from_str(&text).unwrap_or_else(|error| Maintenance {
        since: 0,
        by: "unknown".into(),
        reason: Some(format!("the marker {} is damaged ({error}); maintenance stays on", path.display())),
    })))
}

/// Writes the marker atomically (a temporary file renamed over it), creating the state directory if needed.
pub fn write(state_dir: &Path, maintenance: &Maintenance) -> io::Result<()> {
    crate::atomic::create_private_dir(state_dir)
        .map_err(|error| io::Error::new(error.kind(), format!("cannot create {}: {error}", state_dir.display())))?;
    let json = serde_json::to_string_pretty(maintenance).map_err(io::Error::other)?;
    crate::atomic::write(&marker_path(state_dir), json.as_bytes(), crate::atomic::PRIVATE)
}

/// Removes the marker; `false` when there was none.
pub fn remove(state_dir: &Path) -> io::Result<bool> {
    let path = marker_path(state_dir);
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(io::Error::new(error.kind(), format!("cannot remove {}: {error}", path.display()))),
    }
}

/// The human behind the command: the sudo caller if any, else the login name, else the numeric user.
fn invoking_user() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .unwrap_or_else(|| {
            fs::metadata("/proc/self").map_or_else(|_| "unknown".into(), |meta| format!("uid {}", meta.uid()))
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

    fn temporary_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("anycastd-maintenance-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_written_marker_reads_back_and_resume_removes_it() {
        let dir = temporary_dir("roundtrip");
        assert_eq!(read(&dir).expect("readable"), None);
        let maintenance =
            Maintenance { since: 1_764_067_200, by: "alice".into(), reason: Some("kernel upgrade".into()) };
        write(&dir, &maintenance).expect("written");
        assert_eq!(read(&dir).expect("readable"), Some(maintenance));
        assert!(remove(&dir).expect("removed"));
        assert!(!remove(&dir).expect("nothing to remove"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_marker_keeps_maintenance_on() {
        let dir = temporary_dir("damaged");
        fs::create_dir_all(&dir).expect("dir");
        fs::write(marker_path(&dir), "{ not json").expect("written");
        let maintenance = read(&dir).expect("readable").expect("still in maintenance");
        assert!(maintenance.reason.is_some_and(|reason| reason.contains("damaged")));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_764_067_200), "2025-11-25T10:40:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
    }
}
