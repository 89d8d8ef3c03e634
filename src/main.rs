//! anycastd: announce a service's anycast prefixes through FRRouting only while Cabourotte says it is healthy.
//!
//! `main` parses the command line, calls one function per command, and decides the exit code in one place.

mod cabourotte;
mod cli;
mod config;
mod frr;
mod health;
mod maintenance;
mod plan;
mod reconcile;
mod render;
mod run_loop;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use miette::{IntoDiagnostic, MietteHandlerOpts, Report, miette};

use cli::{Cli, ColorChoice, Command, Format};
use config::Config;
use maintenance::Maintenance;
use plan::{Intent, Plan};
use reconcile::Settings;
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
        Box::new(MietteHandlerOpts::new().color(colour).terminal_links(false).width(100).build())
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
    let settings =
        Settings { state_dir: cli.state_dir.clone(), vtysh_timeout: cli.vtysh_timeout, http_timeout: cli.http_timeout };
    let output = Output { format: cli.format, painter: Painter::new(colour) };
    match &cli.command {
        Command::Resume => resume(&settings),
        Command::Check => check(cli, &output),
        Command::Plan { detailed_exitcode } => plan(&load(cli)?, &settings, &output, *detailed_exitcode),
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
}

impl Output {
    /// Prints a plan (or an applied plan) made by `command` to stdout.
    pub fn plan(&self, plan: &Plan, command: &str, tense: Tense) {
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

fn plan(config: &Config, settings: &Settings, output: &Output, detailed_exitcode: bool) -> Result<u8, Report> {
    let plan = reconcile::gather(config, settings, Intent::Reconcile).map_err(|error| miette!("{error}"))?;
    output.plan(&plan, "plan", Tense::Planned);
    let summary = plan.summary();
    Ok(match () {
        _ if summary.has_errors() => EXIT_ERROR,
        _ if detailed_exitcode && summary.has_changes() => EXIT_CHANGES_PENDING,
        _ => EXIT_OK,
    })
}

fn apply(config: &Config, settings: &Settings, output: &Output) -> Result<u8, Report> {
    let plan = reconcile::gather(config, settings, Intent::Reconcile).map_err(|error| miette!("{error}"))?;
    let applied = reconcile::apply(plan, settings.vtysh_timeout);
    output.plan(&applied, "apply", Tense::Applied);
    Ok(exit_code_of(&applied))
}

fn withdraw_all(config: &Config, settings: &Settings, output: &Output, reason: Option<String>) -> Result<u8, Report> {
    if maintenance::read(&settings.state_dir).into_diagnostic()?.is_none() {
        maintenance::write(&settings.state_dir, &Maintenance::begin(reason)).into_diagnostic()?;
    }
    let plan = reconcile::gather(config, settings, Intent::WithdrawAll).map_err(|error| miette!("{error}"))?;
    let applied = reconcile::apply(plan, settings.vtysh_timeout);
    output.plan(&applied, "withdraw-all", Tense::Applied);
    Ok(exit_code_of(&applied))
}

fn resume(settings: &Settings) -> Result<u8, Report> {
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
