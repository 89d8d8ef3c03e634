//! Graded actions (issue 16) against a real FRRouting and a real BGP peer (GoBGP), on every FRR release the lab
//! supports: announcing through the operator's route-map, drift correction, draining before withdrawing (with the
//! timer, with `run`, with the waiting `withdraw-all --drain`), `resume` during a drain, `on_falling = "drain"`,
//! `on_unhealthy = "drain"`, and route-maps FRR lacks.
//!
//! Each test defines the operator's route-maps in the lab's FRR and asserts what a user sees: the `network` line in
//! FRR's running config, the attributes the peer received (AS path, communities, MED), exit codes and the fields of
//! anycastd's JSON report. `ANYCAST-OUT` sets MED 50 and community 64500:53; `ANYCAST-DRAIN` sets the
//! graceful-shutdown community 65535:0 and prepends 65536 twice. A route without either has AS path `65536`, MED 0
//! and no community.

use crate::support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::anycastd::Run;
use support::cabourotte::FakeCabourotte;
use support::lab::{DNS_V4, DNS_V6, Frr, Lab, UNMANAGED};
use support::peer::{GRACEFUL_SHUTDOWN, PeerRoute, clock};

/// The route-map every announcement of `dns` carries.
const OUT: &str = "ANYCAST-OUT";
/// The route-map `dns` carries while drained.
const DRAIN: &str = "ANYCAST-DRAIN";
/// The community `ANYCAST-OUT` sets.
const OUT_COMMUNITY: &str = "64500:53";
/// A service without route-maps in some tests (`web`), on an address the test adds to FRR's `lo`.
const WEB_V4: &str = "203.0.113.80/32";

/// The operator's route-maps, as written in FRR.
const ROUTE_MAPS: &[&str] = &[
    "route-map ANYCAST-OUT permit 10",
    " set metric 50",
    " set community 64500:53",
    "route-map ANYCAST-DRAIN permit 10",
    " set community graceful-shutdown",
    " set as-path prepend 65536 65536",
];

/// Announced through `ANYCAST-OUT`.
fn through_out(route: &PeerRoute) -> bool {
    route.as_path == [65536] && route.med == Some(50) && route.communities == [OUT_COMMUNITY]
}

/// Drained through `ANYCAST-DRAIN`: the graceful-shutdown community and two prepends, without `ANYCAST-OUT`'s MED.
fn drained(route: &PeerRoute) -> bool {
    route.as_path == [65536, 65536, 65536] && route.communities == [GRACEFUL_SHUTDOWN] && route.med == Some(0)
}

/// Announced without any route-map.
fn plain(route: &PeerRoute) -> bool {
    route.as_path == [65536] && route.med == Some(0) && route.communities.is_empty()
}

/// The `network` line FRR has for `prefix` with `route_map` (`None`: without one).
fn line(prefix: &str, route_map: Option<&str>) -> Option<String> {
    Some(match route_map {
        Some(name) => format!("network {prefix} route-map {name}"),
        None => format!("network {prefix}"),
    })
}

/// A lab with the operator's own network, the route-maps of [`ROUTE_MAPS`] and service `dns` (both seed prefixes,
/// check `dns`) announced through `ANYCAST-OUT` and drained through `ANYCAST-DRAIN`; `extra` is more TOML for the
/// service `dns`, and `more` more services.
fn graded_lab(frr: Frr, cabourotte: &FakeCabourotte, extra: &str, more: &str) -> Lab {
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
    lab.define_route_maps(ROUTE_MAPS);
    lab.write_config(&graded_config(&lab, &cabourotte.url(), extra, more));
    lab
}

fn graded_config(lab: &Lab, url: &str, extra: &str, more: &str) -> String {
    let k = lab.vtysh_keys();
    format!(
        r#"[services.dns]
prefixes.frrouting = [
    {{ prefix = "203.0.113.53", {k} }},
    {{ prefix = "2001:db8::b19:bad:53", {k} }},
]
checks.cabourotte = [{{ name = "dns", url = "{url}" }}]
route_map = "{OUT}"
drain_route_map = "{DRAIN}"
{extra}
{more}"#
    )
}

/// Service `web`: [`WEB_V4`], check `web`, no route-map at all.
fn web_service(lab: &Lab, url: &str) -> String {
    lab.add_service_address(WEB_V4);
    format!(
        "[services.web]\nprefixes.frrouting = [{{ prefix = \"203.0.113.80\", {} }}]\n\
         checks.cabourotte = [{{ name = \"web\", url = \"{url}\" }}]\n",
        lab.vtysh_keys()
    )
}

/// Applies (exit 0) and waits until the peer has both `dns` prefixes through `ANYCAST-OUT`.
fn announce_dns(lab: &Lab) {
    let applied = lab.anycastd(["apply"]).json().run().success();
    for prefix in [DNS_V4, DNS_V6] {
        assert_eq!(applied.action(prefix), "announce", "{prefix}\n{applied}");
    }
    wait_dns(lab, through_out);
}

/// Waits until the peer has both `dns` prefixes and both satisfy `condition`.
#[track_caller]
fn wait_dns(lab: &Lab, condition: fn(&PeerRoute) -> bool) {
    lab.wait_peer_route(DNS_V4, condition);
    lab.wait_peer_route(DNS_V6, condition);
}

