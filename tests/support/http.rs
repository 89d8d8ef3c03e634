//! A client for the listener of `anycastd run`, polite (pushes, GETs) and hostile (raw bytes), and what the
//! process looks like from /proc meanwhile (memory, threads).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

/// A free TCP port on the loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// One Cabourotte result of `name`, as its exporter pushes it (a JSON array of one), at `timestamp`.
pub fn result(name: &str, success: bool, timestamp: i64) -> serde_json::Value {
    json!({"name": name, "summary": format!("check {name}"), "success": success, "healthcheck-timestamp": timestamp,
           "message": if success { "success" } else { "pushed failure" }, "message_labels": null, "duration": 3,
           "source": "configuration"})
}

/// A push of one result of `name`, as a body.
pub fn pushed(name: &str, success: bool, timestamp: i64) -> String {
    json!([result(name, success, timestamp)]).to_string()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// POSTs `body` to `/push` of the listener on `port`, with `authorization` as the Authorization header; the status.
pub fn push_with(port: u16, body: &str, authorization: Option<&str>) -> u16 {
    let mut request = agent().post(format!("http://127.0.0.1:{port}/push")).header("Content-Type", "application/json");
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    request.send(body).expect("POST /push").status().as_u16()
}

/// POSTs `body` to `/push` with `secret` as the bearer token; the status.
pub fn push(port: u16, body: &str, secret: Option<&str>) -> u16 {
    push_with(port, body, secret.map(|secret| format!("Bearer {secret}")).as_deref())
}

/// GETs `path` of the listener on `port`: the status and the body.
pub fn get(port: u16, path: &str) -> (u16, String) {
    let mut response = agent().get(format!("http://127.0.0.1:{port}{path}")).call().expect("GET");
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
}

/// Sends `request` as raw bytes, says it has no more to send (as a client that has read its response closes), and
/// reads until the server closes: everything it sent, or the error that ended the read (a reset, a timeout) with what
/// it had sent.
pub fn exchange(port: u16, request: &[u8]) -> Result<String, (std::io::ErrorKind, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the listener");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a read timeout");
    stream.write_all(request).expect("send the request");
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let read = stream.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    read.map(|_| text.clone()).map_err(|error| (error.kind(), text))
}

/// The status code of a raw response.
pub fn status(response: &str) -> Option<u16> {
    response.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok())
}

/// A field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`) or as a count (`Threads`).
pub fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process's status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
