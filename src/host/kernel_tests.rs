//! The netlink socket against the real kernel, each test in a network namespace of its own that ends with it: the
//! host's own interfaces are never read nor changed. `ip`, run from the test's thread, is in that namespace too, and
//! says what an operator would see.

use std::io::{self, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Instant;

use super::*;

const SERVICE: &str = "203.0.113.53";

/// Runs `test` on a thread of its own in a new, empty network namespace (`lo`, down, alone). A network namespace
/// belongs to a thread: unshare moves only the calling one, children started from it inherit it, and the namespace
/// goes with its last thread and socket.
fn in_namespace<T: Send + 'static>(test: impl FnOnce() -> T + Send + 'static) -> T {
    let thread = thread::spawn(move || {
        // SAFETY: unshare(2) with a flag only.
        let unshared = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(unshared, 0, "unshare(CLONE_NEWNET): {}", io::Error::last_os_error());
        test()
    });
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// `ip ARGS` in the calling thread's namespace; its stdout, or a panic with its stderr.
fn ip(args: &[&str]) -> String {
    let output = Command::new("ip").args(args).output().expect("ip runs");
    assert!(output.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The `local/prefixlen` of each address `ip -json address show dev DEV` lists.
fn ip_addresses(dev: &str) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(&ip(&["-json", "address", "show", "dev", dev])).unwrap();
    let infos = json[0]["addr_info"].as_array().cloned().unwrap_or_default();
    infos.iter().map(|info| format!("{}/{}", info["local"].as_str().unwrap(), info["prefixlen"])).collect()
}

fn addr(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
#[ignore = "needs root: runs in a network namespace of its own"]
fn a_read_sees_the_namespaces_loopback_and_its_addresses() {
    let host = in_namespace(|| {
        ip(&["link", "set", "lo", "up"]);
        Netlink::open().unwrap().read().unwrap()
    });
    assert_eq!(host.links, vec![Link { index: 1, name: "lo".into(), master: None, is_vrf: false }], "only lo");
    assert!(host.addresses.contains(&Address { index: 1, address: addr("127.0.0.1"), prefix_len: 8 }), "{host:?}");
    assert!(host.addresses.contains(&Address { index: 1, address: addr("::1"), prefix_len: 128 }), "{host:?}");
}

#[test]
#[ignore = "needs root: runs in a network namespace of its own"]
fn an_address_added_is_there_as_a_host_route_and_adding_or_removing_twice_is_fine() {
    in_namespace(|| {
        let mut netlink = Netlink::open().unwrap();
        netlink.add_address(1, addr(SERVICE)).unwrap();
        let host = netlink.read().unwrap();
        let added: Vec<&Address> = host.addresses.iter().filter(|found| found.address == addr(SERVICE)).collect();
        assert_eq!(added, [&Address { index: 1, address: addr(SERVICE), prefix_len: 32 }]);
        assert!(host.has_address(1, addr(SERVICE)));
        assert_eq!(ip_addresses("lo"), ["203.0.113.53/32"]);

        assert_eq!(netlink.add_address(1, addr(SERVICE)), Ok(()), "EEXIST: already there");
        assert_eq!(ip_addresses("lo"), ["203.0.113.53/32"], "still once");

        netlink.remove_address(1, addr(SERVICE)).unwrap();
        assert!(!netlink.read().unwrap().has_address(1, addr(SERVICE)));
        assert_eq!(ip_addresses("lo"), Vec::<String>::new());
        assert_eq!(netlink.remove_address(1, addr(SERVICE)), Ok(()), "EADDRNOTAVAIL: already gone");
    });
}

/// This kernel has no dummy device, so a veth pair stands in for one: with its peer up it has a carrier, and an
/// address added by `ip` stays tentative while duplicate address detection runs, as the control shows.
#[test]
#[ignore = "needs root: runs in a network namespace of its own"]
fn an_ipv6_service_address_is_usable_at_once_not_tentative() {
    in_namespace(|| {
        ip(&["link", "add", "veth0", "type", "veth", "peer", "name", "veth1"]);
        ip(&["link", "set", "veth1", "up"]);
        ip(&["link", "set", "veth0", "up"]);
        let mut netlink = Netlink::open().unwrap();
        let veth0 = netlink.read().unwrap().link("veth0").unwrap().index;

        ip(&["address", "add", "2001:db8::54/128", "dev", "veth0"]);
        netlink.add_address(veth0, addr("2001:db8::53")).unwrap();
        let shown = ip(&["-6", "address", "show", "dev", "veth0"]);
        let line = |address: &str| shown.lines().find(|line| line.contains(address)).unwrap_or_default().to_owned();
        assert!(line("2001:db8::54/128").contains("tentative"), "the control, with DAD: {shown}");
        assert!(line("2001:db8::53/128").contains("nodad"), "{shown}");
        assert!(!line("2001:db8::53/128").contains("tentative"), "{shown}");
        let host = netlink.read().unwrap();
        assert!(host.addresses.contains(&Address { index: veth0, address: addr("2001:db8::53"), prefix_len: 128 }));

        netlink.remove_address(veth0, addr("2001:db8::53")).unwrap();
        assert!(!ip(&["-6", "address", "show", "dev", "veth0"]).contains("2001:db8::53/"));
    });
}

/// This kernel has no VRF device either (`ip link add blue type vrf` answers "Unknown device type"): a bridge shows
/// that the master and the kind of device are read from the kernel's own messages, and that a master which is not a
/// VRF puts an interface in no VRF. A VRF master is the same IFLA_MASTER with the kind `vrf`, proven on bytes in
/// `wire`'s tests, and by [`a_vrf_and_its_enslaved_interface_are_in_the_vrf`] where the kernel has VRF.
#[test]
#[ignore = "needs root: runs in a network namespace of its own"]
fn an_interface_enslaved_to_a_bridge_has_its_master_and_no_vrf() {
    in_namespace(|| {
        ip(&["link", "add", "veth0", "type", "veth", "peer", "name", "veth1"]);
        ip(&["link", "add", "br0", "type", "bridge"]);
        ip(&["link", "set", "veth0", "master", "br0"]);
        let mut netlink = Netlink::open().unwrap();
        let host = netlink.read().unwrap();
        let (br0, veth0, lo) = (host.link("br0").unwrap(), host.link("veth0").unwrap(), host.link("lo").unwrap());
        assert_eq!(veth0.master, Some(br0.index));
        assert_eq!((br0.master, br0.is_vrf, veth0.is_vrf), (None, false, false));
        assert_eq!((host.vrf_of(veth0), host.vrf_of(br0), host.vrf_of(lo)), (None, None, None));
        let kinds = netlink.link_kinds().unwrap();
        let kind = |index: u32| kinds.iter().find(|(found, _)| *found == index).map(|(_, kind)| kind.as_str());
        assert_eq!((kind(lo.index), kind(br0.index), kind(veth0.index)), (Some(""), Some("bridge"), Some("veth")));
    });
}

/// Skipped, and said so, on a kernel without VRF devices (this lab's, as tests/quickstart.rs notes): there
/// [`an_interface_enslaved_to_a_bridge_has_its_master_and_no_vrf`] and `wire`'s tests stand in for it.
#[test]
#[ignore = "needs root: runs in a network namespace of its own"]
fn a_vrf_and_its_enslaved_interface_are_in_the_vrf() {
    in_namespace(|| {
        let vrf = Command::new("ip").args(["link", "add", "blue", "type", "vrf", "table", "10"]).output().unwrap();
        if !vrf.status.success() {
            let why = String::from_utf8_lossy(&vrf.stderr);
            assert!(why.contains("Unknown device type"), "{why}");
            println!("no kernel VRF devices here ({}): skipped", why.trim());
            return;
        }
        ip(&["link", "add", "veth0", "type", "veth", "peer", "name", "veth1"]);
        ip(&["link", "set", "veth0", "master", "blue"]);
        let host = Netlink::open().unwrap().read().unwrap();
        let vrf = |name: &str| host.vrf_of(host.link(name).unwrap()).map(str::to_owned);
        assert_eq!((vrf("blue"), vrf("veth0"), vrf("lo")), (Some("blue".into()), Some("blue".into()), None));
    });
}

#[test]
#[ignore = "needs root: runs in a network namespace of its own"]
fn an_unknown_interface_is_refused_in_the_kernels_words() {
    let (added, removed) = in_namespace(|| {
        let mut netlink = Netlink::open().unwrap();
        (netlink.add_address(999_999, addr(SERVICE)), netlink.remove_address(999_999, addr("2001:db8::53")))
    });
    assert_eq!(
        added,
        Err("netlink: adding 203.0.113.53/32 to interface 999999: no such device (the kernel says: ipv4: Device not found)".into())
    );
    assert_eq!(
        removed,
        Err("netlink: removing 2001:db8::53/128 from interface 999999: no such device (the kernel says: ipv6: Unable \
             to find the interface)"
            .into())
    );
}

/// Capabilities belong to a thread, so the test's own thread can give CAP_NET_ADMIN up without the process losing it.
#[test]
#[ignore = "needs root: runs in a network namespace of its own"]
fn without_cap_net_admin_a_change_is_refused_with_the_readmes_pointer_and_a_read_still_works() {
    let (status, added, read) = in_namespace(|| {
        drop_net_admin().unwrap();
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let mut netlink = Netlink::open().unwrap();
        (status, netlink.add_address(1, addr(SERVICE)), netlink.read().map(|host| host.links.len()))
    });
    let effective = status.lines().find_map(|line| line.strip_prefix("CapEff:\t")).unwrap();
    assert_eq!(u64::from_str_radix(effective, 16).unwrap() & (1 << 12), 0, "CAP_NET_ADMIN is gone: {effective}");
    assert_eq!(
        added,
        Err("netlink: adding 203.0.113.53/32 to interface 1: operation not permitted (anycastd lacks CAP_NET_ADMIN: \
             see \"The service address on the host\" in the README)"
            .into())
    );
    assert_eq!(read, Ok(1));
}

/// Not a benchmark: how long one read takes on a host with 10,000 service addresses, for the operator's notes.
#[test]
#[ignore = "needs root: runs in a network namespace of its own"]
fn a_read_of_ten_thousand_addresses_takes_milliseconds() {
    let (count, elapsed) = in_namespace(|| {
        ip(&["link", "add", "veth0", "type", "veth", "peer", "name", "veth1"]);
        let batch: String =
            (0..10_000).map(|n| format!("address add 10.{}.{}.1/32 dev veth0\n", n / 256, n % 256)).collect();
        let mut child = Command::new("ip").args(["-batch", "-"]).stdin(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(batch.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
        let mut netlink = Netlink::open().unwrap();
        let started = Instant::now();
        let host = netlink.read().unwrap();
        (host.addresses.len(), started.elapsed())
    });
    eprintln!("one read of {count} addresses: {elapsed:?}");
    assert!(count >= 10_000, "{count}");
}