/// Asserts the `network` lines of both `dns` prefixes: with `route_map`, without one (`Some(None)`), or absent
/// (`None`).
#[track_caller]
fn assert_dns_lines(lab: &Lab, route_map: Option<Option<&str>>) {
    let config = lab.running_config();
    for prefix in [DNS_V4, DNS_V6] {
        let expected = route_map.and_then(|r| line(prefix, r));
        assert_eq!(support::running_config::network_line_in(&config, None, prefix), expected, "{prefix}\n{config}");
    }
}

/// The field `key` of `prefix` in a JSON report, as a string (`null` is `"null"`).
#[track_caller]
fn field(outcome: &Run, prefix: &str, key: &str) -> String {
    let value = &outcome.prefix(prefix)[key];
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

/// Parses anycastd's `drain_until` (`2026-12-02T04:01:08Z`) into a time.
fn parse_utc(text: &str) -> SystemTime {
    let number = |range: std::ops::Range<usize>| -> i64 {
        text.get(range).and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("not an RFC 3339 UTC time: {text}"))
    };
    assert!(text.len() == 20 && text.ends_with('Z'), "not an RFC 3339 UTC time in whole seconds: {text}");
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + number(11..13) * 3600 + number(14..16) * 60 + number(17..19);
    UNIX_EPOCH + Duration::from_secs(seconds as u64)
}

/// The drain deadline a JSON report of `withdraw-all --drain` shows.
#[track_caller]
fn drain_until(outcome: &Run) -> SystemTime {
    let json = outcome.json();
    let until = json["maintenance"]["drain_until"]
        .as_str()
        .unwrap_or_else(|| panic!("no maintenance.drain_until in the report\n{outcome}"));
    parse_utc(until)
}

/// How long until `time` (zero when it is past).
fn until(time: SystemTime) -> Duration {
    time.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO)
}

/// Notes and peer events in time order, for the whole-cycle timeline.
struct Timeline {
    notes: Vec<(SystemTime, String)>,
}

impl Timeline {
    fn note(&mut self, text: &str) {
        self.notes.push((SystemTime::now(), text.to_string()));
    }

    fn render(&self, watch: &support::peer::PeerWatch, prefix: &str) -> String {
        let mut lines: Vec<(SystemTime, String)> =
            self.notes.iter().map(|(at, t)| (*at, format!("{}  {t}", clock(*at)))).collect();
        lines.extend(watch.events(prefix).iter().map(|e| (e.at, format!("{e}"))));
        lines.sort_by_key(|(at, _)| *at);
        lines.into_iter().map(|(_, l)| l + "\n").collect()
    }
}

// ---- (a) a route-map on announce ------------------------------------------------------------------------------

/// Every announcement is `network P route-map ANYCAST-OUT`: the peer receives MED 50 and community 64500:53; the
/// report names the route-map; a second apply changes nothing; after an FRR restart, apply announces through it again.
fn apply_announces_through_the_route_map(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let mut lab = graded_lab(frr, &cabourotte, "", "");

    let planned = lab.anycastd(["plan"]).json().run().success();
    assert_eq!(field(&planned, DNS_V4, "desired_route_map"), OUT, "{planned}");
    let planned_text = lab.anycastd(["plan"]).run().success();
    assert!(
        planned_text
            .stdout
            .lines()
            .any(|l| l.contains(DNS_V4) && l.contains("announce") && l.contains("route-map ANYCAST-OUT")),
        "the text plan names the route-map\n{planned_text}"
    );

    announce_dns(&lab);
    assert_dns_lines(&lab, Some(Some(OUT)));
    assert_eq!(lab.peer_routes(), [UNMANAGED, DNS_V4, DNS_V6].map(String::from).into());

    let batches = |lab: &Lab| lab.vtysh_calls().iter().filter(|c| c.contains("-f")).count();
    let before = batches(&lab);
    let again = lab.anycastd(["apply"]).json().run().success();
    for prefix in [DNS_V4, DNS_V6] {
        assert_eq!(field(&again, prefix, "action"), "none", "{again}");
        assert_eq!(field(&again, prefix, "current"), "announced", "{again}");
        assert_eq!(field(&again, prefix, "route_map"), OUT, "{again}");
    }
    assert_eq!(batches(&lab), before, "the second apply ran no configuration batch: {:?}", lab.vtysh_calls());

    // FRR restarts with its startup config (the route-maps, not anycastd's networks): announced through it again.
    lab.restart_frr();
    assert_dns_lines(&lab, None);
    announce_dns(&lab);
    assert_dns_lines(&lab, Some(Some(OUT)));
}

// ---- (b) drift correction -------------------------------------------------------------------------------------

