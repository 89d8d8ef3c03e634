//! `anycastd check --cabourotte`: asks each Cabourotte of the configuration once, changing nothing, and reports what
//! a pass would meet there: whether the URL answers (over TLS, with its credentials), which configured checks its
//! result list lacks (a misspelt name, with the name it probably meant, or a check that has not run yet), and how
//! old each check's latest result is.
//!
//! A missing result is an error, as it would withdraw the service; a failing or stale one is a warning: the
//! set-up works, and the check says what it is there to say.

use std::collections::BTreeMap;
use std::time::Duration;

use super::cabourotte::{self, CheckResult, Endpoint, Keep, ResultList};
use crate::config::{CabourotteUrl, Config, TlsSettings, describe};
use crate::escape::escape;
use crate::finding::{Finding, Level};

/// Asks every Cabourotte of `config`, each bounded by `timeout`; `now` (Unix seconds) dates the results.
pub fn check_all(config: &Config, timeout: Duration, now: i64) -> Vec<Finding> {
    let answers = cabourotte::fetch_each(config, timeout, Keep::Everything);
    let max_ages = max_ages(config);
    let mut findings = Vec::new();
    for (url, endpoint) in cabourotte::endpoints(config) {
        match answers.get(url) {
            Some(Ok(list)) => {
                findings.push(Finding::new(
                    Level::Ok,
                    "cabourotte-answers",
                    url.to_string(),
                    reachable(url, endpoint.tls, list),
                ));
                if !list.unreadable().is_empty() {
                    let message = format!("some entries of its answer have no readable name: {}", list.unreadable());
                    findings.push(Finding::new(Level::Warning, "unnamed-results", url.to_string(), message));
                }
                for name in &endpoint.checks {
                    let max_age = max_ages.get(&(url, *name)).copied();
                    findings.push(check_finding(url, name, &endpoint, list, max_age, now));
                }
            }
            Some(Err(reason)) => {
                findings.push(Finding::new(
                    Level::Error,
                    "cabourotte-unreachable",
                    url.to_string(),
                    format!("cannot be asked: {reason}"),
                ));
            }
            None => findings.push(Finding::new(Level::Error, "cabourotte-not-asked", url.to_string(), "was not asked")),
        }
    }
    findings
}

/// The shortest `max_age` configured for each check of each URL: the one a pass judges most strictly by.
fn max_ages(config: &Config) -> BTreeMap<(&CabourotteUrl, &str), Duration> {
    let mut shortest: BTreeMap<(&CabourotteUrl, &str), Duration> = BTreeMap::new();
    for (_, check) in config.checks() {
        if let Some(max_age) = check.max_age {
            let entry = shortest.entry((&check.url, check.name.as_str())).or_insert(max_age);
            *entry = (*entry).min(max_age);
        }
    }
    shortest
}

/// How the URL was reached: `answers GET /result over https (...), basic auth as anycast: 3 results`.
fn reachable(url: &CabourotteUrl, tls: &TlsSettings, list: &ResultList) -> String {
    let mut how = if url.is_https() { format!("over https ({})", verification(tls)) } else { "over http".to_string() };
    if let Some((user, _)) = url.credentials() {
        how.push_str(&format!(", basic auth as {user}"));
    }
    let count = list.checks_with_results();
    format!("answers GET /result {how}: {count} {}", if count == 1 { "result" } else { "results" })
}

fn verification(tls: &TlsSettings) -> String {
    let roots = match &tls.ca_file {
        Some(path) => format!("server verified with ca_file {}", path.display()),
        None => "server verified with the web PKI roots".to_string(),
    };
    match &tls.client {
        Some(client) => format!("{roots}, client certificate {}", client.cert_file.display()),
        None => format!("{roots}, no client certificate"),
    }
}

fn check_finding(
    url: &CabourotteUrl,
    name: &str,
    endpoint: &Endpoint<'_>,
    list: &ResultList,
    max_age: Option<Duration>,
    now: i64,
) -> Finding {
    let subject = format!("check {name} at {url}");
    let Some(result) = list.get(name) else {
        return Finding::new(Level::Error, "check-result-missing", subject, missing(name, endpoint, list));
    };
    let (level, code, message) = judged(result, max_age, now);
    Finding::new(level, code, subject, message)
}

