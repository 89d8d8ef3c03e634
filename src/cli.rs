//! The command line, as clap definitions only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, CommandFactory, Parser, Subcommand, ValueEnum};

use anycastd::config::{self, DEFAULT_PATH};
use anycastd::observe::log;
use anycastd::render;

/// Announce anycast service prefixes through FRRouting only while Cabourotte says the service is healthy.
///
/// Each command is one pass: read the configuration, ask Cabourotte for every check, read FRR's running config,
/// and compute the plan that makes FRR match.
#[derive(Debug, Parser)]
#[command(name = "anycastd", version, after_help = ROOT_AFTER_HELP)]
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

    /// Where the maintenance marker, the run lock, the rise/fall counts, the configuration cache and the record of
    /// managed prefixes live; created 0700 when missing, refused when its group or others can write it.
    #[arg(long, env = "ANYCASTD_STATE_DIR", default_value = "/var/lib/anycastd", global = true)]
    pub state_dir: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,

    /// When to colour text output (auto: on a terminal, unless NO_COLOR is set or TERM=dumb).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Never colour (the original anycastd's flag; the same as --color never).
    #[arg(long, global = true)]
    pub no_color: bool,

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

    /// Format of the log lines on stderr (one per change or error); human is text, as in the original anycastd.
    #[arg(long, value_enum, env = "LOG_FORMAT", ignore_case = true, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// The least serious log lines written on stderr (the original anycastd's flag).
    #[arg(long, value_enum, env = "LOG_LEVEL", ignore_case = true, default_value_t = LogLevel::Info, global = true)]
    pub log_level: LogLevel,

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
        /// Read what `birdc show route table all where proto ~ "anycastd_*" all` printed from FILE (`-` for stdin), for
        /// every BIRD, instead of asking BIRD.
        #[arg(long, value_name = "FILE")]
        bird_routes: Option<PathBuf>,
    },
    /// Make FRR announce the prefixes of healthy services and withdraw the others.
    Apply,
    /// Enter maintenance: withdraw every managed prefix and keep them withdrawn until `resume`.
    WithdrawAll {
        /// Why, recorded in the maintenance marker and shown by plan (at most 500 characters).
        #[arg(long, value_parser = maintenance_reason)]
        reason: Option<String>,
        /// Drain first: for this long, announced prefixes carry their drain_route_map (prefixes without one are
        /// withdrawn at once); then they are withdrawn. The deadline is kept in the maintenance marker.
        #[arg(long, value_parser = drain, value_name = "DURATION")]
        drain: Option<Duration>,
        /// With --drain: return once drained, and leave the withdrawal to the first apply or run pass after the
        /// deadline (the timer's, or the loop's), instead of waiting for it.
        #[arg(long, requires = "drain")]
        no_wait: bool,
    },
    /// Leave maintenance: the next apply announces healthy services again.
    Resume,
    /// Forget that anycastd manages PREFIX, without withdrawing it: for a prefix moved into FRR's own configuration,
    /// which anycastd would otherwise withdraw once its configuration no longer names it.
    Forget {
        /// The prefix, as in the configuration (`203.0.113.80`, `203.0.113.0/24`).
        prefix: String,
        /// Only in this VRF (`default` for the default VRF); every VRF when not given.
        #[arg(long)]
        vrf: Option<String>,
    },
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
        /// Also ask each BIRD once, changing nothing: whether it answers (the socket, group bird), runs, declares the
        /// drain mark where a prefix drains, runs the protocols of anycastd's file, and has a BGP session up.
        #[arg(long)]
        bird: bool,
        /// Also run every exec check once, at most 8 at a time, and say what each one said (anycastd announces
        /// nothing from it).
        #[arg(long)]
        exec: bool,
        /// Every pre-flight: --frr, --cabourotte, --bird and --exec.
        #[arg(long)]
        all: bool,
    },
    /// Loop mode: run an apply pass every interval; withdraw everything on SIGINT/SIGTERM; SIGHUP reloads.
    Run {
        /// Time between passes (default: the shortest check interval; 100 ms to 1 day).
        #[arg(long, value_parser = interval)]
        interval: Option<Duration>,
        /// On SIGINT/SIGTERM, leave the prefixes as they are instead of withdrawing them.
        #[arg(long)]
        keep_on_exit: bool,
        /// Read FRR's running config in full at least this often, to catch hand edits; between resyncs a pass that
        /// changes nothing does not call vtysh. 0: on every pass (1 s to 1 day, or 0).
        #[arg(long, value_parser = resync, default_value = "30s")]
        resync: Duration,
        /// Accept Cabourotte's HTTP exporter at POST /push, and serve GET /metrics and GET /healthz, on ADDR:PORT.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
        /// A file holding the shared secret that every push must carry (`Authorization: Bearer SECRET`): one line, at
        /// most 4096 bytes, not readable by others; read again on SIGHUP.
        #[arg(long, value_name = "PATH", requires = "listen")]
        push_secret_file: Option<PathBuf>,
        /// Accept pushes from a loopback address without the secret. Any local user can then withdraw every service.
        #[arg(long, requires = "listen")]
        allow_unauthenticated_loopback: bool,
        /// Serve GET /metrics and GET /healthz here instead of on --listen.
        #[arg(long, value_name = "ADDR:PORT")]
        metrics_listen: Option<SocketAddr>,
    },
    /// Print the completion script for SHELL (the Debian package installs those of bash, zsh and fish).
    ///
    /// For bash: `anycastd completions bash > ~/.local/share/bash-completion/completions/anycastd`; for zsh, a file
    /// `_anycastd` in a directory of $fpath; for fish, `~/.config/fish/completions/anycastd.fish`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page anycastd(1) in roff (`anycastd man | man -l -`); the Debian package installs it.
    Man,
}