/// Someone re-issues the network without the route-map (or with another one): the peer loses MED 50; `plan` shows
/// a restore; the next apply puts the route-map back, and the peer has MED 50 again, never losing the route.
fn apply_restores_a_route_map_removed_by_hand(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "", "");
    announce_dns(&lab);
    let watch = lab.watch_peer();

    lab.add_network(None, DNS_V4);
    assert_eq!(lab.network_line(None, DNS_V4), line(DNS_V4, None));
    lab.wait_peer_route(DNS_V4, plain);

    let planned = lab.anycastd(["plan", "--detailed-exitcode"]).json().run().code(2);
    assert_eq!(field(&planned, DNS_V4, "action"), "restore", "{planned}");
    assert_eq!(field(&planned, DNS_V4, "route_map"), "null", "FRR's line has no route-map now\n{planned}");
    assert_eq!(field(&planned, DNS_V6, "action"), "none", "{planned}");
    assert_eq!(planned.count("restore"), 1, "{planned}");

    let applied = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&applied, DNS_V4, "action"), "restore", "{applied}");
    assert_dns_lines(&lab, Some(Some(OUT)));
    lab.wait_peer_route(DNS_V4, through_out);

    // Another route-map by hand is drift too.
    lab.vtysh(&[
        "configure terminal",
        "router bgp 65536",
        "address-family ipv6 unicast",
        &format!("network {DNS_V6} route-map {DRAIN}"),
    ]);
    lab.wait_peer_route(DNS_V6, drained);
    let applied = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&applied, DNS_V6, "action"), "restore", "{applied}");
    assert_dns_lines(&lab, Some(Some(OUT)));
    lab.wait_peer_route(DNS_V6, through_out);
    assert!(
        !watch.saw_withdrawal(DNS_V4) && !watch.saw_withdrawal(DNS_V6),
        "a restore never withdraws\n{}",
        watch.timeline(DNS_V4)
    );
}

// ---- (c) drain, then withdrawal by the next apply (timer mode) --------------------------------------------------

/// `withdraw-all --drain 3s --no-wait` returns at once with `dns` drained (the peer sees 65535:0 and the prepends,
/// the route never leaves) and `web`, which has no drain route-map, withdrawn; an apply before the deadline keeps
/// `dns` drained; the first apply after it withdraws; `resume` and an apply announce through `ANYCAST-OUT` again.
/// Prints the peer's view of the whole cycle.
fn a_drain_is_withdrawn_by_the_first_apply_after_its_deadline(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    cabourotte.healthy("web");
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
    lab.define_route_maps(ROUTE_MAPS);
    let web = web_service(&lab, &cabourotte.url());
    let hook_log = lab.state_dir().join("../hook.log");
    let hook = format!(
        "on_change = [\"/bin/sh\", \"-c\", 'echo \"$ANYCASTD_STATE $ANYCASTD_PREFIXES\" >> {}']",
        hook_log.display()
    );
    lab.write_config(&graded_config(&lab, &cabourotte.url(), &hook, &web));
    let metrics = lab.state_dir().join("../metrics.prom");
    let metrics_arg = metrics.display().to_string();
    let state_metric = |state: &str| {
        format!(
            "anycastd_prefix_state{{service=\"dns\",prefix=\"{DNS_V4}\",vrf=\"default\",daemon=\"frr\",state=\"{state}\"}} 1\n"
        )
    };
    let watch = lab.watch_peer();
    let mut timeline = Timeline { notes: Vec::new() };

    timeline.note("$ anycastd apply");
    let applied = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(applied.action(WEB_V4), "announce", "{applied}");
    wait_dns(&lab, through_out);
    lab.wait_peer_has(&[WEB_V4]);

    timeline.note("$ anycastd withdraw-all --drain 3s --no-wait");
    let started = Instant::now();
    let drained_now =
        lab.anycastd(["withdraw-all", "--drain", "3s", "--no-wait", "--reason", "graded test"]).json().run().success();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "--no-wait returns before the deadline: {:?}",
        started.elapsed()
    );
    let deadline = drain_until(&drained_now);
    let promised = drained_now.json()["maintenance"]["drain_until"].as_str().unwrap_or("?").to_string();
    timeline.note(&format!("  (returned: drained until {promised})"));
    for prefix in [DNS_V4, DNS_V6] {
        assert_eq!(field(&drained_now, prefix, "action"), "drain", "{drained_now}");
        assert_eq!(field(&drained_now, prefix, "desired_route_map"), DRAIN, "{drained_now}");
    }
    assert_eq!(
        field(&drained_now, WEB_V4, "action"),
        "withdraw",
        "no drain route-map: withdrawn at once\n{drained_now}"
    );
    assert_dns_lines(&lab, Some(Some(DRAIN)));
    assert_eq!(lab.network_line(None, WEB_V4), None);
    wait_dns(&lab, drained);
    lab.wait_peer_lacks(&[WEB_V4]);

    timeline.note("$ anycastd apply   (before the deadline)");
    let kept = lab.anycastd(["apply", "--metrics-file", &metrics_arg]).json().run().success();
    assert!(SystemTime::now() < deadline, "the machine is too slow for this test: the apply ended after the deadline");
    let text = std::fs::read_to_string(&metrics).expect("the metrics file");
    assert!(text.contains(&state_metric("drained")), "{text}");
    for prefix in [DNS_V4, DNS_V6] {
        assert_eq!(field(&kept, prefix, "action"), "none", "kept drained\n{kept}");
        assert_eq!(field(&kept, prefix, "current"), "drained", "{kept}");
    }
    assert_eq!(field(&kept, WEB_V4, "action"), "none", "web stays withdrawn\n{kept}");
    assert_dns_lines(&lab, Some(Some(DRAIN)));
    assert!(drained(&lab.peer_route(DNS_V4).expect("the peer still has dns")));

    std::thread::sleep(until(deadline) + Duration::from_millis(200));
    assert!(!watch.saw_withdrawal(DNS_V4), "the peer kept the route while draining\n{}", watch.timeline(DNS_V4));
    timeline.note("$ anycastd apply   (after the deadline)");
    let withdrawn = lab.anycastd(["apply", "--metrics-file", &metrics_arg]).json().run().success();
    for prefix in [DNS_V4, DNS_V6] {
        assert_eq!(field(&withdrawn, prefix, "action"), "withdraw", "{withdrawn}");
    }
    let text = std::fs::read_to_string(&metrics).expect("the metrics file");
    assert!(text.contains(&state_metric("withdrawn")), "{text}");
    assert_dns_lines(&lab, None);
    lab.wait_peer_routes(&[UNMANAGED]);

    let still = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&still, DNS_V4, "action"), "none", "maintenance keeps it withdrawn\n{still}");
    assert_dns_lines(&lab, None);

    timeline.note("$ anycastd resume && anycastd apply");
    lab.anycastd(["resume"]).run().success();
    let back = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&back, DNS_V4, "action"), "announce", "{back}");
    assert_eq!(field(&back, WEB_V4, "action"), "announce", "{back}");
    assert_dns_lines(&lab, Some(Some(OUT)));
    wait_dns(&lab, through_out);
    lab.wait_peer_has(&[WEB_V4]);
    let both = format!("{DNS_V4} {DNS_V6}");
    let hooks = std::fs::read_to_string(&hook_log).expect("the hook's log");
    assert_eq!(
        hooks.lines().collect::<Vec<_>>(),
        [
            format!("announced {both}"),
            format!("drained {both}"),
            format!("withdrawn {both}"),
            format!("announced {both}")
        ],
        "the on_change hook is told each new state once"
    );
    println!("--- FRR {}: the peer's view of {DNS_V4} ---\n{}", frr.version(), timeline.render(&watch, DNS_V4));
}