/// What a result says, and how old it is.
fn judged(result: &CheckResult, max_age: Option<Duration>, now: i64) -> (Level, &'static str, String) {
    let age = result.timestamp.map(|timestamp| now.saturating_sub(timestamp));
    let when = match age {
        Some(age) if age < 0 => format!("latest result {} in the future", spoken(age.unsigned_abs())),
        Some(age) => format!("latest result {} ago", spoken(age.unsigned_abs())),
        None => "latest result without a timestamp".to_string(),
    };
    if !result.success {
        let message =
            format!("failing, {when}: {}; while it fails, anycastd withdraws the service's prefixes", result.message);
        return (Level::Warning, "check-failing", message);
    }
    let stale = match (max_age, age) {
        (Some(max_age), Some(age)) => age as f64 > max_age.as_secs_f64(),
        (Some(_), None) => true,
        (None, _) => false,
    };
    match (stale, age) {
        (true, _) => (
            Level::Warning,
            "check-result-stale",
            format!(
                "success, but {when}: older than its max_age {}, so anycastd counts it as failing (is the check still \
                 scheduled in Cabourotte?)",
                max_age.map(describe).unwrap_or_default()
            ),
        ),
        (false, Some(age)) if age < 0 => (
            Level::Warning,
            "check-result-in-future",
            format!("success, {when}: do the clocks of this host and of Cabourotte agree?"),
        ),
        (false, _) => (Level::Ok, "check-passing", format!("success, {when}")),
    }
}

/// Why a configured check has no result, with the name it probably meant, or else the names Cabourotte has.
fn missing(name: &str, endpoint: &Endpoint<'_>, list: &ResultList) -> String {
    let unconfigured = list.names().filter(|candidate| !endpoint.checks.contains(candidate));
    let mut message = match closest(name, unconfigured) {
        Some(meant) => format!(
            "not in Cabourotte's result list; did you mean `{meant}`? Cabourotte has a result of that name, and no \
             check of anycastd's configuration asks for it"
        ),
        None => format!(
            "not in Cabourotte's result list: Cabourotte has no check of that name, or it has not run yet (right \
             after Cabourotte starts, wait one interval of the check); while it has no result, anycastd withdraws \
             the service's prefixes. {}",
            listed(list)
        ),
    };
    if !list.unreadable().is_empty() {
        message.push_str(&format!(
            "; some entries have no readable name, and one may be this check's: {}",
            list.unreadable()
        ));
    }
    message
}

/// The most names of Cabourotte's list that a finding quotes, and the most characters of each.
const LISTED_NAMES: usize = 10;
const LISTED_NAME_CHARS: usize = 64;

/// The names Cabourotte has results for, sorted, at most [`LISTED_NAMES`] of them, each cut to
/// [`LISTED_NAME_CHARS`] characters and escaped: `Cabourotte has results for `dns`, `ntp_v4` (and 3 more)`.
fn listed(list: &ResultList) -> String {
    let mut names: Vec<&str> = list.names().collect();
    if names.is_empty() {
        return "Cabourotte has no result at all".to_string();
    }
    names.sort_unstable();
    let quoted: Vec<String> = names
        .iter()
        .take(LISTED_NAMES)
        .map(|name| {
            let cut: String = name.chars().take(LISTED_NAME_CHARS).collect();
            let more = if cut.len() < name.len() { "…" } else { "" };
            format!("`{}{more}`", escape(&cut))
        })
        .collect();
    let more = match names.len().saturating_sub(LISTED_NAMES) {
        0 => String::new(),
        more => format!(" (and {more} more)"),
    };
    format!("Cabourotte has results for {}{more}", quoted.join(", "))
}

