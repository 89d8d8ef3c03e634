//! Log lines on stderr: one line per change, failure and error of a changing pass, for journald or a log shipper.
//!
//! Text lines carry no colour and no timestamp (journald adds its own); `--log-format json` prints one JSON object
//! per line with the same facts.

use serde::Serialize;

use crate::clock::utc_timestamp;
use crate::escape::escape;
use crate::health::CheckStatus;
use crate::plan::{Action, Desired, Outcome, Plan, PrefixPlan, ServicePlan, Verdict};
use crate::render::words;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `anycastd apply: announced 203.0.113.53/32 for service dns ...`
    Text,
    /// `{"level":"info","event":"announced","command":"apply",...}`
    Json,
    /// `level=info event=announced command=apply ...` (the original anycastd's third format)
    Logfmt,
}

/// How serious a log event is, and the least serious events written (`--log-level`, the original's flag): `debug`
/// and `info` write everything. Serialised in lowercase, as in every log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything (anycastd has no debug lines of its own).
    Debug,
    /// Changes, hooks, and everything more serious.
    Info,
    /// Warnings and errors.
    Warning,
    /// Errors only.
    Error,
}

impl LogLevel {
    /// Its name in log lines.
    pub(crate) fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
        }
    }
}

/// Where log lines go and which: stderr, in a format, from a level up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logging {
    /// The format of each line.
    pub format: LogFormat,
    /// The least serious level written.
    pub level: LogLevel,
}

impl Logging {
    /// Writes `events` to stderr, one line each, unless below the level.
    pub(crate) fn write(&self, events: &[Event]) {
        for event in events.iter().filter(|event| event.level >= self.level) {
            eprintln!("{}", event.line(self.format));
        }
    }
}

/// One log event.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Event {
    /// `info`, `warning` or `error`.
    pub level: LogLevel,
    /// `announced`, `withdrawn`, `announce-failed`, `withdraw-failed`, `prefix-error`, `checker-unavailable`,
    /// `hook-ran`, `hook-failed`, `warning`, `state-error`, or `pass-failed`.
    pub event: &'static str,
    /// The anycastd command of the pass.
    pub command: String,
    /// The service concerned, if any.
    pub service: Option<String>,
    /// The prefix concerned, if any.
    pub prefix: Option<String>,
    /// Its VRF (`null` for the default VRF).
    pub vrf: Option<String>,
    /// The AS number of its BGP instance, when known.
    pub asn: Option<String>,
    /// Why.
    pub reason: String,
}

impl Event {
    /// An event about the whole pass (e.g. the lock could not be taken).
    pub fn pass_failed(command: &str, reason: String) -> Event {
        Event {
            level: LogLevel::Error,
            event: "pass-failed",
            command: command.to_string(),
            service: None,
            prefix: None,
            vrf: None,
            asn: None,
            reason,
        }
    }

    /// An event about a service as a whole.
    pub(crate) fn about_service(
        level: LogLevel,
        event: &'static str,
        command: &str,
        service: &str,
        reason: String,
    ) -> Event {
        Event { level, event, service: Some(service.to_string()), ..Event::pass_failed(command, reason) }
    }

    /// Something loop mode tells about itself (`started`, `stopping`, `reloaded`).
    pub(crate) fn notice(command: &str, event: &'static str, reason: String) -> Event {
        Event { level: LogLevel::Info, event, ..Event::pass_failed(command, reason) }
    }

    /// A warning about the whole pass.
    pub(crate) fn warning(command: &str, reason: String) -> Event {
        Event { level: LogLevel::Warning, event: "warning", ..Event::pass_failed(command, reason) }
    }

    /// An error of the state directory (the lock, the counts, the marker) in a pass that went on.
    pub(crate) fn state_error(command: &str, reason: String) -> Event {
        Event { event: "state-error", ..Event::pass_failed(command, reason) }
    }

    fn about_prefix(
        level: LogLevel,
        event: &'static str,
        command: &str,
        service: &str,
        prefix: &PrefixPlan,
        reason: String,
    ) -> Event {
        Event {
            level,
            event,
            command: command.to_string(),
            service: Some(service.to_string()),
            prefix: Some(prefix.managed.prefix.to_string()),
            vrf: prefix.managed.vrf.name().map(str::to_string),
            asn: prefix.asn.as_ref().map(ToString::to_string),
            reason,
        }
    }

