//! The service addresses on the host (a prefix's `interface` key) in the plan: which to add, keep or remove, and
//! which announcements wait for them.
//!
//! The rules, in the order a pass applies them:
//! - an address the configuration names is added when it is missing (before any announcement of the pass), and kept
//!   whatever the health: the service binds it, and its checks often use it. An announcement of a prefix whose
//!   address is not there, and cannot be added, is refused: FRR would keep a `network` it never advertises
//!   (`bgp network import-check`), or advertise an address the node does not serve;
//! - an address anycastd added (the record of `state/addresses.rs`) leaves only once its prefix has left the
//!   configuration, and only after that prefix is withdrawn from every daemon: withdraw first, then remove, never
//!   the other order. An address that was there before anycastd is never in the record, so never removed;
//! - `withdraw-all` and drains touch announcements only: they neither add nor remove an address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::config::{Config, Daemon, ManagedPrefix, Prefix, Vrf};
use crate::state::addresses::{AddedAddress, AddedAddresses};

use super::{Action, BirdStates, FrrStates, Inputs, Intent, Plan, PrefixError};

/// One interface of the host, as a pass saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterfaceSeen {
    /// Its index (what netlink changes it by).
    pub index: u32,
    /// The VRF it is in: its own name for a VRF device, its master's for an interface in a VRF; `None` for the
    /// default VRF.
    pub vrf: Option<String>,
    /// Its addresses, whatever their length.
    pub addresses: BTreeSet<IpAddr>,
}

/// What a pass knows of the host's interfaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HostSeen {
    /// Not read: nothing needs it, or an offline plan (the host that runs `plan` in CI is not the node).
    #[default]
    NotRead,
    /// Read once this pass, by interface name.
    Read(BTreeMap<String, InterfaceSeen>),
    /// Could not be read (why).
    Unreadable(String),
}

/// Whether an address is on its interface now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressState {
    /// On the interface.
    Present,
    /// Not on it (or the interface does not exist).
    Absent,
    /// Not known: the host was not read.
    Unknown,
}

/// Why an address cannot be planned or changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// The host's interfaces could not be read.
    HostUnreadable(String),
    /// No interface has this name.
    NoInterface,
    /// The interface is in another VRF than the prefix's (`None`: the default VRF).
    WrongVrf {
        /// The VRF the interface is in.
        found: Option<String>,
    },
    /// The record of added addresses cannot be written or trusted, so an address added now could never be known as
    /// anycastd's (why).
    NotRecorded(String),
}

impl AddressError {
    /// Its stable code in the JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            AddressError::HostUnreadable(_) => "host-unreadable",
            AddressError::NoInterface => "no-such-interface",
            AddressError::WrongVrf { .. } => "interface-in-another-vrf",
            AddressError::NotRecorded(_) => "address-not-recorded",
        }
    }
}

/// What to do with one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressAction {
    /// Put it on the interface (before the pass announces anything).
    Add,
    /// Take it off the interface (after the pass withdrew its prefix).
    Remove,
    /// Nothing: it is as it should be, or stays until its prefix leaves the configuration.
    Keep,
    /// Its prefix left the configuration, but is still announced (or its daemon could not say): it stays until a
    /// pass has withdrawn it.
    AwaitWithdrawal,
    /// Nothing can be done.
    Error(AddressError),
}

/// What applying did to one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressOutcome {
    /// Not applied (a plan), or nothing to apply.
    Pending,
    /// Done.
    Done,
    /// The kernel refused (why).
    Failed(String),
}

/// One address in the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressPlan {
    /// The interface.
    pub interface: String,
    /// The address (a /32 or /128 on the interface).
    pub address: IpAddr,
    /// The prefix it is for.
    pub prefix: Prefix,
    /// The service of that prefix (the one recorded, for an address whose prefix left the configuration).
    pub service: String,
    /// Whether the configuration names it now.
    pub configured: bool,
    /// Whether the record says anycastd added it.
    pub added_by_anycastd: bool,
    /// Whether it is on its interface now.
    pub current: AddressState,
    /// What to do.
    pub action: AddressAction,
    /// What applying did.
    pub outcome: AddressOutcome,
}

