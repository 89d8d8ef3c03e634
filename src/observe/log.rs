//! Log lines on stderr: one line per change, failure and error of a changing pass, for journald or a log shipper.
//!
//! Text lines carry no colour and no timestamp (journald adds its own); `--log-format json` prints one JSON object
//! per line with the same facts, and `logfmt` the same fields as `key=value` pairs. Those two also carry what a
//! pipeline built for the original anycastd reads: `timestamp` (RFC 3339, to the microsecond, as the original's),
//! `level`, `service_name` and `service_healthy`. The original's `event` is a sentence; ours stays a stable code
//! (`announced`), and the sentence is `message`, the very line `--log-format text` writes (see [`JsonLine`]).

use std::time::SystemTime;

use serde::Serialize;

use crate::clock::{utc_timestamp, utc_timestamp_micros};
use crate::escape::escape;
use crate::health::CheckStatus;
use crate::plan::{
    Action, AddressAction, AddressOutcome, AddressPlan, Desired, Outcome, Plan, PrefixPlan, ServicePlan, Verdict,
    Warning, added_after_withdrawals,
};
use crate::render::words;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `anycastd apply: announced 203.0.113.53/32 for service dns ...`
    Text,
    /// `{"level":"info","event":"announced","command":"apply",...,"timestamp":"2025-11-25T10:40:00.123456Z"}`
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
    /// Whether stderr is systemd's journal ([`stderr_is_the_journal`]): each line then starts with its syslog
    /// priority (`<5>`), which journald takes as the entry's priority and removes.
    pub journal: bool,
}

impl Logging {
    /// Writes `events` to stderr, one line each, unless below the level.
    pub fn write(&self, events: &[Event]) {
        let mut lines = String::new();
        for event in events.iter().filter(|event| event.level >= self.level) {
            lines.push_str(self.priority_prefix(event.level));
            lines.push_str(&event.line(self.format));
            lines.push('\n');
        }
        // One write for the whole batch, not two per line as `eprintln!` makes (20,000 system calls for a pass that
        // changed 10,000 prefixes); and a closed or full stderr is no reason for a pass to panic, as `eprintln!`
        // would: the log is lost, the pass goes on.
        if !lines.is_empty() {
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), lines.as_bytes());
        }
    }

    /// The syslog priority that starts a line in the journal; nothing elsewhere. An `info` event of anycastd is a
    /// change (announced, withdrawn, a hook, a reload, a stop), which the journal keeps at `notice`: the units'
    /// `LogLevelMax=notice` drops systemd's own lines of every timer run (Starting, Deactivated, Finished), so a
    /// pass that changes nothing leaves nothing, while every change is kept.
    pub fn priority_prefix(&self, level: LogLevel) -> &'static str {
        if !self.journal {
            return "";
        }
        match level {
            LogLevel::Debug => "<7>",
            LogLevel::Info => "<5>",
            LogLevel::Warning => "<4>",
            LogLevel::Error => "<3>",
        }
    }
}

/// Whether stderr is connected to systemd's journal: `$JOURNAL_STREAM` (set by systemd for a unit whose output goes
/// to the journal) names the device and inode of stderr itself, as systemd.exec(5) says to check, so a variable
/// inherited by a child whose stderr goes elsewhere is not believed.
pub fn stderr_is_the_journal() -> bool {
    let Some(stream) = std::env::var("JOURNAL_STREAM").ok() else { return false };
    let Some((device, inode)) = stream.split_once(':') else { return false };
    let (Ok(device), Ok(inode)) = (device.parse::<u64>(), inode.parse::<u64>()) else { return false };
    rustix::fs::fstat(std::io::stderr()).is_ok_and(|stat| stat.st_dev == device && stat.st_ino == inode)
}

/// One log event.
#[derive(Debug, PartialEq, Eq)]
pub struct Event {
    /// `info`, `warning` or `error`.
    pub level: LogLevel,
    /// `announced`, `withdrawn`, `announce-failed`, `withdraw-failed`, `prefix-error`, `frr-unavailable` (once per
    /// FRR that could not be read, before the `prefix-error` of each of its prefixes), `checker-unavailable`,
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
    /// The routing daemon of the prefix (`frr`, `bird`), if the event is about one.
    pub daemon: Option<&'static str>,
    /// The BIRD table of a BIRD prefix outside its master table (a VRF's); left out of JSON and logfmt lines
    /// otherwise.
    pub table: Option<String>,
    /// Why.
    pub reason: String,
    /// Whether every check of the service passed in this pass (`None`: not asked, as by `withdraw-all`, or no
    /// service): the original's `service_healthy`.
    pub service_healthy: Option<bool>,
}

