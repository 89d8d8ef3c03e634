//! One file per command. Each loads what it needs, runs the pass (or its part of one), prints its report and returns
//! how it ended; `main` turns that into the exit code and renders an [`Error`] once.

pub mod apply;
pub mod check;
pub mod forget;
pub mod plan;
pub mod resume;
pub mod run;
pub mod withdraw_all;

use std::process::ExitCode;

use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::observe::log::{Event, LogLevel};
use crate::plan::{HoldProblem, PassError, Plan};
use crate::state::config_cache;

/// How a command ended, as its exit code says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything went as asked (0). An unhealthy service whose prefixes were withdrawn is not a failure.
    Done,
    /// Something failed (1): the other services were still reconciled.
    Failed,
    /// `plan --detailed-exitcode` only: changes are pending (2), Terraform's convention.
    ChangesPending,
    /// The command line is not one anycastd takes (64, `EX_USAGE` of sysexits.h): an unknown option, a missing or
    /// out-of-range value. Its own code, so that a script tells a typo from pending changes (2) or a failure (1).
    Usage,
}

impl Exit {
    /// Failed when the applied (or planned) plan has errors, done otherwise.
    pub(crate) fn of(plan: &Plan) -> Exit {
        if plan.summary().has_errors() { Exit::Failed } else { Exit::Done }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(match exit {
            Exit::Done => 0,
            Exit::Failed => 1,
            Exit::ChangesPending => 2,
            Exit::Usage => 64,
        })
    }
}

/// How a command uses the configuration cache of the state directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheUse {
    /// Always read and validate the file (`check`: its job is to validate the file itself).
    Never,
    /// Use the cache when it matches the file, but write nothing (`plan`).
    ReadOnly,
    /// Use the cache when it matches, refresh it when not (commands that write the state directory anyway).
    ReadAndRefresh,
}

/// The configuration a changing command works with.
#[derive(Debug)]
pub(crate) enum InForce {
    /// The file's: valid.
    File(Config),
    /// The file cannot be read or is not valid (`problem`): the last valid configuration, from the configuration
    /// cache, stands in, so that services whose checks fail are still withdrawn. Nothing is announced meanwhile.
    LastValid {
        /// The last valid configuration.
        config: Config,
        /// What is wrong with the file.
        problem: Error,
    },
}

impl InForce {
    /// The configuration in force.
    pub(crate) fn config(&self) -> &Config {
        match self {
            InForce::File(config) | InForce::LastValid { config, .. } => config,
        }
    }

    /// Why nothing may be announced, when the file is broken; logs its diagnostic (loudly: an error event with every
    /// problem of the file, at its line) as `command`.
    pub(crate) fn refusal(&self, context: &Context, command: &str) -> Option<PassError> {
        let InForce::LastValid { problem, .. } = self else { return None };
        let reason = format!(
            "{}; until it is fixed, the last valid configuration stands in: services whose checks fail are withdrawn, \
             nothing is announced",
            problem.one_line()
        );
        context.logging.write(&[Event { level: LogLevel::Error, ..Event::notice(command, "config-invalid", reason) }]);
        let detail = format!(
            "the configuration {} is not valid (see the config-invalid log line); the last valid one stands in",
            context.config_path.display()
        );
        Some(PassError::withdraw_only(HoldProblem::Configuration, detail))
    }
}

/// Reads the configuration for a changing command: the file's when valid; else the last valid one (see
/// [`InForce::LastValid`]); with none that can be trusted, the file's error: withdrawing everything on a typo that
/// configuration management pushed to every node would take the service down everywhere.
pub(crate) fn load_config_or_last_valid(context: &Context, cache: CacheUse) -> Result<InForce, Error> {
    match load_config(context, cache) {
        Ok(config) => Ok(InForce::File(config)),
        Err(problem @ Error::Config(_)) => match config_cache::last_valid(&context.state_dir) {
            Some(config) => Ok(InForce::LastValid { config, problem }),
            None => Err(problem),
        },
        Err(other) => Err(other),
    }
}

/// Reads and validates the configuration file of `context`.
pub(crate) fn load_config(context: &Context, cache: CacheUse) -> Result<Config, Error> {
    let (path, state_dir) = (&context.config_path, &context.state_dir);
    let loaded = match cache {
        CacheUse::Never => Config::load(path),
        CacheUse::ReadOnly => config_cache::load_config(path, state_dir, false),
        CacheUse::ReadAndRefresh => config_cache::load_config(path, state_dir, true),
    };
    Ok(loaded?)
}
