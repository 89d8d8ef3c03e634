//! One managed prefix: what FRR has of it, and what to do about it given what its service wants.

use std::path::Path;

use crate::bird::BirdNet;
use crate::config::{Daemon, ManagedPrefix, RouteMap};
use crate::frr::Asn;

use super::{Action, BirdStates, Desired, FrrStates, Outcome, PrefixError, PrefixPlan, PrefixState, Warning};

/// What FRR has of one managed prefix.
pub(super) struct Observed {
    pub(super) asn: Option<Asn>,
    pub(super) state: PrefixState,
    /// The route-map of FRR's `network` line, if it has the line and the line names one.
    pub(super) route_map: Option<String>,
    pub(super) error: Option<PrefixError>,
    pub(super) import_check: bool,
    /// The prefix's `route_map`, when FRR does not have it.
    pub(super) missing_route_map: Option<RouteMap>,
    /// The prefix's `drain_route_map`, when FRR does not have it.
    pub(super) missing_drain_route_map: Option<RouteMap>,
}

impl Observed {
    /// Nothing known: FRR was not read.
    pub(super) fn none() -> Observed {
        Observed {
            asn: None,
            state: PrefixState::Unknown,
            route_map: None,
            error: None,
            import_check: false,
            missing_route_map: None,
            missing_drain_route_map: None,
        }
    }
}

/// What its daemon has of one managed prefix.
pub(super) fn observe(managed: &ManagedPrefix, frr: &FrrStates, bird: &BirdStates) -> Observed {
    match &managed.daemon {
        Daemon::Frr(daemon) => observe_frr(managed, &daemon.vtysh, frr),
        Daemon::Bird(daemon) => observe_bird(managed, &daemon.socket, bird),
    }
}

/// What BIRD has of one managed prefix: a route from anycastd's file, marked as draining or not, or none.
fn observe_bird(managed: &ManagedPrefix, socket: &Path, bird: &BirdStates) -> Observed {
    let nothing = Observed::none();
    let state = match bird.get(socket) {
        Some(Ok(state)) => state,
        Some(Err(reason)) => return Observed { error: Some(PrefixError::BirdUnavailable(reason.clone())), ..nothing },
        None => return Observed { error: Some(PrefixError::BirdUnavailable("not read".into())), ..nothing },
    };
    let net = BirdNet::of(managed);
    let table = net.as_ref().and_then(|net| net.table.as_ref());
    if let (Some(table), Some(tables)) = (table, &state.tables)
        && !tables.contains(table)
    {
        return Observed { error: Some(PrefixError::BirdNoTable(table.clone())), ..nothing };
    }
    let state = match net.and_then(|net| state.routes.get(&net)) {
        None => PrefixState::Withdrawn,
        Some(route) if route.draining => PrefixState::Drained,
        Some(_) => PrefixState::Announced,
    };
    Observed { state, ..nothing }
}

/// What FRR has of one managed prefix: its `network` line in the instance of its VRF, and its route-map.
fn observe_frr(managed: &ManagedPrefix, vtysh: &Path, frr: &FrrStates) -> Observed {
    let nothing = Observed::none();
    let running = match frr.get(vtysh) {
        Some(Ok(running)) => running,
        Some(Err(reason)) => return Observed { error: Some(PrefixError::FrrUnavailable(reason.clone())), ..nothing },
        None => return Observed { error: Some(PrefixError::FrrUnavailable("not read".into())), ..nothing },
    };
    let Some(instance) = running.instance(&managed.vrf) else {
        return Observed { state: PrefixState::Withdrawn, error: Some(PrefixError::NoBgpInstance), ..nothing };
    };
    let missing = |route_map: &Option<RouteMap>| route_map.clone().filter(|map| !running.has_route_map(map.name()));
    let line = instance.networks.get(&managed.prefix);
    let route_map = line.cloned().flatten();
    let drain = managed.drain_route_map.as_ref().map(RouteMap::name);
    let state = match line {
        None => PrefixState::Withdrawn,
        Some(_) if drain.is_some() && drain == route_map.as_deref() => PrefixState::Drained,
        Some(_) => PrefixState::Announced,
    };
    Observed {
        asn: Some(instance.asn.clone()),
        state,
        route_map,
        import_check: instance.import_check,
        missing_route_map: missing(&managed.route_map),
        missing_drain_route_map: missing(&managed.drain_route_map),
        ..nothing
    }
}

