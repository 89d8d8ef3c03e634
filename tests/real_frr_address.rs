//! The service address on the host (issue 27: a prefix's `interface = "lo"`) against a real FRRouting and a real BGP
//! peer (GoBGP), on every FRR release the lab supports. anycastd runs inside FRR's network namespace, as on a node,
//! so that the address lands on the `lo` FRR sees (never on the test machine's own); the service's health comes
//! from a command check (`checks.exec`) reading a file, since the fake Cabourotte listens in the host's namespace.
//!
//! The order is proven with two clocks of the same machine: `ip -timestamp monitor address` in FRR's namespace, and
//! the peer's `gobgp monitor` (the time each update arrived). FRR's `bgp network import-check` (on in the lab's
//! `frr defaults datacenter`) would hold back a `network` whose address is missing anyway; the timestamps show
//! anycastd's own order: the address first, the announcement after; the withdrawal first, the removal after.
//!
//! A VRF device cannot be created on the lab's kernel (no `vrf` link type, nor `dummy`): here, the test of an FRR prefix
//! in VRF 123 covers the refusal of an interface in another VRF; an address added to a VRF's device, or to an
//! interface in the VRF, is proven in a virtual machine with Debian's kernel (`in_vm.rs`).

use crate::support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use support::addresses::{AddressWatch, addresses_on, ip_in};
use support::anycastd::Anycastd;
use support::lab::{DNS_V4, DNS_V6, Frr, Lab, NTP_V4, UNMANAGED, VRF};
use support::peer::PeerWatch;
use support::wait::Wait;

/// anycastd with `args`, in FRR's namespace.
fn anycastd<const N: usize>(lab: &Lab, args: [&str; N]) -> Anycastd {
    lab.anycastd(args).in_namespace(lab.frr_namespace())
}

/// The file the `dns` check reads: its exit status.
fn set_healthy(lab: &Lab, healthy: bool) {
    std::fs::write(lab.dir().join("dns-health"), if healthy { "0\n" } else { "1\n" }).expect("write dns-health");
}

