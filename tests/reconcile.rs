//! The binary end to end against a fake vtysh (FRR's behaviours, in a file) and a fake Cabourotte (its exact API).
//! Every test asserts what an operator sees: FRR's networks, the exit code, the message.

use crate::support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::anycastd::Run;
use support::env::{EMPTY_FRR, Env};
use support::wait::wait_until;

const ALL_ANNOUNCED: [&str; 4] = [
    "123 2001:db8::123:7e11:713e/128",
    "123 203.0.113.123/32",
    "default 2001:db8::b19:bad:53/128",
    "default 203.0.113.53/32",
];

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {}", run.stdout))
}

#[test]
fn apply_announces_every_prefix_of_healthy_services_in_one_vtysh_batch() {
    let env = Env::new();
    let run = env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ALL_ANNOUNCED);
    assert!(run.stdout.ends_with("Applied: 4 announced, 0 withdrawn, 0 unchanged.\n"), "{}", run.stdout);
    let configuring: Vec<_> =
        env.vtysh_calls().into_iter().filter(|call| call.iter().any(|line| line.starts_with("network "))).collect();
    assert_eq!(configuring.len(), 1, "one configuration batch for one FRR");
    assert_eq!(env.cabourotte.paths(), ["/result"], "one GET of the list for three checks");
}

#[test]
fn a_second_apply_changes_nothing_and_runs_no_configuration_command() {
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    let before = env.running_config();
    env.clear_vtysh_calls();
    let run = env.anycastd(["apply"]).run().success();
    assert!(run.stdout.ends_with("Applied: 0 announced, 0 withdrawn, 4 unchanged.\n"), "{}", run.stdout);
    assert_eq!(env.vtysh_calls(), [vec!["show running-config".to_string()]]);
    assert_eq!(env.running_config(), before);
}

#[test]
fn a_failing_check_withdraws_its_service_only() {
    let env = Env::new();
    env.anycastd(["apply"]).run();
    env.cabourotte.failing("ntp_v4", "Command failed: exit status 1");
    let run = env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ["default 2001:db8::b19:bad:53/128", "default 203.0.113.53/32"]);
    run.stdout_has("✗ check ntp_v4: Command failed: exit status 1");
}

#[test]
fn plan_detailed_exitcode_follows_terraform() {
    let env = Env::new();
    env.anycastd(["plan", "--detailed-exitcode"]).run().code(2);
    env.anycastd(["plan"]).run().success();
    assert!(env.networks().is_empty(), "plan changes nothing");
    env.anycastd(["apply"]).run();
    env.anycastd(["plan", "--detailed-exitcode"]).run().success();
    env.frr(&EMPTY_FRR.replace("router bgp 65537 vrf 123", "router bgp 65537 vrf 9"));
    env.anycastd(["plan", "--detailed-exitcode"]).run().code(1);
}

#[test]
fn an_unreachable_cabourotte_withdraws_and_exits_non_zero() {
    let env = Env::new();
    env.anycastd(["apply"]).run();
    env.cabourotte.force_answer(500, "oops");
    let run = env.anycastd(["apply"]).run().code(1);
    assert!(env.networks().is_empty());
    run.stdout_has("could not be asked: HTTP 500: oops");
}

#[test]
fn a_check_missing_from_the_list_is_unhealthy() {
    let env = Env::new();
    env.cabourotte.remove("dns");
    let run = env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ["123 2001:db8::123:7e11:713e/128", "123 203.0.113.123/32"]);
    run.stdout_has("has no result for this check (unknown check, or it has not run yet)");
}

#[test]
fn the_wrapped_list_a_base_path_and_basic_auth_work() {
    let env = Env::new();
    env.cabourotte.wrapped_list().require_basic_auth("anycast", "s3cret");
    let with_auth = format!("http://anycast:s3cret@127.0.0.1:{}/api/v1", env.cabourotte.port());
    env.config(&support::env::SEED_CONFIG.replace("{url}", &with_auth));
    let run = env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ALL_ANNOUNCED);
    assert_eq!(env.cabourotte.paths(), ["/api/v1/result"]);
    assert!(!run.stdout.contains("s3cret"), "the password is never printed");
}

