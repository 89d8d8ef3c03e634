//! Snapshots of `anycastd plan`, text and JSON, on the seed example in the situations an operator meets.

mod support;

use support::env::{EMPTY_FRR, Env};

/// FRR with the dns service already announced, and an unmanaged network beside it.
const DNS_ANNOUNCED: &str = "router bgp 65536\n address-family ipv4 unicast\n  network 192.0.2.0/24 route-map RM\n  \
network 203.0.113.53/32\n exit-address-family\n address-family ipv6 unicast\n  network 2001:db8::b19:bad:53/128\n \
exit-address-family\nexit\n!\nrouter bgp 65537 vrf 123\nexit\n!\nend\n";

fn snapshot_plan(env: &Env, name: &str, expected_code: i32) {
    let text = env.run(&["--color", "never", "plan"]);
    assert_eq!(text.code, expected_code, "{}{}", text.stdout, text.stderr);
    snapshot!(format!("plan-{name}-text"), text.stdout);
    let json = env.run(&["--format", "json", "plan"]);
    assert_eq!(json.code, expected_code);
    snapshot!(format!("plan-{name}-json"), json.stdout);
}

#[test]
fn all_healthy_nothing_announced_yet() {
    let env = Env::new();
    snapshot_plan(&env, "all-healthy", 0);
}

#[test]
fn one_check_failing() {
    let env = Env::new();
    env.frr(DNS_ANNOUNCED);
    env.cabourotte
        .failing("ntp_v4", "Command failed: exit status 1, output: no server suitable for synchronization found");
    snapshot_plan(&env, "one-check-failing", 0);
}

#[test]
fn cabourotte_down() {
    let env = Env::new();
    env.frr(DNS_ANNOUNCED);
    env.cabourotte.force_answer(500, r#"{"message": "internal error"}"#);
    snapshot_plan(&env, "cabourotte-down", 1);
}

#[test]
fn dns_already_announced_with_an_unmanaged_network() {
    let env = Env::new();
    env.frr(DNS_ANNOUNCED);
    snapshot_plan(&env, "dns-already-announced", 0);
}

#[test]
fn maintenance_on() {
    let env = Env::new();
    env.frr(DNS_ANNOUNCED);
    std::fs::create_dir_all(env.state_dir()).expect("state dir");
    let marker = r#"{"since": 1764067200, "by": "alice", "reason": "kernel upgrade"}"#;
    std::fs::write(env.state_dir().join("maintenance.json"), marker).expect("marker");
    snapshot_plan(&env, "maintenance", 0);
}

#[test]
fn a_vrf_without_bgp_instance() {
    let env = Env::new();
    env.frr(&EMPTY_FRR.replace("router bgp 65537 vrf 123\n", "router bgp 65537 vrf 456\n"));
    snapshot_plan(&env, "missing-vrf-instance", 1);
}
