//! BIRD as a second routing daemon (issue 26), against a real BIRD of every release the lab supports (Debian 12's
//! bird2 2.0, Debian 13's bird2 2.17 and bird3 3.1) and a real GoBGP peer: what the peer receives, that the BGP session
//! is never reset, and that a withdrawal gets through while the operator's bird.conf does not parse.

use crate::support;

use support::bird::{Bird, BirdLab, OPERATOR_OWN};
use support::peer::GRACEFUL_SHUTDOWN;

const DNS_V4: &str = "203.0.113.53/32";
const DNS_V6: &str = "2001:db8::53/128";

/// The lab's two prefixes: the IPv4 one drains (`drain = true`), the IPv6 one is withdrawn when drained.
const PREFIXES: [&str; 2] = [r#"prefix = "203.0.113.53", drain = true"#, r#"prefix = "2001:db8::53""#];

fn exit_code(output: &std::process::Output) -> Option<i32> {
    output.status.code()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Announced, drained (the peer sees 65535:0 on the prefix that drains; the other is withdrawn), restored, and
/// withdrawn when the check fails: each at the peer, and the BGP session set up once and never reset.
fn announces_drains_restores_and_withdraws_at_the_peer_without_resetting_the_session(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_config(&PREFIXES);
    let session = lab.session();
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);
    let again = lab.anycastd(&["apply"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 announced, 0 withdrawn, 2 unchanged"), "a no-op");

    assert_eq!(exit_code(&lab.anycastd(&["withdraw-all", "--drain", "1m", "--no-wait"])), Some(0));
    let drained = lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4]);
    assert!(drained[DNS_V4].has_community(GRACEFUL_SHUTDOWN), "{:?}", drained[DNS_V4]);
    assert!(!drained[OPERATOR_OWN].has_community(GRACEFUL_SHUTDOWN));

    assert_eq!(exit_code(&lab.anycastd(&["resume"])), Some(0));
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    let restored = lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);
    support::wait::Wait::new("the drain mark is gone at the peer")
        .until(|| (!lab.peer_routes().get(DNS_V4)?.has_community(GRACEFUL_SHUTDOWN)).then_some(()));
    drop(restored);

    lab.cabourotte.failing("dns", "SERVFAIL");
    let failed = lab.anycastd(&["apply"]);
    assert_eq!(exit_code(&failed), Some(0));
    assert!(
        stderr(&failed).contains(&format!("withdrawn {DNS_V4} for service dns (BIRD): check dns failed: SERVFAIL"))
    );
    lab.wait_peer_has(&[OPERATOR_OWN]);
    assert_eq!(lab.session(), session, "the session was never reset (its uptime and OPEN count are unchanged)");
}

/// The operator's half-done edit of bird.conf stops every `configure`: a failing service is withdrawn anyway (its
/// protocol disabled through the control socket), the pass says why, nothing can be announced until bird.conf parses,
/// and then the next pass announces.
fn a_broken_bird_conf_still_withdraws_and_announces_again_once_fixed(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_config(&PREFIXES);
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);

    lab.break_bird_conf();
    lab.cabourotte.failing("dns", "SERVFAIL");
    let withdrawn = lab.anycastd(&["apply", "--format", "json"]);
    lab.wait_peer_has(&[OPERATOR_OWN]);
    assert_eq!(exit_code(&withdrawn), Some(0), "the withdrawals were done");
    let report: serde_json::Value = serde_json::from_slice(&withdrawn.stdout).expect("JSON");
    assert_eq!(report["warning_codes"], serde_json::json!(["bird-refused-configuration"]), "{report}");
    assert!(stderr(&withdrawn).contains("would not load its configuration: 8002 "), "{}", stderr(&withdrawn));

    lab.cabourotte.healthy("dns");
    let refused = lab.anycastd(&["apply"]);
    assert_eq!(exit_code(&refused), Some(1), "nothing could be announced");
    assert!(
        stderr(&refused).contains("BIRD does not have the prefix after applying: BIRD would not load anycastd's file")
    );
    assert_eq!(lab.peer_routes().keys().cloned().collect::<Vec<_>>(), [OPERATOR_OWN]);

    lab.fix_bird_conf();
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);
}

