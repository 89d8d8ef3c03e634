//! What an operator relies on in production: the run lock, log lines, the metrics file, quiet mode.

use crate::support;
use crate::support::anycastd::Run;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anycastd::clock::utc_timestamp;
use serde_json::json;

use support::env::Env;
use support::wait::wait_until;

/// Parses a Prometheus text file into `name{labels}` → value, checking that every metric has HELP and TYPE lines.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut values = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("`series value` lines");
        let name = series.split('{').next().expect("a name");
        assert!(text.contains(&format!("# HELP {name} ")), "HELP for {name}");
        assert!(text.contains(&format!("# TYPE {name} ")), "TYPE for {name}");
        values.insert(series.to_string(), value.parse().expect("a number"));
    }
    values
}

#[test]
fn a_second_changing_command_waits_for_the_lock_then_names_the_holder() {
    let env = Env::new();
    env.hang();
    let holder = env.anycastd(["--vtysh-timeout", "3s", "apply"]).spawn();
    let holding = format!("pid {} running `anycastd apply`", holder.pid());
    wait_until("the holder has the lock", || {
        std::fs::read_to_string(env.state_dir().join("lock")).is_ok_and(|text| text == holding)
    });
    let started = Instant::now();
    // It then withdraws without the lock, through the same hung vtysh: cut that short.
    let second = env.anycastd(["--lock-timeout", "400ms", "--vtysh-timeout", "300ms", "withdraw-all"]).run();
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(second.code, 1);
    let expected = format!(
        "(pid {} running `anycastd apply`); gave up after 400 ms; this pass withdraws but announces nothing",
        holder.pid()
    );
    second.stderr_has(&expected);
    second.stderr_has("another anycastd holds the lock [DIR]/state/lock");
    let plan = env.anycastd(["--vtysh-timeout", "200ms", "plan"]).run();
    assert!(!plan.stderr.contains("lock"), "plan does not take the lock: {}", plan.stderr);
    let held = holder.wait(Duration::from_secs(60));
    assert_eq!(held.code, 1, "the hung vtysh timed out: {held}");
    assert_eq!(env.anycastd(["--lock-timeout", "400ms", "resume"]).run().code, 0, "the lock is free again");
}

#[test]
fn every_change_is_one_log_line_on_stderr() {
    let env = Env::new();
    let run = env.anycastd(["apply"]).run();
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "anycastd apply: announced 203.0.113.53/32 for service dns (default VRF, AS 65536): every check passes",
            "anycastd apply: announced 2001:db8::b19:bad:53/128 for service dns (default VRF, AS 65536): every check passes",
            "anycastd apply: announced 203.0.113.123/32 for service ntp (VRF 123, AS 65537): every check passes",
            "anycastd apply: announced 2001:db8::123:7e11:713e/128 for service ntp (VRF 123, AS 65537): every check passes",
        ]
    );
    assert_eq!(env.anycastd(["apply"]).run().stderr, "", "no change, no log line");
    env.cabourotte.failing("ntp_v4", "exit status 1");
    let run = env.anycastd(["--log-format", "json", "apply"]).run();
    let events: Vec<serde_json::Value> =
        run.stderr.lines().map(|line| serde_json::from_str(line).expect("one JSON object per line")).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["event"], "withdrawn");
    assert_eq!(events[0]["service"], "ntp");
    assert_eq!(events[0]["prefix"], "203.0.113.123/32");
    assert_eq!(events[0]["vrf"], "123");
    assert_eq!(events[0]["reason"], "check ntp_v4 failed: exit status 1");
}

