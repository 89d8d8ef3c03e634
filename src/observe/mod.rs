//! What a pass tells the world besides its report: log lines, the metrics file, and the operator's hooks.

pub mod hooks;
pub mod log;
pub mod metrics;
