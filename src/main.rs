//! anycastd: announce a service's anycast prefixes through FRRouting only while Cabourotte says it is healthy.
//!
//! `main` parses the command line, calls one function per command, and decides the exit code in one place.

mod bounded;
mod cabourotte;
mod cli;
mod commands;
mod config;
mod escape;
mod frr;
mod health;
mod hooks;
mod locale;
mod lock;
mod log;
mod maintenance;
mod manual;
mod metrics;
mod pass;
mod plan;
mod preflight;
mod process;
#[cfg(test)]
mod properties;
mod reconcile;
mod render;
mod run_loop;
mod state;
mod state_dir;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use miette::{IntoDiagnostic, MietteHandlerOpts, Report};

use cli::{Cli, ColorChoice, Command};
use commands::CacheUse;
use reconcile::Settings;
use render::Painter;

/// Everything went as asked.
const EXIT_OK: u8 = 0;
/// Something failed: a bad configuration, an unreachable FRR or Cabourotte, a change FRR did not take.
const EXIT_ERROR: u8 = 1;
/// `plan --detailed-exitcode` only: changes are pending.
const EXIT_CHANGES_PENDING: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let colour = wants_colour(cli.color);
    let unicode = locale::environment_draws_unicode();
    let _ = miette::set_hook(Box::new(move |_| {
        let options = MietteHandlerOpts::new().color(colour).unicode(unicode);
        Box::new(options.terminal_links(false).wrap_lines(false).build())
    }));
    match run(&cli, colour) {
        Ok(code) => ExitCode::from(code),
        Err(report) => {
            eprintln!("{:?}", printable(report));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The report with its text escaped (see `escape.rs`): an error may quote vtysh, a file of the state directory or a
/// path. A configuration error escapes its own text, keeping its excerpts and labels.
fn printable(report: Report) -> Report {
    if report.downcast_ref::<config::ConfigError>().is_some() {
        return report;
    }
    let message = escape::escape(&report.to_string()).into_owned();
    match report.help().map(|help| escape::escape(&help.to_string()).into_owned()) {
        Some(help) => miette::miette!(help = help, "{message}"),
        None => miette::miette!("{message}"),
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
    let output = commands::Output { format: cli.format, painter: Painter::new(colour), quiet: cli.quiet };
    match &cli.command {
        Command::Completions { shell } => Ok(manual::print(&manual::completions(*shell))),
        Command::Man => Ok(manual::print(&manual::man_page().into_diagnostic()?)),
        Command::Resume => commands::resume(&settings),
        Command::Check { frr, frr_conf } => commands::check(cli, &settings, &output, frr.then_some(frr_conf.as_path())),
        Command::Plan { detailed_exitcode, running_config, health, assume } => {
            let config = commands::load(cli, CacheUse::Read)?;
            let offline = commands::offline_inputs(&config, running_config.as_deref(), health.as_deref(), *assume)?;
            commands::plan(&config, &settings, &output, &offline, *detailed_exitcode)
        }
        Command::Apply => commands::apply(&commands::load(cli, CacheUse::ReadAndRefresh)?, &settings, &output),
        Command::WithdrawAll { reason } => {
            commands::withdraw_all(&commands::load(cli, CacheUse::ReadAndRefresh)?, &settings, &output, reason.clone())
        }
        Command::Run { interval, keep_on_exit } => {
            let config = commands::load(cli, CacheUse::ReadAndRefresh)?;
            let interval = interval.unwrap_or_else(|| config.shortest_interval());
            Ok(run_loop::run(&config, &settings, interval, *keep_on_exit, &output))
        }
    }
}
