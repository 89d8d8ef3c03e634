//! `anycastd check`: validates the configuration and prints a summary; with `--frr`, the FRR pre-flight too
//! (read-only).

use std::path::Path;

use super::{CacheUse, Exit, load_config};
use crate::context::Context;
use crate::error::Error;
use crate::frr::preflight::{self, Level};
use crate::render::{self, Format, emit};

/// Checks the configuration, and FRR when `frr` names FRR's startup config.
pub fn check(context: &Context, frr: Option<&Path>) -> Result<Exit, Error> {
    let config = load_config(context, CacheUse::Never)?;
    let findings = frr.map(|startup| preflight::check_all(&config, context.vtysh_timeout, startup)).unwrap_or_default();
    let output = &context.output;
    match output.format {
        Format::Text => {
            emit(&render::check_text(&config, &context.config_path.display().to_string()));
            emit(&render::preflight_text(&findings, output.painter));
        }
        Format::Json => emit(&format!("{}\n", render::check_json(&config, frr.map(|_| findings.as_slice())))),
    }
    let failed = findings.iter().any(|finding| finding.level == Level::Error);
    Ok(if failed { Exit::Failed } else { Exit::Done })
}
