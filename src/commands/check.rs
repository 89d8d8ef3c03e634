//! `anycastd check`: validates the configuration and prints a summary; with `--frr`, `--cabourotte`, `--bird` and
//! `--exec` (or `--all`), the pre-flights of FRR, Cabourotte and BIRD, read-only, and one run of every command check.

use std::path::Path;

use super::{CacheUse, Exit, load_config};
use crate::context::Context;
use crate::error::Error;
use crate::finding::{Finding, Level};
use crate::frr::preflight as frr_preflight;
use crate::health::preflight as cabourotte_preflight;
use crate::plan::Warning;
use crate::render::{self, Format, emit};

/// The pre-flights asked for, besides validating the configuration.
#[derive(Clone, Copy, Debug, Default)]
pub struct Preflights<'a> {
    /// FRR's, with its startup config at this path.
    pub frr: Option<&'a Path>,
    /// Cabourotte's.
    pub cabourotte: bool,
    /// BIRD's.
    pub bird: bool,
    /// Every command check, run once.
    pub exec: bool,
}

/// Checks the configuration, and runs the pre-flights asked for.
pub fn check(context: &Context, preflights: Preflights<'_>) -> Result<Exit, Error> {
    let config = load_config(context, CacheUse::Never)?;
    let frr = preflights.frr.map(|startup| frr_preflight::check_all(&config, context.vtysh_timeout, startup));
    let cabourotte = preflights
        .cabourotte
        .then(|| cabourotte_preflight::check_all(&config, context.http_timeout, crate::clock::unix_now()));
    let bird = preflights.bird.then(|| crate::bird::preflight::check_all(&config, context.vtysh_timeout));
    let exec = preflights.exec.then(|| crate::health::exec::preflight(&config));
    let output = &context.output;
    let exposed =
        crate::config::exposed_keys(&config).into_iter().map(|key_file| Warning::KeyFileReadable { key_file });
    let programs = crate::health::exec::program_warnings(&config);
    let warnings: Vec<Warning> =
        config.warnings().into_iter().map(Warning::Config).chain(exposed).chain(programs).collect();
    match output.format {
        Format::Text => {
            emit(&render::check_text(&config, &context.config_path.display().to_string(), &warnings));
            emit(&render::preflight_text("FRR", frr.as_deref().unwrap_or_default(), output.painter));
            emit(&render::preflight_text("Cabourotte", cabourotte.as_deref().unwrap_or_default(), output.painter));
            emit(&render::preflight_text("BIRD", bird.as_deref().unwrap_or_default(), output.painter));
            emit(&render::preflight_text("exec checks", exec.as_deref().unwrap_or_default(), output.painter));
        }
        Format::Json => {
            let preflights = [frr.as_deref(), cabourotte.as_deref(), bird.as_deref(), exec.as_deref()];
            emit(&format!("{}\n", render::check_json(&config, &warnings, preflights)))
        }
    }
    let all = frr.iter().chain(cabourotte.iter()).chain(bird.iter()).chain(exec.iter()).flatten();
    let failed = all.clone().any(|finding: &Finding| finding.level == Level::Error);
    Ok(if failed { Exit::Failed } else { Exit::Done })
}
