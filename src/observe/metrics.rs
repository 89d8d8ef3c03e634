//! The metrics file for node_exporter's textfile collector, rewritten atomically after every changing pass.
//!
//! Gauges describe the pass that just ended. The error counters must survive between processes in timer mode, so
//! each write starts from the counts in the previous file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::Duration;

use crate::health::CheckStatus;
use crate::plan::{Action, Outcome, Plan, PrefixError, PrefixPlan, PrefixState};
use crate::state;

/// Error counter kinds, in the order they are written.
const ERROR_KINDS: [&str; 8] = [
    "checker_unavailable",
    "frr_unavailable",
    "no_bgp_instance",
    "missing_route_map",
    "apply_failed",
    "state_unavailable",
    "config_invalid",
    "address_error",
];

/// The metrics file's mode: node_exporter, another user, reads it.
const READABLE: u32 = 0o644;

/// The most of the previous metrics file read for its counters: about 150 bytes per prefix.
const PREVIOUS_LIMIT: u64 = 64 << 20;

/// What a pass leaves for the metrics file besides the plan.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PassTiming {
    /// When the pass ended, in Unix seconds.
    pub finished_at: f64,
    /// How long it took.
    pub duration: Duration,
    /// New configurations refused since the last pass (a reload of `run` that found the file invalid).
    pub config_errors: u64,
    /// Whether the configuration file was valid when last read (else the last valid one stood in).
    pub config_valid: bool,
}

/// Writes the metrics of an applied plan to `path`, atomically (temporary file, then rename).
pub(crate) fn write(path: &Path, applied: &Plan, timing: PassTiming) -> io::Result<()> {
    let previous = match state::read_file(path, PREVIOUS_LIMIT) {
        Ok(Some(text)) => String::from_utf8_lossy(&text).into_owned(),
        _ => String::new(),
    };
    let mut text = render(applied, timing, &error_counts(&previous));
    text.push_str(&render_advertised(applied, &advertised_values(&previous)));
    state::replace_file(path, text.as_bytes(), READABLE)
}

/// The metrics text of an applied plan, with the error counters carried on from `previous`.
pub(crate) fn render(applied: &Plan, timing: PassTiming, previous: &BTreeMap<String, u64>) -> String {
    let mut out = String::new();
    header(&mut out, "anycastd_service_healthy", "gauge", "1 if every check of the service passed in the last pass.");
    for service in &applied.services {
        if let Some(health) = &service.health {
            let _ = writeln!(
                out,
                "anycastd_service_healthy{{service=\"{}\"}} {}",
                escape(&service.name),
                u8::from(health.is_healthy())
            );
        }
    }
    header(&mut out, "anycastd_check_success", "gauge", "1 if the check reported success in the last pass.");
    for service in &applied.services {
        for check in service.health.iter().flat_map(|health| health.checks.iter()) {
            let labels = format!("service=\"{}\",check=\"{}\"", escape(&service.name), escape(&check.name));
            let _ = writeln!(out, "anycastd_check_success{{{labels}}} {}", u8::from(check.passed()));
        }
    }
    header(
        &mut out,
        "anycastd_prefix_announced",
        "gauge",
        "1 if FRR has the prefix's network statement after the last pass.",
    );
    for service in &applied.services {
        for prefix in &service.prefixes {
            let labels = prefix_labels(&service.name, prefix);
            let _ = writeln!(out, "anycastd_prefix_announced{{{labels}}} {}", u8::from(announced_after(prefix)));
        }
    }
    header(
        &mut out,
        "anycastd_prefix_state",
        "gauge",
        "1 for what FRR does with the prefix after the last pass: announced, drained (through its drain route-map) or \
         withdrawn.",
    );
    for service in &applied.services {
        for prefix in &service.prefixes {
            let labels = prefix_labels(&service.name, prefix);
            let after = prefix.state_after();
            for state in [PrefixState::Announced, PrefixState::Drained, PrefixState::Withdrawn] {
                let (name, value) = (state.name(), u8::from(after == state));
                let _ = writeln!(out, "anycastd_prefix_state{{{labels},state=\"{name}\"}} {value}");
            }
        }
    }
    if !applied.addresses.is_empty() {
        header(
            &mut out,
            "anycastd_address_present",
            "gauge",
            "1 if the service address is on its interface after the last pass (a prefix's interface key).",
        );
    }
    for one in &applied.addresses {
        let labels = format!(
            "service=\"{}\",prefix=\"{}\",interface=\"{}\",address=\"{}\"",
            escape(&one.service),
            one.prefix,
            escape(&one.interface),
            one.address
        );
        let _ = writeln!(out, "anycastd_address_present{{{labels}}} {}", u8::from(one.present_after()));
    }
    header(&mut out, "anycastd_maintenance", "gauge", "1 while the maintenance marker is set (anycastd withdraw-all).");
    let _ = writeln!(out, "anycastd_maintenance {}", u8::from(applied.maintenance.is_some()));
    header(
        &mut out,
        "anycastd_configuration_valid",
        "gauge",
        "0 while the configuration file cannot be read or is not valid (the last valid configuration stands in).",
    );
    let _ = writeln!(out, "anycastd_configuration_valid {}", u8::from(timing.config_valid));
    header(&mut out, "anycastd_last_pass_timestamp_seconds", "gauge", "When the last pass ended, in Unix seconds.");
    let _ = writeln!(out, "anycastd_last_pass_timestamp_seconds {:.3}", timing.finished_at);
    header(&mut out, "anycastd_last_pass_duration_seconds", "gauge", "How long the last pass took.");
    let _ = writeln!(out, "anycastd_last_pass_duration_seconds {:.6}", timing.duration.as_secs_f64());
    header(&mut out, "anycastd_errors_total", "counter", "Errors seen by passes, by kind.");
    let mut now = errors_of(applied);
    if timing.config_errors > 0 {
        now.insert("config_invalid", timing.config_errors);
    }
    for kind in ERROR_KINDS {
        let total = previous.get(kind).copied().unwrap_or(0) + now.get(kind).copied().unwrap_or(0);
        let _ = writeln!(out, "anycastd_errors_total{{kind=\"{kind}\"}} {total}");
    }
    out
}

