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

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bird::{self, BirdNet, BirdRoute, BirdRoutes, BirdState, Configured, Connection};
use crate::config::{BirdDaemon, Config, DEFAULT_BIRD_SOCKET};
use crate::plan::{Action, BirdStates, Failure, Outcome, Plan, PrefixPlan, PrefixState, Warning};

/// Whether any BIRD is to be asked: the configuration has BIRD prefixes, or Debian's BIRD socket exists (see
/// [`read_all`]).
pub(crate) fn any_to_ask(config: &Config) -> bool {
    config.prefixes().any(|(_, prefix)| prefix.bird().is_some()) || default_socket_unnamed(config)
}

/// How long Debian's BIRD is waited for when the configuration names none of its prefixes: a BIRD that anycastd may
/// have nothing to do with must not hold up every pass by the whole `--vtysh-timeout`.
const UNNAMED_PROBE: Duration = Duration::from_secs(1);

/// Whether Debian's BIRD socket exists and the configuration names no prefix of it: its BIRD may still have
/// prefixes of anycastd's from a configuration that named it before (every prefix of a BIRD removed at once), which
/// nothing else would withdraw. It is asked too, quietly: a BIRD anycastd cannot reach is none of its business then.
fn default_socket_unnamed(config: &Config) -> bool {
    let socket = Path::new(DEFAULT_BIRD_SOCKET);
    let named = config.prefixes().filter_map(|(_, prefix)| prefix.bird()).any(|bird| bird.socket == socket);
    !named && std::fs::symlink_metadata(socket).is_ok_and(|metadata| metadata.file_type().is_socket())
}

/// Each BIRD of the configuration, by control socket.
fn birds(config: &Config) -> BTreeMap<&Path, &BirdDaemon> {
    config.prefixes().filter_map(|(_, prefix)| prefix.bird()).map(|bird| (bird.socket.as_path(), bird)).collect()
}

/// What an offline plan knows of BIRD: nothing (it reads no BIRD).
pub(crate) fn offline(config: &Config) -> BirdStates {
    let unknown = || Err("an offline plan does not ask BIRD: give what it has with --bird-routes".to_string());
    birds(config).into_keys().map(|socket| (socket.to_path_buf(), unknown())).collect()
}

/// What a plan is given for every BIRD of the configuration (`plan --bird-routes`); its tables are not known.
pub(crate) fn given(config: &Config, routes: &BirdRoutes) -> BirdStates {
    let state = BirdState { routes: routes.clone(), tables: None };
    birds(config).into_keys().map(|socket| (socket.to_path_buf(), Ok(state.clone()))).collect()
}

/// The BIRDs a pass asks beside the configuration's: those the record of managed prefixes names for departed prefixes
/// (`state/managed.rs`), each control socket with anycastd's file there.
pub(crate) type Extra = BTreeMap<PathBuf, PathBuf>;

/// What each BIRD of the configuration and of `extra` has of anycastd's prefixes, each asked within `timeout`, one
/// after the other (each answers in milliseconds; a stuck one costs its `timeout`).
pub(crate) fn read_all(config: &Config, extra: &Extra, timeout: Duration) -> BirdStates {
    let sockets: BTreeSet<&Path> = birds(config).into_keys().chain(extra.keys().map(PathBuf::as_path)).collect();
    let with_tables: BTreeSet<&Path> = config
        .prefixes()
        .filter_map(|(_, prefix)| prefix.bird())
        .filter(|bird| bird.table.is_some())
        .map(|bird| bird.socket.as_path())
        .collect();
    let mut states: BirdStates = sockets
        .into_iter()
        .map(|socket| (socket.to_path_buf(), read(socket, with_tables.contains(socket), timeout)))
        .collect();
    if default_socket_unnamed(config)
        && !states.contains_key(Path::new(DEFAULT_BIRD_SOCKET))
        && let Ok(state) = read(Path::new(DEFAULT_BIRD_SOCKET), false, timeout.min(UNNAMED_PROBE))
        && !state.routes.is_empty()
    {
        states.insert(PathBuf::from(DEFAULT_BIRD_SOCKET), Ok(state));
    }
    states
}

