//! Health semantics an operator can trust, through the binary: rise/fall across separate `apply` processes (timer
//! mode) and in loop mode, stale results, a checker that cannot be asked, and on_change hooks.

use crate::support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use support::env::{Env, SEED_CONFIG};
use support::wait::wait_until;

const DNS: [&str; 2] = ["default 2001:db8::b19:bad:53/128", "default 203.0.113.53/32"];

fn with_dns_keys(env: &Env, keys: &str) {
    env.config(&SEED_CONFIG.replace("[services.dns]\n", &format!("[services.dns]\n{keys}\n")));
}

fn dns_announced(env: &Env) -> bool {
    let networks = env.networks();
    DNS.iter().all(|dns| networks.contains(&dns.to_string()))
}

#[test]
fn fall_withdraws_only_after_consecutive_unhealthy_timer_runs() {
    let env = Env::new();
    with_dns_keys(&env, "fall = 3");
    env.anycastd(["apply"]).run();
    assert!(dns_announced(&env));
    env.cabourotte.failing("dns", "timeout");
    let plan = env.anycastd(["plan"]).run();
    plan.stdout_has("dns: unhealthy 1/3, still announced");
    for pass in 1..=2 {
        let run = env.anycastd(["apply"]).run();
        run.stdout_has(&format!("dns: unhealthy {pass}/3, still announced"));
        assert!(dns_announced(&env), "still announced after {pass} unhealthy passes");
    }
    env.anycastd(["apply"]).run();
    assert!(!dns_announced(&env), "withdrawn at the third unhealthy pass");
}

#[test]
fn one_healthy_run_resets_the_fall_count() {
    let env = Env::new();
    with_dns_keys(&env, "fall = 2");
    env.anycastd(["apply"]).run();
    env.cabourotte.failing("dns", "timeout");
    env.anycastd(["apply"]).run();
    env.cabourotte.healthy("dns");
    env.anycastd(["apply"]).run();
    env.cabourotte.failing("dns", "timeout");
    env.anycastd(["apply"]).run();
    assert!(dns_announced(&env), "the count started again after the healthy pass");
}

#[test]
fn rise_announces_only_after_consecutive_healthy_timer_runs() {
    let env = Env::new();
    with_dns_keys(&env, "rise = 2");
    env.cabourotte.failing("dns", "timeout");
    env.anycastd(["apply"]).run();
    env.cabourotte.healthy("dns");
    let first = env.anycastd(["apply"]).run();
    first.stdout_has("dns: healthy 1/2, still withdrawn");
    assert!(!dns_announced(&env));
    env.anycastd(["apply"]).run();
    assert!(dns_announced(&env));
}

#[test]
fn a_damaged_state_file_warns_and_starts_from_what_frr_has() {
    let env = Env::new();
    with_dns_keys(&env, "fall = 2");
    env.anycastd(["apply"]).run();
    std::fs::write(env.state_dir().join("state.json"), "{ not json").expect("damage");
    env.cabourotte.failing("dns", "timeout");
    let run = env.anycastd(["apply"]).json().run().success();
    assert_eq!(run.json()["warning_codes"], serde_json::json!(["counts-reset"]), "{run}");
    run.stderr_has("warning: ignoring the damaged [DIR]/state/state.json");
    assert!(dns_announced(&env), "FRR says announced; the first unhealthy pass of two keeps it");
}

#[test]
fn fall_counts_passes_in_loop_mode_too() {
    let env = Env::new();
    with_dns_keys(&env, "fall = 3");
    let looping = env.anycastd(["run", "--interval", "300ms"]).spawn();
    wait_until("announced", || dns_announced(&env));
    env.cabourotte.failing("dns", "timeout");
    let failed_at = Instant::now();
    wait_until("withdrawn", || !dns_announced(&env));
    looping.stop("TERM");
    assert!(
        failed_at.elapsed() >= Duration::from_millis(600),
        "three passes of 300 ms, not one: {:?}",
        failed_at.elapsed()
    );
}

