//! The plan as a value: per service and per prefix, what FRR has, what to do, and what applying did.

use std::path::{Path, PathBuf};

use crate::config::{ManagedPrefix, Policy, RouteMap};
use crate::frr::{Asn, Change, ChangeKind, Reach};
use crate::health::{self, ServiceHealth};
use crate::state::maintenance::Maintenance;
use crate::state::streaks::{Streak, Streaks};

use super::{Desired, Verdict, Warning};

/// Why a prefix cannot be reconciled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefixError {
    /// The vtysh of this prefix could not read FRR's running config.
    FrrUnavailable(String),
    /// BIRD's control socket could not be asked what BIRD has.
    BirdUnavailable(String),
    /// BIRD's configuration defines no table of this name (the prefix's `table`): anycastd's file would not load
    /// with it, so it is left out, and the other prefixes are reconciled.
    BirdNoTable(String),
    /// FRR has no BGP instance in the prefix's VRF; anycastd never creates one.
    NoBgpInstance,
    /// The prefix should be announced, but this pass may only withdraw, for this reason.
    AnnounceRefused(String),
    /// The prefix should be announced through a route-map that FRR does not have; anycastd never announces a prefix
    /// without its policy, and never creates a route-map.
    MissingRouteMap(RouteMap),
    /// A departed prefix was announced through a vtysh that no configuration names any more: it is not run.
    VtyshNotConfigured(PathBuf),
    /// A departed prefix (or a BIRD's stray) that the configuration now names for another daemon, which cannot be
    /// asked (described: `BIRD at /run/bird/bird.ctl`): it is left where it is. A wrong path in the configuration,
    /// pushed to a fleet, must not withdraw the service everywhere.
    MovedToUnavailable(String),
    /// The prefix should be announced, but its service address (its `interface` key) is not on the host and cannot
    /// be put there: announcing it would pull traffic to an address the node does not serve.
    AddressMissing {
        /// The interface the address belongs on.
        interface: String,
        /// The address.
        address: std::net::IpAddr,
        /// Why it is not there.
        why: super::address::Unplaced,
    },
}

impl PrefixError {
    /// Its stable code in the JSON output (`error_code`); the renderer words it (`render::words::prefix_error`).
    pub fn code(&self) -> &'static str {
        match self {
            PrefixError::FrrUnavailable(_) => "frr-unavailable",
            PrefixError::BirdUnavailable(_) => "bird-unavailable",
            PrefixError::BirdNoTable(_) => "bird-table-unknown",
            PrefixError::NoBgpInstance => "no-bgp-instance",
            PrefixError::AnnounceRefused(_) => "announce-refused",
            PrefixError::MissingRouteMap(_) => "missing-route-map",
            PrefixError::VtyshNotConfigured(_) => "vtysh-not-configured",
            PrefixError::MovedToUnavailable(_) => "moved-to-unavailable",
            PrefixError::AddressMissing { .. } => "address-missing",
        }
    }
}

/// Why FRR does not match a prefix's plan after applying it: only FRR itself can say what it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// FRR does not have the `network` line it should have.
    Absent {
        /// What vtysh reported, if it reported an error.
        vtysh_error: Option<String>,
    },
    /// FRR still has the `network` line it should not have.
    StillPresent {
        /// What vtysh reported, if it reported an error.
        vtysh_error: Option<String>,
    },
    /// FRR has the `network` line, through another route-map (`None`: none) than the one wanted.
    WrongRouteMap {
        /// The route-map FRR has on the line.
        found: Option<String>,
        /// The route-map wanted on it.
        wanted: Option<String>,
        /// What vtysh reported, if it reported an error.
        vtysh_error: Option<String>,
    },
    /// FRR's running config (BIRD's tables) could not be read after applying.
    Unverified {
        /// Why.
        reason: String,
    },
    /// BIRD's tables lack the prefix after applying.
    BirdAbsent {
        /// Why BIRD did not load anycastd's file, if it did not (its own message).
        bird_error: Option<String>,
    },
    /// BIRD's tables still have the prefix after applying.
    BirdStillPresent {
        /// Why BIRD did not load anycastd's file, if it did not.
        bird_error: Option<String>,
    },
    /// BIRD has the prefix, but not marked as it should be (`draining`: it should carry the drain mark).
    BirdWrongMark {
        /// Whether it should be marked as draining.
        draining: bool,
        /// Why BIRD did not load anycastd's file, if it did not.
        bird_error: Option<String>,
    },
}

