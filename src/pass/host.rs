//! The host stage of a pass: the service addresses of the prefixes' `interface` keys. What the host has is read
//! once per pass (one netlink dump, `host/`); the plan says what to add and remove (`plan/address.rs`); this stage
//! keeps the record of added addresses before anything is added, adds before the daemons are changed, and removes
//! after them, once the withdrawals are done.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use super::advertised;
use crate::config::Config;
use crate::host::{Host, Netlink};
use crate::plan::{AddressAction, AddressOutcome, AddressState, HostSeen, Inputs, InterfaceSeen, Plan};
use crate::state::StateDir;
use crate::state::addresses::{self, AddedAddress, AddedAddresses};

/// Whether a pass must read the host: a prefix has an `interface` key, or anycastd added addresses before.
pub(crate) fn needed(config: &Config, added: &AddedAddresses) -> bool {
    config.prefixes().any(|(_, managed)| managed.host.is_some()) || !added.trusted().is_empty()
}

/// The host's interfaces and addresses, read once, when `needed`.
pub(crate) fn read(config: &Config, added: &AddedAddresses) -> HostSeen {
    if !needed(config, added) {
        return HostSeen::NotRead;
    }
    match Netlink::open().and_then(|mut netlink| netlink.read()) {
        Ok(host) => HostSeen::Read(interfaces(&host)),
        Err(why) => HostSeen::Unreadable(why),
    }
}

/// What the plan needs of `host`: each interface by name, with its index, VRF and addresses.
fn interfaces(host: &Host) -> BTreeMap<String, InterfaceSeen> {
    host.links
        .iter()
        .map(|link| {
            let addresses = host.addresses.iter().filter(|one| one.index == link.index).map(|one| one.address);
            let seen = InterfaceSeen {
                index: link.index,
                vrf: host.vrf_of(link).map(str::to_string),
                addresses: addresses.collect(),
            };
            (link.name.clone(), seen)
        })
        .collect()
}

/// Writes the record of added addresses with every address `plan` adds, before any is added, so that a crash in
/// between never leaves an address nobody knows anycastd's. Returns why it could not (the pass then adds nothing).
pub(crate) fn record_before(state_dir: &StateDir, plan: &Plan, added: &AddedAddresses) -> Option<String> {
    let adding: Vec<AddedAddress> =
        plan.addresses.iter().filter(|one| one.action == AddressAction::Add).map(|one| one.as_added()).collect();
    if adding.is_empty() {
        return None;
    }
    let mut list = added.trusted().to_vec();
    list.extend(adding);
    addresses::write(state_dir, &list).err().map(|error| error.to_string())
}

/// When an address is added: before the daemons are changed, or after them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddPhase {
    /// Before any announcement of the pass: most addresses.
    Before,
    /// After the withdrawals: an address missing under a prefix that is announced now and that this pass withdraws.
    /// Added first, it would let FRR advertise (import-check) a prefix whose service just failed, for as long as the
    /// withdrawal takes: nothing but a passing check may cause an announcement.
    After,
}

/// Adds the addresses `plan` adds in `phase`; an announcement whose address could not be added becomes an error
/// (see `plan::refuse_announcements_without_address`).
pub(crate) fn add(plan: &mut Plan, host: &HostSeen, phase: AddPhase) {
    let due: Vec<usize> = (0..plan.addresses.len())
        .filter(|&at| plan.addresses[at].action == AddressAction::Add)
        .filter(|&at| plan.addresses[at].outcome == AddressOutcome::Pending)
        .filter(|&at| (phase == AddPhase::After) == crate::plan::added_after_withdrawals(plan, at))
        .collect();
    if due.is_empty() {
        return;
    }
    let mut netlink = Netlink::open();
    for at in due {
        if phase == AddPhase::After && crate::plan::still_announced_under(plan, at) {
            let why = "not added: a prefix that needs it is still announced, its withdrawal failed".to_string();
            plan.addresses[at].outcome = AddressOutcome::Failed(why);
            continue;
        }
        let one = &mut plan.addresses[at];
        one.outcome = match change(&mut netlink, host, &one.interface, one.address, Change::Add) {
            Ok(()) => AddressOutcome::Done,
            Err(why) => AddressOutcome::Failed(why),
        };
    }
    crate::plan::refuse_announcements_without_address(plan);
}