    /// The event as one line in `format`. Every field is escaped in text: a reason may quote Cabourotte or vtysh,
    /// and a newline in it must not start a forged log line.
    pub fn line(&self, format: LogFormat) -> String {
        match format {
            LogFormat::Json => serde_json::to_string(self).unwrap_or_default(),
            LogFormat::Logfmt => self.logfmt(),
            LogFormat::Text => {
                let mut line = format!("anycastd {}: {}", escape(&self.command), self.event);
                if let Some(prefix) = &self.prefix {
                    line.push_str(&format!(" {}", escape(prefix)));
                }
                if let Some(service) = &self.service {
                    line.push_str(&format!(" for service {}", escape(service)));
                }
                if self.prefix.is_some() {
                    let vrf = self
                        .vrf
                        .as_deref()
                        .map_or_else(|| "default VRF".to_string(), |name| format!("VRF {}", escape(name)));
                    let asn = self.asn.as_deref().map(|asn| format!(", AS {}", escape(asn))).unwrap_or_default();
                    line.push_str(&format!(" ({vrf}{asn})"));
                }
                format!("{line}: {}", escape(&self.reason))
            }
        }
    }
}

impl Event {
    /// `key=value` pairs, a value quoted (with `\\` and `\"` escaped) when it is empty or holds a space, `=` or `"`;
    /// control characters escaped as everywhere else. Absent fields are left out; the default VRF is `vrf=default`.
    fn logfmt(&self) -> String {
        let mut fields = vec![("level", self.level.name().to_string()), ("event", self.event.to_string())];
        fields.push(("command", self.command.clone()));
        fields.extend(self.service.clone().map(|service| ("service", service)));
        if let Some(prefix) = &self.prefix {
            fields.push(("prefix", prefix.clone()));
            fields.push(("vrf", self.vrf.clone().unwrap_or_else(|| "default".to_string())));
        }
        fields.extend(self.asn.clone().map(|asn| ("asn", asn)));
        fields.push(("reason", self.reason.clone()));
        let pairs: Vec<String> =
            fields.into_iter().map(|(key, value)| format!("{key}={}", logfmt_value(&value))).collect();
        pairs.join(" ")
    }
}