#[test]
fn the_metrics_file_describes_the_last_pass_and_counts_errors() {
    let env = Env::new();
    let path = env.dir.join("anycastd.prom");
    let metrics = path.display().to_string();
    env.cabourotte.failing("ntp_v4", "exit status 1");
    env.anycastd(["--metrics-file", &metrics, "apply"]).run().success();
    let values = parse_metrics(&std::fs::read_to_string(&path).expect("metrics written"));
    assert_eq!(values["anycastd_service_healthy{service=\"dns\"}"], 1.0);
    assert_eq!(values["anycastd_service_healthy{service=\"ntp\"}"], 0.0);
    assert_eq!(values["anycastd_check_success{service=\"ntp\",check=\"ntp_v4\"}"], 0.0);
    assert_eq!(
        values["anycastd_prefix_announced{service=\"dns\",prefix=\"203.0.113.53/32\",vrf=\"default\",daemon=\"frr\"}"],
        1.0
    );
    assert_eq!(
        values["anycastd_prefix_announced{service=\"ntp\",prefix=\"203.0.113.123/32\",vrf=\"123\",daemon=\"frr\"}"],
        0.0
    );
    assert_eq!(values["anycastd_maintenance"], 0.0);
    assert!(values["anycastd_last_pass_timestamp_seconds"] > 1.7e9);
    assert!(values["anycastd_last_pass_duration_seconds"] > 0.0);
    assert_eq!(values["anycastd_errors_total{kind=\"checker_unavailable\"}"], 0.0);

    env.cabourotte.force_answer(500, "down");
    env.anycastd(["--metrics-file", &metrics, "apply"]).run().code(1);
    env.anycastd(["--metrics-file", &metrics, "apply"]).run().code(1);
    let values = parse_metrics(&std::fs::read_to_string(&path).expect("metrics written"));
    assert_eq!(values["anycastd_errors_total{kind=\"checker_unavailable\"}"], 6.0, "3 checks, 2 passes");
    assert_eq!(
        values["anycastd_prefix_announced{service=\"dns\",prefix=\"203.0.113.53/32\",vrf=\"default\",daemon=\"frr\"}"],
        0.0
    );
    let leftovers: Vec<_> = std::fs::read_dir(&env.dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".anycastd.prom"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left behind");
}

/// A metrics file that cannot be written is an error of the pass, exit 1: a monitoring system reading it would
/// see an old pass as the last one. (It was logged as `pass-failed`, and the command exited 0.)
#[test]
fn a_metrics_file_that_cannot_be_written_fails_the_pass() {
    let env = Env::new();
    let metrics = env.dir.join("missing-directory/anycastd.prom").display().to_string();
    let run = env.anycastd(["--metrics-file", &metrics, "apply"]).run().code(1);
    assert_eq!(env.networks().len(), 4, "the pass itself went ahead");
    assert!(
        run.stderr.starts_with(
            "anycastd apply: state-error: cannot write [DIR]/missing-directory/anycastd.prom: No such file or \
             directory (os error 2)\n"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn quiet_prints_no_report_but_still_logs() {
    let env = Env::new();
    let run = env.anycastd(["--quiet", "apply"]).run().success();
    run.stdout_is("");
    assert_eq!(run.stderr.lines().count(), 4);
}

#[test]
fn the_config_cache_never_hides_an_edit() {
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    assert!(env.state_dir().join("config-cache.json").exists(), "apply caches the validated config");
    assert_eq!(env.networks().len(), 4);

    // The same length, one character different: ntp's IPv4 prefix moves from .123 to .124.
    let text = std::fs::read_to_string(env.config_path()).expect("config");
    std::fs::write(env.config_path(), text.replace("203.0.113.123", "203.0.113.124")).expect("edit");
    env.anycastd(["apply"]).run().success();
    assert!(env.running_config().contains("network 203.0.113.124/32"), "the edit is applied at once");

    std::fs::write(env.config_path(), "[services.dns]\nprefixes.frrouting = [\"192.0.2.241/28\"]\n").expect("break it");
    let broken = env.anycastd(["apply"]).run().code(1);
    assert!(broken.stderr.contains("host bits set"), "a broken edit is reported, not hidden by the cache");

    std::fs::write(env.state_dir().join("config-cache.json"), "{ damaged").expect("damage the cache");
    std::fs::write(env.config_path(), text).expect("restore");
    assert_eq!(env.anycastd(["apply"]).run().code, 0, "a damaged cache is ignored");
    assert!(env.running_config().contains("network 203.0.113.123/32"), "the restored config is applied");
}

#[test]
fn the_metrics_file_is_written_before_the_run_lock_is_released() {
    let env = Env::new();
    let metrics = env.dir.join("anycastd.prom");
    let seen = env.dir.join("seen");
    std::fs::create_dir_all(&seen).expect("seen dir");
    // A vtysh that first keeps a copy of the metrics file as it is when called: what a pass sees under the lock.
    let spy = env.dir.join("vtysh-spy");
    let script = format!(
        "#!/bin/sh\nn=$(ls {seen} | wc -l)\ncp {metrics} {seen}/$n 2>/dev/null || : > {seen}/$n\nexec {vtysh} \"$@\"\n",
        seen = seen.display(),
        metrics = metrics.display(),
        vtysh = env.vtysh().display()
    );
    std::fs::write(&spy, script).expect("spy");
    std::fs::set_permissions(&spy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    // dns's hook, run after the lock is released, holds its pass until the test lets it go.
    let release = env.dir.join("release");
    let hook = format!(
        "on_change = [\"/bin/sh\", \"-c\", \"while [ ! -e {} ]; do sleep 0.05; done\"]\non_change_timeout = \"60s\"\n",
        release.display()
    );
    let template = support::env::SEED_CONFIG.replace("[services.dns]\n", &format!("[services.dns]\n{hook}"));
    env.config(&template.replace("{vtysh}", &spy.display().to_string()));
    let metrics_arg = metrics.display().to_string();
    let first = env.anycastd(["--metrics-file", &metrics_arg, "apply"]).spawn();
    wait_until("the first pass read, applied, verified, looked up VRF 123's RIB and read what FRR advertises", || {
        std::fs::read_dir(&seen).map(|dir| dir.count()).unwrap_or(0) >= 5
    });
    let second = env.anycastd(["--metrics-file", &metrics_arg, "--lock-timeout", "30s", "apply"]).spawn();
    wait_until("the second pass reads FRR under the lock", || {
        std::fs::read_dir(&seen).map(|dir| dir.count()).unwrap_or(0) >= 6
    });
    let seen_by_second = std::fs::read_to_string(seen.join("5")).expect("the copy");
    std::fs::write(&release, "").expect("release the hook");
    let (first, second) = (first.wait(Duration::from_secs(60)), second.wait(Duration::from_secs(60)));
    assert_eq!((first.code, second.code), (0, 0), "{first}\n{second}");
    let values = if seen_by_second.is_empty() { BTreeMap::new() } else { parse_metrics(&seen_by_second) };
    assert_eq!(
        values.get(
            "anycastd_prefix_announced{service=\"dns\",prefix=\"203.0.113.53/32\",vrf=\"default\",daemon=\"frr\"}"
        ),
        Some(&1.0),
        "the second pass found the first one's metrics when it took the lock: {seen_by_second:?}"
    );
}

/// The original anycastd's `run` command line starts ours unchanged; with `--log-format json` every stderr line of
/// the loop is JSON, the start-up and signal lines too, and the withdrawal on SIGTERM is logged as `run`.
#[test]
fn the_originals_run_flags_work_and_json_logs_are_json_throughout() {
    let env = Env::new();
    let looping = env.anycastd(["run", "--log-level", "info", "--log-format", "human", "--no-color"]).spawn();
    wait_until("announced", || env.networks().len() == 4);
    let Run { code, stderr, .. } = looping.stop("TERM");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("anycastd run: stopping: received SIGTERM, withdrawing every managed prefix\n"),
        "{stderr}"
    );

    let looping = env.anycastd(["run", "--interval", "200ms", "--log-format", "json"]).spawn();
    wait_until("announced again", || env.networks().len() == 4);
    let Run { code, stderr, .. } = looping.stop("TERM");
    assert_eq!(code, 0, "{stderr}");
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|event| event["event"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"started"), "{stderr}");
    assert!(kinds.contains(&"stopping"), "{stderr}");
    let withdrawn: Vec<_> = events.iter().filter(|event| event["event"] == "withdrawn").collect();
    assert_eq!(withdrawn.len(), 4, "{stderr}");
    assert!(withdrawn.iter().all(|e| e["command"] == "run" && e["reason"] == "received SIGTERM"), "{stderr}");
}

/// `--log-format logfmt` (the original's third format) and `--log-level` (here: only errors).
#[test]
fn logfmt_lines_and_the_log_level() {
    let env = Env::new();
    let run = env.anycastd(["--log-format", "logfmt", "apply"]).run().success();
    assert!(
        run.stderr.lines().any(|line| line.starts_with(
            "level=info event=announced command=apply service=dns prefix=203.0.113.53/32 vrf=default asn=65536 \
             daemon=frr reason=\"every check passes\" service_name=dns service_healthy=true message=\"anycastd apply: \
             announced 203.0.113.53/32 for service dns (default VRF, AS 65536): every check passes\" timestamp="
        )),
        "{}",
        run.stderr
    );
    env.cabourotte.failing("dns", "timeout");
    let quiet = env.anycastd(["--log-level", "error", "apply"]).run().success();
    assert_eq!(quiet.stderr, "", "withdrawals are info, below the level");
    assert_eq!(env.networks().len(), 2, "but they happened");
}

/// The `timestamp` of a log line, checked to be RFC 3339 in UTC to the microsecond (`2025-11-25T10:40:00.123456Z`,
/// the shape of the original's) and written between `before` and `after`.
fn assert_timestamp(timestamp: &str, before: SystemTime, after: SystemTime) {
    let shape = timestamp.bytes().enumerate().all(|(at, byte)| match at {
        4 | 7 => byte == b'-',
        10 => byte == b'T',
        13 | 16 => byte == b':',
        19 => byte == b'.',
        26 => byte == b'Z',
        _ => byte.is_ascii_digit(),
    });
    assert!(shape && timestamp.len() == 27, "not RFC 3339 to the microsecond: {timestamp:?}");
    let seconds = |time: SystemTime| time.duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    let (earliest, latest) = (utc_timestamp(seconds(before)), utc_timestamp(seconds(after) + 1));
    let whole = format!("{}Z", &timestamp[..19]);
    assert!(earliest <= whole && whole <= latest, "{timestamp} is not between {earliest} and {latest}");
}

/// Every JSON and logfmt line carries a timestamp, and a pipeline keyed on the original anycastd's fields finds
/// them: `timestamp`, `level`, `service_name`, `service_healthy` (`true` for an announcement, `false` for a
/// withdrawal of a failed service, `null` when health was not asked, as by `withdraw-all`); our `event` stays the
/// code, the sentence is `message`, the text line.
#[test]
fn json_and_logfmt_lines_carry_a_timestamp_and_the_originals_fields() {
    let env = Env::new();
    let json_lines = |args: &[&str]| {
        let before = SystemTime::now();
        let run = env.anycastd(args.iter().copied()).run();
        let after = SystemTime::now();
        let events: Vec<serde_json::Value> = run
            .stderr
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
            .collect();
        for event in &events {
            assert_timestamp(event["timestamp"].as_str().expect("a timestamp"), before, after);
        }
        events
    };
    let announced = json_lines(&["--log-format", "json", "apply"]);
    assert_eq!(announced.len(), 4);
    for event in &announced {
        assert_eq!(
            (&event["level"], &event["event"], &event["service_healthy"]),
            (&json!("info"), &json!("announced"), &json!(true))
        );
        assert_eq!(event["service_name"], event["service"]);
    }
    assert_eq!(announced[0]["service_name"], "dns");
    assert_eq!(
        announced[0]["message"],
        "anycastd apply: announced 203.0.113.53/32 for service dns (default VRF, AS 65536): every check passes"
    );
    env.cabourotte.failing("ntp_v4", "exit status 1");
    let withdrawn = json_lines(&["--log-format", "json", "apply"]);
    assert_eq!(withdrawn.len(), 2);
    for event in &withdrawn {
        let fields = (&event["event"], &event["service_name"], &event["service_healthy"]);
        assert_eq!(fields, (&json!("withdrawn"), &json!("ntp"), &json!(false)));
    }
    let maintenance = json_lines(&["--log-format", "json", "withdraw-all"]);
    assert_eq!(maintenance.len(), 2, "dns's two prefixes");
    assert!(maintenance.iter().all(|event| event["service_name"] == "dns" && event["service_healthy"].is_null()));

    env.anycastd(["resume"]).run().success();
    let before = SystemTime::now();
    let run = env.anycastd(["--log-format", "logfmt", "apply"]).run().success();
    let after = SystemTime::now();
    assert_eq!(run.stderr.lines().count(), 2, "{}", run.stderr);
    for line in run.stderr.lines() {
        let (_, timestamp) = line.rsplit_once(" timestamp=").unwrap_or_else(|| panic!("no timestamp: {line}"));
        assert_timestamp(timestamp, before, after);
        assert!(line.contains(" service_name=dns service_healthy=true message="), "{line}");
    }
}
