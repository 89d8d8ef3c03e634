//! The gather stage: every input of a plan, given (see `input.rs`) or from the outside world. Cabourotte's results
//! and FRR's running configs are asked at the same time, so a pass waits for the slower of the two, not for both; the
//! maintenance marker and the rise/fall counts come from the state directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::bird;
use super::input::{BirdInput, FrrInput, HealthInput};
use crate::clock;
use crate::config::{Config, DEFAULT_VTYSH, Prefix, Vrf};
use crate::context::Context;
use crate::frr::{RouteLookup, RunningConfig, Vtysh, routes_present};
use crate::health::cabourotte::{self, Answers};
use crate::health::exec::{self, ExecResults};
use crate::plan::{Action, BirdStates, Departed, FrrStates, HostSeen, Intent, Outcome, Plan, PrefixPlan, Warning};
use crate::state::StateDir;
use crate::state::addresses::{self, AddedAddresses};
use crate::state::maintenance::{self, Maintenance};
use crate::state::managed::{self, Record};
use crate::state::streaks::{self, Recalled};

/// What the outside world said, before anything is decided.
pub struct Gathered {
    /// Cabourotte's answer for every check (none for `withdraw-all`, which does not ask).
    pub answers: Answers,
    /// The verdict on every command check: run now, remembered by loop mode, or from a file.
    pub exec: ExecResults,
    /// The command checks this pass ran, with their verdicts, for loop mode to remember.
    pub exec_ran: ExecResults,
    /// When Cabourotte was asked, to judge the age of its results; `None` for answers from a file.
    pub now: Option<i64>,
    /// FRR's running config, or why it could not be read, per vtysh path.
    pub frr: FrrStates,
    /// What each BIRD has of anycastd's prefixes, or why it could not be asked, per control socket.
    pub bird: BirdStates,
    /// The maintenance marker, or why it could not be read.
    pub maintenance: std::io::Result<Option<Maintenance>>,
    /// The rise/fall counts of earlier passes.
    pub recalled: Recalled,
    /// What the operator should know about files the configuration names (a key file every user can read), or about
    /// the record of what anycastd announced.
    pub warnings: Vec<Warning>,
    /// What the record of managed prefixes says (see `state/managed.rs`), for the pass to keep it.
    pub record: Record,
    /// The prefixes of that record the configuration no longer names, to withdraw.
    pub departed: Vec<Departed>,
    /// The services a pass made by a push concerns (see [`HealthInput::Pushed`]).
    pub pushed_services: Option<BTreeSet<String>>,
    /// The host's interfaces and addresses, when needed (see `pass/host.rs`).
    pub host: HostSeen,
    /// The record of the addresses anycastd added.
    pub added: AddedAddresses,
}

/// Gathers every input of a pass with `intent`: the health as `health` says, FRR's running configs as `frr` says.
/// `state_dir` is `None` when it does not exist or cannot be used: then there is no marker and no count.
/// Where a pass takes what each routing daemon has from.
#[derive(Clone, Copy, Debug)]
pub struct Daemons<'a> {
    /// FRR's running configs.
    pub frr: &'a FrrInput,
    /// What each BIRD has.
    pub bird: &'a BirdInput,
}

/// Which command checks a pass runs, and what it takes for the others.
fn exec_results(
    config: &Config,
    intent: Intent,
    health: &HealthInput,
    remembered: Option<&exec::Remembered>,
) -> (ExecResults, ExecResults) {
    match (intent.asks_health(), health, remembered) {
        (false, _, _) => (ExecResults::new(), ExecResults::new()),
        (true, HealthInput::File(results), _) => (exec::from_file(config, results), ExecResults::new()),
        // A pass made by a push runs nothing: it is about Cabourotte's checks, and must be quick.
        (true, HealthInput::Pushed { .. }, remembered) => {
            (remembered.map(|r| r.results().clone()).unwrap_or_default(), ExecResults::new())
        }
        (true, HealthInput::Live | HealthInput::Polled { .. }, None) => {
            let ran = exec::run_every(config);
            (ran.clone(), ran)
        }
        (true, HealthInput::Live | HealthInput::Polled { .. }, Some(remembered)) => {
            let ran = exec::run_all(remembered.due(config, std::time::Instant::now()));
            let mut all = remembered.results().clone();
            all.extend(ran.clone());
            (all, ran)
        }
    }
}

pub fn gather(
    config: &Config,
    context: &Context,
    intent: Intent,
    health: &HealthInput,
    daemons: Daemons<'_>,
    state_dir: Option<&StateDir>,
) -> Gathered {
    gather_remembering(config, context, intent, health, daemons, state_dir, None)
}