/// The check of service `dns`: a command whose exit status is the health file's content.
fn dns_check(lab: &Lab) -> String {
    let file = lab.dir().join("dns-health");
    format!(r#"checks.exec = [{{ name = "dns", command = ["/bin/sh", "-c", "exit $(cat {})"] }}]"#, file.display())
}

/// A config whose service `dns` has `prefixes` (TOML tables without braces, nor the lab's vtysh keys).
fn write_dns(lab: &Lab, prefixes: &[&str]) {
    let k = lab.vtysh_keys();
    let tables: Vec<String> = prefixes.iter().map(|p| format!("    {{ {p}, {k} }},\n")).collect();
    lab.write_config(&format!("[services.dns]\nprefixes.frrouting = [\n{}]\n{}\n", tables.concat(), dns_check(lab)));
}

/// The addresses on `lo` in FRR's namespace, besides `127.0.0.1/8`, `::1/128` and the operator's [`UNMANAGED`].
fn on_lo(lab: &Lab) -> BTreeSet<String> {
    let lab_own = ["127.0.0.1/8", "::1/128", UNMANAGED];
    addresses_on(lab.frr_namespace(), "lo").into_iter().filter(|a| !lab_own.contains(&a.as_str())).collect()
}

/// `addresses` as [`on_lo`] returns them.
fn set(addresses: &[&str]) -> BTreeSet<String> {
    addresses.iter().map(ToString::to_string).collect()
}

/// A lab whose `lo` has none of the dns service's addresses: `scripts/lab` puts them there for FRR's import check,
/// as an operator who does not use `interface` would.
fn lab_without_service_addresses(frr: Frr) -> Lab {
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
    for address in [DNS_V4, DNS_V6] {
        ip_in(lab.frr_namespace(), &["address", "del", address, "dev", "lo"]);
    }
    assert_eq!(on_lo(&lab), set(&[]), "the lab's lo before anycastd");
    set_healthy(&lab, true);
    lab
}

/// When the peer first received `prefix` (announced) since `watch` started; waits for the update.
fn received_at(lab: &Lab, watch: &PeerWatch, prefix: &str) -> SystemTime {
    lab.wait_until(&format!("gobgp monitor reports {prefix} announced"), || {
        watch.events(prefix).iter().any(|e| !e.withdrawn)
    });
    watch.events(prefix).iter().find(|e| !e.withdrawn).map(|e| e.at).expect("an announcement")
}

/// When `ip monitor` saw `address` added (`deleted`: deleted); waits for it.
fn changed_at(watch: &AddressWatch, address: &str, deleted: bool) -> SystemTime {
    let what = format!("ip monitor shows {address} {}", if deleted { "deleted" } else { "added" });
    Wait::new(&what)
        .diagnosis(|| watch.timeline())
        .until(|| if deleted { watch.deleted(address) } else { watch.added(address) })
}

/// How long after `earlier` came `later`; fails, with both timelines, when `later` came first.
#[track_caller]
fn after(earlier: SystemTime, later: SystemTime, what: &str, timelines: &str) -> Duration {
    later.duration_since(earlier).unwrap_or_else(|_| panic!("{what}: the order is reversed\n{timelines}"))
}

fn timelines(addresses: &AddressWatch, peer: &PeerWatch, prefixes: &[&str]) -> String {
    let routes: String = prefixes.iter().map(|p| peer.timeline(p)).collect();
    format!("--- ip monitor address ---\n{}--- the peer ---\n{routes}", addresses.timeline())
}

/// The address is added before the announcement (text plan and apply say so), stays while the service is unhealthy
/// (withdrawn at the peer), and once its prefix leaves the configuration goes only after the peer saw the withdrawal;
/// the other prefix's address stays. Timestamps of `ip monitor` against the peer's.
fn address_comes_before_the_announcement_stays_while_unhealthy_and_goes_after_the_withdrawal(frr: Frr) {
    let lab = lab_without_service_addresses(frr);
    write_dns(
        &lab,
        &[r#"prefix = "203.0.113.53", interface = "lo""#, r#"prefix = "2001:db8::b19:bad:53", interface = "lo""#],
    );

    let plan = anycastd(&lab, ["plan"]).run().success();
    plan.stdout_has(
        "Addresses on the host\n  + 203.0.113.53          add      lo, for 203.0.113.53/32 (dns)\n  + \
         2001:db8::b19:bad:53  add      lo, for 2001:db8::b19:bad:53/128 (dns)\n\n",
    );
    plan.stdout_has("2 addresses to add");

    let (addresses, peer) = (AddressWatch::start(lab.frr_namespace()), lab.watch_peer());
    let applied = anycastd(&lab, ["apply"]).run().success();
    applied.stdout_has("  + 203.0.113.53          added    lo, for 203.0.113.53/32 (dns)\n");
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    assert_eq!(on_lo(&lab), set(&[DNS_V4, DNS_V6]));
    let all = || timelines(&addresses, &peer, &[DNS_V4, DNS_V6]);
    for prefix in [DNS_V4, DNS_V6] {
        let took = after(changed_at(&addresses, prefix, false), received_at(&lab, &peer, prefix), prefix, &all());
        println!("FRR {}: {prefix} on lo, then at the peer {} ms later", frr.version(), took.as_millis());
    }

    set_healthy(&lab, false);
    let applied = anycastd(&lab, ["apply"]).run().success();
    applied.stdout_has("  203.0.113.53          present  lo, for 203.0.113.53/32 (dns)\n");
    lab.wait_peer_routes(&[UNMANAGED]);
    assert_eq!(on_lo(&lab), set(&[DNS_V4, DNS_V6]), "kept while unhealthy");
    assert!(addresses.deleted(DNS_V4).is_none() && addresses.deleted(DNS_V6).is_none(), "{}", all());

    set_healthy(&lab, true);
    anycastd(&lab, ["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    write_dns(&lab, &[r#"prefix = "2001:db8::b19:bad:53", interface = "lo""#]);
    let plan = anycastd(&lab, ["plan"]).run().success();
    plan.stdout_has(
        "Addresses on the host\n    2001:db8::b19:bad:53  present  lo, for 2001:db8::b19:bad:53/128 (dns)\n  - \
         203.0.113.53          remove   lo, for 203.0.113.53/32 (dns): its prefix left the configuration: removed \
         once it is withdrawn\n\n",
    );
    let withdrawals_before = peer.events(DNS_V4).iter().filter(|e| e.withdrawn).count();
    let applied = anycastd(&lab, ["apply"]).run().success();
    applied.stdout_has(
        "  - 203.0.113.53          removed  lo, for 203.0.113.53/32 (dns): its prefix left the configuration and was \
         withdrawn",
    );
    lab.wait_peer_routes(&[UNMANAGED, DNS_V6]);
    assert_eq!(on_lo(&lab), set(&[DNS_V6]));
    lab.wait_until("the peer's second withdrawal of 203.0.113.53/32", || {
        peer.events(DNS_V4).iter().filter(|e| e.withdrawn).count() > withdrawals_before
    });
    let withdrawn = peer.events(DNS_V4).iter().filter(|e| e.withdrawn).nth(withdrawals_before).map(|e| e.at);
    let withdrawn = withdrawn.expect("the withdrawal after the prefix left");
    let took = after(withdrawn, changed_at(&addresses, DNS_V4, true), "withdrawal, then removal", &all());
    println!("FRR {}: {DNS_V4} withdrawn at the peer, then off lo {} ms later", frr.version(), took.as_millis());
}

on_every_frr!(address_comes_before_the_announcement_stays_while_unhealthy_and_goes_after_the_withdrawal);

/// An address that was on `lo` before anycastd's first pass is never removed: not when its prefix leaves the
/// configuration (the peer loses the prefix, `lo` keeps the address), nor by a later pass.
fn an_address_there_before_anycastd_survives_its_prefix_leaving_the_configuration(frr: Frr) {
    let lab = lab_without_service_addresses(frr);
    // The operator's addresses: the one named by `interface`, and the one of a prefix without it (FRR's import
    // check needs it there).
    for address in [DNS_V4, DNS_V6] {
        ip_in(lab.frr_namespace(), &["address", "add", address, "dev", "lo"]);
    }
    write_dns(&lab, &[r#"prefix = "203.0.113.53", interface = "lo""#, r#"prefix = "2001:db8::b19:bad:53""#]);

    let applied = anycastd(&lab, ["apply"]).run().success();
    applied.stdout_has(
        "  203.0.113.53  present  lo, for 203.0.113.53/32 (dns): there before anycastd: never removed by it\n",
    );
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);

    write_dns(&lab, &[r#"prefix = "2001:db8::b19:bad:53""#]);
    let applied = anycastd(&lab, ["apply"]).run().success();
    applied.stdout_lacks("Addresses on the host");
    lab.wait_peer_routes(&[UNMANAGED, DNS_V6]);
    anycastd(&lab, ["apply"]).run().success();
    assert_eq!(on_lo(&lab), set(&[DNS_V4, DNS_V6]), "the operator's addresses stay");
    let record = std::fs::read_to_string(lab.state_dir().join("addresses.json")).unwrap_or_default();
    assert!(!record.contains("203.0.113.53"), "never recorded as anycastd's: {record}");
}

on_every_frr!(an_address_there_before_anycastd_survives_its_prefix_leaving_the_configuration);

/// A prefix in VRF 123 naming `lo` (in the default VRF) and one naming an interface the host lacks are errors of
/// their own, with the error text in the plan and apply output, exit code 1, and nothing added or announced for
/// them; the other prefix gets its address and reaches the peer.
fn a_wrong_vrf_or_missing_interface_refuses_that_prefix_only(frr: Frr) {
    let lab = lab_without_service_addresses(frr);
    let k = lab.vtysh_keys();
    lab.write_config(&format!(
        r#"[services.dns]
prefixes.frrouting = [
    {{ prefix = "203.0.113.53", interface = "lo", {k} }},
    {{ prefix = "2001:db8::b19:bad:53", interface = "eth9", {k} }},
]
{check}

[services.ntp]
prefixes.frrouting = [{{ prefix = "203.0.113.123", vrf = "{VRF}", interface = "lo", {k} }}]
{check}
"#,
        check = dns_check(&lab)
    ));
    let not_there = "the host has no interface eth9: create it, or correct the prefix's `interface`";
    let wrong_vrf =
        "interface lo is in the default VRF, not in the prefix's: name the VRF's device or an interface in it";

    let plan = anycastd(&lab, ["plan"]).run().code(1);
    plan.stdout_has(&format!(
        "Addresses on the host\n  + 203.0.113.53          add      lo, for 203.0.113.53/32 (dns)\n  ! \
         2001:db8::b19:bad:53  error    eth9, for 2001:db8::b19:bad:53/128 (dns): {not_there}\n  ! \
         203.0.113.123         error    lo, for 203.0.113.123/32 (ntp): {wrong_vrf}\n"
    ));
    let json = anycastd(&lab, ["plan"]).json().run().code(1);
    let report = json.json();
    let codes: Vec<(&str, &str)> = report["addresses"]
        .as_array()
        .expect("an addresses array")
        .iter()
        .map(|one| (one["address"].as_str().unwrap_or("?"), one["error_code"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(
        codes,
        [
            ("203.0.113.53", "-"),
            ("2001:db8::b19:bad:53", "no-such-interface"),
            ("203.0.113.123", "interface-in-another-vrf")
        ],
        "{json}"
    );
    for prefix in [DNS_V6, NTP_V4] {
        assert_eq!(json.prefix(prefix)["error_code"], "address-missing", "{json}");
    }

    let applied = anycastd(&lab, ["apply"]).run().code(1);
    applied.stdout_has(&format!("not announced: its address 2001:db8::b19:bad:53 is not on eth9 ({not_there})"));
    applied.stdout_has(&format!("not announced: its address 203.0.113.123 is not on lo ({wrong_vrf})"));
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4]);
    assert_eq!(on_lo(&lab), set(&[DNS_V4]), "only the default VRF's address");
    assert!(lab.networks(Some(VRF)).is_empty(), "nothing announced in VRF {VRF}: {:?}", lab.networks(Some(VRF)));
    assert!(!lab.networks(None).contains(DNS_V6), "{:?}", lab.networks(None));
}

on_every_frr!(a_wrong_vrf_or_missing_interface_refuses_that_prefix_only);