#[test]
fn a_stale_result_is_unhealthy() {
    let env = Env::new();
    with_dns_keys(&env, "max_age = \"30s\"");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64;
    env.cabourotte.set_raw_result(
        json!({"name": "dns", "success": true, "healthcheck-timestamp": now - 47, "message": "success"}),
    );
    let run = env.anycastd(["apply"]).run();
    // The age is counted when anycastd asks: a second later on a busy machine.
    assert!(
        ["47", "48"]
            .iter()
            .any(|age| run.stdout.contains(&format!("✗ check dns: stale result (age {age} s > max_age 30 s)"))),
        "{}",
        run.stdout
    );
    assert!(!dns_announced(&env));
    env.cabourotte
        .set_raw_result(json!({"name": "dns", "success": true, "healthcheck-timestamp": now, "message": "success"}));
    env.anycastd(["apply"]).run();
    assert!(dns_announced(&env));
}

/// A Cabourotte frozen with its clock ahead (or this host's clock stepped back) serves a result dated in the future:
/// without a bound it would look fresh until the clocks meet, and `max_age` could never catch it.
#[test]
fn a_result_dated_ahead_of_the_clock_is_stale_beyond_a_small_skew() {
    let env = Env::new();
    with_dns_keys(&env, "max_age = \"30s\"");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64;
    env.cabourotte.set_raw_result(
        json!({"name": "dns", "success": true, "healthcheck-timestamp": now + 3, "message": "success"}),
    );
    env.anycastd(["apply"]).run().success();
    assert!(dns_announced(&env), "a few seconds of skew are allowed");
    // Dated an hour ahead of the clock as read now: the pass reads its own clock a moment later (seconds later on a
    // loaded machine), so the hour it sees ahead is at most a few seconds short.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64;
    env.cabourotte.set_raw_result(
        json!({"name": "dns", "success": true, "healthcheck-timestamp": now + 3600, "message": "success"}),
    );
    let run = env.anycastd(["apply"]).run();
    let line = run.stdout.lines().find(|line| line.contains("check dns:")).unwrap_or_default().trim().to_string();
    let ahead = (3590..=3600).find(|ahead| {
        line == format!(
            "✗ check dns: stale result: it is dated {ahead} s ahead of this host's clock (more than the 5 s allowed), \
             so its age cannot be told: a Cabourotte whose clock runs ahead, or this host's clock stepped back"
        )
    });
    assert!(ahead.is_some(), "{}", run.stdout);
    assert!(!dns_announced(&env), "withdrawn: its age cannot be told");
}

#[test]
fn keep_on_checker_error_leaves_prefixes_and_says_so() {
    let env = Env::new();
    with_dns_keys(&env, "on_checker_error = \"keep\"");
    env.anycastd(["apply"]).run();
    env.cabourotte.force_answer(503, "restarting");
    let run = env.anycastd(["apply"]).run();
    assert_eq!(run.code, 1, "loud in the exit code");
    assert!(dns_announced(&env), "kept");
    assert!(env.networks().len() == 2, "the ntp service (default policy) was withdrawn");
    run.stdout_has("dns: health unknown (Cabourotte could not be asked): prefixes kept as they are");
    run.stderr_has("checker-unavailable for service dns");
}

#[test]
fn a_failing_check_outweighs_keep() {
    let env = Env::new();
    with_dns_keys(&env, "on_checker_error = \"keep\"");
    env.anycastd(["apply"]).run();
    env.cabourotte.failing("dns", "NXDOMAIN");
    env.anycastd(["apply"]).run();
    assert!(!dns_announced(&env));
}

#[test]
fn the_hook_runs_after_a_change_with_its_environment() {
    let env = Env::new();
    let out = env.dir.join("hook.out");
    let hook = format!(
        "on_change = [\"/bin/sh\", \"-c\", \"echo \\\"$ANYCASTD_SERVICE $ANYCASTD_STATE $ANYCASTD_PREFIXES\\\" >> {}\"]",
        out.display()
    );
    with_dns_keys(&env, &hook);
    env.anycastd(["apply"]).run();
    env.anycastd(["apply"]).run();
    env.cabourotte.failing("dns", "timeout");
    let run = env.anycastd(["apply"]).run();
    run.stderr_has("hook-ran for service dns: withdrawn");
    assert_eq!(
        std::fs::read_to_string(&out).expect("the hook wrote"),
        "dns announced 203.0.113.53/32 2001:db8::b19:bad:53/128\ndns withdrawn 203.0.113.53/32 2001:db8::b19:bad:53/128\n",
        "once per change, not on the unchanged pass"
    );
}

