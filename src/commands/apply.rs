//! `anycastd apply`: one changing pass, and its report.

use super::{CacheUse, Exit, load_config};
use crate::context::Context;
use crate::error::Error;
use crate::pass;
use crate::plan::Intent;
use crate::render::Tense;

/// Makes FRR match the health of every service.
pub fn apply(context: &Context) -> Result<Exit, Error> {
    let config = load_config(context, CacheUse::ReadAndRefresh)?;
    let applied = pass::changing_pass(&config, context, Intent::Reconcile, "apply", Vec::new());
    context.output.plan(&applied, "apply", Tense::Applied);
    Ok(Exit::of(&applied))
}
