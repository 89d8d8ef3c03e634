//! `anycastd forget PREFIX`: lets go of a prefix anycastd manages, without withdrawing it. Once the configuration no
//! longer names a prefix, anycastd withdraws it wherever FRR still has it (see `state/managed.rs`); an operator who
//! moved it into FRR's own configuration by hand says so with this command, and anycastd leaves it alone.

use super::{CacheUse, Exit, load_config_or_last_valid};
use crate::config::{Config, Prefix, PrefixError, Vrf};
use crate::context::Context;
use crate::error::Error;
use crate::escape::escape;
use crate::render::emit;
use crate::state::StateDir;
use crate::state::lock::RunLock;
use crate::state::managed;

/// Removes `prefix` (in `vrf`, or in every VRF) from the record of managed prefixes, under the run lock.
pub fn forget(context: &Context, prefix: &str, vrf: Option<&str>) -> Result<Exit, Error> {
    let usage = |reason: String| Error::InvalidArgument { what: "forget", reason };
    let prefix = Prefix::parse(prefix).map_err(|error| match error {
        PrefixError::NotAPrefix => usage(format!("{} is not a prefix", escape(prefix))),
        PrefixError::HostBitsSet(meant) => {
            usage(format!("{} has host bits set; did you mean {meant}?", escape(prefix)))
        }
    })?;
    let vrf = vrf
        .map(|name| Vrf::parse(name).ok_or_else(|| usage(format!("{} is not a VRF name", escape(name)))))
        .transpose()?;
    // The configuration only sets the record's header; a broken one must not keep an operator from forgetting.
    let config = load_config_or_last_valid(context, CacheUse::ReadOnly)
        .map_or_else(|_| None, |in_force| Some(in_force.config().clone()));
    let Some(state_dir) = StateDir::open(&context.state_dir).map_err(Error::StateDir)? else {
        emit(&format!("{prefix} is not in the record of managed prefixes: nothing to forget.\n"));
        return Ok(Exit::Done);
    };
    let _lock = RunLock::acquire(&state_dir, "forget", context.lock_timeout).map_err(Error::Lock)?;
    let empty = Config::default();
    let config = config.as_ref().unwrap_or(&empty);
    let forgotten = managed::forget(&state_dir, config, prefix, vrf.as_ref()).map_err(Error::StateDir)?;
    if forgotten.is_empty() {
        emit(&format!("{prefix} is not in the record of managed prefixes: nothing to forget.\n"));
        return Ok(Exit::Done);
    }
    for entry in &forgotten {
        let (through, daemon) = match (&entry.vtysh, &entry.bird) {
            (Some(vtysh), _) => (vtysh.display().to_string(), "FRR"),
            (None, Some(bird)) => (format!("BIRD at {}", bird.socket.display()), "BIRD"),
            (None, None) => (String::from("no daemon"), "its daemon"),
        };
        emit(&format!(
            "Forgot {} in {} (announced for service {} through {}): anycastd no longer withdraws it; {daemon} keeps it \
             as it is.\n",
            entry.prefix,
            entry.vrf.described(),
            escape(&entry.service),
            escape(&through)
        ));
    }
    let still_named = config.prefixes().any(|(_, p)| p.prefix == prefix && vrf.as_ref().is_none_or(|v| *v == p.vrf));
    if still_named {
        emit(&format!(
            "The configuration still names {prefix}: anycastd still manages it, and records it again when it next \
             announces it.\n"
        ));
    }
    Ok(Exit::Done)
}
