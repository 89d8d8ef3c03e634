//! `anycastd check --frr`: verifies, changing nothing, that FRR is ready for the configuration: each vtysh works,
//! each needed BGP instance exists, each prefix has a route in FRR's RIB where import-check requires one, and FRR's
//! startup config holds no managed network (FRR would announce it at boot, before any check has run).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use super::{Held, RunningConfig, Vtysh, bgp_networks, routes_present};
use crate::bounded;
use crate::config::{AddressFamily, Config, HostAddresses, ManagedPrefix, Prefix, RouteMap, Vrf};
pub(crate) use crate::finding::{Finding, Level};

/// Checks every FRR of the configuration, and FRR's startup config at `startup_config`.
pub(crate) fn check_all(config: &Config, vtysh_timeout: Duration, startup_config: &Path) -> Vec<Finding> {
    let mut by_vtysh: BTreeMap<&Path, Vec<&ManagedPrefix>> = BTreeMap::new();
    for (vtysh, prefix) in config.prefixes().filter_map(|(_, prefix)| Some((prefix.vtysh()?, prefix))) {
        by_vtysh.entry(vtysh).or_default().push(prefix);
    }
    let mut findings: Vec<Finding> = by_vtysh
        .into_iter()
        .flat_map(|(path, prefixes)| check_frr(&Vtysh::new(path, vtysh_timeout), path, &prefixes))
        .collect();
    findings.extend(startup_findings(config, startup_config, read_startup_config(startup_config)));
    findings
}

/// What FRR's startup config is: its text, absent, or unreadable (with the reason).
enum StartupConfig {
    Text(String),
    Absent,
    Unreadable(String),
}

