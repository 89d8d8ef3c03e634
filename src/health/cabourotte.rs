//! Cabourotte's HTTP API: one `GET {url}/result` per distinct URL per pass, whatever the number of checks (and one
//! more, `GET {url}/api/v1/result`, after a 404: see `api_v1_answers`).
//!
//! Cabourotte keeps the latest result of every check in memory and serves them all from its list endpoint, so one
//! request answers every check at that URL. Older releases answer a bare JSON array, newer ones `{"result": [...]}`;
//! both are accepted (see `answer.rs` for how an answer is read). https goes through `tls.rs`.

mod answer;
mod tls;

use base64::Engine as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use crate::bounded;
use crate::config::{CabourotteUrl, Config, TlsSettings};

use answer::excerpt;
pub use answer::{CheckResult, ResultList, Unreadable, parse_result_list};

/// What each Cabourotte URL answered in one pass: its results, or why there are none.
pub type Answers = HashMap<CabourotteUrl, Result<ResultList, String>>;

/// One Cabourotte of the configuration: how to reach it, and the checks asked of it.
pub struct Endpoint<'c> {
    /// Its TLS settings, shared by every check of its URL (the configuration guarantees it).
    pub tls: &'c TlsSettings,
    /// The names of the checks configured at its URL.
    pub checks: BTreeSet<&'c str>,
}

/// Every distinct Cabourotte URL of the config, with its endpoint.
pub fn endpoints(config: &Config) -> BTreeMap<&CabourotteUrl, Endpoint<'_>> {
    let mut endpoints: BTreeMap<&CabourotteUrl, Endpoint<'_>> = BTreeMap::new();
    for (_, check) in config.checks() {
        let endpoint =
            endpoints.entry(&check.url).or_insert_with(|| Endpoint { tls: &check.tls, checks: BTreeSet::new() });
        endpoint.checks.insert(&check.name);
    }
    endpoints
}

/// Which entries of an answer are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// The configured checks of the URL: a pass needs no more, and the answer may be large.
    Configured,
    /// Every entry: `check --cabourotte` looks for the name a misspelt check meant.
    Everything,
}

/// Asks every distinct Cabourotte URL of the config for its result list, in parallel, each bounded by `timeout`.
pub fn fetch_all(config: &Config, timeout: Duration) -> Answers {
    fetch_each(config, timeout, Keep::Configured)
}

/// Like [`fetch_all`], keeping the entries `keep` says.
pub fn fetch_each(config: &Config, timeout: Duration, keep: Keep) -> Answers {
    let endpoints = endpoints(config);
    if endpoints.len() == 1
        && let Some((url, endpoint)) = endpoints.iter().next()
    {
        // One Cabourotte, the usual case: asked from this thread, without starting one.
        let wanted = |name: &str| keep == Keep::Everything || endpoint.checks.contains(name);
        return Answers::from([((*url).clone(), fetch(url, endpoint.tls, &wanted, timeout))]);
    }
    std::thread::scope(|scope| {
        let pending: Vec<_> = endpoints
            .into_iter()
            .map(|(url, endpoint)| {
                let wanted = move |name: &str| keep == Keep::Everything || endpoint.checks.contains(name);
                (url, scope.spawn(move || fetch(url, endpoint.tls, &wanted, timeout)))
            })
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

/// A result list in which every configured check (command checks too) passes, or fails (offline plans: `--assume`).
pub fn assumed(config: &Config, healthy: bool) -> ResultList {
    let message = if healthy { "success (assumed with --assume healthy)" } else { "assumed with --assume unhealthy" };
    let names = config.checks().map(|(_, check)| &check.name).chain(config.exec_checks().map(|(_, check)| &check.name));
    ResultList::from_results(
        names.map(|name| {
            (name.clone(), CheckResult { success: healthy, message: message.to_string(), timestamp: None })
        }),
    )
}

/// Fetches the result list of one Cabourotte, over TLS with `tls` for https, keeping the checks `wanted`.
pub fn fetch(
    url: &CabourotteUrl,
    tls: &TlsSettings,
    wanted: &dyn Fn(&str) -> bool,
    timeout: Duration,
) -> Result<ResultList, String> {
    let mut agent = ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).proxy(None);
    if url.is_https() && tls.is_set() {
        agent = agent.tls_config(tls::client_config(tls)?);
    }
    let agent: ureq::Agent = agent.build().into();
    let (status, body) = get(&agent, url, timeout, tls)?;
    if status == 404 {
        return Err(status_error(status, &body, api_v1_answers(&agent, url, timeout, tls).as_ref()));
    }
    if status != 200 {
        return Err(status_error(status, &body, None));
    }
    parse_result_list(&body, wanted)
}

/// `GET {url}/result`: the status and the body, read within its bound.
fn get(
    agent: &ureq::Agent,
    url: &CabourotteUrl,
    timeout: Duration,
    tls: &TlsSettings,
) -> Result<(u16, String), String> {
    let mut request = agent.get(&url.result_list());
    if let Some((user, password)) = url.credentials() {
        request = request.header("Authorization", format!("Basic {}", basic_auth_token(user, password)));
    }
    let mut response = request.call().map_err(|error| describe(&error, url, timeout, tls))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(bounded::HEALTH.0)
        .read_to_string()
        .map_err(|error| describe(&error, url, timeout, tls))?;
    Ok((status, body))
}

/// After a 404 at `url`: the url under `/api/v1`, when Cabourotte answers its result list there. Cabourotte 2.x
/// serves its API only there, and its root then answers 404 to every request: the url was written for a release
/// before 2.0 (anycastd's default is one). One request, made only after a 404, so a pass that works costs nothing.
fn api_v1_answers(
    agent: &ureq::Agent,
    url: &CabourotteUrl,
    timeout: Duration,
    tls: &TlsSettings,
) -> Option<CabourotteUrl> {
    let api_v1 = url.under_api_v1()?;
    let (status, body) = get(agent, &api_v1, timeout, tls).ok()?;
    (status == 200 && parse_result_list(&body, &|_| false).is_ok()).then_some(api_v1)
}

/// The error of an answer other than 200, quoting Cabourotte's message, with a hint at the fix where the status
/// tells it; `api_v1` is where a 404's result list really is, when anycastd found it there.
fn status_error(status: u16, body: &str, api_v1: Option<&CabourotteUrl>) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| excerpt(body));
    let hint = match (status, api_v1) {
        (404, Some(api_v1)) => format!(" (Cabourotte 2.x serves its API under /api/v1: use url = \"{api_v1}\")"),
        (400, _) if message.contains("HTTPS server") => {
            " (Cabourotte serves TLS here: write the url with https://)".to_string()
        }
        (401 | 403, _) => " (check the credentials in the check's url)".to_string(),
        (404, None) => " (is Cabourotte's result API enabled at this url?)".to_string(),
        _ => String::new(),
    };
    format!("HTTP {status}: {message}{hint}")
}

