//! anycastd against a real FRRouting and a real BGP peer (GoBGP), each in its own network namespace.
//!
//! Every test starts its own lab (see `support/lab.rs`): FRR with a default-VRF instance `router bgp 65536` that
//! peers with GoBGP, and an instance `router bgp 65537 vrf 123` without peers (kernel VRF devices are unavailable
//! here, so VRF prefixes are checked in FRR's running config only). Tests assert what FRR is configured with and
//! what the peer received, not anycastd's wording. They need root and fail loudly without it.

mod support;

use support::lab::{DNS_V4, DNS_V6, Lab, NTP_V4, NTP_V6, UNMANAGED, VRF};

/// The harness itself: the session comes up, a network added by hand reaches the peer, removed it leaves.
#[test]
fn lab_smoke() {
    let lab = Lab::builder().unmanaged_network(UNMANAGED).start();
    assert!(lab.session_established());
    lab.wait_peer_routes(&[UNMANAGED]);
    lab.add_network(None, DNS_V4);
    lab.add_network(None, DNS_V6);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.remove_network(None, DNS_V4);
    lab.remove_network(None, DNS_V6);
    lab.wait_peer_routes(&[UNMANAGED]);
    lab.add_network(Some(VRF), NTP_V4);
    lab.add_network(Some(VRF), NTP_V6);
    assert_eq!(lab.networks(Some(VRF)), [NTP_V4, NTP_V6].map(String::from).into());
    assert_eq!(lab.networks(None), [UNMANAGED].map(String::from).into());
    assert_eq!(lab.bgp_instances(), ["router bgp 65536", "router bgp 65537 vrf 123"]);
}
