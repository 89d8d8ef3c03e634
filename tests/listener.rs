//! The listener of `anycastd run` against hostile and careless clients, with real sockets, the real binary and the
//! fake vtysh: whatever a client sends, the daemon lives on, withdraws a failing check within an interval, and takes
//! a legitimate push; memory and descriptors stay bounded; a push can only withdraw what it is about.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::anycastd::{Anycastd, Run, Running};
use support::env::Env;
use support::http::{exchange, free_port, get, proc_status, push, push_with, pushed, status, unix_now};
use support::wait::wait_until;

const SECRET: &str = "s3cr3t-token";
const DNS: &str = "default 203.0.113.53/32";
const NTP: &str = "123 203.0.113.123/32";

/// Writes the push secret file (mode 0600) with `content`; its path.
fn secret_file(env: &Env, content: &[u8]) -> String {
    let path = env.dir.join("push-secret");
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, content).expect("write the secret");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    path.display().to_string()
}

/// `anycastd run --interval INTERVAL --listen 127.0.0.1:PORT --push-secret-file FILE EXTRA...`.
fn run_command(env: &Env, interval: &str, port: u16, extra: &[&str]) -> Anycastd {
    let (listen, secret) = (format!("127.0.0.1:{port}"), secret_file(env, SECRET.as_bytes()));
    let mut args = vec!["run", "--interval", interval, "--listen", &listen, "--push-secret-file", &secret];
    args.extend(extra);
    env.anycastd(&args)
}

/// `run` with the listener on a free port and the secret, once the seed's four prefixes are announced.
fn running(env: &Env, interval: &str, extra: &[&str]) -> (Running, u16) {
    let port = free_port();
    let looping = run_command(env, interval, port, extra).spawn();
    wait_until("everything is announced", || env.networks().len() == 4);
    (looping, port)
}

fn has(env: &Env, network: &str) -> bool {
    env.networks().iter().any(|n| n == network)
}

/// Item 1: a `Content-Length` of 1 TiB aborted the process (the drain of an unread body allocated it), one of
/// 2^64 - 1 made the listener thread panic. Both are answered, and the daemon goes on withdrawing.
#[test]
fn a_huge_content_length_is_answered_and_the_daemon_goes_on_withdrawing() {
    let env = Env::new();
    let (mut looping, port) = running(&env, "300ms", &[]);
    wait_until("a pass has been served", || get(port, "/healthz").0 == 200);
    for length in ["1099511627776", "18446744073709551615"] {
        let healthz = exchange(port, format!("GET /healthz HTTP/1.1\r\nContent-Length: {length}\r\n\r\n").as_bytes());
        assert_eq!(healthz.as_deref().ok().and_then(status), Some(200), "GET /healthz, length {length}: {healthz:?}");
        let authorized =
            format!("POST /push HTTP/1.1\r\nAuthorization: Bearer {SECRET}\r\nContent-Length: {length}\r\n\r\n");
        let refused = exchange(port, authorized.as_bytes());
        assert_eq!(refused.as_deref().ok().and_then(status), Some(413), "POST /push, length {length}: {refused:?}");
        let anonymous = exchange(port, format!("POST /push HTTP/1.1\r\nContent-Length: {length}\r\n\r\n").as_bytes());
        assert_eq!(anonymous.as_deref().ok().and_then(status), Some(401), "without the secret: {anonymous:?}");
        assert_eq!(looping.exited(), None, "anycastd is still running after Content-Length {length}");
    }
    env.cabourotte.failing("dns", "down");
    wait_until("the failing dns is withdrawn", || !has(&env, DNS));
    assert_eq!(get(port, "/healthz").0, 200, "and the listener still answers");
    looping.stop("TERM").success();
}

