//! The `anycastd` binary: parse the command line, build the [`Context`] once, run one command, and render a fatal
//! error once (miette's report, or a JSON log event under `--log-format json`).

mod cli;
mod locale;
mod manual;

use std::process::ExitCode;

use clap::FromArgMatches;
use miette::{Diagnostic, MietteHandlerOpts, Report};
use supports_color::Stream;

use anycastd::commands::{self, Exit};
use anycastd::context::Context;
use anycastd::error::Error;
use anycastd::escape::escape;
use anycastd::identity::{self, Identity, UNITS_USER};
use anycastd::observe::log::{self, Event, LogFormat, Logging};
use anycastd::render::{Output, Painter};
use cli::{Cli, ColorChoice, Command};

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(exit) => return exit.into(),
    };
    let context = context_of(&cli);
    let identity = take_identity(&cli.command, &context);
    let changes_addresses = matches!(cli.command.name(), "apply" | "withdraw-all" | "run");
    if let Err(why) = identity::settle_capabilities(changes_addresses) {
        context.logging.write(&[Event::warning(cli.command.name(), why)]);
    }
    match dispatch(&cli.command, &context) {
        Ok(exit) => exit.into(),
        Err(error) => {
            let colour = wants_colour(colour_choice(&cli), Stream::Stderr);
            let exit = exit_of(&error);
            let denied = error.to_string().contains("Permission denied");
            report(error, cli.command.name(), &context.logging, colour);
            if denied && identity == Identity::UnitsUser {
                let note = format!(
                    "anycastd acted as user {UNITS_USER}, as its units do, because the state directory {} is that \
                     user's: make the file readable by group {UNITS_USER}, or give root a state directory of its own \
                     with --state-dir",
                    context.state_dir.display()
                );
                context.logging.write(&[Event::warning(cli.command.name(), note)]);
            }
            exit.into()
        }
    }
}

/// Before a command that uses the state directory, root becomes the units' user when the directory is theirs (see
/// `identity.rs`); when it cannot, it says why and goes on as root, trusting nothing in the directory.
fn take_identity(command: &Command, context: &Context) -> Identity {
    if !command.uses_state_dir() {
        return Identity::AsInvoked;
    }
    let identity = identity::adopt_units_identity(&context.state_dir);
    if let Identity::StayedRoot(why) = &identity {
        context.logging.write(&[Event::warning(command.name(), why.clone())]);
    }
    identity
}

/// The command line, as `cli::command` defines it. Help and the version are printed here and end it with 0; a
/// usage error is printed by clap, and ends it with [`Exit::Usage`] (clap's own exit would be 2, which `plan
/// --detailed-exitcode` means as changes pending).
fn parse() -> Result<Cli, Exit> {
    let mut command = cli::command();
    let matches = command.try_get_matches_from_mut(std::env::args_os());
    let parsed = matches.and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches));
    parsed.map_err(|error| {
        let error = error.format(&mut command);
        let _ = error.print();
        if error.use_stderr() { Exit::Usage } else { Exit::Done }
    })
}

/// The exit code of a command that stopped with `error`: a usage error for an argument clap could not check (`forget
/// 203.0.113.1/24`), a failure otherwise.
fn exit_of(error: &Error) -> Exit {
    match error {
        Error::InvalidArgument { .. } => Exit::Usage,
        _ => Exit::Failed,
    }
}

/// The settings of this invocation, for every command.
fn context_of(cli: &Cli) -> Context {
    let output = Output {
        format: cli.format.into(),
        painter: Painter::new(wants_colour(colour_choice(cli), Stream::Stdout)),
        quiet: cli.quiet,
    };
    Context {
        config_path: cli.configuration.clone(),
        state_dir: cli.state_dir.clone(),
        vtysh_timeout: cli.vtysh_timeout,
        http_timeout: cli.http_timeout,
        lock_timeout: cli.lock_timeout,
        metrics_file: cli.metrics_file.clone(),
        logging: Logging {
            format: cli.log_format.into(),
            level: cli.log_level.into(),
            journal: log::stderr_is_the_journal(),
        },
        output,
    }
}