impl Failure {
    /// Its stable code in the JSON output (`error_code`); the renderer words it (`render::words::failure`).
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Absent { .. } => "absent-after-applying",
            Failure::StillPresent { .. } => "present-after-applying",
            Failure::WrongRouteMap { .. } => "wrong-route-map-after-applying",
            Failure::Unverified { .. } => "unverified-after-applying",
            Failure::BirdAbsent { .. } => "absent-after-applying",
            Failure::BirdStillPresent { .. } => "present-after-applying",
            Failure::BirdWrongMark { .. } => "wrong-drain-mark-after-applying",
        }
    }
}

/// What to do with one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Add the `network` statement, with the prefix's `route_map` if it has one.
    Announce,
    /// Remove the `network` statement.
    Withdraw,
    /// Put the prefix's `drain_route_map` on the `network` statement FRR has.
    Drain,
    /// Put the prefix's own `route_map` (or none) back on the `network` statement FRR has: after a drain, or when
    /// someone changed it by hand.
    Restore,
    /// Nothing: FRR already matches.
    Keep,
    /// Nothing can be done.
    Error(PrefixError),
}

/// What applying did to one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not applied (a plan), or nothing to apply.
    Pending,
    /// FRR now matches.
    Done,
    /// FRR does not match after applying.
    Failed(Failure),
}

/// One managed prefix in the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixPlan {
    /// The prefix as configured.
    pub managed: ManagedPrefix,
    /// The AS number of its BGP instance, when FRR has one.
    pub asn: Option<Asn>,
    /// What FRR does with the prefix now, before the plan is applied.
    pub current: PrefixState,
    /// The route-map of FRR's `network` line now, if it has the line and the line names one.
    pub route_map: Option<String>,
    /// What to do.
    pub action: Action,
    /// What applying did (always [`Outcome::Pending`] in a plan).
    pub outcome: Outcome,
    /// Whether its BGP instance has `bgp network import-check` on.
    pub import_check: bool,
    /// What the operator should know about this prefix (e.g. FRR will not advertise it, a route-map is missing).
    pub warnings: Vec<Warning>,
    /// Whether FRR sends it to its BGP neighbors, when that was read (`plan`, and a pass that changed something).
    pub advertising: Option<Advertising>,
}

/// What FRR sends of a prefix to its neighbors, and when that was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertising {
    /// The neighbors it is sent to, and what that means.
    pub reach: Reach,
    /// When it was read, in Unix seconds.
    pub read_at: u64,
}

/// What FRR does with a managed prefix, as reports, logs, metrics and hooks name it. Announced or drained, FRR's
/// running config has the `network` line: that is what anycastd sees and changes. Whether FRR advertises it also
/// depends on its RIB (`bgp network import-check`), which `plan` looks at (and a changing pass, of what it has just
/// announced in a VRF other than the default one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefixState {
    /// FRR has the `network` line, not through the prefix's drain route-map.
    Announced,
    /// FRR has the `network` line through the prefix's drain route-map: still announced, less preferred.
    Drained,
    /// FRR does not have it.
    Withdrawn,
    /// FRR could not be read.
    Unknown,
}

impl PrefixState {
    /// Its name in reports, logs, metrics and hooks.
    pub fn name(self) -> &'static str {
        match self {
            PrefixState::Announced => "announced",
            PrefixState::Drained => "drained",
            PrefixState::Withdrawn => "withdrawn",
            PrefixState::Unknown => "unknown",
        }
    }

    /// Whether FRR has the `network` line, through whichever route-map: announced or drained.
    pub fn is_announced(self) -> bool {
        matches!(self, PrefixState::Announced | PrefixState::Drained)
    }
}

