//! What a pass tells the world besides its report: log lines, the metrics file, and the operator's hooks.

pub(crate) mod hooks;
pub mod log;
pub(crate) mod metrics;
