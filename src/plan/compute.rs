//! The plan of a pass: every configured service's verdict applied to its prefixes, and the departed prefixes
//! withdrawn.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::bird::BirdNet;
use crate::config::{BirdDaemon, Config, DEFAULT_BIRD_FILE, Daemon, ManagedPrefix, Policy, Prefix, Service, Vrf};
use crate::health::{self, ServiceHealth};
use crate::state::streaks::Streak;

use super::prefix::{Observed, observe};
use super::{
    Desired, Inputs, Intent, MaintenanceMode, Plan, PrefixError, PrefixPlan, PrefixState, ServicePlan, Verdict,
    Warning, decide,
};

impl Plan {
    /// Computes the plan from every input of a run.
    pub fn compute(config: &Config, inputs: &Inputs, intent: Intent) -> Plan {
        let services = config.services.iter().map(|service| plan_service(service, inputs, intent)).collect();
        let mut plan = Plan {
            maintenance: inputs.maintenance.clone(),
            services,
            departed: plan_departed(config, inputs).into_iter().chain(bird_strays(config, inputs)).collect(),
            addresses: Vec::new(),
            warnings: config.warnings().into_iter().map(Warning::Config).collect(),
            errors: Vec::new(),
            reason: None,
        };
        super::plan_addresses(&mut plan, config, inputs, intent);
        let router_ids = super::address::router_id_warnings(&plan, config, &inputs.frr);
        plan.warnings.extend(router_ids);
        plan
    }
}

fn plan_service(service: &Service, inputs: &Inputs, intent: Intent) -> ServicePlan {
    let observed: Vec<Observed> =
        service.prefixes.iter().map(|managed| observe(managed, &inputs.frr, &inputs.bird)).collect();
    let announced_now = observed.iter().any(|seen| seen.state.is_announced());
    let health = intent.asks_health().then(|| health::evaluate(service, &inputs.answers, &inputs.exec, inputs.now));
    let condition = health.as_ref().map(ServiceHealth::condition);
    let previous = inputs.streaks.of(&service.name);
    // A pass that cannot keep the counts would count the same unhealthy pass again and again, and counts someone
    // else may have written could say anything: `fall` cannot hold back a withdrawal then.
    let policy = match (&inputs.withdraw_only, inputs.counts_forgeable) {
        (None, false) => service.policy,
        _ => Policy { fall: 1, ..service.policy },
    };
    let decided = decide(policy, condition, announced_now, previous, maintenance_mode(inputs, intent));
    let (verdict, desired, streak) = after_push(service, inputs, intent, decided, previous);
    let refusal = inputs.withdraw_only.as_deref();
    let prefixes =
        service.prefixes.iter().zip(observed).map(|(managed, seen)| seen.plan(managed, desired, refusal)).collect();
    ServicePlan { name: service.name.clone(), health, verdict, desired, policy: service.policy, streak, prefixes }
}

/// The departed prefixes, by the service they were for: withdrawn where their daemon still has them (an FRR in their
/// VRF, whatever AS its instance has by now; a BIRD); errors where their vtysh may not be run or their daemon cannot
/// be read.
fn plan_departed(config: &Config, inputs: &Inputs) -> Vec<ServicePlan> {
    let mut by_service: BTreeMap<&str, Vec<PrefixPlan>> = BTreeMap::new();
    for departed in &inputs.departed {
        let entry = &departed.entry;
        let Some(daemon) = entry.daemon() else { continue };
        let managed = ManagedPrefix {
            vrf: entry.vrf.clone(),
            prefix: entry.prefix,
            daemon,
            route_map: None,
            drain_route_map: None,
            host: None,
        };
        let seen = match (departed.allowed, &entry.vtysh) {
            (false, Some(vtysh)) => {
                Observed { error: Some(PrefixError::VtyshNotConfigured(vtysh.clone())), ..Observed::none() }
            }
            _ => observe_moved(config, inputs, &managed),
        };
        let seen = match seen.error {
            Some(PrefixError::NoBgpInstance) => Observed { state: PrefixState::Withdrawn, ..Observed::none() },
            _ => seen,
        };
        by_service.entry(&entry.service).or_default().push(seen.plan(&managed, Desired::Withdrawn, None));
    }
    by_service
        .into_iter()
        .map(|(name, prefixes)| ServicePlan {
            name: name.to_string(),
            health: None,
            verdict: Verdict::Removed,
            desired: Desired::Withdrawn,
            policy: Policy::default(),
            streak: Streak::default(),
            prefixes,
        })
        .collect()
}

