//! What went wrong in a pass outside any one prefix, as data: the wording is the renderer's
//! (`render::words::pass_error`), and each kind has a stable `code` for the JSON output (`error_codes`).

/// One error of a pass as a whole. `detail` is what the operating system or the state directory said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassError {
    /// Something the pass needs before it may announce could not be had or kept: it withdraws but announces nothing.
    WithdrawOnly {
        /// What could not be had or kept.
        cause: HoldProblem,
        /// Why.
        detail: String,
    },
    /// `withdraw-all` could not write the maintenance marker: it withdraws anyway, but the next pass may announce.
    MarkerNotWritten {
        /// Why.
        detail: String,
    },
    /// The metrics file could not be written.
    MetricsNotWritten {
        /// Why.
        detail: String,
    },
}

/// What a pass needs before it may announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldProblem {
    /// The state directory (it cannot be created, or is not trusted).
    StateDir,
    /// The run lock.
    Lock,
    /// The rise/fall counts, written before anything is applied.
    Counts,
    /// The record of the prefixes anycastd announces, written before anything is applied.
    Record,
    /// The maintenance marker, which could not be read.
    Marker,
    /// A valid configuration file: the last valid configuration stands in for a broken one.
    Configuration,
}

impl PassError {
    /// A pass that withdraws but announces nothing, because of `cause`.
    pub fn withdraw_only(cause: HoldProblem, detail: impl ToString) -> PassError {
        PassError::WithdrawOnly { cause, detail: detail.to_string() }
    }

    /// What the operating system or the state directory said.
    pub fn detail(&self) -> &str {
        match self {
            PassError::WithdrawOnly { detail, .. }
            | PassError::MarkerNotWritten { detail }
            | PassError::MetricsNotWritten { detail } => detail,
        }
    }

    /// Its stable code in the JSON output (`error_codes`): kebab-case, never reworded.
    pub fn code(&self) -> &'static str {
        match self {
            PassError::WithdrawOnly { cause: HoldProblem::StateDir, .. } => "state-dir-unusable",
            PassError::WithdrawOnly { cause: HoldProblem::Lock, .. } => "lock-not-taken",
            PassError::WithdrawOnly { cause: HoldProblem::Counts, .. } => "counts-not-kept",
            PassError::WithdrawOnly { cause: HoldProblem::Record, .. } => "record-not-kept",
            PassError::WithdrawOnly { cause: HoldProblem::Marker, .. } => "marker-unreadable",
            PassError::WithdrawOnly { cause: HoldProblem::Configuration, .. } => "config-invalid",
            PassError::MarkerNotWritten { .. } => "marker-not-written",
            PassError::MetricsNotWritten { .. } => "metrics-not-written",
        }
    }
}
