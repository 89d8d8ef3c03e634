//! BIRD prefixes in a VRF's table (`table = "blue4"`), on every supported BIRD release: anycastd's protocol puts the
//! route there, BIRD exports it from there (the lab leaks table blue4 into the master table with a `pipe`, as a VRF's
//! own BGP session would export it), a drain marks it there, and a table BIRD does not define is an error of that
//! prefix alone: the others are still reconciled. Reports say which BGP protocols of BIRD export each prefix, and why
//! none does (the session down).

use crate::support;

use support::bird::{Bird, BirdLab, OPERATOR_OWN};
use support::peer::GRACEFUL_SHUTDOWN;

const IN_MASTER: &str = "203.0.113.53/32";
const IN_BLUE: &str = "203.0.113.60/32";

fn a_prefix_in_a_vrf_s_table_is_announced_drained_and_withdrawn_there_and_a_wrong_table_stops_only_its_own(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_config(&[
        r#"prefix = "203.0.113.53""#,
        r#"prefix = "203.0.113.60", table = "blue4", drain = true"#,
        r#"prefix = "203.0.113.61", table = "bleu4""#,
    ]);
    let applied = lab.anycastd(&["apply"]);
    assert_eq!(applied.status.code(), Some(1), "a prefix in error");
    let said = String::from_utf8_lossy(&applied.stdout);
    assert!(said.contains("BIRD has no table bleu4: declare it in bird.conf"), "{said}");
    assert!(said.contains("+ 203.0.113.53/32  announced  BIRD, advertised to 1 peer"), "{said}");
    assert!(said.contains("+ 203.0.113.60/32  announced  BIRD table blue4, advertised to 1 peer"), "{said}");
    lab.wait_peer_has(&[OPERATOR_OWN, IN_MASTER, IN_BLUE]);
    let json = lab.anycastd(&["plan", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let blue = &plan["services"][0]["prefixes"][1];
    assert_eq!((&blue["bird_table"], &blue["advertised_to"]), (&"blue4".into(), &serde_json::json!(["peer1"])));

    // The session down: `plan` says so, for each prefix BIRD has.
    assert!(lab.birdc("disable peer1").contains("disabled"));
    let planned = lab.anycastd(&["plan"]);
    let said = String::from_utf8_lossy(&planned.stdout);
    let down = "not advertised to any peer: BIRD's BGP protocol peer1 is not established (down";
    assert_eq!(said.matches(down).count(), 2, "{said}");
    assert!(lab.birdc("enable peer1").contains("enabled"));
    let blue = lab.birdc("show route table blue4");
    assert!(blue.contains("203.0.113.60/32") && blue.contains("anycastd_203_0_113_60_32_t_blue4"), "{blue}");
    let again = lab.anycastd(&["apply"]);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(said.contains("0 announced, 0 withdrawn, 2 unchanged"), "the pipe's copy is not anycastd's:\n{said}");

    let checked = lab.anycastd(&["check", "--bird"]);
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(said.contains("BIRD defines table blue4"), "{said}");
    assert!(said.contains("BIRD defines no table bleu4, which the configuration names"), "{said}");

    assert_eq!(lab.anycastd(&["withdraw-all", "--drain", "1m", "--no-wait"]).status.code(), Some(1));
    let drained = lab.wait_peer_has(&[OPERATOR_OWN, IN_BLUE]);
    assert!(drained[IN_BLUE].has_community(GRACEFUL_SHUTDOWN), "{:?}", drained[IN_BLUE]);

    assert_eq!(lab.anycastd(&["resume"]).status.code(), Some(0));
    lab.cabourotte.failing("dns", "SERVFAIL");
    let failed = lab.anycastd(&["apply"]);
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(said.contains(&format!("withdrawn {IN_BLUE} for service dns (BIRD, table blue4)")), "{said}");
    lab.wait_peer_has(&[OPERATOR_OWN]);
}

on_every_bird!(a_prefix_in_a_vrf_s_table_is_announced_drained_and_withdrawn_there_and_a_wrong_table_stops_only_its_own);
