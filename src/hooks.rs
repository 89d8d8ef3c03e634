//! `on_change` hooks: after a pass announced or withdrew a service's prefixes, run the service's command.
//!
//! The command is an argument vector (no shell), bounded by its timeout, and told what happened through environment
//! variables. A hook that fails or hangs is logged; it never blocks or undoes the reconciliation.

use std::collections::HashMap;
use std::process::Command;

use crate::config::{Config, Hook};
use crate::log::Event;
use crate::plan::{Outcome, Plan, ServicePlan};
use crate::process::{self, RunError};

/// Runs the hook of every service whose prefixes changed in `applied`, and returns what to log about them.
pub fn run(config: &Config, applied: &Plan, command: &str) -> Vec<Event> {
    let hooks: HashMap<&str, &Hook> = config
        .services
        .iter()
        .filter_map(|service| Some((service.name.as_str(), service.on_change.as_ref()?)))
        .collect();
    applied
        .services
        .iter()
        .filter_map(|service| {
            let hook = hooks.get(service.name.as_str())?;
            let changed: Vec<String> = service
                .prefixes
                .iter()
                .filter(|prefix| prefix.outcome == Outcome::Done)
                .map(|prefix| prefix.managed.prefix.to_string())
                .collect();
            if changed.is_empty() {
                return None;
            }
            Some(run_one(service, &hook.argv, hook.timeout, &changed, command))
        })
        .collect()
}

fn run_one(
    service: &ServicePlan,
    argv: &[String],
    timeout: std::time::Duration,
    changed: &[String],
    command: &str,
) -> Event {
    let state = match service.verdict.wants_announced() {
        Some(true) => "announced",
        _ => "withdrawn",
    };
    let reason = crate::log::why(service);
    let mut child = Command::new(&argv[0]);
    child
        .args(&argv[1..])
        .env("ANYCASTD_SERVICE", &service.name)
        .env("ANYCASTD_STATE", state)
        .env("ANYCASTD_PREFIXES", changed.join(" "))
        .env("ANYCASTD_REASON", &reason);
    let (level, event, outcome) = match process::run_with_deadline(&mut child, &[], timeout) {
        Ok(finished) if finished.success => ("info", "hook-ran", format!("{} exited 0", argv[0])),
        Ok(finished) => {
            let code = finished.code.map_or_else(|| "a signal".to_string(), |code| code.to_string());
            let stderr = finished.stderr.trim().to_string();
            ("error", "hook-failed", format!("{} exited with {code}: {stderr}", argv[0]))
        }
        Err(RunError::Timeout) => (
            "error",
            "hook-failed",
            format!("{} did not finish within {} and was killed", argv[0], crate::render::seconds(timeout)),
        ),
        Err(RunError::Spawn(error)) => ("error", "hook-failed", format!("cannot run {}: {error}", argv[0])),
    };
    Event::about_service(level, event, command, &service.name, format!("{state} {}: {outcome}", changed.join(" ")))
}