#[test]
fn wrong_credentials_say_so() {
    let env = Env::new();
    env.cabourotte.require_basic_auth("anycast", "s3cret");
    let run = env.anycastd(["plan"]).run().code(1);
    run.stdout_has("HTTP 401: Unauthorized (check the credentials in the check's url)");
}

#[test]
fn a_slow_cabourotte_is_cut_off_by_the_http_timeout() {
    let env = Env::new();
    env.cabourotte.delay(Duration::from_secs(3));
    let started = Instant::now();
    let run = env.anycastd(["--http-timeout", "300ms", "plan"]).run();
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert_eq!(run.code, 1);
    run.stdout_has(
        "  ✗ check dns: Cabourotte at http://[CABOUROTTE] could not be asked: GET http://[CABOUROTTE]/result: no \
         answer within 300 ms (--http-timeout): is Cabourotte stuck or overloaded?\n",
    );
}

/// Nothing listening at the url: the plan, the log line and `check --cabourotte` name the request and what to check.
#[test]
fn a_cabourotte_that_refuses_the_connection_is_named_with_what_to_check() {
    let env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let url = format!("http://127.0.0.1:{port}");
    env.config(&support::env::SEED_CONFIG.replace("{url}", &url));
    let why = format!(
        "GET {url}/result: connection refused: is Cabourotte running and listening there (the host and port of its \
         http section)?"
    );
    let plan = env.anycastd(["plan"]).run().code(1);
    plan.stdout_has(&format!("  ✗ check dns: Cabourotte at {url} could not be asked: {why}\n"));
    let apply = env.anycastd(["apply"]).run().code(1);
    apply.stderr_has(&format!(
        "anycastd apply: checker-unavailable for service dns: check dns: Cabourotte at {url} could not be asked: {why}\n"
    ));
    let check = env.anycastd(["check", "--cabourotte"]).run().code(1);
    check.stdout_has(&format!("  ✗ {url}: cannot be asked: {why}\n"));
}

#[test]
fn a_missing_bgp_instance_is_an_error_and_nothing_is_created() {
    let env = Env::new();
    env.frr(&EMPTY_FRR.replace("router bgp 65537 vrf 123", "router bgp 65537 vrf 456"));
    let run = env.anycastd(["apply"]).json().run().code(1);
    assert_eq!(env.networks(), ["default 2001:db8::b19:bad:53/128", "default 203.0.113.53/32"]);
    assert!(!env.running_config().contains("vrf 123"), "no BGP instance was created");
    let ntp = &run.json()["services"][1];
    assert!(
        ntp["prefixes"].as_array().is_some_and(|p| p.iter().all(|p| p["error_code"] == "no-bgp-instance")),
        "{ntp}"
    );
}

#[test]
fn unmanaged_networks_are_never_touched() {
    let env = Env::new();
    env.frr(&EMPTY_FRR.replace(
        "neighbor 192.0.2.2 remote-as 65100\n",
        "neighbor 192.0.2.2 remote-as 65100\n !\n address-family ipv4 unicast\n  network 198.51.100.0/24 route-map RM\n exit-address-family\n",
    ));
    env.anycastd(["apply"]).run();
    assert!(env.networks().contains(&"default 198.51.100.0/24".to_string()));
    env.anycastd(["withdraw-all"]).run();
    assert_eq!(env.networks(), ["default 198.51.100.0/24"]);
    assert!(env.running_config().contains("network 198.51.100.0/24 route-map RM"));
}

#[test]
fn withdraw_all_holds_until_resume() {
    let env = Env::new();
    env.anycastd(["apply"]).run();
    let run = env.anycastd(["withdraw-all", "--reason", "kernel upgrade"]).run().success();
    assert!(env.networks().is_empty());
    assert!(run.stdout.contains("by ") && run.stdout.contains(": kernel upgrade"), "{}", run.stdout);
    let apply = env.anycastd(["apply"]).run();
    assert!(env.networks().is_empty(), "apply honours maintenance");
    apply.stdout_has("dns: in maintenance (checks healthy)");
    let plan = env.anycastd(["--format", "json", "plan"]).run();
    assert_eq!(json(&plan)["maintenance"]["reason"], "kernel upgrade");
    let resume = env.anycastd(["resume"]).run();
    resume.stdout_is("Maintenance ended: the next apply announces the prefixes of healthy services again.\n");
    env.anycastd(["apply"]).run();
    assert_eq!(env.networks(), ALL_ANNOUNCED);
    assert_eq!(env.anycastd(["resume"]).run().stdout, "Not in maintenance: nothing to resume.\n");
}