/// The labels of a prefix's metrics: `service="dns",prefix="203.0.113.53/32",vrf="default"`.
fn prefix_labels(service: &str, prefix: &PrefixPlan) -> String {
    let vrf = prefix.managed.vrf.name().unwrap_or("default");
    let (service, address, daemon) = (escape(service), prefix.managed.prefix, prefix.managed.daemon_name());
    format!("service=\"{service}\",prefix=\"{address}\",vrf=\"{}\",daemon=\"{daemon}\"", escape(vrf))
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Whether FRR has the prefix's `network` line after the pass (drained or not), as far as anycastd knows.
fn announced_after(prefix: &PrefixPlan) -> bool {
    prefix.state_after().is_announced()
}

fn errors_of(applied: &Plan) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::new();
    let checks =
        applied.services.iter().filter_map(|service| service.health.as_ref()).flat_map(|health| health.checks.iter());
    for check in checks {
        if let CheckStatus::Unavailable(_) = check.status {
            *counts.entry("checker_unavailable").or_default() += 1;
        }
    }
    if !applied.errors.is_empty() {
        counts.insert("state_unavailable", applied.errors.len() as u64);
    }
    for prefix in applied.prefixes() {
        let kind = match (&prefix.action, &prefix.outcome) {
            (Action::Error(PrefixError::FrrUnavailable(_)), _) => "frr_unavailable",
            (Action::Error(PrefixError::BirdUnavailable(_)), _) => "bird_unavailable",
            (Action::Error(PrefixError::NoBgpInstance), _) => "no_bgp_instance",
            (Action::Error(PrefixError::MissingRouteMap(_)), _) => "missing_route_map",
            (_, Outcome::Failed(_)) => "apply_failed",
            _ => continue,
        };
        *counts.entry(kind).or_default() += 1;
    }
    let address_errors = applied.addresses.iter().filter(|one| one.is_error()).count() as u64;
    if address_errors > 0 {
        counts.insert("address_error", address_errors);
    }
    counts
}

