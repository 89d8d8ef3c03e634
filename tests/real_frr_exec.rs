//! Command checks (`checks.exec`, issue 28) against a real FRRouting and a real BGP peer (GoBGP), on every FRR release
//! the lab supports: a passing command announces the service's prefixes at the peer, a failing one withdraws them
//! there, and a command that hangs past its timeout withdraws them too (the default `on_checker_error`) without
//! holding up the pass.

use crate::support;

use std::time::{Duration, Instant};

use support::lab::{DNS_V4, DNS_V6, Frr, Lab, UNMANAGED};

/// Writes the check script the service runs (as `/bin/sh SCRIPT`, so that rewriting it never makes it busy).
fn check_script(lab: &Lab, body: &str) -> String {
    let path = lab.dir().join("check_dns.sh");
    std::fs::write(&path, format!("{body}\n")).expect("write the check script");
    path.display().to_string()
}

fn exec_check_announces_and_withdraws_at_the_peer(frr: Frr) {
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
    let script = check_script(&lab, "echo 'DNS OK'; exit 0");
    let k = lab.vtysh_keys();
    lab.write_config(&format!(
        r#"[services.dns]
prefixes.frrouting = [
    {{ prefix = "203.0.113.53", {k} }},
    {{ prefix = "2001:db8::b19:bad:53", {k} }},
]
checks.exec = [{{ name = "dns-local", command = ["/bin/sh", "{script}"], timeout = "1s" }}]
"#
    ));

    let applied = lab.anycastd(["apply"]).run().success();
    assert!(applied.stdout.contains("  ✓ check dns-local: success\n"), "{applied}");
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    check_script(&lab, "echo 'DNS CRITICAL - no answer'; exit 2");
    let applied = lab.anycastd(["apply"]).run().success();
    assert!(applied.stdout.contains("  ✗ check dns-local: exit status 2: DNS CRITICAL - no answer\n"), "{applied}");
    lab.wait_peer_routes(&[UNMANAGED]);

    check_script(&lab, "exit 0");
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    check_script(&lab, "trap '' TERM; sleep 30");
    let started = Instant::now();
    let applied = lab.anycastd(["apply"]).run();
    assert!(started.elapsed() < Duration::from_secs(10), "the pass waited for the hung check: {:?}", started.elapsed());
    assert!(applied.stdout.contains("checker error: no result within its timeout of 1 s"), "{applied}");
    lab.wait_peer_routes(&[UNMANAGED]);
}

on_every_frr!(exec_check_announces_and_withdraws_at_the_peer);
