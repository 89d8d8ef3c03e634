//! The README's quickstarts are tests: "Production quickstart" (FRR) and "BIRD quickstart". Their blocks, read from
//! README.md as they are written, run on a booted Debian 12 node (`tests/support/node.rs`) whose FRR is Debian's
//! package at its defaults (bgpd off, `frr defaults traditional`: eBGP that requires a policy, IPv4 unicast only for
//! a new neighbor), whose BIRD, for the BIRD quickstart, is Debian's bird2 (2.0) running Debian's bird.conf, with
//! anycastd's package installed and a Cabourotte 2.x (the fake one, serving its API only under `/api/v1`) on
//! 127.0.0.1:9013. The node's BGP peer is GoBGP across a veth pair (`tests/support/peer.rs`): the tests assert what
//! the peer receives, not what anycastd says, so a README edit that announces nothing to the network fails here.
//!
//! Needs root (mount, nspawn, network namespaces), as `scripts/test` runs it with the package tests.

use crate::support;

use std::time::{Duration, Instant};

use support::debian::text;
use support::node::Node;
use support::peer::{GRACEFUL_SHUTDOWN, Peer, PeerRoute};
use support::running_config::networks_in;

const README: &str = include_str!("../README.md");

const DNS: [&str; 2] = ["203.0.113.53/32", "2001:db8::b19:bad:53/128"];
const NTP: [&str; 2] = ["203.0.113.123/32", "2001:db8::123:7e11:713e/128"];

/// One fenced block of the README: its language (`sh`, `frr`, `toml`, `text`) and its text, unindented.
struct Block {
    language: String,
    body: String,
}

/// The fenced blocks of the README's section `## {section}`, in order.
fn blocks(section: &str) -> Vec<Block> {
    let start =
        README.find(&format!("\n## {section}\n")).unwrap_or_else(|| panic!("the README has a section \"{section}\""));
    let section = &README[start + 1..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |end| end + 1)];
    let mut blocks = Vec::new();
    // The open block, and the indentation of its fence (a block in a list item is indented).
    let mut open: Option<(usize, Block)> = None;
    for line in section.lines() {
        let fence = line.trim_start().strip_prefix("```");
        if let Some((indent, mut block)) = open.take() {
            if fence == Some("") {
                blocks.push(block);
            } else {
                block.body.push_str(line.get(indent..).unwrap_or(line.trim_start()));
                block.body.push('\n');
                open = Some((indent, block));
            }
        } else if let Some(language) = fence {
            let indent = line.len() - line.trim_start().len();
            open = Some((indent, Block { language: language.trim().to_string(), body: String::new() }));
        }
    }
    assert!(open.is_none(), "a block of the section {section:?} is never closed");
    blocks
}

/// Runs a `sh` block as written, with `sh -e` in a root shell on the node; prints it with what it printed, fails the
/// test unless it succeeded, and returns its stdout.
fn run_sh(node: &Node, block: &Block) -> String {
    run_sh_with_stderr(node, block).0
}

/// [`run_sh`], returning stderr too: anycastd's log lines (what it added, announced) are there.
fn run_sh_with_stderr(node: &Node, block: &Block) -> (String, String) {
    let output = node.run(&["sh", "-e", "-c", &block.body]);
    let (shown, stderr) = (text(&output.stdout), text(&output.stderr));
    println!("# {}\n{shown}{stderr}", block.body.trim_end().replace('\n', "\n# "));
    assert!(output.status.success(), "{}: {}", block.body, output.status);
    // Root's commands in the units' directory act as the units' user: not a word about whose it is.
    assert!(!stderr.contains("state directory /var/lib/anycastd belongs to"), "{stderr}");
    (shown, stderr)
}