/// `withdraw-all --drain 30s` with nothing to drain (no service has a `drain_route_map`) withdraws and returns at
/// once, saying so, instead of waiting 30 s "draining until ..." a drain that holds nothing; its log lines say why
/// each prefix was withdrawn; the marker is plain maintenance afterwards. (It waited the whole 30 s.)
#[test]
fn withdraw_all_drain_with_nothing_to_drain_withdraws_and_returns_at_once() {
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    let started = Instant::now();
    let run = env.anycastd(["withdraw-all", "--drain", "30s", "--reason", "kernel upgrade"]).run();
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{run}");
    eprintln!("withdraw-all --drain 30s with nothing to drain returned in {took:?}");
    assert!(took < Duration::from_secs(10), "returned after {took:?}, not at once");
    assert!(env.networks().is_empty(), "everything withdrawn");
    run.stdout_has(
        "Nothing to drain: no announced prefix of a healthy service has a drain_route_map that FRR has, so every \
         managed prefix was withdrawn at once, without waiting.\n",
    );
    run.stdout_has("dns: in maintenance (checks healthy)").stdout_has("Every managed prefix stays withdrawn");
    run.stdout_lacks("draining until").stdout_lacks("drained until").stdout_lacks("Draining until");
    let withdrawn = "no drain_route_map to drain through: withdrawn at once (anycastd withdraw-all --drain)";
    assert_eq!(
        run.stderr.lines().collect::<Vec<_>>(),
        [
            format!(
                "anycastd withdraw-all: withdrawn 203.0.113.53/32 for service dns (default VRF, AS 65536): {withdrawn}"
            ),
            format!(
                "anycastd withdraw-all: withdrawn 2001:db8::b19:bad:53/128 for service dns (default VRF, AS 65536): {withdrawn}"
            ),
            format!(
                "anycastd withdraw-all: withdrawn 203.0.113.123/32 for service ntp (VRF 123, AS 65537): {withdrawn}"
            ),
            format!(
                "anycastd withdraw-all: withdrawn 2001:db8::123:7e11:713e/128 for service ntp (VRF 123, AS 65537): {withdrawn}"
            ),
        ]
    );
    let marker = std::fs::read_to_string(env.state_dir().join("maintenance.json")).expect("the marker");
    let marker: serde_json::Value = serde_json::from_str(&marker).expect("JSON");
    assert_eq!((&marker["reason"], &marker["drain_until"]), (&json!("kernel upgrade"), &serde_json::Value::Null));
    let plan = env.anycastd(["plan"]).run().success();
    plan.stdout_has("dns: in maintenance (checks healthy)").stdout_lacks("drain");

    // JSON, with --no-wait, and ntp failing: its prefixes are withdrawn for the failure, dns's for want of a drain.
    env.anycastd(["resume"]).run().success();
    env.anycastd(["apply"]).run().success();
    env.cabourotte.failing("ntp_v4", "exit status 1");
    let started = Instant::now();
    let run =
        env.anycastd(["--log-format", "json", "withdraw-all", "--drain", "30s", "--no-wait"]).json().run().success();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(env.networks().is_empty());
    let report = run.json();
    assert_eq!(report["maintenance"]["drain_until"], serde_json::Value::Null, "{report}");
    assert_eq!(report["services"][0]["state"], "maintenance", "{report}");
    let events: Vec<serde_json::Value> =
        run.stderr.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    let seen: Vec<(&str, &str, Option<bool>, &str)> = events
        .iter()
        .map(|event| {
            let text = |key: &str| event[key].as_str().unwrap_or_default();
            (text("event"), text("service_name"), event["service_healthy"].as_bool(), text("reason"))
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("withdrawn", "dns", Some(true), withdrawn),
            ("withdrawn", "dns", Some(true), withdrawn),
            ("withdrawn", "ntp", Some(false), "check ntp_v4 failed: exit status 1"),
            ("withdrawn", "ntp", Some(false), "check ntp_v4 failed: exit status 1"),
        ]
    );
}

