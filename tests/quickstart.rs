//! The README's "Production quickstart" is a test: its blocks, read from README.md as they are written, run on a
//! booted Debian 12 node (`tests/support/node.rs`) whose FRR is Debian's package at its defaults (bgpd off, `frr
//! defaults traditional`: eBGP that requires a policy, IPv4 unicast only for a new neighbor), with anycastd's
//! package installed and a Cabourotte 2.x (the fake one, serving its API only under `/api/v1`) on 127.0.0.1:9013.
//! Its BGP peer is GoBGP across a veth pair (`tests/support/peer.rs`): the test asserts what the peer receives, not
//! what anycastd says, so a README edit that announces nothing to the network fails here.
//!
//! Needs root (mount, nspawn, network namespaces), as `scripts/test` runs it with the package tests.

use crate::support;

use std::time::{Duration, Instant};

use support::debian::text;
use support::node::Node;
use support::peer::Peer;
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
    let output = node.run(&["sh", "-e", "-c", &block.body]);
    let (shown, stderr) = (text(&output.stdout), text(&output.stderr));
    println!("# {}\n{shown}{stderr}", block.body.trim_end().replace('\n', "\n# "));
    assert!(output.status.success(), "{}: {}", block.body, output.status);
    // Root's commands in the units' directory act as the units' user: not a word about whose it is.
    assert!(!stderr.contains("state directory /var/lib/anycastd belongs to"), "{stderr}");
    shown
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

#[test]
fn the_blocks_of_the_quickstart_are_the_ones_the_test_knows_how_to_run() {
    let languages: Vec<String> = blocks("Production quickstart").into_iter().map(|block| block.language).collect();
    for language in &languages {
        assert!(["sh", "frr", "toml", "text"].contains(&language.as_str()), "a ```{language} block: {languages:?}");
    }
    for one in ["frr", "toml"] {
        assert_eq!(languages.iter().filter(|l| *l == one).count(), 1, "one ```{one} block: {languages:?}");
    }
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn the_readme_s_production_quickstart_announces_to_a_bgp_peer_and_a_failing_check_withdraws_there() {
    let started = Instant::now();
    let mut node = Node::boot_as_installed();
    let installed = node.install_package();
    assert!(installed.contains("Setting up anycastd ("), "{installed}");
    let peer = Peer::facing(&node);
    // Step 4: Cabourotte 2.x, its checks passing.
    node.start_cabourotte();
    node.cabourotte_serves_only_api_v1();
    for check in ["dns", "ntp_v4", "ntp_v6"] {
        node.set_check(check, true);
    }
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