// ---- (d) the same with `run` ----------------------------------------------------------------------------------

/// `run` keeps the drain that `withdraw-all --drain 3s --no-wait` started, withdraws by itself once the deadline
/// has passed (not before), announces again through `ANYCAST-OUT` after `resume`, and withdraws on SIGTERM.
fn run_withdraws_a_drain_after_its_deadline(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "", "");
    let running = lab.anycastd(["run", "--interval", "500ms"]).spawn();
    wait_dns(&lab, through_out);
    let watch = lab.watch_peer();

    let drained_now = lab.anycastd(["withdraw-all", "--drain", "3s", "--no-wait"]).json().run().success();
    let deadline = drain_until(&drained_now);
    wait_dns(&lab, drained);
    // The deadline is at least 3 s away: run's passes of the 2 s before its last second keep it drained.
    std::thread::sleep(until(deadline).saturating_sub(Duration::from_millis(1200)));
    let config = lab.running_config();
    let peer = lab.peer_route(DNS_V4);
    assert!(SystemTime::now() < deadline, "the machine is too slow for this test: FRR was read after the deadline");
    for prefix in [DNS_V4, DNS_V6] {
        let seen = support::running_config::network_line_in(&config, None, prefix);
        assert_eq!(seen, line(prefix, Some(DRAIN)), "kept drained before the deadline {}\n{config}", clock(deadline));
    }
    assert!(peer.as_ref().is_some_and(drained), "{peer:?}\n{}", watch.timeline(DNS_V4));

    lab.wait_peer_routes(&[UNMANAGED]);
    assert_dns_lines(&lab, None);
    let withdrawal = watch.events(DNS_V4).into_iter().find(|e| e.withdrawn).expect("the peer saw the withdrawal");
    assert!(
        withdrawal.at >= deadline,
        "withdrawn at {} before the deadline {}\n{}",
        clock(withdrawal.at),
        clock(deadline),
        watch.timeline(DNS_V4)
    );
    assert!(
        withdrawal.at.duration_since(deadline).unwrap_or_default() < Duration::from_secs(3),
        "withdrawn only at {} (deadline {}, interval 500ms)\n{}",
        clock(withdrawal.at),
        clock(deadline),
        watch.timeline(DNS_V4)
    );
    let drain_events: Vec<_> = watch.events(DNS_V4).into_iter().take_while(|e| !e.withdrawn).collect();
    assert!(drain_events.iter().any(|e| drained(&e.route)), "{}", watch.timeline(DNS_V4));

    lab.anycastd(["resume"]).run().success();
    wait_dns(&lab, through_out);
    assert_dns_lines(&lab, Some(Some(OUT)));
    let stopped = running.terminate(Duration::from_secs(15)).success();
    assert_dns_lines(&lab, None);
    lab.wait_peer_routes(&[UNMANAGED]);
    assert!(stopped.stderr.contains("withdrawn"), "run logged its withdrawals\n{stopped}");
}