/// When something does drain, `withdraw-all --drain` drains it as before; a prefix whose drain route-map FRR lacks is
/// withdrawn at once, and its log line says so rather than "draining until ..., then withdrawn".
#[test]
fn withdraw_all_drain_drains_what_it_can_and_says_why_the_rest_is_withdrawn() {
    let env = Env::new();
    env.config(crate::plan_output::GRADED_CONFIG).frr(crate::plan_output::GRADED_FRR);
    let run = env.anycastd(["withdraw-all", "--drain", "30s", "--no-wait"]).run().success();
    run.stdout_has("Drained until ").stdout_lacks("Nothing to drain");
    assert!(env.running_config().contains("network 203.0.113.53/32 route-map ANYCAST-DRAIN"), "dns drains");
    assert_eq!(env.networks().len(), 3, "only ntp's IPv4 prefix is withdrawn");
    run.stderr_has(
        "anycastd withdraw-all: withdrawn 203.0.113.123/32 for service ntp (VRF 123, AS 65537): its drain_route_map \
         NTP-DRAIN is not in FRR: withdrawn at once (anycastd withdraw-all --drain)\n",
    );
    run.stderr_has(
        "anycastd withdraw-all: drained 203.0.113.53/32 for service dns (default VRF, AS 65536): draining until ",
    );
    let marker = std::fs::read_to_string(env.state_dir().join("maintenance.json")).expect("the marker");
    assert!(marker.contains("drain_until"), "the drain's deadline stays: {marker}");
}

/// With none of `SUDO_USER`, `USER`, `LOGNAME` set (a unit, a cron job), the marker names the user as `id -un` does,
/// not `uid 0`.
#[test]
fn the_marker_names_the_user_without_the_variables() {
    let env = Env::new();
    let run = env.anycastd(["withdraw-all"]).env("SUDO_USER", "").env("USER", "").env("LOGNAME", "").run().success();
    let id = std::process::Command::new("id").arg("-un").output().expect("id -un");
    let name = String::from_utf8_lossy(&id.stdout).trim().to_string();
    let marker = std::fs::read_to_string(env.state_dir().join("maintenance.json")).expect("the marker");
    let marker: serde_json::Value = serde_json::from_str(&marker).expect("JSON");
    assert_eq!(marker["by"], name.as_str(), "{marker}");
    run.stdout_has(&format!(" by {name}\n"));
}