/// Why `GET {url}/result` failed, in words that name the request and what to check: the connection refused (nothing
/// listens there), the name that does not resolve, no answer in time, TLS (see `tls.rs`).
fn describe(error: &ureq::Error, url: &CabourotteUrl, timeout: Duration, tls: &TlsSettings) -> String {
    if let Some(reason) = tls::explain(error, tls) {
        return reason;
    }
    let within = format!("{} (--http-timeout)", crate::config::describe(timeout));
    let why = match error {
        ureq::Error::BodyExceedsLimit(_) => return bounded::HEALTH.exceeded("its answer"),
        ureq::Error::Timeout(ureq::Timeout::Resolve) => format!(
            "its host name was not resolved within {within}: check this host's DNS (/etc/resolv.conf, /etc/hosts)"
        ),
        ureq::Error::Timeout(ureq::Timeout::Connect) => {
            format!("no connection within {within}: is the host up, and does no firewall drop the packets to its port?")
        }
        ureq::Error::Timeout(_) => format!("no answer within {within}: is Cabourotte stuck or overloaded?"),
        ureq::Error::HostNotFound => unresolved("no address found"),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "connection refused: is Cabourotte running and listening there (the host and port of its http \
                 section)?"
                    .to_string()
            }
            std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
                format!("{}: check the url's address, and this host's routes to it", crate::os_error::words(io))
            }
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => format!(
                "{}: Cabourotte closed the connection (does it serve https, and the url say http://?)",
                crate::os_error::words(io)
            ),
            _ if io.to_string().starts_with(LOOKUP_FAILED) => {
                unresolved(io.to_string().trim_start_matches(LOOKUP_FAILED).trim_start_matches(": "))
            }
            _ => crate::os_error::words(io),
        },
        other => other.to_string(),
    };
    format!("GET {url}/result: {why}")
}

/// How the standard library's resolver begins its error (its kind is not stable to match on).
const LOOKUP_FAILED: &str = "failed to lookup address information";

/// A host name that does not resolve, with the resolver's own words.
fn unresolved(resolver: &str) -> String {
    format!(
        "its host name does not resolve ({resolver}): check the url's host name, and this host's DNS \
         (/etc/resolv.conf, /etc/hosts)"
    )
}

/// The basic-auth header's token: standard base64 with padding.
fn basic_auth_token(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_errors_quote_cabourotte_and_hint_at_the_fix() {
        assert_eq!(
            status_error(404, r#"{"message": "not found"}"#, None),
            "HTTP 404: not found (is Cabourotte's result API enabled at this url?)"
        );
        let api_v1 = CabourotteUrl::parse("https://anycast:s3cret@healthz.local:9013/api/v1").expect("valid");
        assert_eq!(
            status_error(404, r#"{"message": "not found"}"#, Some(&api_v1)),
            r#"HTTP 404: not found (Cabourotte 2.x serves its API under /api/v1: use url = "https://anycast:***@healthz.local:9013/api/v1")"#
        );
        assert_eq!(status_error(500, "boom", None), "HTTP 500: boom");
    }

    #[test]
    fn a_failed_request_names_the_url_and_what_to_check() {
        let url = CabourotteUrl::parse("http://anycast:s3cret@127.0.0.1:9013").expect("valid");
        let tls = TlsSettings::default();
        let said = |error| describe(&error, &url, Duration::from_millis(300), &tls);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            said(ureq::Error::Io(refused)),
            "GET http://anycast:***@127.0.0.1:9013/result: connection refused: is Cabourotte running and listening \
             there (the host and port of its http section)?"
        );
        let os = std::io::Error::from_raw_os_error(113);
        assert_eq!(
            said(ureq::Error::Io(os)),
            "GET http://anycast:***@127.0.0.1:9013/result: no route to host: check the url's address, and this \
             host's routes to it"
        );
        let lookup = std::io::Error::other("failed to lookup address information: Name or service not known");
        assert!(said(ureq::Error::Io(lookup)).ends_with(
            "/result: its host name does not resolve (Name or service not known): check the url's host name, \
                 and this host's DNS (/etc/resolv.conf, /etc/hosts)"
        ),);
        assert!(
            said(ureq::Error::Timeout(ureq::Timeout::Global))
                .ends_with("/result: no answer within 300 ms (--http-timeout): is Cabourotte stuck or overloaded?")
        );
    }

    #[test]
    fn the_basic_auth_token_is_standard_base64() {
        assert_eq!(basic_auth_token("anycast", "s3cret"), "YW55Y2FzdDpzM2NyZXQ=");
    }
}