// ---- (e) the waiting withdraw-all ---------------------------------------------------------------------------

/// `withdraw-all --drain 2s` drains, waits, withdraws by itself and exits 0: two reports, the peer sees the drain
/// and then the withdrawal.
fn withdraw_all_drain_waits_and_withdraws(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "", "");
    announce_dns(&lab);
    let watch = lab.watch_peer();

    let started = Instant::now();
    let mut waiting = lab.anycastd(["withdraw-all", "--drain", "2s"]).spawn();
    wait_dns(&lab, drained);
    assert!(waiting.is_running(), "still waiting while the peer sees the drain");
    assert_dns_lines(&lab, Some(Some(DRAIN)));
    let done = waiting.wait(Duration::from_secs(20)).success();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2), "waited the whole drain: {took:?}\n{done}");
    assert!(took < Duration::from_secs(6), "withdrew soon after the deadline: {took:?}\n{done}");
    assert_dns_lines(&lab, None);
    lab.wait_peer_routes(&[UNMANAGED]);
    let v4: Vec<&str> = done.stdout.lines().filter(|l| l.contains(DNS_V4)).collect();
    assert!(
        v4.len() >= 2 && v4[0].contains("drain") && v4[v4.len() - 1].contains("withdraw"),
        "a report of the drain, then one of the withdrawal\n{done}"
    );
    let events = watch.events(DNS_V4);
    let first_withdrawal = events.iter().position(|e| e.withdrawn).expect("the peer saw the withdrawal");
    assert!(
        events[..first_withdrawal].iter().any(|e| drained(&e.route)),
        "drained before withdrawn\n{}",
        watch.timeline(DNS_V4)
    );
    // The report promised "draining until T": the route is not withdrawn before T.
    let promised = done
        .stdout
        .split("draining until ")
        .nth(1)
        .and_then(|rest| rest.get(..20))
        .unwrap_or_else(|| panic!("no `draining until` in the report\n{done}"));
    let withdrawal = events[first_withdrawal].at;
    assert!(
        withdrawal >= parse_utc(promised),
        "withdrawn at {} although the report said drained until {promised}\n{}\n{done}",
        clock(withdrawal),
        watch.timeline(DNS_V4)
    );
}

/// SIGTERM while `withdraw-all --drain 30s` waits withdraws at once.
fn a_signal_during_the_wait_withdraws_at_once(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "", "");
    announce_dns(&lab);
    let waiting = lab.anycastd(["withdraw-all", "--drain", "30s"]).spawn();
    wait_dns(&lab, drained);
    let signalled = Instant::now();
    let done = waiting.terminate(Duration::from_secs(10));
    assert!(signalled.elapsed() < Duration::from_secs(5), "exited {:?} after SIGTERM", signalled.elapsed());
    let done = done.success();
    assert_dns_lines(&lab, None);
    lab.wait_peer_routes(&[UNMANAGED]);
    assert!(done.stdout.lines().any(|l| l.contains(DNS_V4) && l.contains("withdraw")), "{done}");
}

/// A plain `withdraw-all` during a drain withdraws at once, and maintenance keeps the prefixes withdrawn.
fn withdraw_all_during_a_drain_withdraws_at_once(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "", "");
    announce_dns(&lab);
    lab.anycastd(["withdraw-all", "--drain", "30s", "--no-wait"]).run().success();
    wait_dns(&lab, drained);
    let withdrawn = lab.anycastd(["withdraw-all"]).json().run().success();
    assert_eq!(field(&withdrawn, DNS_V4, "action"), "withdraw", "{withdrawn}");
    assert_dns_lines(&lab, None);
    lab.wait_peer_routes(&[UNMANAGED]);
    let kept = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&kept, DNS_V4, "action"), "none", "{kept}");
    assert_dns_lines(&lab, None);
}

// ---- (f) resume during a drain ------------------------------------------------------------------------------

/// `resume` during a drain: the next apply restores `ANYCAST-OUT` (no graceful-shutdown community any more), the
/// route never having left the peer.
fn resume_during_a_drain_restores_the_announcement(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "", "");
    announce_dns(&lab);
    let watch = lab.watch_peer();

    lab.anycastd(["withdraw-all", "--drain", "30s", "--no-wait"]).run().success();
    wait_dns(&lab, drained);
    lab.anycastd(["resume"]).run().success();
    let planned = lab.anycastd(["plan"]).json().run().success();
    assert_eq!(field(&planned, DNS_V4, "action"), "restore", "{planned}");
    assert_eq!(field(&planned, DNS_V4, "current"), "drained", "{planned}");

    let restored = lab.anycastd(["apply"]).json().run().success();
    for prefix in [DNS_V4, DNS_V6] {
        assert_eq!(field(&restored, prefix, "action"), "restore", "{restored}");
    }
    assert_eq!(restored.count("restore"), 2, "{restored}");
    assert_dns_lines(&lab, Some(Some(OUT)));
    let route = lab.wait_peer_route(DNS_V4, through_out);
    assert!(!route.has_community(GRACEFUL_SHUTDOWN));
    lab.wait_peer_route(DNS_V6, through_out);
    assert!(!watch.saw_withdrawal(DNS_V4), "never withdrawn\n{}", watch.timeline(DNS_V4));
}

