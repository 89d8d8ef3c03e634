//! Plans from files, as a user's CI renders them: `plan --running-config FILE --health FILE`, on the shipped example
//! config and real FRR and Cabourotte answers. The output must be deterministic and touch neither vtysh nor the
//! network.

use crate::support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use support::cabourotte::FakeCabourotte;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/config.toml");

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

/// An empty state directory (no maintenance), unique to the test.
fn state_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anycastd-offline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn plan(args: &[&str], state: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anycastd"))
        .args(["-c", EXAMPLE, "--state-dir"])
        .arg(state)
        .arg("plan")
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run anycastd")
}

/// The text plan of the example config from two files, with `--detailed-exitcode`; asserts the exit code. (The
/// situations' snapshots, text and JSON, are in `plan_output.rs`, which proves offline and live plans equal.)
fn offline_text(name: &str, running_config: &str, health: &str, expected_code: i32) -> String {
    let (running, health) = (fixture(running_config), fixture(health));
    let text = plan(&["--running-config", &running, "--health", &health, "--detailed-exitcode"], &state_dir(name));
    let stdout = String::from_utf8_lossy(&text.stdout).into_owned();
    assert_eq!(text.status.code(), Some(expected_code), "{stdout}{}", String::from_utf8_lossy(&text.stderr));
    stdout
}

#[test]
fn nothing_announced_yet_everything_is_to_announce() {
    let out = offline_text("nothing-announced", "frr-8.4.4-nothing-announced.txt", "cabourotte-all-healthy.json", 2);
    assert!(out.ends_with("Plan: 4 to announce, 0 to withdraw, 0 unchanged.\n"), "{out}");
}

#[test]
fn everything_in_sync() {
    let state = state_dir("in-sync");
    let (running, health) = (fixture("frr-8.4.4-running-config.txt"), fixture("cabourotte-all-healthy.json"));
    let out = offline_text("in-sync", "frr-8.4.4-running-config.txt", "cabourotte-all-healthy.json", 0);
    assert!(out.ends_with("Plan: 0 to announce, 0 to withdraw, 4 unchanged.\n"), "{out}");
    snapshot!("offline-in-sync-text", out);
    let json = plan(&["--running-config", &running, "--health", &health, "--format", "json"], &state);
    snapshot!("offline-in-sync-json", String::from_utf8_lossy(&json.stdout).into_owned());
}

#[test]
fn drift_a_failing_check_withdraws_its_service() {
    let out = offline_text("drift", "frr-8.4.4-running-config.txt", "cabourotte-result-list.json", 2);
    assert!(out.ends_with("Plan: 0 to announce, 2 to withdraw, 2 unchanged.\n"), "{out}");
}

#[test]
fn unmanaged_networks_are_not_part_of_the_plan() {
    let out = offline_text("unmanaged", "frr-8.4.4-running-config.txt", "cabourotte-result-list.json", 2);
    assert!(!out.contains("192.0.2.0/24") && !out.contains("198.51.100.0/24"), "{out}");
}

#[test]
fn a_vrf_instance_missing_is_an_error_with_the_block_to_add() {
    let out = offline_text("missing-vrf", "frr-8.4.4-without-vrf-123.txt", "cabourotte-all-healthy.json", 1);
    assert!(out.contains("add `router bgp <ASN> vrf 123` to FRR's configuration"), "{out}");
}

#[test]
fn maintenance_keeps_everything_withdrawn_even_when_healthy() {
    let state = state_dir("maintenance");
    std::fs::create_dir_all(&state).expect("state dir");
    let marker = r#"{"since": 1764067200, "by": "alice", "reason": "kernel upgrade"}"#;
    std::fs::write(state.join("maintenance.json"), marker).expect("marker");
    let running = fixture("frr-8.4.4-running-config.txt");
    let out = plan(&["--running-config", &running, "--assume", "healthy"], &state);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("Maintenance since 2025-11-25T10:40:00Z by alice: kernel upgrade\n"), "{stdout}");
    assert!(stdout.ends_with("Plan: 0 to announce, 4 to withdraw, 0 unchanged.\n"), "{stdout}");
    let _ = std::fs::remove_dir_all(&state);
}

