//! The JSON report: a stable schema (see docs/operations.md, "JSON output"), versioned by `format_version`.
//!
//! The output structs here are the schema; they are kept apart from the plan's own types so that a refactoring
//! inside anycastd cannot change what users' scripts parse.

use serde::Serialize;

use super::{Tense, words};
use crate::config::{Config, ManagedPrefix};
use crate::finding::Finding;
use crate::frr::Advertisement;
use crate::health::{CheckSource, CheckStatus, CheckVerdict};
use crate::plan::{Action, Desired, Outcome, PassError, Plan, PrefixPlan, ServicePlan, Summary, Verdict, Warning};
use crate::plan::{AddressAction, AddressOutcome, AddressPlan, AddressState};

/// The version of the JSON schema; bumped on any incompatible change.
pub(crate) const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Report<'a> {
    format_version: u32,
    command: &'a str,
    applied: bool,
    maintenance: Option<MaintenanceJson>,
    services: Vec<ServiceJson>,
    /// What anycastd announced for prefixes the configuration no longer has (state `removed`), by service.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    departed: Vec<ServiceJson>,
    /// The service addresses on the host (prefixes' `interface` key), absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    addresses: Vec<AddressJson>,
    warnings: Vec<String>,
    /// The stable code of each of `warnings`, in the same order.
    warning_codes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    /// The stable code of each error, in the same order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    error_codes: Vec<&'static str>,
    summary: SummaryJson,
}

#[derive(Serialize)]
struct MaintenanceJson {
    since: String,
    by: String,
    reason: Option<String>,
    drain_until: Option<String>,
}

#[derive(Serialize)]
struct ServiceJson {
    name: String,
    healthy: Option<bool>,
    state: &'static str,
    desired: &'static str,
    streak: StreakJson,
    checks: Vec<CheckJson>,
    prefixes: Vec<PrefixJson>,
}

#[derive(Serialize)]
struct StreakJson {
    healthy: u32,
    unhealthy: u32,
    rise: u32,
    fall: u32,
}

#[derive(Serialize)]
struct CheckJson {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    status: &'static str,
    passed: bool,
    reason: String,
}

#[derive(Serialize)]
struct HeldJson {
    neighbor: String,
    code: &'static str,
    reason: String,
}

#[derive(Serialize)]
struct PrefixJson {
    prefix: String,
    vrf: Option<String>,
    address_family: &'static str,
    asn: Option<String>,
    /// `frr` or `bird`.
    daemon: &'static str,
    /// FRR's vtysh (`null` for BIRD).
    vtysh: Option<String>,
    /// BIRD's control socket and anycastd's file for it (absent for FRR).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    bird: Option<BirdJson>,
    current: &'static str,
    route_map: Option<String>,
    desired: &'static str,
    desired_route_map: Option<String>,
    action: &'static str,
    result: Option<&'static str>,
    error: Option<String>,
    /// The stable code of `error`.
    error_code: Option<&'static str>,
    warning: Option<String>,
    /// The stable code of each warning joined in `warning`, in the same order.
    warning_codes: Vec<&'static str>,
    /// The BGP neighbors FRR sends it to, when that was read (live `plan`, a pass that changed something).
    #[serde(skip_serializing_if = "Option::is_none")]
    advertised_to: Option<Vec<String>>,
    /// `advertised`, `pending` (FRR has not sent the update yet) or `not-advertised`, with `advertised_to`.
    #[serde(skip_serializing_if = "Option::is_none")]
    advertisement: Option<&'static str>,
    /// Why each neighbor does not receive it, when nobody does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_advertised: Vec<HeldJson>,
}

/// Where a BIRD prefix lives: BIRD's control socket, the file anycastd writes for it, and its table (`null`: the
/// master table of its family).
#[derive(Serialize)]
struct BirdJson {
    bird_socket: String,
    bird_file: String,
    bird_table: Option<String>,
}

impl BirdJson {
    fn of(managed: &ManagedPrefix) -> Option<BirdJson> {
        let bird = managed.bird()?;
        Some(BirdJson {
            bird_socket: bird.socket.display().to_string(),
            bird_file: bird.file.display().to_string(),
            bird_table: bird.table.clone(),
        })
    }
}

