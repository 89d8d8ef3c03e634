//! `anycastd plan`: the plan of a pass, printed; nothing changed, nothing written. Its inputs may come from files
//! instead of FRR and Cabourotte (`--running-config`, `--health`, `--assume`), for plans in a user's CI.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{CacheUse, Exit, InForce, load_config, load_config_or_last_valid};
use crate::bounded;
use crate::config::Config;
use crate::context::Context;
use crate::error::Error;
use crate::frr::RunningConfig;
use crate::health::cabourotte;
use crate::pass::{self, BirdInput, FrrInput, HealthInput};
use crate::render::Tense;

/// The files (or assumption) that replace live inputs.
#[derive(Clone, Debug, Default)]
pub struct Given {
    /// FRR's running config (`-` for stdin), for every vtysh.
    pub running_config: Option<PathBuf>,
    /// Cabourotte's result list, for every URL.
    pub health: Option<PathBuf>,
    /// Every check passes (`Some(true)`) or fails (`Some(false)`), without asking.
    pub assume_healthy: Option<bool>,
    /// What `birdc show route table all where proto ~ "anycastd_*" all` printed (`-` for stdin), for every BIRD.
    pub bird_routes: Option<PathBuf>,
}

/// Prints the plan; with `detailed_exitcode`, pending changes make the exit code 2.
///
/// Live (no file given), a broken configuration file shows what the timer's passes do meanwhile: the plan of the last
/// valid configuration, which withdraws but announces nothing, after the file's problems. Offline (a user's CI
/// rendering a new configuration), it is an error, as the file is what is being tested.
pub fn plan(context: &Context, given: &Given, detailed_exitcode: bool) -> Result<Exit, Error> {
    let offline = given.running_config.is_some()
        || given.health.is_some()
        || given.assume_healthy.is_some()
        || given.bird_routes.is_some();
    let in_force = match offline {
        true => InForce::File(load_config(context, CacheUse::ReadOnly)?),
        false => load_config_or_last_valid(context, CacheUse::ReadOnly)?,
    };
    let config = in_force.config();
    let (health, frr) = inputs(config, given)?;
    let bird = bird_input(given, offline)?;
    let daemons = pass::Daemons { frr: &frr, bird: &bird };
    let plan = pass::plan_only(config, context, &health, daemons, in_force.refusal(context, "plan"));
    context.output.plan(&plan, "plan", Tense::Planned);
    let summary = plan.summary();
    Ok(match () {
        _ if summary.has_errors() => Exit::Failed,
        _ if detailed_exitcode && summary.has_changes() => Exit::ChangesPending,
        _ => Exit::Done,
    })
}

/// The inputs of the plan: the files that replace live ones, read, or live.
fn inputs(config: &Config, given: &Given) -> Result<(HealthInput, FrrInput), Error> {
    let frr = given
        .running_config
        .as_deref()
        .map(|path| {
            let flag = "--running-config";
            let text = read_input(path, flag, bounded::RUNNING_CONFIG)?;
            RunningConfig::parse(&text).map_err(|error| invalid(flag, path, error.to_string()))
        })
        .transpose()?
        .map_or(FrrInput::Live, FrrInput::File);
    let health = match (&given.health, given.assume_healthy) {
        (Some(path), _) => {
            let text = read_input(path, "--health", bounded::HEALTH)?;
            let cabourotte = config.checks().map(|(_, check)| check.name.as_str());
            let names: BTreeSet<&str> =
                cabourotte.chain(config.exec_checks().map(|(_, check)| check.name.as_str())).collect();
            let results = cabourotte::parse_result_list(&text, &|name| names.contains(name))
                .map_err(|error| invalid("--health", path, error.to_string()))?;
            HealthInput::File(results)
        }
        (None, Some(healthy)) => HealthInput::File(cabourotte::assumed(config, healthy)),
        (None, None) => HealthInput::Live,
    };
    Ok((health, frr))
}

/// What the plan takes each BIRD to have: the file given, or BIRD itself when nothing is given from files.
fn bird_input(given: &Given, offline: bool) -> Result<BirdInput, Error> {
    let Some(path) = &given.bird_routes else {
        return Ok(if offline { BirdInput::NotGiven } else { BirdInput::Live });
    };
    let flag = "--bird-routes";
    let text = read_input(path, flag, bounded::RUNNING_CONFIG)?;
    let routes = crate::bird::parse_routes_text(&text).map_err(|error| invalid(flag, path, error.to_string()))?;
    Ok(BirdInput::File(routes))
}

fn invalid(flag: &'static str, path: &Path, reason: String) -> Error {
    Error::InvalidInput { flag, path: path.to_path_buf(), reason }
}

/// Reads a file, or stdin for `-`, up to `limit`.
fn read_input(path: &Path, flag: &'static str, limit: bounded::Limit) -> Result<String, Error> {
    let read = if path == Path::new("-") {
        limit.read_to_string(std::io::stdin())
    } else {
        std::fs::File::open(path).map_err(|error| error.to_string()).and_then(|file| limit.read_to_string(file))
    };
    read.map_err(|reason| Error::UnreadableInput { flag, path: path.to_path_buf(), reason })
}
