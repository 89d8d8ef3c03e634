//! Turns plans and results into what the operator reads: text (coloured on a terminal) or JSON.

mod json;
mod text;
pub(crate) mod words;

use std::io::Write;

pub(crate) use json::{check_json, plan_json};
pub use text::Painter;
pub(crate) use text::{check_text, plan_text, preflight_text};

use crate::plan::Plan;

/// Output formats of the reports on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Text,
    /// For programs: a stable, versioned schema.
    Json,
}

/// Where and how reports are printed: stdout, as text or JSON, or not at all (`--quiet`).
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// Text or JSON.
    pub format: Format,
    /// Colours, or none.
    pub painter: Painter,
    /// No report at all.
    pub quiet: bool,
}

impl Output {
    /// Prints a plan (or an applied plan) made by `command` to stdout, unless quiet.
    pub(crate) fn plan(&self, plan: &Plan, command: &str, tense: Tense) {
        if self.quiet {
            return;
        }
        match self.format {
            Format::Text => emit(&plan_text(plan, tense, self.painter)),
            Format::Json => emit(&format!("{}\n", plan_json(plan, command, tense))),
        }
    }
}

/// Writes to stdout. A reader that went away (`anycastd plan | head`) is not an error worth a panic: what it did
/// not read is dropped; the exit code still tells the outcome.
pub(crate) fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Whether a plan is shown before or after it was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tense {
    /// `plan`: what would be done.
    Planned,
    /// `apply`, `withdraw-all`, `run`: what was done.
    Applied,
}
