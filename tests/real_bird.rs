//! BIRD as a second routing daemon (issue 26), against a real BIRD of every release the lab supports (Debian 12's
//! bird2 2.0, Debian 13's bird2 2.17 and bird3 3.1) and a real GoBGP peer: what the peer receives, that the BGP session
//! is never reset, and that a withdrawal gets through while the operator's bird.conf does not parse, BIRD restarts or
//! stops.

use std::time::SystemTime;

use crate::support;

use support::bird::{Bird, BirdLab, OPERATOR_OWN, Service};
use support::peer::{GRACEFUL_SHUTDOWN, PeerEvent, PeerWatch};
use support::wait::Wait;

const DNS_V4: &str = "203.0.113.53/32";
const DNS_V6: &str = "2001:db8::53/128";
const NTP_V4: &str = "203.0.113.123/32";

/// The lab's two prefixes: the IPv4 one drains (`drain = true`), the IPv6 one is withdrawn when drained.
const PREFIXES: [&str; 2] = [r#"prefix = "203.0.113.53", drain = true"#, r#"prefix = "2001:db8::53""#];

fn exit_code(output: &std::process::Output) -> Option<i32> {
    output.status.code()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `action` of `prefix` in the report of `apply --format json`.
#[track_caller]
fn action(output: &std::process::Output, prefix: &str) -> String {
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let services = report["services"].as_array().into_iter().flatten();
    let mut prefixes = services.flat_map(|service| service["prefixes"].as_array().into_iter().flatten());
    let found = prefixes.find(|found| found["prefix"] == prefix).unwrap_or_else(|| panic!("{prefix} in {report}"));
    found["action"].as_str().unwrap_or("?").to_string()
}

/// What the peer received of `prefix` since `watch` started, one word per update: `announced`, `drained` (with the
/// graceful-shutdown community), `withdrawn`.
fn updates(watch: &PeerWatch, prefix: &str) -> Vec<&'static str> {
    watch.events(prefix).iter().map(update).collect()
}

fn update(event: &PeerEvent) -> &'static str {
    match (event.withdrawn, event.route.has_community(GRACEFUL_SHUTDOWN)) {
        (true, _) => "withdrawn",
        (false, true) => "drained",
        (false, false) => "announced",
    }
}

/// Waits until the peer has received `count` updates of `prefix` since `watch` started (the routes it has are not
/// enough: gobgp's monitor may report an update a moment after the table shows it).
fn wait_updates(watch: &PeerWatch, prefix: &str, count: usize) -> Vec<&'static str> {
    let what = format!("{count} updates of {prefix} at the peer");
    Wait::new(&what).diagnosis(|| format!("it has had:\n{}", watch.timeline(prefix))).until(|| {
        let updates = updates(watch, prefix);
        (updates.len() >= count).then_some(updates)
    })
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

/// The lab's `dns`, whose prefixes [`PREFIXES`] are, and `ntp` with one prefix: two services in one BIRD, one file.
const DNS_AND_NTP: [Service; 2] = [
    Service { name: "dns", prefixes: &PREFIXES, keys: "" },
    Service { name: "ntp", prefixes: &[r#"prefix = "203.0.113.123""#], keys: "" },
];

/// A failing check withdraws its service's prefixes at the peer with the next `apply`, and only those: the other
/// service's prefix, in the same BIRD and the same file, stays announced, never withdrawn nor sent again, as does the
/// operator's own route; passing again announces them again.
fn a_failing_check_withdraws_its_service_and_no_other(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.cabourotte.healthy("ntp");
    lab.write_services(&DNS_AND_NTP);
    let session = lab.session();
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6, NTP_V4]);
    let watch = lab.watch_peer();

    lab.cabourotte.failing("dns", "SERVFAIL");
    let failed = lab.anycastd(&["apply"]);
    assert_eq!(exit_code(&failed), Some(0), "an unhealthy service withdrawn is no failure");
    for prefix in [DNS_V4, DNS_V6] {
        let line = format!("anycastd apply: withdrawn {prefix} for service dns (BIRD): check dns failed: SERVFAIL");
        assert!(stderr(&failed).lines().any(|logged| logged == line), "{line:?} in\n{}", stderr(&failed));
    }
    lab.wait_peer_has(&[OPERATOR_OWN, NTP_V4]);
    let file = std::fs::read_to_string(lab.file()).expect("anycastd's file");
    assert!(file.contains("anycastd_203_0_113_123_32") && !file.contains("anycastd_203_0_113_53_32"), "{file}");

    lab.cabourotte.healthy("dns");
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6, NTP_V4]);
    assert_eq!(wait_updates(&watch, DNS_V4, 3), ["announced", "withdrawn", "announced"]);
    for untouched in [NTP_V4, OPERATOR_OWN] {
        assert_eq!(updates(&watch, untouched), ["announced"], "only the route the watch found at its start");
    }
    assert_eq!(lab.session(), session, "the session was never reset");
}

