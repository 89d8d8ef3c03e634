//! One function per command: load what it needs, run it, print the result, and return its exit code.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use miette::{IntoDiagnostic, Report, miette};

use crate::bounded;
use crate::cabourotte;
use crate::cli::{Assumption, Cli, Format};
use crate::config::Config;
use crate::frr::RunningConfig;
use crate::lock::RunLock;
use crate::maintenance::{self, Maintenance};
use crate::pass;
use crate::plan::{Intent, Plan};
use crate::preflight;
use crate::reconcile::{self, Offline, Settings};
use crate::render::{self, Painter, Tense};
use crate::state_dir::StateDir;
use crate::{EXIT_CHANGES_PENDING, EXIT_ERROR, EXIT_OK};

/// Writes to stdout. A reader that went away (`anycastd plan | head`) is not an error worth a panic: what it did
/// not read is dropped; the exit code still tells the outcome.
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Reads and validates the configuration named on the command line.
pub fn load(cli: &Cli, cache: CacheUse) -> Result<Config, Report> {
    let loaded = match cache {
        CacheUse::None => Config::load(&cli.configuration),
        CacheUse::Read => Config::load_cached(&cli.configuration, &cli.state_dir, false),
        CacheUse::ReadAndRefresh => Config::load_cached(&cli.configuration, &cli.state_dir, true),
    };
    loaded.map_err(Report::new)
}

/// How a command uses the configuration cache of the state directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// Always read the file (`check`: its job is to validate the file itself).
    None,
    /// Use the cache when it matches the file, but write nothing (`plan`).
    Read,
    /// Use the cache when it matches, refresh it when not (commands that write the state directory anyway).
    ReadAndRefresh,
}

/// How results are printed.
pub struct Output {
    /// Text or JSON.
    pub format: Format,
    /// Colours, or none.
    pub painter: Painter,
    /// No report at all.
    pub quiet: bool,
}

impl Output {
    /// Prints a plan (or an applied plan) made by `command` to stdout, unless quiet.
    pub fn plan(&self, plan: &Plan, command: &str, tense: Tense) {
        if self.quiet {
            return;
        }
        match self.format {
            Format::Text => emit(&render::plan_text(plan, tense, self.painter)),
            Format::Json => emit(&format!("{}\n", render::plan_json(plan, command, tense))),
        }
    }
}

/// `check`, and with `frr` (FRR's startup config) the FRR pre-flight too.
pub fn check(cli: &Cli, settings: &Settings, output: &Output, frr: Option<&Path>) -> Result<u8, Report> {
    let config = load(cli, CacheUse::None)?;
    let findings = frr.map(|startup| preflight::run(&config, settings.vtysh_timeout, startup)).unwrap_or_default();
    match output.format {
        Format::Text => {
            emit(&render::check_text(&config, &cli.configuration.display().to_string()));
            emit(&render::preflight_text(&findings, output.painter));
        }
        Format::Json => emit(&format!("{}\n", render::check_json(&config, frr.map(|_| findings.as_slice())))),
    }
    let failed = findings.iter().any(|finding| finding.level == preflight::Level::Error);
    Ok(if failed { EXIT_ERROR } else { EXIT_OK })
}

pub fn plan(
    config: &Config,
    settings: &Settings,
    output: &Output,
    offline: &Offline,
    detailed_exitcode: bool,
) -> Result<u8, Report> {
    // What a pass would be refused for; plan writes nothing, so it cannot know whether the counts could be saved.
    let (state_dir, problems) = match StateDir::open(&settings.state_dir) {
        Ok(state_dir) => (state_dir, Vec::new()),
        Err(problem) => (None, vec![problem]),
    };
    let mut plan = reconcile::gather(config, settings, Intent::Reconcile, offline, state_dir.as_ref(), problems);
    if offline.running_config.is_none() {
        reconcile::warn_unrouted(&mut plan, settings.vtysh_timeout);
    }
    output.plan(&plan, "plan", Tense::Planned);
    let summary = plan.summary();
    Ok(match () {
        _ if summary.has_errors() => EXIT_ERROR,
        _ if detailed_exitcode && summary.has_changes() => EXIT_CHANGES_PENDING,
        _ => EXIT_OK,
    })
}