impl PrefixPlan {
    /// The FRR change this prefix needs, if any.
    pub fn change(&self) -> Option<Change> {
        let kind = match self.action {
            Action::Withdraw => ChangeKind::NoNetwork,
            Action::Announce | Action::Drain | Action::Restore => {
                ChangeKind::Network(self.wanted_route_map()?.cloned())
            }
            Action::Keep | Action::Error(_) => return None,
        };
        let asn = self.asn.clone()?;
        Some(Change { asn, vrf: self.managed.vrf.clone(), prefix: self.managed.prefix, kind })
    }

    /// The route-map the action puts on the `network` line (`Some(None)`: none); `None` for an action that does not
    /// set a `network` line.
    pub fn wanted_route_map(&self) -> Option<Option<&RouteMap>> {
        match self.action {
            Action::Announce | Action::Restore => Some(self.managed.route_map.as_ref()),
            Action::Drain => Some(self.managed.drain_route_map.as_ref()),
            Action::Withdraw | Action::Keep | Action::Error(_) => None,
        }
    }

    /// Whether FRR will have this network after the plan is applied.
    pub fn will_be_announced(&self) -> bool {
        match self.action {
            Action::Announce | Action::Drain | Action::Restore => true,
            Action::Withdraw | Action::Error(_) => false,
            Action::Keep => self.current.is_announced(),
        }
    }

    /// What FRR does with the prefix once the plan is applied (or, for a failed change, as it was).
    pub fn state_after(&self) -> PrefixState {
        match (&self.action, &self.outcome) {
            (_, Outcome::Failed(_)) | (Action::Keep | Action::Error(_), _) => self.current,
            (Action::Announce | Action::Restore, _) => PrefixState::Announced,
            (Action::Drain, _) => PrefixState::Drained,
            (Action::Withdraw, _) => PrefixState::Withdrawn,
        }
    }

    /// Whether this prefix failed to plan or to apply.
    pub fn is_error(&self) -> bool {
        matches!(self.action, Action::Error(_)) || matches!(self.outcome, Outcome::Failed(_))
    }
}

/// One service in the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePlan {
    /// The service's name.
    pub name: String,
    /// Its checks' verdicts (`None` when health was not asked: `withdraw-all`).
    pub health: Option<ServiceHealth>,
    /// Whether its prefixes should be announced, and why.
    pub verdict: Verdict,
    /// What the verdict wants for its prefixes, under its policy.
    pub desired: Desired,
    /// Its rise/fall policy.
    pub policy: Policy,
    /// Its streak of healthy or unhealthy passes, this pass included (what a changing pass saves).
    pub streak: Streak,
    /// Its prefixes.
    pub prefixes: Vec<PrefixPlan>,
}

/// The plan of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The maintenance marker, when set.
    pub maintenance: Option<Maintenance>,
    /// Every service, sorted by name.
    pub services: Vec<ServicePlan>,
    /// What anycastd announced for services or prefixes the configuration no longer has, by the service it was
    /// announced for ([`Verdict::Removed`]).
    pub departed: Vec<ServicePlan>,
    /// The service addresses on the host (the prefixes' `interface` key): those the configuration names, and those
    /// anycastd added for prefixes that left it.
    pub addresses: Vec<super::address::AddressPlan>,
    /// Things the operator should know that are not errors (e.g. a damaged state file).
    pub warnings: Vec<Warning>,
    /// Errors of the pass as a whole, not of one prefix (the state directory, the lock, the marker).
    pub errors: Vec<super::PassError>,
    /// Why this pass withdraws every managed prefix, when it is not withdraw-all's own reason: the signal that
    /// stopped `run`, or a reload that removed the prefixes from the configuration.
    pub reason: Option<String>,
}

