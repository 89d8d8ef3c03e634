//! anycastd against a real FRRouting and a real BGP peer (GoBGP), each in its own network namespace.
//!
//! Every test runs on every FRR release the lab supports (7.5.1, 8.4.4, 10.3: `name::frr_7_5`, ...), each in its own
//! lab (see `support/lab.rs` and `scripts/lab`): FRR with a default-VRF instance `router bgp 65536` that peers with
//! GoBGP, and an instance `router bgp 65537 vrf 123` without peers (kernel VRF devices are unavailable here, so VRF
//! prefixes are checked in FRR's running config only). Tests assert what FRR is configured with and what the peer
//! received, not anycastd's wording. They need root and fail loudly without it.

use crate::support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::anycastd::Summary;
use support::cabourotte::FakeCabourotte;
use support::lab::{DNS_V4, DNS_V6, Frr, Lab, NTP_V4, NTP_V6, UNMANAGED, VRF};
use support::running_config::networks_in;

/// The harness itself: the session comes up, a network added by hand reaches the peer, removed it leaves.
fn lab_smoke(frr: Frr) {
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
    assert!(lab.session_established());
    lab.wait_peer_routes(&[UNMANAGED]);
    lab.add_network(None, DNS_V4);
    lab.add_network(None, DNS_V6);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.remove_network(None, DNS_V4);
    lab.remove_network(None, DNS_V6);
    lab.wait_peer_routes(&[UNMANAGED]);
    lab.add_network(Some(VRF), NTP_V4);
    lab.add_network(Some(VRF), NTP_V6);
    assert_eq!(lab.networks(Some(VRF)), [NTP_V4, NTP_V6].map(String::from).into());
    assert_eq!(lab.networks(None), [UNMANAGED].map(String::from).into());
    assert_eq!(lab.bgp_instances(), ["router bgp 65536", "router bgp 65537 vrf 123"]);
}

fn set(prefixes: &[&str]) -> BTreeSet<String> {
    prefixes.iter().map(|p| p.to_string()).collect()
}

fn summary(announce: u64, withdraw: u64, unchanged: u64, errors: u64) -> Summary {
    Summary { announce, withdraw, unchanged, errors }
}

/// Asserts FRR's `network` statements: default VRF (besides nothing else) and VRF 123.
#[track_caller]
fn assert_networks(lab: &Lab, default_vrf: &[&str], vrf_123: &[&str]) {
    let config = lab.running_config();
    assert_eq!(networks_in(&config, None), set(default_vrf), "default-VRF networks\n{config}");
    assert_eq!(networks_in(&config, Some(VRF)), set(vrf_123), "VRF {VRF} networks\n{config}");
}

fn apply_announces_every_prefix_of_healthy_services(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());

    let applied = lab.anycastd(["apply"]).json().run().success();

    assert_eq!(applied.summary(), summary(4, 0, 0, 0), "{applied}");
    for prefix in [DNS_V4, DNS_V6, NTP_V4, NTP_V6] {
        assert_eq!(applied.action(prefix), "announce", "{prefix}\n{applied}");
    }
    // The lab has no kernel VRF device 123: the apply that announced there says so, with how to make it.
    for prefix in [NTP_V4, NTP_V6] {
        let found = applied.prefix(prefix);
        assert_eq!(found["warning_codes"], serde_json::json!(["rib-unreadable"]), "{prefix}\n{applied}");
        let warning = found["warning"].as_str().unwrap_or_default();
        assert!(
            warning.starts_with(
                "cannot check FRR's RIB of VRF 123: % VRF 123 not found: the kernel has no VRF device named 123"
            ) && warning.contains("`ip link add 123 type vrf table N && ip link set 123 up`"),
            "{prefix}\n{applied}"
        );
    }
    assert_eq!(
        applied.prefix(DNS_V4)["warning_codes"],
        serde_json::json!([]),
        "the default VRF is not asked after applying\n{applied}"
    );
    let idle = lab.anycastd(["apply"]).run().success();
    assert!(!idle.stdout.contains("VRF 123 not found"), "a pass that announces nothing does not ask\n{idle}");
    assert_networks(&lab, &[UNMANAGED, DNS_V4, DNS_V6], &[NTP_V4, NTP_V6]);
    let config = lab.running_config();
    assert!(
        config.contains(&format!(" address-family ipv6 unicast\n  network {DNS_V6}\n")),
        "the IPv6 prefix belongs in the ipv6 address family\n{config}"
    );
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
}