fn logfmt_value(value: &str) -> String {
    let value = escape(value);
    if !value.is_empty() && !value.contains([' ', '=', '"']) {
        return value.into_owned();
    }
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The events of an applied plan: its errors and warnings, every change made or failed, every prefix error, every
/// checker that could not be asked.
pub(crate) fn events(applied: &Plan, command: &str) -> Vec<Event> {
    let mut events: Vec<Event> =
        applied.errors.iter().map(|error| Event::state_error(command, words::pass_error(error))).collect();
    events.extend(applied.warnings.iter().map(|warning| Event::warning(command, words::warning(warning))));
    for service in applied.all_services() {
        for check in service.health.iter().flat_map(|health| health.checks.iter()) {
            if let CheckStatus::Unavailable(_) = check.status {
                let reason = format!("check {}: {}", check.name, check.reason());
                events.push(Event::about_service(
                    LogLevel::Warning,
                    "checker-unavailable",
                    command,
                    &service.name,
                    reason,
                ));
            }
        }
        let why = match (&service.verdict, &applied.reason) {
            (Verdict::WithdrawAll, Some(reason)) => reason.clone(),
            _ => why(service),
        };
        events.extend(service.prefixes.iter().filter_map(|prefix| prefix_event(service, prefix, command, &why)));
    }
    events
}

fn prefix_event(service: &ServicePlan, prefix: &PrefixPlan, command: &str, why: &str) -> Option<Event> {
    let event = |level, event, reason| Some(Event::about_prefix(level, event, command, &service.name, prefix, reason));
    match (&prefix.action, &prefix.outcome) {
        (Action::Error(error), _) => {
            event(LogLevel::Error, "prefix-error", words::prefix_error(error, &prefix.managed.vrf))
        }
        (Action::Announce, Outcome::Done) => event(LogLevel::Info, "announced", through(prefix, why)),
        (Action::Withdraw, Outcome::Done) => event(LogLevel::Info, "withdrawn", why.to_string()),
        (Action::Drain, Outcome::Done) => event(LogLevel::Info, "drained", through(prefix, why)),
        (Action::Restore, Outcome::Done) => event(LogLevel::Info, "restored", through(prefix, why)),
        (Action::Announce, Outcome::Failed(failure)) => {
            event(LogLevel::Error, "announce-failed", words::failure(failure))
        }
        (Action::Withdraw, Outcome::Failed(failure)) => {
            event(LogLevel::Error, "withdraw-failed", words::failure(failure))
        }
        (Action::Drain, Outcome::Failed(failure)) => event(LogLevel::Error, "drain-failed", words::failure(failure)),
        (Action::Restore, Outcome::Failed(failure)) => {
            event(LogLevel::Error, "restore-failed", words::failure(failure))
        }
        _ => None,
    }
}

/// The reason of a change that sets a `network` line, with the route-map it put on it, if any.
fn through(prefix: &PrefixPlan, why: &str) -> String {
    match prefix.wanted_route_map().flatten() {
        Some(route_map) => format!("{why}; through route-map {route_map}"),
        None if prefix.action == Action::Restore => format!("{why}; without a route-map"),
        None => why.to_string(),
    }
}

/// Why a service's prefixes are announced or withdrawn, in one phrase.
pub(crate) fn why(service: &ServicePlan) -> String {
    match service.verdict {
        Verdict::Healthy => "every check passes".to_string(),
        Verdict::Maintenance => "maintenance (anycastd withdraw-all)".to_string(),
        Verdict::Draining { until } => {
            format!("draining until {}, then withdrawn (anycastd withdraw-all --drain)", utc_timestamp(until))
        }
        Verdict::Falling { unhealthy, fall } if service.desired == Desired::Drained => {
            format!("unhealthy {unhealthy}/{fall}, drained (on_falling = \"drain\")")
        }
        Verdict::WithdrawAll => "withdrawing every managed prefix".to_string(),
        Verdict::Removed => "no longer in the configuration".to_string(),
        Verdict::Rising { healthy, rise } => format!("healthy {healthy}/{rise}, still withdrawn"),
        Verdict::Falling { unhealthy, fall } => format!("unhealthy {unhealthy}/{fall}, still announced"),
        Verdict::KeptOnCheckerError => "Cabourotte could not be asked; prefixes kept as they are".to_string(),
        Verdict::Untouched => "left as it is until the next poll (a push about other checks)".to_string(),
        Verdict::Unhealthy => {
            let failures: Vec<String> = service
                .health
                .iter()
                .flat_map(|health| health.failures())
                .map(|check| format!("check {} failed: {}", check.name, check.reason()))
                .collect();
            let failures = failures.join("; ");
            match service.desired {
                Desired::Drained => format!("{failures}; drained, not withdrawn (on_unhealthy = \"drain\")"),
                _ => failures,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The level is an enum inside anycastd, and the same word in every format outside it.
    #[test]
    fn a_level_is_written_as_its_word_in_every_format_and_filters_by_order() {
        let error = Event::state_error("apply", "the lock is held".into());
        assert_eq!(error.level, LogLevel::Error);
        assert!(error.line(LogFormat::Json).starts_with(r#"{"level":"error","event":"state-error""#));
        assert!(error.line(LogFormat::Logfmt).starts_with("level=error event=state-error"));
        let warning = Event::warning("apply", "careful".into());
        assert!(warning.line(LogFormat::Json).starts_with(r#"{"level":"warning","#));
        assert!(Event::notice("run", "started", "ok".into()).line(LogFormat::Logfmt).starts_with("level=info "));
        let levels = [LogLevel::Debug, LogLevel::Info, LogLevel::Warning, LogLevel::Error];
        assert_eq!(levels.map(LogLevel::name), ["debug", "info", "warning", "error"]);
        assert!(levels.is_sorted(), "--log-level warning writes warnings and errors, in this order");
    }
}