impl AddressPlan {
    /// Whether this address failed to plan or to apply.
    pub fn is_error(&self) -> bool {
        matches!(self.action, AddressAction::Error(_)) || matches!(self.outcome, AddressOutcome::Failed(_))
    }

    /// Whether it will be on its interface once the plan is applied (or, for a failed change, as it was).
    pub fn present_after(&self) -> bool {
        match (&self.action, &self.outcome) {
            (_, AddressOutcome::Failed(_)) => self.current == AddressState::Present,
            (AddressAction::Add, _) => true,
            (AddressAction::Remove, _) => false,
            _ => self.current == AddressState::Present,
        }
    }

    /// What the record of added addresses says of it.
    pub(crate) fn as_added(&self) -> AddedAddress {
        AddedAddress {
            interface: self.interface.clone(),
            address: self.address,
            prefix: self.prefix,
            service: self.service.clone(),
        }
    }
}

/// The addresses of a plan whose prefixes are already planned: every address the configuration names, and every
/// address the record says anycastd added. Announcements of prefixes whose address cannot be there are refused.
pub(crate) fn plan_addresses(plan: &mut Plan, config: &Config, inputs: &Inputs, intent: Intent) {
    let (host, added) = (&inputs.host, &inputs.added);
    let recorded = added.trusted();
    let mut addresses = Vec::new();
    let mut seen = BTreeSet::new();
    for service in &config.services {
        for managed in &service.prefixes {
            let Some(wanted) = &managed.host else { continue };
            for address in &wanted.addresses {
                if !seen.insert((wanted.interface.clone(), *address)) {
                    continue;
                }
                let ours = recorded.iter().any(|one| one.interface == wanted.interface && one.address == *address);
                let current = state_of(host, &wanted.interface, *address);
                let action = configured_action(host, managed, &wanted.interface, current, added, intent);
                addresses.push(AddressPlan {
                    interface: wanted.interface.clone(),
                    address: *address,
                    prefix: managed.prefix,
                    service: service.name.clone(),
                    configured: true,
                    added_by_anycastd: ours,
                    current,
                    action,
                    outcome: AddressOutcome::Pending,
                });
            }
        }
    }
    let configured_prefixes: BTreeSet<Prefix> = config.prefixes().map(|(_, managed)| managed.prefix).collect();
    for one in recorded {
        if !seen.insert((one.interface.clone(), one.address)) {
            continue;
        }
        let current = state_of(host, &one.interface, one.address);
        let action = departed_action(plan, inputs, host, one, current, configured_prefixes.contains(&one.prefix));
        addresses.push(AddressPlan {
            interface: one.interface.clone(),
            address: one.address,
            prefix: one.prefix,
            service: one.service.clone(),
            configured: false,
            added_by_anycastd: true,
            current,
            action,
            outcome: AddressOutcome::Pending,
        });
    }
    plan.addresses = addresses;
    refuse_announcements_without_address(plan);
}

/// A warning for each FRR BGP instance without `bgp router-id` in whose VRF the plan adds or removes an address on
/// `lo`: bgpd may take the highest loopback address as its router-ID, and a new router-ID resets every session.
/// Said when it matters, as the address changes, not at every pass (`check --frr` says it always).
pub(crate) fn router_id_warnings(plan: &Plan, config: &Config, frr: &super::FrrStates) -> Vec<super::Warning> {
    let changing: BTreeSet<IpAddr> = plan
        .addresses
        .iter()
        .filter(|one| one.interface == "lo" && matches!(one.action, AddressAction::Add | AddressAction::Remove))
        .map(|one| one.address)
        .collect();
    let mut warned = BTreeSet::new();
    for (_, managed) in config.prefixes() {
        let (Some(host), Some(vtysh)) = (&managed.host, managed.vtysh()) else { continue };
        if !host.addresses.iter().any(|address| changing.contains(address)) {
            continue;
        }
        let Some(Ok(running)) = frr.get(vtysh) else { continue };
        let Some(instance) = running.instance(&managed.vrf) else { continue };
        if instance.router_id.is_none() {
            warned.insert((vtysh.to_path_buf(), managed.vrf.clone()));
        }
    }
    warned.into_iter().map(|(vtysh, vrf)| super::Warning::NoRouterId { vtysh, vrf }).collect()
}