/// Reads the files that replace live inputs in `plan`.
pub fn offline_inputs(
    config: &Config,
    running_config: Option<&Path>,
    health: Option<&Path>,
    assume: Option<Assumption>,
) -> Result<Offline, Report> {
    let running_config = running_config
        .map(|path| {
            let text = read_input(path, "--running-config", bounded::RUNNING_CONFIG)?;
            RunningConfig::parse(&text).map_err(|error| miette!("--running-config {}: {error}", path.display()))
        })
        .transpose()?;
    let health = match (health, assume) {
        (Some(path), _) => {
            let text = read_input(path, "--health", bounded::HEALTH)?;
            let names: BTreeSet<&str> = config.checks().map(|(_, check)| check.name.as_str()).collect();
            let results = cabourotte::parse_result_list(&text, &|name| names.contains(name))
                .map_err(|error| miette!("--health {}: {error}", path.display()))?;
            Some(results)
        }
        (None, Some(assumption)) => Some(cabourotte::assumed(config, assumption == Assumption::Healthy)),
        (None, None) => None,
    };
    Ok(Offline { running_config, health })
}

/// Reads a file, or stdin for `-`, up to `limit`.
fn read_input(path: &Path, flag: &str, limit: bounded::Limit) -> Result<String, Report> {
    let read = if path == Path::new("-") {
        limit.read_to_string(std::io::stdin())
    } else {
        std::fs::File::open(path).map_err(|error| error.to_string()).and_then(|file| limit.read_to_string(file))
    };
    read.map_err(|error| miette!("cannot read {flag} {}: {error}", path.display()))
}

pub fn apply(config: &Config, settings: &Settings, output: &Output) -> Result<u8, Report> {
    let applied = pass::run(config, settings, Intent::Reconcile, "apply", Vec::new());
    output.plan(&applied, "apply", Tense::Applied);
    Ok(exit_code_of(&applied))
}

/// Writes the maintenance marker first, so that no pass starting after this moment announces anything, then
/// withdraws under the lock. A marker that cannot be written does not stop the withdrawal: it is an error, and the
/// operator is told that the next pass may announce again.
pub fn withdraw_all(
    config: &Config,
    settings: &Settings,
    output: &Output,
    reason: Option<String>,
) -> Result<u8, Report> {
    let marked = StateDir::create(&settings.state_dir).and_then(|state_dir| begin_maintenance(&state_dir, reason));
    let unmarked = marked.err().map(|error| {
        format!(
            "{error}: withdrawing anyway, but without the maintenance marker the next apply or run pass may announce \
             the prefixes again; stop the timer or the loop, or make the state directory writable and run `anycastd \
             withdraw-all` again"
        )
    });
    let applied = pass::run(config, settings, Intent::WithdrawAll, "withdraw-all", unmarked.into_iter().collect());
    output.plan(&applied, "withdraw-all", Tense::Applied);
    Ok(exit_code_of(&applied))
}

/// Writes the maintenance marker, unless one is there already (its who, when and why are kept).
fn begin_maintenance(state_dir: &StateDir, reason: Option<String>) -> Result<(), String> {
    match maintenance::read(Some(state_dir)) {
        Ok(Some(_)) => Ok(()),
        Ok(None) | Err(_) => {
            maintenance::write(state_dir, &Maintenance::begin(reason)).map_err(|error| error.to_string())
        }
    }
}

pub fn resume(settings: &Settings) -> Result<u8, Report> {
    let state_dir = StateDir::open(&settings.state_dir).map_err(|error| miette!("{error}"))?;
    let Some(state_dir) = state_dir else {
        emit("Not in maintenance: nothing to resume.\n");
        return Ok(EXIT_OK);
    };
    let _lock = RunLock::acquire(&state_dir, "resume", settings.lock_timeout).map_err(|error| miette!("{error}"))?;
    if maintenance::remove(&state_dir).into_diagnostic()? {
        emit("Maintenance ended: the next apply announces the prefixes of healthy services again.\n");
    } else {
        emit("Not in maintenance: nothing to resume.\n");
    }
    Ok(EXIT_OK)
}

/// The exit code of an applied plan.
fn exit_code_of(applied: &Plan) -> u8 {
    if applied.summary().has_errors() { EXIT_ERROR } else { EXIT_OK }
}