/// Removes the addresses `plan` removes, after the daemons were changed, and only those whose prefix is now
/// withdrawn everywhere, FRR's withdrawal sent to its neighbors (waiting for it at most
/// [`advertised::PENDING_WAIT`]): a withdrawal that failed, or that FRR has not sent yet, keeps its address for the
/// next pass.
pub(crate) fn remove(plan: &mut Plan, inputs: &Inputs, vtysh_timeout: Duration) {
    let host = &inputs.host;
    let removing: Vec<usize> =
        (0..plan.addresses.len()).filter(|&at| plan.addresses[at].action == AddressAction::Remove).collect();
    if removing.is_empty() {
        return;
    }
    let prefixes: BTreeSet<_> = removing.iter().map(|&at| plan.addresses[at].prefix).collect();
    let unsent = advertised::withdrawals_unsent(plan, &prefixes, &inputs.frr, vtysh_timeout, advertised::PENDING_WAIT);
    let mut netlink = Netlink::open();
    for at in removing {
        let prefix = plan.addresses[at].prefix;
        if unsent.contains(&prefix) || crate::plan::prefix_still_announced(plan, prefix, &inputs.frr, &inputs.bird) {
            plan.addresses[at].action = AddressAction::AwaitWithdrawal;
            continue;
        }
        let one = &mut plan.addresses[at];
        one.action = AddressAction::Remove;
        one.outcome = match change(&mut netlink, host, &one.interface, one.address, Change::Remove) {
            Ok(()) => AddressOutcome::Done,
            Err(why) => AddressOutcome::Failed(why),
        };
    }
}

/// A change of one address.
#[derive(Clone, Copy)]
enum Change {
    Add,
    Remove,
}

/// Makes `change` to `address` on `interface` through `netlink` (opened once for the stage).
fn change(
    netlink: &mut Result<Netlink, String>,
    host: &HostSeen,
    interface: &str,
    address: IpAddr,
    change: Change,
) -> Result<(), String> {
    let HostSeen::Read(interfaces) = host else { return Err("the host's interfaces were not read".to_string()) };
    let index = interfaces.get(interface).map(|seen| seen.index).ok_or("the interface no longer exists")?;
    let netlink = netlink.as_mut().map_err(|why| why.clone())?;
    match change {
        Change::Add => netlink.add_address(index, address),
        Change::Remove => netlink.remove_address(index, address),
    }
}

/// The record of added addresses after applying `plan`: without the addresses removed, and without those no longer
/// configured that are gone anyway; with every address added. Written only when it changed, and only when the
/// record read could be trusted.
pub(crate) fn record_after(state_dir: &StateDir, plan: &Plan, added: &AddedAddresses) -> Option<String> {
    if matches!(added, AddedAddresses::Unusable(_)) {
        return None;
    }
    let kept = plan.addresses.iter().filter(|one| {
        let added_now = one.action == AddressAction::Add && one.outcome == AddressOutcome::Done;
        let removed = one.action == AddressAction::Remove && one.outcome == AddressOutcome::Done;
        let gone_unconfigured = !one.configured && one.current == AddressState::Absent;
        let failed_add = one.action == AddressAction::Add && matches!(one.outcome, AddressOutcome::Failed(_));
        (one.added_by_anycastd || added_now) && !removed && !gone_unconfigured && !failed_add
    });
    let mut list: Vec<AddedAddress> = kept.map(|one| one.as_added()).collect();
    list.sort();
    let mut before = added.trusted().to_vec();
    before.sort();
    let written_before = plan.addresses.iter().any(|one| one.action == AddressAction::Add);
    if list == before && !written_before {
        return None;
    }
    addresses::write(state_dir, &list).err().map(|error| error.to_string())
}
