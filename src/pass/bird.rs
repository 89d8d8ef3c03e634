//! BIRD's part of a pass: what each BIRD has of anycastd's prefixes (one connection per BIRD to read, one to apply
//! and verify), and the apply stage for BIRD's prefixes.
//!
//! The file anycastd owns is the truth (see `bird/mod.rs`): a pass that changes anything of a BIRD writes its whole
//! file from the plan, then has BIRD reconfigure, then reads BIRD's tables again, so that each prefix's outcome is what
//! BIRD has, not what was written. When BIRD cannot reconfigure (the operator's bird.conf does not parse), the
//! prefixes to withdraw are withdrawn anyway, by disabling their protocols: the file, written before, keeps them out
//! once BIRD can reconfigure again. Nothing can be announced then, and a drain cannot mark its route: the prefix
//! stays announced as it was, an error, until bird.conf parses (a drain keeps a prefix announced by design: withdrawing
//! it instead would overrule an operator who chose to keep the last site standing).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::bird::{self, BirdRoute, BirdRoutes, Configured, Connection};
use crate::config::{BirdDaemon, Config, Prefix};
use crate::plan::{Action, BirdStates, Failure, Outcome, Plan, PrefixPlan, PrefixState, Warning};

/// Whether the configuration has any BIRD prefix: only then is any BIRD asked.
pub(crate) fn has_prefixes(config: &Config) -> bool {
    config.prefixes().any(|(_, prefix)| prefix.bird().is_some())
}

/// Each BIRD of the configuration, by control socket.
fn birds(config: &Config) -> BTreeMap<&Path, &BirdDaemon> {
    config.prefixes().filter_map(|(_, prefix)| prefix.bird()).map(|bird| (bird.socket.as_path(), bird)).collect()
}

/// What an offline plan knows of BIRD: nothing (it reads no BIRD).
pub(crate) fn offline(config: &Config) -> BirdStates {
    let unknown = || Err("an offline plan does not ask BIRD".to_string());
    birds(config).into_keys().map(|socket| (socket.to_path_buf(), unknown())).collect()
}

/// What each BIRD of the configuration has of anycastd's prefixes, each asked within `timeout`, one after the other
/// (each answers in milliseconds; a stuck one costs its `timeout`).
pub(crate) fn read_all(config: &Config, timeout: Duration) -> BirdStates {
    birds(config).into_keys().map(|socket| (socket.to_path_buf(), read(socket, timeout))).collect()
}

/// What one BIRD has of anycastd's prefixes, or why it could not be asked.
fn read(socket: &Path, timeout: Duration) -> Result<BirdRoutes, String> {
    let mut connection = Connection::open(socket, Instant::now() + timeout).map_err(|error| error.to_string())?;
    bird::read_routes(&mut connection).map_err(|error| error.to_string())
}

/// Applies the BIRD part of `plan`: for each BIRD with a change, or whose tables or file differ from what the plan
/// wants (a hand edit, a prefix the configuration no longer names), its file is written anew and BIRD reconfigured.
/// `before` is what each BIRD had when the plan was computed. Fills in the outcome of every change, and returns what
/// each BIRD that was changed has now.
pub(crate) fn apply(plan: &mut Plan, before: &BirdStates, timeout: Duration) -> BirdStates {
    let mut after = BirdStates::new();
    for (bird, wanted) in wanted_by_bird(plan) {
        let Some(Ok(had)) = before.get(&bird.socket) else { continue };
        let of_this_bird = |prefix: &PrefixPlan| prefix.managed.bird().is_some_and(|of| of.socket == bird.socket);
        let changes = plan.prefixes().any(|prefix| of_this_bird(prefix) && is_change(prefix));
        let file_differs = bird::read_owned_file(&bird.file).ok().flatten() != Some(bird::render_owned_file(&wanted));
        if !changes && !file_differs && *had == wanted {
            continue;
        }
        let applied = apply_to(&bird, had, &wanted, timeout);
        if let Some(message) = &applied.refused {
            let socket = bird.socket.clone();
            plan.warnings.push(Warning::BirdRefusedConfiguration { socket, message: message.clone() });
        }
        for prefix in plan.prefixes_mut().filter(|prefix| of_this_bird(prefix) && is_change(prefix)) {
            prefix.outcome = outcome(prefix, &applied);
        }
        after.insert(bird.socket.clone(), applied.now.clone());
    }
    after
}

/// What happened to one BIRD: what its tables hold after applying (or why they could not be read), and why BIRD
/// did not load anycastd's file, if it did not.
struct Applied {
    now: Result<BirdRoutes, String>,
    refused: Option<String>,
}

