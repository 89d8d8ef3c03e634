//! The text report: per service, healthy or not and why; per prefix, what happens, in which BGP instance and VRF;
//! then a one-line summary.
//!
//! Every string that did not come from anycastd itself (a check's reason, vtysh's words, a warning, the maintenance
//! marker's fields, names and paths) goes through [`escape`] where it is written, so that it can neither forge a
//! line of the report nor drive the terminal.

use std::fmt::Write;

use owo_colors::OwoColorize;

use super::{Tense, words};
use crate::clock::utc_timestamp;
use crate::config::{Config, Daemon, RouteMap};
use crate::escape::escape;
use crate::finding::{Finding, Level};
use crate::health::{CheckSource, CheckStatus, ServiceHealth};
use crate::plan::{Action, Desired, Outcome, Plan, PrefixPlan, PrefixState, ServicePlan, Summary, Verdict, Warning};
use crate::plan::{AddressAction, AddressOutcome, AddressState};

/// Colours text when enabled (on a terminal, or when asked), and passes it through otherwise.
#[derive(Clone, Copy, Debug)]
pub struct Painter {
    enabled: bool,
}

impl Painter {
    /// A painter that colours when `enabled`.
    pub fn new(enabled: bool) -> Painter {
        Painter { enabled }
    }

    /// Appends `text` to `out` in `style` (as it is when colours are off).
    fn put(&self, out: &mut String, text: &str, style: Style) {
        match style {
            _ if !self.enabled => out.push_str(text),
            Style::Plain => out.push_str(text),
            Style::Green => out.push_str(&self.green(text)),
            Style::Red => out.push_str(&self.red(text)),
            Style::Yellow => out.push_str(&self.yellow(text)),
            Style::Dim => out.push_str(&self.dim(text)),
        }
    }

    fn paint(&self, text: &str, style: fn(&str) -> String) -> String {
        if self.enabled { style(text) } else { text.to_string() }
    }

    fn green(&self, text: &str) -> String {
        self.paint(text, |t| t.green().to_string())
    }

    fn red(&self, text: &str) -> String {
        self.paint(text, |t| t.red().to_string())
    }

    fn yellow(&self, text: &str) -> String {
        self.paint(text, |t| t.yellow().to_string())
    }

    fn bold(&self, text: &str) -> String {
        self.paint(text, |t| t.bold().to_string())
    }

    fn dim(&self, text: &str) -> String {
        self.paint(text, |t| t.dimmed().to_string())
    }
}

/// The colours of [`Painter::put`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    Green,
    Red,
    Yellow,
    Dim,
}

/// The plan (or applied plan) as text.
pub(crate) fn plan_text(plan: &Plan, tense: Tense, painter: Painter) -> String {
    let mut out = String::new();
    for error in &plan.errors {
        let _ = writeln!(out, "{} {}\n", painter.red("Error:"), escape(&words::pass_error(error)));
    }
    for (vtysh, reason) in plan.unreadable_frrs() {
        let _ = writeln!(out, "{} {}\n", painter.red("Error:"), escape(&words::frr_unavailable(vtysh, reason)));
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "{} {}\n", painter.yellow("Warning:"), escape(&words::warning(warning)));
    }
    if let Some(maintenance) = &plan.maintenance {
        let reason = maintenance.reason.as_deref().map(|r| format!(": {}", escape(r))).unwrap_or_default();
        let line = format!("Maintenance since {} by {}{reason}", maintenance.since_utc(), escape(&maintenance.by));
        let _ = writeln!(out, "{}", painter.yellow(&line));
        let draining = plan.services.iter().any(|service| matches!(service.verdict, Verdict::Draining { .. }));
        match maintenance.drain_until {
            Some(until) if !draining => writeln!(
                out,
                "  The drain ended at {}: every managed prefix stays withdrawn until `anycastd resume`.\n",
                utc_timestamp(until)
            ),
            Some(until) => writeln!(
                out,
                "  Announced prefixes are drained until {}, then withdrawn, and stay withdrawn until `anycastd resume` \
                 (which also ends the drain early and restores them).\n",
                utc_timestamp(until)
            ),
            None => writeln!(out, "  Every managed prefix stays withdrawn until `anycastd resume`.\n"),
        }
        .unwrap_or_default();
    }
    let width = plan.prefixes().map(|p| p.managed.prefix.to_string().len()).max().unwrap_or(0);
    for service in plan.all_services() {
        service_text(&mut out, service, tense, width, painter);
    }
    addresses_text(&mut out, plan, tense, painter);
    if plan.departed.iter().flat_map(|service| service.prefixes.iter()).any(|prefix| prefix.action == Action::Withdraw)
    {
        let _ = writeln!(
            out,
            "anycastd withdraws the prefixes it managed that the configuration no longer has. To keep one announced \
             without anycastd, announce it from the routing daemon's own configuration (FRR: a `network` line; BIRD: a \
             protocol not named `anycastd_*`) and run `anycastd forget PREFIX`.\n"
        );
    }
    let exec_errors = plan
        .services
        .iter()
        .filter_map(|service| service.health.as_ref())
        .flat_map(|health| health.checks.iter())
        .any(|check| check.source == CheckSource::Exec && matches!(check.status, CheckStatus::Unavailable(_)));
    let _ = writeln!(out, "{}", summary_line(&plan.summary(), tense, exec_errors));
    out
}