/// Item 2: about 510 idle connections used up the descriptors of the unit's default limit; every vtysh call then
/// failed ("Too many open files") and a failing check stayed announced. Here 300 are held against a limit of 64.
#[test]
fn hundreds_of_idle_connections_neither_starve_vtysh_nor_lock_out_a_push() {
    let env = Env::new();
    let port = free_port();
    let looping = run_command(&env, "1s", port, &[]).open_files(64).spawn();
    wait_until("everything is announced", || env.networks().len() == 4);
    // Connections the listener refuses (as tiny_http did once out of descriptors) are simply not held.
    let idle: Vec<TcpStream> = (0..300).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    env.cabourotte.failing("dns", "down");
    let failed = Instant::now();
    wait_until("the failing dns is withdrawn", || !has(&env, DNS));
    assert!(failed.elapsed() < Duration::from_secs(3), "withdrawn only after {:?}", failed.elapsed());
    assert_eq!(push(port, &pushed("ntp_v4", false, unix_now() + 1), Some(SECRET)), 200, "a push gets through");
    wait_until("the pushed failure withdrew ntp", || !has(&env, NTP));
    drop(idle);
    let Run { code, stderr, .. } = looping.stop("TERM");
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("Too many open files"), "{stderr}");
}

/// Item 3: one client dripping a body without the secret delayed a legitimate pushed failure by 36.7 s.
#[test]
fn clients_dripping_a_body_without_the_secret_do_not_delay_a_pushed_failure() {
    let env = Env::new();
    let (looping, port) = running(&env, "10s", &[]);
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let drippers: Vec<_> = (0..4)
        .map(|_| {
            let stop = Arc::clone(&stop.0);
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    };
                    let _ = stream.write_all(b"POST /push HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
                    while !stop.load(Ordering::SeqCst) && stream.write_all(b"[").is_ok() {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let pushed_at = Instant::now();
    assert_eq!(push(port, &pushed("dns", false, unix_now() + 1), Some(SECRET)), 200);
    wait_until("the pushed failure withdrew dns", || !has(&env, DNS));
    let took = pushed_at.elapsed();
    drop(stop);
    drippers.into_iter().for_each(|dripper| dripper.join().expect("a dripper"));
    assert!(took < Duration::from_millis(1500), "withdrawn {took:?} after the push, the next poll is 10 s away");
    looping.stop("TERM").success();
}

/// Tells the client threads of a test to stop, also when the test fails.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Item 3: a header line without end grew the process to 1 GiB in 7 s. It is cut off after 8 KiB with 431.
#[test]
fn an_endless_header_line_is_cut_off_and_memory_stays_bounded() {
    let env = Env::new();
    let (mut looping, port) = running(&env, "300ms", &[]);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_write_timeout(Some(Duration::from_secs(5))).expect("a write timeout");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("a read timeout");
    let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nX-Endless: ");
    let chunk = [b'a'; 64 * 1024];
    let mut sent = 0usize;
    while sent < 256 << 20 {
        match stream.write(&chunk) {
            Ok(written) => sent += written,
            Err(_) => break,
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(sent < 32 << 20, "the listener took {} MiB of one header line", sent >> 20);
    assert!(answer.is_empty() || status(&answer) == Some(431), "431, or a close: {answer}");
    let peak = proc_status(looping.pid(), "VmHWM");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
    assert_eq!(looping.exited(), None);
    env.cabourotte.failing("dns", "down");
    wait_until("the failing dns is withdrawn", || !has(&env, DNS));
}

/// Item 4: 1 MiB pushes piled up to 2 GiB in the listener's unbounded channel while passes were slow. They are
/// coalesced: one result per check waits, its message cut to 1 KiB.
#[test]
fn large_pushes_while_passes_are_slow_are_coalesced_and_memory_stays_bounded() {
    let env = Env::new();
    let (looping, port) = running(&env, "500ms", &["--resync", "0"]);
    env.slow(Some(3.0));
    let message = "x".repeat((1 << 20) - 1024);
    let started = Instant::now();
    let mut count = 0;
    while started.elapsed() < Duration::from_secs(12) {
        let failure = json!([{"name": "dns", "success": false, "healthcheck-timestamp": unix_now() + 1 + count,
                               "message": message}]);
        assert_eq!(push(port, &failure.to_string(), Some(SECRET)), 200);
        count += 1;
    }
    let peak = proc_status(looping.pid(), "VmHWM");
    println!("peak RSS {peak} KiB after {count} pushes of 1 MiB");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB after {count} pushes of 1 MiB");
    env.slow(None);
    wait_until("the pushed failure withdrew dns", || !has(&env, DNS));
    let Run { code, stderr, .. } = looping.stop("TERM");
    assert_eq!(code, 0);
    let withdrawn = stderr.lines().find(|line| line.contains("withdrawn 203.0.113.53/32")).unwrap_or_default();
    assert!(withdrawn.contains("…") && withdrawn.len() < 2048, "the logged message is cut: {} bytes", withdrawn.len());
}

/// The configuration of the rise scenario: `dns` with `rise = 3`, and the services whose checks get pushed.
const RISE_CONFIG: &str = r#"[services.dns]
prefixes.frrouting = [{ prefix = "203.0.113.53", vtysh = "{vtysh}" }]
checks.cabourotte = [{ name = "dns", url = "{url}" }]
rise = 3
"#;

/// Services whose failures are pushed in turn in the rise scenario: each gets a pass made by a push at most once
/// per interval, so with one push every 150 ms and a 2 s interval, 14 of them make a pass every 150 ms. They fail in
/// Cabourotte too, so those passes change nothing in FRR and take milliseconds.
const PUSHED_SERVICES: u32 = 14;

/// Item 5: pushes about other checks each ran a pass that counted toward every service's rise: a service with
/// `rise = 3` was announced 0.4 s after its first healthy poll. Only polls count.
#[test]
fn pushes_about_other_checks_do_not_advance_a_rising_service() {
    let env = Env::new();
    let mut config = RISE_CONFIG.to_string();
    for n in 1..=PUSHED_SERVICES {
        config += &format!(
            "\n[services.svc{n}]\nprefixes.frrouting = [{{ prefix = \"192.0.2.{n}\", vtysh = \"{{vtysh}}\" }}]\n\
             checks.cabourotte = [{{ name = \"svc{n}\", url = \"{{url}}\" }}]\n"
        );
        env.cabourotte.failing(&format!("svc{n}"), "down");
    }
    env.config(&config);
    env.cabourotte.failing("dns", "down");
    let port = free_port();
    let looping = run_command(&env, "2s", port, &[]).spawn();
    wait_until("two polls", || env.cabourotte.request_count() >= 2);
    assert!(env.networks().is_empty());

    // The fake logs a request as it arrives and reads its results after: healed at once, the poll just seen would
    // answer healthy without being counted as a healthy poll (the announcement at the third healthy poll then looked
    // like the second's, one run in three). Its answer is long sent 300 ms later; the next poll is 2 s away.
    std::thread::sleep(Duration::from_millis(300));
    let polls = env.cabourotte.request_count();
    env.cabourotte.healthy("dns");
    let (mut first_healthy_poll, mut announced) = (None, None);
    for k in 0..60 {
        let name = format!("svc{}", k % PUSHED_SERVICES + 1);
        assert_eq!(push(port, &pushed(&name, false, unix_now() + 100 + i64::from(k)), Some(SECRET)), 200);
        std::thread::sleep(Duration::from_millis(150));
        if first_healthy_poll.is_none() && env.cabourotte.request_count() > polls {
            first_healthy_poll = Some(Instant::now());
        }
        if has(&env, DNS) {
            announced = Some((Instant::now(), env.cabourotte.request_count() - polls));
            break;
        }
    }
    wait_until("dns is announced after three healthy polls", || has(&env, DNS));
    let first = first_healthy_poll.expect("a poll after the heal");
    let (at, healthy_polls) = announced.unwrap_or_else(|| (Instant::now(), env.cabourotte.request_count() - polls));
    let after = at.duration_since(first);
    // Counted, not timed: on a loaded machine a late poll is followed by the next one sooner, and the moment the test
    // sees the first healthy poll is late by up to a push and a sleep.
    println!("announced {after:?} after its first healthy poll, at healthy poll {healthy_polls}");
    assert!(
        healthy_polls >= 3,
        "announced at healthy poll {healthy_polls} ({after:?} after the first), before its third"
    );
    looping.stop("TERM").success();
}

/// Item 5: a push on loopback needed no secret, so any local user could withdraw every service. The secret is now
/// required on every address; `--allow-unauthenticated-loopback` is the explicit exception.
#[test]
fn the_secret_is_required_on_loopback_unless_explicitly_waived() {
    let env = Env::new();
    let listen = format!("127.0.0.1:{}", free_port());
    let refused = env.anycastd(["run", "--listen", &listen]).spawn().exit_within(Duration::from_secs(10));
    let Run { code, stderr, .. } = refused.expect("run without a secret must refuse to start, not run");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("--listen {listen} needs --push-secret-file PATH")), "{stderr}");
    assert!(env.networks().is_empty(), "nothing announced");

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let looping =
        env.anycastd(["run", "--interval", "10s", "--listen", &listen, "--allow-unauthenticated-loopback"]).spawn();
    wait_until("everything is announced", || env.networks().len() == 4);
    assert_eq!(push(port, &pushed("dns", false, unix_now() + 1), None), 200, "waived on loopback");
    wait_until("the unauthenticated push withdrew dns", || !has(&env, DNS));
    looping.stop("TERM").success();

    let everywhere = format!("0.0.0.0:{}", free_port());
    let mut refused = env.anycastd(["run", "--listen", &everywhere, "--allow-unauthenticated-loopback"]).spawn();
    let Run { code, stderr, .. } = refused.exit_within(Duration::from_secs(10)).expect("refused at once");
    assert_eq!(code, 1);
    assert!(stderr.contains("is not a loopback address"), "{stderr}");
}

/// Item 6: `bearer` in lower case was refused (RFC 7235 makes the scheme case-insensitive); a wrong or missing
/// secret changes nothing, on loopback too.
#[test]
fn the_bearer_scheme_is_case_insensitive_and_a_wrong_secret_changes_nothing() {
    let env = Env::new();
    let (looping, port) = running(&env, "10s", &[]);
    let failure = pushed("dns", false, unix_now() + 1);
    assert_eq!(push(port, &failure, None), 401);
    assert_eq!(push(port, &failure, Some("wrong")), 401);
    assert_eq!(push_with(port, &failure, Some(&format!("Basic {SECRET}"))), 401);
    std::thread::sleep(Duration::from_millis(500));
    assert!(has(&env, DNS), "nothing refused may change FRR");
    assert_eq!(push_with(port, &failure, Some(&format!("bearer {SECRET}"))), 200);
    wait_until("the pushed failure withdrew dns", || !has(&env, DNS));
    looping.stop("TERM").success();
}

/// Item 6: a secret file over the limit was silently cut to its first 4096 bytes.
#[test]
fn a_secret_file_over_4096_bytes_refuses_the_start() {
    let env = Env::new();
    let secret = secret_file(&env, &[b'a'; 5000]);
    let listen = format!("127.0.0.1:{}", free_port());
    let mut started = env.anycastd(["run", "--listen", &listen, "--push-secret-file", &secret]).spawn();
    let Run { code, stderr, .. } = started.exit_within(Duration::from_secs(10)).expect("refused at once, not running");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("the push secret {secret} is larger than 4096 bytes, the most anycastd reads of it")),
        "{stderr}"
    );
    assert!(env.networks().is_empty(), "nothing announced");
}

/// Item 7: the secret file was opened blocking: a FIFO there hung the start for ever.
#[test]
fn a_fifo_as_the_secret_file_refuses_the_start_at_once() {
    let env = Env::new();
    let fifo = make_fifo(&env.dir.join("push-secret-fifo"));
    let listen = format!("127.0.0.1:{}", free_port());
    let mut started = env.anycastd(["run", "--listen", &listen, "--push-secret-file", &fifo]).spawn();
    let Run { code, stderr, .. } =
        started.exit_within(Duration::from_secs(10)).expect("refused at once, not hung on the FIFO");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("cannot read the push secret {fifo}: it is not a regular file")), "{stderr}");
}