#[test]
fn a_failing_or_hanging_hook_is_logged_and_blocks_nothing() {
    let env = Env::new();
    with_dns_keys(&env, "on_change = [\"/bin/sleep\", \"30\"]\non_change_timeout = \"300ms\"");
    let started = Instant::now();
    let run = env.anycastd(["apply"]).run();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(run.code, 0, "a hook never fails the pass");
    assert_eq!(env.networks().len(), 4);
    run.stderr_has("hook-failed for service dns: announced");
    run.stderr_has("/bin/sleep did not finish within 300 ms and was killed");
}

#[test]
fn plan_warns_when_import_check_would_keep_an_announced_prefix_silent() {
    let env = Env::new();
    env.rib(&["default 203.0.113.53/32", "123 203.0.113.123/32", "123 2001:db8::123:7e11:713e/128"]);
    let plan = env.anycastd(["plan"]).run();
    plan.stdout_has(
        "+ 2001:db8::b19:bad:53/128     announce   AS 65536, default VRF\n    ⚠ FRR has no route for \
             2001:db8::b19:bad:53/128 in the RIB of the default VRF and `bgp network import-check` is on: it keeps the \
             network but does not advertise it; put the address on an interface (e.g. lo)\n",
    );
    assert_eq!(plan.stdout.matches('⚠').count(), 1, "{}", plan.stdout);
    env.clear_vtysh_calls();
    env.anycastd(["apply"]).run();
    let calls = env.vtysh_calls();
    assert_eq!(
        calls.len(),
        5,
        "apply asks the RIB only of a VRF it announced in, one prefix of it: read, configure, verify, VRF 123's RIB, \
         what FRR advertises: {calls:?}"
    );
    assert_eq!(calls[3], ["show ip route vrf 123 203.0.113.123/32 json"]);
    assert_eq!(calls[4][0], "show bgp vrf all neighbors json");
    env.frr(
        &env.running_config()
            .replace(" bgp router-id 203.0.113.179\n", " bgp router-id 203.0.113.179\n no bgp network import-check\n"),
    );
    assert!(!env.anycastd(["plan"]).run().stdout.contains('⚠'), "no warning when import-check is off");
}