/// Whether `address` is on `interface`.
fn state_of(host: &HostSeen, interface: &str, address: IpAddr) -> AddressState {
    match host {
        HostSeen::Read(interfaces) => match interfaces.get(interface) {
            Some(seen) if seen.addresses.contains(&address) => AddressState::Present,
            _ => AddressState::Absent,
        },
        HostSeen::NotRead | HostSeen::Unreadable(_) => AddressState::Unknown,
    }
}

/// What to do with an address the configuration names for `managed`.
fn configured_action(
    host: &HostSeen,
    managed: &ManagedPrefix,
    interface: &str,
    current: AddressState,
    added: &AddedAddresses,
    intent: Intent,
) -> AddressAction {
    let interfaces = match host {
        HostSeen::NotRead => return AddressAction::Keep,
        HostSeen::Unreadable(why) => return AddressAction::Error(AddressError::HostUnreadable(why.clone())),
        HostSeen::Read(interfaces) => interfaces,
    };
    let Some(seen) = interfaces.get(interface) else { return AddressAction::Error(AddressError::NoInterface) };
    if let (Daemon::Frr(_), vrf) = (&managed.daemon, &managed.vrf) {
        let wanted = match vrf {
            Vrf::Default => None,
            Vrf::Named(name) => Some(name.as_str()),
        };
        if seen.vrf.as_deref() != wanted {
            return AddressAction::Error(AddressError::WrongVrf { found: seen.vrf.clone() });
        }
    }
    match (current, intent, added) {
        (AddressState::Present, _, _) => AddressAction::Keep,
        (_, Intent::WithdrawAll | Intent::Drain { .. }, _) => AddressAction::Keep,
        (_, Intent::Reconcile, AddedAddresses::Unusable(why)) => {
            AddressAction::Error(AddressError::NotRecorded(why.clone()))
        }
        (_, Intent::Reconcile, _) => AddressAction::Add,
    }
}

/// What to do with an address the record says anycastd added and the configuration no longer names. It stays while
/// its prefix is still configured (the key changed, not the service); once the prefix left, it goes once no plan
/// of the pass leaves that prefix announced, or unknown.
fn departed_action(
    plan: &Plan,
    inputs: &Inputs,
    host: &HostSeen,
    one: &AddedAddress,
    current: AddressState,
    prefix_configured: bool,
) -> AddressAction {
    if let HostSeen::Unreadable(why) = host {
        return AddressAction::Error(AddressError::HostUnreadable(why.clone()));
    }
    if prefix_configured || current != AddressState::Present {
        return AddressAction::Keep;
    }
    if prefix_still_announced(plan, one.prefix, &inputs.frr, &inputs.bird) {
        AddressAction::AwaitWithdrawal
    } else {
        AddressAction::Remove
    }
}

/// Whether `prefix` is still announced once `plan` is applied, as far as the pass can tell: a prefix plan of it
/// leaves it announced, or cannot say; or a routing daemon has it that no plan withdraws (`frr`, `bird`: what the
/// pass knows of them; after applying, what it verified). An address is removed only once nothing announces its
/// prefix, managed or not.
pub(crate) fn prefix_still_announced(plan: &Plan, prefix: Prefix, frr: &FrrStates, bird: &BirdStates) -> bool {
    let mut plans = plan.prefixes().filter(|planned| planned.managed.prefix == prefix).peekable();
    let planned = plans.peek().is_some();
    if plans.any(|planned| planned.is_error() || planned.state_after().is_announced()) {
        return true;
    }
    let applied = plan.prefixes().any(|planned| planned.outcome != super::Outcome::Pending);
    if planned && !applied {
        // A plan not applied yet: the daemons still have what it withdraws.
        return false;
    }
    let in_frr = frr
        .values()
        .filter_map(|state| state.as_ref().ok())
        .any(|running| running.instances.iter().any(|instance| instance.networks.contains_key(&prefix)));
    let in_bird = bird
        .values()
        .filter_map(|state| state.as_ref().ok())
        .any(|state| state.routes.keys().any(|net| net.prefix == prefix));
    in_frr || in_bird
}

