//! Cabourotte's HTTP API: one `GET {url}/result` per distinct URL per pass, whatever the number of checks.
//!
//! Cabourotte keeps the latest result of every check in memory and serves them all from its list endpoint, so one
//! request answers every check at that URL. Older releases answer a bare JSON array, newer ones `{"result": [...]}`;
//! both are accepted. Only `name`, `success`, `healthcheck-timestamp` and `message` are read: the rest (`summary`
//! can be any JSON value) is ignored.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::Deserialize;

use crate::config::{CabourotteUrl, Config};

/// The latest result of one check, as Cabourotte reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// The latest execution succeeded.
    pub success: bool,
    /// `"success"`, or the error text of the failure.
    pub message: String,
    /// When the latest execution ran (Unix seconds), if Cabourotte said.
    pub timestamp: Option<i64>,
}

/// Every result one Cabourotte knows, by check name.
pub type ResultList = HashMap<String, CheckResult>;

/// What each Cabourotte URL answered in one pass: its results, or why there are none.
pub type Answers = HashMap<CabourotteUrl, Result<ResultList, String>>;

/// Asks every distinct Cabourotte URL of the config for its result list, in parallel, each bounded by `timeout`.
pub fn fetch_all(config: &Config, timeout: Duration) -> Answers {
    let urls = distinct_urls(config);
    std::thread::scope(|scope| {
        let pending: Vec<_> = urls.into_iter().map(|url| (url, scope.spawn(move || fetch(url, timeout)))).collect();
        pending
            .into_iter()
            .map(|(url, thread)| {
                let answer = thread.join().unwrap_or_else(|_| Err("the HTTP client failed unexpectedly".into()));
                (url.clone(), answer)
            })
            .collect()
    })
}

/// The same result list as the answer of every Cabourotte URL of the config (offline plans: `--health FILE`).
pub fn answer_everywhere(config: &Config, results: &ResultList) -> Answers {
    distinct_urls(config).into_iter().map(|url| (url.clone(), Ok(results.clone()))).collect()
}

/// The distinct Cabourotte URLs of the config.
fn distinct_urls(config: &Config) -> BTreeSet<&CabourotteUrl> {
    config.checks().map(|(_, check)| &check.url).collect()
}

/// A result list in which every configured check passes, or fails (offline plans: `--assume`).
pub fn assumed(config: &Config, healthy: bool) -> ResultList {
    let message = if healthy { "success (assumed with --assume healthy)" } else { "assumed with --assume unhealthy" };
    config
        .checks()
        .map(|(_, check)| {
            (check.name.clone(), CheckResult { success: healthy, message: message.to_string(), timestamp: None })
        })
        .collect()
}

/// Fetches and parses the result list of one Cabourotte.
pub fn fetch(url: &CabourotteUrl, timeout: Duration) -> Result<ResultList, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let endpoint = url.result_list();
    let mut request = agent.get(&endpoint);
    if let Some((user, password)) = url.credentials() {
        request = request.header("Authorization", format!("Basic {}", base64(format!("{user}:{password}").as_bytes())));
    }
    let mut response = request.call().map_err(|error| describe(&error, timeout))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .map_err(|error| describe(&error, timeout))?;
    if status != 200 {
        return Err(status_error(status, &body));
    }
    parse_result_list(&body)
}

/// Parses Cabourotte's `GET /result` answer in either shape. Entries without a `name` and a `success` are skipped.
pub fn parse_result_list(body: &str) -> Result<ResultList, String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        Bare(Vec<serde_json::Value>),
        Wrapped { result: Vec<serde_json::Value> },
    }
    #[derive(Deserialize)]
    struct Entry {
        name: String,
        success: bool,
        #[serde(rename = "healthcheck-timestamp")]
        timestamp: Option<i64>,
        message: Option<String>,
    }
    let entries = match serde_json::from_str::<Shape>(body) {
        Ok(Shape::Bare(entries) | Shape::Wrapped { result: entries }) => entries,
        Err(_) => return Err(format!("unexpected answer, not a Cabourotte result list: {}", excerpt(body))),
    };
    let mut results = ResultList::new();
    for entry in entries.into_iter().filter_map(|entry| serde_json::from_value::<Entry>(entry).ok()) {
        let message = entry.message.unwrap_or_default();
        keep_the_worse(
            &mut results,
            entry.name,
            CheckResult { success: entry.success, message, timestamp: entry.timestamp },
        );
    }
    Ok(results)
}