/// Counts of what a plan does (or an applied plan did).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Prefixes to announce (or announced).
    pub announce: usize,
    /// Prefixes to withdraw (or withdrawn).
    pub withdraw: usize,
    /// Prefixes to drain (or drained).
    pub drain: usize,
    /// Prefixes to restore to their own route-map (or restored).
    pub restore: usize,
    /// Prefixes already as they should be.
    pub unchanged: usize,
    /// Prefixes and addresses that could not be planned or applied.
    pub errors: usize,
    /// Service addresses to add to the host (or added).
    pub add_address: usize,
    /// Service addresses to remove from the host (or removed).
    pub remove_address: usize,
    /// Checks whose Cabourotte could not be asked.
    pub checker_errors: usize,
    /// Errors of the pass as a whole.
    pub pass_errors: usize,
}

impl Summary {
    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        self.announce + self.withdraw + self.drain + self.restore + self.add_address + self.remove_address > 0
    }

    /// Whether anything went wrong (a prefix error, a Cabourotte that could not be asked, an error of the pass).
    pub fn has_errors(&self) -> bool {
        self.errors + self.checker_errors + self.pass_errors > 0
    }
}

impl Plan {
    /// The streaks to remember after this pass.
    pub fn streaks(&self) -> Streaks {
        Streaks { services: self.services.iter().map(|service| (service.name.clone(), service.streak)).collect() }
    }

    /// Every prefix of the plan, departed ones included.
    pub fn prefixes(&self) -> impl Iterator<Item = &PrefixPlan> {
        self.all_services().flat_map(|service| service.prefixes.iter())
    }

    /// Every prefix of the plan, departed ones included, to fill in what applying did.
    pub fn prefixes_mut(&mut self) -> impl Iterator<Item = &mut PrefixPlan> {
        self.services.iter_mut().chain(self.departed.iter_mut()).flat_map(|service| service.prefixes.iter_mut())
    }

    /// The configured services, then the departed ones.
    pub fn all_services(&self) -> impl Iterator<Item = &ServicePlan> {
        self.services.iter().chain(self.departed.iter())
    }

    /// Counts what the plan does; prefixes that failed to apply count as errors, not as changes.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for prefix in self.prefixes() {
            match (&prefix.action, prefix.is_error()) {
                (_, true) => summary.errors += 1,
                (Action::Announce, false) => summary.announce += 1,
                (Action::Withdraw, false) => summary.withdraw += 1,
                (Action::Drain, false) => summary.drain += 1,
                (Action::Restore, false) => summary.restore += 1,
                _ => summary.unchanged += 1,
            }
        }
        // An address error already counted as its prefix's (`address-missing`) is one problem, said twice.
        let counted: Vec<(&str, std::net::IpAddr)> = self
            .prefixes()
            .filter_map(|prefix| match &prefix.action {
                Action::Error(PrefixError::AddressMissing { interface, address, .. }) => {
                    Some((interface.as_str(), *address))
                }
                _ => None,
            })
            .collect();
        for address in &self.addresses {
            let already = counted.contains(&(address.interface.as_str(), address.address));
            match (&address.action, address.is_error()) {
                (_, true) if already => {}
                (_, true) => summary.errors += 1,
                (super::AddressAction::Add, false) => summary.add_address += 1,
                (super::AddressAction::Remove, false) => summary.remove_address += 1,
                _ => {}
            }
        }
        summary.checker_errors = self
            .services
            .iter()
            .filter_map(|service| service.health.as_ref())
            .flat_map(|health| health.checks.iter())
            .filter(|check| matches!(check.status, health::CheckStatus::Unavailable(_)))
            .count();
        summary.pass_errors = self.errors.len();
        summary
    }

    /// Each FRR whose running config could not be read, once, with why, in the order of the prefixes behind it: a
    /// stopped bgpd is one problem however many prefixes it holds, and reports say it once.
    pub fn unreadable_frrs(&self) -> Vec<(&Path, &str)> {
        let mut unreadable: Vec<(&Path, &str)> = Vec::new();
        for prefix in self.prefixes() {
            if let (Action::Error(PrefixError::FrrUnavailable(reason)), Some(vtysh)) =
                (&prefix.action, prefix.managed.vtysh())
                && !unreadable.iter().any(|(seen, _)| *seen == vtysh)
            {
                unreadable.push((vtysh, reason));
            }
        }
        unreadable
    }
}