/// Adds a block's lines to the end of the node's file `path` (a daemon's configuration), keeping its owner and mode.
fn append(node: &Node, path: &str, block: &Block) {
    let path = node.path(path);
    let mut conf = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    conf.push_str(&block.body);
    std::fs::write(&path, conf)
        .unwrap_or_else(|error| panic!("add the quickstart's lines to {}: {error}", path.display()));
}

/// Whether the kernel lets the node make a VRF device. It needs the `vrf` driver, a module on Debian's kernels:
/// loaded here on the host, when there is a modprobe and a module to load (the node shares the host's kernel, and
/// cannot load one itself).
fn vrf_devices_work(node: &Node) -> Result<(), String> {
    let _ = std::process::Command::new("modprobe").arg("vrf").status();
    let probe = node.run(&["ip", "link", "add", "acd-vrf-probe", "type", "vrf", "table", "4242"]);
    if !probe.status.success() {
        return Err(text(&probe.stderr).trim().to_string());
    }
    node.ok(&["ip", "link", "del", "acd-vrf-probe"]);
    Ok(())
}

/// Whether a block of the quickstart makes or uses the kernel VRF device `123`.
fn needs_a_vrf_device(block: &Block) -> bool {
    block.body.contains("type vrf") || block.body.contains(" dev 123")
}

/// The BIRD quickstart's `sh` blocks that its test does more around than run them: the one that shows what BIRD
/// exports (run once the peer has the routes, as its text says), the drain (watched at the peer while it waits) and
/// `resume` (followed by the timer's announcement).
const SHOW_EXPORT: &str = "birdc show route export";
const DRAIN: &str = "anycastd withdraw-all --drain";
const RESUME: &str = "anycastd resume";

/// The README's section on the `interface` key: its `toml` block is the production quickstart's configuration with the
/// key on every prefix, its `sh` block links the units' address drop-in.
const ADDRESS_SECTION: &str = "The service address on the host";
/// The production quickstart's step 6 (check, plan, apply, enable the timer): the address drop-in is linked before it,
/// as a user would, since the timer's units are the ones that need it.
const ENABLE_TIMER: &str = "systemctl enable --now anycastd.timer";
/// The kernel VRF device of the production quickstart's VRF 123, and the `interface` key that names it.
const VRF_DEVICE: &str = "123";
const VRF_DEVICE_KEY: &str = r#", "interface" = "123""#;

/// The commands of a `sh` block: its lines cut at a trailing comment, split at `&&` and `;`, blank ones left out.
fn commands(block: &Block) -> Vec<&str> {
    block
        .body
        .lines()
        .map(|line| line.split_once(" #").map_or(line, |(command, _)| command))
        .flat_map(|line| line.split("&&").flat_map(|part| part.split(';')))
        .map(str::trim)
        .filter(|command| !command.is_empty() && !command.starts_with('#'))
        .collect()
}

/// Whether a command is one of `ip address` (`ip a`, `ip addr`, ...): the commands that put an address on the host.
fn is_ip_address(command: &str) -> bool {
    let mut words = command.split_whitespace();
    words.next() == Some("ip") && words.next().is_some_and(|object| "address".starts_with(object))
}

/// What `ip addr add ADDRESS/LENGTH dev DEVICE` puts on the host: (`ADDRESS/LENGTH`, `DEVICE`).
fn address_added_by(command: &str) -> Option<(String, String)> {
    match command.split_whitespace().collect::<Vec<_>>()[..] {
        ["ip", _, "add", address, "dev", device] if is_ip_address(command) => {
            Some((address.to_string(), device.to_string()))
        }
        _ => None,
    }
}

/// The addresses a `sh` block of the production quickstart puts on the host, when that is all it does: step 3, the
/// blocks a user of the `interface` key skips. `None` for any other block.
fn only_adds_addresses(block: &Block) -> Option<Vec<(String, String)>> {
    let commands = commands(block);
    if block.language != "sh" || commands.is_empty() {
        return None;
    }
    commands.into_iter().map(address_added_by).collect()
}

