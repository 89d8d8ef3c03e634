//! Hostile or broken input from outside the TOML file (Cabourotte's answers, vtysh's output, input files, absurd
//! values on the command line): each gets a clear error naming the place, changes nothing, and never panics.

use crate::support;

use support::anycastd::Run;
use support::env::Env;

/// Replaces the fake vtysh with a script that prints `output` for `show running-config` and records nothing else:
/// an FRR whose answer anycastd must not trust.
fn vtysh_printing(env: &Env, output: &str) {
    let file = env.dir.join("frr/printed");
    std::fs::write(&file, output).expect("write the output");
    let script = format!("#!/bin/sh\necho \"$@\" >> {}\ncat {}\n", env.dir.join("frr/args").display(), file.display());
    std::fs::write(env.vtysh(), script).expect("replace the fake vtysh");
}

#[test]
fn a_running_config_cut_before_its_end_line_is_an_error_and_nothing_is_announced() {
    let env = Env::new();
    let cut = support::env::EMPTY_FRR.strip_suffix("end\n").expect("ends with end");
    vtysh_printing(&env, cut);
    let run = env.anycastd(["--color", "never", "apply"]).run().code(1);
    run.stdout_has(
        "Error: cannot read FRR's running config through [DIR]/vtysh: FRR's running config ended before its `end` \
         line: vtysh output was cut short\n",
    );
    run.stdout_has(
        "! 203.0.113.53/32              error (default VRF): cannot read FRR's running config through [DIR]/vtysh \
         (see above)\n",
    );
    assert!(run.stdout.ends_with("Applied: 0 announced, 0 withdrawn, 0 unchanged, 4 errors.\n"), "{}", run.stdout);
    let calls = std::fs::read_to_string(env.dir.join("frr/args")).expect("vtysh was called");
    assert!(!calls.contains("-f"), "no configuration batch was sent: {calls}");
}

#[test]
fn an_offline_running_config_without_its_end_line_is_refused() {
    let env = Env::new();
    let file = env.dir.join("cut.txt");
    std::fs::write(&file, "router bgp 65536\n address-family ipv4 unicast\n").expect("write");
    let run = env
        .anycastd(["--color", "never", "plan", "--running-config", &file.display().to_string(), "--assume", "healthy"])
        .run();
    assert_eq!(run.code, 1, "{run:?}");
    run.stdout_is("");
    run.stderr_has(
        "--running-config [DIR]/cut.txt: FRR's running config ended before its `end` line: vtysh output was cut short",
    );
}

#[test]
fn a_check_listed_twice_in_one_answer_counts_as_failing_if_either_entry_fails() {
    let env = Env::new();
    env.cabourotte.force_answer(
        200,
        r#"[{"name": "dns", "success": false, "message": "timeout"}, {"name": "dns", "success": true, "message": "success"},
            {"name": "ntp_v4", "success": true}, {"name": "ntp_v6", "success": true}]"#,
    );
    let run = env.anycastd(["--color", "never", "apply"]).run().success();
    assert!(run.stdout.starts_with("dns: unhealthy\n  ✗ check dns: timeout\n"), "{}", run.stdout);
    assert_eq!(env.networks(), ["123 2001:db8::123:7e11:713e/128", "123 203.0.113.123/32"]);
}

const OTHER_CHECKS: &str = r#"{"name": "ntp_v4", "success": true}, {"name": "ntp_v6", "success": true}"#;

