//! `anycastd run` as a daemon against a real FRRouting and a real BGP peer, on every FRR release the lab supports:
//! pushes from Cabourotte's exporter, the bgpd watch, the resync, reload, metrics, the cost of an idle loop, and a
//! listener that hostile clients cannot use to keep a failing check announced.

use crate::support;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use support::cabourotte::FakeCabourotte;
use support::http::{exchange, free_port, get, push, result, status, unix_now};
use support::lab::{DNS_V4, DNS_V6, Frr, Lab, NTP_V4, NTP_V6, UNMANAGED, VRF};

/// The pushes' shared secret in the lab's directory (mode 0600); its path.
fn secret_file(lab: &Lab, secret: &str) -> String {
    let path = lab.state_dir().join("../push-secret");
    std::fs::write(&path, format!("{secret}\n")).expect("write the secret");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    path.display().to_string()
}

fn has_dns(lab: &Lab) -> bool {
    let networks = lab.networks(None);
    networks.contains(DNS_V4) && networks.contains(DNS_V6)
}

/// A pushed failure withdraws at once, not at the next poll (12 s away: far enough that a loaded CI machine cannot
/// pass for it); a pushed success announces nothing until a poll confirms it.
fn a_pushed_failure_withdraws_at_once_and_a_pushed_success_waits_for_the_poll(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let secret = secret_file(&lab, "s3cr3t-token");
    let running =
        lab.anycastd(["run", "--interval", "12s", "--listen", &listen, "--push-secret-file", &secret]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    let now = unix_now();
    let pushed = Instant::now();
    assert_eq!(push(port, &json!([result("dns", false, now + 1)]).to_string(), Some("s3cr3t-token")), 200);
    lab.wait_until("the pushed failure withdrew dns", || !lab.networks(None).contains(DNS_V4));
    assert!(pushed.elapsed() < Duration::from_secs(6), "withdrawn only after {:?}, as a poll would", pushed.elapsed());
    lab.wait_peer_routes(&[UNMANAGED]);

    assert_eq!(push(port, &json!([result("dns", true, now + 2)]).to_string(), Some("s3cr3t-token")), 200);
    std::thread::sleep(Duration::from_secs(1));
    assert!(!has_dns(&lab), "a pushed success must not announce before a poll confirms it");
    cabourotte.set_raw_result(result("dns", true, now + 3));
    lab.wait_until("the poll confirmed dns healthy", || has_dns(&lab));
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    running.terminate(Duration::from_secs(15)).success();
}

/// bgpd comes back from a restart without anycastd's networks: the bgpd watch notices without a resync (an hour
/// away) and they are back within an interval or two.
fn a_bgpd_restart_is_converged_within_an_interval(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let mut lab = Lab::seed(frr, &cabourotte.url());
    let running = lab.anycastd(["run", "--interval", "1", "--resync", "1h"]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.restart_frr();
    let back = Instant::now();
    lab.wait_until("the networks are back after the restart", || has_dns(&lab));
    assert!(back.elapsed() < Duration::from_secs(3), "back only after {:?}", back.elapsed());
    lab.wait_until("VRF 123 has the ntp prefixes again", || lab.networks(Some(VRF)).contains(NTP_V4));
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    running.terminate(Duration::from_secs(15)).success();
}

/// A network removed by hand is put back by the resync (every 3 s here), which nothing else would notice.
fn a_hand_edit_is_converged_at_the_resync(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let running = lab.anycastd(["run", "--interval", "500ms", "--resync", "3s"]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.remove_network(None, DNS_V4);
    let removed = Instant::now();
    lab.wait_until("the resync put the network back", || lab.networks(None).contains(DNS_V4));
    assert!(removed.elapsed() < Duration::from_secs(5), "back only after {:?}", removed.elapsed());
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    running.terminate(Duration::from_secs(15)).success();
}

/// An idle loop asks Cabourotte every interval but FRR only at the resync.
fn an_idle_run_makes_no_vtysh_call_between_resyncs(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let running = lab.anycastd(["run", "--interval", "200ms", "--resync", "1h"]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.wait_until("VRF 123 has the ntp prefixes", || lab.networks(Some(VRF)).contains(NTP_V6));
    // The pass after one that announced reads what FRR sends its neighbors once more, if an update was pending.
    std::thread::sleep(Duration::from_millis(600));
    let (calls, requests) = (lab.vtysh_calls().len(), cabourotte.request_count());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(lab.vtysh_calls().len(), calls, "no vtysh call while nothing changes: {:?}", lab.vtysh_calls());
    assert!(cabourotte.request_count() >= requests + 5, "Cabourotte is still asked every interval");
    running.terminate(Duration::from_secs(15)).success();
}

/// SIGHUP with a valid file: the prefixes it dropped are withdrawn, the rest stays. With a broken file: the error is
/// logged and counted, and the configuration in force stays.
fn sighup_applies_a_valid_configuration_and_keeps_the_old_one_when_broken(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let running = lab.anycastd(["run", "--interval", "500ms", "--metrics-listen", &listen]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.wait_until("VRF 123 has the ntp prefixes", || lab.networks(Some(VRF)).contains(NTP_V6));

    let seed = lab.seed_config(&cabourotte.url());
    let without_ntp = seed.split("[services.ntp]").next().expect("the dns part").to_string();
    lab.write_config(&without_ntp);
    running.signal("HUP");
    lab.wait_until("ntp's prefixes are withdrawn", || lab.networks(Some(VRF)).is_empty());
    assert!(has_dns(&lab), "dns stays announced");

    lab.write_config("[services.dns]\nprefixes.frrouting = [\"192.0.2.300\"]\n");
    running.signal("HUP");
    lab.wait_until("the broken reload is counted", || {
        get(port, "/metrics").1.contains("anycastd_errors_total{kind=\"config_invalid\"} 1\n")
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(has_dns(&lab), "the configuration in force stays");
    assert!(!lab.networks(Some(VRF)).contains(NTP_V4), "and ntp is not back");
    let stopped = running.terminate(Duration::from_secs(15)).success();
    assert!(
        stopped
            .stderr
            .contains("anycastd run: reloaded: the configuration is read again; 2 prefixes it no longer has withdrawn"),
        "{stopped}"
    );
    stopped.stderr_has("anycastd run: reload-failed: ");
    assert!(stopped.stderr.contains("192.0.2.300"), "the error names the bad value\n{stopped}");
    assert!(lab.networks(None).iter().all(|n| n == UNMANAGED), "withdrawn on SIGTERM");
}

/// `/metrics` is Prometheus text with the textfile's names; `/healthz` answers ok while passes succeed.
fn metrics_and_healthz_answer(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let running = lab.anycastd(["run", "--interval", "500ms", "--metrics-listen", &listen]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.wait_until("a pass has been served", || get(port, "/healthz") == (200, "ok\n".to_string()));
    let (status, text) = get(port, "/metrics");
    assert_eq!(status, 200);
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not `name value`: {line}"));
        assert!(value.parse::<f64>().is_ok() && name.starts_with("anycastd_"), "{line}");
    }
    assert!(
        text.contains(&format!(
            "anycastd_prefix_announced{{service=\"dns\",prefix=\"{DNS_V4}\",vrf=\"default\",daemon=\"frr\"}} 1\n"
        )),
        "{text}"
    );
    assert_eq!(get(port, "/push").0, 404, "no pushes on the metrics listener");
    running.terminate(Duration::from_secs(15)).success();
}

/// The listener refuses a push without the secret, with a wrong one, and one larger than 1 MiB; FRR is untouched.
fn the_listener_refuses_a_wrong_secret_and_an_oversized_body(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let secret = secret_file(&lab, "s3cr3t-token");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let running = lab.anycastd(["run", "--interval", "5s", "--listen", &listen, "--push-secret-file", &secret]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    let failure = json!([result("dns", false, unix_now() + 1)]).to_string();
    assert_eq!(push(port, &failure, None), 401);
    assert_eq!(push(port, &failure, Some("wrong")), 401);
    let oversized = format!("[{}]", " ".repeat(2 << 20));
    assert_eq!(push(port, &oversized, Some("s3cr3t-token")), 413);
    assert_eq!(push(port, "not json", Some("s3cr3t-token")), 400);
    std::thread::sleep(Duration::from_millis(500));
    assert!(has_dns(&lab), "nothing refused may change FRR");
    assert_eq!(push(port, &failure, Some("s3cr3t-token")), 200);
    lab.wait_until("the authenticated failure withdrew dns", || !lab.networks(None).contains(DNS_V4));
    running.terminate(Duration::from_secs(15)).success();
}

/// Issue 21, item 2: idle connections used up the descriptors, every vtysh call failed with "Too many open files",
/// and a failing check stayed announced at the peer. 400 are held here against a limit of 128 descriptors (the
/// unit's is 1024): dns still leaves the peer within an interval, and a push still gets through.
fn idle_connections_do_not_keep_a_failing_check_announced(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let secret = secret_file(&lab, "s3cr3t-token");
    let running = lab
        .anycastd(["run", "--interval", "1s", "--listen", &listen, "--push-secret-file", &secret])
        .open_files(128)
        .spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.wait_until("VRF 123 has the ntp prefixes", || lab.networks(Some(VRF)).contains(NTP_V4));
    // Connections the listener refuses (as tiny_http did once out of descriptors) are simply not held.
    let idle: Vec<TcpStream> = (0..400).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    cabourotte.failing("dns", "down");
    let failed = Instant::now();
    lab.wait_until("dns is withdrawn", || !lab.networks(None).contains(DNS_V4));
    assert!(failed.elapsed() < Duration::from_secs(3), "withdrawn from FRR only after {:?}", failed.elapsed());
    lab.wait_peer_routes(&[UNMANAGED]);
    assert_eq!(push(port, &json!([result("ntp_v4", false, unix_now() + 1)]).to_string(), Some("s3cr3t-token")), 200);
    lab.wait_until("the pushed failure withdrew ntp", || !lab.networks(Some(VRF)).contains(NTP_V4));
    drop(idle);
    let stopped = running.terminate(Duration::from_secs(15)).success();
    stopped.stderr_lacks("Too many open files");
}

/// Issue 21, item 1: `Content-Length: 1099511627776` aborted the process with every prefix announced;
/// `18446744073709551615` killed the listener. Both are answered, and a later failure still leaves the peer.
fn a_huge_content_length_does_not_stop_the_daemon(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let secret = secret_file(&lab, "s3cr3t-token");
    let mut running =
        lab.anycastd(["run", "--interval", "500ms", "--listen", &listen, "--push-secret-file", &secret]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    for length in ["1099511627776", "18446744073709551615"] {
        let healthz = exchange(port, format!("GET /healthz HTTP/1.1\r\nContent-Length: {length}\r\n\r\n").as_bytes());
        assert!(healthz.as_deref().ok().and_then(status).is_some(), "GET /healthz, length {length}: {healthz:?}");
        let push =
            format!("POST /push HTTP/1.1\r\nAuthorization: Bearer s3cr3t-token\r\nContent-Length: {length}\r\n\r\n");
        let refused = exchange(port, push.as_bytes());
        assert_eq!(refused.as_deref().ok().and_then(status), Some(413), "POST /push, length {length}: {refused:?}");
        assert!(running.is_running(), "anycastd stopped after Content-Length {length}");
    }
    cabourotte.failing("dns", "down");
    lab.wait_until("dns is withdrawn", || !lab.networks(None).contains(DNS_V4));
    lab.wait_peer_routes(&[UNMANAGED]);
    running.terminate(Duration::from_secs(15)).success();
}

on_every_frr!(
    a_pushed_failure_withdraws_at_once_and_a_pushed_success_waits_for_the_poll,
    a_bgpd_restart_is_converged_within_an_interval,
    a_hand_edit_is_converged_at_the_resync,
    an_idle_run_makes_no_vtysh_call_between_resyncs,
    sighup_applies_a_valid_configuration_and_keeps_the_old_one_when_broken,
    metrics_and_healthz_answer,
    the_listener_refuses_a_wrong_secret_and_an_oversized_body,
    idle_connections_do_not_keep_a_failing_check_announced,
    a_huge_content_length_does_not_stop_the_daemon,
);
