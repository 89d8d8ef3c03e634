//! The host's own network interfaces and addresses: what a prefix's `interface` key reads and changes, so that the
//! service address (/32, /128) is on the host before its prefix is announced.
//!
//! anycastd talks rtnetlink itself, over one socket per pass, rather than running `ip -json`:
//! - changing an address needs CAP_NET_ADMIN, and anycastd hands no capability to a child process (vtysh, hooks and
//!   exec checks run with none, see [`keep_from_children`]); a child `ip` would need it;
//! - one socket answers every read and change of a pass, where `ip` would be a process per address;
//! - the kernel's answer is a binary format with lengths to check, not a tool's output whose shape can change
//!   between iproute2 releases.
//!
//! [`wire`] is the format (pure functions, tested on hand-built bytes), [`netlink`] the socket, and [`capability`]
//! what anycastd keeps of its own capabilities and passes on to none.

mod capability;
mod netlink;
mod wire;

#[cfg(test)]
mod kernel_tests;

use std::net::IpAddr;

pub(crate) use capability::{drop_net_admin, keep_from_children, keep_only_net_admin};
pub(crate) use netlink::Netlink;

/// One network interface of the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub index: u32,
    /// At most 15 bytes; bytes that are not UTF-8 read as U+FFFD. Escape it before display.
    pub name: String,
    /// the ifindex of its master device (IFLA_MASTER), if any
    pub master: Option<u32>,
    /// whether it is itself a VRF device (IFLA_LINKINFO/IFLA_INFO_KIND == "vrf")
    pub is_vrf: bool,
}

/// One address on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Address {
    pub index: u32,
    pub address: IpAddr,
    pub prefix_len: u8,
}

/// The host's interfaces and addresses, as one read saw them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Host {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
}

impl Host {
    /// The interface named `name` (the pass indexes every interface by name at once: `pass/host.rs`).
    #[cfg(test)]
    pub(crate) fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|link| link.name == name)
    }

    /// The VRF the interface is in: its own name when it is a VRF device, its master's when the master is a VRF
    /// device; None for the default VRF.
    pub(crate) fn vrf_of(&self, link: &Link) -> Option<&str> {
        let vrf = if link.is_vrf { link.index } else { link.master? };
        self.links.iter().find(|other| other.index == vrf && other.is_vrf).map(|vrf| vrf.name.as_str())
    }

    /// Whether the interface has this address, with whatever prefix length.
    #[cfg(test)]
    pub(crate) fn has_address(&self, index: u32, address: IpAddr) -> bool {
        self.addresses.iter().any(|found| found.index == index && found.address == address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str, master: Option<u32>, is_vrf: bool) -> Link {
        Link { index, name: name.into(), master, is_vrf }
    }

    fn host() -> Host {
        Host {
            links: vec![
                link(1, "lo", None, false),
                link(2, "blue", None, true),
                link(3, "dummy0", Some(2), false),
                link(4, "br0", None, false),
                link(5, "veth0", Some(4), false),
            ],
            addresses: vec![Address { index: 1, address: "203.0.113.53".parse().unwrap(), prefix_len: 24 }],
        }
    }

    #[test]
    fn an_interface_is_in_the_vrf_it_is_or_its_master_is_and_a_bridge_is_no_vrf() {
        let host = host();
        let vrf = |name: &str| host.vrf_of(host.link(name).unwrap());
        assert_eq!(vrf("blue"), Some("blue"));
        assert_eq!(vrf("dummy0"), Some("blue"));
        assert_eq!(vrf("lo"), None);
        assert_eq!(vrf("veth0"), None, "enslaved to a bridge, not a VRF");
        assert_eq!(host.vrf_of(&link(9, "orphan", Some(42), false)), None, "a master that is not there");
    }

    #[test]
    fn an_address_is_had_with_any_prefix_length_on_its_own_interface_only() {
        let host = host();
        assert!(host.has_address(1, "203.0.113.53".parse().unwrap()));
        assert!(!host.has_address(3, "203.0.113.53".parse().unwrap()));
        assert!(!host.has_address(1, "203.0.113.54".parse().unwrap()));
        assert!(host.link("eth0").is_none());
    }
}