/// What one BIRD has of anycastd's prefixes, and its tables when `tables` (the configuration names a table other
/// than a master one for it: a table BIRD lacks would make it refuse anycastd's whole file), or why it could not be
/// asked.
fn read(socket: &Path, tables: bool, timeout: Duration) -> Result<BirdState, String> {
    let mut connection = Connection::open(socket, Instant::now() + timeout).map_err(|error| error.to_string())?;
    let routes = bird::read_routes(&mut connection).map_err(|error| error.to_string())?;
    let tables = match tables {
        true => Some(bird::read_tables(&mut connection).map_err(|error| error.to_string())?),
        false => None,
    };
    Ok(BirdState { routes, tables })
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
        if !changes && !file_differs && had.routes == wanted {
            continue;
        }
        let applied = apply_to(&bird, &wanted, timeout);
        if let Some(message) = &applied.refused {
            let socket = bird.socket.clone();
            plan.warnings.push(Warning::BirdRefusedConfiguration { socket, message: message.clone() });
        }
        for prefix in plan.prefixes_mut().filter(|prefix| of_this_bird(prefix) && is_change(prefix)) {
            prefix.outcome = outcome(prefix, &applied);
        }
        let now = applied.now.clone().map(|routes| BirdState { routes, tables: had.tables.clone() });
        after.insert(bird.socket.clone(), now);
    }
    after
}

/// What happened to one BIRD: what its tables hold after applying (or why they could not be read), and why BIRD
/// did not load anycastd's file, if it did not.
struct Applied {
    now: Result<BirdRoutes, String>,
    refused: Option<String>,
}

/// Writes `wanted` into the BIRD's file and has it reconfigure; then disables the protocol of every prefix BIRD still
/// has that `wanted` lacks: when BIRD would not reconfigure (its configuration does not parse, or the file could
/// not be written), and for a protocol of anycastd's that another file BIRD includes still defines. One connection.
fn apply_to(bird: &Target, wanted: &BirdRoutes, timeout: Duration) -> Applied {
    let written = bird::write_owned_file(&bird.file, wanted).map_err(|error| error.to_string());
    let mut connection = match Connection::open(&bird.socket, Instant::now() + timeout) {
        Ok(connection) => connection,
        Err(error) => return Applied { now: Err(error.to_string()), refused: Some(error.to_string()) },
    };
    let refused = match written {
        // The file could not be written: reconfiguring would load the old one. Withdrawals still go through.
        Err(error) => Some(error),
        Ok(()) => match bird::configure(&mut connection) {
            Ok(Configured::Applied) => None,
            Ok(Configured::Failed(message)) => Some(message),
            Err(error) => return Applied { now: Err(error.to_string()), refused: Some(error.to_string()) },
        },
    };
    let now = match settled(&mut connection, wanted) {
        Ok(now) => now,
        Err(error) => return Applied { now: Err(error.to_string()), refused },
    };
    let leftover: Vec<BirdNet> = now.keys().filter(|net| !wanted.contains_key(net)).cloned().collect();
    if leftover.is_empty() {
        return Applied { now: Ok(now), refused };
    }
    // Each protocol's own answer matters less than what BIRD's tables hold afterwards, read next: a failed
    // `disable` shows there as a prefix still present.
    let _ = bird::disable(&mut connection, &leftover);
    Applied { now: settled(&mut connection, wanted).map_err(|error| error.to_string()), refused }
}

/// How long BIRD's tables may take to show what was just applied. BIRD 3 flushes a disabled protocol's routes
/// after answering (`show protocols` says `flush` for a moment), so a read right after `disable` may still find them.
const SETTLE: Duration = Duration::from_secs(1);

/// What BIRD's tables hold, read again every 20 ms until they hold `wanted` or [`SETTLE`] has passed.
fn settled(connection: &mut Connection, wanted: &BirdRoutes) -> Result<BirdRoutes, bird::BirdError> {
    let until = Instant::now() + SETTLE;
    loop {
        let now = bird::read_routes(connection)?;
        if now == *wanted || Instant::now() >= until {
            return Ok(now);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
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
            routes.insert(BirdNet { prefix: prefix.managed.prefix, table: bird.table.clone() }, route);
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
    let found = BirdNet::of(&prefix.managed).and_then(|net| now.get(&net).copied());
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
