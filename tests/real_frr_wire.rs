//! "Announced" is what a peer receives (issue 24): against a real FRRouting and real GoBGP peers, on every FRR
//! release the lab supports, anycastd reports which neighbors FRR sends each prefix to, and says why none does: an
//! eBGP neighbor held back by `bgp ebgp-requires-policy`, a neighbor not activated for the family, a session that is
//! down. Each test asserts the peer's RIB, the text and JSON of `plan`, `check --frr`'s findings and exit code, and
//! the metric of a pass that changed something.

use crate::support;

use support::cabourotte::FakeCabourotte;
use support::lab::{DNS_V4, DNS_V6, Frr, Lab, UNMANAGED};

/// FRR's second neighbor: the same GoBGP, over the IPv6 transport (the lab's gobgpd waits for it passively).
const SECOND_PEER: &str = "2001:db8:ff::2";

/// A lab whose `dns` prefixes are announced and at the peer.
fn announced(frr: Frr, cabourotte: &FakeCabourotte) -> Lab {
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab
}

/// Configuration commands for the default BGP instance.
fn configure(lab: &Lab, lines: &[&str]) {
    let mut commands = vec!["configure terminal", "router bgp 65536"];
    commands.extend_from_slice(lines);
    commands.push("end");
    lab.vtysh(&commands);
}

/// The `not_advertised` codes of `prefix` in a JSON report, and its `advertised_to`.
fn reach(run: &support::anycastd::Run, prefix: &str) -> (Vec<String>, serde_json::Value) {
    let entry = run.prefix(prefix);
    let codes = entry["not_advertised"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|held| format!("{} {}", held["neighbor"].as_str().unwrap_or("?"), held["code"].as_str().unwrap_or("?")))
        .collect();
    (codes, entry["advertised_to"].clone())
}

