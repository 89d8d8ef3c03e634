//! The server against real sockets on the loopback, with small limits so that every deadline passes quickly.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;

const QUICK: Limits = Limits {
    connections: 4,
    head_bytes: 256,
    body_bytes: 1024,
    head_deadline: Duration::from_millis(300),
    body_deadline: Duration::from_millis(600),
    write_deadline: Duration::from_millis(300),
    linger: Duration::from_millis(200),
    linger_bytes: 2048,
    accept_backoff: Duration::from_millis(10),
};

/// `GET /`: `hello`; `POST /echo`: the body's length; `POST /refuse`: 401 from the head.
struct Echo {
    bodies: Arc<AtomicUsize>,
}

impl Service for Echo {
    fn head(&self, head: &Head) -> Next {
        match (head.method.as_str(), head.path.as_str()) {
            ("GET" | "HEAD", "/") => Next::Answer(Response::text(200, "hello")),
            ("POST", "/echo") => Next::ReadBody,
            ("POST", "/refuse") => Next::Answer(Response::message(401, "no")),
            _ => Next::Answer(Response::message(404, "not found")),
        }
    }

    fn body(&self, _: &Head, body: &[u8]) -> Response {
        self.bodies.fetch_add(1, Ordering::SeqCst);
        Response::text(200, format!("{} bytes", body.len()))
    }
}

/// A server with `limits` on a free port; the count of bodies it took.
fn start(limits: Limits) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let address = listener.local_addr().expect("address");
    let bodies = Arc::new(AtomicUsize::new(0));
    let echo = Echo { bodies: Arc::clone(&bodies) };
    std::thread::spawn(move || serve(&listener, &echo, limits, &|_| {}));
    (address, bodies)
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    stream
}

/// Everything the server sends until it closes; fails on a reset (the server must close cleanly).
fn read_all(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("a clean close, not a reset or a timeout");
    String::from_utf8_lossy(&out).into_owned()
}

fn exchange(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect(address);
    stream.write_all(request).expect("send");
    read_all(&mut stream)
}

fn status(response: &str) -> &str {
    response.get(9..12).unwrap_or_default()
}