/// One JSON log line: the event's fields, then the original anycastd's (structlog's) names for what a pipeline
/// built for it reads. Its `event` was a sentence (`Service "dns" is now considered healthy, announcing related
/// prefixes.`) and ours is a code (`announced`): the code wins `event`, because it is what our pipelines and alerts
/// match, it is stable across versions (the original's sentences changed wording between its own releases), and
/// ours are per prefix where the original's were per service, so no sentence of ours could match one of its
/// patterns anyway. The sentence is `message`, the text line; `service_name`, `service_healthy`, `level` and
/// `timestamp` carry the original's names and values.
#[derive(Serialize)]
struct JsonLine<'a> {
    level: LogLevel,
    event: &'a str,
    command: &'a str,
    service: Option<&'a str>,
    prefix: Option<&'a str>,
    vrf: Option<&'a str>,
    asn: Option<&'a str>,
    daemon: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    table: Option<&'a str>,
    reason: &'a str,
    service_name: Option<&'a str>,
    service_healthy: Option<bool>,
    message: String,
    timestamp: String,
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
            daemon: None,
            table: None,
            reason,
            service_healthy: None,
        }
    }

    /// The event, with whether `service`'s checks passed in this pass (when they were asked).
    pub(crate) fn of_service(self, service: &ServicePlan) -> Event {
        Event { service_healthy: service.health.as_ref().map(|health| health.is_healthy()), ..self }
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

    /// Something loop mode tells about itself (`started`, `stopping`, `reloaded`; `bgpd-unwatched` as a warning).
    pub(crate) fn notice(command: &str, event: &'static str, reason: String) -> Event {
        Event { level: LogLevel::Info, event, ..Event::pass_failed(command, reason) }
    }

    /// A warning about the whole pass.
    pub fn warning(command: &str, reason: String) -> Event {
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
            daemon: Some(prefix.managed.daemon_name()),
            table: prefix.managed.bird().and_then(|bird| bird.table.clone()),
            reason,
            service_healthy: None,
        }
    }

    /// The event as one line in `format`, written now. Every field is escaped in text: a reason may quote
    /// Cabourotte or vtysh, and a newline in it must not start a forged log line.
    pub fn line(&self, format: LogFormat) -> String {
        self.line_at(format, SystemTime::now())
    }

    /// The event as one line in `format`, written at `now` (the JSON and logfmt lines' `timestamp`).
    fn line_at(&self, format: LogFormat, now: SystemTime) -> String {
        match format {
            LogFormat::Json => serde_json::to_string(&self.json_line(now)).unwrap_or_default(),
            LogFormat::Logfmt => self.logfmt(now),
            LogFormat::Text => self.text(),
        }
    }

    fn json_line(&self, now: SystemTime) -> JsonLine<'_> {
        JsonLine {
            level: self.level,
            event: self.event,
            command: &self.command,
            service: self.service.as_deref(),
            prefix: self.prefix.as_deref(),
            vrf: self.vrf.as_deref(),
            asn: self.asn.as_deref(),
            daemon: self.daemon,
            table: self.table.as_deref(),
            reason: &self.reason,
            service_name: self.service.as_deref(),
            service_healthy: self.service_healthy,
            message: self.text(),
            timestamp: utc_timestamp_micros(now),
        }
    }

    /// `anycastd apply: announced 203.0.113.53/32 for service dns (default VRF, AS 65536): every check passes`
    fn text(&self) -> String {
        let mut line = format!("anycastd {}: {}", escape(&self.command), self.event);
        if let Some(prefix) = &self.prefix {
            line.push_str(&format!(" {}", escape(prefix)));
        }
        if let Some(service) = &self.service {
            line.push_str(&format!(" for service {}", escape(service)));
        }
        if self.prefix.is_some() && self.daemon == Some("bird") {
            match &self.table {
                Some(table) => line.push_str(&format!(" (BIRD, table {})", escape(table))),
                None => line.push_str(" (BIRD)"),
            }
        } else if self.prefix.is_some() {
            let vrf =
                self.vrf.as_deref().map_or_else(|| "default VRF".to_string(), |name| format!("VRF {}", escape(name)));
            let asn = self.asn.as_deref().map(|asn| format!(", AS {}", escape(asn))).unwrap_or_default();
            line.push_str(&format!(" ({vrf}{asn})"));
        }
        format!("{line}: {}", escape(&self.reason))
    }
}

