//! What every command takes from the command line, built once in `main` and handed down: the files, the deadlines,
//! where reports and log lines go. Lower layers read only the fields they need; none of them knows clap.

use std::path::PathBuf;
use std::time::Duration;

use crate::observe::log::Logging;
use crate::render::Output;

/// The command line's settings for one invocation.
#[derive(Clone, Debug)]
pub struct Context {
    /// The configuration file.
    pub config_path: PathBuf,
    /// Where the maintenance marker, the run lock, the rise/fall counts and the config cache live.
    pub state_dir: PathBuf,
    /// The deadline of every vtysh call.
    pub vtysh_timeout: Duration,
    /// The deadline of every HTTP request.
    pub http_timeout: Duration,
    /// How long a changing pass waits for another anycastd's run lock.
    pub lock_timeout: Duration,
    /// Where to write metrics after each changing pass, if anywhere.
    pub metrics_file: Option<PathBuf>,
    /// How log lines (and a fatal error) are written on stderr, and which.
    pub logging: Logging,
    /// How reports are printed on stdout.
    pub output: Output,
}
