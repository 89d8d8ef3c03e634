//! What a changing pass keeps of the record of announced prefixes (`state/announced.rs`): each announcement is
//! recorded before it is made, and a pass that read the record in full writes it anew without what FRR no longer
//! has.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::frr::RunningConfig;
use crate::plan::{Action, FrrStates, Plan, Presence};
use crate::state::StateDir;
use crate::state::announced::{self, Entry, Record};

/// Records what `plan` is about to announce, before it does. With no record yet (a first pass, or an anycastd that
/// kept none), the record is made, with every configured prefix FRR already has too: anycastd announced those.
/// Returns why the announcements could not be recorded: then they must not be made.
pub fn before_applying(state_dir: &StateDir, config: &Config, plan: &Plan, record: &Record) -> Option<String> {
    let announced = entries(plan, |action, _| *action == Action::Announce);
    let written = match record {
        Record::Missing => {
            let adopted =
                entries(plan, |action, presence| *action == Action::Announce || presence == Presence::Configured);
            announced::rewrite(state_dir, config, &adopted)
        }
        _ => announced::append(state_dir, config, &announced),
    };
    match written {
        Err(error) if !announced.is_empty() => Some(format!("cannot record what it announces: {error}")),
        _ => None,
    }
}

/// After applying: a record read in full is written anew with what FRR still has of it and what this pass
/// announced. Returns a warning when it cannot be written (the next pass reads it in full again).
pub fn after_applying(
    state_dir: &StateDir,
    config: &Config,
    applied: &Plan,
    record: Record,
    frr: &FrrStates,
) -> Option<String> {
    let Record::Read(read, stale) = record else { return None };
    let mut all = read.clone();
    all.extend(entries(applied, |action, _| *action == Action::Announce));
    all.retain(|entry| still_there(entry, frr));
    let unchanged = BTreeSet::from_iter(&all) == BTreeSet::from_iter(&read);
    if unchanged && !stale {
        return None;
    }
    announced::rewrite(state_dir, config, &all)
        .err()
        .map(|error| format!("cannot update the record of announced prefixes: {error}"))
}

/// Whether FRR may still have `entry`: its FRR has the network in the entry's VRF under the entry's AS, or could
/// not be read (then it stays).
fn still_there(entry: &Entry, frr: &FrrStates) -> bool {
    let Some(Ok(running)) = frr.get(&entry.vtysh) else { return true };
    has(running, entry)
}

fn has(running: &RunningConfig, entry: &Entry) -> bool {
    running
        .instance(&entry.vrf)
        .is_some_and(|instance| instance.asn.to_string() == entry.asn && instance.networks.contains_key(&entry.prefix))
}

/// The entries of the configured prefixes of `plan` whose action and presence in FRR `wanted` picks.
fn entries(plan: &Plan, wanted: impl Fn(&Action, Presence) -> bool) -> Vec<Entry> {
    plan.services
        .iter()
        .flat_map(|service| service.prefixes.iter().map(move |prefix| (service, prefix)))
        .filter(|(_, prefix)| wanted(&prefix.action, prefix.current))
        .filter_map(|(service, prefix)| {
            Some(Entry {
                prefix: prefix.managed.prefix,
                vrf: prefix.managed.vrf.clone(),
                asn: prefix.asn.as_ref()?.to_string(),
                vtysh: prefix.managed.vtysh.clone(),
                service: service.name.clone(),
            })
        })
        .collect()
}
