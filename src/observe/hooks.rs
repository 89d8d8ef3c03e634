//! `on_change` hooks: after a pass announced, drained or withdrew a service's prefixes, run the service's command,
//! once per new state (a drain withdraws the prefixes without a drain route-map: those are told as withdrawn).
//!
//! The command is an argument vector (no shell), bounded by its timeout, and told what happened through environment
//! variables. A hook that fails or hangs is logged; it never blocks or undoes the reconciliation.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;

use crate::config::{Config, Hook};
use crate::observe::log::{Event, LogLevel};
use crate::plan::{AddressAction, AddressOutcome, Outcome, Plan, ServicePlan};
use crate::process::{self, RunError};

/// Runs the hook of every service whose prefixes changed in `applied`, and returns what to log about them.
pub(crate) fn run_changed(config: &Config, applied: &Plan, command: &str) -> Vec<Event> {
    let hooks: HashMap<&str, &Hook> = config
        .services
        .iter()
        .filter_map(|service| Some((service.name.as_str(), service.on_change.as_ref()?)))
        .collect();
    applied
        .services
        .iter()
        .flat_map(|service| {
            let Some(hook) = hooks.get(service.name.as_str()) else { return Vec::new() };
            let mut changed: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
            for prefix in service.prefixes.iter().filter(|prefix| prefix.outcome == Outcome::Done) {
                changed.entry(prefix.state_after().name()).or_default().push(prefix.managed.prefix.to_string());
            }
            // An address is told by its prefix, as the state `address-added` or `address-removed`; the addresses
            // themselves are in ANYCASTD_ADDRESSES (`INTERFACE:ADDRESS`, in the same order).
            for one in applied.addresses.iter().filter(|one| one.service == service.name) {
                let state = match (&one.action, &one.outcome) {
                    (AddressAction::Add, AddressOutcome::Done) => "address-added",
                    (AddressAction::Remove, AddressOutcome::Done) => "address-removed",
                    _ => continue,
                };
                changed.entry(state).or_default().push(format!("{} {}:{}", one.prefix, one.interface, one.address));
            }
            // In the order it happened: addresses are added before any announcement, removed after the withdrawals.
            let mut changed: Vec<(&str, Vec<String>)> = changed.into_iter().collect();
            changed.sort_by_key(|(state, _)| match *state {
                "address-added" => 0,
                "address-removed" => 2,
                _ => 1,
            });
            changed.into_iter().map(|(state, prefixes)| run_hook(service, hook, state, &prefixes, command)).collect()
        })
        .collect()
}

fn run_hook(service: &ServicePlan, hook: &Hook, state: &str, changed: &[String], command: &str) -> Event {
    let Some((program, arguments)) = hook.argv.split_first() else {
        return Event::about_service(
            LogLevel::Error,
            "hook-failed",
            command,
            &service.name,
            "the hook is empty".into(),
        )
        .of_service(service);
    };
    let mut child = Command::new(program);
    let (prefixes, addresses): (Vec<&str>, Vec<&str>) =
        changed.iter().map(|one| one.split_once(' ').unwrap_or((one.as_str(), ""))).unzip();
    child
        .args(arguments)
        .env("ANYCASTD_SERVICE", &service.name)
        .env("ANYCASTD_STATE", state)
        .env("ANYCASTD_PREFIXES", prefixes.join(" "))
        .env("ANYCASTD_REASON", crate::observe::log::why(service));
    if state.starts_with("address-") {
        child.env("ANYCASTD_ADDRESSES", addresses.join(" "));
    }
    let timeout = hook.timeout;
    let (level, event, outcome) = match process::run_with_deadline(&mut child, None, timeout) {
        Ok(finished) if finished.success => (LogLevel::Info, "hook-ran", format!("{program} exited 0")),
        Ok(finished) => {
            let code = finished.code.map_or_else(|| "a signal".to_string(), |code| code.to_string());
            let stderr = finished.stderr.trim().to_string();
            (LogLevel::Error, "hook-failed", format!("{program} exited with {code}: {stderr}"))
        }
        Err(RunError::Timeout) => (
            LogLevel::Error,
            "hook-failed",
            format!("{program} did not finish within {} and was killed", crate::config::describe(timeout)),
        ),
        Err(RunError::Spawn(error)) => (LogLevel::Error, "hook-failed", format!("cannot run {program}: {error}")),
        Err(RunError::OutputTooLarge) => {
            (LogLevel::Error, "hook-failed", format!("{program}: {}", RunError::output_too_large()))
        }
    };
    Event::about_service(level, event, command, &service.name, format!("{state} {}: {outcome}", changed.join(" ")))
        .of_service(service)
}
