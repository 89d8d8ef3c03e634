//! The wall clock, in the forms anycastd uses: Unix seconds (results' age, the drain's deadline) and RFC 3339 UTC
//! timestamps, in whole seconds (reports) or to the microsecond (log lines).

use std::time::{SystemTime, UNIX_EPOCH};

/// The time now, in Unix seconds (0 on a clock before 1970).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_timestamp(unix_seconds: u64) -> String {
    format!("{}Z", utc_seconds(unix_seconds))
}

/// Formats a time as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, to the microsecond (truncated), as the original anycastd's log
/// lines do (structlog's ISO timestamps): a pipeline that parses its six digits parses ours. A time before 1970 is
/// the epoch.
pub(crate) fn utc_timestamp_micros(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:06}Z", utc_seconds(since.as_secs()), since.subsec_micros())
}

/// `YYYY-MM-DDTHH:MM:SS` of Unix seconds, in UTC (the civil-from-days algorithm, proleptic Gregorian calendar).
fn utc_seconds(unix_seconds: u64) -> String {
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
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_764_067_200), "2025-11-25T10:40:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn log_timestamps_carry_microseconds() {
        let at = |seconds, nanos| UNIX_EPOCH + std::time::Duration::new(seconds, nanos);
        assert_eq!(utc_timestamp_micros(at(1_764_067_200, 123_456_789)), "2025-11-25T10:40:00.123456Z");
        assert_eq!(utc_timestamp_micros(at(0, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(utc_timestamp_micros(at(951_782_399, 999_999_999)), "2000-02-28T23:59:59.999999Z");
        assert_eq!(utc_timestamp_micros(UNIX_EPOCH - std::time::Duration::from_secs(1)), "1970-01-01T00:00:00.000000Z");
    }
}
