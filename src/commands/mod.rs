//! One file per command. Each loads what it needs, runs the pass (or its part of one), prints its report and returns
//! how it ended; `main` turns that into the exit code and renders an [`Error`] once.

pub mod apply;
pub mod check;
pub mod plan;
pub mod resume;
pub mod run;
pub mod withdraw_all;

use std::process::ExitCode;

use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::plan::Plan;
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
}

impl Exit {
    /// Failed when the applied (or planned) plan has errors, done otherwise.
    pub fn of(plan: &Plan) -> Exit {
        if plan.summary().has_errors() { Exit::Failed } else { Exit::Done }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(match exit {
            Exit::Done => 0,
            Exit::Failed => 1,
            Exit::ChangesPending => 2,
        })
    }
}

/// How a command uses the configuration cache of the state directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// Always read and validate the file (`check`: its job is to validate the file itself).
    Never,
    /// Use the cache when it matches the file, but write nothing (`plan`).
    ReadOnly,
    /// Use the cache when it matches, refresh it when not (commands that write the state directory anyway).
    ReadAndRefresh,
}

/// Reads and validates the configuration file of `context`.
pub fn load_config(context: &Context, cache: CacheUse) -> Result<Config, Error> {
    let (path, state_dir) = (&context.config_path, &context.state_dir);
    let loaded = match cache {
        CacheUse::Never => Config::load(path),
        CacheUse::ReadOnly => config_cache::load_config(path, state_dir, false),
        CacheUse::ReadAndRefresh => config_cache::load_config(path, state_dir, true),
    };
    Ok(loaded?)
}