/// Writes `wanted` into the BIRD's file and has it reconfigure; when it cannot, disables the protocols of what it
/// had and must no longer have.
fn apply_to(bird: &Target, had: &BirdRoutes, wanted: &BirdRoutes, timeout: Duration) -> Applied {
    if let Err(error) = bird::write_owned_file(&bird.file, wanted) {
        // The file could not be written: reconfiguring would load the old one. Withdrawals still go through.
        return withdraw_by_disabling(bird, had, wanted, timeout, error.to_string());
    }
    let deadline = Instant::now() + timeout;
    let mut connection = match Connection::open(&bird.socket, deadline) {
        Ok(connection) => connection,
        Err(error) => return Applied { now: Err(error.to_string()), refused: Some(error.to_string()) },
    };
    match bird::configure(&mut connection) {
        Ok(Configured::Applied) => {
            Applied { now: bird::read_routes(&mut connection).map_err(|error| error.to_string()), refused: None }
        }
        Ok(Configured::Failed(message)) => withdraw_by_disabling(bird, had, wanted, timeout, message),
        Err(error) => Applied { now: Err(error.to_string()), refused: Some(error.to_string()) },
    }
}

/// The emergency withdrawal: disables the protocol of every prefix BIRD had that `wanted` lacks, since BIRD would not
/// load the file (`why`). Works while bird.conf does not parse.
fn withdraw_by_disabling(
    bird: &Target,
    had: &BirdRoutes,
    wanted: &BirdRoutes,
    timeout: Duration,
    why: String,
) -> Applied {
    let gone: Vec<Prefix> = had.keys().filter(|prefix| !wanted.contains_key(prefix)).copied().collect();
    let mut connection = match Connection::open(&bird.socket, Instant::now() + timeout) {
        Ok(connection) => connection,
        Err(error) => return Applied { now: Err(error.to_string()), refused: Some(why) },
    };
    // Each protocol's own answer matters less than what BIRD's tables hold afterwards, which is read next: a failed
    // `disable` shows there as a prefix still present.
    let _ = bird::disable(&mut connection, &gone);
    let now = bird::read_routes(&mut connection).map_err(|error| error.to_string());
    Applied { now, refused: Some(why) }
}

/// What each BIRD of the plan must have once it is applied: every prefix announced or drained after its action (one
/// in error stays as it is). By control socket, each with its file (one per socket: the configuration checks it);
/// whether a prefix drains is the prefix's, not the BIRD's.
fn wanted_by_bird(plan: &Plan) -> Vec<(Target, BirdRoutes)> {
    let mut wanted: BTreeMap<&Path, (Target, BirdRoutes)> = BTreeMap::new();
    for prefix in plan.prefixes() {
        let Some(bird) = prefix.managed.bird() else { continue };
        let target = Target { socket: bird.socket.clone(), file: bird.file.clone() };
        let (_, routes) = wanted.entry(bird.socket.as_path()).or_insert_with(|| (target, BirdRoutes::new()));
        if let Some(route) = wanted_route(prefix) {
            routes.insert(prefix.managed.prefix, route);
        }
    }
    wanted.into_values().collect()
}

/// One BIRD: its control socket, and the file anycastd writes for it.
struct Target {
    socket: std::path::PathBuf,
    file: std::path::PathBuf,
}

/// The route BIRD must have of `prefix` once its plan is applied; `None` for none.
fn wanted_route(prefix: &PrefixPlan) -> Option<BirdRoute> {
    let state = match prefix.action {
        Action::Announce | Action::Restore => PrefixState::Announced,
        Action::Drain => PrefixState::Drained,
        Action::Withdraw => PrefixState::Withdrawn,
        Action::Keep | Action::Error(_) => prefix.current,
    };
    match state {
        PrefixState::Announced => Some(BirdRoute { draining: false }),
        PrefixState::Drained => Some(BirdRoute { draining: true }),
        PrefixState::Withdrawn | PrefixState::Unknown => None,
    }
}

/// Whether `prefix`'s plan changes BIRD.
fn is_change(prefix: &PrefixPlan) -> bool {
    matches!(prefix.action, Action::Announce | Action::Withdraw | Action::Drain | Action::Restore)
}

/// The outcome of `prefix`'s change: what BIRD has of it now, against what it should have.
fn outcome(prefix: &PrefixPlan, applied: &Applied) -> Outcome {
    let now = match &applied.now {
        Ok(now) => now,
        Err(reason) => return Outcome::Failed(Failure::Unverified { reason: reason.clone() }),
    };
    let wanted = wanted_route(prefix);
    let found = now.get(&prefix.managed.prefix).copied();
    if found == wanted {
        return Outcome::Done;
    }
    let bird_error = applied.refused.clone();
    Outcome::Failed(match (wanted, found) {
        (Some(wanted), Some(_)) => Failure::BirdWrongMark { draining: wanted.draining, bird_error },
        (Some(_), None) => Failure::BirdAbsent { bird_error },
        (None, _) => Failure::BirdStillPresent { bird_error },
    })
}