/// [`gather`] for loop mode, whose `remembered` command checks run only when due (see [`exec::Remembered`]).
pub fn gather_remembering(
    config: &Config,
    context: &Context,
    intent: Intent,
    health: &HealthInput,
    daemons: Daemons<'_>,
    state_dir: Option<&StateDir>,
    exec_memory: Option<&exec::Remembered>,
) -> Gathered {
    let frr = daemons.frr;
    let maintenance = maintenance::read(state_dir);
    // A withdrawal of everything weighs no health, so it has no use for the rise/fall counts, and nothing to say about
    // them: root's `withdraw-all` (the package's prerm's too) in the units' directory would warn that it cannot trust
    // them there.
    let recalled = if intent.asks_health() { streaks::load(state_dir) } else { Recalled::default() };
    let record = match frr {
        FrrInput::File(_) => Record::Missing,
        FrrInput::Live | FrrInput::Remembered(_) => managed::read(state_dir, config),
    };
    let (departed, record_warning) = departed(config, &record);
    // An offline plan (FRR from a file) runs on a machine that is not the node: its addresses say nothing.
    let (added, host) = match frr {
        FrrInput::File(_) => (AddedAddresses::Missing, HostSeen::NotRead),
        FrrInput::Live | FrrInput::Remembered(_) => {
            let added = addresses::read(state_dir);
            let host = super::host::read(config, &added);
            (added, host)
        }
    };
    let allowed = || departed.iter().filter(|departed| departed.allowed).map(|departed| &departed.entry);
    let extra_paths: BTreeSet<PathBuf> = allowed().filter_map(|entry| entry.vtysh.clone()).collect();
    let extra_birds: bird::Extra =
        allowed().filter_map(|entry| entry.bird.clone()).map(|b| (b.socket, b.file)).collect();
    let ask_health = || match (intent.asks_health(), health) {
        (false, _) => (Answers::new(), None),
        (true, HealthInput::File(results)) => (cabourotte::answer_everywhere(config, results), None),
        (true, HealthInput::Pushed { remembered, .. }) => (remembered.clone(), Some(clock::unix_now())),
        (true, HealthInput::Live | HealthInput::Polled { .. }) => {
            (cabourotte::fetch_all(config, context.http_timeout), Some(clock::unix_now()))
        }
    };
    let nothing_remembered = BTreeMap::new();
    let remembered = match frr {
        FrrInput::Remembered(remembered) => remembered,
        FrrInput::Live | FrrInput::File(_) => &nothing_remembered,
    };
    let read_frr = || match frr {
        FrrInput::File(running) => {
            vtysh_paths(config).into_iter().map(|path| (path.to_path_buf(), Ok(running.clone()))).collect()
        }
        FrrInput::Live | FrrInput::Remembered(_) => read_all(config, &extra_paths, context.vtysh_timeout, remembered),
    };
    let must_read = !matches!(frr, FrrInput::File(_))
        && (!extra_paths.is_empty() || vtysh_paths(config).iter().any(|path| !remembered.contains_key(*path)));
    let read_bird = || match daemons.bird {
        BirdInput::NotGiven => bird::offline(config),
        BirdInput::File(routes) => bird::given(config, routes),
        BirdInput::Live => bird::read_all(config, &extra_birds, context.vtysh_timeout),
    };
    let must_read = must_read || bird::any_to_ask(config) || !extra_birds.is_empty();
    let run_exec = || exec_results(config, intent, health, exec_memory);
    let runs_commands = intent.asks_health()
        && matches!(health, HealthInput::Live | HealthInput::Polled { .. })
        && config.exec_checks().next().is_some();
    let ((answers, now), (frr, bird), (exec, exec_ran)) = if must_read || runs_commands {
        // Cabourotte, the commands, FRR and BIRD are asked at the same time: a pass waits for the slowest, not for
        // their sum (a hung BIRD must not add its deadline to FRR's withdrawals).
        std::thread::scope(|scope| {
            let asked = scope.spawn(ask_health);
            let commands = scope.spawn(run_exec);
            let bird = scope.spawn(read_bird);
            let frr = read_frr();
            let bird = bird.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let commands = commands.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (asked.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), (frr, bird), commands)
        })
    } else {
        // Nothing to read from FRR (loop mode remembers it), no command to run: no thread to start for an idle pass.
        (ask_health(), (read_frr(), read_bird()), run_exec())
    };
    let answers = health.with_pushed(answers);
    let exposed = if intent.asks_health() { crate::config::exposed_keys(config) } else { Vec::new() };
    let mut warnings: Vec<Warning> =
        exposed.into_iter().map(|key_file| Warning::KeyFileReadable { key_file }).collect();
    warnings.extend(record_warning);
    if let AddedAddresses::Unusable(why) = &added {
        warnings.push(Warning::AddressRecordUnusable { why: why.clone() });
    }
    if intent.asks_health() && matches!(health, HealthInput::File(_)) {
        // An offline plan runs no command: say which could not run here (on a CI machine, most of them).
        warnings.extend(exec::program_warnings(config));
    }
    Gathered {
        answers,
        exec,
        exec_ran,
        now,
        frr,
        bird,
        maintenance,
        recalled,
        warnings,
        record,
        departed,
        pushed_services: health.pushed_services(),
        host,
        added,
    }
}

