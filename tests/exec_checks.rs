//! Command checks (`checks.exec`) with real commands: small shell scripts written into the test's directory, run by
//! the real binary against the fake FRR. Each test asserts what the operator sees: the plan's check lines, the
//! networks FRR has after `apply`, the exit status, and that nothing a check started is left running.
//!
//! The scripts are run as `/bin/sh SCRIPT`, not executed themselves: a script just written could be busy
//! (ETXTBSY) while another test thread forks, which would make a test flaky for a reason that is not anycastd's.

use std::time::{Duration, Instant};

use crate::support::env::Env;

/// A service `dns` announcing 203.0.113.53 while its exec checks (`checks`, TOML items) pass.
fn exec_service(checks: &str) -> String {
    format!(
        "[services.dns]\nprefixes.frrouting = [{{ prefix = \"203.0.113.53\", vtysh = \"{{vtysh}}\" }}]\n\
         checks.exec = [\n{checks}\n]\n"
    )
}

/// Writes `body` as a shell script named `name` in the test's directory; its path.
fn script(env: &Env, name: &str, body: &str) -> String {
    let path = env.dir.join(name);
    std::fs::write(&path, format!("{body}\n")).expect("write the script");
    path.display().to_string()
}

/// An exec check item running the script at `path` with /bin/sh, with `extra` keys.
fn item(name: &str, path: &str, extra: &str) -> String {
    format!("  {{ name = \"{name}\", command = [\"/bin/sh\", \"{path}\"]{extra} }},")
}

/// A word unique to this test process and `tag`, put in a `sleep` argument to find the process later.
fn marker(tag: u32) -> String {
    format!("4{tag}.{}", std::process::id())
}

/// How many processes have `needle` in their command line.
fn processes_with(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).replace('\0', " ").contains(needle))
        .count()
}

#[test]
fn exit_0_announces_and_exit_2_withdraws_with_the_first_line_as_the_message() {
    let env = Env::new();
    let ok = script(&env, "ok.sh", "echo 'DNS OK - 0.01 seconds response time'; exit 0");
    env.config(&exec_service(&item("dns-local", &ok, "")));
    let plan = env.anycastd(["plan"]).run().success();
    plan.stdout_has("dns: healthy\n  ✓ check dns-local: success\n  + 203.0.113.53/32");
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ["default 203.0.113.53/32"]);

    script(&env, "ok.sh", "echo 'DNS CRITICAL - no answer from 127.0.0.1'; echo 'second line'; exit 2");
    let apply = env.anycastd(["apply"]).run().success();
    apply.stdout_has("  ✗ check dns-local: exit status 2: DNS CRITICAL - no answer from 127.0.0.1\n");
    apply.stdout_lacks("second line");
    assert!(env.networks().is_empty(), "withdrawn: {:?}", env.networks());
}

#[test]
fn exit_1_fails_unless_the_check_lets_warnings_pass() {
    let env = Env::new();
    let warn = script(&env, "warn.sh", "echo 'LOAD WARNING - load average: 7.1'; exit 1");
    env.config(&exec_service(&item("load", &warn, "")));
    env.anycastd(["plan"])
        .run()
        .success()
        .stdout_has("  ✗ check load: exit status 1: LOAD WARNING - load average: 7.1\n");
    env.config(&exec_service(&item("load", &warn, ", warning_is_failure = false")));
    env.anycastd(["apply"]).run().success().stdout_has("  ✓ check load: success\n");
    assert_eq!(env.networks(), ["default 203.0.113.53/32"]);
}