#[test]
fn a_malformed_result_fails_its_check_naming_the_entry_and_the_field() {
    let env = Env::new();
    env.cabourotte.force_answer(200, &format!(r#"[{{"name": "dns", "success": "true"}}, {OTHER_CHECKS}]"#));
    let run = env.anycastd(["--color", "never", "plan"]).run().success();
    assert!(
        run.stdout.starts_with(
            "dns: unhealthy\n  ✗ check dns: Cabourotte's result for dns is malformed: field \"success\" is a string, \
             expected true or false\n"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn entries_without_a_readable_name_are_described_under_a_check_with_no_result() {
    let env = Env::new();
    env.cabourotte.force_answer(200, &format!(r#"[{{"name": 53, "success": true}}, {OTHER_CHECKS}]"#));
    let run = env.anycastd(["--color", "never", "plan"]).run();
    run.stdout_has("✗ check dns: Cabourotte at http://[CABOUROTTE] has no result for this check; some entries of its answer \
             have no readable name, and one may be this check's: entry 1: field \"name\" is a number, expected a string\n");
}

#[test]
fn a_summary_nested_127_levels_deep_does_not_reject_the_list() {
    let env = Env::new();
    let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
    env.cabourotte
        .force_answer(200, &format!(r#"[{{"name": "dns", "summary": {deep}, "success": true}}, {OTHER_CHECKS}]"#));
    let run = env.anycastd(["--color", "never", "plan"]).run();
    assert!(run.stdout.starts_with("dns: healthy\n  ✓ check dns: success\n"), "{}", run.stdout);
}

#[test]
fn out_of_range_durations_on_the_command_line_are_usage_errors_not_panics() {
    let env = Env::new();
    for (args, message) in [
        (
            ["--lock-timeout", "18000000000000000000", "resume"],
            "invalid value '18000000000000000000' for '--lock-timeout <LOCK_TIMEOUT>': must be at most 1 h",
        ),
        (
            ["--http-timeout", "18000000000000000000", "apply"],
            "invalid value '18000000000000000000' for '--http-timeout <HTTP_TIMEOUT>': must be at most 1 h",
        ),
        (
            ["--vtysh-timeout", "0.0001ms", "apply"],
            "invalid value '0.0001ms' for '--vtysh-timeout <VTYSH_TIMEOUT>': must be at least 100 ms",
        ),
        (["--lock-timeout", "1e-10", "resume"], "invalid value '1e-10' for '--lock-timeout <LOCK_TIMEOUT>': "),
        (["run", "--interval", "1ms"], "invalid value '1ms' for '--interval <INTERVAL>': must be at least 100 ms"),
    ] {
        let run = env.anycastd(args).run();
        assert_eq!(run.code, 64, "{args:?}: {run:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
    assert!(env.networks().is_empty(), "nothing was applied");
}

/// A config whose prefixes are `prefixes` on one line, as a generator might write it.
fn one_line_of_prefixes(prefixes: &[String]) -> String {
    format!("[services.dns]\nprefixes.frrouting = [{}]\nchecks.cabourotte = [\"dns\"]\n", prefixes.join(", "))
}

#[test]
fn an_error_at_the_end_of_a_very_long_line_is_shown_in_a_window_of_it() {
    let env = Env::new();
    let mut prefixes: Vec<String> =
        (0..6000).map(|i| format!("\"10.{}.{}.{}\"", i / 65536, i / 256 % 256, i % 256)).collect();
    prefixes.push("\"192.0.2.300\"".to_string());
    env.config(&one_line_of_prefixes(&prefixes));
    let run = env.anycastd(["--color", "never", "check"]).run().code(1);
    snapshot!("config-error-long-line", run.stderr);
}

#[test]
fn a_syntax_error_after_a_65600_character_string_is_reported_not_a_panic() {
    let env = Env::new();
    env.config(&format!("[services.dns]\nname = \"{}\" ]\n", "a".repeat(65_600)));
    let run = env.anycastd(["--color", "never", "check"]).run().code(1);
    run.stderr_has("× invalid TOML: unexpected key or value, expected newline, `#`");
    run.stderr_has("[[DIR]/config.toml:2:65611]");
    assert!(run.stderr.len() < 2_000, "the excerpt is a window of the line: {} bytes", run.stderr.len());
}

/// The seed config with the dns check at `url`.
fn with_dns_url(env: &Env, url: &str) {
    env.config(&support::env::SEED_CONFIG.replace(
        "checks.cabourotte = [{ name = \"dns\", url = \"{url}\" }]",
        &format!("checks.cabourotte = [{{ name = \"dns\", url = \"{url}\" }}]"),
    ));
}

#[test]
fn a_password_is_masked_in_the_excerpt_of_a_config_error() {
    let env = Env::new();
    with_dns_url(&env, "https://anycast:s3cr3t@healthz.local:99999");
    let run = env.anycastd(["--color", "never", "check"]).run().code(1);
    run.stderr_lacks("s3cr3t");
    run.stderr_has("× invalid Cabourotte URL: the port must be a number from 0 to 65535\n");
    run.stderr_has("url = \"https://anycast:******@healthz.local:99999\" }]\n");
}

#[test]
fn a_password_holding_a_slash_is_never_quoted_as_a_port() {
    let env = Env::new();
    with_dns_url(&env, "https://anycast:s3/cr3t@healthz.local");
    let run = env.anycastd(["--color", "never", "check"]).run().code(1);
    run.stderr_lacks("s3");
    run.stderr_has(
        "× invalid Cabourotte URL: an `@` after the host: write a `/` of the user name or password as %2F\n",
    );
}

#[test]
fn a_password_is_masked_in_the_excerpt_of_a_syntax_error_on_its_line() {
    let env = Env::new();
    env.config("[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [{ name = \"dns\", url = 'http://u:p\"w@d@h' ]\n");
    let run = env.anycastd(["--color", "never", "check"]).run().code(1);
    run.stderr_has("url = 'http://u:*****@h' ]\n");
}

const FORGED: &str = "timeout\nanycastd apply: announced 198.18.0.0/15 for service dns (default VRF, AS 65536): every check \
                      passes\u{1b}[2K\u{1b}]0;pwned\u{7}";

#[test]
fn control_characters_from_cabourotte_are_escaped_in_the_plan_and_the_log() {
    let env = Env::new();
    env.anycastd(["apply"]).run();
    env.cabourotte.failing("ntp_v4", FORGED);
    let run = env.anycastd(["--color", "never", "apply"]).run().success();
    for output in [&run.stdout, &run.stderr] {
        assert!(!output.contains('\u{1b}') && !output.contains('\u{7}'), "{output:?}");
        assert!(!output.lines().any(|line| line.starts_with("anycastd apply: announced 198.18")), "{output}");
    }
    let escaped = "timeout\\nanycastd apply: announced 198.18.0.0/15 for service dns (default VRF, AS 65536): every check \
                   passes\\u{1b}[2K\\u{1b}]0;pwned\\u{7}";
    run.stdout_has(&format!("  ✗ check ntp_v4: {escaped}\n"));
    run.stderr_has(&format!(
            "anycastd apply: withdrawn 203.0.113.123/32 for service ntp (VRF 123, AS 65537): check ntp_v4 failed: {escaped}\n"
        ));
}

#[test]
fn control_characters_in_vtysh_output_are_escaped() {
    let env = Env::new();
    let script = "#!/bin/sh\nprintf '%% no\\033[2J\\n+ 198.18.0.0/15 announce\\n' >&2\nexit 1\n";
    std::fs::write(env.vtysh(), script).expect("replace the fake vtysh");
    let run = env.anycastd(["--color", "never", "apply"]).run().code(1);
    for output in [&run.stdout, &run.stderr] {
        assert!(!output.contains('\u{1b}'), "{output:?}");
        assert!(!output.lines().any(|line| line.starts_with("+ 198.18")), "{output}");
    }
    run.stdout_has("exited with 1: % no\\u{1b}[2J / + 198.18.0.0/15 announce\n");
}

#[test]
fn control_characters_are_escaped_in_configuration_errors() {
    let env = Env::new();
    env.config("[services.dns]\nprefixes.frrouting = [\"\\u001b]0;x\\u0007\"]\nchecks.cabourotte = [\"dns\"]\n");
    let run = env.anycastd(["--color", "never", "check"]).run().code(1);
    assert!(!run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'), "{:?}", run.stderr);
    run.stderr_has("× `\\u{1b}]0;x\\u{7}` is not an IP address or prefix\n");
    env.config("[services.dns]\n# a comment with \u{1b}[2J in it\n");
    let run = env.anycastd(["--color", "never", "check"]).run();
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
    run.stderr_has(" 2 │ # a comment with ?[2J in it\n");
}

#[test]
fn control_characters_are_escaped_in_other_errors() {
    let env = Env::new();
    let run = env
        .anycastd(["--color", "never", "plan", "--running-config", "/nonexistent/\u{1b}[2J", "--assume", "healthy"])
        .run();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
    run.stderr_has("cannot read --running-config /nonexistent/\\u{1b}[2J: No such file or directory");
}

#[test]
fn inputs_without_end_are_cut_at_their_size_limit_with_a_clear_error() {
    let env = Env::new();
    let huge = env.dir.join("huge.toml");
    std::fs::File::create(&huge).and_then(|file| file.set_len(17 << 20)).expect("a sparse 17 MiB file");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_anycastd"))
        .args(["--color", "never", "-c"])
        .arg(&huge)
        .arg("check")
        .output()
        .expect("run anycastd");
    let stderr = env.normalize(&String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "cannot read the configuration [DIR]/huge.toml: it is larger than 16 MiB, the most anycastd reads"
        ),
        "{stderr}"
    );
    let running = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/frr-8.4.4-running-config.txt");
    for (flag, limit, other) in
        [("--health", "16 MiB", ["--running-config", running]), ("--running-config", "64 MiB", ["--assume", "healthy"])]
    {
        let mut args = vec!["--color", "never", "plan", flag, "/dev/zero"];
        args.extend(other);
        let run = env.anycastd(&args).run().code(1);
        assert!(
            run.stderr
                .contains(&format!("cannot read {flag} /dev/zero: it is larger than {limit}, the most anycastd reads")),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_cabourotte_answer_over_16_mib_is_refused() {
    let env = Env::new();
    let padding = "x".repeat(17 * 1024 * 1024);
    env.cabourotte
        .force_answer(200, &format!(r#"[{{"name": "dns", "success": true, "summary": "{padding}"}}, {OTHER_CHECKS}]"#));
    let run = env.anycastd(["--color", "never", "plan"]).run().code(1);
    run.stdout_has(
        "✗ check dns: Cabourotte at http://[CABOUROTTE] could not be asked: its answer is larger than 16 MiB, the most \
             anycastd reads\n",
    );
}

#[test]
fn a_password_is_masked_in_a_message_quoting_a_misplaced_url() {
    let env = Env::new();
    env.config("[services.dns]\nprefixes.frrouting = [\"https://anycast:s3cr3t@healthz.local\"]\nchecks.cabourotte = [\"dns\"]\n");
    let run = env.anycastd(["--color", "never", "check"]).run().code(1);
    run.stderr_lacks("s3cr3t");
    run.stderr_has("× `https://anycast:******@healthz.local` is not an IP address or prefix\n");
}

fn mkfifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo").arg(path).status();
    assert!(made.is_ok_and(|status| status.success()), "mkfifo {}", path.display());
}

/// A FIFO where the configuration should be: opening it for reading would wait for a writer forever.
#[test]
fn a_fifo_or_a_device_as_the_configuration_is_refused_at_once() {
    let env = Env::new();
    let fifo = env.dir.join("fifo.toml");
    mkfifo(&fifo);
    let started = std::time::Instant::now();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_anycastd"));
    command.args(["--color", "never", "--state-dir"]).arg(env.state_dir()).arg("-c").arg(&fifo).arg("apply");
    let output = command.output().expect("run anycastd");
    let run = Run::of(&env, &command, &output);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "it waited {:?}", started.elapsed());
    assert_eq!(run.code, 1, "{run:?}");
    run.stderr_has(
        "cannot read the configuration [DIR]/fifo.toml: it is not a regular file (a FIFO, a device, a socket or a \
             directory)",
    );
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_anycastd"));
    command.args(["--color", "never", "-c", "/dev/zero", "check"]);
    let output = command.output().expect("run anycastd");
    let run = Run::of(&env, &command, &output);
    assert_eq!(run.code, 1, "{run:?}");
    run.stderr_has("cannot read the configuration /dev/zero: it is not a regular file");
}

/// A FIFO as the bgpd pid file, then one swapped in for the configuration before a SIGHUP: loop mode keeps
/// withdrawing failing services, and SIGTERM still withdraws everything and ends it. (Before: the loop blocked in
/// `open()` forever, deaf to SIGTERM; after SIGKILL every prefix stayed announced.)
#[test]
fn a_fifo_planted_as_the_bgpd_pid_file_or_at_reload_never_hangs_the_loop() {
    let env = Env::new();
    let pid_file = env.dir.join("bgpd.pid");
    mkfifo(&pid_file);
    let config = support::env::SEED_CONFIG
        .replace("vtysh = \"{vtysh}\"", &format!("vtysh = \"{{vtysh}}\", bgpd_pid_file = \"{}\"", pid_file.display()));
    assert_ne!(config, support::env::SEED_CONFIG);
    env.config(&config);
    let looping = env.anycastd(["run", "--interval", "200ms"]).spawn();
    let dns = "default 203.0.113.53/32".to_string();
    support::wait::wait_until("dns announced", || env.networks().contains(&dns));
    env.cabourotte.failing("dns", "timeout");
    support::wait::wait_until("dns withdrawn despite the FIFO pid file", || !env.networks().contains(&dns));
    env.cabourotte.healthy("dns");
    support::wait::wait_until("dns announced again", || env.networks().contains(&dns));

    std::fs::remove_file(env.config_path()).expect("remove the configuration");
    mkfifo(&env.config_path());
    let pid = looping.pid();
    let hup = std::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status();
    assert!(hup.is_ok_and(|status| status.success()));
    std::thread::sleep(std::time::Duration::from_millis(500));
    env.cabourotte.failing("dns", "timeout");
    support::wait::wait_until("dns withdrawn after the reload", || !env.networks().contains(&dns));
    let stopping = std::time::Instant::now();
    let Run { code, stderr, .. } = looping.stop("TERM");
    assert!(stopping.elapsed() < std::time::Duration::from_secs(15), "SIGTERM took {:?}: {stderr}", stopping.elapsed());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("reload-failed") && stderr.contains("it is not a regular file"),
        "the reload names the FIFO: {stderr}"
    );
    assert!(env.networks().is_empty(), "SIGTERM withdrew everything: {:?}", env.networks());
}