/// A protocol added to anycastd's file by hand (and loaded with `birdc configure`) is gone after the next pass: the
/// file is anycastd's, and what BIRD has is compared with the plan, not only the file. So is one of anycastd's
/// protocols from another file BIRD includes.
fn a_hand_edit_of_anycastds_file_is_undone(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_config(&PREFIXES[..1]);
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4]);
    let mut text = std::fs::read_to_string(lab.file()).expect("anycastd's file");
    text.push_str(
        "protocol static anycastd_203_0_113_99_32 { ipv4 { preference 250; }; route 203.0.113.99/32 blackhole; }\n",
    );
    std::fs::write(lab.file(), text).expect("a hand edit");
    assert!(lab.birdc("configure").contains("0003 Reconfigured"));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, "203.0.113.99/32"]);

    let undone = lab.anycastd(&["apply"]);
    assert_eq!(exit_code(&undone), Some(0));
    assert!(
        stderr(&undone).contains("withdrawn 203.0.113.99/32 for service (none) (BIRD): no longer in the configuration")
    );
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4]);
    assert!(!std::fs::read_to_string(lab.file()).expect("anycastd's file").contains("203.0.113.99"));

    // A protocol of anycastd's in another file BIRD includes (an old one, say) is withdrawn too: disabled, since
    // rewriting anycastd's file cannot remove it.
    let other = lab.file().with_file_name("left-over.conf");
    std::fs::write(
        &other,
        "protocol static anycastd_203_0_113_77_32 { ipv4 { preference 250; }; route 203.0.113.77/32 blackhole; }\n",
    )
    .expect("another file");
    assert!(lab.birdc("configure").contains("0003 Reconfigured"));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, "203.0.113.77/32"]);
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4]);
}

on_every_bird!(
    announces_drains_restores_and_withdraws_at_the_peer_without_resetting_the_session,
    a_broken_bird_conf_still_withdraws_and_announces_again_once_fixed,
    a_hand_edit_of_anycastds_file_is_undone,
);

/// The codes of `check --bird --format json`'s BIRD findings, and its exit code.
fn preflight(lab: &BirdLab) -> (Option<i32>, Vec<String>) {
    let checked = lab.anycastd(&["check", "--bird", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&checked.stdout).expect("JSON");
    let codes = report["bird"].as_array().into_iter().flatten();
    let codes = codes.map(|finding| {
        format!("{} {}", finding["level"].as_str().unwrap_or("?"), finding["code"].as_str().unwrap_or("?"))
    });
    (exit_code(&checked), codes.collect())
}

/// `check --bird` tells, changing nothing, what an operator must fix: before the first pass it cannot tell whether
/// bird.conf includes anycastd's file; after it, BIRD runs the file's protocols; without the drain mark declared, a
/// prefix that drains would make BIRD refuse the file (an error); a BIRD that does not answer is an error.
fn check_bird_tells_what_the_operator_must_fix(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_config(&PREFIXES);
    let (code, codes) = preflight(&lab);
    assert_eq!(code, Some(0));
    assert_eq!(codes, ["ok bird-answers", "warning bird-include-unknown", "ok bird-bgp-up"]);
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    assert_eq!(preflight(&lab).1, ["ok bird-answers", "ok bird-file-loaded", "ok bird-bgp-up"]);

    lab.remove_drain_mark();
    let (code, codes) = preflight(&lab);
    assert_eq!(code, Some(1));
    assert_eq!(codes, ["ok bird-answers", "error bird-drain-mark-missing", "ok bird-file-loaded", "ok bird-bgp-up"]);

    lab.stop_bird();
    let (code, codes) = preflight(&lab);
    assert_eq!((code, codes), (Some(1), vec!["error bird-unreachable".to_string()]));
}

/// Loop mode follows the health at the peer (a failing check withdraws, a passing one announces again) and withdraws
/// everything when it is stopped (SIGTERM), logging each change.
fn run_follows_the_health_and_withdraws_on_sigterm(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_config(&PREFIXES[..1]);
    let run = lab.spawn_run();
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4]);
    lab.cabourotte.failing("dns", "SERVFAIL");
    lab.wait_peer_has(&[OPERATOR_OWN]);
    lab.cabourotte.healthy("dns");
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4]);
    let pid = run.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let stopped = run.wait_with_output().expect("run ends");
    assert_eq!(stopped.status.code(), Some(0));
    assert_eq!(lab.peer_routes().keys().cloned().collect::<Vec<_>>(), [OPERATOR_OWN], "withdrawn before it exited");
    let log = String::from_utf8_lossy(&stopped.stderr);
    for line in [
        format!("anycastd run: withdrawn {DNS_V4} for service dns (BIRD): check dns failed: SERVFAIL"),
        format!("anycastd run: withdrawn {DNS_V4} for service dns (BIRD): received SIGTERM"),
    ] {
        assert!(log.lines().any(|logged| logged == line), "{line:?} in\n{log}");
    }
}

on_every_bird!(check_bird_tells_what_the_operator_must_fix, run_follows_the_health_and_withdraws_on_sigterm);
