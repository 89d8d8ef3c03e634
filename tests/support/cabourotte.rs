//! The fake Cabourotte of the tests: `scripts/fake-cabourotte` (the same one the lab and the benchmark run), started
//! per test on a free port of `127.0.0.1` and driven through its files.
//!
//! It speaks exactly what Cabourotte's API does: `GET /result` (and `/api/v1/result`) answer the list of latest
//! results, `GET /result/<name>` one of them or a 404 with `{"message": ...}`, `/health` answers `"ok"`, anything else
//! 404 `{"message": "not found"}`. Tests flip checks between healthy and failing while it runs: it re-reads its
//! results and its behaviour on every request. [`FakeCabourotte::start_tls`] serves https, demanding a client
//! certificate as Cabourotte does with TLS.

use base64::Engine as _;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/fake-cabourotte");

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// How a fake Cabourotte serves https: its certificate and key, and the CA that must have signed a client's
/// certificate (none: no client certificate is asked for).
pub struct Tls {
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The CA of the client certificates it accepts.
    pub client_ca: Option<PathBuf>,
}

/// A running fake Cabourotte; stops when dropped.
pub struct FakeCabourotte {
    dir: PathBuf,
    scheme: &'static str,
    port: u16,
    child: Child,
    results: Mutex<Vec<Value>>,
    behaviour: Mutex<serde_json::Map<String, Value>>,
}

impl FakeCabourotte {
    /// Starts a server with no results, and waits until it listens.
    pub fn start() -> Self {
        Self::start_with("http", Vec::new())
    }

    /// Starts an https server with no results, and waits until it listens.
    pub fn start_tls(tls: &Tls) -> Self {
        let mut args: Vec<OsString> =
            vec!["--tls-cert".into(), tls.cert.clone().into(), "--tls-key".into(), tls.key.clone().into()];
        if let Some(ca) = &tls.client_ca {
            args.extend(["--tls-client-ca".into(), ca.clone().into()]);
        }
        Self::start_with("https", args)
    }

    fn start_with(scheme: &'static str, args: Vec<OsString>) -> Self {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("anycastd-cabourotte-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the fake Cabourotte's directory");
        std::fs::write(dir.join("results.json"), "[]").expect("write no results");
        let child = Command::new("python3")
            .arg(SCRIPT)
            .arg("--results")
            .arg(dir.join("results.json"))
            .arg("--behaviour")
            .arg(dir.join("behaviour.json"))
            .arg("--requests")
            .arg(dir.join("requests.log"))
            .args(["--port", "0", "--port-file"])
            .arg(dir.join("port"))
            .arg("--tls-log")
            .arg(dir.join("tls.log"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start scripts/fake-cabourotte (python3)");
        let started = Instant::now();
        let port = loop {
            if let Some(port) = std::fs::read_to_string(dir.join("port")).ok().and_then(|p| p.trim().parse().ok()) {
                break port;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the fake Cabourotte did not start listening");
            std::thread::sleep(Duration::from_millis(10));
        };
        let (results, behaviour) = (Mutex::new(Vec::new()), Mutex::new(Default::default()));
        FakeCabourotte { dir, scheme, port, child, results, behaviour }
    }

    /// A server answering the seed example's three checks (`dns`, `ntp_v4`, `ntp_v6`), all healthy.
    pub fn all_healthy() -> Self {
        let cabourotte = FakeCabourotte::start();
        cabourotte.healthy("dns").healthy("ntp_v4").healthy("ntp_v6");
        cabourotte
    }

    /// The base URL to put in anycastd's config (`url = ...`).
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// Why it refused each TLS handshake so far (OpenSSL's words), one per line.
    pub fn refused_handshakes(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("tls.log")).unwrap_or_default();
        log.lines().map(str::to_string).collect()
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
        let mut results = self.results.lock().expect("results lock");
        let name = result.get("name").cloned();
        results.retain(|r| r.get("name") != name.as_ref());
        results.push(result);
        self.write("results.json", &Value::Array(results.clone()));
        self
    }

    /// Forgets the result of check `name` (as if it never ran).
    pub fn remove(&self, name: &str) -> &Self {
        let mut results = self.results.lock().expect("results lock");
        results.retain(|r| r.get("name").and_then(Value::as_str) != Some(name));
        self.write("results.json", &Value::Array(results.clone()));
        self
    }

    /// Makes `GET /result` wrap its list as newer releases do, `{"result": [...]}`, instead of the bare array
    /// `[...]` of older ones.
    pub fn wrapped_list(&self) -> &Self {
        self.behave("shape", json!("wrapped"))
    }

    /// Serves the API only under `/api/v1`, as Cabourotte 2.x does: `/result` answers 404 `{"message": "not found"}`.
    pub fn only_api_v1(&self) -> &Self {
        self.behave("api_v1_only", json!(true))
    }

    /// Makes every `/result` request answer `status` with `body`.
    pub fn force_answer(&self, status: u16, body: &str) -> &Self {
        self.behave("forced", json!([status, body]))
    }

    /// Requires HTTP basic auth with these credentials.
    pub fn require_basic_auth(&self, user: &str, password: &str) -> &Self {
        self.behave("basic_auth", json!(base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))))
    }

    /// Delays every answer by `delay`.
    pub fn delay(&self, delay: Duration) -> &Self {
        self.behave("delay", json!(delay.as_secs_f64()))
    }

    /// How many HTTP requests it has received so far.
    pub fn request_count(&self) -> usize {
        self.paths().len()
    }

    /// The request paths it has seen, in order.
    pub fn paths(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("requests.log")).unwrap_or_default();
        log.lines().map(str::to_string).collect()
    }

    fn behave(&self, key: &str, value: Value) -> &Self {
        let mut behaviour = self.behaviour.lock().expect("behaviour lock");
        behaviour.insert(key.to_string(), value);
        self.write("behaviour.json", &Value::Object(behaviour.clone()));
        self
    }

    /// Replaces one of its files at once (a rename), so that a request never reads half of it.
    fn write(&self, name: &str, value: &Value) {
        let temporary = self.dir.join(format!(".{name}"));
        std::fs::write(&temporary, value.to_string()).expect("write the fake Cabourotte's file");
        std::fs::rename(&temporary, self.dir.join(name)).expect("replace the fake Cabourotte's file");
    }
}

impl Drop for FakeCabourotte {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
