//! Snapshots of `anycastd plan`, text and JSON, on the seed example in the situations an operator meets; and, for
//! each of them, proof that the offline plan (`--running-config FILE --health FILE`, as a user's CI renders it) of
//! the same inputs is byte for byte the live one, so the snapshots hold for both.

mod support;

use support::env::{EMPTY_FRR, Env, Run};

/// FRR with the dns service already announced, and an unmanaged network beside it.
const DNS_ANNOUNCED: &str = "router bgp 65536\n address-family ipv4 unicast\n  network 192.0.2.0/24 route-map RM\n  \
network 203.0.113.53/32\n exit-address-family\n address-family ipv6 unicast\n  network 2001:db8::b19:bad:53/128\n \
exit-address-family\nexit\n!\nrouter bgp 65537 vrf 123\nexit\n!\nend\n";

fn snapshot_plan(env: &Env, name: &str, expected_code: i32) -> (Run, Run) {
    let text = env.run(&["--color", "never", "plan"]);
    assert_eq!(text.code, expected_code, "{}{}", text.stdout, text.stderr);
    snapshot!(format!("plan-{name}-text"), text.stdout.clone());
    let json = env.run(&["--format", "json", "plan"]);
    assert_eq!(json.code, expected_code);
    snapshot!(format!("plan-{name}-json"), json.stdout.clone());
    (text, json)
}

/// Asserts that the offline plan of what FRR and Cabourotte hold now is the live plan (`live`, text and JSON).
fn assert_offline_plan_is_the_live_one(env: &Env, live: (Run, Run)) {
    let answer = ureq::get(format!("{}/result", env.cabourotte.url())).call().expect("ask the fake Cabourotte");
    let body = answer.into_body().read_to_string().expect("its answer");
    let (running, health) = (env.dir.join("given-running-config.txt"), env.dir.join("given-health.json"));
    std::fs::write(&running, env.running_config()).expect("write the running config");
    std::fs::write(&health, body).expect("write the health answer");
    let given = ["--running-config", &running.display().to_string(), "--health", &health.display().to_string()]
        .map(String::from);
    let offline_text = env.run(&[&["--color", "never", "plan"][..], &given.each_ref().map(String::as_str)].concat());
    assert_eq!((offline_text.code, offline_text.stdout), (live.0.code, live.0.stdout), "text");
    let offline_json = env.run(&[&["--format", "json", "plan"][..], &given.each_ref().map(String::as_str)].concat());
    assert_eq!((offline_json.code, offline_json.stdout), (live.1.code, live.1.stdout), "JSON");
}

#[test]
fn all_healthy_nothing_announced_yet_announces_everything_live_and_offline_alike() {
    let env = Env::new();
    let live = snapshot_plan(&env, "all-healthy", 0);
    assert_offline_plan_is_the_live_one(&env, live);
}

#[test]
fn one_failing_check_withdraws_its_service_live_and_offline_alike() {
    let env = Env::new();
    env.frr(DNS_ANNOUNCED);
    env.cabourotte
        .failing("ntp_v4", "Command failed: exit status 1, output: no server suitable for synchronization found");
    let live = snapshot_plan(&env, "one-check-failing", 0);
    assert_offline_plan_is_the_live_one(&env, live);
}

#[test]
/// Live only: a Cabourotte that cannot be asked has no offline counterpart.
fn a_cabourotte_that_cannot_be_asked_withdraws_and_fails() {
    let env = Env::new();
    env.frr(DNS_ANNOUNCED);
    env.cabourotte.force_answer(500, r#"{"message": "internal error"}"#);
    snapshot_plan(&env, "cabourotte-down", 1);
}

#[test]
fn dns_already_announced_with_an_unmanaged_network_live_and_offline_alike() {
    let env = Env::new();
    env.frr(DNS_ANNOUNCED);
    let live = snapshot_plan(&env, "dns-already-announced", 0);
    assert_offline_plan_is_the_live_one(&env, live);
}

#[test]
fn maintenance_keeps_everything_withdrawn_live_and_offline_alike() {
    let env = Env::new();
    env.frr(DNS_ANNOUNCED);
    std::fs::create_dir_all(env.state_dir()).expect("state dir");
    let marker = r#"{"since": 1764067200, "by": "alice", "reason": "kernel upgrade"}"#;
    std::fs::write(env.state_dir().join("maintenance.json"), marker).expect("marker");
    let live = snapshot_plan(&env, "maintenance", 0);
    assert_offline_plan_is_the_live_one(&env, live);
}

#[test]
fn a_vrf_without_bgp_instance_is_an_error_live_and_offline_alike() {
    let env = Env::new();
    env.frr(&EMPTY_FRR.replace("router bgp 65537 vrf 123\n", "router bgp 65537 vrf 456\n"));
    let live = snapshot_plan(&env, "missing-vrf-instance", 1);
    assert_offline_plan_is_the_live_one(&env, live);
}
