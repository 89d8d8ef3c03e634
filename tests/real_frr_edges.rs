//! The edges of a pass against a real FRRouting and a real BGP peer (GoBGP), on every FRR release the lab supports:
//! `withdraw-all` racing a pass held up by a slow FRR, and loop mode noticing what other anycastd processes changed
//! between its passes.

use crate::support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::cabourotte::FakeCabourotte;
use support::lab::{DNS_V4, DNS_V6, Frr, Lab, NTP_V4, UNMANAGED, VRF};

/// When the slow vtysh of [`slow_lab`] sleeps.
#[derive(Clone, Copy)]
enum Slow {
    /// Before every configuration batch (`-f`): the pass has decided, and its batch is in FRR's hands.
    Batches,
    /// Before every read of the running config: the pass has not decided yet.
    Reads,
}

/// The seed lab, behind a vtysh wrapper that sleeps 3 s where `slow` says before running the lab's vtysh: a slow
/// FRR, holding the run lock of the pass that asked it.
fn slow_lab(frr: Frr, cabourotte: &FakeCabourotte, slow: Slow) -> Lab {
    let lab = Lab::seed(frr, &cabourotte.url());
    let wrapper: PathBuf = lab.vtysh_wrapper().with_file_name("slow-vtysh");
    let pattern = match slow {
        Slow::Batches => "*\" -f \"*",
        Slow::Reads => "*running-config*",
    };
    let script = format!(
        "#!/bin/sh\ncase \" $* \" in {pattern}) sleep 3 ;; esac\nexec {} \"$@\"\n",
        lab.vtysh_wrapper().display()
    );
    std::fs::write(&wrapper, script).expect("write the slow vtysh");
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let config = lab.seed_config(&cabourotte.url());
    let slow_config = config.replace(
        &format!("vtysh = \"{}\"", lab.vtysh_wrapper().display()),
        &format!("vtysh = \"{}\"", wrapper.display()),
    );
    assert_ne!(config, slow_config, "the configuration names the slow vtysh");
    lab.write_config(&slow_config);
    lab
}

/// A pass decided to announce `dns` and handed its batch to a slow FRR; `withdraw-all` gives up waiting for the lock
/// it holds (exit 1) and withdraws what it sees. When the batch lands, the pass finds the marker and withdraws `dns`
/// again at once: before, `dns` stayed announced in maintenance until the next timer pass.
fn withdraw_all_wins_against_a_pass_whose_batch_is_slow(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    cabourotte.failing("dns", "SERVFAIL");
    let lab = slow_lab(frr, &cabourotte, Slow::Batches);
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED]);
    cabourotte.healthy("dns");
    let watch = lab.watch_peer();
    let applying = lab.anycastd(["apply"]).spawn();
    std::thread::sleep(Duration::from_millis(1500));
    let withdrawn = lab.anycastd(["--lock-timeout", "500ms", "withdraw-all"]).run().code(1);
    withdrawn.stderr_has("another anycastd holds the lock");
    let applied = applying.wait(Duration::from_secs(30));
    applied.stderr_has("the maintenance marker appeared while this pass applied its changes");
    assert!(lab.networks(None).iter().all(|n| n == UNMANAGED), "{applied}\n{}", lab.running_config());
    lab.wait_peer_routes(&[UNMANAGED]);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(lab.peer_routes(), [UNMANAGED].map(String::from).into(), "{}", watch.timeline(DNS_V4));
    let kept = lab.anycastd(["apply"]).run().success();
    assert!(lab.networks(None).iter().all(|n| n == UNMANAGED), "maintenance keeps it withdrawn\n{kept}");
}

/// A pass slow to read FRR has not decided yet when `withdraw-all` writes the marker: it reads the marker again
/// before applying and announces nothing. The peer never sees `dns`.
fn withdraw_all_wins_against_a_pass_slow_to_read(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    cabourotte.failing("dns", "SERVFAIL");
    let lab = slow_lab(frr, &cabourotte, Slow::Reads);
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED]);
    cabourotte.healthy("dns");
    let watch = lab.watch_peer();
    let applying = lab.anycastd(["apply"]).spawn();
    std::thread::sleep(Duration::from_millis(1000));
    lab.anycastd(["--lock-timeout", "500ms", "withdraw-all"]).run().code(1);
    let applied = applying.wait(Duration::from_secs(30)).success();
    assert!(!applied.stdout.contains("announced  AS"), "nothing announced\n{applied}");
    std::thread::sleep(Duration::from_secs(1));
    assert!(watch.events(DNS_V4).is_empty(), "the peer never saw dns\n{}", watch.timeline(DNS_V4));
    assert!(lab.networks(None).iter().all(|n| n == UNMANAGED), "{}", lab.running_config());
}

/// `run` trusts what it remembers of FRR until its resync (an hour here). `withdraw-all` then `resume` from a shell
/// between two of its passes changed FRR behind its back: it notices at its next pass (the note other processes
/// leave in the state directory) and announces the healthy services again, instead of half a minute later. An idle
/// pass still makes no vtysh call.
fn run_notices_what_another_anycastd_changed_between_its_passes(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    let running = lab.anycastd(["run", "--interval", "2s", "--resync", "1h"]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    lab.wait_until("VRF 123 has the ntp prefixes", || lab.networks(Some(VRF)).contains(NTP_V4));
    std::thread::sleep(Duration::from_secs(3));
    let calls = lab.vtysh_calls().len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lab.vtysh_calls().len(), calls, "no vtysh call while idle: {:?}", lab.vtysh_calls());

    lab.anycastd(["withdraw-all"]).run().success();
    lab.anycastd(["resume"]).run().success();
    let resumed = Instant::now();
    lab.wait_until("run announced dns again", || lab.networks(None).contains(DNS_V4));
    assert!(resumed.elapsed() < Duration::from_secs(5), "announced again only after {:?}", resumed.elapsed());
    lab.wait_until("and ntp", || lab.networks(Some(VRF)).contains(NTP_V4));
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    running.terminate(Duration::from_secs(15)).success();
}

on_every_frr!(
    withdraw_all_wins_against_a_pass_whose_batch_is_slow,
    withdraw_all_wins_against_a_pass_slow_to_read,
    run_notices_what_another_anycastd_changed_between_its_passes,
);