/// `resume` while `withdraw-all --drain 10s` waits: the next apply restores the announcement, and the waiting
/// command, finding the marker gone, exits 0 without withdrawing anything.
fn resume_during_the_waiting_drain_leaves_the_route_announced(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "", "");
    announce_dns(&lab);
    let watch = lab.watch_peer();
    let mut waiting = lab.anycastd(["withdraw-all", "--drain", "10s"]).spawn();
    wait_dns(&lab, drained);
    lab.anycastd(["resume"]).run().success();
    lab.anycastd(["apply"]).run().success();
    wait_dns(&lab, through_out);
    assert!(waiting.is_running(), "the drain of 10 s is not over yet");
    let done = waiting.wait(Duration::from_secs(20)).success();
    assert_dns_lines(&lab, Some(Some(OUT)));
    std::thread::sleep(Duration::from_millis(500));
    assert!(through_out(&lab.peer_route(DNS_V4).expect("the peer keeps dns")), "{done}");
    assert!(!watch.saw_withdrawal(DNS_V4), "never withdrawn\n{}\n{done}", watch.timeline(DNS_V4));
}

/// A drain without a route-map to announce with: `resume` restores the plain `network P`.
fn resume_restores_a_plain_announcement(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
    lab.define_route_maps(ROUTE_MAPS);
    let config = graded_config(&lab, &cabourotte.url(), "", "").replace("route_map = \"ANYCAST-OUT\"\n", "");
    lab.write_config(&config);
    lab.anycastd(["apply"]).run().success();
    wait_dns(&lab, plain);
    assert_dns_lines(&lab, Some(None));

    lab.anycastd(["withdraw-all", "--drain", "30s", "--no-wait"]).run().success();
    wait_dns(&lab, drained);
    lab.anycastd(["resume"]).run().success();
    let restored = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&restored, DNS_V4, "action"), "restore", "{restored}");
    assert_dns_lines(&lab, Some(None));
    wait_dns(&lab, plain);
}

// ---- (g) on_falling = "drain" -------------------------------------------------------------------------------

/// `on_falling = "drain"` with `fall = 3` and `rise = 2`: unhealthy passes 1 and 2 drain, pass 3 withdraws; healthy
/// again, announced at the second healthy pass (rise); one unhealthy pass drains, and the next healthy one restores
/// at once (a drained prefix counts as announced, rise does not apply).
fn on_falling_drain_drains_until_fall_then_withdraws(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "fall = 3\nrise = 2\non_falling = \"drain\"", "");
    // rise = 2: the first healthy pass announces nothing yet.
    let first = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&first, DNS_V4, "action"), "none", "rise 1/2\n{first}");
    announce_dns(&lab);

    cabourotte.failing("dns", "DNS resolver does not answer");
    for pass in 1..=2 {
        let falling = lab.anycastd(["apply"]).json().run().success();
        let expected = if pass == 1 { "drain" } else { "none" };
        assert_eq!(field(&falling, DNS_V4, "action"), expected, "unhealthy pass {pass}/3\n{falling}");
        assert_eq!(field(&falling, DNS_V4, "desired_route_map"), DRAIN, "pass {pass}\n{falling}");
        assert_dns_lines(&lab, Some(Some(DRAIN)));
        wait_dns(&lab, drained);
    }
    let fallen = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&fallen, DNS_V4, "action"), "withdraw", "unhealthy pass 3/3\n{fallen}");
    assert_dns_lines(&lab, None);
    lab.wait_peer_routes(&[UNMANAGED]);

    cabourotte.healthy("dns");
    let rising = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&rising, DNS_V4, "action"), "none", "healthy 1/2\n{rising}");
    let risen = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&risen, DNS_V4, "action"), "announce", "healthy 2/2\n{risen}");
    assert_dns_lines(&lab, Some(Some(OUT)));
    wait_dns(&lab, through_out);

    cabourotte.failing("dns", "DNS resolver does not answer");
    let falling = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&falling, DNS_V4, "action"), "drain", "{falling}");
    wait_dns(&lab, drained);
    cabourotte.healthy("dns");
    let restored = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&restored, DNS_V4, "action"), "restore", "restored at once, rise does not apply\n{restored}");
    assert_dns_lines(&lab, Some(Some(OUT)));
    wait_dns(&lab, through_out);
}

/// `on_unhealthy = "drain"`: an unhealthy service stays announced, drained, however long it fails; healthy again,
/// restored.
fn on_unhealthy_drain_keeps_the_route_drained(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "on_unhealthy = \"drain\"", "");
    announce_dns(&lab);
    let watch = lab.watch_peer();
    cabourotte.failing("dns", "DNS resolver does not answer");
    for pass in 1..=3 {
        let unhealthy = lab.anycastd(["apply"]).json().run().success();
        assert_eq!(field(&unhealthy, DNS_V4, "action"), if pass == 1 { "drain" } else { "none" }, "{unhealthy}");
        wait_dns(&lab, drained);
    }
    assert_dns_lines(&lab, Some(Some(DRAIN)));
    cabourotte.healthy("dns");
    let restored = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&restored, DNS_V4, "action"), "restore", "{restored}");
    wait_dns(&lab, through_out);
    assert!(!watch.saw_withdrawal(DNS_V4), "{}", watch.timeline(DNS_V4));
}