/// Whether address `at` of `plan` is added after the withdrawals rather than before the announcements: a prefix
/// that needs it is announced now and withdrawn by this pass. Added first, it would let FRR advertise
/// (import-check) a prefix whose service just failed, for as long as the withdrawal takes.
pub(crate) fn added_after_withdrawals(plan: &Plan, at: usize) -> bool {
    needing(plan, at).any(|planned| planned.current.is_announced() && !planned.will_be_announced())
}

/// Whether a prefix that needs address `at` is still announced after applying, though it should not be (its
/// withdrawal failed): the address must not be added then.
pub(crate) fn still_announced_under(plan: &Plan, at: usize) -> bool {
    needing(plan, at).any(|planned| !planned.will_be_announced() && planned.state_after().is_announced())
}

/// The prefixes of `plan` whose `interface` key names address `at`.
fn needing(plan: &Plan, at: usize) -> impl Iterator<Item = &super::PrefixPlan> {
    let one = &plan.addresses[at];
    plan.prefixes().filter(move |planned| {
        let host = planned.managed.host.as_ref();
        host.is_some_and(|host| host.interface == one.interface && host.addresses.contains(&one.address))
    })
}

/// Why an address the configuration names will not be on its interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unplaced {
    /// It could not be planned.
    Error(AddressError),
    /// The kernel refused to add it (why).
    Failed(String),
}

/// Turns the announcement of every prefix with an address that will not be there into an error: the prefix's
/// `network` must not go to FRR (nor its protocol to BIRD) before its address is on the host. An address not read
/// (an offline plan) refuses nothing; one that could not be read (a unit without AF_NETLINK) cannot be known to be
/// there, and refuses.
pub(crate) fn refuse_announcements_without_address(plan: &mut Plan) {
    let known = |address: &&AddressPlan| {
        address.current != AddressState::Unknown || matches!(address.action, AddressAction::Error(_))
    };
    let missing: BTreeMap<(String, IpAddr), Unplaced> = plan
        .addresses
        .iter()
        .filter(known)
        .filter(|address| address.configured && !address.present_after())
        .map(|address| ((address.interface.clone(), address.address), unplaced(address)))
        .collect();
    for planned in plan.prefixes_mut() {
        let Some(host) = &planned.managed.host else { continue };
        if planned.action != Action::Announce {
            continue;
        }
        let key = host.addresses.iter().map(|address| (host.interface.clone(), *address));
        if let Some(((interface, address), why)) = key.filter_map(|key| missing.get_key_value(&key)).next() {
            let (interface, address, why) = (interface.clone(), *address, why.clone());
            planned.action = Action::Error(PrefixError::AddressMissing { interface, address, why });
        }
    }
}

