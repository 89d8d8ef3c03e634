//! Asks FRR's RIB whether it has a route for prefixes: with `bgp network import-check` on, FRR keeps a `network`
//! without such a route but does not advertise it, the most common "it says announced but nobody sees it" trap.

use std::collections::{BTreeMap, BTreeSet};

use super::vtysh::Vtysh;
use crate::config::{AddressFamily, Prefix, Vrf};

/// Whether FRR's RIB has a route for exactly each prefix, by VRF; a VRF whose RIB could not be read maps to the
/// reason.
pub(crate) type RouteLookup = BTreeMap<Vrf, Result<BTreeSet<Prefix>, String>>;

/// Looks up `prefixes` in FRR's RIB: one vtysh call per VRF, one `show ip[v6] route [vrf NAME] PREFIX json` each.
/// The answer for each VRF is the set of prefixes that have a route.
pub(crate) fn routes_present(vtysh: &Vtysh, prefixes: &BTreeSet<(Vrf, Prefix)>) -> RouteLookup {
    let mut by_vrf: BTreeMap<&Vrf, Vec<Prefix>> = BTreeMap::new();
    for (vrf, prefix) in prefixes {
        by_vrf.entry(vrf).or_default().push(*prefix);
    }
    by_vrf.into_iter().map(|(vrf, prefixes)| (vrf.clone(), lookup_vrf(vtysh, vrf, &prefixes))).collect()
}

fn lookup_vrf(vtysh: &Vtysh, vrf: &Vrf, prefixes: &[Prefix]) -> Result<BTreeSet<Prefix>, String> {
    let commands: Vec<String> = prefixes.iter().map(|prefix| show_route(vrf, prefix)).collect();
    let output = vtysh.show(&commands).map_err(|error| error.to_string())?;
    let answers = parse_answers(&output).map_err(|reason| match vrf.name() {
        Some(name) if reason == format!("% VRF {name} not found") => no_vrf_device(&reason, name),
        _ => reason,
    })?;
    if answers.len() != prefixes.len() {
        return Err(format!("expected {} answers from vtysh, got {}", prefixes.len(), answers.len()));
    }
    Ok(prefixes.iter().zip(answers).filter(|(_, has_route)| *has_route).map(|(prefix, _)| *prefix).collect())
}

/// What zebra's `% VRF NAME not found` means, and how to make the VRF: FRR takes `router bgp ASN vrf NAME` and its
/// `network` lines without the kernel's VRF device, and then advertises nothing in that VRF.
fn no_vrf_device(frr_said: &str, name: &str) -> String {
    format!(
        "{frr_said}: the kernel has no VRF device named {name}, and FRR advertises nothing in this VRF without it; \
         create it with `ip link add {name} type vrf table N && ip link set {name} up` (N: a routing table no other \
         VRF device uses), and make it persistent in the host's network configuration"
    )
}

/// The exact-match route query for one prefix.
fn show_route(vrf: &Vrf, prefix: &Prefix) -> String {
    let ip = match prefix.family() {
        AddressFamily::Ipv4 => "ip",
        AddressFamily::Ipv6 => "ipv6",
    };
    match vrf {
        Vrf::Default => format!("show {ip} route {prefix} json"),
        Vrf::Named(name) => format!("show {ip} route vrf {name} {prefix} json"),
    }
}

/// Reads the JSON objects vtysh printed one after the other: a non-empty object means a route exists. FRR answers
/// some errors with a `% ...` line and a success status (`% VRF blue not found`): that line is the reason.
fn parse_answers(output: &str) -> Result<Vec<bool>, String> {
    if let Some(frr_error) = output.lines().map(str::trim).find(|line| line.starts_with('%')) {
        return Err(frr_error.to_string());
    }
    serde_json::Deserializer::from_str(output)
        .into_iter::<serde_json::Map<String, serde_json::Value>>()
        .map(|answer| {
            answer.map(|routes| !routes.is_empty()).map_err(|error| format!("unexpected vtysh output: {error}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_answer_per_query_in_order() {
        let output = "{\n  \"203.0.113.53/32\":[{\"protocol\":\"connected\"}]\n}\n{}\n{\"2001:db8::53/128\":[]}\n";
        assert_eq!(parse_answers(output), Ok(vec![true, false, true]));
        assert_eq!(parse_answers("% VRF 123 not found\n"), Err("% VRF 123 not found".to_string()));
        assert!(parse_answers("<html>").is_err());
    }

    #[test]
    fn queries_name_the_vrf_and_family() {
        let v6 = Prefix::parse("2001:db8::53").expect("prefix");
        assert_eq!(show_route(&Vrf::Named("123".into()), &v6), "show ipv6 route vrf 123 2001:db8::53/128 json");
        let v4 = Prefix::parse("203.0.113.53").expect("prefix");
        assert_eq!(show_route(&Vrf::Default, &v4), "show ip route 203.0.113.53/32 json");
    }
}
