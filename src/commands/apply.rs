//! `anycastd apply`: one changing pass, and its report.

use super::{CacheUse, Exit, load_config_or_last_valid};
use crate::context::Context;
use crate::error::Error;
use crate::pass::{self, Pass};
use crate::plan::Intent;
use crate::render::Tense;

/// Makes FRR match the health of every service. With a broken configuration file, the last valid configuration
/// withdraws the services whose checks fail and announces nothing (see `InForce`); the exit code is 1.
pub fn apply(context: &Context) -> Result<Exit, Error> {
    let in_force = load_config_or_last_valid(context, CacheUse::ReadAndRefresh)?;
    let broken_config = in_force.refusal(context, "apply");
    let config_errors = u64::from(broken_config.is_some());
    let pass = Pass { broken_config, config_errors, ..Pass::new(Intent::Reconcile, "apply") };
    let applied = pass::one_pass(in_force.config(), context, &pass);
    context.output.plan(&applied, "apply", Tense::Applied);
    Ok(Exit::of(&applied))
}