/// The peers each prefix is advertised to, as last read, with when: this pass's reading where it read (`plan`
/// does, and a pass that changed something), else the previous file's, so that a pass that did not read keeps the
/// last value read. `previous`: by label set, the peers and the time of the previous file.
pub(crate) fn render_advertised(applied: &Plan, previous: &BTreeMap<String, (u64, u64)>) -> String {
    let mut values = Vec::new();
    for service in &applied.services {
        for prefix in &service.prefixes {
            let labels = prefix_labels(&service.name, prefix);
            let value = match &prefix.advertising {
                Some(advertising) => Some((advertising.reach.peers.len() as u64, advertising.read_at)),
                None => previous.get(&labels).copied(),
            };
            values.extend(value.map(|value| (labels, value)));
        }
    }
    let mut out = String::new();
    header(
        &mut out,
        "anycastd_prefix_advertised_peers",
        "gauge",
        "How many BGP neighbors FRR sends the prefix to, as last read (see anycastd_prefix_advertised_read_timestamp_seconds).",
    );
    for (labels, (peers, _)) in &values {
        let _ = writeln!(out, "anycastd_prefix_advertised_peers{{{labels}}} {peers}");
    }
    header(
        &mut out,
        "anycastd_prefix_advertised_read_timestamp_seconds",
        "gauge",
        "When anycastd_prefix_advertised_peers was read from FRR, in Unix seconds.",
    );
    for (labels, (_, read_at)) in &values {
        let _ = writeln!(out, "anycastd_prefix_advertised_read_timestamp_seconds{{{labels}}} {read_at}");
    }
    out
}

/// The advertised peers and their reading times of a previous metrics file, by label set.
fn advertised_values(text: &str) -> BTreeMap<String, (u64, u64)> {
    let values = |name: &str| -> BTreeMap<String, u64> {
        text.lines()
            .filter_map(|line| line.strip_prefix(name)?.strip_prefix('{')?.rsplit_once("} "))
            .filter_map(|(labels, value)| value.trim().parse().ok().map(|value| (labels.to_string(), value)))
            .collect()
    };
    let read_at = values("anycastd_prefix_advertised_read_timestamp_seconds");
    values("anycastd_prefix_advertised_peers")
        .into_iter()
        .filter_map(|(labels, peers)| read_at.get(&labels).map(|at| (labels, (peers, *at))))
        .collect()
}

/// The error counters of a previous metrics file (or text).
pub(crate) fn error_counts(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| line.strip_prefix("anycastd_errors_total{kind=\""))
        .filter_map(|rest| rest.split_once("\"} "))
        .filter_map(|(kind, value)| value.trim().parse().ok().map(|value| (kind.to_string(), value)))
        .collect()
}

/// Escapes a label value as the Prometheus text format requires.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_carry_on_from_the_previous_file() {
        let previous = "# TYPE anycastd_errors_total counter\nanycastd_errors_total{kind=\"apply_failed\"} 3\n\
                        anycastd_errors_total{kind=\"checker_unavailable\"} 7\n";
        let counts = error_counts(previous);
        assert_eq!(counts.get("apply_failed"), Some(&3));
        assert_eq!(counts.get("checker_unavailable"), Some(&7));
        let plan = Plan {
            maintenance: None,
            services: Vec::new(),
            departed: Vec::new(),
            addresses: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
            reason: None,
        };
        let text = render(
            &plan,
            PassTiming { finished_at: 1.0, duration: Duration::from_millis(5), config_errors: 0, config_valid: true },
            &counts,
        );
        assert!(text.contains("anycastd_errors_total{kind=\"apply_failed\"} 3\n"), "{text}");
        assert!(text.contains("anycastd_errors_total{kind=\"frr_unavailable\"} 0\n"), "{text}");
    }

    #[test]
    fn advertised_peers_carry_on_until_read_again() {
        let previous = "anycastd_prefix_advertised_peers{service=\"dns\",prefix=\"203.0.113.53/32\",vrf=\"default\",daemon=\"frr\"} 2\n\
                        anycastd_prefix_advertised_read_timestamp_seconds{service=\"dns\",prefix=\"203.0.113.53/32\",vrf=\"default\",daemon=\"frr\"} 1700000000\n\
                        anycastd_prefix_advertised_peers{service=\"gone\",prefix=\"192.0.2.0/24\",vrf=\"default\",daemon=\"frr\"} 1\n";
        let values = advertised_values(previous);
        let labels = "service=\"dns\",prefix=\"203.0.113.53/32\",vrf=\"default\",daemon=\"frr\"";
        assert_eq!(
            values,
            BTreeMap::from([(labels.to_string(), (2, 1_700_000_000))]),
            "a value without its time is dropped"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
