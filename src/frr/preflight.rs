//! `anycastd check --frr`: verifies, changing nothing, that FRR is ready for the configuration: each vtysh works,
//! each needed BGP instance exists, each prefix has a route in FRR's RIB where import-check requires one, and FRR's
//! startup config holds no managed network (FRR would announce it at boot, before any check has run).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use super::{RunningConfig, Vtysh, bgp_networks, routes_present};
use crate::bounded;
use crate::config::{AddressFamily, Config, ManagedPrefix, Prefix, RouteMap, Vrf};
pub(crate) use crate::finding::{Finding, Level};

/// Checks every FRR of the configuration, and FRR's startup config at `startup_config`.
pub(crate) fn check_all(config: &Config, vtysh_timeout: Duration, startup_config: &Path) -> Vec<Finding> {
    let mut by_vtysh: BTreeMap<&Path, Vec<&ManagedPrefix>> = BTreeMap::new();
    for (_, prefix) in config.prefixes() {
        by_vtysh.entry(prefix.vtysh.as_path()).or_default().push(prefix);
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
    findings.extend(route_map_findings(&running, prefixes));
    findings.extend(rib_findings(vtysh, &routed));
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

fn rib_findings(vtysh: &Vtysh, wanted: &BTreeSet<(Vrf, Prefix)>) -> Vec<Finding> {
    let lookup = routes_present(vtysh, wanted);
    wanted
        .iter()
        .filter_map(|(vrf, prefix)| {
            let subject = format!("{prefix} in {}", vrf.described());
            match lookup.get(vrf)? {
                Ok(present) if present.contains(prefix) => None,
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
