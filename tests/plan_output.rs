//! Snapshots of `anycastd plan`, text and JSON, on the seed example in the situations an operator meets; and, for
//! each of them, proof that the offline plan (`--running-config FILE --health FILE`, as a user's CI renders it) of
//! the same inputs is byte for byte the live one, less what only a live FRR tells (which peers each prefix reaches),
//! so the snapshots hold for both.

use crate::support;

use support::anycastd::Run;
use support::env::{EMPTY_FRR, Env};

/// FRR with the dns service already announced, and an unmanaged network beside it.
const DNS_ANNOUNCED: &str = "router bgp 65536\n address-family ipv4 unicast\n  network 192.0.2.0/24 route-map RM\n  \
network 203.0.113.53/32\n exit-address-family\n address-family ipv6 unicast\n  network 2001:db8::b19:bad:53/128\n \
exit-address-family\nexit\n!\nrouter bgp 65537 vrf 123\nexit\n!\nend\n";

fn snapshot_plan(env: &Env, name: &str, expected_code: i32) -> (Run, Run) {
    snapshot_plan_shown(env, name, expected_code, &str::to_string)
}

/// Like [`snapshot_plan`], snapshotting the reports as `shown` rewrites them (a time that changes at every run).
fn snapshot_plan_shown(env: &Env, name: &str, expected_code: i32, shown: &dyn Fn(&str) -> String) -> (Run, Run) {
    let text = env.anycastd(["--color", "never", "plan"]).run();
    assert_eq!(text.code, expected_code, "{}{}", text.stdout, text.stderr);
    snapshot!(format!("plan-{name}-text"), shown(&text.stdout));
    let json = env.anycastd(["--format", "json", "plan"]).run();
    assert_eq!(json.code, expected_code);
    snapshot!(format!("plan-{name}-json"), shown(&json.stdout));
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
    let offline_text =
        env.anycastd([&["--color", "never", "plan"][..], &given.each_ref().map(String::as_str)].concat()).run();
    assert_eq!((offline_text.code, offline_text.stdout), (live.0.code, without_advertising(&live.0.stdout)), "text");
    let offline_json =
        env.anycastd([&["--format", "json", "plan"][..], &given.each_ref().map(String::as_str)].concat()).run();
    let mut live_json: serde_json::Value = serde_json::from_str(&live.1.stdout).expect("JSON");
    for prefix in live_json["services"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .flat_map(|service| service["prefixes"].as_array_mut().into_iter().flatten())
    {
        let fields = prefix.as_object_mut().expect("a prefix object");
        assert!(fields.remove("advertised_to").is_some(), "a live plan reads what FRR advertises: {fields:?}");
        fields.remove("advertisement");
        fields.remove("not_advertised");
    }
    let offline: serde_json::Value = serde_json::from_str(&offline_json.stdout).expect("JSON");
    assert_eq!((offline_json.code, offline), (live.1.code, live_json), "JSON");
}

/// A live text plan without what only a live FRR tells: the lines and line ends about which peers get each prefix.
fn without_advertising(text: &str) -> String {
    let kept = text.lines().filter(|line| !line.starts_with("      not advertised to any peer: "));
    let cut = |line: &str| match line.find(", advertised to ") {
        Some(at) => line[..at].to_string(),
        None => line.to_string(),
    };
    kept.map(cut).map(|line| line + "\n").collect()
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

/// The seed example with graded actions: dns announces through ANYCAST-OUT and drains while falling (`fall = 3`);
/// ntp announces through ANYCAST-OUT too and drains through ANYCAST-DRAIN, except its IPv4 prefix, whose own drain
/// route-map FRR lacks.
pub(crate) const GRADED_CONFIG: &str = r#"[services.dns]
prefixes.frrouting = [{ prefix = "2001:db8::b19:bad:53", vtysh = "{vtysh}" }, { prefix = "203.0.113.53", vtysh = "{vtysh}" }]
checks.cabourotte = [{ name = "dns", url = "{url}" }]
route_map = "ANYCAST-OUT"
drain_route_map = "ANYCAST-DRAIN"
fall = 3
on_falling = "drain"

[services.ntp]
prefixes.frrouting = [
    { "prefix" = "2001:db8::123:7e11:713e", "vrf" = "123", vtysh = "{vtysh}" },
    { "prefix" = "203.0.113.123", "vrf" = "123", vtysh = "{vtysh}", drain_route_map = "NTP-DRAIN" },
]
checks.cabourotte = [{ "name" = "ntp_v6", url = "{url}" }, { "name" = "ntp_v4", url = "{url}" }]
route_map = "ANYCAST-OUT"
drain_route_map = "ANYCAST-DRAIN"
"#;

/// FRR with both services announced: dns through its route-map, ntp plain; the two route-maps defined.
pub(crate) const GRADED_FRR: &str = "route-map ANYCAST-OUT permit 10\n set metric 50\nexit\n!\nroute-map ANYCAST-DRAIN permit 10\n \
set community graceful-shutdown\nexit\n!\nrouter bgp 65536\n address-family ipv4 unicast\n  \
network 203.0.113.53/32 route-map ANYCAST-OUT\n exit-address-family\n address-family ipv6 unicast\n  \
network 2001:db8::b19:bad:53/128\n exit-address-family\nexit\n!\nrouter bgp 65537 vrf 123\n address-family ipv4 \
unicast\n  network 203.0.113.123/32\n exit-address-family\n address-family ipv6 unicast\n  \
network 2001:db8::123:7e11:713e/128\n exit-address-family\nexit\n!\nend\n";

#[test]
fn a_falling_service_drains_and_drift_is_restored_live_and_offline_alike() {
    let env = Env::new();
    env.config(GRADED_CONFIG).frr(GRADED_FRR);
    env.cabourotte.failing("dns", "connection refused");
    let live = snapshot_plan(&env, "graded-falling", 0);
    let line = |prefix: &str| live.0.stdout.lines().find(|line| line.contains(prefix)).unwrap_or_default().to_string();
    let words = |prefix: &str| line(prefix).split_whitespace().map(str::to_string).collect::<Vec<_>>().join(" ");
    assert_eq!(words("203.0.113.53/32"), "~ 203.0.113.53/32 drain AS 65536, default VRF, route-map ANYCAST-DRAIN");
    assert_eq!(words("203.0.113.123/32"), "~ 203.0.113.123/32 restore AS 65537, VRF 123, route-map ANYCAST-OUT");
    assert_offline_plan_is_the_live_one(&env, live);
}

#[test]
fn a_drain_in_the_marker_drains_what_is_announced_live_and_offline_alike() {
    let env = Env::new();
    env.config(GRADED_CONFIG).frr(GRADED_FRR);
    std::fs::create_dir_all(env.state_dir()).expect("state dir");
    // A drain ends at most a day ahead (a marker asking for more is damaged): an hour from now, shown in the
    // snapshots as the fixed time they were first taken with.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let until = anycastd::clock::utc_timestamp(now + 3600);
    let marker =
        format!(r#"{{"since": 1764067200, "by": "alice", "reason": "kernel upgrade", "drain_until": {}}}"#, now + 3600);
    std::fs::write(env.state_dir().join("maintenance.json"), marker).expect("marker");
    let live = snapshot_plan_shown(&env, "graded-drain", 0, &|text| text.replace(&until, "2100-01-01T00:00:00Z"));
    assert!(live.0.stdout.contains(&format!("dns: draining until {until}")), "{}", live.0.stdout);
    assert_offline_plan_is_the_live_one(&env, live);
}
