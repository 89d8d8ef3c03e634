//! A BIRD the configuration no longer names at all still has its prefixes withdrawn: the record of managed prefixes
//! (`state/managed.rs`) remembers its control socket and anycastd's file there, on every supported BIRD release. The
//! lab's BIRD is not at Debian's socket, which anycastd asks whatever the configuration says: only the record finds it.

use crate::support;

use support::bird::{Bird, BirdLab, OPERATOR_OWN};

const DNS_V4: &str = "203.0.113.53/32";
const DNS_V6: &str = "2001:db8::53/128";

/// Every prefix of the lab's BIRD leaves the configuration at once: the next `apply` withdraws them at the peer,
/// under the service they were for, empties anycastd's file there (so the operator's next `birdc configure` brings
/// nothing back), and forgets them once BIRD no longer has them.
fn a_bird_every_prefix_of_which_leaves_the_configuration_is_withdrawn_from(bird: Bird) {
    let lab = BirdLab::start(bird);
    lab.write_config(&[r#"prefix = "203.0.113.53""#, r#"prefix = "2001:db8::53""#]);
    assert_eq!(lab.anycastd(&["apply"]).status.code(), Some(0));
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);

    lab.write_config_text("# anycastd no longer manages anything here\n");
    let removed = lab.anycastd(&["apply"]);
    assert_eq!(removed.status.code(), Some(0));
    let said = String::from_utf8_lossy(&removed.stderr);
    for prefix in [DNS_V4, DNS_V6] {
        assert!(said.contains(&format!("withdrawn {prefix} for service dns (BIRD)")), "{said}");
    }
    lab.wait_peer_has(&[OPERATOR_OWN]);
    let file = std::fs::read_to_string(lab.file()).expect("anycastd's file");
    assert!(!file.contains("protocol static"), "anycastd's file keeps no protocol:\n{file}");
    assert!(lab.birdc("configure").contains("0003 Reconfigured"));
    assert_eq!(lab.birdc("show route table all where proto ~ \"anycastd_*\"").matches("blackhole").count(), 0);

    let again = lab.anycastd(&["apply"]);
    assert_eq!(again.status.code(), Some(0));
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(said.contains("Applied: 0 announced, 0 withdrawn, 0 unchanged."), "nothing left to withdraw:\n{said}");
    assert!(!said.contains("dns"), "the record forgot what BIRD no longer has:\n{said}");
    lab.wait_peer_has(&[OPERATOR_OWN]);
}

on_every_bird!(a_bird_every_prefix_of_which_leaves_the_configuration_is_withdrawn_from);