/// The last line of `anycastd --help`.
const ROOT_AFTER_HELP: &str = "Each option above but --version is valid before or after the command; \
                               `anycastd COMMAND --help` shows the command's own.";

/// The last line of each command's `--help`, which lists only the command's own options.
const GLOBAL_OPTIONS_ELSEWHERE: &str = "Global options (-c/--config, --state-dir, --format, --quiet, ...), valid \
                                        before or after the command: see `anycastd --help`.";

/// The command line as anycastd parses it and `--help` shows it: the global options are accepted before or after the
/// command, as the original anycastd's were, but listed once, in `anycastd --help`, not again in each command's help.
///
/// clap (4.6) gives every command a copy of each global option when it builds the command line, unless the command
/// already has an option of that id; values are merged by id when parsed. Each command gets its copy here, first,
/// hidden: parsing is what it was, and the command's help shows what the command takes. (Hiding the options needs
/// their copies: `mut_arg` cannot reach an option clap has not copied yet, and a help template cannot leave options
/// out.) The completions and the man page use [`Cli::command`], where nothing is hidden, so that `anycastd plan
/// --st<TAB>` still completes.
pub fn command() -> clap::Command {
    let root = Cli::command();
    let globals: Vec<clap::Arg> =
        root.get_arguments().filter(|arg| arg.is_global_set()).map(|arg| arg.clone().hide(true)).collect();
    root.mut_subcommands(|command| command.args(globals.clone()).after_help(GLOBAL_OPTIONS_ELSEWHERE))
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
    /// `anycastd apply: announced 203.0.113.53/32 for service dns ...`
    #[value(alias = "human")]
    Text,
    /// `{"level":"info","event":"announced","command":"apply",...}`
    Json,
    /// `level=info event=announced command=apply ...`
    Logfmt,
}

/// The least serious log lines written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// Changes and everything more serious.
    Info,
    /// Warnings and errors.
    #[value(alias = "warn")]
    Warning,
    /// Errors only.
    Error,
}

