//! Whether what FRR's running config announces reaches a BGP peer: after the plan of `plan`, and after a pass that
//! changed something, each prefix learns which neighbors FRR sends it to ([`crate::frr::Advertised`]). One vtysh
//! call per FRR; after changes, FRR sends its updates on its own timers (about 0.2 s here), so a prefix whose update
//! is pending is read again, every [`REREAD_EVERY`], for at most the wait the caller gives: [`PENDING_WAIT`] for a
//! one-shot command, none for `run`, whose next pass reads again instead (a wait there would delay its next
//! withdrawal).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bird::{self, BgpSession, BirdNet};
use crate::config::{AddressFamily, Vrf};
use crate::frr::{Advertised, Advertisement, Held, Reach, Vtysh, read_advertised};
use crate::plan::{Advertising, FrrStates, Outcome, Plan, PrefixPlan, Warning};

/// How long a one-shot pass that changed something waits for FRR to send its updates.
pub const PENDING_WAIT: Duration = Duration::from_secs(1);
/// How often it reads again meanwhile.
const REREAD_EVERY: Duration = Duration::from_millis(250);

/// Tells each prefix of `plan` whether FRR sends it to its neighbors, reading each FRR of `frr` (the running configs
/// name the neighbors). `after_changes`: the plan was just applied, and prefixes it changed may still be pending,
/// read again for at most `wait`. Returns whether an update is still pending.
pub fn annotate(
    plan: &mut Plan,
    frr: &FrrStates,
    vtysh_timeout: Duration,
    after_changes: bool,
    wait: Duration,
) -> bool {
    let started = Instant::now();
    let mut still_pending = false;
    for (path, wanted) in wanted(plan) {
        let Some(Ok(running)) = frr.get(&path) else { continue };
        let vtysh = Vtysh::new(&path, vtysh_timeout);
        loop {
            match read_advertised(&vtysh, running, &wanted) {
                Ok(advertised) => {
                    let pending = tell(plan, &path, &advertised, after_changes);
                    if !pending || started.elapsed() + REREAD_EVERY > wait {
                        still_pending |= pending;
                        break;
                    }
                    std::thread::sleep(REREAD_EVERY);
                }
                Err(reason) => {
                    plan.warnings.push(Warning::AdvertisementUnreadable { vtysh: path.clone(), reason });
                    break;
                }
            }
        }
    }
    still_pending
}

/// Which of `prefixes` some FRR still sends to a neighbor after this pass withdrew them, once FRR had at most `wait`
/// to send the withdrawals: FRR sends its updates on its own timers, after vtysh returned, and a service address
/// taken off the host before the peers heard of the withdrawal leaves them sending traffic to a node without it (17
/// ms of it with FRR 10.3 in the lab). An FRR whose neighbors cannot be read holds nothing back: its running config
/// already shows the withdrawal.
pub fn withdrawals_unsent(
    plan: &Plan,
    prefixes: &BTreeSet<crate::config::Prefix>,
    frr: &FrrStates,
    vtysh_timeout: Duration,
    wait: Duration,
) -> BTreeSet<crate::config::Prefix> {
    let started = Instant::now();
    let mut behind: BTreeMap<PathBuf, BTreeSet<(Vrf, crate::config::Prefix)>> = BTreeMap::new();
    for planned in plan.prefixes().filter(|planned| prefixes.contains(&planned.managed.prefix)) {
        let Some(vtysh) = planned.managed.vtysh() else { continue };
        let entry = behind.entry(vtysh.to_path_buf()).or_default();
        entry.insert((planned.managed.vrf.clone(), planned.managed.prefix));
    }
    let mut unsent = BTreeSet::new();
    for (path, withdrawn) in behind {
        let Some(Ok(running)) = frr.get(&path) else { continue };
        let mut wanted: BTreeMap<Vrf, BTreeSet<AddressFamily>> = BTreeMap::new();
        for (vrf, prefix) in &withdrawn {
            wanted.entry(vrf.clone()).or_default().insert(prefix.family());
        }
        let vtysh = Vtysh::new(&path, vtysh_timeout);
        while let Ok(advertised) = read_advertised(&vtysh, running, &wanted) {
            let sent: Vec<_> =
                withdrawn.iter().filter(|(vrf, prefix)| advertised.awaiting(vrf, prefix, false)).collect();
            if sent.is_empty() || started.elapsed() + REREAD_EVERY > wait {
                unsent.extend(sent.into_iter().map(|(_, prefix)| *prefix));
                break;
            }
            std::thread::sleep(REREAD_EVERY);
        }
    }
    unsent
}

/// The VRFs and families of each vtysh's prefixes.
fn wanted(plan: &Plan) -> BTreeMap<PathBuf, BTreeMap<Vrf, BTreeSet<AddressFamily>>> {
    let mut wanted: BTreeMap<PathBuf, BTreeMap<Vrf, BTreeSet<AddressFamily>>> = BTreeMap::new();
    for prefix in plan.prefixes() {
        let managed = &prefix.managed;
        let Some(vtysh) = managed.vtysh() else { continue };
        let vrfs = wanted.entry(vtysh.to_path_buf()).or_default();
        vrfs.entry(managed.vrf.clone()).or_default().insert(managed.prefix.family());
    }
    wanted
}