fn read_startup_config(path: &Path) -> StartupConfig {
    match bounded::open_regular(path) {
        Ok(file) => match bounded::RUNNING_CONFIG.read_to_string(file) {
            Ok(text) => StartupConfig::Text(text),
            Err(reason) => StartupConfig::Unreadable(reason),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => StartupConfig::Absent,
        Err(error) => StartupConfig::Unreadable(error.to_string()),
    }
}

/// An error for every managed prefix that FRR's startup config has as a `network`: `write memory` saved it, FRR
/// announces it at boot before any check has run, and `systemctl reload frr` puts it back after a withdrawal.
fn startup_findings(config: &Config, path: &Path, startup: StartupConfig) -> Vec<Finding> {
    let subject = path.display().to_string();
    let text = match startup {
        StartupConfig::Text(text) => text,
        StartupConfig::Absent => {
            return vec![Finding::new(Level::Ok, "startup-config-absent", subject, "no startup config here")];
        }
        StartupConfig::Unreadable(reason) => {
            return vec![Finding {
                level: Level::Warning,
                code: "startup-config-unreadable",
                subject,
                message: format!(
                    "cannot read FRR's startup config ({reason}), so cannot tell whether it holds managed networks"
                ),
            }];
        }
    };
    let managed: BTreeSet<(&Vrf, &Prefix)> = config.prefixes().map(|(_, p)| (&p.vrf, &p.prefix)).collect();
    let saved: Vec<Finding> = bgp_networks(&text)
        .into_iter()
        .filter(|network| managed.contains(&(&network.vrf, &network.prefix)))
        .map(|network| Finding {
            level: Level::Error,
            code: "network-in-startup-config",
            subject: format!("{} in {}", network.prefix, network.vrf.described()),
            message: format!(
                "FRR's startup config {} has it as a network (line {}): FRR announces it at boot, before any check \
                 has run, and `systemctl reload frr` announces it again after anycastd withdrew it; remove the line \
                 (`write memory` saves anycastd's networks with the rest of the running config)",
                path.display(),
                network.line
            ),
        })
        .collect();
    if saved.is_empty() {
        return vec![Finding::new(
            Level::Ok,
            "startup-config-clean",
            subject,
            "FRR's startup config holds no managed network",
        )];
    }
    saved
}

fn check_frr(vtysh: &Vtysh, path: &Path, prefixes: &[&ManagedPrefix]) -> Vec<Finding> {
    let finding = |level, code, subject: String, message: String| Finding { level, code, subject, message };
    let running = match vtysh.read_running_config() {
        Ok(running) => running,
        Err(error) => {
            return vec![finding(
                Level::Error,
                "running-config-unreadable",
                path.display().to_string(),
                format!("cannot read FRR's running config: {error}"),
            )];
        }
    };
    let mut findings =
        vec![finding(Level::Ok, "vtysh-works", path.display().to_string(), "vtysh reads FRR's running config".into())];
    let mut needed: BTreeMap<&Vrf, BTreeSet<AddressFamily>> = BTreeMap::new();
    for prefix in prefixes {
        needed.entry(&prefix.vrf).or_default().insert(prefix.prefix.family());
    }
    let mut routed: BTreeSet<(Vrf, Prefix)> = BTreeSet::new();
    for (vrf, families) in needed {
        let Some(instance) = running.instance(vrf) else {
            let block = vrf
                .name()
                .map_or_else(|| "router bgp <ASN>".to_string(), |name| format!("router bgp <ASN> vrf {name}"));
            findings.push(finding(
                Level::Error,
                "bgp-instance-missing",
                vrf.described(),
                format!(
                    "FRR has no BGP instance here; anycastd never creates one: add `{block}` to FRR's configuration"
                ),
            ));
            continue;
        };
        let import_check = if instance.import_check { "on" } else { "off" };
        findings.push(finding(
            Level::Ok,
            "bgp-instance-found",
            format!("AS {}, {}", instance.asn, vrf),
            format!("BGP instance found, bgp network import-check {import_check}"),
        ));
        for family in families.difference(&instance.families) {
            findings.push(finding(
                Level::Ok,
                "address-family-not-configured",
                format!("AS {}, {}", instance.asn, vrf),
                format!(
                    "address-family {} unicast not configured yet: FRR creates it with the first network",
                    family.name()
                ),
            ));
        }
        if instance.import_check {
            routed.extend(prefixes.iter().filter(|p| &p.vrf == vrf).map(|p| (p.vrf.clone(), p.prefix)));
        }
    }
    findings.extend(neighbor_findings(vtysh, &running, prefixes));
    findings.extend(route_map_findings(&running, prefixes));
    let hosts: BTreeMap<(Vrf, Prefix), &HostAddresses> =
        prefixes.iter().filter_map(|p| Some(((p.vrf.clone(), p.prefix), p.host.as_ref()?))).collect();
    findings.extend(rib_findings(vtysh, &routed, &hosts));
    findings
}

/// Whether the managed prefixes can reach a BGP peer: per neighbor and managed family, its session, its activation
/// and its outbound policy (a warning each when it would receive nothing); an error when FRR's configuration lets no
/// neighbor at all receive a managed prefix (none, or each held back by policy or not activated). A session that is
/// not established yet is a warning, not that error: it comes up on its own (the quickstart runs `check --frr` seconds
/// after starting FRR), and the report says nothing reaches a peer meanwhile. A warning when FRR's router ID is one of the managed addresses (the same on every node
/// of the anycast group, which peers then take for one router).
fn neighbor_findings(vtysh: &Vtysh, running: &RunningConfig, prefixes: &[&ManagedPrefix]) -> Vec<Finding> {
    let mut wanted: BTreeMap<Vrf, BTreeSet<AddressFamily>> = BTreeMap::new();
    for prefix in prefixes.iter().filter(|prefix| running.instance(&prefix.vrf).is_some()) {
        wanted.entry(prefix.vrf.clone()).or_default().insert(prefix.prefix.family());
    }
    if wanted.is_empty() {
        return Vec::new();
    }
    let advertised = match super::read_advertised(vtysh, running, &wanted) {
        Ok(advertised) => advertised,
        Err(reason) => {
            let message = format!("cannot read FRR's BGP neighbors: {reason}");
            return vec![Finding::new(Level::Warning, "neighbors-unreadable", "BGP neighbors", message)];
        }
    };
    let mut findings = Vec::new();
    let mut anyone_could_receive = false;
    for (vrf, families) in &wanted {
        let sessions = advertised.sessions.get(vrf).into_iter().flatten();
        for family in families {
            let subject = format!("{} unicast in {}", family.name(), vrf.described());
            let held: Vec<(String, Option<Held>)> = sessions
                .clone()
                .map(|(neighbor, session)| {
                    let held = super::held(neighbor, session, *family);
                    (neighbor.clone(), (!matches!(held, Held::Filtered { .. })).then_some(held))
                })
                .collect();
            let receiving: Vec<&str> =
                held.iter().filter(|(_, held)| held.is_none()).map(|(neighbor, _)| neighbor.as_str()).collect();
            let connecting = held.iter().any(|(_, held)| matches!(held, Some(Held::SessionDown { .. })));
            anyone_could_receive |= !receiving.is_empty() || connecting;
            for held in held.iter().filter_map(|(_, held)| held.as_ref()) {
                let code = match held {
                    Held::SessionDown { .. } => "neighbor-session-down",
                    Held::NeedsPolicy { .. } => "neighbor-needs-policy",
                    Held::NotActivated { .. } => "neighbor-not-activated",
                    Held::Filtered { .. } | Held::BirdSessionDown { .. } | Held::BirdFiltered { .. } => continue,
                };
                findings.push(Finding::new(Level::Warning, code, subject.clone(), held.sentence()));
            }
            findings.push(match (held.is_empty(), receiving.is_empty()) {
                (true, _) => Finding::new(
                    Level::Warning,
                    "no-neighbor",
                    subject,
                    "no BGP neighbor here: the managed prefixes reach nobody",
                ),
                (false, true) => Finding::new(
                    Level::Warning,
                    "no-neighbor-receives",
                    subject,
                    "no neighbor would receive the managed prefixes",
                ),
                (false, false) => Finding::new(
                    Level::Ok,
                    "neighbors-receive",
                    subject,
                    format!("received by {}", receiving.join(", ")),
                ),
            });
        }
    }
    if !anyone_could_receive {
        findings.push(Finding::new(
            Level::Error,
            "no-peer-receives",
            "BGP neighbors",
            "no neighbor at all would receive a managed prefix: anycastd's announcements would reach nobody",
        ));
    }
    findings.extend(router_id_findings(running, &advertised, prefixes));
    findings
}

/// A warning for each BGP instance whose router ID is the address of a managed prefix: without `bgp router-id`, FRR
/// takes the highest loopback address, which is often the anycast service address, the same on every node.
fn router_id_findings(
    running: &RunningConfig,
    advertised: &super::Advertised,
    prefixes: &[&ManagedPrefix],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for instance in &running.instances {
        let chosen =
            advertised.sessions.get(&instance.vrf).into_iter().flatten().find_map(|(_, s)| s.local_router_id.clone());
        let on_lo = |p: &&&ManagedPrefix| p.vrf == instance.vrf && p.host.as_ref().is_some_and(|h| h.interface == "lo");
        if instance.router_id.is_none() && prefixes.iter().any(|p| on_lo(&p)) {
            findings.push(Finding::new(
                Level::Warning,
                "router-id-unset",
                format!("AS {}, {}", instance.asn, instance.vrf),
                "no `bgp router-id`, and anycastd puts service addresses on lo (their `interface`): bgpd may take one \
                 as its router ID, and a change of router ID resets every session; set `bgp router-id` to an address \
                 of this node alone",
            ));
        }
        let Some(router_id) = instance.router_id.clone().or(chosen) else { continue };
        let Ok(address) = router_id.parse::<std::net::IpAddr>() else { continue };
        if prefixes.iter().any(|prefix| prefix.prefix.net().contains(&address)) {
            let how = if instance.router_id.is_some() { "is set to" } else { "was chosen by FRR as" };
            findings.push(Finding::new(
                Level::Warning,
                "router-id-is-managed-address",
                format!("AS {}, {}", instance.asn, instance.vrf),
                format!(
                    "the router ID {how} {router_id}, a managed (anycast) address: every node of the anycast group would \
                     share it; set `bgp router-id` to an address of this node alone"
                ),
            ));
        }
    }
    findings
}

/// One finding per route-map the prefixes name: FRR has it, or an error. A missing `route_map` keeps its prefixes
/// from being announced at all; a missing `drain_route_map` turns their drain into a withdrawal.
fn route_map_findings(running: &RunningConfig, prefixes: &[&ManagedPrefix]) -> Vec<Finding> {
    let mut named: BTreeMap<&RouteMap, BTreeSet<&'static str>> = BTreeMap::new();
    for prefix in prefixes {
        if let Some(route_map) = &prefix.route_map {
            named.entry(route_map).or_default().insert("route_map");
        }
        if let Some(route_map) = &prefix.drain_route_map {
            named.entry(route_map).or_default().insert("drain_route_map");
        }
    }
    named
        .into_iter()
        .map(|(route_map, keys)| {
            let subject = format!("route-map {route_map}");
            let consequence = if keys.contains("route_map") {
                "its prefixes are not announced without it"
            } else {
                "draining its prefixes would withdraw them instead"
            };
            let keys = keys.into_iter().collect::<Vec<_>>().join(" and ");
            if running.has_route_map(route_map.name()) {
                return Finding::new(Level::Ok, "route-map-defined", subject, format!("defined in FRR ({keys})"));
            }
            Finding {
                level: Level::Error,
                code: "route-map-missing",
                subject,
                message: format!(
                    "FRR has no such route-map ({keys}): {consequence}; anycastd never creates route-maps: define \
                     it in FRR, e.g. `route-map {route_map} permit 10`"
                ),
            }
        })
        .collect()
}

/// What FRR's RIB has of the prefixes `wanted` (those of instances with import-check on): nothing to say of a prefix
/// with a route; a warning for one without, unless anycastd puts its address on the host (`hosts`, its
/// `interface` key), which is then said as what anycastd will do.
fn rib_findings(
    vtysh: &Vtysh,
    wanted: &BTreeSet<(Vrf, Prefix)>,
    hosts: &BTreeMap<(Vrf, Prefix), &HostAddresses>,
) -> Vec<Finding> {
    let lookup = routes_present(vtysh, wanted);
    wanted
        .iter()
        .filter_map(|(vrf, prefix)| {
            let subject = format!("{prefix} in {}", vrf.described());
            match lookup.get(vrf)? {
                Ok(present) if present.contains(prefix) => None,
                Ok(_) if hosts.contains_key(&(vrf.clone(), *prefix)) => {
                    let host = hosts.get(&(vrf.clone(), *prefix))?;
                    let addresses: Vec<String> = host.addresses.iter().map(ToString::to_string).collect();
                    Some(Finding {
                        level: Level::Ok,
                        code: "address-to-add",
                        subject,
                        message: format!(
                            "no route in FRR's RIB yet: anycastd adds {} to {} (its `interface`) before it announces \
                             it, and the route follows",
                            addresses.join(", "),
                            crate::escape::escape(&host.interface)
                        ),
                    })
                }
                Ok(_) => Some(Finding {
                    level: Level::Warning,
                    code: "not-in-rib",
                    subject,
                    message: "no route in FRR's RIB while import-check is on: once announced, FRR keeps the network \
                              but does not advertise it; put the address on an interface (e.g. lo)"
                        .into(),
                }),
                Err(reason) => Some(Finding {
                    level: Level::Warning,
                    code: "rib-unreadable",
                    subject,
                    message: format!("cannot check FRR's RIB: {reason}"),
                }),
            }
        })
        .collect()
}