/// Runs the command.
fn dispatch(command: &Command, context: &Context) -> Result<Exit, Error> {
    match command {
        Command::Completions { shell } => Ok(manual::print(&manual::completions(*shell))),
        Command::Man => Ok(manual::print(&manual::man_page().map_err(Error::Manual)?)),
        Command::Plan { detailed_exitcode, running_config, health, assume, bird_routes } => {
            let given = commands::plan::Given {
                running_config: running_config.clone(),
                health: health.clone(),
                assume_healthy: assume.map(|assumption| assumption == cli::Assumption::Healthy),
                bird_routes: bird_routes.clone(),
            };
            commands::plan::plan(context, &given, *detailed_exitcode)
        }
        Command::Apply => commands::apply::apply(context),
        Command::WithdrawAll { reason, drain, no_wait } => {
            let drain = drain.map(|period| commands::withdraw_all::Drain { period, wait: !no_wait });
            commands::withdraw_all::withdraw_all(context, reason.clone(), drain)
        }
        Command::Resume => commands::resume::resume(context),
        Command::Forget { prefix, vrf } => commands::forget::forget(context, prefix, vrf.as_deref()),
        Command::Check { frr, frr_conf, cabourotte, bird, exec, all } => {
            let preflights = commands::check::Preflights {
                frr: (*frr || *all).then_some(frr_conf.as_path()),
                cabourotte: *cabourotte || *all,
                bird: *bird || *all,
                exec: *exec || *all,
            };
            commands::check::check(context, preflights)
        }
        Command::Run {
            interval,
            keep_on_exit,
            resync,
            listen,
            push_secret_file,
            allow_unauthenticated_loopback,
            metrics_listen,
        } => {
            let options = commands::run::Options {
                interval: *interval,
                keep_on_exit: *keep_on_exit,
                resync: *resync,
                listen: *listen,
                push_secret_file: push_secret_file.clone(),
                allow_unauthenticated_loopback: *allow_unauthenticated_loopback,
                metrics_listen: *metrics_listen,
            };
            commands::run::run_loop(context, &options)
        }
    }
}

/// Renders a fatal error on stderr, once: miette's report (coloured when stderr is a terminal), or one log line in
/// the log format, and always one line in the journal (which shows one line per entry, and whose `LogLevelMax=`
/// would drop lines without a priority).
fn report(error: Error, command: &str, logging: &Logging, colour: bool) {
    if logging.format == LogFormat::Text && !logging.journal {
        let unicode = locale::environment_draws_unicode();
        let _ = miette::set_hook(Box::new(move |_| {
            let options = MietteHandlerOpts::new().color(colour).unicode(unicode);
            Box::new(options.terminal_links(false).wrap_lines(false).build())
        }));
        eprintln!("{:?}", printable(error));
    } else {
        let event = Event::pass_failed(command, error.one_line());
        eprintln!("{}{}", logging.priority_prefix(event.level), event.line(logging.format));
    }
}

/// The report with its text escaped (see `escape.rs`): an error may quote vtysh, a file of the state directory or a
/// path. A configuration error escapes its own text, keeping its excerpts and labels.
fn printable(error: Error) -> Report {
    if let Error::Config(_) = error {
        return Report::new(error);
    }
    let message = escape(&error.to_string()).into_owned();
    match error.help().map(|help| escape(&help.to_string()).into_owned()) {
        Some(help) => miette::miette!(help = help, "{message}"),
        None => miette::miette!("{message}"),
    }
}

/// `--color`, or never with `--no-color` (the original's flag).
fn colour_choice(cli: &Cli) -> ColorChoice {
    if cli.no_color { ColorChoice::Never } else { cli.color }
}

/// Colour as forced by `--color`, or (auto) as the `supports-color` crate decides for `stream`: a terminal, unless
/// `NO_COLOR` is set or `TERM=dumb`; `FORCE_COLOR` forces it.
fn wants_colour(choice: ColorChoice, stream: Stream) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => supports_color::on(stream).is_some(),
    }
}
