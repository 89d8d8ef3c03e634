//! No announcement outlives its reason (issue 22), against a real FRRouting and a real BGP peer (GoBGP), on every FRR
//! release the lab supports: a service removed from the configuration is withdrawn (by `apply`, `run`, and
//! `withdraw-all`), a broken configuration still lets a failing service be withdrawn, moving a prefix to another vtysh
//! path of the same FRR does not make it flap, and a forgotten prefix is left alone.

use crate::support;

use std::time::Duration;

use support::cabourotte::FakeCabourotte;
use support::lab::{DNS_V4, DNS_V6, Frr, Lab, NTP_V4, NTP_V6, UNMANAGED, VRF};

/// A service of its own (`web`) on an address of the lab's `lo`, beside the seed's `dns` and `ntp`.
const WEB_V4: &str = "203.0.113.80/32";

/// The seed lab with service `web` too, every check healthy, everything applied and seen at the peer.
fn lab_with_web(frr: Frr, cabourotte: &FakeCabourotte) -> Lab {
    cabourotte.healthy("web");
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.add_service_address(WEB_V4);
    lab.write_config(&with_web(&lab, &cabourotte.url()));
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6, WEB_V4]);
    lab.wait_until("VRF 123 has the ntp prefixes", || lab.networks(Some(VRF)).contains(NTP_V4));
    lab
}

fn with_web(lab: &Lab, url: &str) -> String {
    format!(
        "{}\n[services.web]\nprefixes.frrouting = [{{ prefix = \"203.0.113.80\", {} }}]\n\
         checks.cabourotte = [{{ name = \"web\", url = \"{url}\" }}]\n",
        lab.seed_config(url),
        lab.vtysh_keys()
    )
}

/// `[services.web]` deleted from the file: `plan` shows its prefix as a withdrawal "no longer in the configuration"
/// (exit 2), `apply` withdraws it and the peer loses it, nothing else moves, and a second `apply` has nothing left to
/// do. Before, it stayed announced for ever.
fn a_service_removed_from_the_configuration_is_withdrawn_at_the_peer(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = lab_with_web(frr, &cabourotte);
    let watch = lab.watch_peer();
    lab.write_config(&lab.seed_config(&cabourotte.url()));
    let plan = lab.anycastd(["plan", "--detailed-exitcode"]).json().run().code(2);
    let departed = &plan.json()["departed"][0];
    assert_eq!(departed["name"], "web", "{plan}");
    assert_eq!(departed["state"], "removed", "{plan}");
    assert_eq!(departed["prefixes"][0]["prefix"], WEB_V4, "{plan}");
    assert_eq!(departed["prefixes"][0]["action"], "withdraw", "{plan}");
    let applied = lab.anycastd(["apply"]).run().success();
    applied.stderr_has(&format!(
        "anycastd apply: withdrawn {WEB_V4} for service web (default VRF, AS 65536): no longer in the configuration"
    ));
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    assert!(watch.saw_withdrawal(WEB_V4), "{}", watch.timeline(WEB_V4));
    assert!(!watch.saw_withdrawal(DNS_V4), "nothing else moved\n{}", watch.timeline(DNS_V4));
    assert_eq!(lab.networks(Some(VRF)), [NTP_V4, NTP_V6].map(String::from).into());
    lab.anycastd(["plan", "--detailed-exitcode"]).run().success();
}

/// `run` started with a configuration that no longer has `web` withdraws it at its first pass, and SIGTERM withdraws
/// the rest, the unmanaged network staying.
fn run_withdraws_a_service_removed_while_it_was_not_running(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = lab_with_web(frr, &cabourotte);
    lab.write_config(&lab.seed_config(&cabourotte.url()));
    let running = lab.anycastd(["run", "--interval", "500ms"]).spawn();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    running.terminate(Duration::from_secs(15)).success();
    lab.wait_peer_routes(&[UNMANAGED]);
}

/// `withdraw-all` with a configuration from which `web` was removed withdraws `web` too; `resume` and `apply` then
/// announce the configured services only.
fn withdraw_all_withdraws_a_removed_service_and_resume_leaves_it_withdrawn(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = lab_with_web(frr, &cabourotte);
    lab.write_config(&lab.seed_config(&cabourotte.url()));
    lab.anycastd(["withdraw-all"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED]);
    lab.anycastd(["resume"]).run().success();
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!lab.peer_routes().contains(WEB_V4), "web is not announced again");
}

/// A typo appended to the file and `dns` failing: `apply` exits 1, names the problem, withdraws `dns` with the last
/// valid configuration, and announces nothing; fixed, everything comes back.
fn a_broken_configuration_still_withdraws_a_failing_service(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    let valid = lab.seed_config(&cabourotte.url());
    lab.write_config(&format!("{valid}\noops = = \n"));
    cabourotte.failing("dns", "SERVFAIL");
    let applied = lab.anycastd(["apply"]).run().code(1);
    applied.stderr_has("anycastd apply: config-invalid: ");
    lab.wait_peer_routes(&[UNMANAGED]);
    assert!(lab.networks(Some(VRF)).contains(NTP_V4), "ntp, healthy, stays\n{applied}");
    cabourotte.healthy("dns");
    lab.anycastd(["apply"]).run().code(1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.peer_routes(), [UNMANAGED].map(String::from).into(), "nothing announced while broken");
    lab.write_config(&valid);
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
}

/// The prefixes moved behind another vtysh path of the same FRR (a wrapper): nothing is withdrawn, not even for a
/// moment, since the configuration still names them.
fn moving_a_prefix_to_another_vtysh_path_does_not_make_it_flap(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::seed(frr, &cabourotte.url());
    lab.anycastd(["apply"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
    let watch = lab.watch_peer();
    let other = lab.vtysh_wrapper().with_file_name("other-vtysh");
    std::fs::write(&other, format!("#!/bin/sh\nexec {} \"$@\"\n", lab.vtysh_wrapper().display())).expect("a wrapper");
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let moved = lab.seed_config(&cabourotte.url()).replace(
        &format!("vtysh = \"{}\"", lab.vtysh_wrapper().display()),
        &format!("vtysh = \"{}\"", other.display()),
    );
    lab.write_config(&moved);
    let plan = lab.anycastd(["plan", "--detailed-exitcode"]).run().success();
    plan.stdout_lacks("no longer in the configuration");
    lab.anycastd(["apply"]).run().success();
    std::thread::sleep(Duration::from_secs(1));
    assert!(!watch.saw_withdrawal(DNS_V4), "{}", watch.timeline(DNS_V4));
    lab.wait_peer_routes(&[UNMANAGED, DNS_V4, DNS_V6]);
}

/// `forget` before deleting `web`: it stays announced, as the operator moved it into FRR's own configuration.
fn a_forgotten_prefix_stays_announced(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = lab_with_web(frr, &cabourotte);
    lab.anycastd(["forget", WEB_V4]).run().success();
    lab.write_config(&lab.seed_config(&cabourotte.url()));
    lab.anycastd(["apply"]).run().success();
    lab.anycastd(["withdraw-all"]).run().success();
    lab.wait_peer_routes(&[UNMANAGED, WEB_V4]);
}

on_every_frr!(
    a_service_removed_from_the_configuration_is_withdrawn_at_the_peer,
    run_withdraws_a_service_removed_while_it_was_not_running,
    withdraw_all_withdraws_a_removed_service_and_resume_leaves_it_withdrawn,
    a_broken_configuration_still_withdraws_a_failing_service,
    moving_a_prefix_to_another_vtysh_path_does_not_make_it_flap,
    a_forgotten_prefix_stays_announced,
);
