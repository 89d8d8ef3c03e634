//! `anycastd resume`: ends maintenance (and a drain) by removing the marker, under the run lock. The next pass
//! announces the prefixes of healthy services again, and puts their own route-map back on the drained ones.

use super::Exit;
use crate::context::Context;
use crate::error::Error;
use crate::render::emit;
use crate::state::StateDir;
use crate::state::lock::RunLock;
use crate::state::maintenance;

/// Removes the maintenance marker, if there is one.
pub fn resume(context: &Context) -> Result<Exit, Error> {
    let Some(state_dir) = StateDir::open(&context.state_dir).map_err(Error::StateDir)? else {
        emit("Not in maintenance: nothing to resume.\n");
        return Ok(Exit::Done);
    };
    let _lock = RunLock::acquire(&state_dir, "resume", context.lock_timeout).map_err(Error::Lock)?;
    if maintenance::remove(&state_dir).map_err(Error::Marker)? {
        emit("Maintenance ended: the next apply announces the prefixes of healthy services again.\n");
    } else {
        emit("Not in maintenance: nothing to resume.\n");
    }
    Ok(Exit::Done)
}
