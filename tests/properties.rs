//! Properties that must hold for any input, however large or hostile: no panic, a bounded cost, and an error that
//! names the place. Each bound on time here is generous (many times what the check takes on 2 cores), so it only
//! fails on a cost that grows the wrong way.

mod support;

use std::time::{Duration, Instant};

use support::env::Env;

#[test]
fn ten_thousand_config_errors_are_all_reported_in_bounded_time() {
    let env = Env::new();
    let prefixes: String = (1..=10_000).map(|i| format!("  \"10.0.{}.{}/8\",\n", i / 256, i % 256)).collect();
    env.config(&format!("[services.dns]\nchecks.cabourotte = [\"dns\"]\nprefixes.frrouting = [\n{prefixes}]\n"));
    let started = Instant::now();
    let run = env.run(&["--color", "never", "check"]);
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
