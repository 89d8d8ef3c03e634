//! Durations as operators write them: `5`, `0.5`, `"500ms"`, `"2s"`, `"1m"`, `"1h"`.

use std::time::Duration;

/// Parses a positive duration: a number of seconds, or a number followed by `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(format!("`{text}` is not a duration (e.g. 5, 0.5, \"500ms\", \"2s\")"));
    }
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit `{other}`: use ms, s, m or h (e.g. \"500ms\", \"2s\", \"1m\")")),
    };
    let value: f64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration (e.g. 5, 0.5, \"500ms\", \"2s\")"))?;
    seconds(value * scale)
}

/// Turns a number of seconds into a positive duration.
pub fn seconds(value: f64) -> Result<Duration, String> {
    if !value.is_finite() || value <= 0.0 {
        return Err("must be greater than zero".into());
    }
    Duration::try_from_secs_f64(value).map_err(|_| "is too large".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_spellings() {
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn rejects_zero_negative_and_nonsense() {
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("2 weeks").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
        assert!(seconds(f64::NAN).is_err());
    }
}