/// The prefixes of `record` that `config` no longer names, each with whether its daemon may be reached (see
/// [`Departed::allowed`]); and, for a record that cannot be trusted, what it lists instead, as a warning: nothing is
/// done on it.
fn departed(config: &Config, record: &Record) -> (Vec<Departed>, Option<Warning>) {
    let departed = record.departed(config);
    if let Record::Damaged(why) = record {
        return (Vec::new(), Some(Warning::RecordDamaged { why: why.clone() }));
    }
    if let Record::Untrusted { why, .. } = record {
        let listed: BTreeSet<String> =
            departed.iter().map(|entry| format!("{} ({})", entry.prefix, entry.vrf.described())).collect();
        let warning = (!listed.is_empty())
            .then(|| Warning::RecordUntrusted { why: why.clone(), listed: listed.into_iter().collect() });
        return (Vec::new(), warning);
    }
    let allowed: BTreeSet<&Path> = vtysh_paths(config).into_iter().chain([Path::new(DEFAULT_VTYSH)]).collect();
    let departed = departed
        .into_iter()
        .map(|entry| Departed { allowed: entry.vtysh.as_deref().is_none_or(|vtysh| allowed.contains(vtysh)), entry })
        .collect();
    (departed, None)
}

/// The distinct vtysh paths of the config.
fn vtysh_paths(config: &Config) -> BTreeSet<&Path> {
    // As bytes: comparing `Path`s component by component, 10,000 times, was a twentieth of a pass.
    let distinct: BTreeSet<&std::ffi::OsStr> =
        config.prefixes().filter_map(|(_, prefix)| prefix.vtysh()).map(Path::as_os_str).collect();
    distinct.into_iter().map(Path::new).collect()
}

/// The running config of every distinct vtysh path of the config and of `extra` (the departed prefixes'):
/// `remembered` where it is, else read, in parallel.
fn read_all(
    config: &Config,
    extra: &BTreeSet<PathBuf>,
    timeout: Duration,
    remembered: &BTreeMap<PathBuf, RunningConfig>,
) -> FrrStates {
    let paths: BTreeSet<&Path> = vtysh_paths(config).into_iter().chain(extra.iter().map(PathBuf::as_path)).collect();
    let (known, unknown): (BTreeSet<&Path>, BTreeSet<&Path>) =
        paths.into_iter().partition(|path| remembered.contains_key(*path));
    let mut states: FrrStates =
        known.into_iter().map(|path| (path.to_path_buf(), Ok(remembered[path].clone()))).collect();
    std::thread::scope(|scope| {
        let reads: Vec<_> = unknown
            .into_iter()
            .map(|path| (path, scope.spawn(move || Vtysh::new(path, timeout).read_running_config())))
            .collect();
        states.extend(reads.into_iter().map(|(path, read)| {
            (path.to_path_buf(), read.join().unwrap_or_else(|_| Err("reading FRR failed unexpectedly".into())))
        }));
    });
    states
}

/// Warns about every prefix that FRR will have but not advertise: `bgp network import-check` is on and its RIB has
/// no route for the prefix (or its VRF has no kernel device). Costs one vtysh call per FRR and VRF, so only `plan`
/// asks of every prefix; a changing pass asks of what it announced in a VRF ([`warn_unrouted_in_vrfs`]).
pub fn warn_unrouted(plan: &mut Plan, vtysh_timeout: Duration) {
    // A prefix whose address the plan adds (its `interface`) has no route yet, and will: nothing to warn of.
    let adding: BTreeSet<(String, std::net::IpAddr)> = plan
        .addresses
        .iter()
        .filter(|one| one.action == crate::plan::AddressAction::Add)
        .map(|one| (one.interface.clone(), one.address))
        .collect();
    let added = move |prefix: &PrefixPlan| {
        let host = prefix.managed.host.as_ref();
        host.is_some_and(|host| host.addresses.iter().any(|a| adding.contains(&(host.interface.clone(), *a))))
    };
    warn_unrouted_of(plan, vtysh_timeout, |prefix| prefix.will_be_announced() && !added(prefix));
}