/// The service addresses on the host, after the services: one line each, as a prefix's line.
fn addresses_text(out: &mut String, plan: &Plan, tense: Tense, painter: Painter) {
    if plan.addresses.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", painter.bold("Addresses on the host"));
    let width = plan.addresses.iter().map(|one| one.address.to_string().len()).max().unwrap_or(0);
    for one in &plan.addresses {
        let applied = tense == Tense::Applied;
        let pick = |planned: &'static str, done: &'static str| if applied { done } else { planned };
        let failure = match (&one.outcome, &one.action) {
            // Padded as the other words of the column (`present`), so that the interfaces line up.
            (AddressOutcome::Failed(why), _) => Some(("failed ", why.clone())),
            (_, AddressAction::Error(error)) => Some(("error  ", words::address_error(error, &one.interface))),
            _ => None,
        };
        let (mark, word, style) = match (&failure, &one.action, one.current) {
            (Some((word, _)), _, _) => ("!", *word, Style::Red),
            (None, AddressAction::Add, _) => ("+", pick("add    ", "added  "), Style::Green),
            (None, AddressAction::Remove, _) => ("-", pick("remove ", "removed"), Style::Red),
            (None, _, AddressState::Present) => (" ", "present", Style::Dim),
            (None, _, AddressState::Absent) => (" ", "absent ", Style::Dim),
            (None, _, AddressState::Unknown) => (" ", "unknown", Style::Dim),
        };
        out.push_str("  ");
        painter.put(out, mark, style);
        let _ = write!(out, " {:width$}  ", one.address.to_string());
        painter.put(out, word, style);
        let _ = write!(out, "  {}, for {} ({})", escape(&one.interface), one.prefix, escape(&one.service));
        let note = match (&failure, &one.action) {
            (Some((_, why)), _) => Some(why.clone()),
            (None, AddressAction::AwaitWithdrawal) => {
                Some("no longer configured: removed once its prefix is withdrawn".to_string())
            }
            (None, AddressAction::Keep) if one.current == AddressState::Present && !one.added_by_anycastd => {
                Some("there before anycastd: never removed by it".to_string())
            }
            (None, AddressAction::Keep) if !one.configured => {
                Some("no longer named, but its prefix is still configured: it stays".to_string())
            }
            (None, AddressAction::Keep) if one.current == AddressState::Unknown => {
                Some("not read: an offline plan does not look at this host".to_string())
            }
            (None, AddressAction::Keep) if one.current == AddressState::Absent => {
                Some("not added by withdraw-all or a drain".to_string())
            }
            (None, AddressAction::Remove) if applied => {
                Some("its prefix left the configuration and was withdrawn".to_string())
            }
            (None, AddressAction::Remove) => {
                Some("its prefix left the configuration: removed once it is withdrawn".to_string())
            }
            _ => None,
        };
        if let Some(note) = note {
            out.push_str(": ");
            painter.put(out, &escape(&note), if failure.is_some() { Style::Red } else { Style::Dim });
        }
        out.push('\n');
    }
    out.push('\n');
}

