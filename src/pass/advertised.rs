//! Whether what FRR's running config announces reaches a BGP peer: after the plan of `plan`, and after a pass that
//! changed something, each prefix learns which neighbors FRR sends it to ([`crate::frr::Advertised`]). One vtysh
//! call per FRR; after changes, FRR sends its updates on its own timers (about 0.2 s here), so a prefix whose update
//! is pending is read again, every [`REREAD_EVERY`], for at most the wait the caller gives: [`PENDING_WAIT`] for a
//! one-shot command, none for `run`, whose next pass reads again instead (a wait there would delay its next
//! withdrawal).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::{AddressFamily, Vrf};
use crate::frr::{Advertised, Vtysh, read_advertised};
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

/// Whether applying changed the prefix in FRR.
fn changed(prefix: &PrefixPlan) -> bool {
    prefix.outcome == Outcome::Done
}