#[derive(Serialize)]
struct SummaryJson {
    announce: usize,
    withdraw: usize,
    drain: usize,
    restore: usize,
    unchanged: usize,
    errors: usize,
    checker_errors: usize,
    /// Addresses added to the host (absent when none, as for a configuration without `interface`).
    #[serde(skip_serializing_if = "is_zero")]
    add_address: usize,
    /// Addresses removed from the host (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    remove_address: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

/// One service address on the host.
#[derive(Serialize)]
struct AddressJson {
    interface: String,
    address: String,
    prefix: String,
    service: String,
    /// Whether the configuration names it now (`false`: anycastd added it for a prefix that left).
    configured: bool,
    /// Whether the record says anycastd added it (`false` for one that was there before: never removed).
    added_by_anycastd: bool,
    /// `present`, `absent` or `unknown` (not read: an offline plan).
    current: &'static str,
    /// `add`, `remove`, `none`, `await-withdrawal` or `error`.
    action: &'static str,
    /// `done`, `failed` or `unchanged` once applied.
    result: Option<&'static str>,
    error: Option<String>,
    error_code: Option<&'static str>,
}

fn address_json(one: &AddressPlan, tense: Tense) -> AddressJson {
    let (action, error) = match &one.action {
        AddressAction::Add => ("add", None),
        AddressAction::Remove => ("remove", None),
        AddressAction::Keep => ("none", None),
        AddressAction::AwaitWithdrawal => ("await-withdrawal", None),
        AddressAction::Error(error) => ("error", Some((error.code(), words::address_error(error, &one.interface)))),
    };
    let (result, error) = match (&one.outcome, tense) {
        (AddressOutcome::Failed(why), _) => (Some("failed"), Some(("address-change-failed", why.clone()))),
        (AddressOutcome::Done, _) => (Some("done"), error),
        (AddressOutcome::Pending, Tense::Applied) if error.is_none() => (Some("unchanged"), None),
        (AddressOutcome::Pending, _) => (None, error),
    };
    AddressJson {
        interface: one.interface.clone(),
        address: one.address.to_string(),
        prefix: one.prefix.to_string(),
        service: one.service.clone(),
        configured: one.configured,
        added_by_anycastd: one.added_by_anycastd,
        current: match one.current {
            AddressState::Present => "present",
            AddressState::Absent => "absent",
            AddressState::Unknown => "unknown",
        },
        action,
        result,
        error_code: error.as_ref().map(|(code, _)| *code),
        error: error.map(|(_, message)| message),
    }
}

/// The plan (or applied plan) of `command` as one JSON document.
pub(crate) fn plan_json(plan: &Plan, command: &str, tense: Tense) -> String {
    let report = Report {
        format_version: FORMAT_VERSION,
        command,
        applied: tense == Tense::Applied,
        maintenance: plan.maintenance.as_ref().map(|m| MaintenanceJson {
            since: m.since_utc(),
            by: m.by.clone(),
            reason: m.reason.clone(),
            drain_until: m.drain_until.map(crate::clock::utc_timestamp),
        }),
        services: plan.services.iter().map(|service| service_json(service, tense)).collect(),
        departed: plan.departed.iter().map(|service| service_json(service, tense)).collect(),
        addresses: plan.addresses.iter().map(|one| address_json(one, tense)).collect(),
        warnings: plan.warnings.iter().map(words::warning).collect(),
        warning_codes: plan.warnings.iter().map(Warning::code).collect(),
        errors: plan.errors.iter().map(words::pass_error).collect(),
        error_codes: plan.errors.iter().map(PassError::code).collect(),
        summary: summary_json(plan.summary()),
    };
    serde_json::to_string_pretty(&report).unwrap_or_default()
}

fn service_json(service: &ServicePlan, tense: Tense) -> ServiceJson {
    let desired = match service.desired {
        Desired::Announced => "announced",
        Desired::Drained => "drained",
        Desired::Withdrawn => "withdrawn",
        Desired::Unchanged => "unchanged",
    };
    ServiceJson {
        name: service.name.clone(),
        healthy: service.health.as_ref().map(|health| health.is_healthy()),
        state: match service.verdict {
            Verdict::Healthy => "healthy",
            Verdict::Unhealthy => "unhealthy",
            Verdict::Rising { .. } => "rising",
            Verdict::Falling { .. } => "falling",
            Verdict::KeptOnCheckerError => "kept-on-checker-error",
            Verdict::Maintenance => "maintenance",
            Verdict::Draining { .. } => "draining",
            Verdict::WithdrawAll => "withdraw-all",
            Verdict::Removed => "removed",
            Verdict::Untouched => "untouched",
        },
        streak: StreakJson {
            healthy: service.streak.healthy,
            unhealthy: service.streak.unhealthy,
            rise: service.policy.rise,
            fall: service.policy.fall,
        },
        desired,
        checks: service.health.iter().flat_map(|health| health.checks.iter()).map(check_json_entry).collect(),
        prefixes: service.prefixes.iter().map(|prefix| prefix_json(prefix, desired, tense)).collect(),
    }
}

fn check_json_entry(check: &CheckVerdict) -> CheckJson {
    CheckJson {
        name: check.name.clone(),
        kind: check.kind(),
        url: match &check.source {
            CheckSource::Cabourotte(url) => Some(url.to_string()),
            CheckSource::Exec => None,
        },
        status: match check.status {
            CheckStatus::Passing => "passing",
            CheckStatus::Failing(_) => "failing",
            CheckStatus::NoResult(_) => "no-result",
            CheckStatus::Stale { .. } => "stale",
            CheckStatus::Unavailable(_) => "unavailable",
        },
        passed: check.passed(),
        reason: check.reason(),
    }
}

fn prefix_json(prefix: &PrefixPlan, desired: &'static str, tense: Tense) -> PrefixJson {
    let (action, error) = match &prefix.action {
        Action::Announce => ("announce", None),
        Action::Withdraw => ("withdraw", None),
        Action::Drain => ("drain", None),
        Action::Restore => ("restore", None),
        Action::Keep => ("none", None),
        Action::Error(error) => ("error", Some((error.code(), words::prefix_error(error, &prefix.managed.vrf)))),
    };
    let (result, error) = match (&prefix.outcome, tense) {
        (Outcome::Failed(failure), _) => (Some("failed"), Some((failure.code(), words::failure(failure)))),
        (Outcome::Done, _) => (Some("done"), error),
        (Outcome::Pending, Tense::Applied) if error.is_none() => (Some("unchanged"), None),
        (Outcome::Pending, _) => (None, error),
    };
    PrefixJson {
        prefix: prefix.managed.prefix.to_string(),
        vrf: prefix.managed.vrf.name().map(str::to_string),
        address_family: prefix.managed.prefix.family().name(),
        asn: prefix.asn.as_ref().map(ToString::to_string),
        daemon: prefix.managed.daemon_name(),
        vtysh: prefix.managed.vtysh().map(|vtysh| vtysh.display().to_string()),
        bird: BirdJson::of(&prefix.managed),
        current: prefix.current.name(),
        route_map: prefix.route_map.clone(),
        desired,
        desired_route_map: match desired {
            "announced" => prefix.managed.route_map.as_ref().map(ToString::to_string),
            "drained" => prefix.managed.drain_route_map.as_ref().map(ToString::to_string),
            _ => None,
        },
        action,
        result,
        error_code: error.as_ref().map(|(code, _)| *code),
        error: error.map(|(_, message)| message),
        warning: (!prefix.warnings.is_empty())
            .then(|| prefix.warnings.iter().map(words::warning).collect::<Vec<_>>().join("; ")),
        warning_codes: prefix.warnings.iter().map(Warning::code).collect(),
        advertised_to: prefix.advertising.as_ref().map(|advertising| advertising.reach.peers.clone()),
        advertisement: prefix.advertising.as_ref().map(|advertising| match advertising.reach.status {
            Advertisement::Advertised => "advertised",
            Advertisement::Pending => "pending",
            Advertisement::Nowhere(_) => "not-advertised",
        }),
        not_advertised: match prefix.advertising.as_ref().map(|advertising| &advertising.reach.status) {
            Some(Advertisement::Nowhere(held)) => held
                .iter()
                .map(|held| HeldJson {
                    neighbor: held.neighbor().to_string(),
                    code: held.code(),
                    reason: held.sentence(),
                })
                .collect(),
            _ => Vec::new(),
        },
    }
}

fn summary_json(summary: Summary) -> SummaryJson {
    SummaryJson {
        announce: summary.announce,
        withdraw: summary.withdraw,
        drain: summary.drain,
        restore: summary.restore,
        unchanged: summary.unchanged,
        errors: summary.errors,
        checker_errors: summary.checker_errors,
        add_address: summary.add_address,
        remove_address: summary.remove_address,
    }
}

#[derive(Serialize)]
struct CheckReport<'a> {
    format_version: u32,
    command: &'static str,
    valid: bool,
    services: Vec<ConfiguredService>,
    /// What the operator should know, e.g. that no service is defined.
    warnings: Vec<String>,
    /// The stable code of each of `warnings`, in the same order.
    warning_codes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frr: Option<&'a [Finding]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cabourotte: Option<&'a [Finding]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bird: Option<&'a [Finding]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exec: Option<&'a [Finding]>,
}

