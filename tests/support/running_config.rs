//! What the tests read of FRR's running config: the `network` lines and BGP instances, from the text itself or by
//! anycastd's own parser.

use std::collections::BTreeSet;

use anycastd::config::Vrf;
use anycastd::frr::RunningConfig;

/// The trimmed `network <prefix> ...` line in the BGP instance of `vrf` (`None`: the default VRF) of a running
/// config, read from the text itself (`router bgp ASN [vrf NAME]` blocks).
pub fn network_line_in(running_config: &str, vrf: Option<&str>, prefix: &str) -> Option<String> {
    let mut in_instance = false;
    for line in running_config.lines() {
        if !line.starts_with(char::is_whitespace) {
            let words: Vec<&str> = line.split_whitespace().collect();
            in_instance = match words[..] {
                ["router", "bgp", _] => vrf.is_none(),
                ["router", "bgp", _, "vrf", name] => vrf == Some(name),
                _ => false,
            };
            continue;
        }
        let trimmed = line.trim();
        let mut words = trimmed.split_whitespace();
        if in_instance && words.next() == Some("network") && words.next() == Some(prefix) {
            return Some(trimmed.to_string());
        }
    }
    None
}

/// The `network` prefixes (IPv4 and IPv6 unicast) in the BGP instance of `vrf` (`None`: the default VRF) of a running
/// config, read by anycastd's own parser.
pub fn networks_in(running_config: &str, vrf: Option<&str>) -> BTreeSet<String> {
    let parsed = RunningConfig::parse(running_config)
        .unwrap_or_else(|error| panic!("FRR's running config does not parse ({error}):\n{running_config}"));
    let vrf = vrf.map_or(Some(Vrf::Default), Vrf::parse).expect("a valid VRF name");
    parsed
        .instance(&vrf)
        .map(|instance| instance.networks.keys().map(ToString::to_string).collect())
        .unwrap_or_default()
}

/// The header lines of every BGP instance in a running config.
pub fn bgp_instances_in(running_config: &str) -> Vec<String> {
    running_config.lines().filter(|l| l.starts_with("router bgp")).map(|l| l.trim_end().to_string()).collect()
}
