//! Renders changes as the vtysh command lines of one batch.
//!
//! One batch per FRR, in the form of a configuration file (vtysh `-f`, which starts in configuration mode): for each
//! BGP instance and address family the `network` and `no network` lines. A `network` line for a network FRR has
//! already replaces its route-map in place (or removes it, without one): that is how a prefix is drained and restored
//! without a moment in which it is not announced. The ASN always comes from FRR's own running config, so `router bgp ASN` only ever enters an
//! existing instance and never creates one.

use std::collections::BTreeMap;

use super::running_config::Asn;
use crate::config::{AddressFamily, Prefix, RouteMap, Vrf};

/// Whether a change sets or removes a `network` statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    /// `network PREFIX [route-map NAME]`: announces it, or changes the route-map of an announced one.
    Network(Option<RouteMap>),
    /// `no network PREFIX`
    NoNetwork,
}

/// One `network` statement to add or remove in an existing BGP instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    /// The AS number of the instance, as FRR's running config shows it.
    pub asn: Asn,
    /// The VRF of the instance.
    pub vrf: Vrf,
    /// The network.
    pub prefix: Prefix,
    /// Add or remove.
    pub kind: ChangeKind,
}

/// The command lines that make all `changes` in one vtysh call, grouped by instance and address family.
pub(crate) fn render_batch(changes: &[Change]) -> Vec<String> {
    let mut grouped: BTreeMap<(&Vrf, &Asn), BTreeMap<AddressFamily, Vec<&Change>>> = BTreeMap::new();
    for change in changes {
        grouped.entry((&change.vrf, &change.asn)).or_default().entry(change.prefix.family()).or_default().push(change);
    }
    let mut lines = Vec::new();
    for ((vrf, asn), families) in grouped {
        lines.push(match vrf {
            Vrf::Default => format!("router bgp {asn}"),
            Vrf::Named(name) => format!("router bgp {asn} vrf {name}"),
        });
        for (family, changes) in families {
            lines.push(format!("address-family {} unicast", family.name()));
            lines.extend(changes.iter().map(|change| match &change.kind {
                ChangeKind::Network(None) => format!("network {}", change.prefix),
                ChangeKind::Network(Some(route_map)) => format!("network {} route-map {route_map}", change.prefix),
                ChangeKind::NoNetwork => format!("no network {}", change.prefix),
            }));
            lines.push("exit-address-family".to_string());
        }
        lines.push("exit".to_string());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(asn: &str, vrf: Vrf, prefix: &str, kind: ChangeKind) -> Change {
        Change { asn: Asn::parse(asn).expect("asn"), vrf, prefix: Prefix::parse(prefix).expect("prefix"), kind }
    }

    #[test]
    fn one_batch_groups_changes_by_instance_and_family() {
        let blue = Vrf::Named("123".into());
        let drain = RouteMap::parse("ANYCAST-DRAIN");
        let changes = [
            change("65537", blue.clone(), "203.0.113.123", ChangeKind::Network(drain)),
            change("65536", Vrf::Default, "2001:db8::b19:bad:53", ChangeKind::Network(None)),
            change("65536", Vrf::Default, "203.0.113.53", ChangeKind::NoNetwork),
            change("65537", blue, "2001:db8::123:7e11:713e", ChangeKind::NoNetwork),
        ];
        assert_eq!(
            render_batch(&changes),
            [
                "router bgp 65536",
                "address-family ipv4 unicast",
                "no network 203.0.113.53/32",
                "exit-address-family",
                "address-family ipv6 unicast",
                "network 2001:db8::b19:bad:53/128",
                "exit-address-family",
                "exit",
                "router bgp 65537 vrf 123",
                "address-family ipv4 unicast",
                "network 203.0.113.123/32 route-map ANYCAST-DRAIN",
                "exit-address-family",
                "address-family ipv6 unicast",
                "no network 2001:db8::123:7e11:713e/128",
                "exit-address-family",
                "exit",
            ]
        );
    }
}