/// Gives each prefix of `path` its advertising; `true` when one that was just changed is still pending.
fn tell(plan: &mut Plan, path: &std::path::Path, advertised: &Advertised, after_changes: bool) -> bool {
    let read_at = crate::clock::unix_now().max(0).unsigned_abs();
    let mut pending = false;
    let prefixes = plan.services.iter_mut().flat_map(|service| service.prefixes.iter_mut());
    for prefix in prefixes.filter(|prefix| prefix.managed.vtysh() == Some(path)) {
        let just_changed = after_changes && changed(prefix);
        let announced = if after_changes { prefix.state_after() } else { prefix.current }.is_announced();
        let (vrf, address) = (&prefix.managed.vrf, &prefix.managed.prefix);
        let reach = advertised.of(vrf, address, announced, just_changed);
        pending |= just_changed && advertised.awaiting(vrf, address, announced);
        prefix.advertising = Some(Advertising { reach, read_at });
    }
    pending
}

/// Tells each BIRD prefix of `plan` which BGP protocols of its BIRD export it, asking each BIRD on one connection
/// within `timeout` (`show protocols`, then `show route export` of each established BGP protocol). BIRD evaluates
/// an export filter when asked, but a route reaches the table a session exports from on BIRD's own time: through a
/// `pipe` from a VRF's table, BIRD 3 copies it a moment after anycastd's protocol has it. So, as for FRR,
/// `after_changes`: a prefix just changed whose export does not match yet is read again, every [`REREAD_EVERY`],
/// for at most `wait`. A BIRD that cannot be asked leaves its prefixes without an answer (the plan already says why
/// it could not be read, if it could not). Returns whether an export is still pending.
pub fn annotate_bird(plan: &mut Plan, timeout: Duration, after_changes: bool, wait: Duration) -> bool {
    let started = Instant::now();
    let sockets: BTreeSet<PathBuf> = plan.prefixes().filter_map(|p| Some(p.managed.bird()?.socket.clone())).collect();
    let mut still_pending = false;
    for socket in sockets {
        let Ok(mut connection) = bird::Connection::open(&socket, Instant::now() + timeout + wait) else { continue };
        while let Ok(exports) = bird_exports(&mut connection) {
            let pending = tell_bird(plan, &socket, &exports, after_changes);
            if !pending || started.elapsed() + REREAD_EVERY > wait {
                still_pending |= pending;
                break;
            }
            std::thread::sleep(REREAD_EVERY);
        }
    }
    still_pending
}

/// Gives each prefix of the BIRD at `socket` its advertising; `true` when one that was just changed is exported
/// otherwise than it should be by an established session.
fn tell_bird(plan: &mut Plan, socket: &Path, (sessions, exported): &BirdExports, after_changes: bool) -> bool {
    let read_at = crate::clock::unix_now().max(0).unsigned_abs();
    let any_established = sessions.iter().any(|session| session.established);
    let mut pending = false;
    let prefixes = plan.services.iter_mut().flat_map(|service| service.prefixes.iter_mut());
    for prefix in prefixes.filter(|prefix| prefix.managed.bird().is_some_and(|bird| bird.socket == socket)) {
        let Some(net) = BirdNet::of(&prefix.managed) else { continue };
        let reach = bird_reach(&net, sessions, exported);
        if after_changes && changed(prefix) {
            // Only established sessions are asked what they export: `peers` are those that export it.
            let exported_somewhere = !reach.peers.is_empty();
            pending |= any_established && exported_somewhere != prefix.state_after().is_announced();
        }
        prefix.advertising = Some(Advertising { reach, read_at });
    }
    pending
}

/// BIRD's BGP protocols, and what each established one exports of anycastd's prefixes, by name.
type BirdExports = (Vec<BgpSession>, BTreeMap<String, BTreeSet<BirdNet>>);

/// What the BIRD at the end of `connection` exports to its BGP sessions.
fn bird_exports(connection: &mut bird::Connection) -> Result<BirdExports, bird::BirdError> {
    let sessions = bird::read_bgp_sessions(connection)?;
    let mut exported = BTreeMap::new();
    for session in sessions.iter().filter(|session| session.established) {
        exported.insert(session.name.clone(), bird::read_exported(connection, &session.name)?);
    }
    Ok((sessions, exported))
}

/// Whether `net` reaches a BGP session of its BIRD, and why not when it does not.
fn bird_reach(net: &BirdNet, sessions: &[BgpSession], exported: &BTreeMap<String, BTreeSet<BirdNet>>) -> Reach {
    let sends = |session: &&BgpSession| exported.get(&session.name).is_some_and(|nets| nets.contains(net));
    let peers: Vec<String> = sessions.iter().filter(sends).map(|session| session.name.clone()).collect();
    let status = match peers.is_empty() {
        false => Advertisement::Advertised,
        true => Advertisement::Nowhere(
            sessions
                .iter()
                .map(|session| match session.established {
                    true => Held::BirdFiltered { protocol: session.name.clone() },
                    false => Held::BirdSessionDown { protocol: session.name.clone(), state: session.state.clone() },
                })
                .collect(),
        ),
    };
    Reach { peers, status }
}

/// Whether applying changed the prefix in its routing daemon.
fn changed(prefix: &PrefixPlan) -> bool {
    prefix.outcome == Outcome::Done
}
