//! What a changing pass keeps of the record of managed prefixes (`state/managed.rs`): a record not written for the
//! configuration in force is written before anything is applied (so nothing is announced under a configuration the
//! record does not know), and written again after a pass that withdrew departed prefixes, without what FRR no longer
//! has.

use std::path::Path;

use crate::bird::BirdNet;
use crate::config::{BirdDaemon, Config};
use crate::plan::{Action, BirdStates, FrrStates, Plan, PrefixPlan, PrefixState, Warning};
use crate::state::StateDir;
use crate::state::managed::{self, Entry, Record};

/// Writes the record for `config` before `plan` is applied, when it was not written for it (`record`): every
/// configured prefix, and the departed ones FRR may still have. Returns why it could not be written, when `plan`
/// announces something: then nothing may be announced.
pub fn before_applying(state_dir: &StateDir, config: &Config, plan: &Plan, record: &Record) -> Option<String> {
    if !record.needs_writing() {
        return None;
    }
    let written = managed::write(state_dir, config, &entries(plan, |_| true));
    let announces = plan.prefixes().any(|prefix| prefix.action == Action::Announce);
    match written {
        Err(error) if announces => Some(format!("cannot record the prefixes it manages: {error}")),
        _ => None,
    }
}

/// After applying a plan that had departed prefixes: the record written anew without those their daemon no longer
/// has (`frr`, `bird`: what each FRR and BIRD has now). Returns a warning when it cannot be written (the next pass
/// tries again).
pub fn after_applying(
    state_dir: &StateDir,
    config: &Config,
    applied: &Plan,
    (frr, bird): (&FrrStates, &BirdStates),
) -> Option<Warning> {
    if applied.departed.is_empty() {
        return None;
    }
    let kept = entries(applied, |prefix| still_there(prefix, frr, bird));
    managed::write(state_dir, config, &kept).err().map(|error| Warning::RecordNotUpdated { error: error.to_string() })
}

/// Whether its daemon may still have the departed `prefix`: its FRR has the network in its VRF, its BIRD a route for
/// it, or the daemon could not be read.
fn still_there(prefix: &PrefixPlan, frr: &FrrStates, bird: &BirdStates) -> bool {
    let managed = &prefix.managed;
    if let Some(of) = managed.bird() {
        let Some(Ok(state)) = bird.get(&of.socket) else { return true };
        return BirdNet::of(managed).is_none_or(|net| state.routes.contains_key(&net));
    }
    let Some(Ok(running)) = managed.vtysh().and_then(|vtysh| frr.get(vtysh)) else { return true };
    running.network(&managed.vrf, &managed.prefix).is_some()
}

/// The entries of every configured prefix of `plan`, and of every departed prefix `keep_departed` keeps (of those
/// FRR had or could not be read).
fn entries(plan: &Plan, keep_departed: impl Fn(&PrefixPlan) -> bool) -> Vec<Entry> {
    let configured = plan.services.iter().flat_map(|service| service.prefixes.iter().map(move |p| (service, p)));
    let departed = plan
        .departed
        .iter()
        .flat_map(|service| service.prefixes.iter().map(move |p| (service, p)))
        .filter(|(_, prefix)| prefix.current != PrefixState::Withdrawn && keep_departed(prefix));
    configured
        .chain(departed)
        .map(|(service, prefix)| Entry {
            prefix: prefix.managed.prefix,
            vrf: prefix.managed.vrf.clone(),
            asn: prefix.asn.as_ref().map(ToString::to_string),
            vtysh: prefix.managed.vtysh().map(Path::to_path_buf),
            bird: prefix.managed.bird().map(|bird| BirdDaemon { drain: false, ..bird.clone() }),
            service: service.name.clone(),
        })
        .collect()
}