#[test]
fn exit_3_is_a_checker_error_under_on_checker_error() {
    let env = Env::new();
    let check = script(&env, "check.sh", "exit 0");
    let keep =
        exec_service(&item("dns-local", &check, "")).replace("checks.exec", "on_checker_error = \"keep\"\nchecks.exec");
    env.config(&keep);
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ["default 203.0.113.53/32"]);
    script(&env, "check.sh", "echo 'DNS UNKNOWN - invalid option'; exit 3");
    let apply = env.anycastd(["apply"]).run();
    apply.stdout_has("  ✗ check dns-local: checker error: exit status 3 (UNKNOWN): DNS UNKNOWN - invalid option\n");
    assert_eq!(env.networks(), ["default 203.0.113.53/32"], "kept, as on_checker_error = \"keep\" says");
    env.config(&exec_service(&item("dns-local", &check, "")));
    env.anycastd(["apply"]).run();
    assert!(env.networks().is_empty(), "withdrawn by the default on_checker_error: {:?}", env.networks());
}

/// A check that ignores SIGTERM and sleeps past its timeout is killed with its whole process group at the timeout:
/// the pass does not wait for it, and neither it nor its `sleep` is left.
#[test]
fn a_check_past_its_timeout_is_killed_with_its_group_even_when_it_ignores_sigterm() {
    let env = Env::new();
    let mark = marker(1);
    let slow = script(&env, "slow.sh", &format!("trap '' TERM\necho starting\nsleep {mark}\necho done"));
    env.config(&exec_service(&item("slow", &slow, ", timeout = \"500ms\"")));
    let started = Instant::now();
    let apply = env.anycastd(["apply"]).run();
    let took = started.elapsed();
    apply.stdout_has(
        "  ✗ check slow: checker error: no result within its timeout of 500 ms: the command and every process it \
         started were killed\n",
    );
    assert!(env.networks().is_empty());
    assert!(took < Duration::from_secs(10), "the pass took {took:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(processes_with(&format!("sleep {mark}")), 0, "the check's sleep must be gone");
    assert_eq!(processes_with(&slow), 0, "the check itself must be gone");
}

/// A check that forks a helper and exits: its exit is its end. The pass neither waits for the helper (which holds
/// the check's stdout open) nor leaves it running.
#[test]
fn a_helper_forked_by_a_check_neither_holds_the_pass_nor_survives_it() {
    let env = Env::new();
    let mark = marker(2);
    let forks = script(&env, "forks.sh", &format!("sleep {mark} &\necho 'OK - helper started'\nexit 0"));
    env.config(&exec_service(&item("forks", &forks, ", timeout = \"20s\"")));
    let started = Instant::now();
    env.anycastd(["apply"]).run().success().stdout_has("  ✓ check forks: success\n");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "the pass waited for the helper: {took:?}");
    assert_eq!(env.networks(), ["default 203.0.113.53/32"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(processes_with(&format!("sleep {mark}")), 0, "the helper must not outlive the check");
}

/// A check that prints a megabyte on one line: only the start of it is read into the message, and the pass ends.
#[test]
fn a_megabyte_of_output_is_bounded_in_the_message_and_does_not_hang_the_pass() {
    let env = Env::new();
    let chatty = script(&env, "chatty.sh", "head -c 1048576 /dev/zero | tr '\\0' x\necho\nexit 2");
    env.config(&exec_service(&item("chatty", &chatty, ", timeout = \"10s\"")));
    let started = Instant::now();
    let plan = env.anycastd(["plan"]).run().success();
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    let line = plan.stdout.lines().find(|line| line.contains("check chatty")).expect("the check's line").to_string();
    assert_eq!(line, format!("  ✗ check chatty: exit status 2: {}…", "x".repeat(200)));
}

/// The command runs without a shell in between, in `/`, with only PATH and LC_ALL of its own.
#[test]
fn a_check_sees_a_small_fixed_environment() {
    let env = Env::new();
    let shows = script(&env, "env.sh", "echo \"HOME=$HOME USER=$USER LC_ALL=$LC_ALL PATH=$PATH in $(pwd) $1\"; exit 2");
    let item = format!("  {{ name = \"env\", command = [\"/bin/sh\", \"{shows}\", \"$HOME;`id`\"] }},");
    env.config(&exec_service(&item));
    let plan = env.anycastd(["plan"]).run().success();
    plan.stdout_has(
        "  ✗ check env: exit status 2: HOME= USER= LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin in / $HOME;`id`\n",
    );
}

/// A program that is not installed: `check` and an offline plan warn (the configuration stays valid), and a pass
/// that runs it fails the check and withdraws.
#[test]
fn a_missing_program_is_a_warning_offline_and_a_failing_check_when_it_runs() {
    let env = Env::new();
    env.config(&exec_service(
        "  { name = \"dns-local\", command = [\"/usr/lib/nagios/plugins/check_nothing_here\", \"-H\", \"x\"] },",
    ));
    let warning = "service dns, exec check dns-local: /usr/lib/nagios/plugins/check_nothing_here: no such file or \
                   directory; the check fails where its program cannot be run";
    env.anycastd(["check"]).run().success().stdout_has(warning);
    let health = env.dir.join("health.json");
    std::fs::write(&health, r#"[{"name": "dns-local", "success": true, "message": ""}]"#).expect("write");
    let running = env.dir.join("frr/running-config");
    let args = ["plan", "--health", health.to_str().unwrap_or_default(), "--running-config"];
    let offline = env.anycastd(args.into_iter().chain([running.to_str().unwrap_or_default()])).run().success();
    offline.stdout_has(warning).stdout_has("  ✓ check dns-local: success\n  + 203.0.113.53/32");
    let apply = env.anycastd(["apply"]).run();
    apply.stdout_has(
        "  ✗ check dns-local: cannot run /usr/lib/nagios/plugins/check_nothing_here: no such file or directory\n",
    );
    assert!(env.networks().is_empty());
}

/// `plan --health FILE` answers exec checks by name, as Cabourotte's; an exec check the file does not name has no
/// result, and its service is unhealthy.
#[test]
fn an_offline_plan_takes_exec_results_from_the_health_file_by_name() {
    let env = Env::new();
    let ok = script(&env, "ok.sh", "exit 0");
    env.config(&exec_service(&(item("a", &ok, "") + "\n" + &item("b", &ok, ""))));
    let health = env.dir.join("health.json");
    let running = env.dir.join("frr/running-config");
    let plan = |body: &str| {
        std::fs::write(&health, body).expect("write");
        let args = ["plan", "--health", health.to_str().unwrap_or_default(), "--running-config"];
        env.anycastd(args.into_iter().chain([running.to_str().unwrap_or_default()])).run()
    };
    plan(r#"[{"name": "a", "success": true}, {"name": "b", "success": false, "message": "down in CI"}]"#)
        .success()
        .stdout_has("dns: unhealthy\n  ✓ check a: success\n  ✗ check b: down in CI\n");
    plan(r#"[{"name": "a", "success": true}]"#).success().stdout_has(
        "  ✗ check b: no result for this command check (it was not run, or the health file has no entry of its \
         name)\n",
    );
}

/// A service with both types of checks is healthy only when every one passes: a passing Cabourotte does not make up
/// for a failing command.
#[test]
fn both_types_mixed_must_all_pass() {
    let env = Env::new();
    let fails = script(&env, "fails.sh", "echo 'CRITICAL'; exit 2");
    let mixed = format!(
        "[services.dns]\nprefixes.frrouting = [{{ prefix = \"203.0.113.53\", vtysh = \"{{vtysh}}\" }}]\n\
         checks.cabourotte = [{{ name = \"dns\", url = \"{{url}}\" }}]\nchecks.exec = [\n{}\n]\n",
        item("local", &fails, "")
    );
    env.config(&mixed);
    let apply = env.anycastd(["apply"]).run().success();
    apply.stdout_has("dns: unhealthy\n  ✓ check dns: success\n  ✗ check local: exit status 2: CRITICAL\n");
    assert!(env.networks().is_empty());
    script(&env, "fails.sh", "exit 0");
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ["default 203.0.113.53/32"]);
}

/// `check --exec` runs every command once and says what each said; a checker error fails `check`.
#[test]
fn check_exec_runs_each_command_once_and_reports() {
    let env = Env::new();
    let count = env.dir.join("runs");
    let ok = script(&env, "ok.sh", &format!("echo run >> {}\nexit 0", count.display()));
    let unknown = script(&env, "unknown.sh", "echo 'UNKNOWN - no such host'; exit 3");
    env.config(&exec_service(&(item("ok", &ok, "") + "\n" + &item("unknown", &unknown, ""))));
    let check = env.anycastd(["check", "--exec"]).run().code(1);
    check.stdout_has("service dns, exec check ok").stdout_has("success");
    check.stdout_has("checker error: exit status 3 (UNKNOWN): UNKNOWN - no such host");
    assert_eq!(std::fs::read_to_string(&count).unwrap_or_default(), "run\n", "run exactly once");
    assert!(env.networks().is_empty(), "check announces nothing");
}

/// In `run`, a command runs at its own check's `interval`, not on every pass: the loop's passes come at the shortest
/// interval of all checks.
#[test]
fn run_runs_each_command_at_its_own_interval() {
    let env = Env::new();
    let (fast_runs, slow_runs) = (env.dir.join("fast-runs"), env.dir.join("slow-runs"));
    let fast = script(&env, "fast.sh", &format!("echo run >> {}\nexit 0", fast_runs.display()));
    let slow = script(&env, "slow.sh", &format!("echo run >> {}\nexit 0", slow_runs.display()));
    let checks = item("fast", &fast, ", interval = \"200ms\"") + "\n" + &item("slow", &slow, ", interval = \"60s\"");
    env.config(&exec_service(&checks));
    let running = env.anycastd(["run"]).spawn();
    let runs = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default().lines().count();
    let deadline = Instant::now() + Duration::from_secs(20);
    while runs(&fast_runs) < 6 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let stopped = running.stop("TERM");
    assert!(runs(&fast_runs) >= 6, "the 200 ms check ran {} times; stderr: {}", runs(&fast_runs), stopped.stderr);
    assert_eq!(runs(&slow_runs), 1, "the 60 s check runs once in this time, not at every pass");
    assert!(env.networks().is_empty(), "withdrawn on SIGTERM");
}

/// An exec check is seen like a Cabourotte one by the metrics (`check` label: its name), by the hook
/// (`ANYCASTD_REASON` names it with its message), and by `fall`: one failing pass of two keeps the service announced.
#[test]
fn metrics_hooks_and_fall_see_exec_checks() {
    let env = Env::new();
    let check = script(&env, "check.sh", "echo 'DNS OK'; exit 0");
    let hook_out = env.dir.join("hook.out");
    let hook = format!(
        "fall = 2\non_change = [\"/bin/sh\", \"-c\", \"echo \\\"$ANYCASTD_STATE $ANYCASTD_REASON\\\" >> {}\"]\n",
        hook_out.display()
    );
    env.config(&exec_service(&item("dns-local", &check, "")).replace("checks.exec", &format!("{hook}checks.exec")));
    let path = env.dir.join("anycastd.prom");
    let metrics = path.display().to_string();
    env.anycastd(["--metrics-file", &metrics, "apply"]).run().success();
    let written = std::fs::read_to_string(&path).expect("metrics written");
    assert!(written.contains("anycastd_check_success{service=\"dns\",check=\"dns-local\"} 1\n"), "{written}");

    script(&env, "check.sh", "echo 'DNS CRITICAL - no answer'; exit 2");
    env.anycastd(["apply"]).run().success().stdout_has("dns: unhealthy 1/2, still announced\n");
    assert_eq!(env.networks(), ["default 203.0.113.53/32"], "fall = 2 holds the first failure");
    env.anycastd(["--metrics-file", &metrics, "apply"]).run().success();
    assert!(env.networks().is_empty());
    let written = std::fs::read_to_string(&path).expect("metrics written");
    assert!(written.contains("anycastd_check_success{service=\"dns\",check=\"dns-local\"} 0\n"), "{written}");
    let hooked = std::fs::read_to_string(&hook_out).expect("the hook ran");
    assert!(hooked.contains("withdrawn check dns-local failed: exit status 2: DNS CRITICAL - no answer"), "{hooked}");
}

/// With `on_checker_error = "keep"`, a checker error of an exec check says so in the service's line, not that
/// Cabourotte could not be asked.
#[test]
fn a_kept_service_says_its_exec_check_had_a_checker_error() {
    let env = Env::new();
    let check = script(&env, "check.sh", "exit 0");
    let keep =
        exec_service(&item("dns-local", &check, "")).replace("checks.exec", "on_checker_error = \"keep\"\nchecks.exec");
    env.config(&keep);
    env.anycastd(["apply"]).run().success();
    script(&env, "check.sh", "exit 3");
    let plan = env.anycastd(["plan"]).run();
    plan.stdout_has(
        "dns: health unknown (an exec check ended in a checker error): prefixes kept as they are (on_checker_error = \
         \"keep\")\n",
    );
    plan.stdout_has(
        "1 check had no verdict (Cabourotte could not be asked, or an exec check ended in a checker error).",
    );
}

/// A broken configuration file: the last valid configuration, from the cache, stands in, and its exec check still
/// runs, so that a failure withdraws. The command that runs is the one of the valid file, not one of the broken file.
#[test]
fn the_last_valid_configuration_runs_its_exec_checks_when_the_file_is_broken() {
    let env = Env::new();
    let runs = env.dir.join("runs");
    let cached = script(&env, "cached.sh", &format!("echo cached >> {}\nexit 0", runs.display()));
    let valid = exec_service(&item("dns-local", &cached, ""));
    env.config(&valid);
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ["default 203.0.113.53/32"]);
    let other = script(&env, "other.sh", &format!("echo other >> {}\nexit 0", runs.display()));
    env.config(&(exec_service(&item("dns-local", &other, "")) + "oops = = \n"));
    script(&env, "cached.sh", &format!("echo cached >> {}\nexit 2", runs.display()));
    env.anycastd(["apply"]).run().code(1);
    assert!(env.networks().is_empty(), "withdrawn by the cached configuration's failing check");
    assert_eq!(std::fs::read_to_string(&runs).unwrap_or_default(), "cached\ncached\n", "only the valid file's command");
}

/// Maintenance keeps a service withdrawn whatever its exec checks say, until `resume`.
#[test]
fn maintenance_keeps_a_service_with_passing_exec_checks_withdrawn() {
    let env = Env::new();
    let ok = script(&env, "ok.sh", "exit 0");
    env.config(&exec_service(&item("dns-local", &ok, "")));
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ["default 203.0.113.53/32"]);
    env.anycastd(["withdraw-all"]).run().success();
    env.anycastd(["apply"]).run().success().stdout_has("dns: in maintenance (checks healthy)\n");
    assert!(env.networks().is_empty());
    env.anycastd(["resume"]).run().success();
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), ["default 203.0.113.53/32"]);
}

/// The JSON report gives an exec check its type and no URL.
#[test]
fn the_json_report_types_exec_checks() {
    let env = Env::new();
    let fails = script(&env, "fails.sh", "echo 'CRITICAL - down'; exit 2");
    env.config(&exec_service(&item("dns-local", &fails, "")));
    let plan = env.anycastd(["plan"]).json().run().success();
    let report: serde_json::Value = serde_json::from_str(&plan.stdout).expect("a JSON report");
    let check = &report["services"][0]["checks"][0];
    assert_eq!(
        check,
        &serde_json::json!({
            "name": "dns-local",
            "type": "exec",
            "status": "failing",
            "passed": false,
            "reason": "exit status 2: CRITICAL - down",
        })
    );
}