// ---- (h) route-maps FRR lacks -------------------------------------------------------------------------------

/// A `route_map` FRR lacks: `check --frr` exits 1 and names it; `plan` shows that prefix as an error naming it;
/// `apply` announces the prefixes whose route-map exists and not that one (exit 1). Once the operator defines it,
/// the next apply announces through it.
fn a_missing_route_map_is_an_error_and_never_announced_without_it(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
    lab.define_route_maps(ROUTE_MAPS);
    let k = lab.vtysh_keys();
    let url = cabourotte.url();
    lab.write_config(&format!(
        r#"[services.dns]
prefixes.frrouting = [
    {{ prefix = "203.0.113.53", route_map = "ANYCAST-MISSING", {k} }},
    {{ prefix = "2001:db8::b19:bad:53", route_map = "{OUT}", {k} }},
]
checks.cabourotte = [{{ name = "dns", url = "{url}" }}]
"#
    ));
    let frr_conf = lab.startup_config().display().to_string();

    let checked = lab.anycastd(["check", "--frr", "--frr-conf", &frr_conf]).run().code(1);
    assert!(checked.output().contains("ANYCAST-MISSING"), "check --frr names the missing route-map\n{checked}");

    let planned = lab.anycastd(["plan"]).json().run().code(1);
    assert_eq!(field(&planned, DNS_V4, "action"), "error", "{planned}");
    assert_eq!(field(&planned, DNS_V4, "error_code"), "missing-route-map", "{planned}");
    assert!(field(&planned, DNS_V4, "error").contains("ANYCAST-MISSING"), "{planned}");
    assert_eq!(field(&planned, DNS_V6, "action"), "announce", "{planned}");
    let planned_text = lab.anycastd(["plan"]).run().code(1);
    assert!(
        planned_text.stdout.lines().any(|l| l.contains("ANYCAST-MISSING")),
        "the text plan names it\n{planned_text}"
    );

    let applied = lab.anycastd(["apply"]).json().run().code(1);
    assert_eq!(field(&applied, DNS_V4, "action"), "error", "{applied}");
    assert_eq!(lab.network_line(None, DNS_V4), None, "never announced without its route-map");
    assert_eq!(lab.network_line(None, DNS_V6), line(DNS_V6, Some(OUT)));
    lab.wait_peer_route(DNS_V6, through_out);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V6]);

    lab.define_route_maps(&["route-map ANYCAST-MISSING permit 10", " set metric 77"]);
    lab.anycastd(["check", "--frr", "--frr-conf", &frr_conf]).run().success();
    let applied = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&applied, DNS_V4, "action"), "announce", "{applied}");
    assert_eq!(lab.network_line(None, DNS_V4), line(DNS_V4, Some("ANYCAST-MISSING")));
    lab.wait_peer_route(DNS_V4, |r| r.med == Some(77));
}

/// A `drain_route_map` FRR lacks: `withdraw-all --drain` withdraws that prefix at once instead, with a warning
/// naming the route-map; the others drain.
fn a_missing_drain_route_map_withdraws_instead(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
    lab.define_route_maps(ROUTE_MAPS);
    let k = lab.vtysh_keys();
    let url = cabourotte.url();
    lab.write_config(&format!(
        r#"[services.dns]
prefixes.frrouting = [
    {{ prefix = "203.0.113.53", drain_route_map = "NO-SUCH-DRAIN", {k} }},
    {{ prefix = "2001:db8::b19:bad:53", {k} }},
]
checks.cabourotte = [{{ name = "dns", url = "{url}" }}]
route_map = "{OUT}"
drain_route_map = "{DRAIN}"
"#
    ));
    announce_dns(&lab);
    let planned = lab.anycastd(["plan"]).run().success();
    assert!(planned.output().contains("NO-SUCH-DRAIN"), "plan warns about it\n{planned}");

    let drained_now = lab.anycastd(["withdraw-all", "--drain", "30s", "--no-wait"]).json().run().success();
    assert_eq!(field(&drained_now, DNS_V4, "action"), "withdraw", "{drained_now}");
    assert_eq!(drained_now.prefix(DNS_V4)["warning_codes"], serde_json::json!(["missing-drain-route-map"]));
    assert!(drained_now.output().contains("NO-SUCH-DRAIN"), "the report names it\n{drained_now}");
    assert_eq!(field(&drained_now, DNS_V6, "action"), "drain", "{drained_now}");
    assert_eq!(lab.network_line(None, DNS_V4), None);
    assert_eq!(lab.network_line(None, DNS_V6), line(DNS_V6, Some(DRAIN)));
    lab.wait_peer_route(DNS_V6, drained);
    lab.wait_peer_routes(&[UNMANAGED, DNS_V6]);
}

