//! The HTTP listener of `anycastd run`: Cabourotte's HTTP exporter pushes each check result to `POST /push`,
//! Prometheus scrapes `GET /metrics`, a supervisor asks `GET /healthz`.
//!
//! A push is answered before anything is reconciled (Cabourotte pushes from one goroutine, so a slow answer delays
//! its other results), then handed to the loop, which may withdraw at once. Whoever can reach the port can only ever
//! cause a withdrawal: a pushed success announces nothing until the next poll of Cabourotte confirms it. Still, a
//! push must carry the shared secret (`Authorization: Bearer SECRET`), which is optional on loopback only.
//!
//! tiny_http serves it: small, synchronous, no async runtime, one thread here.

use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tiny_http::{Header, Method, Request, Response, Server};

use crate::health::cabourotte::{CheckResult, parse_result_list};

/// The most a push body may hold: one result is a few hundred bytes.
const PUSH_LIMIT: u64 = 1 << 20;

/// The most of the secret file read: a secret is one line.
const SECRET_LIMIT: u64 = 4096;

/// What wakes the loop of `run` between its polls.
#[derive(Debug)]
pub enum Wake {
    /// SIGINT or SIGTERM (its name): stop.
    Stop(&'static str),
    /// SIGHUP: read the configuration again.
    Reload,
    /// Results pushed by Cabourotte's exporter, by check name.
    Push(Vec<(String, CheckResult)>),
}

/// What `/metrics` and `/healthz` answer: set by the loop after every pass.
#[derive(Debug, Default)]
pub struct Status {
    /// The metrics text of the last pass (the same as the metrics file's).
    pub metrics: Option<String>,
    /// When the last pass ended, and whether it had no error.
    pub last_pass: Option<(Instant, bool)>,
    /// How old the last pass may be before `/healthz` says the loop is stuck.
    pub patience: Duration,
}

/// The status shared between the loop and the listener.
pub type SharedStatus = Arc<Mutex<Status>>;

/// What one listener serves.
pub struct Routes {
    /// `POST /push`, with the secret it demands (if any), handing pushes to the loop.
    pub push: Option<(Sender<Wake>, Option<String>)>,
    /// `GET /metrics` and `GET /healthz`.
    pub status: Option<SharedStatus>,
}

/// Reads the shared secret of pushes from `path`: one line, not readable by others.
pub fn read_secret(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|error| format!("cannot read the push secret {shown}: {error}"))?;
    let metadata = file.metadata().map_err(|error| format!("cannot read the push secret {shown}: {error}"))?;
    if metadata.mode() & 0o004 != 0 {
        return Err(format!("the push secret {shown} is readable by every user: chmod o-r {shown}"));
    }
    let mut secret = String::new();
    file.take(SECRET_LIMIT).read_to_string(&mut secret).map_err(|error| format!("cannot read {shown}: {error}"))?;
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(format!("the push secret {shown} is empty"));
    }
    Ok(secret.to_string())
}

/// Starts serving `routes` on `address` in a thread of its own.
pub fn start(address: SocketAddr, routes: Routes) -> Result<(), String> {
    let server = Server::http(address).map_err(|error| format!("cannot listen on {address}: {error}"))?;
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            answer(request, &routes);
        }
    });
    Ok(())
}

fn answer(mut request: Request, routes: &Routes) {
    let path = request.url().split('?').next().unwrap_or_default().to_string();
    let (status, body, content_type, pushed) = match (request.method(), path.as_str(), routes) {
        (Method::Post, "/push", Routes { push: Some((_, secret)), .. }) => push(&mut request, secret.as_deref()),
        (_, "/push", Routes { push: Some(_), .. }) => json(405, "use POST"),
        (Method::Get, "/metrics", Routes { status: Some(status), .. }) => metrics(status),
        (Method::Get, "/healthz", Routes { status: Some(status), .. }) => healthz(status),
        _ => json(404, "not found"),
    };
    let mut response = Response::from_string(body).with_status_code(status);
    if let Ok(header) = Header::from_bytes("Content-Type", content_type) {
        response = response.with_header(header);
    }
    let _ = request.respond(response);
    if let (Some(results), Some((loop_wake, _))) = (pushed, &routes.push) {
        let _ = loop_wake.send(Wake::Push(results));
    }
}

type Answer = (u16, String, &'static str, Option<Vec<(String, CheckResult)>>);

fn json(status: u16, message: &str) -> Answer {
    (status, serde_json::json!({ "message": message }).to_string(), "application/json", None)
}

/// `POST /push`: the secret, a bounded body, a JSON array of results (Cabourotte's exporter sends one).
fn push(request: &mut Request, secret: Option<&str>) -> Answer {
    if let Some(secret) = secret {
        let given = request
            .headers()
            .iter()
            .find(|header| header.field.equiv("Authorization"))
            .and_then(|header| header.value.as_str().strip_prefix("Bearer "));
        if !given.is_some_and(|given| same_secret(given.trim(), secret)) {
            return json(401, "a push must carry the shared secret: Authorization: Bearer SECRET");
        }
    }
    let mut body = String::new();
    let read = request.as_reader().take(PUSH_LIMIT + 1).read_to_string(&mut body);
    if read.is_err() {
        return json(400, "the body is not UTF-8 text");
    }
    if body.len() as u64 > PUSH_LIMIT {
        return json(413, "the body is larger than 1 MiB, the most a push may hold");
    }
    match parse_result_list(&body, &|_| true) {
        Ok(list) => {
            let results = list.results().map(|(name, result)| (name.to_string(), result.clone())).collect();
            (200, serde_json::json!({ "message": "accepted" }).to_string(), "application/json", Some(results))
        }
        Err(reason) => json(400, &format!("not a Cabourotte result list: {reason}")),
    }
}

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(given: &str, secret: &str) -> bool {
    given.len() == secret.len() && given.bytes().zip(secret.bytes()).fold(0, |diff, (a, b)| diff | (a ^ b)) == 0
}

fn metrics(status: &SharedStatus) -> Answer {
    let metrics = status.lock().ok().and_then(|status| status.metrics.clone());
    match metrics {
        Some(text) => (200, text, "text/plain; version=0.0.4", None),
        None => (503, "no pass has ended yet\n".to_string(), "text/plain", None),
    }
}

/// Healthy while passes end without errors and recently.
fn healthz(status: &SharedStatus) -> Answer {
    let Ok(status) = status.lock() else { return (503, "unknown\n".into(), "text/plain", None) };
    match status.last_pass {
        Some((ended, true)) if ended.elapsed() <= status.patience => (200, "ok\n".into(), "text/plain", None),
        Some((ended, true)) => {
            (503, format!("the last pass ended {} s ago\n", ended.elapsed().as_secs()), "text/plain", None)
        }
        Some((_, false)) => (503, "the last pass had errors\n".into(), "text/plain", None),
        None => (503, "no pass has ended yet\n".into(), "text/plain", None),
    }
}