fn make_fifo(path: &std::path::Path) -> String {
    let _ = std::fs::remove_file(path);
    let status = Command::new("mkfifo").arg("-m").arg("600").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo");
    path.display().to_string()
}

/// Item 6: SIGHUP re-reads the secret; a bad new file (empty, or a FIFO) is logged and the secret in force stays,
/// and the loop goes on.
#[test]
fn sighup_rereads_the_secret_and_keeps_it_when_the_new_file_is_bad() {
    let env = Env::new();
    let (looping, port) = running(&env, "300ms", &[]);
    let success = pushed("dns", true, unix_now() + 1);
    let path = PathBuf::from(secret_file(&env, b"n3w-s3cr3t\n"));
    looping.signal("HUP");
    wait_until("the new secret is in force", || push(port, &success, Some("n3w-s3cr3t")) == 200);
    assert_eq!(push(port, &success, Some(SECRET)), 401, "the old secret no longer works");

    std::fs::write(&path, "").expect("empty the secret file");
    looping.signal("HUP");
    let kept = "; the push secret in force stays";
    wait_until("the empty secret file is refused", || looping.stderr().matches(kept).count() == 1);
    assert_eq!(push(port, &success, Some("n3w-s3cr3t")), 200);

    make_fifo(&path);
    looping.signal("HUP");
    wait_until("the FIFO is refused", || looping.stderr().matches(kept).count() == 2);
    assert_eq!(push(port, &success, Some("n3w-s3cr3t")), 200);
    env.cabourotte.failing("dns", "down");
    wait_until("the loop goes on: dns is withdrawn", || !has(&env, DNS));
    let Run { code, stderr, .. } = looping.stop("TERM");
    assert_eq!(code, 0);
    assert!(stderr.contains(&format!("cannot read the push secret {}: it is not a regular file", path.display())));
    assert!(stderr.contains(&format!("the push secret {} is empty{kept}", path.display())), "{stderr}");
}