/// A maintenance reason is printed by every pass: a long one given to `withdraw-all` is a usage error, and a marker
/// holding one (written by whoever can write the state directory) is printed cut, not whole on every apply.
#[test]
fn a_long_maintenance_reason_is_refused_or_cut() {
    let env = Env::new();
    env.anycastd(["apply"]).run();
    let refused = env.anycastd(["withdraw-all", "--reason", &"x".repeat(501)]).run().code(64);
    assert!(
        refused.stderr.contains("invalid value")
            && refused.stderr.contains("is 501 characters long; at most 500 are kept"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.networks(), ALL_ANNOUNCED, "nothing withdrawn");
    let marker = format!(r#"{{"since": 1, "by": "mallory", "reason": "{}"}}"#, "y".repeat(900_000));
    std::fs::write(env.state_dir().join("maintenance.json"), marker).expect("a marker with a long reason");
    let applied = env.anycastd(["apply"]).run().success();
    assert!(env.networks().is_empty(), "maintenance withdraws");
    assert!(applied.stdout.len() < 4000, "the reason is cut: {} bytes printed", applied.stdout.len());
    applied.stdout_has(&format!("{}… (cut: 900000 bytes in all)", "y".repeat(500)));
}

#[test]
fn withdraw_all_does_not_need_cabourotte() {
    let env = Env::new();
    env.anycastd(["apply"]).run();
    env.cabourotte.force_answer(500, "down");
    env.anycastd(["withdraw-all"]).run().success();
    assert!(env.networks().is_empty());
}

#[test]
fn a_failure_in_the_middle_of_a_batch_is_reported_the_rest_applied_and_the_next_apply_converges() {
    let env = Env::new();
    env.fail_on(Some("network 2001:db8::b19:bad:53/128"));
    let run = env.anycastd(["apply"]).run().code(1);
    run.stdout_has(
        "! 2001:db8::b19:bad:53/128     failed (AS 65536, default VRF): FRR does not have the network after \
             applying: [DIR]/vtysh exited with 13: line 6: Failure to communicate[13] to bgpd, line: network \
             2001:db8::b19:bad:53/128 / % Injected failure on: network 2001:db8::b19:bad:53/128",
    );
    assert!(run.stdout.ends_with("Applied: 3 announced, 0 withdrawn, 0 unchanged, 1 error.\n"), "{}", run.stdout);
    assert_eq!(env.networks().len(), 3, "the lines after the failing one were applied");
    env.fail_on(None);
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ALL_ANNOUNCED);
}

#[test]
fn a_hung_vtysh_is_stopped_by_the_vtysh_timeout() {
    let env = Env::new();
    env.hang();
    let started = Instant::now();
    let run = env.anycastd(["--vtysh-timeout", "500ms", "apply"]).run();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(run.code, 1);
    run.stdout_has("[DIR]/vtysh did not finish within 500 ms and was stopped");
}

#[test]
fn a_broken_config_changes_nothing_and_points_at_the_error() {
    let env = Env::new();
    env.config("[services.dns]\nprefixes.frrouting = [\"192.0.2.241/28\"]\nchecks.cabourotte = [\"dns\"]\n");
    let run = env.anycastd(["--color", "never", "apply"]).run().code(1);
    snapshot!("config-error-host-bits", run.stderr);
    assert!(env.vtysh_calls().is_empty(), "vtysh was not called");
    assert_eq!(env.cabourotte.request_count(), 0, "Cabourotte was not asked");
}

/// Under `--log-format json`, a fatal error is one JSON event on stderr like every other log line, not miette's
/// report: a log shipper reads it as it reads the rest.
#[test]
fn a_broken_config_under_json_logs_is_one_json_event_naming_the_problem() {
    let env = Env::new();
    env.config("[services.dns]\nprefixes.frrouting = [\"192.0.2.241/28\"]\nchecks.cabourotte = [\"dns\"]\n");
    let run = env.anycastd(["--log-format", "json", "apply"]).run().code(1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", run.stderr);
    let event: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON event");
    assert_eq!(
        (&event["level"], &event["event"], &event["command"]),
        (&json!("error"), &json!("pass-failed"), &json!("apply"))
    );
    assert!(event["timestamp"].as_str().is_some_and(|at| at.ends_with('Z') && at.len() == 27), "{event}");
    let reason = event["reason"].as_str().expect("a reason");
    assert!(reason.starts_with("the configuration [DIR]/config.toml has 1 error"), "{reason}");
    assert!(reason.contains("prefix `192.0.2.241/28` has host bits set"), "{reason}");
    assert!(env.vtysh_calls().is_empty(), "vtysh was not called");
}

#[test]
fn check_validates_and_summarises() {
    let env = Env::new();
    let run = env.anycastd(["check"]).run().success();
    snapshot!("check-seed-text", run.stdout);
    let run = env.anycastd(["--format", "json", "validate"]).run();
    assert_eq!(json(&run)["services"][1]["checks"][0]["interval_seconds"], 1.0);
    assert!(env.vtysh_calls().is_empty() && env.cabourotte.request_count() == 0, "check touches nothing");
}

#[test]
fn the_shipped_example_is_valid_under_every_option_spelling() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/config.toml");
    for args in
        [vec!["-c", example, "check"], vec!["--config", example, "check"], vec!["check", "--configuration", example]]
    {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_anycastd")).args(&args).output().expect("run");
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_anycastd"))
        .arg("check")
        .env("ANYCASTD_CONFIG", example)
        .output()
        .expect("run");
    assert!(output.status.success(), "ANYCASTD_CONFIG is honoured");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let env = Env::new();
    assert!(!env.anycastd(["plan"]).run().stdout.contains('\u{1b}'), "no colour when not a terminal");
    assert!(env.anycastd(["--color", "always", "plan"]).run().stdout.contains('\u{1b}'));
}

#[test]
fn run_loop_follows_health_and_withdraws_on_sigterm() {
    let env = Env::new();
    let looping = env.anycastd(["run", "--interval", "200ms"]).spawn();
    wait_until("all announced", || env.networks() == ALL_ANNOUNCED);
    env.cabourotte.failing("dns", "timeout");
    wait_until("dns withdrawn", || env.networks() == ALL_ANNOUNCED[..2]);
    let Run { code, stderr, .. } = looping.stop("TERM");
    assert_eq!(code, 0, "{stderr}");
    assert!(env.networks().is_empty(), "SIGTERM withdraws every managed prefix");
    assert!(!env.state_dir().join("maintenance.json").exists(), "stopping is not maintenance");
}

/// Passes slower than the interval (a slow vtysh, a loaded machine) must not keep the loop from reading SIGTERM:
/// before, every poll was due at once and the loop polled back to back, never stopping nor withdrawing.
#[test]
fn run_loop_whose_passes_outlast_the_interval_still_stops_and_withdraws_on_sigterm() {
    let env = Env::new();
    env.slow(Some(0.3));
    let looping = env.anycastd(["run", "--interval", "100ms", "--resync", "0"]).spawn();
    wait_until("all announced", || env.networks() == ALL_ANNOUNCED);
    let Run { code, stderr, .. } = looping.terminate(Duration::from_secs(20));
    assert_eq!(code, 0, "{stderr}");
    assert!(env.networks().is_empty(), "SIGTERM withdraws every managed prefix");
}

#[test]
fn run_loop_keeps_prefixes_on_exit_when_asked() {
    let env = Env::new();
    let looping = env.anycastd(["run", "--interval", "200ms", "--keep-on-exit"]).spawn();
    wait_until("all announced", || env.networks() == ALL_ANNOUNCED);
    looping.stop("INT").success();
    assert_eq!(env.networks(), ALL_ANNOUNCED);
}

/// The fake vtysh has no `bgpd_pid_file` (only `/usr/bin/vtysh` gets Debian's): `run` reads FRR on every pass, and
/// says so once at start, with the fix, however many passes and reloads follow. Given the pid file of a running bgpd, it says
/// nothing and an idle pass calls no vtysh. (Before, nothing said why `run` never idled with another vtysh.)
#[test]
fn run_says_once_that_it_reads_an_unwatched_frr_on_every_pass() {
    let env = Env::new();
    let looping = env.anycastd(["run", "--interval", "100ms"]).spawn();
    wait_until("all announced", || env.networks() == ALL_ANNOUNCED);
    env.clear_vtysh_calls();
    let reads = || -> Vec<Vec<String>> {
        env.vtysh_calls().into_iter().filter(|call| call.iter().any(|arg| arg == "show running-config")).collect()
    };
    wait_until("three passes more, each reading FRR's running config", || reads().len() >= 3);
    looping.signal("HUP");
    wait_until("reloaded", || looping.stderr().contains("anycastd run: reloaded:"));
    let run = looping.stop("TERM").normalized(&env);
    assert_eq!(run.code, 0, "{run}");
    let told = "anycastd run: bgpd-unwatched: [DIR]/vtysh has no bgpd_pid_file: run cannot tell a restarted bgpd, so \
                it reads that FRR's running config on every pass (every 100 ms), not only at the resync; set \
                bgpd_pid_file = \"PATH\" on its prefixes, the pid file that bgpd writes (/run/frr/bgpd.pid for \
                Debian's FRR)";
    assert_eq!(run.stderr.lines().filter(|line| *line == told).count(), 1, "{run}");
    assert_eq!(run.stderr.matches("bgpd-unwatched").count(), 1, "{run}");

    // A bgpd to watch: a process named bgpd (a copy of sleep), and its pid file.
    let bgpd_path = env.dir.join("bgpd");
    std::fs::copy("/bin/sleep", &bgpd_path).expect("copy sleep as bgpd");
    let mut bgpd = std::process::Command::new(&bgpd_path).arg("60").spawn().expect("start the fake bgpd");
    let pid_file = env.dir.join("bgpd.pid");
    std::fs::write(&pid_file, format!("{}\n", bgpd.id())).expect("write the pid file");
    let watched = format!("vtysh = \"{{vtysh}}\", bgpd_pid_file = \"{}\"", pid_file.display());
    env.config(&support::env::SEED_CONFIG.replace("vtysh = \"{vtysh}\"", &watched));
    let looping = env.anycastd(["run", "--interval", "100ms"]).spawn();
    wait_until("all announced again", || env.networks() == ALL_ANNOUNCED);
    std::thread::sleep(Duration::from_millis(500));
    env.clear_vtysh_calls();
    std::thread::sleep(Duration::from_secs(1));
    // The running config is what memory spares; the last changing pass may still be asking whom FRR advertises to.
    let idle_reads = reads();
    let run = looping.stop("TERM");
    let _ = bgpd.kill();
    let _ = bgpd.wait();
    assert_eq!(run.code, 0, "{run}");
    run.stderr_lacks("bgpd-unwatched");
    assert_eq!(idle_reads, Vec::<Vec<String>>::new(), "ten idle passes of a watched bgpd read no running config");
}

/// A service deleted from the configuration: anycastd announced its prefixes, so it withdraws them, and says why.
/// (Before, they stayed announced for ever with nothing checking them, and no plan mentioned them.)
#[test]
fn a_service_removed_from_the_configuration_is_withdrawn() {
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ALL_ANNOUNCED);
    env.config(support::env::SEED_CONFIG.split("[services.ntp]").next().expect("the dns part"));
    let plan = env.anycastd(["--color", "never", "plan", "--detailed-exitcode"]).run().code(2);
    plan.stdout_has("ntp: no longer in the configuration\n");
    plan.stdout_has("  - 203.0.113.123/32");
    let json = json(&env.anycastd(["--format", "json", "plan"]).run());
    assert_eq!(json["departed"][0]["name"], "ntp", "{json}");
    assert_eq!(json["departed"][0]["state"], "removed", "{json}");
    assert_eq!(json["departed"][0]["prefixes"][0]["action"], "withdraw", "{json}");
    let applied = env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ["default 2001:db8::b19:bad:53/128", "default 203.0.113.53/32"]);
    applied.stderr_has(
        "anycastd apply: withdrawn 203.0.113.123/32 for service ntp (VRF 123, AS 65537): no longer in the \
             configuration\n",
    );
    let again = env.anycastd(["--color", "never", "plan", "--detailed-exitcode"]).run();
    assert_eq!(again.code, 0, "nothing left to do: {again:?}");
    again.stdout_lacks("ntp");
}

