//! Finds the BGP `network` statements of FRR's startup config (`/etc/frr/frr.conf`, the integrated config).
//!
//! `write memory` saves the running config there, managed networks included; FRR then announces them at boot,
//! before any check has run, and `systemctl reload frr` (frr-reload.py) puts them back after anycastd withdrew them.
//! The pre-flight looks for them here.
//!
//! Unlike the running config, this file may be written by hand: FRR does not need its indentation, and `!` is only a
//! comment. So a `network` line belongs to the last `router bgp` header above it, until another daemon's block
//! (`router ospf`, `interface`, ...) begins in column 0; a `network` of another routing daemon (`network 10.0.0.0/8
//! area 0` under `router ospf`) is therefore not taken for a BGP one. No `end` line is expected.

use crate::config::{Prefix, Vrf};

/// One `network` statement of a `router bgp` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StartupNetwork {
    /// Its line number, from 1.
    pub line: usize,
    /// The VRF of its `router bgp` block.
    pub vrf: Vrf,
    /// The prefix, host bits masked as FRR does.
    pub prefix: Prefix,
}

/// The BGP `network` statements of startup config `text`.
pub(crate) fn bgp_networks(text: &str) -> Vec<StartupNetwork> {
    let mut networks = Vec::new();
    let mut current: Option<Vrf> = None;
    for (index, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let first = words.next();
        if !line.starts_with(char::is_whitespace) && first.is_some_and(starts_another_block) {
            current = bgp_vrf(line);
            continue;
        }
        if let (Some(vrf), Some("network"), Some(prefix)) = (&current, first, words.next())
            && let Some(net) = crate::config::parse_net(prefix)
        {
            networks.push(StartupNetwork { line: index + 1, vrf: vrf.clone(), prefix: Prefix::from_frr(net) });
        }
    }
    networks
}

/// Whether a column-0 line beginning with `word` opens a block (and so closes the one before). A hand-written
/// `network` in column 0 does not; `!`, `exit` and `address-family` lines do not either.
fn starts_another_block(word: &str) -> bool {
    !matches!(word, "!" | "network" | "exit" | "address-family" | "exit-address-family" | "no" | "bgp" | "neighbor")
}

/// The VRF of a `router bgp ASN [vrf NAME] [as-notation X]` header; `None` for any other line.
fn bgp_vrf(line: &str) -> Option<Vrf> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["router", "bgp", _] | ["router", "bgp", _, "as-notation", _] => Some(Vrf::Default),
        ["router", "bgp", _, "vrf", name] | ["router", "bgp", _, "vrf", name, "as-notation", _] => Vrf::parse(name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What FRR 10.3's `write memory` saved in the lab after anycastd announced the seed example.
    const WRITTEN_BY_FRR_10: &str = include_str!("../../tests/fixtures/frr-10.3-write-memory.conf");

    fn found(text: &str) -> Vec<(usize, String, String)> {
        bgp_networks(text).into_iter().map(|n| (n.line, n.vrf.described(), n.prefix.to_string())).collect()
    }

    #[test]
    fn reads_what_write_memory_saved() {
        assert_eq!(
            found(WRITTEN_BY_FRR_10),
            [
                (16, "the default VRF", "198.51.100.0/24"),
                (17, "the default VRF", "203.0.113.53/32"),
                (21, "the default VRF", "2001:db8::b19:bad:53/128"),
                (30, "VRF 123", "203.0.113.123/32"),
                (34, "VRF 123", "2001:db8::123:7e11:713e/128"),
            ]
            .map(|(line, vrf, prefix)| (line, vrf.to_string(), prefix.to_string()))
        );
    }

    #[test]
    fn a_hand_written_file_without_indentation_counts_too() {
        let text = "! by hand\nrouter bgp 65536 vrf EDGE\naddress-family ipv4 unicast\nnetwork 192.0.2.1/24\n!\n";
        assert_eq!(found(text), [(4, "VRF EDGE".to_string(), "192.0.2.0/24".to_string())]);
    }

    #[test]
    fn networks_of_other_daemons_are_not_bgp_networks() {
        let text = "router bgp 1\n network 192.0.2.0/24\nrouter ospf\n network 10.0.0.0/8 area 0\n\
                    interface lo\n ip address 203.0.113.1/32\nrouter rip\n network 10.0.0.0/8\n";
        assert_eq!(found(text), [(2, "the default VRF".to_string(), "192.0.2.0/24".to_string())]);
    }
}