fn apply_withdraws_the_prefixes_of_a_failing_service_only(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    cabourotte.failing("dns", "DNS resolver does not answer check.local");
    let applied = lab.anycastd(["apply"]).json().run().success();

    assert_eq!(applied.summary(), summary(0, 2, 2, 0), "{applied}");
    assert_networks(&lab, &[UNMANAGED], &[NTP_V4, NTP_V6]);
    lab.wait_peer_routes(&[UNMANAGED]);

    // One failing check of several is enough to withdraw the whole service.
    cabourotte.failing("ntp_v6", "Command failed: exit status 1");
    lab.anycastd(["apply"]).run().success();
    assert_networks(&lab, &[UNMANAGED], &[]);
}

fn plan_changes_nothing_and_after_apply_reports_no_changes(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let untouched = lab.running_config();

    let planned = lab.anycastd(["plan", "--detailed-exitcode"]).json().run().code(2);
    assert_eq!(planned.summary(), summary(4, 0, 0, 0), "{planned}");
    assert_eq!(lab.running_config(), untouched, "plan must not change FRR");
    lab.anycastd(["plan"]).run().success();

    lab.anycastd(["apply"]).run().success();
    let planned = lab.anycastd(["plan", "--detailed-exitcode"]).json().run().success();
    assert_eq!(planned.summary(), summary(0, 0, 4, 0), "{planned}");
    lab.anycastd(["plan", "--detailed-exitcode"]).run().success();

    let before = lab.running_config();
    let reapplied = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(reapplied.summary(), summary(0, 0, 4, 0), "{reapplied}");
    assert_eq!(lab.running_config(), before, "a second apply must not touch FRR");
}

fn apply_restores_the_announcements_after_frr_restarts(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let mut lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    lab.restart_frr();
    assert_networks(&lab, &[UNMANAGED], &[]);
    lab.wait_peer_routes(&[UNMANAGED]);

    let applied = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(applied.summary(), summary(4, 0, 0, 0), "{applied}");
    assert_networks(&lab, &[UNMANAGED, DNS_V4, DNS_V6], &[NTP_V4, NTP_V6]);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
}

fn apply_removes_managed_networks_added_by_hand_while_unhealthy(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    cabourotte.failing("dns", "timeout").failing("ntp_v4", "timeout");
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    assert_networks(&lab, &[UNMANAGED], &[]);

    lab.add_network(None, DNS_V4);
    lab.add_network(Some(VRF), NTP_V6);
    lab.wait_peer_has(&[DNS_V4]);

    let applied = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(applied.summary(), summary(0, 2, 2, 0), "{applied}");
    assert_networks(&lab, &[UNMANAGED], &[]);
    lab.wait_peer_routes(&[UNMANAGED]);
}

fn apply_restores_managed_networks_removed_by_hand_while_healthy(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    lab.remove_network(None, DNS_V6);
    lab.remove_network(Some(VRF), NTP_V4);
    lab.wait_peer_lacks(&[DNS_V6]);

    let applied = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(applied.summary(), summary(2, 0, 2, 0), "{applied}");
    assert_networks(&lab, &[UNMANAGED, DNS_V4, DNS_V6], &[NTP_V4, NTP_V6]);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
}