/// The prefixes of every service of a configuration, whatever their daemon, as tables (a prefix written as a string
/// becomes `{ prefix = "..." }`).
fn prefix_tables(config: &str) -> Vec<toml::Table> {
    let config: toml::Table = toml::from_str(config).unwrap_or_else(|error| panic!("{error}\n{config}"));
    let services = config.get("services").and_then(toml::Value::as_table).cloned().unwrap_or_default();
    let daemons = services.values().filter_map(|service| service.get("prefixes")?.as_table().cloned());
    let prefixes = daemons.flat_map(|daemons| daemons.into_iter().filter_map(|(_, list)| list.as_array().cloned()));
    prefixes
        .flatten()
        .map(|prefix| match prefix {
            toml::Value::String(prefix) => toml::Table::from_iter([("prefix".to_string(), prefix.into())]),
            toml::Value::Table(table) => table,
            other => panic!("a prefix is a string or a table: {other}"),
        })
        .collect()
}

/// What anycastd puts on the host for a configuration: (`ADDRESS/LENGTH`, interface) of each host prefix that has an
/// `interface` (those of the README have no `addresses`).
fn addresses_of(config: &str) -> std::collections::BTreeSet<(String, String)> {
    prefix_tables(config)
        .into_iter()
        .filter_map(|prefix| {
            let interface = prefix.get("interface")?.as_str()?.to_string();
            let address = prefix.get("prefix")?.as_str()?.to_string();
            let length = if address.contains(':') { "/128" } else { "/32" };
            Some((if address.contains('/') { address } else { address + length }, interface))
        })
        .collect()
}

/// A configuration as anycastd reads it, every prefix as a table and without its `interface` key: equal for the
/// quickstart's configuration and the address section's, which adds only the key.
fn without_interfaces(config: &str) -> toml::Value {
    let mut config: toml::Value = toml::from_str(config).unwrap_or_else(|error| panic!("{error}\n{config}"));
    let services = config.get_mut("services").and_then(toml::Value::as_table_mut);
    for (_, service) in services.into_iter().flat_map(|services| services.iter_mut()) {
        let daemons = service.get_mut("prefixes").and_then(toml::Value::as_table_mut);
        for (_, list) in daemons.into_iter().flat_map(|daemons| daemons.iter_mut()) {
            for prefix in list.as_array_mut().into_iter().flat_map(|list| list.iter_mut()) {
                if let Some(text) = prefix.as_str() {
                    let table = toml::Table::from_iter([("prefix".to_string(), toml::Value::from(text))]);
                    *prefix = toml::Value::Table(table);
                }
                if let Some(table) = prefix.as_table_mut() {
                    table.remove("interface");
                }
            }
        }
    }
    config
}

/// The address section's configuration for a kernel that cannot make VRF devices: its prefixes in VRF 123 without
/// their `interface`, which names the device (see the keyed test).
fn without_the_vrf_device(config: &str) -> String {
    config.replace(VRF_DEVICE_KEY, "")
}

#[test]
fn the_blocks_of_the_quickstarts_are_the_ones_their_tests_know_how_to_run() {
    for (section, daemon) in [("Production quickstart", "frr"), ("BIRD quickstart", "bird")] {
        let languages: Vec<String> = blocks(section).into_iter().map(|block| block.language).collect();
        for language in &languages {
            assert!(
                ["sh", daemon, "toml", "text"].contains(&language.as_str()),
                "{section}: ```{language}: {languages:?}"
            );
        }
        for one in [daemon, "toml"] {
            assert_eq!(
                languages.iter().filter(|l| *l == one).count(),
                1,
                "{section}: one ```{one} block: {languages:?}"
            );
        }
    }
    let bird = blocks("BIRD quickstart");
    for command in [SHOW_EXPORT, DRAIN, RESUME] {
        let with: Vec<&Block> = bird.iter().filter(|block| block.body.contains(command)).collect();
        assert!(with.len() == 1 && with[0].language == "sh", "BIRD quickstart: one ```sh block runs {command:?}");
    }
}