#[derive(Serialize)]
struct ConfiguredService {
    name: String,
    prefixes: Vec<ConfiguredPrefix>,
    checks: Vec<ConfiguredCheck>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exec_checks: Vec<ConfiguredExec>,
}

#[derive(Serialize)]
struct ConfiguredExec {
    name: String,
    command: Vec<String>,
    timeout_seconds: f64,
    interval_seconds: f64,
    warning_is_failure: bool,
}

#[derive(Serialize)]
struct ConfiguredPrefix {
    prefix: String,
    vrf: Option<String>,
    address_family: &'static str,
    daemon: &'static str,
    vtysh: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    bird: Option<BirdJson>,
    route_map: Option<String>,
    drain_route_map: Option<String>,
}

#[derive(Serialize)]
struct ConfiguredCheck {
    name: String,
    url: String,
    interval_seconds: f64,
}

/// A valid configuration as JSON, for `anycastd check --format json`, with the findings of `--frr` and
/// `--cabourotte` if asked.
pub(crate) fn check_json(config: &Config, warnings: &[Warning], preflights: [Option<&[Finding]>; 4]) -> String {
    let [frr, cabourotte, bird, exec] = preflights;
    let services = config
        .services
        .iter()
        .map(|service| ConfiguredService {
            name: service.name.clone(),
            prefixes: service
                .prefixes
                .iter()
                .map(|p| ConfiguredPrefix {
                    prefix: p.prefix.to_string(),
                    vrf: p.vrf.name().map(str::to_string),
                    address_family: p.prefix.family().name(),
                    daemon: p.daemon_name(),
                    vtysh: p.vtysh().map(|vtysh| vtysh.display().to_string()),
                    bird: BirdJson::of(p),
                    route_map: p.route_map.as_ref().map(ToString::to_string),
                    drain_route_map: p.drain_route_map.as_ref().map(ToString::to_string),
                })
                .collect(),
            checks: service
                .checks
                .iter()
                .map(|c| ConfiguredCheck {
                    name: c.name.clone(),
                    url: c.url.to_string(),
                    interval_seconds: c.interval.as_secs_f64(),
                })
                .collect(),
            exec_checks: service
                .exec
                .iter()
                .map(|c| ConfiguredExec {
                    name: c.name.clone(),
                    command: c.command.clone(),
                    timeout_seconds: c.timeout.as_secs_f64(),
                    interval_seconds: c.interval.as_secs_f64(),
                    warning_is_failure: c.warning_is_failure,
                })
                .collect(),
        })
        .collect();
    let report = CheckReport {
        format_version: FORMAT_VERSION,
        command: "check",
        valid: true,
        services,
        warnings: warnings.iter().map(words::warning).collect(),
        warning_codes: warnings.iter().map(Warning::code).collect(),
        frr,
        cabourotte,
        bird,
        exec,
    };
    serde_json::to_string_pretty(&report).unwrap_or_default()
}