/// `rise = 2`, `fall = 2`, at the peer: the first passing pass announces nothing, the second announces; one failing
/// pass keeps the prefixes announced, and so does a second one after a passing pass between them (the passes count
/// in a row); two failing passes in a row withdraw; passing again, the first pass announces nothing, the second does.
/// The counts live in the state directory, from one `apply` to the next.
fn rise_and_fall_count_passes_in_a_row_at_the_peer(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_services(&[Service { name: "dns", prefixes: &PREFIXES, keys: "rise = 2\nfall = 2" }]);
    let watch = lab.watch_peer();
    let apply = |expected: &str, what: &str| {
        let started = SystemTime::now();
        let applied = lab.anycastd(&["apply", "--format", "json"]);
        assert_eq!(exit_code(&applied), Some(0), "{what}");
        assert_eq!((action(&applied, DNS_V4), action(&applied, DNS_V6)), (expected.into(), expected.into()), "{what}");
        started
    };

    apply("none", "healthy 1/2");
    assert_eq!(lab.peer_routes().keys().cloned().collect::<Vec<_>>(), [OPERATOR_OWN], "rise 1/2: not announced");
    let risen = apply("announce", "healthy 2/2");
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);

    lab.cabourotte.failing("dns", "SERVFAIL");
    apply("none", "unhealthy 1/2");
    lab.cabourotte.healthy("dns");
    apply("none", "healthy again: the unhealthy count starts over");
    lab.cabourotte.failing("dns", "SERVFAIL");
    apply("none", "unhealthy 1/2 again");
    assert_eq!(lab.peer_routes().len(), 3, "still announced");
    let fallen = apply("withdraw", "unhealthy 2/2");
    lab.wait_peer_has(&[OPERATOR_OWN]);

    lab.cabourotte.healthy("dns");
    apply("none", "healthy 1/2");
    assert_eq!(lab.peer_routes().keys().cloned().collect::<Vec<_>>(), [OPERATOR_OWN], "rise 1/2: not announced");
    let risen_again = apply("announce", "healthy 2/2");
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);

    // Each update reached the peer after the pass that made it had started: none came of the passes before.
    for prefix in [DNS_V4, DNS_V6] {
        assert_eq!(wait_updates(&watch, prefix, 3), ["announced", "withdrawn", "announced"], "{prefix}");
        let times: Vec<SystemTime> = watch.events(prefix).iter().map(|event| event.at).collect();
        assert!(times[0] >= risen && times[1] >= fallen && times[2] >= risen_again, "{}", watch.timeline(prefix));
    }
}

/// `withdraw-all` takes every prefix off the peer at once, the one that drains too (without `--drain` nothing
/// drains); `apply` keeps them off while in maintenance, and so does `resume` alone; `resume` then `apply` announces
/// them again. `withdraw-all --drain 1s`, waiting, drains (the peer sees 65535:0 on the prefix that drains, and the
/// other withdrawn), then withdraws at its deadline. One BGP session throughout.
fn withdraw_all_keeps_every_prefix_off_the_peer_until_resume(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_config(&PREFIXES);
    let session = lab.session();
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);

    let withdrawn = lab.anycastd(&["withdraw-all", "--reason", "kernel upgrade"]);
    assert_eq!(exit_code(&withdrawn), Some(0));
    for prefix in [DNS_V4, DNS_V6] {
        let line = format!(
            "anycastd withdraw-all: withdrawn {prefix} for service dns (BIRD): withdrawing every managed prefix"
        );
        assert!(stderr(&withdrawn).lines().any(|logged| logged == line), "{line:?} in\n{}", stderr(&withdrawn));
    }
    lab.wait_peer_has(&[OPERATOR_OWN]);
    let kept = lab.anycastd(&["apply"]);
    assert_eq!(exit_code(&kept), Some(0));
    assert!(
        String::from_utf8_lossy(&kept.stdout).contains("Every managed prefix stays withdrawn until `anycastd resume`")
    );
    assert_eq!(exit_code(&lab.anycastd(&["resume"])), Some(0));
    assert_eq!(lab.peer_routes().keys().cloned().collect::<Vec<_>>(), [OPERATOR_OWN], "resume alone announces nothing");
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);

    let watch = lab.watch_peer();
    let started = SystemTime::now();
    let drained = lab.command(&["withdraw-all", "--drain", "1s"]).output().expect("withdraw-all --drain");
    assert_eq!(exit_code(&drained), Some(0), "{}", stderr(&drained));
    lab.wait_peer_has(&[OPERATOR_OWN]);
    assert_eq!(wait_updates(&watch, DNS_V4, 3), ["announced", "drained", "withdrawn"], "{}", watch.timeline(DNS_V4));
    assert_eq!(wait_updates(&watch, DNS_V6, 2), ["announced", "withdrawn"], "{}", watch.timeline(DNS_V6));
    // The drain's deadline is 1 s after the command started, or a little more (the marker holds whole seconds).
    let withdrawn_at = watch.events(DNS_V4)[2].at;
    let after = withdrawn_at.duration_since(started).unwrap_or_default();
    assert!(after >= std::time::Duration::from_secs(1), "withdrawn {after:?} after\n{}", watch.timeline(DNS_V4));
    assert_eq!(updates(&watch, OPERATOR_OWN), ["announced"]);

    assert_eq!(exit_code(&lab.anycastd(&["resume"])), Some(0));
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);
    assert_eq!(lab.session(), session, "the session was never reset");
}

