//! The service address on the host (issue 27: a BIRD prefix's `interface = "lo"`) against a real BIRD of every
//! release the lab supports and a real GoBGP peer. anycastd runs inside BIRD's network namespace, as on a node, so
//! that the address lands on the `lo` of BIRD's host (never on the test machine's own); the service's health comes
//! from a command check reading a file, since the fake Cabourotte listens in the host's namespace. The order is
//! proven with `ip -timestamp monitor address` against the peer's `gobgp monitor`, as for FRR.

use crate::support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Output;
use std::time::SystemTime;

use support::addresses::{AddressWatch, addresses_on};
use support::bird::{Bird, BirdLab, OPERATOR_OWN};
use support::peer::PeerWatch;
use support::wait::Wait;

const DNS_V4: &str = "203.0.113.53/32";
const DNS_V6: &str = "2001:db8::53/128";

/// The file the `dns` check reads (its exit status), in BIRD's directory.
fn health_file(lab: &BirdLab) -> PathBuf {
    lab.socket().with_file_name("dns-health")
}

/// A configuration whose service `dns` has `prefixes` (TOML keys without braces, nor the lab's socket and file),
/// checked by a command reading the health file.
fn write_dns(lab: &BirdLab, prefixes: &[&str]) {
    let place = format!("socket = \"{}\", file = \"{}\"", lab.socket().display(), lab.file().display());
    let tables: Vec<String> = prefixes.iter().map(|p| format!("{{ {p}, {place} }}")).collect();
    lab.write_config_text(&format!(
        "[services.dns]\nprefixes.bird = [{}]\nchecks.exec = [{{ name = \"dns\", command = [\"/bin/sh\", \"-c\", \
         \"exit $(cat {})\"] }}]\n",
        tables.join(", "),
        health_file(lab).display()
    ));
}

/// Runs anycastd in BIRD's namespace; prints what it did.
fn anycastd(lab: &BirdLab, args: &[&str]) -> Output {
    lab.anycastd_in_namespace(args)
}

#[track_caller]
fn succeeds(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The addresses on BIRD's `lo` besides `127.0.0.1/8` and `::1/128`.
fn on_lo(lab: &BirdLab) -> BTreeSet<String> {
    let own = ["127.0.0.1/8", "::1/128"];
    addresses_on(&lab.namespace(), "lo").into_iter().filter(|a| !own.contains(&a.as_str())).collect()
}

fn set(addresses: &[&str]) -> BTreeSet<String> {
    addresses.iter().map(ToString::to_string).collect()
}

/// When the peer first saw `prefix` announced (`withdrawn`: withdrawn) since `watch` started; waits for it.
fn at_peer(watch: &PeerWatch, prefix: &str, withdrawn: bool) -> SystemTime {
    Wait::new(&format!("gobgp monitor reports {prefix} (withdrawn: {withdrawn})"))
        .diagnosis(|| watch.timeline(prefix))
        .until(|| watch.events(prefix).iter().find(|e| e.withdrawn == withdrawn).map(|e| e.at))
}

/// When `ip monitor` saw `address` added (`deleted`: deleted); waits for it.
fn on_host(watch: &AddressWatch, address: &str, deleted: bool) -> SystemTime {
    Wait::new(&format!("ip monitor shows {address} (deleted: {deleted})"))
        .diagnosis(|| watch.timeline())
        .until(|| if deleted { watch.deleted(address) } else { watch.added(address) })
}

/// Both addresses are on BIRD's `lo` before the peer receives their prefixes; once the IPv4 prefix leaves the
/// configuration, the peer sees it withdrawn and its address leaves `lo`, while the IPv6 address stays.
///
/// The order of that withdrawal and that removal is printed, not asserted: BIRD sends the update as anycastd's
/// reconfiguration returns, and the two land within about a millisecond of each other, either way round, which is
/// less than the lag of `gobgp monitor` behind the peer's receipt (seen: -1 to +1 ms). The addition before the
/// announcement is asserted: that lag can only make the announcement look later, never earlier.
fn address_comes_before_the_announcement_and_goes_with_the_withdrawal(bird: Bird) {
    let lab = BirdLab::start(bird);
    std::fs::write(health_file(&lab), "0\n").expect("write the health file");
    write_dns(&lab, &[r#"prefix = "203.0.113.53", interface = "lo""#, r#"prefix = "2001:db8::53", interface = "lo""#]);
    assert_eq!(on_lo(&lab), set(&[]), "BIRD's lo before anycastd");
    let (addresses, peer) = (AddressWatch::start(&lab.namespace()), lab.watch_peer());
    let timelines = || format!("{}{}{}", addresses.timeline(), peer.timeline(DNS_V4), peer.timeline(DNS_V6));

    let applied = succeeds(&anycastd(&lab, &["apply"]));
    assert!(applied.contains("  + 203.0.113.53  added    lo, for 203.0.113.53/32 (dns)\n"), "{applied}");
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V4, DNS_V6]);
    assert_eq!(on_lo(&lab), set(&[DNS_V4, DNS_V6]));
    for prefix in [DNS_V4, DNS_V6] {
        let (added, received) = (on_host(&addresses, prefix, false), at_peer(&peer, prefix, false));
        let took = received.duration_since(added).unwrap_or_else(|_| panic!("{prefix}: reversed\n{}", timelines()));
        println!("BIRD {bird:?}: {prefix} on lo, then at the peer {} ms later", took.as_millis());
    }

    write_dns(&lab, &[r#"prefix = "2001:db8::53", interface = "lo""#]);
    let applied = succeeds(&anycastd(&lab, &["apply"]));
    assert!(applied.contains("  - 203.0.113.53  removed  lo, for 203.0.113.53/32 (dns)"), "{applied}");
    lab.wait_peer_has(&[OPERATOR_OWN, DNS_V6]);
    assert_eq!(on_lo(&lab), set(&[DNS_V6]));
    let (withdrawn, removed) = (at_peer(&peer, DNS_V4, true), on_host(&addresses, DNS_V4, true));
    let gap = match removed.duration_since(withdrawn) {
        Ok(after) => format!("{} µs after", after.as_micros()),
        Err(before) => format!("{} µs before", before.duration().as_micros()),
    };
    println!("BIRD {bird:?}: {DNS_V4} off lo {gap} the peer's withdrawal (as gobgp monitor reported it)");
}

on_every_bird!(address_comes_before_the_announcement_and_goes_with_the_withdrawal);
