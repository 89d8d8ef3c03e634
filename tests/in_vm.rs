//! Tests that need what this machine's kernel lacks: a VRF device (the `vrf` link type). They run inside a virtual
//! machine booted with Debian 12's kernel (`scripts/vm`), which sees the host's files read-only under a tmpfs overlay,
//! started by `virtual_machine::the_tests_that_need_a_vrf_device_pass_in_a_vm_with_debian_s_kernel`. `scripts/test`
//! skips them on the host (`--skip in_vm::`): there they would fail at the first `ip link add ... type vrf`.
//!
//! The service address in a VRF (issue 27): a prefix in VRF 123 with `interface = "123"`, the VRF's own device, and
//! one whose interface is enslaved to that device, get their addresses there before their announcement, keep them
//! while unhealthy, and lose them once the prefix left the configuration and was withdrawn, seen at a peer that the
//! VRF's BGP instance has a session of its own with.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::addresses::{AddressWatch, addresses_on, ip_in};
use support::anycastd::Anycastd;
use support::lab::{Frr, Lab, NTP_V4, UNMANAGED, VRF, VRF_ASN};
use support::peer::PeerWatch;

/// anycastd with `args`, in FRR's namespace, where the VRF device is.
fn anycastd<const N: usize>(lab: &Lab, args: [&str; N]) -> Anycastd {
    lab.anycastd(args).in_namespace(lab.frr_namespace())
}

/// The file the `ntp` check reads: its exit status.
fn set_healthy(lab: &Lab, healthy: bool) {
    std::fs::write(lab.dir().join("ntp-health"), if healthy { "0\n" } else { "1\n" }).expect("write ntp-health");
}

/// Service `ntp` with `prefixes` (TOML tables without braces, nor the lab's vtysh keys), whose check is a command
/// reading the health file (the fake Cabourotte listens outside FRR's namespace).
fn write_ntp(lab: &Lab, prefixes: &[&str]) {
    let k = lab.vtysh_keys();
    let tables: Vec<String> = prefixes.iter().map(|p| format!("    {{ {p}, {k} }},\n")).collect();
    let file = lab.dir().join("ntp-health");
    let check =
        format!(r#"checks.exec = [{{ name = "ntp", command = ["/bin/sh", "-c", "exit $(cat {})"] }}]"#, file.display());
    lab.write_config(&format!("[services.ntp]\nprefixes.frrouting = [\n{}]\n{check}\n", tables.concat()));
}

/// The addresses on `interface` in FRR's namespace.
fn on(lab: &Lab, interface: &str) -> BTreeSet<String> {
    addresses_on(lab.frr_namespace(), interface).into_iter().collect()
}

/// A second service address of VRF 123, on an interface enslaved to the VRF's device (the lab's uplink of the VRF,
/// see [`Lab::peer_with_vrf`]) rather than on the device itself.
const IN_VRF: &str = "203.0.113.124/32";
/// That interface.
const VRF_UPLINK: &str = "to-peer-vrf";

/// When the peer first received `prefix`, and when `ip monitor` saw its address added; fails when the peer had it
/// first.
fn address_then_route(addresses: &AddressWatch, peer: &PeerWatch, prefix: &str) -> Duration {
    let added = addresses.added(prefix).expect("ip monitor saw the address added");
    let received = peer.events(prefix).iter().find(|e| !e.withdrawn).map(|e| e.at).expect("the peer's update");
    received.duration_since(added).unwrap_or_else(|_| {
        panic!("the announcement came before the address:\n{}{}", addresses.timeline(), peer.timeline(prefix))
    })
}

fn an_address_on_a_vrf_s_device_or_an_interface_in_it_comes_before_the_announcement_and_goes_after_the_withdrawal(
    frr: Frr,
) {
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
    let ns = lab.frr_namespace();
    ip_in(ns, &["link", "add", VRF, "type", "vrf", "table", VRF]);
    ip_in(ns, &["link", "set", VRF, "up"]);
    lab.peer_with_vrf(VRF, VRF_ASN);
    set_healthy(&lab, true);
    write_ntp(
        &lab,
        &[
            &format!(r#"prefix = "203.0.113.123", vrf = "{VRF}", interface = "{VRF}""#),
            &format!(r#"prefix = "203.0.113.124", vrf = "{VRF}", interface = "{VRF_UPLINK}""#),
        ],
    );

    let plan = anycastd(&lab, ["plan"]).run().success();
    plan.stdout_has(&format!(
        "  + 203.0.113.123  add      {VRF}, for 203.0.113.123/32 (ntp)\n  + 203.0.113.124  add      {VRF_UPLINK}, for \
         203.0.113.124/32 (ntp)\n"
    ));

    let (addresses, peer) = (AddressWatch::start(ns), lab.watch_peer());
    anycastd(&lab, ["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, NTP_V4, IN_VRF]);
    assert!(on(&lab, VRF).contains(NTP_V4), "{VRF} has {NTP_V4}: {:?}", on(&lab, VRF));
    assert!(on(&lab, VRF_UPLINK).contains(IN_VRF), "{VRF_UPLINK} has {IN_VRF}: {:?}", on(&lab, VRF_UPLINK));
    assert_eq!(lab.networks(Some(VRF)), [NTP_V4.to_string(), IN_VRF.to_string()].into(), "VRF {VRF}'s instance");
    for prefix in [NTP_V4, IN_VRF] {
        let took = address_then_route(&addresses, &peer, prefix);
        println!("FRR {}: {prefix} on the host, then at the peer {} ms later", frr.version(), took.as_millis());
    }

    set_healthy(&lab, false);
    anycastd(&lab, ["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED]);
    assert!(on(&lab, VRF).contains(NTP_V4) && on(&lab, VRF_UPLINK).contains(IN_VRF), "kept while unhealthy");

    set_healthy(&lab, true);
    anycastd(&lab, ["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, NTP_V4, IN_VRF]);
    let withdrawals_before = peer.events(NTP_V4).iter().filter(|e| e.withdrawn).count();
    write_ntp(&lab, &[&format!(r#"prefix = "203.0.113.124", vrf = "{VRF}", interface = "{VRF_UPLINK}""#)]);
    let applied = anycastd(&lab, ["apply"]).run().success();
    applied.stdout_has(&format!("removed  {VRF}, for 203.0.113.123/32 (ntp): its prefix left the configuration"));
    lab.wait_peer_routes(&[UNMANAGED, IN_VRF]);
    assert!(!on(&lab, VRF).contains(NTP_V4), "removed: {:?}", on(&lab, VRF));
    assert!(on(&lab, VRF_UPLINK).contains(IN_VRF), "the other stays: {:?}", on(&lab, VRF_UPLINK));
    lab.wait_until("the peer's withdrawal after the prefix left", || {
        peer.events(NTP_V4).iter().filter(|e| e.withdrawn).count() > withdrawals_before
    });
    let withdrawn = peer.events(NTP_V4).iter().filter(|e| e.withdrawn).nth(withdrawals_before).map(|e| e.at);
    let withdrawn = withdrawn.expect("the withdrawal after the prefix left");
    let deleted = addresses.deleted(NTP_V4).expect("ip monitor saw the address deleted");
    assert!(deleted >= withdrawn, "withdrawn, then removed:\n{}{}", addresses.timeline(), peer.timeline(NTP_V4));
}

on_every_frr!(
    an_address_on_a_vrf_s_device_or_an_interface_in_it_comes_before_the_announcement_and_goes_after_the_withdrawal
);