/// BIRD restarted reads anycastd's file with bird.conf, and announces what anycastd last applied: the next pass has
/// nothing to do. While BIRD is down, stopped or crashed, `apply` fails (exit 1) saying why and changes nothing, not
/// even anycastd's file; a BIRD started again after the check began to fail announces the prefixes its file still
/// holds, and the next pass withdraws them.
fn a_restarted_bird_announces_what_anycastd_applied_and_the_next_pass_corrects_it(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_config(&PREFIXES);
    assert_eq!(exit_code(&lab.anycastd(&["apply"])), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);
    let file = std::fs::read(lab.file()).expect("anycastd's file");
    let socket = lab.socket().display().to_string();

    lab.stop_bird();
    lab.wait_peer_has(&[]);
    let stopped = lab.anycastd(&["apply"]);
    assert_eq!(exit_code(&stopped), Some(1));
    let why = format!("there is no BIRD control socket at {socket}: is BIRD running, with this socket (its -s;");
    assert!(stderr(&stopped).contains(&why), "{why:?} in\n{}", stderr(&stopped));
    lab.start_bird();
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);
    let again = lab.anycastd(&["apply"]);
    assert_eq!(exit_code(&again), Some(0));
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 announced, 0 withdrawn, 2 unchanged"), "a no-op");

    lab.crash_bird();
    lab.cabourotte.failing("dns", "SERVFAIL");
    let crashed = lab.anycastd(&["apply"]);
    assert_eq!(exit_code(&crashed), Some(1));
    let why = format!(
        "nothing listens on BIRD's control socket {socket}: BIRD has stopped or crashed and left its socket behind \
         (see its log), start it again"
    );
    assert!(stderr(&crashed).contains(&why), "{why:?} in\n{}", stderr(&crashed));
    assert_eq!(std::fs::read(lab.file()).expect("anycastd's file"), file, "anycastd's file unchanged");

    lab.start_bird();
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);
    let corrected = lab.anycastd(&["apply"]);
    assert_eq!(exit_code(&corrected), Some(0));
    assert!(String::from_utf8_lossy(&corrected.stdout).contains("0 announced, 2 withdrawn"));
    lab.wait_peer_has(&[OPERATOR_OWN]);
}

/// Twenty changes in a row, announce, drain, restore and withdraw five times over, each seen at the peer as that
/// change and nothing else (no withdrawal between a drain and its restore), through one BGP session: its
/// establishment time and OPEN count unchanged, and the operator's own route never withdrawn nor sent again.
fn twenty_changes_keep_the_session_and_the_operators_route(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_config(&PREFIXES);
    let session = lab.session();
    let watch = lab.watch_peer();
    let succeeds = |args: &[&str]| assert_eq!(exit_code(&lab.anycastd(args)), Some(0), "{args:?}");
    let marked = |drained: bool| {
        Wait::new(&format!("the peer's {DNS_V4} drained: {drained}")).until(|| {
            let route = lab.peer_routes().remove(DNS_V4)?;
            (route.has_community(GRACEFUL_SHUTDOWN) == drained).then_some(())
        })
    };
    for _ in 0..5 {
        lab.cabourotte.healthy("dns");
        succeeds(&["apply"]);
        lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);
        marked(false);
        succeeds(&["withdraw-all", "--drain", "1m", "--no-wait"]);
        lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4]);
        marked(true);
        succeeds(&["resume"]);
        succeeds(&["apply"]);
        lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);
        marked(false);
        lab.cabourotte.failing("dns", "SERVFAIL");
        succeeds(&["apply"]);
        lab.wait_peer_has(&[OPERATOR_OWN]);
    }
    let round_v4 = ["announced", "drained", "announced", "withdrawn"];
    let round_v6 = ["announced", "withdrawn", "announced", "withdrawn"];
    assert_eq!(wait_updates(&watch, DNS_V4, 20), round_v4.repeat(5), "{}", watch.timeline(DNS_V4));
    assert_eq!(wait_updates(&watch, DNS_V6, 20), round_v6.repeat(5), "{}", watch.timeline(DNS_V6));
    assert_eq!(updates(&watch, OPERATOR_OWN), ["announced"], "{}", watch.timeline(OPERATOR_OWN));
    assert_eq!(lab.session(), session, "the session was never reset (its uptime and OPEN count are unchanged)");
}

on_every_bird!(
    a_failing_check_withdraws_its_service_and_no_other,
    rise_and_fall_count_passes_in_a_row_at_the_peer,
    withdraw_all_keeps_every_prefix_off_the_peer_until_resume,
    a_restarted_bird_announces_what_anycastd_applied_and_the_next_pass_corrects_it,
    twenty_changes_keep_the_session_and_the_operators_route,
);
