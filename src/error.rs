//! The one error type of a command that could not do its job: what went wrong, what to do, and the causes. `main`
//! renders it once: as miette's report on a terminal, or as one JSON log event under `--log-format json`.
//!
//! Problems that a pass survives (a prefix FRR rejected, a Cabourotte that could not be asked, a state directory
//! that cannot be written) are not errors of this kind: they are part of the plan and its exit code.

use std::fmt;
use std::io;
use std::path::PathBuf;

use miette::Diagnostic;

use crate::config::ConfigError;

/// Why a command stopped before doing its job.
#[derive(Debug)]
pub enum Error {
    /// The configuration file cannot be read or is not valid: every problem is listed, at its place in the file.
    Config(ConfigError),
    /// A file named on the command line (`plan --running-config`, `--health`) cannot be read.
    UnreadableInput {
        /// The option that named it.
        flag: &'static str,
        /// The file as given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file named on the command line was read but does not hold what the option expects.
    InvalidInput {
        /// The option that named it.
        flag: &'static str,
        /// The file as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A command's argument is not what it takes (beyond what clap checks): a usage error, as clap's are (exit 64).
    InvalidArgument {
        /// The command.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The state directory cannot be used (a command that needs it, such as `resume`).
    StateDir(io::Error),
    /// Another anycastd holds the run lock, or it cannot be taken.
    Lock(io::Error),
    /// The maintenance marker cannot be removed.
    Marker(io::Error),
    /// `run` cannot listen for SIGINT and SIGTERM, so it could never withdraw on stop: it does not start.
    Signals(io::Error),
    /// `run --listen` or `--metrics-listen` cannot serve (the address, the push secret).
    Listen(String),
    /// The man page could not be rendered.
    Manual(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(error) => error.fmt(f),
            Error::UnreadableInput { flag, path, reason } => {
                write!(f, "cannot read {flag} {}: {reason}", path.display())
            }
            Error::InvalidInput { flag, path, reason } => write!(f, "{flag} {}: {reason}", path.display()),
            Error::InvalidArgument { what, reason } => write!(f, "{what}: {reason}"),
            Error::StateDir(error) | Error::Lock(error) | Error::Marker(error) => error.fmt(f),
            Error::Signals(error) => write!(f, "cannot listen for SIGINT/SIGTERM: {error}"),
            Error::Listen(reason) => f.write_str(reason),
            Error::Manual(error) => write!(f, "cannot render the man page: {error}"),
        }
    }
}

impl Error {
    /// The error in one line, escaped, with what to do: for a log line, where the journal shows one line per entry.
    pub fn one_line(&self) -> String {
        let text = match self {
            Error::Config(error) => return error.one_line(),
            other => crate::escape::escape(&other.to_string()).into_owned(),
        };
        match self.help() {
            Some(help) => format!("{text} (help: {})", crate::escape::escape(&help.to_string())),
            None => text,
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(error) => error.source(),
            _ => None,
        }
    }
}

impl Diagnostic for Error {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            Error::Config(error) => error.help(),
            Error::UnreadableInput { .. } => Some(Box::new("name a readable file, or `-` to read standard input")),
            Error::Lock(_) => Some(Box::new("wait for the other anycastd to finish, or raise --lock-timeout")),
            Error::Signals(_) => Some(Box::new("anycastd run must be able to withdraw when it is stopped")),
            Error::InvalidInput { .. }
            | Error::InvalidArgument { .. }
            | Error::StateDir(_)
            | Error::Marker(_)
            | Error::Listen(_)
            | Error::Manual(_) => None,
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            Error::Config(error) => error.related(),
            _ => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Error {
        Error::Config(error)
    }
}
