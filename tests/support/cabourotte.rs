//! A stand-in for Cabourotte's HTTP API, served from the test process.
//!
//! It speaks exactly what `../shared/docs/cabourotte-api.md` describes: `GET /result` (and `/api/v1/result`) answer
//! the list of latest results, `GET /result/<name>` one of them or a 404 with `{"message": ...}`, `/health` answers
//! `"ok"`, anything else 404 `{"message": "not found"}`. Tests flip checks between healthy and failing while it runs.

use base64::Engine as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

/// How `GET /result` wraps the list: older releases answer a bare array, newer ones `{"result": [...]}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListShape {
    /// `[ {...}, ... ]`
    Bare,
    /// `{"result": [ {...}, ... ]}`
    Wrapped,
}

/// What the server answers besides the results themselves.
#[derive(Clone, Debug)]
struct Behaviour {
    shape: ListShape,
    /// When set, every `/result` request answers this status and body instead.
    forced: Option<(u16, String)>,
    /// Requires `Authorization: Basic <this>` when set.
    basic_auth: Option<String>,
    /// Waits this long before answering (to trigger client timeouts).
    delay: Duration,
}

struct Shared {
    results: Mutex<Vec<Value>>,
    behaviour: Mutex<Behaviour>,
    requests: AtomicUsize,
    paths: Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// A running fake Cabourotte on `127.0.0.1` with a random port; stops when dropped.
pub struct FakeCabourotte {
    shared: Arc<Shared>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl FakeCabourotte {
    /// Starts a server with no results.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake Cabourotte");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            results: Mutex::new(Vec::new()),
            behaviour: Mutex::new(Behaviour {
                shape: ListShape::Bare,
                forced: None,
                basic_auth: None,
                delay: Duration::ZERO,
            }),
            requests: AtomicUsize::new(0),
            paths: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::spawn(move || serve(listener, for_thread));
        FakeCabourotte { shared, port, thread: Some(thread) }
    }

    /// The base URL to put in anycastd's config (`url = ...`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The TCP port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sets (or replaces) the latest result of check `name`.
    pub fn set_check(&self, name: &str, success: bool, message: &str) -> &Self {
        let result = json!({
            "name": name,
            "summary": format!("check {name}"),
            "success": success,
            "healthcheck-timestamp": 1764030000,
            "message": message,
            "message_labels": null,
            "duration": 12,
            "source": "configuration",
        });
        self.set_raw_result(result)
    }

    /// Marks check `name` healthy.
    pub fn healthy(&self, name: &str) -> &Self {
        self.set_check(name, true, "success")
    }

    /// Marks check `name` failing with Cabourotte's error `message`.
    pub fn failing(&self, name: &str, message: &str) -> &Self {
        self.set_check(name, false, message)
    }

    /// Sets (or replaces, by its `name`) one raw result object.
    pub fn set_raw_result(&self, result: Value) -> &Self {
        let mut results = self.shared.results.lock().expect("results lock");
        let name = result.get("name").cloned();
        results.retain(|r| r.get("name") != name.as_ref());
        results.push(result);
        self
    }

    /// Forgets the result of check `name` (as if it never ran).
    pub fn remove(&self, name: &str) -> &Self {
        let mut results = self.shared.results.lock().expect("results lock");
        results.retain(|r| r.get("name").and_then(Value::as_str) != Some(name));
        self
    }

    /// Chooses the list shape of `GET /result`.
    pub fn shape(&self, shape: ListShape) -> &Self {
        self.shared.behaviour.lock().expect("behaviour lock").shape = shape;
        self
    }

    /// Makes every `/result` request answer `status` with `body`.
    pub fn force_answer(&self, status: u16, body: &str) -> &Self {
        self.shared.behaviour.lock().expect("behaviour lock").forced = Some((status, body.to_string()));
        self
    }

    /// Requires HTTP basic auth with these credentials.
    pub fn require_basic_auth(&self, user: &str, password: &str) -> &Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.shared.behaviour.lock().expect("behaviour lock").basic_auth = Some(token);
        self
    }

    /// Delays every answer by `delay`.
    pub fn delay(&self, delay: Duration) -> &Self {
        self.shared.behaviour.lock().expect("behaviour lock").delay = delay;
        self
    }

    /// How many HTTP requests it has answered so far.
    pub fn request_count(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The request paths it has seen, in order.
    pub fn paths(&self) -> Vec<String> {
        self.shared.paths.lock().expect("paths lock").clone()
    }
}

impl Drop for FakeCabourotte {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            let _ = answer(stream, &shared);
        });
    }
}

fn answer(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((key, value)) = header.split_once(':')
            && key.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_string());
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    shared.requests.fetch_add(1, Ordering::SeqCst);
    shared.paths.lock().expect("paths lock").push(path.clone());
    let behaviour = shared.behaviour.lock().expect("behaviour lock").clone();
    std::thread::sleep(behaviour.delay);
    let (status, body) = route(&path, &behaviour, authorization.as_deref(), shared);
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())
}

fn route(path: &str, behaviour: &Behaviour, authorization: Option<&str>, shared: &Shared) -> (u16, String) {
    if let Some(token) = &behaviour.basic_auth
        && authorization != Some(format!("Basic {token}").as_str())
    {
        return (401, json!({"message": "Unauthorized"}).to_string());
    }
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    if path == "/health" || path == "/healthz" {
        return (200, "\"ok\"".to_string());
    }
    if path != "/result" && !path.starts_with("/result/") {
        return (404, json!({"message": "not found"}).to_string());
    }
    if let Some(forced) = &behaviour.forced {
        return forced.clone();
    }
    let results = shared.results.lock().expect("results lock").clone();
    if let Some(name) = path.strip_prefix("/result/") {
        return match results.iter().find(|r| r.get("name").and_then(Value::as_str) == Some(name)) {
            Some(result) => (200, result.to_string()),
            None => (404, json!({"message": format!("result not found for {name}")}).to_string()),
        };
    }
    let list = Value::Array(results);
    let body = match behaviour.shape {
        ListShape::Bare => list,
        ListShape::Wrapped => json!({ "result": list }),
    };
    (200, body.to_string())
}
