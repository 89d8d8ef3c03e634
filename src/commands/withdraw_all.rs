//! `anycastd withdraw-all`: maintenance. The marker is written first, so that no pass starting after this moment
//! announces anything; then every managed prefix is withdrawn, whatever the health.

use super::{CacheUse, Exit, load_config};
use crate::context::Context;
use crate::error::Error;
use crate::pass;
use crate::plan::Intent;
use crate::render::Tense;
use crate::state::StateDir;
use crate::state::maintenance::{self, Maintenance};

/// Enters maintenance and withdraws. A marker that cannot be written does not stop the withdrawal: it is an error of
/// the pass, and the operator is told that the next pass may announce again.
pub fn withdraw_all(context: &Context, reason: Option<String>) -> Result<Exit, Error> {
    let config = load_config(context, CacheUse::ReadAndRefresh)?;
    let marked = StateDir::create(&context.state_dir).and_then(|state_dir| begin_maintenance(&state_dir, reason));
    let unmarked = marked.err().map(|error| {
        format!(
            "{error}: withdrawing anyway, but without the maintenance marker the next apply or run pass may announce \
             the prefixes again; stop the timer or the loop, or make the state directory writable and run `anycastd \
             withdraw-all` again"
        )
    });
    let applied =
        pass::changing_pass(&config, context, Intent::WithdrawAll, "withdraw-all", unmarked.into_iter().collect());
    context.output.plan(&applied, "withdraw-all", Tense::Applied);
    Ok(Exit::of(&applied))
}

/// Writes the maintenance marker, unless one is there already (its who, when and why are kept).
fn begin_maintenance(state_dir: &StateDir, reason: Option<String>) -> std::io::Result<()> {
    match maintenance::read(Some(state_dir)) {
        Ok(Some(_)) => Ok(()),
        Ok(None) | Err(_) => maintenance::write(state_dir, &Maintenance::begin(reason)),
    }
}