/// After a changing pass: warns about the prefixes it just announced in a VRF other than the default one whose VRF
/// has no kernel device (`% VRF 123 not found`), which FRR accepts the `network` lines of without a word. One route
/// lookup per FRR and VRF (its first announced prefix) tells: looking each prefix up cost 0.4 s for 5,000 of them.
/// Which prefixes lack a route is `plan`'s to say. Only a pass that announced in a VRF pays the vtysh call.
pub fn warn_unrouted_in_vrfs(plan: &mut Plan, vtysh_timeout: Duration) {
    let announced = |prefix: &PrefixPlan| {
        prefix.action == Action::Announce && prefix.outcome == Outcome::Done && prefix.managed.vrf != Vrf::Default
    };
    let mut samples: BTreeMap<(PathBuf, Vrf), Prefix> = BTreeMap::new();
    for prefix in plan.prefixes().filter(|prefix| announced(prefix)) {
        let Some(vtysh) = prefix.managed.vtysh() else { continue };
        samples.entry((vtysh.to_path_buf(), prefix.managed.vrf.clone())).or_insert(prefix.managed.prefix);
    }
    let missing: BTreeMap<(PathBuf, Vrf), String> = samples
        .into_iter()
        .filter_map(|((path, vrf), prefix)| {
            let lookup = routes_present(&Vtysh::new(&path, vtysh_timeout), &BTreeSet::from([(vrf.clone(), prefix)]));
            let reason = lookup.get(&vrf)?.as_ref().err()?.clone();
            Some(((path, vrf), reason))
        })
        .collect();
    let checked = plan.services.iter_mut().flat_map(|service| service.prefixes.iter_mut());
    for prefix in checked.filter(|prefix| announced(prefix)) {
        let Some(vtysh) = prefix.managed.vtysh() else { continue };
        let key = (vtysh.to_path_buf(), prefix.managed.vrf.clone());
        if let Some(reason) = missing.get(&key) {
            prefix.warnings.push(Warning::RibUnreadable { vrf: prefix.managed.vrf.clone(), reason: reason.clone() });
        }
    }
}

/// Looks up in FRR's RIB each prefix with `import-check` on that `chosen` picks, and warns about those without a
/// route.
fn warn_unrouted_of(plan: &mut Plan, vtysh_timeout: Duration, chosen: impl Fn(&PrefixPlan) -> bool) {
    let chosen = |prefix: &PrefixPlan| prefix.import_check && chosen(prefix);
    let mut wanted: BTreeMap<PathBuf, BTreeSet<(Vrf, Prefix)>> = BTreeMap::new();
    for prefix in plan.prefixes().filter(|prefix| chosen(prefix)) {
        let Some(vtysh) = prefix.managed.vtysh() else { continue };
        wanted.entry(vtysh.to_path_buf()).or_default().insert((prefix.managed.vrf.clone(), prefix.managed.prefix));
    }
    if wanted.is_empty() {
        return;
    }
    let lookups: BTreeMap<PathBuf, RouteLookup> = wanted
        .into_iter()
        .map(|(path, prefixes)| {
            let lookup = routes_present(&Vtysh::new(&path, vtysh_timeout), &prefixes);
            (path, lookup)
        })
        .collect();
    let checked = plan.services.iter_mut().flat_map(|service| service.prefixes.iter_mut());
    for prefix in checked.filter(|prefix| chosen(prefix)) {
        let managed = &prefix.managed;
        let lookup = managed.vtysh().and_then(|vtysh| lookups.get(vtysh)).and_then(|lookup| lookup.get(&managed.vrf));
        let Some(lookup) = lookup else { continue };
        let warning = match lookup {
            Ok(routed) if routed.contains(&managed.prefix) => None,
            Ok(_) => Some(Warning::NotInRib { prefix: managed.prefix, vrf: managed.vrf.clone() }),
            Err(reason) => Some(Warning::RibUnreadable { vrf: managed.vrf.clone(), reason: reason.clone() }),
        };
        prefix.warnings.extend(warning);
    }
}
