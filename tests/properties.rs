//! Properties that must hold for any input, however large or hostile: no panic, a bounded cost, and an error that
//! names the place. Each bound on time here is generous (many times what the check takes on 2 cores), so it only
//! fails on a cost that grows the wrong way.

use crate::support;

use std::time::{Duration, Instant};

use support::env::Env;

#[test]
fn ten_thousand_config_errors_are_all_reported_in_bounded_time() {
    let env = Env::new();
    let prefixes: String = (1..=10_000).map(|i| format!("  \"10.0.{}.{}/8\",\n", i / 256, i % 256)).collect();
    env.config(&format!("[services.dns]\nchecks.cabourotte = [\"dns\"]\nprefixes.frrouting = [\n{prefixes}]\n"));
    let started = Instant::now();
    let run = env.anycastd(["--color", "never", "check"]).run();
    let took = started.elapsed();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with("  × the configuration [DIR]/config.toml has 10000 errors\n"),
        "{}",
        &run.stderr[..200]
    );
    assert_eq!(run.stderr.matches("has host bits set").count(), 10_000);
    assert!(run.stderr.contains("   ╭─[[DIR]/config.toml:10003:3]\n"), "the last error points at its line");
    assert!(took < Duration::from_secs(20), "linear in the number of errors: took {took:?} (about 1 s expected)");
}

use proptest::prelude::*;

/// Lines of FRR's running config, whole or broken.
fn a_running_config() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("router bgp 65536"),
        Just("router bgp 65537 vrf 123"),
        Just(" address-family ipv4 unicast"),
        Just("  network 203.0.113.53/32"),
        Just("  network 203.0.113.123/32"),
        Just(" exit-address-family"),
        Just("exit"),
        Just(""),
        Just("end"),
        Just("\u{1b}[2J garbage"),
    ];
    prop::collection::vec(line, 0..20).prop_map(|lines| lines.join("\n"))
}

/// Cabourotte answers, well formed or not.
fn a_health_file() -> impl Strategy<Value = String> {
    let entry = prop_oneof![
        Just(r#"{"name": "dns", "success": true}"#),
        Just(r#"{"name": "dns", "success": "true"}"#),
        Just(
            r#"{"name": "ntp_v4", "success": false, "message": "timeout\nanycastd apply: announced 198.18.0.0/15\u001b[2K"}"#
        ),
        Just(r#"{"name": "ntp_v6", "success": true, "healthcheck-timestamp": 1.5}"#),
        Just(r#"{"name": 7}"#),
        Just(r#"[[[[[[[[[[]]]]]]]]]]"#),
    ];
    (prop::collection::vec(entry, 0..6), any::<bool>(), 0usize..4).prop_map(|(entries, wrapped, damage)| {
        let list = format!("[{}]", entries.join(", "));
        let body = if wrapped { format!("{{\"result\": {list}}}") } else { list };
        match damage {
            0 => body[..body.len() / 2].to_string(),
            _ => body,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn an_offline_plan_of_any_input_ends_with_a_plan_or_an_error_naming_the_input(
        running in a_running_config(),
        health in a_health_file(),
    ) {
        let env = Env::new();
        let (running_path, health_path) = (env.dir.join("running-config.txt"), env.dir.join("health.json"));
        std::fs::write(&running_path, &running).expect("write");
        std::fs::write(&health_path, &health).expect("write");
        let started = Instant::now();
        let run = env.anycastd([
            "--color", "never", "plan", "--detailed-exitcode",
            "--running-config", &running_path.display().to_string(),
            "--health", &health_path.display().to_string(),
        ]).run();
        prop_assert!(started.elapsed() < Duration::from_secs(10));
        prop_assert!(matches!(run.code, 0..=2), "{:?}", run);
        for output in [&run.stdout, &run.stderr] {
            prop_assert!(!output.contains('\u{1b}'), "{:?}", output);
            prop_assert!(!output.lines().any(|line| line.starts_with("anycastd apply:")), "{}", output);
        }
        if run.stdout.is_empty() {
            prop_assert_eq!(run.code, 1);
            prop_assert!(
                run.stderr.contains("--running-config [DIR]/running-config.txt: ")
                    || run.stderr.contains("--health [DIR]/health.json: "),
                "{}", run.stderr
            );
        } else {
            prop_assert!(run.stdout.contains("Plan: "), "{}", run.stdout);
            prop_assert!(!run.stdout.contains("+ ") || health.contains(r#""name": "dns", "success": true"#), "{}", run.stdout);
        }
    }
}
