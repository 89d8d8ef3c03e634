//! Durations as operators write them: `5`, `0.5`, `"500ms"`, `"2s"`, `"1m"`, `"1h"`, each within the range of the
//! setting it is for.
//!
//! Every setting has a floor and a ceiling. Below the floor a value makes anycastd spin or fail every time (a pass
//! every 0 ms, a vtysh killed before it could answer); above the ceiling it is a typo, and a deadline that far away
//! overflows the clock. The "Limits" section of docs/configuration.md lists them.

use std::time::Duration;

/// The durations a setting accepts, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The shortest accepted.
    pub min: Duration,
    /// The longest accepted.
    pub max: Duration,
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// A check's `interval` and `run --interval`: each pass costs at least one vtysh call (about 20 ms) and one HTTP
/// request, so below 100 ms `run` only spins; a loop that waits more than a day between passes is a mistake.
pub const INTERVAL: Bounds = Bounds { min: Duration::from_millis(100), max: Duration::from_secs(DAY) };

/// `max_age`: Cabourotte's timestamps are whole seconds, so under 1 s every result would be stale; a result older
/// than a day says nothing about the service now.
pub(crate) const MAX_AGE: Bounds = Bounds { min: Duration::from_secs(1), max: Duration::from_secs(DAY) };

/// A command check's `timeout`: starting a program takes milliseconds; a check that needs more than a minute holds up
/// every pass of its service (and `run`'s loop) that long.
pub const EXEC_TIMEOUT: Bounds = Bounds { min: Duration::from_millis(100), max: Duration::from_secs(MINUTE) };

/// `on_change_timeout`: starting a program alone takes milliseconds; a hook may hold up loop mode for at most an hour.
pub(crate) const HOOK_TIMEOUT: Bounds = Bounds { min: Duration::from_millis(100), max: Duration::from_secs(HOUR) };

/// `--vtysh-timeout`: one vtysh call takes about 20 ms on an idle host, so under 100 ms every call on a busy one
/// would be killed; a vtysh hung for an hour is hung.
pub const VTYSH_TIMEOUT: Bounds = Bounds { min: Duration::from_millis(100), max: Duration::from_secs(HOUR) };

/// `--http-timeout`: Cabourotte usually answers on the loopback within milliseconds.
pub const HTTP_TIMEOUT: Bounds = Bounds { min: Duration::from_millis(10), max: Duration::from_secs(HOUR) };

/// `run --resync`: a full read of FRR takes tens of milliseconds, so under a second it is every pass (write 0 for
/// that); a hand edit left alone for more than a day is not caught in time. `0` is the one value outside.
pub const RESYNC: Bounds = Bounds { min: Duration::from_secs(1), max: Duration::from_secs(DAY) };

/// `withdraw-all --drain`: long enough for peers to move away (BGP converges in seconds), at most a day.
pub const DRAIN: Bounds = Bounds { min: Duration::from_secs(1), max: Duration::from_secs(DAY) };

/// `--lock-timeout`: a lock holder is one pass of anycastd, seconds at most.
pub const LOCK_TIMEOUT: Bounds = Bounds { min: Duration::from_millis(10), max: Duration::from_secs(HOUR) };

impl Bounds {
    /// Parses `text` (see [`parse_seconds`]) and checks it is within the bounds.
    pub fn parse(&self, text: &str) -> Result<Duration, String> {
        self.checked(parse_seconds(text)?)
    }

    /// A number of seconds as a duration, if it is within the bounds. Checked as a number first, so that no value,
    /// however large, small or odd (NaN, infinity), is turned into a duration that could overflow or round to zero.
    pub(crate) fn checked(&self, value: f64) -> Result<Duration, String> {
        if value.is_nan() || value < self.min.as_secs_f64() {
            return Err(format!("must be at least {}", spoken(self.min)));
        }
        if value > self.max.as_secs_f64() {
            return Err(format!("must be at most {}", spoken(self.max)));
        }
        Ok(Duration::from_secs_f64(value))
    }

    /// `100 ms to 1 day`.
    pub(crate) fn range(&self) -> String {
        format!("{} to {}", spoken(self.min), spoken(self.max))
    }
}

/// Parses a number of seconds, or a number followed by `ms`, `s`, `m` or `h`; the result may be any number.
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let not_a_duration = || format!("`{text}` is not a duration (e.g. 5, 0.5, \"500ms\", \"2s\")");
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        _ if number.is_empty() => return Err(not_a_duration()),
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit `{other}`: use ms, s, m or h (e.g. \"500ms\", \"2s\", \"1m\")")),
    };
    let value: f64 = number.parse().map_err(|_| not_a_duration())?;
    Ok(value * scale)
}

/// A bound as a person says it: `100 ms`, `1 s`, `1 h`, `1 day`.
/// A measured or configured duration as a person writes it, for messages and reports: `2 s`, `500 ms`, `1.5 s`.
/// (The reverse of [`parse_seconds`]; bounds are spoken in larger units, see `spoken`.)
pub fn describe(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{} s", duration.as_secs_f64())
    }
}

/// A duration as a person says it: `1 day`, `5 s`, `100 ms`.
pub fn spoken(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match () {
        _ if duration.subsec_nanos() != 0 || seconds == 0 => format!("{} ms", duration.as_millis()),
        _ if seconds.is_multiple_of(DAY) => plural(seconds / DAY, "day"),
        _ if seconds.is_multiple_of(HOUR) => format!("{} h", seconds / HOUR),
        _ if seconds.is_multiple_of(MINUTE) => format!("{} min", seconds / MINUTE),
        _ => format!("{seconds} s"),
    }
}

fn plural(count: u64, unit: &str) -> String {
    if count == 1 { format!("1 {unit}") } else { format!("{count} {unit}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_spellings() {
        let any = Bounds { min: Duration::from_millis(1), max: Duration::from_secs(DAY) };
        assert_eq!(any.parse("5"), Ok(Duration::from_secs(5)));
        assert_eq!(any.parse("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(any.parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(any.parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(any.parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(any.parse("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn rejects_nonsense_and_values_out_of_bounds() {
        assert_eq!(INTERVAL.parse("0"), Err("must be at least 100 ms".into()));
        assert_eq!(INTERVAL.parse("0.0001ms"), Err("must be at least 100 ms".into()));
        assert_eq!(INTERVAL.parse("99ms"), Err("must be at least 100 ms".into()));
        assert_eq!(INTERVAL.parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(INTERVAL.parse("24h"), Ok(Duration::from_secs(DAY)));
        assert_eq!(INTERVAL.parse("86400.001"), Err("must be at most 1 day".into()));
        assert_eq!(LOCK_TIMEOUT.parse("18000000000000000000"), Err("must be at most 1 h".into()));
        assert_eq!(INTERVAL.checked(f64::NAN), Err("must be at least 100 ms".into()));
        assert_eq!(INTERVAL.checked(f64::INFINITY), Err("must be at most 1 day".into()));
        assert!(INTERVAL.parse("-1").unwrap_err().contains("is not a duration"));
        assert!(INTERVAL.parse("2 weeks").unwrap_err().contains("unknown unit"));
        assert!(INTERVAL.parse("").is_err());
        assert_eq!(MAX_AGE.range(), "1 s to 1 day");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(describe(Duration::from_millis(500)), "500 ms");
        assert_eq!(describe(Duration::from_secs(2)), "2 s");
        assert_eq!(describe(Duration::from_millis(1500)), "1.5 s");
    }
}