/// A typo appended to the file by configuration management: the timer's next pass still withdraws a service whose
/// check fails, with the last valid configuration, announces nothing, exits 1 and says what is wrong, in one line
/// with its place in the file. (Before, every
/// pass exited 1 before doing anything, and the failing service stayed announced for as long as the typo stayed.)
#[test]
fn a_broken_configuration_never_stops_a_health_driven_withdrawal() {
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ALL_ANNOUNCED);
    let valid = std::fs::read_to_string(env.config_path()).expect("the configuration");
    std::fs::write(env.config_path(), format!("{valid}\noops = = \n")).expect("a typo");
    env.cabourotte.failing("dns", "SERVFAIL");
    let metrics = env.dir.join("anycastd.prom");
    let applied = env.anycastd(["--metrics-file", &metrics.display().to_string(), "apply"]).run().code(1);
    assert_eq!(env.networks(), ["123 2001:db8::123:7e11:713e/128", "123 203.0.113.123/32"], "dns withdrawn");
    let text = std::fs::read_to_string(&metrics).expect("the metrics file");
    assert!(text.contains("\nanycastd_configuration_valid 0\n"), "{text}");
    assert!(text.contains("\nanycastd_errors_total{kind=\"config_invalid\"} 1\n"), "{text}");
    let first = applied.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("anycastd apply: config-invalid: the configuration ")
            && first
                .contains("config.toml has 1 error: line 15, column 8: invalid TOML: extra `=`, expected nothing; ")
            && first.ends_with(
                "; until it is fixed, the last valid configuration stands in: services whose checks fail are \
                 withdrawn, nothing is announced"
            ),
        "{}",
        applied.stderr
    );
    assert!(
        applied.stdout.starts_with(
            "Error: the configuration [DIR]/config.toml is not valid (see the config-invalid log line); the last valid \
             one stands in; this pass withdraws but announces nothing\n"
        ),
        "{}",
        applied.stdout
    );
    env.cabourotte.healthy("dns");
    let refused = env.anycastd(["apply"]).run().code(1);
    assert_eq!(env.networks().len(), 2, "nothing announced while the file is broken: {refused:?}");
    let plan = env.anycastd(["--color", "never", "plan"]).run().code(1);
    assert!(plan.stderr.contains("config-invalid"), "plan shows what the file says: {}", plan.stderr);
    assert!(plan.stdout.contains("not announced: the configuration"), "and what is done meanwhile: {}", plan.stdout);
    std::fs::write(env.config_path(), valid).expect("fixed");
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ALL_ANNOUNCED, "announced again once the file is fixed");
}