impl Event {
    /// `key=value` pairs, a value quoted (with `\\` and `\"` escaped) when it is empty or holds a space, `=` or `"`;
    /// control characters escaped as everywhere else. Absent fields are left out; the default VRF is `vrf=default`.
    /// The same fields as a JSON line, in the same order.
    fn logfmt(&self, now: SystemTime) -> String {
        let mut fields = vec![("level", self.level.name().to_string()), ("event", self.event.to_string())];
        fields.push(("command", self.command.clone()));
        fields.extend(self.service.clone().map(|service| ("service", service)));
        if let Some(prefix) = &self.prefix {
            fields.push(("prefix", prefix.clone()));
            fields.push(("vrf", self.vrf.clone().unwrap_or_else(|| "default".to_string())));
        }
        fields.extend(self.asn.clone().map(|asn| ("asn", asn)));
        fields.extend(self.daemon.map(|daemon| ("daemon", daemon.to_string())));
        fields.extend(self.table.clone().map(|table| ("table", table)));
        fields.push(("reason", self.reason.clone()));
        fields.extend(self.service.clone().map(|service| ("service_name", service)));
        fields.extend(self.service_healthy.map(|healthy| ("service_healthy", healthy.to_string())));
        fields.push(("message", self.text()));
        fields.push(("timestamp", utc_timestamp_micros(now)));
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
    events.extend(applied.unreadable_frrs().into_iter().map(|(vtysh, reason)| Event {
        event: "frr-unavailable",
        ..Event::pass_failed(command, words::frr_unavailable(vtysh, reason))
    }));
    // An address is added before any announcement and removed after the withdrawals: the log says it in that order.
    let first: Vec<bool> = (0..applied.addresses.len())
        .map(|at| applied.addresses[at].action == AddressAction::Add && !added_after_withdrawals(applied, at))
        .collect();
    let addresses = || applied.addresses.iter().zip(first.iter().copied());
    events.extend(addresses().filter(|(_, first)| *first).filter_map(|(one, _)| address_event(one, command)));
    for service in applied.all_services() {
        for check in service.health.iter().flat_map(|health| health.checks.iter()) {
            if let CheckStatus::Unavailable(_) = check.status {
                let reason = format!("check {}: {}", check.name, check.reason());
                events.push(
                    Event::about_service(LogLevel::Warning, "checker-unavailable", command, &service.name, reason)
                        .of_service(service),
                );
            }
        }
        let why = match (&service.verdict, &applied.reason) {
            (Verdict::WithdrawAll, Some(reason)) => reason.clone(),
            _ => why(service),
        };
        events.extend(service.prefixes.iter().filter_map(|prefix| prefix_event(service, prefix, command, &why)));
    }
    events.extend(addresses().filter(|(_, first)| !*first).filter_map(|(one, _)| address_event(one, command)));
    events
}

/// What to log of a service address: a change made or failed, or an error.
fn address_event(one: &AddressPlan, command: &str) -> Option<Event> {
    let (level, event, reason) = match (&one.action, &one.outcome) {
        (AddressAction::Error(error), _) => {
            (LogLevel::Error, "address-error", words::address_error(error, &one.interface))
        }
        (AddressAction::Add, AddressOutcome::Done) => {
            (LogLevel::Info, "address-added", "its prefix's `interface` names it".to_string())
        }
        (AddressAction::Remove, AddressOutcome::Done) => {
            (LogLevel::Info, "address-removed", "its prefix left the configuration and was withdrawn".to_string())
        }
        (AddressAction::Add, AddressOutcome::Failed(why)) => (LogLevel::Error, "address-add-failed", why.clone()),
        (AddressAction::Remove, AddressOutcome::Failed(why)) => (LogLevel::Error, "address-remove-failed", why.clone()),
        _ => return None,
    };
    let reason = format!("{} on {}: {reason}", one.address, one.interface);
    Some(Event {
        prefix: Some(one.prefix.to_string()),
        ..Event::about_service(level, event, command, &one.service, reason)
    })
}

fn prefix_event(service: &ServicePlan, prefix: &PrefixPlan, command: &str, why: &str) -> Option<Event> {
    let event = |level, event, reason| {
        Some(Event::about_prefix(level, event, command, &service.name, prefix, reason).of_service(service))
    };
    match (&prefix.action, &prefix.outcome) {
        (Action::Error(error), _) => event(LogLevel::Error, "prefix-error", words::prefix_error_below(prefix, error)),
        (Action::Announce, Outcome::Done) => event(LogLevel::Info, "announced", through(prefix, why)),
        (Action::Withdraw, Outcome::Done) if matches!(service.verdict, Verdict::Draining { .. }) => {
            event(LogLevel::Info, "withdrawn", withdrawn_instead_of_drained(prefix))
        }
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

/// Why a prefix of a service being drained (`withdraw-all --drain`) was withdrawn at once: it has nothing to drain
/// through. Not "draining until ...": that is what happens to the others, not to it.
fn withdrawn_instead_of_drained(prefix: &PrefixPlan) -> String {
    let missing = prefix.warnings.iter().find_map(|warning| match warning {
        Warning::MissingDrainRouteMap { route_map, .. } => Some(route_map),
        _ => None,
    });
    if prefix.managed.bird().is_some() {
        return "no drain = true to drain with: withdrawn at once (anycastd withdraw-all --drain)".to_string();
    }
    match (&prefix.managed.drain_route_map, missing) {
        (Some(_), Some(route_map)) => {
            format!("its drain_route_map {route_map} is not in FRR: withdrawn at once (anycastd withdraw-all --drain)")
        }
        _ => "no drain_route_map to drain through: withdrawn at once (anycastd withdraw-all --drain)".to_string(),
    }
}

/// The reason of a change that sets a `network` line, with the route-map it put on it, if any.
fn through(prefix: &PrefixPlan, why: &str) -> String {
    match prefix.wanted_route_map().flatten() {
        Some(route_map) => format!("{why}; through route-map {route_map}"),
        None if prefix.action == Action::Restore && prefix.managed.bird().is_some() => {
            format!("{why}; without the drain mark")
        }
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
        Verdict::KeptOnCheckerError => format!(
            "{}; prefixes kept as they are",
            service
                .health
                .as_ref()
                .map_or("Cabourotte could not be asked", crate::health::ServiceHealth::checker_trouble)
        ),
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

    fn announced() -> Event {
        Event {
            level: LogLevel::Info,
            event: "announced",
            command: "apply".into(),
            service: Some("dns".into()),
            prefix: Some("203.0.113.53/32".into()),
            vrf: None,
            asn: Some("65536".into()),
            daemon: Some("frr"),
            table: None,
            reason: "every check passes".into(),
            service_healthy: Some(true),
        }
    }

    /// A JSON line has our fields, the original's (`service_name`, `service_healthy`, `level`, `timestamp` to the
    /// microsecond) and the text line as `message`; logfmt the same, in the same order.
    #[test]
    fn json_and_logfmt_lines_carry_the_originals_fields_and_a_timestamp() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::new(1_764_067_200, 123_456_789);
        assert_eq!(
            announced().line_at(LogFormat::Json, at),
            r#"{"level":"info","event":"announced","command":"apply","service":"dns","prefix":"203.0.113.53/32","vrf":null,"asn":"65536","daemon":"frr","reason":"every check passes","service_name":"dns","service_healthy":true,"message":"anycastd apply: announced 203.0.113.53/32 for service dns (default VRF, AS 65536): every check passes","timestamp":"2025-11-25T10:40:00.123456Z"}"#
        );
        assert_eq!(
            announced().line_at(LogFormat::Logfmt, at),
            "level=info event=announced command=apply service=dns prefix=203.0.113.53/32 vrf=default asn=65536 \
             daemon=frr reason=\"every check passes\" service_name=dns service_healthy=true message=\"anycastd apply: announced \
             203.0.113.53/32 for service dns (default VRF, AS 65536): every check passes\" \
             timestamp=2025-11-25T10:40:00.123456Z"
        );
        assert_eq!(
            announced().line_at(LogFormat::Text, at),
            "anycastd apply: announced 203.0.113.53/32 for service dns (default VRF, AS 65536): every check passes",
            "text lines are unchanged: journald stamps them"
        );
        let failed = Event::pass_failed("apply", "no configuration".into());
        let json: serde_json::Value = serde_json::from_str(&failed.line_at(LogFormat::Json, at)).expect("JSON");
        assert_eq!(
            (&json["service_name"], &json["service_healthy"]),
            (&serde_json::Value::Null, &serde_json::Value::Null)
        );
        assert_eq!(json["timestamp"], "2025-11-25T10:40:00.123456Z");
        assert_eq!(
            failed.line_at(LogFormat::Logfmt, at),
            "level=error event=pass-failed command=apply reason=\"no configuration\" message=\"anycastd apply: \
             pass-failed: no configuration\" timestamp=2025-11-25T10:40:00.123456Z",
            "absent fields are left out"
        );
    }
}