/// What the production quickstart's test with the `interface` key skips and replaces, checked against the README as
/// it is: the blocks that only add addresses (step 3) add exactly what the address section's configuration has
/// anycastd add, no other block touches an address (it would put one there before anycastd could), that configuration
/// is the quickstart's with the key alone, and the section's `sh` block links the drop-in into both units.
#[test]
fn the_keyed_production_quickstart_skips_the_blocks_that_add_by_hand_what_its_configuration_has_anycastd_add() {
    let quickstart = blocks("Production quickstart");
    let mut by_hand = std::collections::BTreeSet::new();
    for block in &quickstart {
        match only_adds_addresses(block) {
            Some(added) => by_hand.extend(added),
            None => {
                let touching: Vec<&str> = commands(block).into_iter().filter(|c| is_ip_address(c)).collect();
                assert!(
                    touching.is_empty(),
                    "Production quickstart: a block does more than add addresses: {touching:?}"
                );
            }
        }
    }
    let section = blocks(ADDRESS_SECTION);
    let languages: Vec<&str> = section.iter().map(|block| block.language.as_str()).collect();
    assert_eq!(languages, ["toml", "sh"], "{ADDRESS_SECTION}: its configuration, then the drop-in's links");
    let keyed = &section[0].body;
    let expected: Vec<(String, String)> = [(DNS, "lo"), (NTP, VRF_DEVICE)]
        .iter()
        .flat_map(|(prefixes, interface)| prefixes.iter().map(|prefix| (prefix.to_string(), interface.to_string())))
        .collect();
    assert_eq!(addresses_of(keyed), expected.iter().cloned().collect(), "{ADDRESS_SECTION}:\n{keyed}");
    assert_eq!(by_hand, addresses_of(keyed), "step 3 adds by hand what the keyed configuration has anycastd add");
    let plain: Vec<&Block> = quickstart.iter().filter(|block| block.language == "toml").collect();
    assert_eq!(without_interfaces(keyed), without_interfaces(&plain[0].body), "the quickstart's, with the key alone");
    // Without VRF devices the test takes out the keys that name one, and only those.
    let no_vrf_device = without_the_vrf_device(keyed);
    let on_lo: std::collections::BTreeSet<_> =
        expected.into_iter().filter(|(_, interface)| interface == "lo").collect();
    assert_eq!(addresses_of(&no_vrf_device), on_lo, "{no_vrf_device}");
    assert_eq!(without_interfaces(&no_vrf_device), without_interfaces(keyed));

    let links = &section[1].body;
    for unit in ["anycastd", "anycastd-run"] {
        let link = format!("/usr/lib/anycastd/systemd/address.conf /etc/systemd/system/{unit}.service.d/address.conf");
        assert!(links.contains(&link), "{ADDRESS_SECTION}: the drop-in is linked into {unit}.service:\n{links}");
    }
    assert!(links.contains("systemctl daemon-reload"), "{links}");
    let enabling = quickstart.iter().filter(|block| block.language == "sh" && block.body.contains(ENABLE_TIMER));
    assert_eq!(enabling.count(), 1, "Production quickstart: one ```sh block runs {ENABLE_TIMER:?}");
}

