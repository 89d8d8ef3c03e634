//! What a pre-flight (`check --frr`, `check --cabourotte`) found: one line each, with how serious it is.

use serde::Serialize;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// As it should be.
    Ok,
    /// Works, but probably not as the operator expects.
    Warning,
    /// anycastd cannot do its job.
    Error,
}

/// One thing a pre-flight found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How serious it is.
    pub level: Level,
    /// What kind of finding it is: kebab-case, stable, never reworded (the JSON output's `code`).
    pub code: &'static str,
    /// What it is about.
    pub subject: String,
    /// What was found, and what to do.
    pub message: String,
}

impl Finding {
    /// A finding of kind `code` about `subject`.
    pub fn new(level: Level, code: &'static str, subject: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding { level, code, subject: subject.into(), message: message.into() }
    }
}