fn service_text(out: &mut String, service: &ServicePlan, tense: Tense, width: usize, painter: Painter) {
    let state = match (&service.verdict, &service.health) {
        (Verdict::Healthy, _) => painter.green("healthy"),
        (Verdict::Unhealthy, _) if service.desired == Desired::Drained => {
            painter.red("unhealthy, drained instead of withdrawn (on_unhealthy = \"drain\")")
        }
        (Verdict::Falling { unhealthy, fall }, _) if service.desired == Desired::Drained => {
            painter.yellow(&format!("unhealthy {unhealthy}/{fall}, drained"))
        }
        (Verdict::Unhealthy, _) => painter.red("unhealthy"),
        (Verdict::Maintenance, Some(health)) if health.is_healthy() => {
            painter.yellow("in maintenance (checks healthy)")
        }
        (Verdict::Maintenance, _) => painter.yellow("in maintenance (checks unhealthy)"),
        (Verdict::WithdrawAll, _) => painter.yellow("withdrawing all"),
        (Verdict::Draining { until }, _) => painter.yellow(&format!("draining until {}", utc_timestamp(*until))),
        (Verdict::Rising { healthy, rise }, _) => painter.yellow(&format!("healthy {healthy}/{rise}, still withdrawn")),
        (Verdict::Falling { unhealthy, fall }, _) => {
            painter.yellow(&format!("unhealthy {unhealthy}/{fall}, still announced"))
        }
        (Verdict::Removed, _) => painter.yellow("no longer in the configuration"),
        (Verdict::KeptOnCheckerError, health) => painter.red(&format!(
            "health unknown ({}): prefixes kept as they are (on_checker_error = \"keep\")",
            health.as_ref().map_or("Cabourotte could not be asked", ServiceHealth::checker_trouble)
        )),
        (Verdict::Untouched, _) => painter.yellow("left as it is until the next poll (a push about other checks)"),
    };
    let _ = writeln!(out, "{}: {state}", painter.bold(&escape(&service.name)));
    for check in service.health.iter().flat_map(|health| health.checks.iter()) {
        let mark = match check.status {
            CheckStatus::Passing => painter.green("✓"),
            _ => painter.red("✗"),
        };
        let _ = writeln!(out, "  {mark} check {}: {}", escape(&check.name), escape(&check.reason()));
    }
    for prefix in &service.prefixes {
        prefix_line(out, prefix, tense, width, painter);
        for warning in &prefix.warnings {
            let _ = writeln!(out, "    {} {}", painter.yellow("⚠"), escape(&words::warning(warning)));
        }
    }
    out.push('\n');
}

/// Writes one prefix's line into `out`, in place: no `String` per part, since at 10,000 prefixes the report was 40 %
/// of the instructions of a no-op pass.
fn prefix_line(out: &mut String, prefix: &PrefixPlan, tense: Tense, width: usize, painter: Painter) {
    let failure = match (&prefix.outcome, &prefix.action) {
        (Outcome::Failed(failure), _) => Some(("failed", escape(&words::failure(failure)).to_string())),
        (_, Action::Error(error)) => Some(("error", escape(&words::prefix_error_below(prefix, error)).to_string())),
        _ => None,
    };
    let (mark, word, style) = match failure {
        Some((word, _)) => ("!", word, Style::Red),
        None => action_words(prefix, tense),
    };
    out.push_str("  ");
    painter.put(out, mark, if prefix.action == Action::Keep && failure.is_none() { Style::Plain } else { style });
    out.push(' ');
    let name_start = out.len();
    let _ = write!(out, "{}", prefix.managed.prefix);
    let written = out.len() - name_start;
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(written)));
    out.push_str("  ");
    painter.put(out, word, style);
    match failure {
        Some((_, reason)) => {
            out.push_str(" (");
            place(out, prefix);
            out.push_str("): ");
            out.push_str(&reason);
        }
        None if painter.enabled => {
            let mut text = String::new();
            place(&mut text, prefix);
            out.push_str("  ");
            painter.put(out, &text, Style::Dim);
        }
        None => {
            out.push_str("  ");
            place(out, prefix);
        }
    }
    let (suffix, problem) = match &prefix.advertising {
        Some(advertising) => {
            let announced = if tense == Tense::Applied { prefix.state_after() } else { prefix.current };
            let will_be = if tense == Tense::Applied { announced.is_announced() } else { prefix.will_be_announced() };
            words::advertising(&advertising.reach, will_be, announced.is_announced())
        }
        None => (None, None),
    };
    if let Some(suffix) = suffix {
        out.push_str(", ");
        painter.put(out, &escape(&suffix), Style::Dim);
    }
    out.push('\n');
    if let Some(problem) = problem {
        out.push_str("      ");
        painter.put(out, &escape(&problem), Style::Yellow);
        out.push('\n');
    }
}