/// With no last valid configuration that can be trusted (here: none cached yet), a broken file changes nothing and
/// fails loudly: withdrawing everything over a typo pushed to every node would take the service down everywhere.
#[test]
fn a_broken_configuration_without_a_last_valid_one_changes_nothing() {
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    std::fs::remove_file(env.state_dir().join("config-cache.json")).expect("no cache");
    let valid = std::fs::read_to_string(env.config_path()).expect("the configuration");
    std::fs::write(env.config_path(), format!("{valid}\noops = = \n")).expect("a typo");
    env.cabourotte.failing("dns", "SERVFAIL");
    let applied = env.anycastd(["--color", "never", "apply"]).run().code(1);
    assert_eq!(env.networks(), ALL_ANNOUNCED, "nothing changed");
    applied.stderr_has("oops");
}

/// An operator moving a prefix into FRR's own configuration tells anycastd to let go of it: `forget` it, and removing
/// its service from the configuration leaves it announced. The plan says how.
#[test]
fn a_forgotten_prefix_is_left_announced_when_its_service_is_removed() {
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    env.config(support::env::SEED_CONFIG.split("[services.ntp]").next().expect("the dns part"));
    let plan = env.anycastd(["--color", "never", "plan"]).run();
    plan.stdout_has(
        "To keep one announced without anycastd, announce it from the routing daemon's own configuration (FRR: a \
         `network` line; BIRD: a protocol not named `anycastd_*`) and run `anycastd forget PREFIX`.",
    );
    let forgot = env.anycastd(["forget", "203.0.113.123", "--vrf", "123"]).run().success();
    assert_eq!(
        forgot.stdout,
        "Forgot 203.0.113.123/32 in VRF 123 (announced for service ntp through [DIR]/vtysh): anycastd no longer \
         withdraws it; FRR keeps it as it is.\n"
    );
    env.anycastd(["apply"]).run().success();
    assert_eq!(
        env.networks(),
        ["123 203.0.113.123/32", "default 2001:db8::b19:bad:53/128", "default 203.0.113.53/32"],
        "the forgotten prefix stays, the other one of ntp is withdrawn"
    );
    let again = env.anycastd(["forget", "203.0.113.123"]).run();
    again.stdout_is("203.0.113.123/32 is not in the record of managed prefixes: nothing to forget.\n");
    let wrong = env.anycastd(["forget", "203.0.113.123/24"]).run().code(64);
    wrong.stderr_has("203.0.113.123/24 has host bits set; did you mean 203.0.113.0/24?");
}