/// The candidate closest to `name`, if it is close enough to be a typo of it: at most two edits (case aside; two
/// neighbouring characters swapped, `dsn` for `dns`, are one edit), and at most one per two characters, so that `a`
/// does not suggest `b`. Ties go to the first in alphabetical order.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = name.to_lowercase();
    candidates
        .map(|candidate| (strsim::osa_distance(&wanted, &candidate.to_lowercase()), candidate))
        .filter(|(distance, _)| *distance <= 2 && 2 * distance <= wanted.chars().count())
        .min()
        .map(|(_, candidate)| candidate)
}

/// An age in the unit that reads best: `42 s`, `5 min`, `3 h`, `12 days`.
fn spoken(seconds: u64) -> String {
    match seconds {
        0..120 => format!("{seconds} s"),
        120..7_200 => format!("{} min", seconds / 60),
        7_200..172_800 => format!("{} h", seconds / 3_600),
        _ => format!("{} days", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_suggests_the_name_it_meant_and_nothing_far_away() {
        let names = ["ntp_v4", "ntp_v6", "dns"];
        assert_eq!(closest("ntp-v4", names.into_iter()), Some("ntp_v4"));
        assert_eq!(closest("DNS", names.into_iter()), Some("dns"));
        assert_eq!(closest("web", names.into_iter()), None);
        assert_eq!(closest("a", ["b"].into_iter()), None);
        assert_eq!(closest("ntp_v5", names.into_iter()), Some("ntp_v4"), "ties: the first alphabetically");
        assert_eq!(closest("dsn", names.into_iter()), Some("dns"), "two characters swapped are one edit");
        assert_eq!(closest("nt_pv4", names.into_iter()), Some("ntp_v4"), "one swap");
        assert_eq!(closest("sdn", ["dns"].into_iter()), None, "a swap and more: too far for three characters");
    }

    #[test]
    fn the_names_cabourotte_has_are_listed_sorted_bounded_and_escaped() {
        let result = CheckResult { success: true, message: String::new(), timestamp: None };
        let list = |names: &[&str]| ResultList::from_results(names.iter().map(|n| (n.to_string(), result.clone())));
        assert_eq!(listed(&list(&[])), "Cabourotte has no result at all");
        assert_eq!(listed(&list(&["web", "dns"])), "Cabourotte has results for `dns`, `web`");
        let many: Vec<String> = (0..12).map(|n| format!("check{n:02}")).collect();
        let many = listed(&list(&many.iter().map(String::as_str).collect::<Vec<_>>()));
        assert!(many.ends_with("`check09` (and 2 more)"), "{many}");
        let long = "x".repeat(100);
        assert_eq!(listed(&list(&[&long])), format!("Cabourotte has results for `{}…`", "x".repeat(64)));
        assert_eq!(listed(&list(&["a\nb"])), "Cabourotte has results for `a\\nb`");
    }

    #[test]
    fn ages_read_in_their_unit() {
        assert_eq!(spoken(3), "3 s");
        assert_eq!(spoken(300), "5 min");
        assert_eq!(spoken(3 * 3600), "3 h");
        assert_eq!(spoken(40 * 86_400), "40 days");
    }

    #[test]
    fn a_result_is_judged_by_its_success_and_its_age() {
        let result = |success, timestamp| CheckResult { success, message: "down".into(), timestamp };
        let max_age = Some(Duration::from_secs(30));
        assert_eq!(
            judged(&result(true, Some(990)), max_age, 1000),
            (Level::Ok, "check-passing", "success, latest result 10 s ago".into())
        );
        let kind = |judged: (Level, &'static str, String)| (judged.0, judged.1);
        assert_eq!(kind(judged(&result(true, Some(900)), max_age, 1000)), (Level::Warning, "check-result-stale"));
        let unjudged = kind(judged(&result(true, Some(900)), None, 1000));
        assert_eq!(unjudged, (Level::Ok, "check-passing"), "no max_age: age is not judged");
        let future = kind(judged(&result(true, Some(1010)), None, 1000));
        assert_eq!(future, (Level::Warning, "check-result-in-future"));
        let (level, code, message) = judged(&result(false, Some(990)), None, 1000);
        assert_eq!((level, code), (Level::Warning, "check-failing"));
        assert!(message.starts_with("failing, latest result 10 s ago: down;"), "{message}");
    }
}