/// The mark and word of a prefix's action (or of its state, unchanged), padded to one width, and their colour.
fn action_words(prefix: &PrefixPlan, tense: Tense) -> (&'static str, &'static str, Style) {
    let applied = tense == Tense::Applied;
    let pick = |planned, done| if applied { done } else { planned };
    match prefix.action {
        Action::Announce => ("+", pick("announce ", "announced"), Style::Green),
        Action::Withdraw => ("-", pick("withdraw ", "withdrawn"), Style::Red),
        Action::Drain => ("~", pick("drain    ", "drained  "), Style::Yellow),
        Action::Restore => ("~", pick("restore  ", "restored "), Style::Green),
        Action::Keep | Action::Error(_) => (" ", padded(prefix.current), Style::Dim),
    }
}

/// Where the prefix is: `AS 65536, default VRF`, and the route-map its line gets (or keeps), if any.
fn place(out: &mut String, prefix: &PrefixPlan) {
    let _ = match (&prefix.asn, prefix.managed.bird()) {
        (_, Some(bird)) => match &bird.table {
            Some(table) => write!(out, "BIRD table {table}"),
            None => write!(out, "BIRD"),
        },
        (Some(asn), None) => write!(out, "AS {asn}, {}", prefix.managed.vrf),
        (None, None) => write!(out, "{}", prefix.managed.vrf),
    };
    let route_map = match (prefix.wanted_route_map(), &prefix.action) {
        (Some(wanted), _) => wanted.map(RouteMap::name),
        (None, Action::Keep) => prefix.route_map.as_deref(),
        (None, _) => None,
    };
    if let Some(route_map) = route_map {
        out.push_str(", route-map ");
        out.push_str(&escape(route_map));
    }
}

/// A state as the word of an unchanged prefix, padded to the width of the others (without a `format!` per prefix:
/// at 10,000 prefixes that was 5 % of a no-op pass).
fn padded(state: PrefixState) -> &'static str {
    match state {
        PrefixState::Announced => "announced",
        PrefixState::Drained => "drained  ",
        PrefixState::Withdrawn => "withdrawn",
        PrefixState::Unknown => "unknown  ",
    }
}

