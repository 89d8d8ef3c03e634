//! Turns plans and results into what the operator reads: text (coloured on a terminal) or JSON.

mod json;
mod text;

use std::time::Duration;

pub use json::{check_json, plan_json};
pub use text::{Painter, check_text, plan_text, prefix_error};

/// Whether a plan is shown before or after it was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tense {
    /// `plan`: what would be done.
    Planned,
    /// `apply`, `withdraw-all`, `run`: what was done.
    Applied,
}

/// A duration as a person writes it: `2 s`, `500 ms`, `1.5 s`.
pub fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(seconds(Duration::from_millis(500)), "500 ms");
        assert_eq!(seconds(Duration::from_secs(2)), "2 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
    }
}