/// The value of a metric line `name{labels}` in the metrics file, if any.
fn metric(text: &str, name: &str, prefix: &str) -> Option<String> {
    let start = format!("{name}{{service=\"dns\",prefix=\"{prefix}\",vrf=\"default\",daemon=\"frr\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&start)).map(str::to_string)
}

/// Debian's `frr defaults traditional` turns `bgp ebgp-requires-policy` on: FRR keeps the networks but the eBGP
/// neighbor without an outbound route-map gets nothing. anycastd says so per prefix, and `check --frr` fails.
fn a_neighbor_held_back_by_policy_is_named(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = announced(frr, &cabourotte);
    let planned = lab.anycastd(["plan"]).json().run().success();
    assert_eq!(reach(&planned, DNS_V4), (vec![], serde_json::json!(["192.0.2.2"])), "{planned}");

    configure(&lab, &["bgp ebgp-requires-policy"]);
    lab.vtysh(&["clear bgp * soft"]);
    lab.wait_peer_lacks(&[DNS_V4, DNS_V6]);
    assert!(lab.networks(None).contains(DNS_V4), "FRR keeps the network");

    let planned = lab.anycastd(["plan"]).json().run().success();
    for prefix in [DNS_V4, DNS_V6] {
        assert_eq!(reach(&planned, prefix), (vec!["192.0.2.2 needs-policy".to_string()], serde_json::json!([])));
        assert_eq!(planned.prefix(prefix)["advertisement"], "not-advertised");
    }
    let text = lab.anycastd(["plan"]).run().success();
    text.stdout_has(&format!(
        "    {DNS_V4:<28} announced  AS 65536, default VRF\n      not advertised to any peer: neighbor 192.0.2.2 \
         needs an outbound policy (eBGP requires one): give it a route-map out\n"
    ));

    let checked = lab.anycastd(["check", "--frr"]).json().run().code(1);
    let codes: Vec<String> = checked.json()["frr"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|finding| finding["level"] != "ok")
        .map(|finding| {
            format!("{} {}", finding["code"].as_str().unwrap_or("?"), finding["subject"].as_str().unwrap_or("?"))
        })
        .collect();
    assert!(codes.contains(&"neighbor-needs-policy ipv4 unicast in the default VRF".to_string()), "{codes:?}");
    assert!(codes.contains(&"no-peer-receives BGP neighbors".to_string()), "an error: nobody receives\n{checked}");
    let text = lab.anycastd(["check", "--frr"]).run().code(1);
    text.stdout_has(
        "⚠ ipv6 unicast in the default VRF: neighbor 192.0.2.2 needs an outbound policy (eBGP requires one)",
    );

    configure(&lab, &["no bgp ebgp-requires-policy"]);
    lab.vtysh(&["clear bgp * soft"]);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.anycastd(["check", "--frr"]).run().success();
}

/// A neighbor not activated for IPv6 receives the IPv4 prefixes only: the IPv6 ones say why, `check --frr` warns.
fn a_family_not_activated_is_named(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = announced(frr, &cabourotte);
    configure(&lab, &["address-family ipv6 unicast", "no neighbor 192.0.2.2 activate", "exit-address-family"]);
    lab.wait_peer_lacks(&[DNS_V6]);
    // Deactivating a family resets the session.
    lab.wait_peer_has(&[DNS_V4]);

    let planned = lab.anycastd(["plan"]).json().run().success();
    assert_eq!(reach(&planned, DNS_V4), (vec![], serde_json::json!(["192.0.2.2"])));
    assert_eq!(reach(&planned, DNS_V6), (vec!["192.0.2.2 not-activated".to_string()], serde_json::json!([])));
    let text = lab.anycastd(["plan"]).run().success();
    text.stdout_has(&format!("    {DNS_V4:<28} announced  AS 65536, default VRF, advertised to 1 peer\n"));
    text.stdout_has(
        "      not advertised to any peer: neighbor 192.0.2.2 is not activated for ipv6 unicast: `neighbor 192.0.2.2 \
         activate` under `address-family ipv6 unicast`\n",
    );
    let checked = lab.anycastd(["check", "--frr"]).run().success();
    checked.stdout_has("⚠ ipv6 unicast in the default VRF: neighbor 192.0.2.2 is not activated for ipv6 unicast");
    checked.stdout_has("✓ ipv4 unicast in the default VRF: received by 192.0.2.2");
}

/// Two neighbors receive the prefixes: `apply` that announces them reports both, once FRR has sent its updates
/// (it waits for them, bounded), and the metric says 2 with the time it was read; a pass that reads nothing keeps it.
fn a_prefix_advertised_to_two_peers_says_both(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    configure(
        &lab,
        &[
            &format!("neighbor {SECOND_PEER} remote-as 65100"),
            &format!("neighbor {SECOND_PEER} port 11179"),
            &format!("neighbor {SECOND_PEER} timers connect 1"),
            "address-family ipv6 unicast",
            &format!("neighbor {SECOND_PEER} activate"),
            "exit-address-family",
        ],
    );
    lab.wait_until("FRR's session with its second neighbor", || {
        lab.vtysh(&["show bgp neighbors json"]).matches("\"bgpState\":\"Established\"").count() >= 2
    });
    let metrics = lab.dir().join("metrics.prom");
    let metrics_arg = metrics.display().to_string();
    let applied = lab.anycastd(["apply", "--metrics-file", &metrics_arg]).json().run().success();
    assert_eq!(applied.prefix(DNS_V6)["advertisement"], "advertised", "{applied}");
    assert_eq!(reach(&applied, DNS_V6), (vec![], serde_json::json!(["192.0.2.2", SECOND_PEER])), "{applied}");
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    let text = std::fs::read_to_string(&metrics).expect("the metrics file");
    let peers = |text: &str| metric(text, "anycastd_prefix_advertised_peers", DNS_V6);
    assert_eq!(peers(&text).as_deref(), Some("2"), "{text}");
    let read_at = metric(&text, "anycastd_prefix_advertised_read_timestamp_seconds", DNS_V6).expect("read time");

    std::thread::sleep(std::time::Duration::from_millis(1100));
    lab.anycastd(["apply", "--metrics-file", &metrics_arg]).run().success();
    let text = std::fs::read_to_string(&metrics).expect("the metrics file");
    assert_eq!(peers(&text).as_deref(), Some("2"), "kept\n{text}");
    assert_eq!(metric(&text, "anycastd_prefix_advertised_read_timestamp_seconds", DNS_V6), Some(read_at));
    let plan = lab.anycastd(["plan"]).run().success();
    plan.stdout_has(&format!("    {DNS_V6:<28} announced  AS 65536, default VRF, advertised to 2 peers\n"));
}

/// A session that is down: nothing reaches a peer, `plan` says which session, and `check --frr` warns (a session
/// comes up on its own; the configuration lets the neighbor receive the prefixes).
fn a_session_down_is_named(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = announced(frr, &cabourotte);
    configure(&lab, &["neighbor 192.0.2.2 shutdown"]);
    lab.wait_peer_lacks(&[DNS_V4, DNS_V6]);
    let planned = lab.anycastd(["plan"]).json().run().success();
    assert_eq!(reach(&planned, DNS_V4), (vec!["192.0.2.2 session-down".to_string()], serde_json::json!([])));
    let text = lab.anycastd(["plan"]).run().success();
    text.stdout_has("      not advertised to any peer: the session with neighbor 192.0.2.2 is not established (");
    let checked = lab.anycastd(["check", "--frr"]).run().success();
    checked.stdout_has("⚠ ipv4 unicast in the default VRF: the session with neighbor 192.0.2.2 is not established (");
    configure(&lab, &["no neighbor 192.0.2.2 shutdown"]);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    // The router ID set to the anycast address, as FRR picks it without `bgp router-id` on Debian: a warning.
    configure(&lab, &["bgp router-id 203.0.113.53"]);
    // A new router ID resets the session: whether it is up again yet does not matter here.
    let checked = lab.anycastd(["check", "--frr"]).run();
    checked.stdout_has(
        "⚠ AS 65536, default VRF: the router ID is set to 203.0.113.53, a managed (anycast) address: every node of \
         the anycast group would share it; set `bgp router-id` to an address of this node alone\n",
    );
}

/// `run` does not wait for FRR's updates after a change (a wait would delay its next withdrawal): its next pass reads
/// what FRR sends again, and the metrics say the peer has the prefix; the report of the announcing pass says so too,
/// or that it was pending.
fn run_confirms_the_advertisement_at_its_next_pass(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let metrics = lab.dir().join("metrics.prom");
    let metrics_arg = metrics.display().to_string();
    let running = lab.anycastd(["run", "--interval", "300ms", "--metrics-file", &metrics_arg]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.wait_until("the metrics say the peer has dns's IPv4 prefix", || {
        let text = std::fs::read_to_string(&metrics).unwrap_or_default();
        metric(&text, "anycastd_prefix_advertised_peers", DNS_V4).as_deref() == Some("1")
    });
    let stopped = running.terminate(std::time::Duration::from_secs(15)).success();
    let said = &stopped.stdout;
    assert!(
        said.contains(&format!("{DNS_V4:<28} announced  AS 65536, default VRF, advertised to 1 peer"))
            || said.contains(&format!("{DNS_V4:<28} announced  AS 65536, default VRF, advertisement pending")),
        "{stopped}"
    );
}

on_every_frr!(
    run_confirms_the_advertisement_at_its_next_pass,
    a_neighbor_held_back_by_policy_is_named,
    a_family_not_activated_is_named,
    a_prefix_advertised_to_two_peers_says_both,
    a_session_down_is_named,
);