#[test]
fn a_request_is_answered_completely_and_the_connection_closed() {
    let (address, _) = start(QUICK);
    let response = exchange(address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("\r\nContent-Length: 5\r\nConnection: close\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nhello"), "{response}");
    let head = exchange(address, b"HEAD / HTTP/1.1\r\n\r\n");
    assert!(head.contains("\r\nContent-Length: 5\r\n") && head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
}

#[test]
fn a_pipelined_second_request_is_never_answered_and_the_first_gets_its_answer_without_a_reset() {
    let (address, bodies) = start(QUICK);
    let response = exchange(address, b"GET / HTTP/1.1\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
    assert_eq!(response.matches("HTTP/1.1 ").count(), 1, "{response}");
    assert!(response.ends_with("hello"), "{response}");
    let response = exchange(address, b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\r\n\r\n");
    assert!(response.ends_with("\r\n\r\n2 bytes"), "only the declared length is the body: {response}");
    assert_eq!(bodies.load(Ordering::SeqCst), 1);
}

#[test]
fn a_head_over_the_limit_is_431_and_malformed_is_400() {
    let (address, _) = start(QUICK);
    let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(1000));
    let mut stream = connect(address);
    let _ = stream.write_all(long.as_bytes());
    let response = read_all(&mut stream);
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    assert!(response.contains("larger than 256 bytes"), "{response}");
    assert_eq!(status(&exchange(address, b"NOT HTTP\r\n\r\n")), "400");
}

#[test]
fn a_body_is_read_only_when_the_service_asks_and_only_up_to_its_bounded_length() {
    let (address, bodies) = start(QUICK);
    let echo = |request: &str| exchange(address, request.as_bytes());
    assert!(echo("POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").ends_with("5 bytes"));
    assert_eq!(status(&echo("POST /echo HTTP/1.1\r\nContent-Length: 1025\r\n\r\n")), "413");
    assert_eq!(status(&echo("POST /echo HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n")), "413");
    assert_eq!(status(&echo("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")), "411");
    assert_eq!(status(&echo("POST /echo HTTP/1.1\r\n\r\n")), "411");
    let started = Instant::now();
    assert_eq!(status(&echo("POST /refuse HTTP/1.1\r\nContent-Length: 1000\r\n\r\n")), "401");
    assert!(started.elapsed() < Duration::from_millis(250), "refused from the head, without waiting for the body");
    assert_eq!(bodies.load(Ordering::SeqCst), 1);
}

#[test]
fn a_client_that_writes_a_refused_body_whole_before_reading_gets_its_answer_not_a_reset() {
    // Four MiB: more than the sockets' buffers hold, so the server must read what comes after its answer.
    let limits = Limits { linger: Duration::from_secs(2), linger_bytes: 8 << 20, ..QUICK };
    let (address, bodies) = start(limits);
    let body = "x".repeat(4 << 20);
    for (path, expected) in [("/refuse", "401"), ("/echo", "413")] {
        let mut stream = connect(address);
        let request = format!("POST {path} HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        stream.write_all(request.as_bytes()).expect("the whole body is taken (and thrown away), not reset");
        assert_eq!(status(&read_all(&mut stream)), expected);
    }
    assert_eq!(bodies.load(Ordering::SeqCst), 0, "neither body was kept");
}

#[test]
fn a_client_that_waits_for_100_continue_gets_it() {
    let (address, _) = start(QUICK);
    let mut stream = connect(address);
    stream.write_all(b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n").expect("head");
    let mut interim = [0; 25];
    stream.read_exact(&mut interim).expect("100 Continue");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"abc").expect("body");
    assert!(read_all(&mut stream).ends_with("3 bytes"));
}

#[test]
fn a_slow_head_or_body_gets_408_and_an_idle_connection_is_closed() {
    let (address, _) = start(QUICK);
    let started = Instant::now();
    let mut partial = connect(address);
    partial.write_all(b"GET / HTTP/1.1\r\n").expect("half a head");
    assert_eq!(status(&read_all(&mut partial)), "408");
    assert!(started.elapsed() < Duration::from_secs(2));
    let mut dripping = connect(address);
    dripping.write_all(b"POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nab").expect("a little of the body");
    assert_eq!(status(&read_all(&mut dripping)), "408");
    let mut idle = connect(address);
    assert_eq!(read_all(&mut idle), "", "closed without a word");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[test]
fn idle_connections_beyond_the_cap_are_evicted_oldest_first_and_a_real_request_is_served() {
    let (address, _) = start(QUICK);
    let mut idle: Vec<TcpStream> = (0..QUICK.connections * 3).map(|_| connect(address)).collect();
    let started = Instant::now();
    let response = exchange(address, b"GET / HTTP/1.1\r\n\r\n");
    assert!(response.ends_with("hello"), "{response}");
    assert!(started.elapsed() < Duration::from_millis(250), "served at once, not after the idle ones' deadline");
    let mut oldest = idle.remove(0);
    oldest.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
    let mut byte = [0; 1];
    match oldest.read(&mut byte) {
        Ok(0) => {}
        Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the oldest idle connection was not evicted: {other:?}"),
    }
}

#[test]
fn a_client_that_keeps_sending_after_its_answer_is_cut_off() {
    let (address, _) = start(QUICK);
    let mut stream = connect(address);
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("send");
    let started = Instant::now();
    let garbage = [b'x'; 512];
    while stream.write_all(&garbage).is_ok() && started.elapsed() < Duration::from_secs(3) {}
    assert!(started.elapsed() < Duration::from_secs(1), "closed after the linger budget");
}

#[test]
fn the_body_buffer_grows_with_the_bytes_that_arrive_not_with_the_length_claimed() {
    let mut body = Vec::new();
    grow(&mut body, 10, 1 << 20);
    assert_eq!(body.capacity(), READ_CHUNK);
    body.resize(READ_CHUNK, 0);
    grow(&mut body, 1, 1 << 20);
    assert_eq!(body.capacity(), 2 * READ_CHUNK);
    let mut small = Vec::new();
    grow(&mut small, 3, 5);
    assert_eq!(small.capacity(), 5, "never past the length");
}

#[test]
fn errors_are_logged_at_most_once_per_interval_with_how_many_were_not() {
    let said = std::cell::RefCell::new(Vec::new());
    let log = |what: String| said.borrow_mut().push(what);
    let mut complaints = Complaints { log: &log, last: None, unsaid: 0 };
    let now = Instant::now();
    for (after, what) in [(0, "a"), (1, "b"), (59, "c"), (60, "d"), (61, "e")] {
        complaints.say(now + Duration::from_secs(after), what.to_string());
    }
    assert_eq!(*said.borrow(), ["a", "d (2 more errors not logged since the last one)"]);
}

#[test]
fn only_errors_of_the_connection_being_accepted_skip_the_pause() {
    for errno in [libc::ECONNABORTED, libc::EINTR, libc::EPROTO, libc::ENETUNREACH] {
        assert!(transient(&io::Error::from_raw_os_error(errno)), "{errno}");
    }
    for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM, libc::EBADF, libc::EINVAL] {
        assert!(!transient(&io::Error::from_raw_os_error(errno)), "{errno} pauses accepting");
    }
}