/// Records `result` for check `name`, unless the list already holds a worse one for it. A check listed twice in one
/// answer fails closed: a failure wins over a success, and of two successes the older one is kept (a missing
/// timestamp counts as the oldest), so `max_age` judges the least fresh.
fn keep_the_worse(results: &mut ResultList, name: String, result: CheckResult) {
    match results.entry(name) {
        Entry::Vacant(slot) => {
            slot.insert(result);
        }
        Entry::Occupied(mut slot) => {
            let kept = slot.get();
            let worse = match (kept.success, result.success) {
                (true, false) => true,
                (true, true) => result.timestamp.unwrap_or(i64::MIN) < kept.timestamp.unwrap_or(i64::MIN),
                (false, _) => false,
            };
            if worse {
                slot.insert(result);
            }
        }
    }
}

fn status_error(status: u16, body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| excerpt(body));
    let hint = match status {
        401 | 403 => " (check the credentials in the check's url)",
        404 => " (is Cabourotte's result API enabled at this url?)",
        _ => "",
    };
    format!("HTTP {status}: {message}{hint}")
}

fn describe(error: &ureq::Error, timeout: Duration) -> String {
    match error {
        ureq::Error::Timeout(_) => format!("no answer within {}", crate::render::seconds(timeout)),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// The start of a body, on one line, for error messages.
fn excerpt(body: &str) -> String {
    let line: String = body.chars().take(80).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if body.chars().count() > 80 { format!("{}…", line.trim()) } else { line.trim().to_string() }
}

/// Standard base64 with padding, for the basic-auth header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let bytes = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            let sextet = (n >> (18 - 6 * i)) & 63;
            out.push(if i <= chunk.len() { ALPHABET[sextet as usize] as char } else { '=' });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARE: &str = include_str!("../tests/fixtures/cabourotte-result-list.json");
    const WRAPPED: &str = include_str!("../tests/fixtures/cabourotte-result-list-wrapped.json");

    #[test]
    fn both_list_shapes_parse_to_the_same_results() {
        let bare = parse_result_list(BARE).expect("bare array");
        assert_eq!(bare, parse_result_list(WRAPPED).expect("wrapped list"));
        assert_eq!(bare.len(), 3);
        assert_eq!(
            bare["ntp_v4"],
            CheckResult {
                success: false,
                message: "Command failed: exit status 1, output: no server suitable for synchronization found".into(),
                timestamp: Some(1764030001),
            }
        );
        assert!(bare["ntp_v6"].success, "a summary that is an object does not matter");
    }

    #[test]
    fn entries_without_name_or_success_are_skipped() {
        let list = parse_result_list(r#"[{"name": "a", "success": true}, {"success": true}, {"name": "b"}]"#);
        assert_eq!(list.map(|l| l.len()), Ok(1));
    }

    #[test]
    fn a_check_listed_twice_fails_if_either_entry_fails() {
        for body in [
            r#"[{"name": "dns", "success": false, "message": "timeout"}, {"name": "dns", "success": true}]"#,
            r#"[{"name": "dns", "success": true}, {"name": "dns", "success": false, "message": "timeout"}]"#,
        ] {
            let list = parse_result_list(body).expect("a list");
            assert_eq!(
                list["dns"],
                CheckResult { success: false, message: "timeout".into(), timestamp: None },
                "{body}"
            );
        }
    }

    #[test]
    fn other_json_is_an_error_quoting_the_body() {
        assert_eq!(
            parse_result_list(r#"{"message": "not found"}"#),
            Err(r#"unexpected answer, not a Cabourotte result list: {"message": "not found"}"#.into())
        );
        assert!(parse_result_list("<html>").is_err());
    }

    #[test]
    fn status_errors_quote_cabourotte_and_hint_at_the_fix() {
        assert_eq!(
            status_error(404, r#"{"message": "not found"}"#),
            "HTTP 404: not found (is Cabourotte's result API enabled at this url?)"
        );
        assert_eq!(status_error(500, "boom"), "HTTP 500: boom");
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b"anycast:s3cret"), "YW55Y2FzdDpzM2NyZXQ=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