/// A booted Debian 12 node with the package installed, a GoBGP peer facing it, and step 4 of the production
/// quickstart done: Cabourotte 2.x serving its API under /api/v1, its checks passing.
fn production_node() -> (Node, Peer) {
    let mut node = Node::boot_as_installed();
    let installed = node.install_package();
    assert!(installed.contains("Setting up anycastd ("), "{installed}");
    let peer = Peer::facing(&node);
    node.start_cabourotte();
    node.cabourotte_serves_only_api_v1();
    for check in ["dns", "ntp_v4", "ntp_v6"] {
        node.set_check(check, true);
    }
    (node, peer)
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn the_readme_s_production_quickstart_announces_to_a_bgp_peer_and_a_failing_check_withdraws_there() {
    let started = Instant::now();
    let (node, peer) = production_node();
    // Kernels without the vrf driver (the VMs this test was written on run one built without it and without modules:
    // `modprobe vrf` has nothing to load, and `ip link add 123 type vrf` answers "Unknown device type") cannot run
    // the blocks that make and use VRF 123: they are skipped, and said so. FRR's instance in VRF 123 is still
    // configured, and anycastd still manages its networks there; only their advertisement needs the device, and the
    // peer is in the default VRF, where it would not see them anyway.
    let vrf = vrf_devices_work(&node);
    if let Err(why) = &vrf {
        println!("no kernel VRF devices here ({why}): the blocks that make or use VRF 123 are skipped");
    }
    let booted = started.elapsed();

    for block in blocks("Production quickstart") {
        match block.language.as_str() {
            "sh" if vrf.is_err() && needs_a_vrf_device(&block) => println!("skipped (no VRF devices):\n{}", block.body),
            "sh" => {
                run_sh(&node, &block);
            }
            "frr" => append(&node, "/etc/frr/frr.conf", &block),
            "toml" => node.write_config(&block.body),
            _ => {}
        }
    }
    let ran = started.elapsed() - booted;

    // What the peer sees: both addresses of `dns`, the IPv6 one too. Those of `ntp` are in FRR's VRF 123.
    let diagnosis = || {
        let summary = text(&node.run(&["vtysh", "-c", "show bgp summary"]).stdout);
        let journal = text(&node.run(&["journalctl", "--no-pager", "-n", "20", "-u", "anycastd.service"]).stdout);
        format!("FRR: show bgp summary:\n{summary}\nanycastd.service:\n{journal}")
    };
    let arrived = peer.wait_routes(&DNS, Duration::from_secs(30), diagnosis);
    let running = node.ok(&["vtysh", "-c", "show running-config"]);
    assert_eq!(networks_in(&running, Some("123")), NTP.map(String::from).into(), "{running}");
    println!("vtysh -c 'show bgp summary':\n{}", node.ok(&["vtysh", "-c", "show bgp summary"]));

    // A failing check: the timer's next run withdraws (every 5 s; a loaded 2-core CI machine once took over 20 s), and
    // the peer loses both routes.
    node.set_check("dns", false);
    let withdrawn = peer.wait_routes(&[], Duration::from_secs(60), diagnosis);
    // The pass logs once it has verified what FRR took, which may be after the peer learnt it, and journald reads
    // the line a moment later still.
    let line = "anycastd apply: withdrawn 203.0.113.53/32 for service dns (default VRF, AS 65536): check dns failed: \
                check failed (set by hand in the lab)";
    node.wait_journal("anycastd.service", line, Duration::from_secs(10));
    println!(
        "booted and installed in {booted:?}, the quickstart's blocks ran in {ran:?}; the peer had both routes \
         {arrived:?} after them, and none {withdrawn:?} after the check failed"
    );
}

/// The production quickstart for a user of the `interface` key, as the README tells them: step 3 skipped, the
/// configuration of "The service address on the host" instead of step 5's, and that section's drop-in linked before
/// step 6. Root's `anycastd apply` at the shell, acting as the units' user with CAP_NET_ADMIN kept, adds the
/// addresses to `lo` and then announces; the peer receives both prefixes of `dns`, the timer's runs (under the
/// drop-in) say nothing of addresses, and once the check `dns` fails the peer loses the routes while the addresses
/// stay on `lo`: anycastd keeps them whatever the health.
#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn the_production_quickstart_with_the_interface_key_adds_the_addresses_announces_and_keeps_them_when_a_check_fails() {
    let started = Instant::now();
    let (node, peer) = production_node();
    let section = blocks(ADDRESS_SECTION);
    let mut config =
        section.iter().find(|block| block.language == "toml").expect("the keyed configuration").body.clone();
    // Without VRF devices (see the test above), the blocks that make VRF 123 are skipped, and ntp's prefixes, whose
    // `interface` is that device, would each be an `address-missing` error: root's `anycastd apply` in step 6 would
    // exit 1 and stop its block (`sh -e`) before the timer is enabled. Their `interface` keys are taken out instead,
    // and said so: ntp is then the plain quickstart's, announced in FRR's VRF 123 as there, and `dns`, what this test
    // is about, is untouched (a no-lab test checks that only the keys naming the device go).
    let vrf = vrf_devices_work(&node);
    if let Err(why) = &vrf {
        config = without_the_vrf_device(&config);
        println!(
            "no kernel VRF devices here ({why}): the blocks that make or use VRF 123 are skipped, and the \
             configuration's {VRF_DEVICE_KEY:?} keys taken out"
        );
    }
    let booted = started.elapsed();

    let mut applied = None;
    for block in blocks("Production quickstart") {
        match block.language.as_str() {
            "sh" if only_adds_addresses(&block).is_some() => {
                println!("skipped (anycastd puts the addresses there):\n{}", block.body);
            }
            "sh" if vrf.is_err() && needs_a_vrf_device(&block) => println!("skipped (no VRF devices):\n{}", block.body),
            "sh" if block.body.contains(ENABLE_TIMER) => {
                let before = addresses_on(&node, "lo");
                assert!(
                    DNS.iter().all(|prefix| !before.contains(&prefix.to_string())),
                    "nobody added them: {before:?}"
                );
                for links in section.iter().filter(|block| block.language == "sh") {
                    run_sh(&node, links);
                }
                applied = Some(run_sh_with_stderr(&node, &block).1);
            }
            "sh" => {
                run_sh(&node, &block);
            }
            "frr" => append(&node, "/etc/frr/frr.conf", &block),
            "toml" => node.write_config(&config),
            _ => {}
        }
    }
    let applied = applied.expect("the quickstart enables the timer (see the test of its blocks)");
    let ran = started.elapsed() - booted;

    // Root's `anycastd apply` put each address on lo before it announced its prefix.
    let logged: Vec<&str> = applied.lines().collect();
    for prefix in DNS {
        let address = prefix.split_once('/').map_or(prefix, |(address, _)| address);
        let added = format!(
            "anycastd apply: address-added {prefix} for service dns (default VRF): {address} on lo: its prefix's \
             `interface` names it"
        );
        let announced =
            format!("anycastd apply: announced {prefix} for service dns (default VRF, AS 65536): every check passes");
        let at = |line: &str| logged.iter().position(|logged| *logged == line);
        let (Some(added), Some(announced)) = (at(&added), at(&announced)) else {
            panic!("root's apply logs {added:?} and {announced:?}:\n{applied}");
        };
        assert!(added < announced, "the address first, then the announcement:\n{applied}");
    }
    let diagnosis = || {
        let summary = text(&node.run(&["vtysh", "-c", "show bgp summary"]).stdout);
        let journal = text(&node.run(&["journalctl", "--no-pager", "-n", "20", "-u", "anycastd.service"]).stdout);
        format!("FRR: show bgp summary:\n{summary}\nanycastd.service:\n{journal}")
    };
    let arrived = peer.wait_routes(&DNS, Duration::from_secs(30), diagnosis);
    let on_lo = addresses_on(&node, "lo");
    for prefix in DNS {
        assert!(on_lo.contains(&prefix.to_string()), "lo has {prefix}: {on_lo:?}");
    }
    if vrf.is_ok() {
        let on_device = addresses_on(&node, VRF_DEVICE);
        for prefix in NTP {
            assert!(on_device.contains(&prefix.to_string()), "{VRF_DEVICE} has {prefix}: {on_device:?}");
        }
    }
    let running = node.ok(&["vtysh", "-c", "show running-config"]);
    assert_eq!(networks_in(&running, Some(VRF_DEVICE)), NTP.map(String::from).into(), "{running}");

    // A failing check: the timer's next run withdraws, and the peer loses both routes; the addresses stay.
    node.set_check("dns", false);
    let withdrawn = peer.wait_routes(&[], Duration::from_secs(60), diagnosis);
    let line = "anycastd apply: withdrawn 203.0.113.53/32 for service dns (default VRF, AS 65536): check dns failed: \
                check failed (set by hand in the lab)";
    node.wait_journal("anycastd.service", line, Duration::from_secs(10));
    // One more whole pass after the one that withdrew, started and waited for here rather than by the timer.
    node.ok(&["systemctl", "start", "anycastd.service"]);
    let on_lo = addresses_on(&node, "lo");
    for prefix in DNS {
        assert!(on_lo.contains(&prefix.to_string()), "lo keeps {prefix} while its check fails: {on_lo:?}");
    }
    // The timer's runs, under the drop-in, read the addresses and found them there: no error, nothing to add or
    // remove (without the drop-in, every run logs `prefix-error ... cannot read the host's interfaces`).
    let journal = node.journal("anycastd.service");
    println!("{}", node.journal_shown("anycastd.service"));
    for word in ["address-", "-error", "-failed"] {
        assert!(!journal.contains(word), "anycastd.service logs no {word:?}:\n{journal}");
    }
    println!(
        "booted and installed in {booted:?}, the quickstart's blocks ran in {ran:?}; the peer had both routes \
         {arrived:?} after them, and none {withdrawn:?} after the check failed; lo kept {on_lo:?}"
    );
}

