//! anycastd: announce a service's anycast prefixes through FRRouting only while Cabourotte says it is healthy.
//!
//! `main` parses the command line, calls one function per command, and decides the exit code in one place.

mod atomic;
mod cabourotte;
mod cli;
mod config;
mod frr;
mod health;
mod hooks;
mod lock;
mod log;
mod maintenance;
mod metrics;
mod pass;
mod plan;
mod process;
mod reconcile;
mod render;
mod run_loop;
mod state;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use miette::{IntoDiagnostic, MietteHandlerOpts, Report, miette};

use std::path::Path;

use cli::{Assumption, Cli, ColorChoice, Command, Format};
use config::Config;
use frr::RunningConfig;
use lock::RunLock;
use maintenance::Maintenance;
use plan::{Intent, Plan};
use reconcile::{Offline, Settings};
use render::{Painter, Tense};

/// Everything went as asked.
const EXIT_OK: u8 = 0;
/// Something failed: a bad configuration, an unreachable FRR or Cabourotte, a change FRR did not take.
const EXIT_ERROR: u8 = 1;
/// `plan --detailed-exitcode` only: changes are pending.
const EXIT_CHANGES_PENDING: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let colour = wants_colour(cli.color);
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(MietteHandlerOpts::new().color(colour).terminal_links(false).wrap_lines(false).build())
    }));
    match run(&cli, colour) {
        Ok(code) => ExitCode::from(code),
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Colour on a terminal unless NO_COLOR is set, or as forced by `--color`.
fn wants_colour(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
        }
    }
}

fn run(cli: &Cli, colour: bool) -> Result<u8, Report> {
    let settings = Settings {
        state_dir: cli.state_dir.clone(),
        vtysh_timeout: cli.vtysh_timeout,
        http_timeout: cli.http_timeout,
        lock_timeout: cli.lock_timeout,
        metrics_file: cli.metrics_file.clone(),
        log_format: cli.log_format,
    };
    let output = Output { format: cli.format, painter: Painter::new(colour), quiet: cli.quiet };
    match &cli.command {
        Command::Resume => resume(&settings),
        Command::Check => check(cli, &output),
        Command::Plan { detailed_exitcode, running_config, health, assume } => {
            let config = load(cli)?;
            let offline = offline_inputs(&config, running_config.as_deref(), health.as_deref(), *assume)?;
            plan(&config, &settings, &output, &offline, *detailed_exitcode)
        }
        Command::Apply => apply(&load(cli)?, &settings, &output),
        Command::WithdrawAll { reason } => withdraw_all(&load(cli)?, &settings, &output, reason.clone()),
        Command::Run { interval, keep_on_exit } => {
            let config = load(cli)?;
            let interval = interval.unwrap_or_else(|| config.shortest_interval());
            Ok(run_loop::run(&config, &settings, interval, *keep_on_exit, &output))
        }
    }
}

fn load(cli: &Cli) -> Result<Config, Report> {
    Config::load(&cli.configuration).map_err(Report::new)
}

/// How results are printed.
pub struct Output {
    format: Format,
    painter: Painter,
    quiet: bool,
}

impl Output {
    /// Prints a plan (or an applied plan) made by `command` to stdout, unless quiet.
    pub fn plan(&self, plan: &Plan, command: &str, tense: Tense) {
        if self.quiet {
            return;
        }
        match self.format {
            Format::Text => print!("{}", render::plan_text(plan, tense, self.painter)),
            Format::Json => println!("{}", render::plan_json(plan, command, tense)),
        }
    }
}

fn check(cli: &Cli, output: &Output) -> Result<u8, Report> {
    let config = load(cli)?;
    match output.format {
        Format::Text => print!("{}", render::check_text(&config, &cli.configuration.display().to_string())),
        Format::Json => println!("{}", render::check_json(&config)),
    }
    Ok(EXIT_OK)
}

fn plan(
    config: &Config,
    settings: &Settings,
    output: &Output,
    offline: &Offline,
    detailed_exitcode: bool,
) -> Result<u8, Report> {
    let plan = reconcile::gather(config, settings, Intent::Reconcile, offline).map_err(|error| miette!("{error}"))?;
    output.plan(&plan, "plan", Tense::Planned);
    let summary = plan.summary();
    Ok(match () {
        _ if summary.has_errors() => EXIT_ERROR,
        _ if detailed_exitcode && summary.has_changes() => EXIT_CHANGES_PENDING,
        _ => EXIT_OK,
    })
}

/// Reads the files that replace live inputs in `plan`.
fn offline_inputs(
    config: &Config,
    running_config: Option<&Path>,
    health: Option<&Path>,
    assume: Option<Assumption>,
) -> Result<Offline, Report> {
    let running_config = running_config
        .map(|path| read_input(path, "--running-config").map(|text| RunningConfig::parse(&text)))
        .transpose()?;
    let health = match (health, assume) {
        (Some(path), _) => {
            let text = read_input(path, "--health")?;
            let results = cabourotte::parse_result_list(&text)
                .map_err(|error| miette!("--health {}: {error}", path.display()))?;
            Some(results)
        }
        (None, Some(assumption)) => Some(cabourotte::assumed(config, assumption == Assumption::Healthy)),
        (None, None) => None,
    };
    Ok(Offline { running_config, health })
}

/// Reads a file, or stdin for `-`.
fn read_input(path: &Path, flag: &str) -> Result<String, Report> {
    let read =
        if path == Path::new("-") { std::io::read_to_string(std::io::stdin()) } else { std::fs::read_to_string(path) };
    read.map_err(|error| miette!("cannot read {flag} {}: {error}", path.display()))
}

fn apply(config: &Config, settings: &Settings, output: &Output) -> Result<u8, Report> {
    let applied = pass::run(config, settings, Intent::Reconcile, "apply").map_err(|error| miette!("{error}"))?;
    output.plan(&applied, "apply", Tense::Applied);
    Ok(exit_code_of(&applied))
}

/// Writes the maintenance marker first, so that no pass starting after this moment announces anything, then
/// withdraws under the lock.
fn withdraw_all(config: &Config, settings: &Settings, output: &Output, reason: Option<String>) -> Result<u8, Report> {
    if maintenance::read(&settings.state_dir).into_diagnostic()?.is_none() {
        maintenance::write(&settings.state_dir, &Maintenance::begin(reason)).into_diagnostic()?;
    }
    let applied =
        pass::run(config, settings, Intent::WithdrawAll, "withdraw-all").map_err(|error| miette!("{error}"))?;
    output.plan(&applied, "withdraw-all", Tense::Applied);
    Ok(exit_code_of(&applied))
}

fn resume(settings: &Settings) -> Result<u8, Report> {
    let _lock =
        RunLock::acquire(&settings.state_dir, "resume", settings.lock_timeout).map_err(|error| miette!("{error}"))?;
    if maintenance::remove(&settings.state_dir).into_diagnostic()? {
        println!("Maintenance ended: the next apply announces the prefixes of healthy services again.");
    } else {
        println!("Not in maintenance: nothing to resume.");
    }
    Ok(EXIT_OK)
}

/// The exit code of an applied plan.
fn exit_code_of(applied: &Plan) -> u8 {
    if applied.summary().has_errors() { EXIT_ERROR } else { EXIT_OK }
}