/// A VRF without its kernel device: FRR takes the `network` lines and advertises nothing. `plan` warns, and so does
/// an `apply` that announces in it, once per prefix, with how to make the device; a pass that announces nothing
/// there does not ask.
#[test]
fn a_vrf_without_its_device_is_warned_about_by_plan_and_by_an_apply_that_announces_in_it() {
    let env = Env::new();
    env.missing_vrfs(&["123"]);
    let warning = "    ⚠ cannot check FRR's RIB of VRF 123: % VRF 123 not found: the kernel has no VRF device named 123, \
                   and FRR advertises nothing in this VRF without it; create it with `ip link add 123 type vrf table N \
                   && ip link set 123 up` (N: a routing table no other VRF device uses), and make it persistent in the \
                   host's network configuration\n";
    let under = |prefix: &str, verb: &str| {
        format!(
            "+ {prefix:<27}  {verb}  AS 65537, VRF 123\n      not advertised to any peer: its BGP instance has no \
             neighbor\n{warning}"
        )
    };
    let plan = env.anycastd(["plan"]).run().success();
    plan.stdout_has(&under("203.0.113.123/32", "announce "));
    plan.stdout_has(&under("2001:db8::123:7e11:713e/128", "announce "));
    assert_eq!(plan.stdout.matches('⚠').count(), 2, "{}", plan.stdout);

    let apply = env.anycastd(["apply"]).run().success();
    apply.stdout_has(&under("203.0.113.123/32", "announced"));
    apply.stdout_has(&under("2001:db8::123:7e11:713e/128", "announced"));
    assert_eq!(apply.stdout.matches('⚠').count(), 2, "{}", apply.stdout);
    let json = env.anycastd(["plan"]).json().run().success().json();
    let codes: Vec<&serde_json::Value> = json["services"][1]["prefixes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|prefix| &prefix["warning_codes"])
        .collect();
    assert_eq!(codes, [&serde_json::json!(["rib-unreadable"]); 2], "{json}");

    env.clear_vtysh_calls();
    let idle = env.anycastd(["apply"]).run().success();
    assert!(!idle.stdout.contains('⚠'), "{}", idle.stdout);
    let asked_the_rib = env.vtysh_calls().iter().flatten().any(|command| command.contains(" route "));
    assert!(!asked_the_rib, "a pass that announces nothing does not ask: {:?}", env.vtysh_calls());
}

#[test]
fn check_frr_verifies_vtysh_instances_and_routes_without_changing_anything() {
    let env = Env::new();
    env.rib(&["default 203.0.113.53/32", "default 2001:db8::b19:bad:53/128", "123 203.0.113.123/32"]);
    let before = env.running_config();
    let absent = env.state_dir().join("no-frr.conf").display().to_string();
    let run = env.anycastd(["check", "--frr", "--frr-conf", &absent]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    snapshot!("check-frr-text", run.stdout);
    assert_eq!(env.running_config(), before);
    assert!(env.vtysh_calls().iter().all(|call| call.iter().all(|c| c.starts_with("show "))), "only show commands");

    env.frr(&support::env::EMPTY_FRR.replace("router bgp 65537 vrf 123", "router bgp 65537 vrf 456"));
    let run = env.anycastd(["--format", "json", "check", "--frr", "--frr-conf", &absent]).run();
    assert_eq!(run.code, 1, "a missing BGP instance fails the pre-flight");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let errors: Vec<&serde_json::Value> =
        report["frr"].as_array().expect("findings").iter().filter(|f| f["level"] == "error").collect();
    assert_eq!(errors.len(), 1);
    assert_eq!((&errors[0]["code"], &errors[0]["subject"]), (&"bgp-instance-missing".into(), &"VRF 123".into()));
}

/// `write memory` saved the managed networks into FRR's startup config (real FRR 10.3 output): FRR would announce
/// them at boot, before any check. The operator's own network in the same file is not anycastd's business.
#[test]
fn check_frr_flags_managed_networks_saved_in_the_startup_config() {
    let env = Env::new();
    let saved = env.state_dir().join("frr.conf");
    std::fs::create_dir_all(env.state_dir()).expect("state dir");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/frr-10.3-write-memory.conf"), &saved)
        .expect("copy the fixture");
    let run = env.anycastd(["check", "--frr", "--frr-conf", &saved.display().to_string()]).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let flagged: Vec<&str> = run.stdout.lines().filter(|line| line.contains("FRR's startup config")).collect();
    assert_eq!(flagged.len(), 4, "{}", run.stdout);
    assert!(
        flagged[0].starts_with(
            "  ✗ 203.0.113.53/32 in the default VRF: FRR's startup config [DIR]/state/frr.conf has it as a network \
             (line 17): FRR announces it at boot, before any check has run"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("198.51.100.0/24"), "not a managed prefix\n{}", run.stdout);
}

#[test]
fn rise_and_keep_on_checker_error_work_in_loop_mode_too() {
    let env = Env::new();
    with_dns_keys(&env, "rise = 3\non_checker_error = \"keep\"");
    let looping = env.anycastd(["run", "--interval", "300ms"]).spawn();
    let started = Instant::now();
    wait_until("announced after three healthy passes", || dns_announced(&env));
    assert!(started.elapsed() >= Duration::from_millis(600), "not at the first pass: {:?}", started.elapsed());
    env.cabourotte.force_answer(503, "restarting");
    wait_until("ntp (default policy) withdrawn", || env.networks().len() == 2);
    let requests = env.cabourotte.request_count();
    wait_until("two more passes", || env.cabourotte.request_count() >= requests + 2);
    assert!(dns_announced(&env), "kept while Cabourotte cannot be asked");
    looping.stop("TERM").success();
}

#[test]
fn no_import_check_warning_for_prefixes_that_stay_withdrawn() {
    let env = Env::new();
    let web = "\n[services.web]\nprefixes.frrouting = [{ prefix = \"203.0.113.80\", vtysh = \"{vtysh}\" }]\n\
               checks.cabourotte = [{ name = \"web\", url = \"{url}\" }]\n";
    env.config(&format!("{SEED_CONFIG}{web}"));
    env.cabourotte.failing("web", "timeout");
    env.rib(&[]);
    let plan = env.anycastd(["plan"]).run();
    assert_eq!(plan.stdout.matches('⚠').count(), 4, "the four seed prefixes will be announced\n{}", plan.stdout);
    let report: serde_json::Value = env.anycastd(["plan"]).json().run().json();
    let codes = |service: usize| report["services"][service]["prefixes"][0]["warning_codes"].clone();
    assert_eq!([codes(0), codes(2)], [json!(["not-in-rib"]), json!([])], "web stays withdrawn: {report}");
}