/// FRR 7.5.1 and 10.3 (real outputs from the lab), the pre-8.2 layout and both list shapes of Cabourotte.
#[test]
fn every_frr_release_layout_and_both_list_shapes_give_the_same_plan() {
    let state = state_dir("layouts");
    let render = |running: &str, health: &str| {
        let (running, health) = (fixture(running), fixture(health));
        plan(&["--running-config", &running, "--health", &health, "--format", "json"], &state).stdout
    };
    let reference = render("frr-8.4.4-running-config.txt", "cabourotte-result-list.json");
    assert!(String::from_utf8_lossy(&reference).contains(r#""action": "withdraw""#), "a plan with changes");
    assert_eq!(render("frr-7.x-layout-running-config.txt", "cabourotte-result-list.json"), reference);
    assert_eq!(render("frr-7.5.1-bgpd-running-config.txt", "cabourotte-result-list.json"), reference);
    assert_eq!(render("frr-10.3-bgpd-running-config.txt", "cabourotte-result-list.json"), reference);
    assert_eq!(render("frr-8.4.4-running-config.txt", "cabourotte-result-list-wrapped.json"), reference);
}

#[test]
fn the_running_config_can_come_from_stdin_and_health_be_assumed() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anycastd"))
        .args(["-c", EXAMPLE, "--state-dir"])
        .arg(state_dir("stdin"))
        .args(["plan", "--running-config", "-", "--assume", "unhealthy"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start");
    let running = std::fs::read(fixture("frr-8.4.4-running-config.txt")).expect("fixture");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &running).expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.ends_with("Plan: 0 to announce, 4 to withdraw, 0 unchanged.\n"), "{stdout}");
    assert!(stdout.contains("✗ check dns: assumed with --assume unhealthy"), "{stdout}");
}

#[test]
fn an_offline_plan_touches_neither_vtysh_nor_cabourotte() {
    let cabourotte = FakeCabourotte::start();
    let dir = state_dir("untouched");
    std::fs::create_dir_all(&dir).expect("dir");
    let config = std::fs::read_to_string(EXAMPLE)
        .expect("example")
        .replace("\"203.0.113.53\"]", "{ prefix = \"203.0.113.53\", vtysh = \"/nonexistent/vtysh\" }]")
        .replace(
            "checks.cabourotte = [\"dns\"]",
            &format!("checks.cabourotte = [{{ name = \"dns\", url = \"{}\" }}]", cabourotte.url()),
        );
    std::fs::write(dir.join("config.toml"), config).expect("config");
    let (running, health) = (fixture("frr-8.4.4-running-config.txt"), fixture("cabourotte-all-healthy.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_anycastd"))
        .arg("-c")
        .arg(dir.join("config.toml"))
        .arg("--state-dir")
        .arg(&dir)
        .args(["plan", "--running-config", &running, "--health", &health])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(cabourotte.request_count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_health_file_that_is_not_a_result_list_is_an_error() {
    let running = fixture("frr-8.4.4-running-config.txt");
    let bad = fixture("README.md");
    let out = plan(&["--running-config", &running, "--health", &bad, "--color", "never"], &state_dir("bad-health"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unexpected answer, not a Cabourotte result list"), "{stderr}");
}

#[test]
fn the_ci_recipe_passes_on_its_sample_and_shows_a_diff_when_the_config_changes() {
    let recipe = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ci");
    let run = |dir: &str| {
        Command::new("bash")
            .arg(format!("{recipe}/render-plans.sh"))
            .arg(dir)
            .env("ANYCASTD", env!("CARGO_BIN_EXE_anycastd"))
            .output()
            .expect("run the recipe")
    };
    let unchanged = run(recipe);
    assert_eq!(unchanged.status.code(), Some(0), "{}", String::from_utf8_lossy(&unchanged.stdout));
    assert_eq!(String::from_utf8_lossy(&unchanged.stdout), "== edge1: plan unchanged\n== edge2: plan unchanged\n");

    let copy = state_dir("ci-recipe");
    let copied = Command::new("cp").arg("-r").arg(recipe).arg(&copy).status().expect("cp");
    assert!(copied.success());
    let config = copy.join("config.toml");
    let edited = std::fs::read_to_string(&config).expect("config").replace("[\"dns\"]", "[\"dns\", \"resolver\"]");
    std::fs::write(&config, edited).expect("edit config");
    let changed = run(&copy.display().to_string());
    let stdout = String::from_utf8_lossy(&changed.stdout);
    assert_eq!(changed.status.code(), Some(1));
    assert!(stdout.contains("+  - 203.0.113.53/32              withdraw   AS 65536, default VRF"), "{stdout}");
    let _ = std::fs::remove_dir_all(&copy);
}

/// A BIRD configuration planned in CI from what `birdc show route table all where proto ~ "anycastd_*" all` printed, as birdc
/// prints it on BIRD 2.0 and 3.1, or with `-v`'s reply codes: the drained prefix is restored, the announced one
/// stays, the new one is announced; no BIRD is asked. Without the file, an offline plan says what it lacks.
#[test]
fn a_bird_plan_from_birdc_s_output() {
    let dir = state_dir("bird");
    std::fs::create_dir_all(&dir).expect("a folder");
    let config = dir.join("bird.toml");
    std::fs::write(
        &config,
        "[services.dns]\nprefixes.bird = [\"203.0.113.53\", \"2001:db8::53\", \"203.0.113.54\"]\n\
         checks.cabourotte = [\"dns\"]\n",
    )
    .expect("the configuration");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_anycastd"))
            .arg("-c")
            .arg(&config)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(["plan", "--assume", "healthy", "--detailed-exitcode"])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("run anycastd")
    };
    for file in ["bird-2.0.12-show-route.txt", "bird-2.0.12-show-route-v.txt", "bird-3.1.8-show-route.txt"] {
        let planned = run(&["--bird-routes", &fixture(file)]);
        let out = String::from_utf8_lossy(&planned.stdout);
        assert_eq!(planned.status.code(), Some(2), "{file}: {out}{}", String::from_utf8_lossy(&planned.stderr));
        for line in [
            "  ~ 203.0.113.53/32   restore    BIRD\n",
            "  + 203.0.113.54/32   announce   BIRD\n",
            "    2001:db8::53/128  announced  BIRD\n",
            "Plan: 1 to announce, 0 to withdraw, 1 to restore, 1 unchanged.\n",
        ] {
            assert!(out.contains(line), "{file}: {line:?} in\n{out}");
        }
    }
    let without = run(&["--running-config", &fixture("frr-8.4.4-nothing-announced.txt")]);
    assert_eq!(without.status.code(), Some(1));
    let out = String::from_utf8_lossy(&without.stdout);
    assert!(out.contains("an offline plan does not ask BIRD: give what it has with --bird-routes"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