impl Observed {
    /// The prefix's plan, given what its service wants for it, and why it may not be announced in this pass, if it
    /// may not.
    pub(super) fn plan(self, managed: &ManagedPrefix, desired: Desired, refusal: Option<&str>) -> PrefixPlan {
        let mut warnings = Vec::new();
        let action = match (&self.error, desired) {
            (Some(error), _) => Action::Error(error.clone()),
            (None, Desired::Announced) => self.announce(managed, refusal),
            (None, Desired::Drained) => self.drain(managed),
            (None, Desired::Withdrawn) if self.state.is_announced() => Action::Withdraw,
            (None, _) => Action::Keep,
        };
        if let (Some(route_map), false) = (&self.missing_route_map, matches!(action, Action::Error(_))) {
            warnings.push(Warning::MissingRouteMap { prefix: managed.prefix, route_map: route_map.clone() });
        }
        if let Some(drain) = &self.missing_drain_route_map {
            warnings.push(Warning::MissingDrainRouteMap { prefix: managed.prefix, route_map: drain.clone() });
        }
        PrefixPlan {
            managed: managed.clone(),
            asn: self.asn,
            current: self.state,
            route_map: self.route_map,
            action,
            outcome: Outcome::Pending,
            import_check: self.import_check,
            warnings,
            advertising: None,
        }
    }

    /// Announced through the prefix's own route-map: announce it, or put that route-map back on the line FRR has.
    /// Neither is done without the route-map in FRR, nor in a pass that may only withdraw.
    fn announce(&self, managed: &ManagedPrefix, refusal: Option<&str>) -> Action {
        if let Some(route_map) = &self.missing_route_map {
            return Action::Error(PrefixError::MissingRouteMap(route_map.clone()));
        }
        let wanted = managed.route_map.as_ref().map(RouteMap::name);
        // BIRD marks a drained route rather than naming a route-map: only its mark tells the two apart.
        let marked_drained = managed.bird().is_some() && self.state == PrefixState::Drained;
        let action = match self.state {
            PrefixState::Announced | PrefixState::Drained if self.route_map.as_deref() == wanted && !marked_drained => {
                return Action::Keep;
            }
            PrefixState::Announced | PrefixState::Drained => Action::Restore,
            PrefixState::Withdrawn | PrefixState::Unknown => Action::Announce,
        };
        match refusal {
            Some(reason) => Action::Error(PrefixError::AnnounceRefused(reason.to_string())),
            None => action,
        }
    }