/// Draining never announces: a prefix withdrawn (its service unhealthy) stays withdrawn through
/// `withdraw-all --drain`, even with a drain route-map.
fn a_drain_never_announces(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    cabourotte.failing("dns", "down");
    let lab = graded_lab(frr, &cabourotte, "", "");
    lab.anycastd(["apply"]).run().success();
    assert_dns_lines(&lab, None);
    let drained_now = lab.anycastd(["withdraw-all", "--drain", "30s", "--no-wait"]).json().run().success();
    assert_eq!(field(&drained_now, DNS_V4, "action"), "none", "{drained_now}");
    let kept = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&kept, DNS_V4, "action"), "none", "{kept}");
    cabourotte.healthy("dns");
    let still = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&still, DNS_V4, "action"), "none", "healthy, but the drain announces nothing\n{still}");
    assert_dns_lines(&lab, None);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.peer_routes(), [UNMANAGED].map(String::from).into());
}

// ---- (h) health during a drain ------------------------------------------------------------------------------

/// A service that fails during a drain is withdrawn by the next apply, at once (its `fall = 3` notwithstanding),
/// instead of staying drained, and so still receiving traffic, until the deadline an hour away.
fn a_service_failing_during_a_drain_is_withdrawn_by_the_next_apply(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "fall = 3", "");
    announce_dns(&lab);
    lab.anycastd(["withdraw-all", "--drain", "1h", "--no-wait"]).run().success();
    wait_dns(&lab, drained);
    cabourotte.failing("dns", "SERVFAIL");
    let applied = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&applied, DNS_V4, "action"), "withdraw", "{applied}");
    assert_dns_lines(&lab, None);
    lab.wait_peer_routes(&[UNMANAGED]);
    cabourotte.healthy("dns");
    let kept = lab.anycastd(["apply"]).json().run().success();
    assert_eq!(field(&kept, DNS_V4, "action"), "none", "healthy again, but a drain never announces\n{kept}");
    assert_dns_lines(&lab, None);
}

/// The waiting `withdraw-all --drain 1h` asks Cabourotte at every check interval: with no timer and no loop running,
/// a service that fails during the drain is withdrawn by it within an interval (5 s, the default), not at the end.
fn the_waiting_drain_withdraws_a_service_that_fails_during_it(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "", "");
    announce_dns(&lab);
    let mut waiting = lab.anycastd(["withdraw-all", "--drain", "1h"]).spawn();
    wait_dns(&lab, drained);
    cabourotte.failing("dns", "SERVFAIL");
    let failed = Instant::now();
    lab.wait_peer_routes(&[UNMANAGED]);
    assert!(failed.elapsed() < Duration::from_secs(8), "withdrawn {:?} after the failure", failed.elapsed());
    assert!(waiting.is_running(), "still waiting for the deadline, an hour away");
    assert_dns_lines(&lab, None);
    let done = waiting.terminate(Duration::from_secs(10)).success();
    assert!(
        done.stdout.lines().any(|l| l.contains(DNS_V4) && l.contains("withdrawn")),
        "the waiting command reported the withdrawal\n{done}"
    );
}

/// A marker whose drain deadline lies beyond the longest `--drain` (one day), as whoever can write the state
/// directory could leave it, is damaged: maintenance withdraws, it does not keep the route drained for ten years.
fn a_drain_deadline_beyond_any_drain_withdraws(frr: Frr) {
    let cabourotte = FakeCabourotte::all_healthy();
    let lab = graded_lab(frr, &cabourotte, "", "");
    announce_dns(&lab);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let forged =
        format!(r#"{{"since": {now}, "by": "mallory", "reason": null, "drain_until": {}}}"#, now + 315_360_000);
    let marker = lab.state_dir().join("maintenance.json");
    std::fs::write(&marker, forged).expect("forge the marker");
    std::fs::set_permissions(&marker, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let applied = lab.anycastd(["apply"]).run().success();
    applied.stdout_has("further ahead than the longest drain (withdraw-all --drain 1 day) allows");
    assert_dns_lines(&lab, None);
    lab.wait_peer_routes(&[UNMANAGED]);
}

on_every_frr!(
    a_service_failing_during_a_drain_is_withdrawn_by_the_next_apply,
    the_waiting_drain_withdraws_a_service_that_fails_during_it,
    a_drain_deadline_beyond_any_drain_withdraws,
    apply_announces_through_the_route_map,
    apply_restores_a_route_map_removed_by_hand,
    a_drain_is_withdrawn_by_the_first_apply_after_its_deadline,
    run_withdraws_a_drain_after_its_deadline,
    withdraw_all_drain_waits_and_withdraws,
    a_signal_during_the_wait_withdraws_at_once,
    withdraw_all_during_a_drain_withdraws_at_once,
    resume_during_a_drain_restores_the_announcement,
    resume_during_the_waiting_drain_leaves_the_route_announced,
    resume_restores_a_plain_announcement,
    on_falling_drain_drains_until_fall_then_withdraws,
    on_unhealthy_drain_keeps_the_route_drained,
    a_missing_route_map_is_an_error_and_never_announced_without_it,
    a_missing_drain_route_map_withdraws_instead,
    a_drain_never_announces,
);