/// `run` started while the file is broken: the last valid configuration stands in, a failing service is withdrawn,
/// nothing is announced, and a SIGHUP that finds the file fixed ends it.
#[test]
fn run_started_on_a_broken_configuration_still_withdraws_and_a_fixed_reload_ends_it() {
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    let valid = std::fs::read_to_string(env.config_path()).expect("the configuration");
    std::fs::write(env.config_path(), format!("{valid}\noops = = \n")).expect("a typo");
    env.cabourotte.failing("dns", "SERVFAIL");
    let metrics = env.dir.join("anycastd.prom");
    let looping =
        env.anycastd(["--metrics-file", &metrics.display().to_string(), "run", "--interval", "200ms"]).spawn();
    support::wait::wait_until("dns withdrawn", || env.networks().len() == 2);
    support::wait::wait_until("the metrics say the file is broken", || {
        std::fs::read_to_string(&metrics).is_ok_and(|text| text.contains("\nanycastd_configuration_valid 0\n"))
    });
    env.cabourotte.healthy("dns");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(env.networks().len(), 2, "nothing announced while the file is broken");
    std::fs::write(env.config_path(), valid).expect("fixed");
    looping.signal("HUP");
    support::wait::wait_until("dns announced again after the reload", || env.networks() == ALL_ANNOUNCED);
    let Run { code, stderr, .. } = looping.stop("TERM");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.starts_with("anycastd run: config-invalid: "), "{stderr}");
}