/// The addresses on a device of the node, as `ADDRESS/LENGTH`, read by root's `ip -json address`.
fn addresses_on(node: &Node, device: &str) -> Vec<String> {
    let shown = node.ok(&["ip", "-json", "address", "show", "dev", device]);
    let links: serde_json::Value = serde_json::from_str(&shown).unwrap_or_else(|error| panic!("{error}: {shown}"));
    let infos = links.as_array().into_iter().flatten().filter_map(|link| link.get("addr_info")?.as_array());
    infos
        .flatten()
        .filter_map(|info| Some(format!("{}/{}", info.get("local")?.as_str()?, info.get("prefixlen")?.as_u64()?)))
        .collect()
}

/// The README's BIRD quickstart, run as written: the peer receives both prefixes from BIRD, the drain reaches it
/// with the graceful-shutdown community and then withdraws, `resume` has the timer announce again, and a failing
/// check has the timer withdraw. The timer's runs do the last two: anycastd.service, under its sandbox, reaches
/// BIRD's control socket through the group the quickstart's drop-in gives it.
#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn the_readme_s_bird_quickstart_announces_drains_with_65535_0_and_withdraws_at_a_bgp_peer() {
    let started = Instant::now();
    let mut node = Node::boot_as_installed();
    let installed = node.install_package();
    assert!(installed.contains("Setting up anycastd ("), "{installed}");
    let peer = Peer::facing(&node);
    // Debian's BIRD, as `apt install bird2` leaves it on a host with an uplink: running Debian's bird.conf.
    node.start_bird();
    // Step 3: Cabourotte 2.x, the check passing.
    node.start_cabourotte();
    node.cabourotte_serves_only_api_v1();
    node.set_check("dns", true);
    let booted = started.elapsed();

    let diagnosis = || {
        let bgp = text(&node.run(&["birdc", "show", "protocols", "all", "upstream1"]).stdout);
        let routes = text(&node.run(&["birdc", "show", "route", "all"]).stdout);
        let journal = text(&node.run(&["journalctl", "--no-pager", "-n", "20", "-u", "anycastd.service"]).stdout);
        format!("BIRD: show protocols all upstream1:\n{bgp}\nshow route all:\n{routes}\nanycastd.service:\n{journal}")
    };
    let drained = |route: &PeerRoute| route.has_community(GRACEFUL_SHUTDOWN);
    let (mut arrived, mut drain, mut resumed) = (None, None, None);
    for block in blocks("BIRD quickstart") {
        match block.language.as_str() {
            // "Once `birdc show protocols` says `Established`": the peer has the routes by then.
            "sh" if block.body.contains(SHOW_EXPORT) => {
                arrived = Some(peer.wait_routes(&DNS, Duration::from_secs(30), diagnosis));
                let shown = run_sh(&node, &block);
                for prefix in DNS {
                    assert!(shown.contains(prefix), "{prefix} in\n{shown}");
                }
                assert!(!shown.contains("(65535,0)"), "nothing drains yet:\n{shown}");
            }
            // The drain waits its 30 s: watched at the peer meanwhile, from the start of the command.
            "sh" if block.body.contains(DRAIN) => {
                let command = Instant::now();
                drain = Some(std::thread::scope(|scope| {
                    let waiting = scope.spawn(|| run_sh(&node, &block));
                    let marked =
                        peer.wait_routes_where(&DNS, " with 65535:0", drained, Duration::from_secs(10), diagnosis);
                    waiting.join().expect("the drain's block");
                    let returned = command.elapsed();
                    // It withdraws before it returns; the peer learns it a moment later.
                    peer.wait_routes(&[], Duration::from_secs(10), diagnosis);
                    (marked, returned)
                }));
            }
            // Maintenance ends; the timer's next run (every 5 s) announces again, without the community.
            "sh" if block.body.contains(RESUME) => {
                run_sh(&node, &block);
                let back = peer.wait_routes_where(
                    &DNS,
                    " without 65535:0",
                    |route| !drained(route),
                    Duration::from_secs(60),
                    diagnosis,
                );
                resumed = Some(back);
            }
            "sh" => {
                run_sh(&node, &block);
            }
            "bird" => append(&node, "/etc/bird/bird.conf", &block),
            "toml" => node.write_config(&block.body),
            _ => {}
        }
    }
    let (Some(arrived), Some((marked, drain_returned)), Some(resumed)) = (arrived, drain, resumed) else {
        panic!("the BIRD quickstart shows what BIRD exports, a drain and a resume (see the test of its blocks)");
    };
    let ran = started.elapsed() - booted;

    // A failing check: the timer's next run withdraws (every 5 s; a loaded 2-core CI machine once took over 20 s).
    node.set_check("dns", false);
    let withdrawn = peer.wait_routes(&[], Duration::from_secs(60), diagnosis);
    // The pass logs once it has verified what BIRD took, which may be after the peer learnt it, and journald reads
    // the line a moment later still.
    for line in [
        "anycastd apply: announced 203.0.113.53/32 for service dns (BIRD): every check passes",
        "anycastd apply: withdrawn 203.0.113.53/32 for service dns (BIRD): check dns failed: check failed (set by \
         hand in the lab)",
    ] {
        node.wait_journal("anycastd.service", line, Duration::from_secs(10));
    }
    let journal = node.journal("anycastd.service");
    assert!(!journal.to_lowercase().contains("permission denied"), "{journal}");
    for unit in ["anycastd.service", "anycastd-run.service"] {
        assert_eq!(node.property(unit, "SupplementaryGroups"), "frrvty bird", "{unit}");
    }
    println!("{}", node.journal_shown("anycastd.service"));
    println!(
        "booted, installed and BIRD started in {booted:?}, the quickstart's blocks ran in {ran:?} (the drain's 30 s \
         included); the peer had both routes {arrived:?} after the blocks before `birdc show route export`, with \
         65535:0 {marked:?} after the drain began; the drain returned after {drain_returned:?}; the routes were \
         back {resumed:?} after `resume`, and gone {withdrawn:?} after the check failed"
    );
}