/// What the daemon of a departed prefix, or a BIRD's stray, has of it; an error, so that it is not withdrawn, when the
/// configuration now names the prefix for a daemon that cannot be asked: a wrong socket or vtysh path pushed to a
/// fleet would otherwise withdraw a healthy service everywhere. Once that daemon answers, the prefix leaves the one
/// it was in.
fn observe_moved(config: &Config, inputs: &Inputs, managed: &ManagedPrefix) -> Observed {
    let unavailable =
        config.prefixes().map(|(_, named)| named).filter(|named| named.prefix == managed.prefix).find_map(|named| {
            match &named.daemon {
                Daemon::Frr(frr) => (!matches!(inputs.frr.get(&frr.vtysh), Some(Ok(_))))
                    .then(|| format!("FRR through {}", frr.vtysh.display())),
                Daemon::Bird(bird) => (!matches!(inputs.bird.get(&bird.socket), Some(Ok(_))))
                    .then(|| format!("BIRD at {}", bird.socket.display())),
            }
        });
    match unavailable {
        Some(daemon) => Observed { error: Some(PrefixError::MovedToUnavailable(daemon)), ..Observed::none() },
        None => observe(managed, &inputs.frr, &inputs.bird),
    }
}

/// The service name under which BIRD's strays are reported: no configuration names them, so none is known.
pub const STRAY_SERVICE: &str = "(none)";

/// BIRD's strays: the prefixes a protocol of anycastd's (`anycastd_*`) gives a BIRD that neither the configuration
/// nor the record's departed prefixes name for that BIRD (a hand edit, a file of anycastd's that BIRD includes beside
/// the one configured, a record lost). The `anycastd_` protocols are anycastd's, so they are withdrawn, as departed
/// prefixes are.
fn bird_strays(config: &Config, inputs: &Inputs) -> Option<ServicePlan> {
    let departed =
        inputs.departed.iter().filter_map(|departed| Some((departed.entry.bird.as_ref()?, departed.entry.prefix)));
    let known: Vec<(&BirdDaemon, Prefix)> =
        config.prefixes().filter_map(|(_, prefix)| Some((prefix.bird()?, prefix.prefix))).chain(departed).collect();
    let named: BTreeSet<(&Path, BirdNet)> = known
        .iter()
        .map(|(bird, prefix)| (bird.socket.as_path(), BirdNet { prefix: *prefix, table: bird.table.clone() }))
        .collect();
    let file_of = |socket: &Path| {
        let known = known.iter().find(|(bird, _)| bird.socket == socket);
        known.map_or_else(|| PathBuf::from(DEFAULT_BIRD_FILE), |(bird, _)| bird.file.clone())
    };
    let mut prefixes = Vec::new();
    for (socket, state) in inputs.bird.iter().filter_map(|(socket, state)| Some((socket, state.as_ref().ok()?))) {
        for net in state.routes.keys().filter(|net| !named.contains(&(socket.as_path(), (*net).clone()))) {
            let table = net.table.clone();
            let bird = BirdDaemon { socket: socket.clone(), file: file_of(socket), drain: false, table };
            let managed = ManagedPrefix {
                vrf: Vrf::Default,
                prefix: net.prefix,
                daemon: Daemon::Bird(bird),
                route_map: None,
                drain_route_map: None,
                host: None,
            };
            let seen = observe_moved(config, inputs, &managed);
            prefixes.push(seen.plan(&managed, Desired::Withdrawn, None));
        }
    }
    (!prefixes.is_empty()).then(|| ServicePlan {
        name: STRAY_SERVICE.to_string(),
        health: None,
        verdict: Verdict::Removed,
        desired: Desired::Withdrawn,
        policy: Policy::default(),
        streak: Streak::default(),
        prefixes,
    })
}

/// A service's verdict, what it wants and its streak after `decided` (this pass's verdict and streak), in a pass made
/// by a push. A push must neither announce nor count toward `rise` or `fall`: anyone who can reach the listener
/// (any local user, with `--allow-unauthenticated-loopback`) could otherwise drive another service's rise with
/// pushes about other checks. So a service the push does not name is left exactly as it is; a named one gets the
/// verdict a poll would give with the pushed failure counted, but only its withdrawal or drain is done, and its
/// streak stays what the polls made it. With `fall = 1` a pushed failure withdraws at once; with `fall = 3` only
/// after two unhealthy polls.
fn after_push(
    service: &Service,
    inputs: &Inputs,
    intent: Intent,
    decided: (Verdict, Streak),
    previous: Streak,
) -> (Verdict, Desired, Streak) {
    let (verdict, streak) = decided;
    let named = match (&inputs.pushed_services, intent) {
        (Some(named), Intent::Reconcile) => named.contains(&service.name),
        _ => {
            let desired = verdict.desired(&service.policy);
            return (verdict, desired, streak);
        }
    };
    if !named {
        return (Verdict::Untouched, Desired::Unchanged, previous);
    }
    let desired = match verdict.desired(&service.policy) {
        Desired::Announced => Desired::Unchanged,
        desired => desired,
    };
    (verdict, desired, previous)
}

