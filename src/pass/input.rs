//! What a pass is given to work from, each kind a value of its own, chosen once by whoever starts the pass: where the
//! health of the checks comes from ([`HealthInput`]), and, for `plan`, where FRR's running configs come from
//! ([`FrrInput`]). The gather stage reads them, and asks the outside world only for what they leave to it; nothing
//! after the caller changes them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::frr::RunningConfig;
use crate::health::cabourotte::{Answers, CheckResult, ResultList};

/// Where a pass takes the health of the checks from.
#[derive(Clone, Debug)]
pub enum HealthInput {
    /// Ask every Cabourotte now (`apply`, `plan`, `withdraw-all`, the last pass of `run`).
    Live,
    /// One result list for every Cabourotte, read from a file or assumed (`plan --health`, `--assume`): its age is not
    /// judged, since nothing says when it was true.
    File(ResultList),
    /// Loop mode's poll: ask every Cabourotte now, then swap in each of the `pushed` failures that is newer than what
    /// was answered (the loop keeps them until a poll catches up with them).
    Polled {
        /// Failures pushed by Cabourotte's exporter, by check name.
        pushed: BTreeMap<String, CheckResult>,
    },
    /// A pass made by a push: Cabourotte is not asked; the last poll's answers stand, with each `pushed` result
    /// swapped in where it is newer. Only `services` may change, and only toward withdrawn (see
    /// [`crate::plan::Inputs::pushed_services`]).
    Pushed {
        /// What Cabourotte answered at the last poll, as loop mode remembers it.
        remembered: Answers,
        /// Failures pushed by Cabourotte's exporter, by check name.
        pushed: BTreeMap<String, CheckResult>,
        /// The services the push is about.
        services: BTreeSet<String>,
    },
}

impl HealthInput {
    /// Whether the answers come from asking Cabourotte now: the ones loop mode remembers for a pass made by a push.
    pub fn asks_cabourotte(&self) -> bool {
        matches!(self, HealthInput::Live | HealthInput::Polled { .. })
    }

    /// The services a pass made by a push concerns; `None` for every other pass.
    pub fn pushed_services(&self) -> Option<BTreeSet<String>> {
        match self {
            HealthInput::Pushed { services, .. } => Some(services.clone()),
            _ => None,
        }
    }

    /// `answers` with every pushed result swapped in where it is newer than the one there (see
    /// [`ResultList::with_newer`]).
    pub fn with_pushed(&self, mut answers: Answers) -> Answers {
        let (HealthInput::Polled { pushed } | HealthInput::Pushed { pushed, .. }) = self else { return answers };
        if pushed.is_empty() {
            return answers;
        }
        for list in answers.values_mut().flatten() {
            let mut updated = std::mem::take(list);
            for (name, result) in pushed {
                updated = updated.with_newer(name, result);
            }
            *list = updated;
        }
        answers
    }
}

/// Where a pass takes FRR's running configs from. A changing pass always asks FRR, except for what loop mode's memory
/// still trusts; only `plan` may be given a file instead.
#[derive(Clone, Debug)]
pub enum FrrInput {
    /// Read every FRR with vtysh now.
    Live,
    /// One running config for every vtysh of the configuration, from a file (`plan --running-config`): no FRR is
    /// asked, and the record of managed prefixes is not read (the file says nothing of the FRRs only it names).
    File(RunningConfig),
    /// Loop mode: these running configs, per vtysh path, are FRR's state now (see
    /// [`crate::daemon::memory::Memory::trusted`]); every other FRR is read.
    Remembered(BTreeMap<PathBuf, RunningConfig>),
}

/// Where a pass takes what each BIRD has from.
#[derive(Clone, Debug)]
pub enum BirdInput {
    /// Ask every BIRD now (every pass but an offline plan).
    Live,
    /// What `birdc show route table all where proto ~ "anycastd_*" all` printed, for every BIRD (`plan --bird-routes`).
    File(crate::bird::BirdRoutes),
    /// Not asked, nor given: a plan from files without `--bird-routes` (BIRD's prefixes are errors then).
    NotGiven,
}