/// Item 6: `HEAD` was 404; a pipelined second request is never read, and the first gets its answer and a clean close.
#[test]
fn head_and_pipelined_requests_are_answered_cleanly() {
    let env = Env::new();
    let (looping, port) = running(&env, "300ms", &[]);
    wait_until("a pass has been served", || get(port, "/healthz").0 == 200);
    let head = exchange(port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n").expect("a clean close, not a reset");
    assert_eq!(status(&head), Some(200), "{head}");
    assert!(head.contains("\r\nContent-Length: 3\r\nConnection: close\r\n") && head.ends_with("\r\n\r\n"), "{head}");

    let pair = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    let answered = exchange(port, pair).expect("a clean close, not a reset");
    assert_eq!(answered.matches("HTTP/1.1 ").count(), 1, "one answer: {answered}");
    assert!(answered.ends_with("\r\n\r\nok\n"), "{answered}");

    let failure = pushed("dns", false, unix_now() + 1);
    let smuggled = format!(
        "POST /push HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]POST /push HTTP/1.1\r\nAuthorization: Bearer {SECRET}\r\n\
         Content-Length: {}\r\n\r\n{failure}",
        failure.len()
    );
    let refused = exchange(port, smuggled.as_bytes()).expect("a clean close");
    assert_eq!((status(&refused), refused.matches("HTTP/1.1 ").count()), (Some(401), 1), "{refused}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(has(&env, DNS), "the request behind the refused one was never read");
    looping.stop("TERM").success();
}

/// Item 13: a reload dropped the last poll's answers, and a pushed failure then waited for the next poll.
#[test]
fn a_pushed_failure_withdraws_at_once_after_a_reload_too() {
    let env = Env::new();
    let (looping, port) = running(&env, "10s", &[]);
    let polls = env.cabourotte.request_count();
    wait_until("a poll, so that the next one is 10 s away", || env.cabourotte.request_count() > polls);
    looping.signal("HUP");
    wait_until("the configuration is read again", || looping.stderr().contains("reloaded"));
    let pushed_at = Instant::now();
    assert_eq!(push(port, &pushed("dns", false, unix_now() + 1), Some(SECRET)), 200);
    wait_until("the pushed failure withdrew dns", || !has(&env, DNS));
    let took = pushed_at.elapsed();
    assert!(took < Duration::from_millis(1500), "withdrawn {took:?} after the push, as if by the next poll");
    looping.stop("TERM").success();
}