/// Why `address`, which the configuration names, will not be on its interface.
fn unplaced(address: &AddressPlan) -> Unplaced {
    match (&address.action, &address.outcome) {
        (_, AddressOutcome::Failed(why)) => Unplaced::Failed(why.clone()),
        (AddressAction::Error(error), _) => Unplaced::Error(error.clone()),
        // Not added in this pass (withdraw-all): nothing is announced by it either.
        _ => Unplaced::Failed("it is not on the interface".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{frr, plan_with};
    use super::*;
    use crate::config::Config;

    const ON_LO: &str = r#"
[services.dns]
prefixes.frrouting = [{ prefix = "203.0.113.53", interface = "lo" }, { prefix = "203.0.113.54", vrf = "blue", interface = "lo" }]
checks.cabourotte = ["dns"]
"#;

    const FRR: &str = "router bgp 65536\n bgp router-id 192.0.2.1\n!\nrouter bgp 65536 vrf blue\n!\nend\n";

    fn host(interfaces: &[(&str, u32, Option<&str>, &[&str])]) -> HostSeen {
        HostSeen::Read(
            interfaces
                .iter()
                .map(|(name, index, vrf, addresses)| {
                    let addresses = addresses.iter().map(|a| a.parse().expect("an address")).collect();
                    (name.to_string(), InterfaceSeen { index: *index, vrf: vrf.map(str::to_string), addresses })
                })
                .collect(),
        )
    }

    fn added(address: &str, service: &str) -> AddedAddress {
        AddedAddress {
            interface: "lo".into(),
            address: address.parse().expect("an address"),
            prefix: Prefix::parse(address).expect("a prefix"),
            service: service.into(),
        }
    }

    fn summary(plan: &Plan) -> Vec<(String, AddressAction)> {
        plan.addresses.iter().map(|one| (one.address.to_string(), one.action.clone())).collect()
    }

    #[test]
    fn a_missing_address_is_added_and_the_announcement_waits_for_it_while_a_wrong_vrf_refuses_it() {
        let config = Config::parse(ON_LO, "t").expect("valid");
        let inputs = Inputs { host: host(&[("lo", 1, None, &["127.0.0.1"])]), ..Inputs::default() };
        let plan = plan_with(&config, true, &frr(FRR), inputs);
        assert_eq!(
            summary(&plan),
            [
                ("203.0.113.53".into(), AddressAction::Add),
                ("203.0.113.54".into(), AddressAction::Error(AddressError::WrongVrf { found: None })),
            ]
        );
        let actions: Vec<_> = plan.prefixes().map(|p| p.action.clone()).collect();
        assert_eq!(actions[0], Action::Announce, "announced after its address is added");
        assert!(
            matches!(&actions[1], Action::Error(PrefixError::AddressMissing { interface, .. }) if interface == "lo"),
            "{actions:?}"
        );
    }

    #[test]
    fn a_host_whose_addresses_cannot_be_read_announces_no_prefix_that_has_an_interface() {
        let config = Config::parse(ON_LO, "t").expect("valid");
        let why = "netlink: opening a socket: address family not supported by protocol".to_string();
        let inputs = Inputs { host: HostSeen::Unreadable(why.clone()), ..Inputs::default() };
        let plan = plan_with(&config, true, &frr(FRR), inputs);
        let actions: Vec<_> = plan.prefixes().map(|p| p.action.clone()).collect();
        for action in &actions {
            let refused = matches!(action, Action::Error(PrefixError::AddressMissing { why: Unplaced::Error(
                AddressError::HostUnreadable(seen)), .. }) if *seen == why);
            assert!(refused, "{actions:?}");
        }
    }

    #[test]
    fn an_unhealthy_service_keeps_its_address_and_an_unknown_interface_is_an_error_for_its_prefix_only() {
        let config = Config::parse(&ON_LO.replace("vrf = \"blue\", interface = \"lo\"", "interface = \"lo0\""), "t")
            .expect("valid");
        let inputs = Inputs { host: host(&[("lo", 1, None, &["203.0.113.53"])]), ..Inputs::default() };
        let plan = plan_with(&config, false, &frr(FRR), inputs);
        assert_eq!(
            summary(&plan),
            [
                ("203.0.113.53".into(), AddressAction::Keep),
                ("203.0.113.54".into(), AddressAction::Error(AddressError::NoInterface)),
            ]
        );
        let inputs = Inputs { host: host(&[("lo", 1, None, &["203.0.113.53"])]), ..Inputs::default() };
        let healthy = plan_with(&config, true, &frr(FRR), inputs);
        let actions: Vec<_> = healthy.prefixes().map(|p| p.action.clone()).collect();
        assert_eq!(actions[0], Action::Announce);
        assert!(matches!(actions[1], Action::Error(PrefixError::AddressMissing { .. })), "{actions:?}");
    }

    #[test]
    fn an_added_address_leaves_only_after_its_prefix_left_the_configuration_and_one_found_there_never_does() {
        let config = Config::parse(ON_LO, "t").expect("valid");
        let on_lo = &["203.0.113.53", "203.0.113.54", "203.0.113.99", "203.0.113.98"];
        let blue = host(&[("lo", 1, None, on_lo)]);
        // .99 was added for a prefix that left and nothing announces; .98 for one FRR still announces; .54 is still
        // configured (in another VRF now): it stays.
        let record = AddedAddresses::Trusted(vec![
            added("203.0.113.99", "old"),
            added("203.0.113.98", "old"),
            added("203.0.113.54", "dns"),
        ]);
        let running = "router bgp 65536\n bgp router-id 192.0.2.1\n address-family ipv4 unicast\n  network \
                       203.0.113.98/32\n exit-address-family\n!\nend\n";
        let inputs = Inputs { host: blue, added: record, ..Inputs::default() };
        let plan = plan_with(&config, true, &frr(running), inputs);
        let departed: Vec<_> =
            summary(&plan).into_iter().filter(|(a, _)| a.ends_with(".99") || a.ends_with(".98")).collect();
        assert_eq!(
            departed,
            [("203.0.113.99".into(), AddressAction::Remove), ("203.0.113.98".into(), AddressAction::AwaitWithdrawal)]
        );
        let found_there = plan.addresses.iter().find(|one| one.address.to_string() == "203.0.113.53").expect(".53");
        assert_eq!((found_there.action.clone(), found_there.added_by_anycastd), (AddressAction::Keep, false));
    }

    #[test]
    fn an_untrusted_record_removes_nothing_and_adds_nothing_and_withdraw_all_adds_nothing() {
        let config = Config::parse(ON_LO, "t").expect("valid");
        let inputs = Inputs {
            host: host(&[("lo", 1, None, &["203.0.113.99"])]),
            added: AddedAddresses::Unusable("not ours".into()),
            ..Inputs::default()
        };
        let plan = plan_with(&config, true, &frr(FRR), inputs.clone());
        assert_eq!(plan.addresses[0].action, AddressAction::Error(AddressError::NotRecorded("not ours".into())));
        assert!(plan.addresses.iter().all(|one| one.address.to_string() != "203.0.113.99"));
        assert!(matches!(plan.prefixes().next().map(|p| &p.action), Some(Action::Error(_))));
        let inputs = Inputs { added: AddedAddresses::Missing, frr: frr(FRR), ..inputs };
        let withdraw_all = Plan::compute(&config, &inputs, Intent::WithdrawAll);
        assert_eq!(withdraw_all.addresses[0].action, AddressAction::Keep);
    }

    #[test]
    fn adding_an_address_to_lo_warns_of_an_instance_without_router_id() {
        let config = Config::parse(ON_LO, "t").expect("valid");
        let inputs = Inputs { host: host(&[("lo", 1, None, &[])]), ..Inputs::default() };
        let plan = plan_with(&config, true, &frr("router bgp 65536\n!\nend\n"), inputs);
        assert!(
            plan.warnings.iter().any(|w| matches!(w, super::super::Warning::NoRouterId { .. })),
            "{:?}",
            plan.warnings
        );
        let inputs = Inputs { host: host(&[("lo", 1, None, &[])]), ..Inputs::default() };
        let plan = plan_with(&config, true, &frr(FRR), inputs);
        assert!(!plan.warnings.iter().any(|w| matches!(w, super::super::Warning::NoRouterId { .. })));
    }

    #[test]
    fn an_address_missing_under_an_announced_prefix_that_is_withdrawn_is_added_after_the_withdrawal() {
        let config = Config::parse(ON_LO, "t").expect("valid");
        let announced = "router bgp 65536\n bgp router-id 192.0.2.1\n address-family ipv4 unicast\n  network \
                         203.0.113.53/32\n exit-address-family\n!\nrouter bgp 65536 vrf blue\n!\nend\n";
        let inputs = || Inputs { host: host(&[("lo", 1, None, &[])]), ..Inputs::default() };
        let unhealthy = plan_with(&config, false, &frr(announced), inputs());
        assert_eq!(unhealthy.addresses[0].action, AddressAction::Add);
        assert!(added_after_withdrawals(&unhealthy, 0), "FRR would advertise a failing service's prefix meanwhile");
        let healthy = plan_with(&config, true, &frr(announced), inputs());
        assert!(!added_after_withdrawals(&healthy, 0), "before: the announcement needs it");
    }
}