fn summary_line(summary: &Summary, tense: Tense, exec_errors: bool) -> String {
    let (line, words) = match tense {
        Tense::Planned => ("Plan: ", ["to announce", "to withdraw", "to drain", "to restore"]),
        Tense::Applied => ("Applied: ", ["announced", "withdrawn", "drained", "restored"]),
    };
    let mut line = line.to_string();
    let counts = [summary.announce, summary.withdraw, summary.drain, summary.restore];
    // Drains and restores only appear when there are some: without route-maps, the line reads as it always did.
    for (index, (count, word)) in counts.into_iter().zip(words).enumerate() {
        if index < 2 || count > 0 {
            let _ = write!(line, "{count} {word}, ");
        }
    }
    let _ = write!(line, "{} unchanged", summary.unchanged);
    let (add, remove) = match tense {
        Tense::Planned => ("to add", "to remove"),
        Tense::Applied => ("added", "removed"),
    };
    if summary.add_address > 0 {
        let _ = write!(line, ", {} {} {add}", summary.add_address, plural(summary.add_address, "address", "addresses"));
    }
    if summary.remove_address > 0 {
        let count = summary.remove_address;
        let _ = write!(line, ", {count} {} {remove}", plural(count, "address", "addresses"));
    }
    if summary.errors > 0 {
        let _ = write!(line, ", {} {}", summary.errors, plural(summary.errors, "error", "errors"));
    }
    line.push('.');
    if summary.checker_errors > 0 {
        let checks = plural(summary.checker_errors, "check", "checks");
        if exec_errors {
            let _ = write!(
                line,
                " {} {checks} had no verdict (Cabourotte could not be asked, or an exec check ended in a checker error).",
                summary.checker_errors
            );
        } else {
            let _ = write!(line, " Cabourotte could not be asked for {} {checks}.", summary.checker_errors);
        }
    }
    line
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

/// The summary of a valid configuration, for `anycastd check`.
pub(crate) fn check_text(config: &Config, origin: &str, warnings: &[Warning]) -> String {
    let prefixes = config.prefixes().count();
    let checks = config.checks().count();
    let mut out = format!(
        "{} is valid: {} {}, {prefixes} {}, {checks} {}.\n",
        escape(origin),
        config.services.len(),
        plural(config.services.len(), "service", "services"),
        plural(prefixes, "prefix", "prefixes"),
        plural(checks, "check", "checks"),
    );
    for warning in warnings {
        let _ = writeln!(out, "Warning: {}", escape(&words::warning(warning)));
    }
    for service in &config.services {
        let _ = writeln!(out, "  {}:", escape(&service.name));
        for prefix in &service.prefixes {
            let _ = match &prefix.daemon {
                Daemon::Frr(frr) => write!(
                    out,
                    "    prefix {} in {} via {}",
                    prefix.prefix,
                    prefix.vrf.described(),
                    escape(&frr.vtysh.display().to_string())
                ),
                Daemon::Bird(bird) => write!(
                    out,
                    "    prefix {} in BIRD{} via {}, file {}{}",
                    prefix.prefix,
                    bird.table.as_ref().map(|table| format!(" table {table}")).unwrap_or_default(),
                    escape(&bird.socket.display().to_string()),
                    escape(&bird.file.display().to_string()),
                    if bird.drain { ", drains with anycastd_draining" } else { "" }
                ),
            };
            if let Some(route_map) = &prefix.route_map {
                let _ = write!(out, ", route-map {route_map}");
            }
            if let Some(route_map) = &prefix.drain_route_map {
                let _ = write!(out, ", drained through {route_map}");
            }
            out.push('\n');
        }
        for check in &service.checks {
            let interval = crate::config::describe(check.interval);
            let _ = writeln!(
                out,
                "    check {} at {} every {interval}",
                escape(&check.name),
                escape(&check.url.to_string())
            );
        }
        for check in &service.exec {
            let _ = writeln!(
                out,
                "    exec check {}: {} every {}, timeout {}",
                escape(&check.name),
                escape(&check.command.join(" ")),
                crate::config::describe(check.interval),
                crate::config::describe(check.timeout)
            );
        }
    }
    out
}

/// The findings of a pre-flight of `what` (`FRR`, `Cabourotte`: `check --frr`, `check --cabourotte`), with a
/// summary line; nothing when there are none.
pub(crate) fn preflight_text(what: &str, findings: &[Finding], painter: Painter) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let mut out = format!("{what}:\n");
    for finding in findings {
        let mark = match finding.level {
            Level::Ok => painter.green("✓"),
            Level::Warning => painter.yellow("⚠"),
            Level::Error => painter.red("✗"),
        };
        let _ = writeln!(out, "  {mark} {}: {}", escape(&finding.subject), escape(&finding.message));
    }
    let count = |level| findings.iter().filter(|finding| finding.level == level).count();
    let (errors, warnings) = (count(Level::Error), count(Level::Warning));
    let _ = writeln!(
        out,
        "{what} pre-flight: {errors} {}, {warnings} {}.",
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings")
    );
    out
}