fn unmanaged_networks_and_bgp_instances_are_left_alone(frr: Frr) {
    const UNMANAGED_V6: &str = "2001:db8:cafe::1/128";
    const UNMANAGED_IN_VRF: &str = "198.51.100.123/32";
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).unmanaged_network(UNMANAGED_V6).start();
    lab.write_seed_config(&cabourotte.url());
    lab.add_network(Some(VRF), UNMANAGED_IN_VRF);
    let instances = lab.bgp_instances();
    assert_eq!(instances, ["router bgp 65536", "router bgp 65537 vrf 123"]);

    lab.anycastd(["apply"]).run().success();
    assert_networks(&lab, &[UNMANAGED, UNMANAGED_V6, DNS_V4, DNS_V6], &[UNMANAGED_IN_VRF, NTP_V4, NTP_V6]);
    lab.wait_peer_routes(&[UNMANAGED, UNMANAGED_V6, DNS_V4, DNS_V6]);

    cabourotte.failing("ntp_v4", "timeout");
    lab.anycastd(["apply"]).run().success();
    assert_networks(&lab, &[UNMANAGED, UNMANAGED_V6, DNS_V4, DNS_V6], &[UNMANAGED_IN_VRF]);

    lab.anycastd(["withdraw-all"]).run().success();
    assert_networks(&lab, &[UNMANAGED, UNMANAGED_V6], &[UNMANAGED_IN_VRF]);
    lab.wait_peer_routes(&[UNMANAGED, UNMANAGED_V6]);
    assert_eq!(lab.bgp_instances(), instances, "anycastd must never create or remove a BGP instance");
}

fn a_vrf_without_bgp_instance_is_an_error_and_other_services_are_still_reconciled(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    cabourotte.healthy("edge");
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
    let wrapper = lab.vtysh_wrapper().display().to_string();
    let url = cabourotte.url();
    lab.write_config(&format!(
        r#"[services.edge]
prefixes.frrouting = [{{ prefix = "203.0.113.99", vrf = "999", vtysh = "{wrapper}" }}]
checks.cabourotte = [{{ name = "edge", url = "{url}" }}]

[services.dns]
prefixes.frrouting = [
    {{ prefix = "203.0.113.53", vtysh = "{wrapper}" }},
    {{ prefix = "2001:db8::b19:bad:53", vtysh = "{wrapper}" }},
]
checks.cabourotte = [{{ name = "dns", url = "{url}" }}]
"#
    ));

    let applied = lab.anycastd(["apply"]).run().code(1);
    assert!(applied.output().contains("999"), "the error must name VRF 999\n{applied}");
    assert_eq!(lab.bgp_instances(), ["router bgp 65536", "router bgp 65537 vrf 123"]);
    assert_networks(&lab, &[UNMANAGED, DNS_V4, DNS_V6], &[]);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    let again = lab.anycastd(["apply"]).json().run().code(1);
    assert_eq!(again.action("203.0.113.99/32"), "error", "{again}");
    assert_eq!(again.summary(), summary(0, 0, 2, 1), "{again}");
    assert!(!lab.running_config().contains("vrf 999"), "no instance may appear for VRF 999");
}

fn withdraw_all_keeps_prefixes_withdrawn_until_resume(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    lab.anycastd(["withdraw-all", "--reason", "lab maintenance"]).run().success();
    assert_networks(&lab, &[UNMANAGED], &[]);
    lab.wait_peer_routes(&[UNMANAGED]);

    let applied = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(applied.summary().announce, 0, "apply must not announce during maintenance\n{applied}");
    assert_networks(&lab, &[UNMANAGED], &[]);

    lab.anycastd(["resume"]).run().success();
    assert_networks(&lab, &[UNMANAGED], &[]);
    lab.anycastd(["apply"]).run().success();
    assert_networks(&lab, &[UNMANAGED, DNS_V4, DNS_V6], &[NTP_V4, NTP_V6]);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
}