    /// Drained: the line FRR has gets the drain route-map. A prefix FRR does not have stays withdrawn (a drain never
    /// announces), and one without a drain route-map in FRR is withdrawn.
    fn drain(&self, managed: &ManagedPrefix) -> Action {
        if !self.state.is_announced() {
            return Action::Keep;
        }
        if managed.bird().is_some() {
            return match (managed.drains(), self.state) {
                (false, _) => Action::Withdraw,
                (true, PrefixState::Drained) => Action::Keep,
                (true, _) => Action::Drain,
            };
        }
        match &managed.drain_route_map {
            None => Action::Withdraw,
            Some(_) if self.missing_drain_route_map.is_some() => Action::Withdraw,
            Some(drain) if self.route_map.as_deref() == Some(drain.name()) => Action::Keep,
            Some(_) => Action::Drain,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::frr::{Change, ChangeKind};
    use crate::plan::testing::*;
    use crate::plan::{Inputs, Intent, Plan, PrefixState, Summary, Verdict};

    #[test]
    fn a_missing_instance_or_an_unreadable_frr_is_an_error_for_those_prefixes_only() {
        let config = seed();
        let healthy = all_answer(&config, ALL_HEALTHY);
        let plan = compute(&config, &healthy, &frr("router bgp 65536\nend\n"), None, Intent::Reconcile);
        assert_eq!(plan.summary(), Summary { announce: 2, errors: 2, ..Summary::default() });
        assert_eq!(plan.services[1].prefixes[0].action, Action::Error(PrefixError::NoBgpInstance));
        let unreadable = FrrStates::from([(PathBuf::from("/usr/bin/vtysh"), Err("connection refused".to_string()))]);
        let plan = compute(&config, &healthy, &unreadable, None, Intent::Reconcile);
        assert_eq!(plan.summary(), Summary { errors: 4, ..Summary::default() });
    }

    fn lines(plan: &Plan) -> Vec<String> {
        let changes: Vec<Change> = plan.prefixes().filter_map(PrefixPlan::change).collect();
        crate::frr::render_batch(&changes)
    }

    #[test]
    fn announcements_carry_the_route_map_and_another_route_map_is_drift() {
        let config = graded(GRADED);
        let frr = graded_frr("  network 203.0.113.54/32\n");
        let plan = plan_with(&config, true, &frr, Inputs::default());
        assert_eq!(
            actions(&plan),
            [("203.0.113.53/32".into(), Action::Announce), ("203.0.113.54/32".into(), Action::Restore)]
        );
        assert_eq!(
            lines(&plan)[2..4],
            ["network 203.0.113.53/32 route-map ANYCAST-OUT", "network 203.0.113.54/32 route-map ANYCAST-OUT"]
        );
        let converged = graded_frr(
            "  network 203.0.113.53/32 route-map ANYCAST-OUT\n  network 203.0.113.54/32 route-map ANYCAST-OUT\n",
        );
        assert!(!plan_with(&config, true, &converged, Inputs::default()).summary().has_changes());
    }

    #[test]
    fn a_route_map_frr_lacks_is_an_error_never_an_announcement_without_it() {
        let config = graded(GRADED);
        let frr = frr("router bgp 65536\nend\n");
        let plan = plan_with(&config, true, &frr, Inputs::default());
        let missing = Action::Error(PrefixError::MissingRouteMap(RouteMap::parse("ANYCAST-OUT").expect("valid")));
        assert_eq!(actions(&plan), [("203.0.113.53/32".into(), missing.clone()), ("203.0.113.54/32".into(), missing)]);
        let codes: Vec<Vec<&str>> = plan.prefixes().map(|p| p.warnings.iter().map(Warning::code).collect()).collect();
        assert_eq!(codes, [["missing-drain-route-map"], ["missing-drain-route-map"]], "no missing-route-map: an error");
        let unhealthy = plan_with(&config, false, &frr, Inputs::default());
        assert!(unhealthy.prefixes().all(|p| p.action == Action::Keep), "nothing announced: nothing to withdraw");
    }

    #[test]
    fn falling_drains_then_fall_withdraws_and_health_restores() {
        let config = graded(GRADED);
        let announced = graded_frr(
            "  network 203.0.113.53/32 route-map ANYCAST-OUT\n  network 203.0.113.54/32 route-map ANYCAST-OUT\n",
        );
        let first = plan_with(&config, false, &announced, Inputs::default());
        assert_eq!(first.services[0].desired, Desired::Drained);
        assert_eq!(
            first.prefixes().next().map(|p| (p.action.clone(), p.change().map(|c| c.kind))),
            Some((Action::Drain, Some(ChangeKind::Network(RouteMap::parse("ANYCAST-DRAIN")))))
        );
        assert_eq!(actions(&first)[1], ("203.0.113.54/32".into(), Action::Withdraw), "OTHER-DRAIN is not in FRR");
        let drained = graded_frr("  network 203.0.113.53/32 route-map ANYCAST-DRAIN\n");
        let second = plan_with(&config, false, &drained, Inputs { streaks: first.streaks(), ..Inputs::default() });
        assert_eq!(second.services[0].verdict, Verdict::Falling { unhealthy: 2, fall: 3 });
        assert_eq!(second.prefixes().next().map(|prefix| prefix.current), Some(PrefixState::Drained));
        assert_eq!(actions(&second)[0].1, Action::Keep);
        let third = plan_with(&config, false, &drained, Inputs { streaks: second.streaks(), ..Inputs::default() });
        assert_eq!(actions(&third)[0].1, Action::Withdraw);
        let healthy = plan_with(&config, true, &drained, Inputs { streaks: second.streaks(), ..Inputs::default() });
        assert_eq!(actions(&healthy)[0].1, Action::Restore, "a drained prefix counts as announced for rise");
    }
}
