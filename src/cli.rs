//! The command line, as clap definitions only.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser, Subcommand, ValueEnum};

use anycastd::config::{self, DEFAULT_PATH};
use anycastd::observe::log;
use anycastd::render;

/// Announce anycast service prefixes through FRRouting only while Cabourotte says the service is healthy.
///
/// Each command is one pass: read the configuration, ask Cabourotte for every check, read FRR's running config,
/// and compute the plan that makes FRR match.
#[derive(Debug, Parser)]
#[command(name = "anycastd", version)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        short = 'c',
        long = "configuration",
        visible_alias = "config",
        env = "ANYCASTD_CONFIG",
        default_value = DEFAULT_PATH,
        global = true
    )]
    pub configuration: PathBuf,

    /// Where the maintenance marker, the run lock, the rise/fall counts and the configuration cache live; created
    /// 0700 when missing, refused when its group or others can write it.
    #[arg(long, env = "ANYCASTD_STATE_DIR", default_value = "/var/lib/anycastd", global = true)]
    pub state_dir: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,

    /// When to colour text output (auto: on a terminal, unless NO_COLOR is set or TERM=dumb).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Deadline of each vtysh call (seconds, or e.g. "500ms", "10s"; 100 ms to 1 h).
    #[arg(long, value_parser = vtysh_timeout, default_value = "10s", global = true)]
    pub vtysh_timeout: Duration,

    /// Deadline of each HTTP request to Cabourotte (seconds, or e.g. "500ms", "2s"; 10 ms to 1 h).
    #[arg(long, value_parser = http_timeout, default_value = "2s", global = true)]
    pub http_timeout: Duration,

    /// How long apply, withdraw-all, resume and each pass of run wait for another anycastd's lock (10 ms to 1 h).
    #[arg(long, value_parser = lock_timeout, default_value = "5s", global = true)]
    pub lock_timeout: Duration,

    /// Write Prometheus metrics to this file after every apply, withdraw-all and run pass.
    #[arg(long, value_name = "PATH", env = "ANYCASTD_METRICS_FILE", global = true)]
    pub metrics_file: Option<PathBuf>,

    /// Format of the log lines on stderr (one per change or error).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Print no report on stdout (log lines on stderr remain): for timers and loop mode.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print what apply would change, and change nothing.
    Plan {
        /// Exit 0 when nothing would change, 2 when changes are pending, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Read FRR's `show running-config` from FILE (`-` for stdin) instead of calling vtysh.
        #[arg(long, value_name = "FILE")]
        running_config: Option<PathBuf>,
        /// Read Cabourotte's `GET /result` answer from FILE instead of asking Cabourotte.
        #[arg(long, value_name = "FILE", conflicts_with = "assume")]
        health: Option<PathBuf>,
        /// Assume every check healthy or unhealthy instead of asking Cabourotte.
        #[arg(long, value_enum)]
        assume: Option<Assumption>,
    },
    /// Make FRR announce the prefixes of healthy services and withdraw the others.
    Apply,
    /// Enter maintenance: withdraw every managed prefix and keep them withdrawn until `resume`.
    WithdrawAll {
        /// Why, recorded in the maintenance marker and shown by plan.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Leave maintenance: the next apply announces healthy services again.
    Resume,
    /// Validate the configuration and print a summary; touch nothing.
    #[command(visible_alias = "validate", group(ArgGroup::new("frr_preflight").args(["frr", "all"]).multiple(true)))]
    Check {
        /// Also verify, changing nothing, that FRR is ready: vtysh works, the BGP instances exist, and each prefix
        /// has a route in FRR's RIB where import-check requires one.
        #[arg(long)]
        frr: bool,
        /// With --frr: FRR's startup config, searched for managed networks saved by `write memory` (FRR would
        /// announce them at boot, before any check).
        #[arg(long, value_name = "PATH", default_value = "/etc/frr/frr.conf", requires = "frr_preflight")]
        frr_conf: PathBuf,
        /// Also ask each Cabourotte once, changing nothing: whether it answers (TLS, credentials), which configured
        /// checks its result list lacks, and how old each check's latest result is.
        #[arg(long)]
        cabourotte: bool,
        /// Both pre-flights: --frr and --cabourotte.
        #[arg(long)]
        all: bool,
    },
    /// Loop mode: run an apply pass every interval; withdraw everything on SIGINT/SIGTERM.
    Run {
        /// Time between passes (default: the shortest check interval; 100 ms to 1 day).
        #[arg(long, value_parser = interval)]
        interval: Option<Duration>,
        /// On SIGINT/SIGTERM, leave the prefixes as they are instead of withdrawing them.
        #[arg(long)]
        keep_on_exit: bool,
    },
}

/// What `plan --assume` takes every check to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Assumption {
    /// Every check passes.
    Healthy,
    /// Every check fails.
    Unhealthy,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For programs: a stable, versioned schema.
    Json,
}

/// Formats of the log lines on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `anycastd apply: announced 203.0.113.53/32 ...`
    Text,
    /// `{"level": "info", "event": "announced", ...}`
    Json,
}

impl From<Format> for render::Format {
    fn from(format: Format) -> render::Format {
        match format {
            Format::Text => render::Format::Text,
            Format::Json => render::Format::Json,
        }
    }
}

impl From<LogFormat> for log::LogFormat {
    fn from(format: LogFormat) -> log::LogFormat {
        match format {
            LogFormat::Text => log::LogFormat::Text,
            LogFormat::Json => log::LogFormat::Json,
        }
    }
}

impl Command {
    /// The command's name as typed, for log events.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Plan { .. } => "plan",
            Command::Apply => "apply",
            Command::WithdrawAll { .. } => "withdraw-all",
            Command::Resume => "resume",
            Command::Check { .. } => "check",
            Command::Run { .. } => "run",
        }
    }
}

/// Colour choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// `--vtysh-timeout`, within its bounds (see `config/duration.rs`, why each bound is what it is).
fn vtysh_timeout(text: &str) -> Result<Duration, String> {
    config::VTYSH_TIMEOUT.parse(text)
}

/// `--http-timeout`, within its bounds.
fn http_timeout(text: &str) -> Result<Duration, String> {
    config::HTTP_TIMEOUT.parse(text)
}

/// `--lock-timeout`, within its bounds.
fn lock_timeout(text: &str) -> Result<Duration, String> {
    config::LOCK_TIMEOUT.parse(text)
}

/// `run --interval`, within the bounds of a check's `interval`.
fn interval(text: &str) -> Result<Duration, String> {
    config::INTERVAL.parse(text)
}