fn run_follows_health_and_withdraws_everything_on_sigterm(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let mut running = lab.anycastd(["run", "--interval", "1"]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.wait_until("VRF 123 has the ntp prefixes", || lab.networks(Some(VRF)) == set(&[NTP_V4, NTP_V6]));

    cabourotte.failing("dns", "DNS resolver does not answer check.local");
    let flipped = Instant::now();
    lab.wait_peer_routes(&[UNMANAGED]);
    assert!(flipped.elapsed() < Duration::from_secs(5), "withdrawn only after {:?}", flipped.elapsed());

    cabourotte.healthy("dns");
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    assert!(running.is_running(), "`run` must keep running");

    running.terminate(Duration::from_secs(15)).success();
    assert_networks(&lab, &[UNMANAGED], &[]);
    lab.wait_peer_routes(&[UNMANAGED]);
}

fn run_reannounces_after_frr_restarts(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let mut lab = Lab::seed(frr, &cabourotte.url());
    let running = lab.anycastd(["run", "--interval", "1"]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    lab.restart_frr();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.wait_until("VRF 123 has the ntp prefixes again", || lab.networks(Some(VRF)) == set(&[NTP_V4, NTP_V6]));

    running.terminate(Duration::from_secs(15)).success();
    assert_networks(&lab, &[UNMANAGED], &[]);
}

fn run_withdraws_everything_on_sigint(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let running = lab.anycastd(["run", "--interval", "1"]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    running.signal("INT");
    running.wait(Duration::from_secs(15)).success();
    assert_networks(&lab, &[UNMANAGED], &[]);
    lab.wait_peer_routes(&[UNMANAGED]);
}

fn run_keep_on_exit_leaves_the_prefixes_announced(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let running = lab.anycastd(["run", "--interval", "1", "--keep-on-exit"]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.wait_until("VRF 123 has the ntp prefixes", || lab.networks(Some(VRF)) == set(&[NTP_V4, NTP_V6]));

    running.terminate(Duration::from_secs(15)).success();
    assert_networks(&lab, &[UNMANAGED, DNS_V4, DNS_V6], &[NTP_V4, NTP_V6]);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
}

fn a_failing_vtysh_is_reported_and_the_next_apply_converges(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());

    lab.fail_vtysh_writes(true);
    let failed = lab.anycastd(["apply"]).run().code(1);
    assert!(failed.output().contains("failing on purpose"), "vtysh's own error must be shown\n{failed}");
    assert_networks(&lab, &[UNMANAGED], &[]);

    lab.fail_vtysh_writes(false);
    lab.anycastd(["apply"]).run().success();
    assert_networks(&lab, &[UNMANAGED, DNS_V4, DNS_V6], &[NTP_V4, NTP_V6]);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
}

/// FRR itself rejects a command in the middle of anycastd's batch: someone removed a network between anycastd's
/// read of the running config and its write, so `no network` fails. FRR goes on with the rest of the batch (`-f`),
/// every change is in place, and anycastd says what FRR rejected without failing.
fn a_command_frr_rejects_half_way_is_a_warning_when_frr_ends_up_as_planned(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    cabourotte.failing("ntp_v4", "timeout");
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    assert_networks(&lab, &[UNMANAGED, DNS_V4, DNS_V6], &[]);

    cabourotte.failing("dns", "timeout").healthy("ntp_v4");
    lab.before_next_write(&[
        "configure terminal",
        "router bgp 65536",
        "address-family ipv4 unicast",
        &format!("no network {DNS_V4}"),
    ]);
    let raced = lab.anycastd(["apply"]).run().success();
    assert!(
        raced.output().contains("vtysh reported an error, yet FRR now has every planned change")
            && raced.output().contains("Can't find static route specified"),
        "FRR's rejection is shown as a warning\n{raced}"
    );
    assert_networks(&lab, &[UNMANAGED], &[NTP_V4, NTP_V6]);

    lab.anycastd(["apply"]).run().success();
    assert_networks(&lab, &[UNMANAGED], &[NTP_V4, NTP_V6]);
    lab.wait_peer_routes(&[UNMANAGED]);
}

fn bgpd_down_is_an_error_and_apply_converges_after_frr_is_back(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let mut lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    lab.stop_bgpd();
    let apply = lab.anycastd(["apply"]).run().code(1);
    assert!(apply.output().contains("cannot read FRR's running config"), "{}", apply.output());
    assert!(
        apply.output().contains("failed to connect to any daemons. (is bgpd running? FRR starts only the daemons"),
        "the real vtysh's words get the hint about /etc/frr/daemons: {}",
        apply.output()
    );
    for (what, text) in [("report", &apply.stdout), ("log", &apply.stderr)] {
        let said = text.matches("failed to connect to any daemons").count();
        assert_eq!(said, 1, "said once per FRR in the {what}, not once per prefix: {}", apply.output());
    }
    assert!(
        !apply.output().contains("no BGP instance"),
        "a stopped bgpd is not a missing instance: {}",
        apply.output()
    );
    lab.anycastd(["plan"]).run().code(1);

    lab.restart_frr();
    lab.anycastd(["apply"]).run().success();
    assert_networks(&lab, &[UNMANAGED, DNS_V4, DNS_V6], &[NTP_V4, NTP_V6]);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
}

/// A prefix FRR would keep but not advertise (import-check on, no route in its RIB) is warned about by `plan` and
/// `check --frr`; once its address is on `lo` the warning goes and the route reaches the peer.
fn import_check_warning_follows_frr_rib(frr: Frr) {
    const WEB: &str = "203.0.113.80/32";
    let cabourotte = FakeCabourotte::all_healthy();
    cabourotte.healthy("web");
    let lab = Lab::seed(frr, &cabourotte.url());
    let web = format!(
        "\n[services.web]\nprefixes.frrouting = [{{ prefix = \"{WEB}\", {} }}]\n\
         checks.cabourotte = [{{ name = \"web\", url = \"{}\" }}]\n",
        lab.vtysh_keys(),
        cabourotte.url()
    );
    lab.write_config(&format!("{}{web}", lab.seed_config(&cabourotte.url())));

    let warning_of = |prefix: &str| {
        let plan = lab.anycastd(["plan"]).json().run().success();
        let json = plan.json();
        let found = json["services"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["prefixes"].as_array().into_iter().flatten())
            .find(|p| p["prefix"] == prefix)
            .map(|p| (p["warning_codes"].clone(), p["warning"].clone()));
        found.unwrap_or_else(|| panic!("{prefix} not in the plan\n{plan}"))
    };
    let (codes, warning) = warning_of(WEB);
    assert_eq!(codes, serde_json::json!(["not-in-rib"]));
    assert!(
        warning
            .as_str()
            .is_some_and(|w| w.starts_with(&format!("FRR has no route for {WEB} in the RIB of the default VRF"))),
        "{warning}"
    );
    assert_eq!(warning_of(DNS_V4), (serde_json::json!([]), serde_json::Value::Null), "its address is on lo");
    let check = lab.anycastd(["check", "--frr"]).run().success();
    check.stdout_has(&format!("⚠ {WEB} in the default VRF: no route in FRR's RIB"));

    lab.anycastd(["apply"]).run().success();
    assert!(lab.networks(None).contains(WEB), "FRR keeps the network...");
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    assert!(!lab.peer_routes().contains(WEB), "...but does not advertise it");

    lab.add_service_address(WEB);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6, WEB]);
    assert_eq!(warning_of(WEB), (serde_json::json!([]), serde_json::Value::Null));
}

/// The FRR pre-flight reads the real running config: both instances found, a VRF without one is an error, and
/// nothing in FRR changes.
fn check_frr_reports_instances_and_a_missing_one(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let edge = format!(
        "\n[services.edge]\nprefixes.frrouting = [{{ prefix = \"203.0.113.99\", vrf = \"999\", {} }}]\n\
         checks.cabourotte = [{{ name = \"edge\", url = \"{}\" }}]\n",
        lab.vtysh_keys(),
        cabourotte.url()
    );
    lab.write_config(&format!("{}{edge}", lab.seed_config(&cabourotte.url())));
    let before = lab.running_config();

    let check = lab.anycastd(["check", "--frr"]).run().code(1);
    for expected in [
        format!("✓ {}: vtysh reads FRR's running config", lab.vtysh_wrapper().display()),
        "✓ AS 65536, default VRF: BGP instance found, bgp network import-check on".to_string(),
        "✓ AS 65537, VRF 123: BGP instance found, bgp network import-check on".to_string(),
        "✗ VRF 999: FRR has no BGP instance here; anycastd never creates one: add `router bgp <ASN> vrf 999` to FRR's \
         configuration"
            .to_string(),
    ] {
        assert!(check.stdout.contains(&expected), "expected {expected:?}\n{check}");
    }
    assert_eq!(lab.running_config(), before, "check --frr must not change FRR");
    assert_eq!(cabourotte.request_count(), 0, "check --frr does not ask Cabourotte");
}

/// An operator saves the running config (`write memory`) while anycastd's networks are announced: FRR's startup
/// config now holds them, and FRR would announce them at its next start before any check has run. `check --frr`
/// names each of them; the operator's own network saved beside them is not its business.
fn check_frr_flags_managed_networks_saved_by_write_memory(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    let startup = lab.startup_config().display().to_string();
    let clean = lab.anycastd(["check", "--frr", "--frr-conf", &startup]).run();
    clean.stdout_has(&format!("✓ {startup}: no startup config here"));

    lab.vtysh(&["write memory"]);
    let check = lab.anycastd(["check", "--frr", "--frr-conf", &startup]).run().code(1);
    for prefix in [DNS_V4, DNS_V6, NTP_V4, NTP_V6] {
        let vrf = if prefix.starts_with("203.0.113.123") || prefix.starts_with("2001:db8::123") {
            "VRF 123"
        } else {
            "the default VRF"
        };
        let expected = format!("✗ {prefix} in {vrf}: FRR's startup config {startup} has it as a network (line ");
        assert!(check.stdout.contains(&expected), "expected {expected:?}\n{check}");
    }
    check.stdout_lacks(UNMANAGED);
}

/// `apply` is killed (SIGKILL) while its vtysh batch is still on its way to FRR, and a newer `apply` finds every
/// check failing. The killed pass's batch must never land afterwards: nothing may be announced without a passing
/// check.
fn a_killed_apply_leaves_no_batch_behind_to_announce_later(frr: Frr) {
    const DELAY: Duration = Duration::from_millis(2500);
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.slow_next_write(DELAY);
    let killed = lab.anycastd(["apply"]).spawn();
    lab.wait_until("the killed apply's vtysh has started its batch", || lab.write_started());
    killed.signal("KILL");
    killed.wait(Duration::from_secs(5));

    cabourotte.failing("dns", "timeout").failing("ntp_v4", "timeout");
    let newer = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(newer.summary().announce, 0, "{newer}");
    // Longer than the slow write would have taken: a batch left running would have landed by now.
    std::thread::sleep(DELAY + Duration::from_secs(1));
    assert_networks(&lab, &[UNMANAGED], &[]);
    lab.wait_peer_routes(&[UNMANAGED]);
}

on_every_frr!(
    a_killed_apply_leaves_no_batch_behind_to_announce_later,
    check_frr_flags_managed_networks_saved_by_write_memory,
    check_frr_reports_instances_and_a_missing_one,
    lab_smoke,
    apply_announces_every_prefix_of_healthy_services,
    apply_withdraws_the_prefixes_of_a_failing_service_only,
    plan_changes_nothing_and_after_apply_reports_no_changes,
    apply_restores_the_announcements_after_frr_restarts,
    apply_removes_managed_networks_added_by_hand_while_unhealthy,
    apply_restores_managed_networks_removed_by_hand_while_healthy,
    unmanaged_networks_and_bgp_instances_are_left_alone,
    a_vrf_without_bgp_instance_is_an_error_and_other_services_are_still_reconciled,
    withdraw_all_keeps_prefixes_withdrawn_until_resume,
    run_follows_health_and_withdraws_everything_on_sigterm,
    run_reannounces_after_frr_restarts,
    run_withdraws_everything_on_sigint,
    run_keep_on_exit_leaves_the_prefixes_announced,
    a_failing_vtysh_is_reported_and_the_next_apply_converges,
    a_command_frr_rejects_half_way_is_a_warning_when_frr_ends_up_as_planned,
    bgpd_down_is_an_error_and_apply_converges_after_frr_is_back,
    import_check_warning_follows_frr_rib,
);