impl From<LogLevel> for log::LogLevel {
    fn from(level: LogLevel) -> log::LogLevel {
        match level {
            LogLevel::Debug => log::LogLevel::Debug,
            LogLevel::Info => log::LogLevel::Info,
            LogLevel::Warning => log::LogLevel::Warning,
            LogLevel::Error => log::LogLevel::Error,
        }
    }
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
            LogFormat::Logfmt => log::LogFormat::Logfmt,
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
            Command::Forget { .. } => "forget",
            Command::Check { .. } => "check",
            Command::Run { .. } => "run",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
        }
    }

    /// Whether the command reads or writes the state directory: root takes the units' identity for those alone
    /// (`check` reads FRR's own files, such as a root-only `frr.conf`, as whoever runs it).
    pub fn uses_state_dir(&self) -> bool {
        !matches!(self, Command::Check { .. } | Command::Completions { .. } | Command::Man)
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

/// `run --resync`: 0 (every pass, the one sentinel below the floor), else 1 s to 1 day.
fn resync(text: &str) -> Result<Duration, String> {
    match config::parse_seconds(text)? {
        0.0 => Ok(Duration::ZERO),
        _ => config::RESYNC.parse(text),
    }
}

/// `withdraw-all --drain`, within its bounds.
fn drain(text: &str) -> Result<Duration, String> {
    config::DRAIN.parse(text)
}

/// `withdraw-all --reason`: a sentence, printed by every pass while in maintenance, so bounded.
fn maintenance_reason(text: &str) -> Result<String, String> {
    let max = anycastd::state::maintenance::MAX_REASON;
    match text.chars().count() {
        count if count > max => Err(format!("is {count} characters long; at most {max} are kept")),
        _ => Ok(text.to_string()),
    }
}

/// `run --interval`, within the bounds of a check's `interval`.
fn interval(text: &str) -> Result<Duration, String> {
    config::INTERVAL.parse(text)
}

#[cfg(test)]
mod tests {
    //! The README's tables of commands and options against the clap definitions that `--help` renders: every
    //! command, flag, short form, alias, default, environment variable and possible value, both ways.

    use std::collections::BTreeMap;

    use clap::{CommandFactory, FromArgMatches, ValueEnum};

    use super::{Cli, Command, Format, LogFormat, LogLevel, log};

    const README: &str = include_str!("../README.md");

    /// The cells of each row of the first table after the line `heading`, `\|` kept as `|` inside a cell.
    fn table_after(heading: &str) -> Vec<Vec<String>> {
        let start = README.find(heading).unwrap_or_else(|| panic!("the README has no {heading:?}"));
        let rows = README[start..].lines().skip_while(|line| !line.starts_with('|')).take_while(|l| l.starts_with('|'));
        rows.skip(2)
            .map(|row| {
                let row = row.replace("\\|", "\u{0}");
                let cells = row.trim().trim_matches('|').split('|');
                cells.map(|cell| cell.trim().replace('\u{0}', "|")).collect()
            })
            .collect()
    }

    /// The `code` spans of a cell.
    fn spans(cell: &str) -> Vec<&str> {
        cell.split('`').skip(1).step_by(2).collect()
    }

    /// What the README and `--help` must agree on about one option.
    #[derive(Debug, PartialEq, Eq)]
    struct Facts {
        spellings: Vec<String>,
        values: Vec<String>,
        env: Option<String>,
        default: Option<String>,
    }

    fn readme_options() -> BTreeMap<String, Facts> {
        let mut options = BTreeMap::new();
        for row in table_after("Options (valid before or after the command):") {
            let mut spellings = Vec::new();
            let mut values = Vec::new();
            for span in spans(&row[0]) {
                let mut words = span.split_whitespace();
                spellings.extend(words.next().map(str::to_string));
                if let Some(value) = words.next().filter(|value| value.contains('|')) {
                    values = value.split('|').map(str::to_string).collect();
                }
            }
            let default_spans = spans(&row[1]);
            let env = default_spans.iter().find_map(|span| span.strip_prefix('$')).map(str::to_string);
            let default = default_spans.iter().find(|span| !span.starts_with('$')).map(|span| span.to_string());
            let long = spellings.iter().find(|s| s.starts_with("--")).cloned().expect("a long option");
            spellings.sort();
            options.insert(long, Facts { spellings, values, env, default });
        }
        options
    }

    fn help_options() -> BTreeMap<String, Facts> {
        let command = Cli::command();
        let mut options = BTreeMap::new();
        for arg in command.get_arguments().filter(|arg| arg.is_global_set()) {
            let long = format!("--{}", arg.get_long().expect("global options are long"));
            let mut spellings = vec![long.clone()];
            spellings.extend(arg.get_short().map(|short| format!("-{short}")));
            spellings.extend(arg.get_visible_aliases().into_iter().flatten().map(|alias| format!("--{alias}")));
            spellings.sort();
            let enumerated = arg.get_value_parser().possible_values().into_iter().flatten();
            let values = if arg.get_action().takes_values() {
                enumerated.map(|value| value.get_name().to_string()).collect()
            } else {
                Vec::new()
            };
            let env = arg.get_env().map(|env| env.to_string_lossy().into_owned());
            let default = arg.get_default_values().first().map(|value| value.to_string_lossy().into_owned());
            options.insert(long, Facts { spellings, values, env, default });
        }
        options
    }

    #[test]
    fn the_readme_option_table_is_what_help_shows() {
        let (readme, help) = (readme_options(), help_options());
        assert_eq!(readme.keys().collect::<Vec<_>>(), help.keys().collect::<Vec<_>>(), "the same options");
        for (long, facts) in &help {
            assert_eq!(&readme[long], facts, "{long}: README (left) and --help (right)");
        }
    }

    #[test]
    fn the_readme_command_table_is_what_help_shows() {
        let command = Cli::command();
        let rows = table_after("| command | what it does |");
        let visible: Vec<_> = command.get_subcommands().filter(|sub| !sub.is_hide_set()).collect();
        assert_eq!(
            rows.iter().map(|row| spans(&row[0])[0].split(' ').next().unwrap_or_default()).collect::<Vec<_>>(),
            visible.iter().map(|sub| sub.get_name()).collect::<Vec<_>>(),
            "the same commands, in the same order"
        );
        for (row, sub) in rows.iter().zip(visible) {
            let synopsis = spans(&row[0])[0];
            let words: Vec<&str> = synopsis.split([' ', '[', ']', '(', ')']).filter(|w| !w.is_empty()).collect();
            let flags: Vec<&str> = words.iter().copied().filter(|word| word.starts_with("--")).collect();
            let mut expected: Vec<String> =
                sub.get_arguments().filter_map(|a| a.get_long()).map(|l| format!("--{l}")).collect();
            expected.sort();
            let mut flags: Vec<String> = flags.into_iter().map(str::to_string).collect();
            flags.sort();
            assert_eq!(flags, expected, "the flags of `{}`", sub.get_name());
            for positional in sub.get_arguments().filter(|arg| arg.is_positional()) {
                let values: Vec<String> =
                    positional.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
                let shown = match values.is_empty() {
                    true => positional.get_id().as_str().to_uppercase(),
                    false => values.join("|"),
                };
                assert!(words.contains(&shown.as_str()), "`{synopsis}` names {shown}");
            }
            for alias in sub.get_visible_aliases() {
                assert!(row[0].contains(&format!("(alias `{alias}`)")), "`{synopsis}` names its alias {alias}");
            }
        }
    }

    #[test]
    fn the_state_dir_help_names_everything_the_directory_holds() {
        let command = Cli::command();
        let help =
            command.get_arguments().find(|arg| arg.get_long() == Some("state-dir")).and_then(|arg| arg.get_help());
        let help = help.map(ToString::to_string).unwrap_or_default();
        let readme = &readme_options_row("--state-dir")[2];
        let everything =
            ["maintenance marker", "run lock", "rise/fall counts", "configuration cache", "managed prefixes"];
        for holds in everything {
            assert!(help.contains(holds), "--help of --state-dir names the {holds}: {help}");
            assert!(readme.contains(holds), "the README's --state-dir names the {holds}: {readme}");
        }
    }

    fn parsed(args: &[&str]) -> Cli {
        let mut matches = super::command().try_get_matches_from(args).expect("a valid command line");
        Cli::from_arg_matches_mut(&mut matches).expect("a Cli")
    }

    /// The global options are hidden from each command's help, not taken away: an existing command line, with them
    /// before or after the command, means what it meant.
    #[test]
    fn global_options_are_accepted_before_and_after_the_command() {
        let after = [
            "anycastd",
            "plan",
            "--detailed-exitcode",
            "-c",
            "/etc/a.toml",
            "--state-dir",
            "/tmp/s",
            "--format",
            "json",
            "--log-level",
            "error",
            "--log-format",
            "human",
            "--no-color",
            "--vtysh-timeout",
            "1s",
            "-q",
        ];
        let before = [
            "anycastd",
            "--configuration",
            "/etc/a.toml",
            "--state-dir=/tmp/s",
            "--format",
            "json",
            "--log-level",
            "error",
            "--log-format",
            "human",
            "--no-color",
            "--vtysh-timeout",
            "1s",
            "-q",
            "plan",
            "--detailed-exitcode",
        ];
        for args in [&after[..], &before[..]] {
            let cli = parsed(args);
            assert_eq!(cli.configuration.to_str(), Some("/etc/a.toml"), "{args:?}");
            assert_eq!(cli.state_dir.to_str(), Some("/tmp/s"), "{args:?}");
            assert_eq!((cli.format, cli.log_level, cli.log_format), (Format::Json, LogLevel::Error, LogFormat::Text));
            assert!(cli.no_color && cli.quiet, "{args:?}");
            assert_eq!(cli.vtysh_timeout, std::time::Duration::from_secs(1), "{args:?}");
            assert!(matches!(cli.command, Command::Plan { detailed_exitcode: true, .. }), "{args:?}");
        }
        assert_eq!(parsed(&["anycastd", "run", "--config", "/etc/b.toml"]).configuration.to_str(), Some("/etc/b.toml"));
        let defaults = parsed(&["anycastd", "apply"]);
        assert_eq!(defaults.state_dir.to_str(), Some("/var/lib/anycastd"), "defaults still apply");
        assert_eq!(defaults.vtysh_timeout, std::time::Duration::from_secs(10), "defaults still apply");
    }

    /// How many lines of `help` list the option `long` (`-c, --configuration <CONFIGURATION>`, `--no-color`).
    fn listings(help: &str, long: &str) -> usize {
        let listed = |line: &str| {
            let line = line.trim_start();
            let line = line.split_once(", ").filter(|(short, _)| short.len() == 2).map_or(line, |(_, long)| long);
            line.split_whitespace().next() == Some(long)
        };
        help.lines().filter(|line| listed(line)).count()
    }

    /// `anycastd --help` lists each global option once; a command's help lists none of them, and says where they are.
    #[test]
    fn global_options_are_shown_once_in_the_top_level_help() {
        let mut command = super::command();
        let top = command.render_long_help().to_string();
        let globals: Vec<String> = Cli::command()
            .get_arguments()
            .filter(|arg| arg.is_global_set())
            .map(|arg| format!("--{}", arg.get_long().expect("long")))
            .collect();
        assert_eq!(globals.len(), 12, "{globals:?}");
        for global in &globals {
            assert_eq!(listings(&top, global), 1, "{global} in:\n{top}");
        }
        assert!(top.contains("\n  man "), "man is listed:\n{top}");
        let commands = command.get_subcommands().map(|sub| sub.get_name().to_string());
        // clap's own `help` command, added when the command line is built, takes no option.
        for name in commands.filter(|name| name != "help").collect::<Vec<_>>() {
            let sub = command.find_subcommand_mut(&name).expect("the command");
            for help in [sub.render_long_help().to_string(), sub.render_help().to_string()] {
                for global in &globals {
                    assert_eq!(listings(&help, global), 0, "`{name} --help` lists {global}:\n{help}");
                }
                assert!(help.trim_end().ends_with("see `anycastd --help`."), "`{name} --help`:\n{help}");
            }
        }
    }

    fn readme_options_row(long: &str) -> Vec<String> {
        let rows = table_after("Options (valid before or after the command):");
        rows.into_iter().find(|row| spans(&row[0]).iter().any(|span| span.starts_with(long))).expect("a row")
    }

    /// `--help` shows an example line of each format (the value's doc comment): it must be the start of a real one.
    #[test]
    fn the_help_of_each_log_format_starts_a_real_line_of_it() {
        let announced = log::Event {
            level: log::LogLevel::Info,
            event: "announced",
            command: "apply".to_string(),
            service: Some("dns".to_string()),
            prefix: Some("203.0.113.53/32".to_string()),
            vrf: None,
            asn: Some("65536".to_string()),
            daemon: Some("frr"),
            table: None,
            reason: "every check passes".to_string(),
            service_healthy: Some(true),
        };
        for format in [LogFormat::Text, LogFormat::Json, LogFormat::Logfmt] {
            let value = format.to_possible_value().expect("a visible value");
            let help = value.get_help().map(ToString::to_string).unwrap_or_default();
            let example = help.trim_matches('`').trim_end_matches('}').trim_end_matches("...").trim_end();
            let line = announced.line(format.into());
            assert!(
                line.starts_with(example),
                "--log-format {}: {help:?} is not how {line:?} starts",
                value.get_name()
            );
        }
        assert_eq!(
            announced.line(log::LogFormat::Text),
            "anycastd apply: announced 203.0.113.53/32 for service dns (default VRF, AS 65536): every check passes"
        );
    }
}
