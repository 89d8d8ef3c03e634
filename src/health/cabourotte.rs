//! Cabourotte's HTTP API: one `GET {url}/result` per distinct URL per pass, whatever the number of checks.
//!
//! Cabourotte keeps the latest result of every check in memory and serves them all from its list endpoint, so one
//! request answers every check at that URL. Older releases answer a bare JSON array, newer ones `{"result": [...]}`;
//! both are accepted (see `answer.rs` for how an answer is read).

mod answer;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use crate::bounded;
use crate::config::{CabourotteUrl, Config};

use answer::excerpt;
pub use answer::{CheckResult, ResultList, Unreadable, parse_result_list};

/// What each Cabourotte URL answered in one pass: its results, or why there are none.
pub type Answers = HashMap<CabourotteUrl, Result<ResultList, String>>;

/// Asks every distinct Cabourotte URL of the config for its result list, in parallel, each bounded by `timeout`.
pub fn fetch_all(config: &Config, timeout: Duration) -> Answers {
    let mut checks_by_url: BTreeMap<&CabourotteUrl, BTreeSet<&str>> = BTreeMap::new();
    for (_, check) in config.checks() {
        checks_by_url.entry(&check.url).or_default().insert(&check.name);
    }
    std::thread::scope(|scope| {
        let pending: Vec<_> = checks_by_url
            .into_iter()
            .map(|(url, names)| (url, scope.spawn(move || fetch(url, &names, timeout))))
            .collect();
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
    ResultList::from_results(config.checks().map(|(_, check)| {
        (check.name.clone(), CheckResult { success: healthy, message: message.to_string(), timestamp: None })
    }))
}

/// Fetches the result list of one Cabourotte, keeping the results of the checks `names`.
pub fn fetch(url: &CabourotteUrl, names: &BTreeSet<&str>, timeout: Duration) -> Result<ResultList, String> {
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
        .limit(bounded::HEALTH.0)
        .read_to_string()
        .map_err(|error| describe(&error, timeout))?;
    if status != 200 {
        return Err(status_error(status, &body));
    }
    parse_result_list(&body, &|name| names.contains(name))
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
        ureq::Error::Timeout(_) => format!("no answer within {}", crate::config::describe(timeout)),
        ureq::Error::BodyExceedsLimit(_) => bounded::HEALTH.exceeded("its answer"),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
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