/// What maintenance asks of this pass: `withdraw-all --drain`'s own pass drains and a withdrawal withdraws, whatever
/// the marker says; otherwise a marker with a drain that is not over drains, and any other marker withdraws.
fn maintenance_mode(inputs: &Inputs, intent: Intent) -> MaintenanceMode {
    match (intent, &inputs.maintenance) {
        (Intent::Drain { until }, _) => MaintenanceMode::Drain { until },
        (Intent::WithdrawAll, _) => MaintenanceMode::Withdraw,
        (Intent::Reconcile, None) => MaintenanceMode::Off,
        (Intent::Reconcile, Some(marker)) => match marker.draining_until(inputs.now) {
            Some(until) => MaintenanceMode::Drain { until },
            None => MaintenanceMode::Withdraw,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::config::{OnCheckerError, Vrf};
    use crate::health::cabourotte::Answers;
    use crate::plan::testing::*;
    use crate::plan::{Action, Summary};
    use crate::state::maintenance::Maintenance;
    use crate::state::streaks::Streaks;

    const EMPTY_FRR: &str = "router bgp 65536\n!\nrouter bgp 65537 vrf 123\n!\nend\n";

    #[test]
    fn healthy_services_announce_what_frr_lacks() {
        let config = seed();
        let plan = compute(&config, &all_answer(&config, ALL_HEALTHY), &frr(EMPTY_FRR), None, Intent::Reconcile);
        assert!(plan.prefixes().all(|p| p.action == Action::Announce));
        assert_eq!(plan.summary(), Summary { announce: 4, ..Summary::default() });
        let ntp = plan.prefixes().find(|p| p.managed.vrf == Vrf::Named("123".into())).expect("a vrf prefix");
        assert_eq!(ntp.change().map(|c| c.asn.to_string()), Some("65537".into()));
    }

    #[test]
    fn a_failing_check_withdraws_only_its_service() {
        let config = seed();
        let answers = all_answer(&config, include_str!("../../tests/fixtures/cabourotte-result-list.json"));
        let running = include_str!("../../tests/fixtures/frr-8.4.4-running-config.txt");
        let plan = compute(&config, &answers, &frr(running), None, Intent::Reconcile);
        assert_eq!(plan.services[1].verdict, Verdict::Unhealthy);
        assert_eq!(
            actions(&plan),
            [
                ("203.0.113.53/32".into(), Action::Keep),
                ("2001:db8::b19:bad:53/128".into(), Action::Keep),
                ("203.0.113.123/32".into(), Action::Withdraw),
                ("2001:db8::123:7e11:713e/128".into(), Action::Withdraw),
            ]
        );
        assert_eq!(plan.summary(), Summary { withdraw: 2, unchanged: 2, ..Summary::default() });
    }

    #[test]
    fn maintenance_and_withdraw_all_withdraw_everything_announced() {
        let config = seed();
        let running = include_str!("../../tests/fixtures/frr-8.4.4-running-config.txt");
        let marker = Maintenance { since: 0, by: "alice".into(), reason: None, drain_until: None };
        let healthy = all_answer(&config, ALL_HEALTHY);
        let in_maintenance = compute(&config, &healthy, &frr(running), Some(marker), Intent::Reconcile);
        assert!(in_maintenance.services.iter().all(|s| s.verdict == Verdict::Maintenance));
        assert_eq!(in_maintenance.summary().withdraw, 4);
        let withdraw_all = compute(&config, &Answers::new(), &frr(running), None, Intent::WithdrawAll);
        assert!(withdraw_all.services.iter().all(|s| s.verdict == Verdict::WithdrawAll && s.health.is_none()));
        assert_eq!(withdraw_all.summary().withdraw, 4);
    }

    #[test]
    fn an_unreachable_cabourotte_withdraws_and_counts_as_a_checker_error() {
        let config = seed();
        let down: Answers =
            config.checks().map(|(_, c)| (c.url.clone(), Err("Connection refused".to_string()))).collect();
        let running = include_str!("../../tests/fixtures/frr-8.4.4-running-config.txt");
        let plan = compute(&config, &down, &frr(running), None, Intent::Reconcile);
        assert_eq!(plan.summary(), Summary { withdraw: 4, checker_errors: 3, ..Summary::default() });
        assert!(plan.summary().has_errors());
    }

    fn pushed_about(services: &[&str]) -> Option<BTreeSet<String>> {
        Some(services.iter().map(|name| name.to_string()).collect())
    }

    const NTP_V4_FAILING: &str =
        r#"[{"name":"dns","success":true},{"name":"ntp_v4","success":false},{"name":"ntp_v6","success":true}]"#;

    #[test]
    fn a_push_leaves_every_service_it_does_not_name_exactly_as_it_is() {
        let mut config = seed();
        config.services[0].policy.rise = 3;
        let nothing = include_str!("../../tests/fixtures/frr-8.4.4-nothing-announced.txt");
        let two_healthy_polls =
            Streaks { services: BTreeMap::from([("dns".to_string(), Streak { healthy: 2, unhealthy: 0 })]) };
        let inputs = Inputs {
            answers: all_answer(&config, NTP_V4_FAILING),
            frr: frr(nothing),
            streaks: two_healthy_polls.clone(),
            ..Inputs::default()
        };
        let poll = Plan::compute(&config, &inputs, Intent::Reconcile);
        assert_eq!(
            actions(&poll)[..2],
            [("203.0.113.53/32".into(), Action::Announce), ("2001:db8::b19:bad:53/128".into(), Action::Announce)],
            "a third healthy poll announces"
        );
        let push =
            Plan::compute(&config, &Inputs { pushed_services: pushed_about(&["ntp"]), ..inputs }, Intent::Reconcile);
        let dns = &push.services[0];
        assert_eq!(
            (&dns.verdict, dns.desired, dns.streak),
            (&Verdict::Untouched, Desired::Unchanged, Streak { healthy: 2, unhealthy: 0 })
        );
        assert!(
            dns.prefixes.iter().all(|p| p.action == Action::Keep),
            "a push about ntp is not dns's third healthy pass"
        );
        assert_eq!(push.streaks().of("dns"), two_healthy_polls.of("dns"), "nothing counted");
        assert_eq!(push.streaks().of("ntp"), Streak::default(), "nor for the service named");

        let announced = include_str!("../../tests/fixtures/frr-8.4.4-running-config.txt");
        let dns_failing =
            r#"[{"name":"dns","success":false},{"name":"ntp_v4","success":false},{"name":"ntp_v6","success":true}]"#;
        let inputs = Inputs {
            answers: all_answer(&config, dns_failing),
            frr: frr(announced),
            pushed_services: pushed_about(&["ntp"]),
            ..Inputs::default()
        };
        let push = Plan::compute(&config, &inputs, Intent::Reconcile);
        assert_eq!(
            actions(&push),
            [
                ("203.0.113.53/32".into(), Action::Keep),
                ("2001:db8::b19:bad:53/128".into(), Action::Keep),
                ("203.0.113.123/32".into(), Action::Withdraw),
                ("2001:db8::123:7e11:713e/128".into(), Action::Withdraw),
            ],
            "dns waits for the poll, whatever its last answer said"
        );
    }

    #[test]
    fn a_push_withdraws_the_service_it_names_as_a_poll_would_without_counting_itself() {
        let mut config = seed();
        let announced = include_str!("../../tests/fixtures/frr-8.4.4-running-config.txt");
        let before = Streak { healthy: 4, unhealthy: 0 };
        let answers = all_answer(&config, NTP_V4_FAILING);
        let inputs = |streak: Streak| Inputs {
            answers: answers.clone(),
            frr: frr(announced),
            streaks: Streaks { services: BTreeMap::from([("ntp".to_string(), streak)]) },
            pushed_services: pushed_about(&["ntp"]),
            ..Inputs::default()
        };
        let fall_1 = Plan::compute(&config, &inputs(before), Intent::Reconcile);
        assert_eq!(fall_1.services[1].verdict, Verdict::Unhealthy);
        assert!(fall_1.services[1].prefixes.iter().all(|p| p.action == Action::Withdraw), "fall = 1: at once");
        assert_eq!(fall_1.services[1].streak, before, "the push is not counted");

        config.services[1].policy.fall = 3;
        let first = Plan::compute(&config, &inputs(before), Intent::Reconcile);
        assert_eq!(first.services[1].verdict, Verdict::Falling { unhealthy: 1, fall: 3 });
        assert!(first.services[1].prefixes.iter().all(|p| p.action == Action::Keep));
        assert_eq!(first.services[1].streak, before);
        let two_unhealthy_polls = Streak { healthy: 0, unhealthy: 2 };
        let third = Plan::compute(&config, &inputs(two_unhealthy_polls), Intent::Reconcile);
        assert_eq!(third.services[1].verdict, Verdict::Unhealthy, "the push brings the third unhealthy pass forward");
        assert!(third.services[1].prefixes.iter().all(|p| p.action == Action::Withdraw));
        assert_eq!(third.services[1].streak, two_unhealthy_polls, "still what the polls made it");
    }

    #[test]
    fn a_push_never_announces_nor_restores_the_service_it_names_but_may_drain_it() {
        let config = graded(GRADED);
        let pushed = || Inputs { pushed_services: pushed_about(&["dns"]), ..Inputs::default() };
        let drifted = graded_frr("  network 203.0.113.54/32\n");
        let poll = plan_with(&config, true, &drifted, Inputs::default());
        assert_eq!(
            actions(&poll),
            [("203.0.113.53/32".into(), Action::Announce), ("203.0.113.54/32".into(), Action::Restore)]
        );
        let push = plan_with(&config, true, &drifted, pushed());
        assert_eq!(push.services[0].verdict, Verdict::Healthy, "the pushed failure was older than the poll");
        assert_eq!(
            actions(&push),
            [("203.0.113.53/32".into(), Action::Keep), ("203.0.113.54/32".into(), Action::Keep)]
        );
        assert!(!push.summary().has_changes() && !push.summary().has_errors());

        let announced = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-OUT\n");
        let falling = plan_with(&config, false, &announced, pushed());
        assert_eq!(falling.services[0].verdict, Verdict::Falling { unhealthy: 1, fall: 3 });
        assert_eq!(actions(&falling)[0], ("203.0.113.53/32".into(), Action::Drain), "on_falling = \"drain\" drains");
        assert_eq!(falling.services[0].streak, Streak::default());
    }

    #[test]
    fn a_withdraw_only_pass_withdraws_at_once_and_refuses_every_announcement() {
        let mut config = seed();
        config.services[1].policy.fall = 3;
        let answers = all_answer(
            &config,
            r#"[{"name":"dns","success":true},{"name":"ntp_v4","success":false},{"name":"ntp_v6","success":true}]"#,
        );
        let running =
            include_str!("../../tests/fixtures/frr-8.4.4-running-config.txt").replace(" network 203.0.113.53/32\n", "");
        let inputs =
            Inputs { answers, frr: frr(&running), withdraw_only: Some("the lock is gone".into()), ..Inputs::default() };
        let plan = Plan::compute(&config, &inputs, Intent::Reconcile);
        let refused = Action::Error(PrefixError::AnnounceRefused("the lock is gone".into()));
        assert_eq!(
            actions(&plan),
            [
                ("203.0.113.53/32".into(), refused),
                ("2001:db8::b19:bad:53/128".into(), Action::Keep),
                ("203.0.113.123/32".into(), Action::Withdraw),
                ("2001:db8::123:7e11:713e/128".into(), Action::Withdraw),
            ],
            "fall = 3 cannot keep an unhealthy service announced when the count cannot be kept"
        );
    }

    #[test]
    fn kept_prefixes_are_neither_announced_nor_withdrawn() {
        let mut config = seed();
        config.services[1].policy.on_checker_error = OnCheckerError::Keep;
        let down: Answers =
            config.checks().map(|(_, c)| (c.url.clone(), Err("Connection refused".to_string()))).collect();
        let running = include_str!("../../tests/fixtures/frr-8.4.4-nothing-announced.txt");
        let plan = compute(&config, &down, &frr(running), None, Intent::Reconcile);
        assert_eq!(plan.services[1].verdict, Verdict::KeptOnCheckerError);
        assert!(plan.services[1].prefixes.iter().all(|p| p.action == Action::Keep));
        assert!(plan.summary().has_errors(), "a checker that could not be asked is still an error");
    }

    #[test]
    fn a_drain_in_the_marker_drains_until_its_deadline_and_never_announces() {
        let mut config = graded(GRADED);
        config.services[0].prefixes[1].drain_route_map = None;
        let frr = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-OUT\n");
        let marker = Maintenance { since: 100, by: "alice".into(), reason: None, drain_until: Some(130) };
        let during = Inputs { maintenance: Some(marker.clone()), now: Some(120), ..Inputs::default() };
        let plan = plan_with(&config, true, &frr, during);
        assert_eq!(plan.services[0].verdict, Verdict::Draining { until: 130 });
        assert_eq!(
            actions(&plan),
            [("203.0.113.53/32".into(), Action::Drain), ("203.0.113.54/32".into(), Action::Keep)]
        );
        let with_plain = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-OUT\n  network 203.0.113.54/32\n");
        let during = Inputs { maintenance: Some(marker.clone()), now: Some(120), ..Inputs::default() };
        assert_eq!(
            actions(&plan_with(&config, true, &with_plain, during))[1].1,
            Action::Withdraw,
            "no drain route-map"
        );
        let after = Inputs { maintenance: Some(marker), now: Some(130), ..Inputs::default() };
        assert_eq!(actions(&plan_with(&config, true, &frr, after))[0].1, Action::Withdraw);
        let healthy = all_answer(&config, r#"[{"name":"dns","success":true}]"#);
        let asked = Inputs { frr: frr.clone(), answers: healthy, ..Inputs::default() };
        let command = Plan::compute(&config, &asked, Intent::Drain { until: 5 });
        assert_eq!(actions(&command)[0].1, Action::Drain, "withdraw-all --drain drains a healthy service");
        let marked = Inputs { frr: frr.clone(), maintenance: Some(marker_ahead()), ..Inputs::default() };
        let withdrawal = Plan::compute(&config, &marked, Intent::WithdrawAll);
        assert_eq!(
            actions(&withdrawal)[0].1,
            Action::Withdraw,
            "the withdrawal at the end of a drain withdraws, whatever the marker's deadline (it has no clock)"
        );
    }

    #[test]
    fn a_service_failing_during_a_drain_is_withdrawn_at_once_whatever_its_fall() {
        let mut config = graded(GRADED);
        config.services[0].policy.fall = 3;
        let frr = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-DRAIN\n");
        let marker = Maintenance { since: 100, by: "alice".into(), reason: None, drain_until: Some(130) };
        let during = || Inputs { maintenance: Some(marker.clone()), now: Some(120), ..Inputs::default() };
        let failing = plan_with(&config, false, &frr, during());
        assert_eq!(failing.services[0].verdict, Verdict::Unhealthy, "not Falling 1/3, not Draining");
        assert_eq!(actions(&failing)[0].1, Action::Withdraw);
        let down: Answers =
            config.checks().map(|(_, c)| (c.url.clone(), Err("Connection refused".to_string()))).collect();
        let inputs = Inputs { answers: down.clone(), frr: frr.clone(), ..during() };
        assert_eq!(Plan::compute(&config, &inputs, Intent::Reconcile).services[0].verdict, Verdict::Unhealthy);
        config.services[0].policy.on_checker_error = OnCheckerError::Keep;
        let inputs = Inputs { answers: down, frr: frr.clone(), ..during() };
        let kept = Plan::compute(&config, &inputs, Intent::Reconcile);
        assert_eq!(
            (kept.services[0].verdict.clone(), actions(&kept)[0].1.clone()),
            (Verdict::Draining { until: 130 }, Action::Keep)
        );
        let command = Plan::compute(&config, &Inputs { frr, ..Inputs::default() }, Intent::Drain { until: 130 });
        assert!(command.services[0].health.is_some(), "withdraw-all --drain asks Cabourotte");
    }

    fn marker_ahead() -> Maintenance {
        Maintenance { since: 100, by: "alice".into(), reason: None, drain_until: Some(u64::MAX) }
    }

    #[test]
    fn on_unhealthy_drain_keeps_a_failed_service_drained() {
        let config =
            graded(&GRADED.replace("on_falling = \"drain\"", "on_unhealthy = \"drain\"").replace("fall = 3", ""));
        let announced = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-OUT\n");
        let plan = plan_with(&config, false, &announced, Inputs::default());
        assert_eq!(
            (plan.services[0].verdict.clone(), plan.services[0].desired),
            (Verdict::Unhealthy, Desired::Drained)
        );
        assert_eq!(
            actions(&plan),
            [("203.0.113.53/32".into(), Action::Drain), ("203.0.113.54/32".into(), Action::Keep)]
        );
    }

    /// BIRD's prefixes are planned from what BIRD's tables hold: announced, drained (a drain with `drain = true`
    /// keeps it marked, without withdraws), restored; and a protocol of anycastd's that the configuration does not
    /// name for that BIRD is withdrawn, as a departed prefix, under the service `(none)`.
    #[test]
    fn bird_prefixes_follow_bird_s_tables_and_its_strays_are_withdrawn() {
        use crate::bird::{BirdRoute, BirdRoutes, BirdState};
        let config = graded(
            "[services.dns]\nprefixes.bird = [{ prefix = \"203.0.113.53\", drain = true }, \"203.0.113.54\"]\n\
             checks.cabourotte = [\"dns\"]\n",
        );
        let prefix = |text: &str| Prefix::parse(text).expect("a prefix");
        let routes = BirdRoutes::from([
            (BirdNet::new(prefix("203.0.113.53/32"), None), BirdRoute { draining: true }),
            (BirdNet::new(prefix("203.0.113.99/32"), None), BirdRoute { draining: false }),
        ]);
        let bird = crate::plan::BirdStates::from([(
            PathBuf::from("/run/bird/bird.ctl"),
            Ok(BirdState { routes, tables: None }),
        )]);
        let healthy = all_answer(&config, r#"[{"name":"dns","success":true}]"#);
        let inputs = Inputs { answers: healthy.clone(), bird: bird.clone(), ..Inputs::default() };
        let plan = Plan::compute(&config, &inputs, Intent::Reconcile);
        assert_eq!(
            actions(&plan),
            [
                ("203.0.113.53/32".to_string(), Action::Restore),
                ("203.0.113.54/32".to_string(), Action::Announce),
                ("203.0.113.99/32".to_string(), Action::Withdraw),
            ]
        );
        assert_eq!(plan.departed[0].name, STRAY_SERVICE);
        let inputs = Inputs { answers: healthy, bird, ..Inputs::default() };
        let drained = Plan::compute(&config, &inputs, Intent::Drain { until: 130 });
        assert_eq!(
            actions(&drained),
            [
                ("203.0.113.53/32".to_string(), Action::Keep),
                ("203.0.113.54/32".to_string(), Action::Keep),
                ("203.0.113.99/32".to_string(), Action::Withdraw),
            ],
            "the drained one stays marked, the withdrawn one stays withdrawn, the stray leaves"
        );
    }

    /// A departed prefix of a BIRD the configuration no longer names is planned at that BIRD (the record's socket
    /// and file), under the service it was for; BIRD's other protocols of anycastd's there are strays.
    #[test]
    fn a_departed_bird_prefix_is_withdrawn_at_its_bird_under_its_service() {
        use crate::bird::{BirdRoute, BirdRoutes, BirdState};
        use crate::plan::Departed;
        use crate::state::managed::Entry;
        let config = graded("[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [\"dns\"]\n");
        let prefix = |text: &str| Prefix::parse(text).expect("a prefix");
        let socket = PathBuf::from("/run/other-bird.ctl");
        let routes = BirdRoutes::from([
            (BirdNet::new(prefix("203.0.113.80/32"), None), BirdRoute { draining: false }),
            (BirdNet::new(prefix("203.0.113.99/32"), None), BirdRoute { draining: false }),
        ]);
        let bird_daemon =
            BirdDaemon { socket: socket.clone(), file: "/run/other/anycastd.conf".into(), drain: false, table: None };
        let entry = Entry {
            prefix: prefix("203.0.113.80/32"),
            vrf: Vrf::Default,
            asn: None,
            vtysh: None,
            bird: Some(bird_daemon.clone()),
            service: "web".into(),
        };
        let inputs = Inputs {
            bird: crate::plan::BirdStates::from([(socket, Ok(BirdState { routes, tables: None }))]),
            departed: vec![Departed { entry, allowed: true }],
            ..Inputs::default()
        };
        let plan = Plan::compute(&config, &inputs, Intent::Reconcile);
        let departed: Vec<(&str, String, Action, Option<&BirdDaemon>)> = plan
            .departed
            .iter()
            .flat_map(|service| service.prefixes.iter().map(move |p| (service.name.as_str(), p)))
            .map(|(name, p)| (name, p.managed.prefix.to_string(), p.action.clone(), p.managed.bird()))
            .collect();
        assert_eq!(
            departed,
            [
                ("web", "203.0.113.80/32".to_string(), Action::Withdraw, Some(&bird_daemon)),
                (STRAY_SERVICE, "203.0.113.99/32".to_string(), Action::Withdraw, Some(&bird_daemon)),
            ]
        );
    }

    /// A prefix the configuration now names at a BIRD that cannot be asked (a wrong socket path, pushed to a fleet)
    /// is not withdrawn from the BIRD it was in, whether the record names it there or it is a stray; once the new
    /// BIRD answers, it is.
    #[test]
    fn a_prefix_moved_to_a_bird_that_cannot_be_asked_stays_where_it_was() {
        use crate::bird::{BirdRoute, BirdRoutes, BirdState};
        use crate::plan::Departed;
        use crate::state::managed::Entry;
        let config = graded(
            "[services.dns]\nprefixes.bird = [{ prefix = \"203.0.113.53\", socket = \"/run/bird/typo.ctl\" }, \
             { prefix = \"203.0.113.54\", socket = \"/run/bird/typo.ctl\" }]\nchecks.cabourotte = [\"dns\"]\n",
        );
        let prefix = |text: &str| Prefix::parse(text).expect("a prefix");
        let old = PathBuf::from("/run/bird/bird.ctl");
        let routes = BirdRoutes::from([
            (BirdNet::new(prefix("203.0.113.53/32"), None), BirdRoute { draining: false }),
            (BirdNet::new(prefix("203.0.113.54/32"), None), BirdRoute { draining: false }),
        ]);
        let bird = BirdDaemon { socket: old.clone(), file: DEFAULT_BIRD_FILE.into(), drain: false, table: None };
        let entry = Entry {
            prefix: prefix("203.0.113.53/32"),
            vrf: Vrf::Default,
            asn: None,
            vtysh: None,
            bird: Some(bird),
            service: "dns".into(),
        };
        let typo = Err("cannot connect to /run/bird/typo.ctl: No such file or directory".to_string());
        let inputs = |new: Result<BirdRoutes, String>| Inputs {
            bird: crate::plan::BirdStates::from([
                (old.clone(), Ok(BirdState { routes: routes.clone(), tables: None })),
                (PathBuf::from("/run/bird/typo.ctl"), new.map(|routes| BirdState { routes, tables: None })),
            ]),
            departed: vec![Departed { entry: entry.clone(), allowed: true }],
            ..Inputs::default()
        };
        let departed = |plan: &Plan| -> Vec<(String, Action)> {
            let prefixes = plan.departed.iter().flat_map(|service| service.prefixes.iter());
            prefixes.map(|p| (p.managed.prefix.to_string(), p.action.clone())).collect()
        };
        let kept = Plan::compute(&config, &inputs(typo), Intent::Reconcile);
        let error = Action::Error(PrefixError::MovedToUnavailable("BIRD at /run/bird/typo.ctl".into()));
        assert_eq!(
            departed(&kept),
            [("203.0.113.53/32".to_string(), error.clone()), ("203.0.113.54/32".to_string(), error)]
        );
        let moved = Plan::compute(&config, &inputs(Ok(BirdRoutes::new())), Intent::Reconcile);
        assert_eq!(
            departed(&moved),
            [("203.0.113.53/32".to_string(), Action::Withdraw), ("203.0.113.54/32".to_string(), Action::Withdraw)]
        );
    }

    /// A prefix in a table BIRD does not define is an error of its own (BIRD would refuse anycastd's whole file with
    /// it); the prefix in a table BIRD has is announced there, and the master table's copy of another table's prefix
    /// is another prefix.
    #[test]
    fn a_bird_prefix_in_a_table_bird_lacks_is_an_error_of_its_own() {
        use crate::bird::{BirdRoutes, BirdState};
        let config = graded(
            "[services.dns]\nprefixes.bird = [{ prefix = \"203.0.113.53\", table = \"blue4\" }, \
             { prefix = \"203.0.113.54\", table = \"bleu4\" }, \"203.0.113.55\"]\nchecks.cabourotte = [\"dns\"]\n",
        );
        let tables = ["master4", "master6", "blue4"].map(String::from).into();
        let state = BirdState { routes: BirdRoutes::new(), tables: Some(tables) };
        let bird = crate::plan::BirdStates::from([(PathBuf::from("/run/bird/bird.ctl"), Ok(state))]);
        let healthy = all_answer(&config, r#"[{"name":"dns","success":true}]"#);
        let inputs = Inputs { answers: healthy, bird, ..Inputs::default() };
        let plan = Plan::compute(&config, &inputs, Intent::Reconcile);
        assert_eq!(
            actions(&plan),
            [
                ("203.0.113.53/32".to_string(), Action::Announce),
                ("203.0.113.54/32".to_string(), Action::Error(PrefixError::BirdNoTable("bleu4".into()))),
                ("203.0.113.55/32".to_string(), Action::Announce),
            ]
        );
    }
}
