//! What a plan is computed from, besides the configuration, and what the run is for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::bird::BirdState;
use crate::frr::RunningConfig;
use crate::health::cabourotte::Answers;
use crate::health::exec::ExecResults;
use crate::state::addresses::AddedAddresses;
use crate::state::maintenance::Maintenance;
use crate::state::managed::Entry;
use crate::state::streaks::Streaks;

/// What each vtysh path's FRR has, or why it could not be read.
pub type FrrStates = BTreeMap<PathBuf, Result<RunningConfig, String>>;

/// What each BIRD (by control socket) has of anycastd's prefixes, or why it could not be read: each prefix a protocol
/// of anycastd's file gives BIRD, in which table, and whether it carries the drain mark (`anycastd_draining`); and the
/// tables BIRD defines, when asked.
pub type BirdStates = BTreeMap<PathBuf, Result<BirdState, String>>;

/// Everything a plan is computed from, besides the configuration.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// What each Cabourotte answered.
    pub answers: Answers,
    /// What each command check said (`checks.exec`), by service and check name.
    pub exec: ExecResults,
    /// What each FRR has.
    pub frr: FrrStates,
    /// What each BIRD has.
    pub bird: BirdStates,
    /// The maintenance marker, when set.
    pub maintenance: Option<Maintenance>,
    /// The streaks of past passes.
    pub streaks: Streaks,
    /// The time of the pass (Unix seconds), to judge results' age; `None` does not judge it (offline plans).
    pub now: Option<i64>,
    /// Why this pass may withdraw but not announce, if it may not: it could not take the run lock, or cannot save
    /// the rise/fall counts, or cannot tell whether anycastd is in maintenance. A local problem never stops a
    /// withdrawal, and nothing but a passing check, in a pass that can keep its state, announces.
    pub withdraw_only: Option<String>,
    /// Whether someone else could have written the streaks (they were not used): `fall` cannot hold back a
    /// withdrawal then either.
    pub counts_forgeable: bool,
    /// The services a pass made by a push concerns (`None`: a poll, or no push). Rise and fall count polls only, and
    /// a push can only withdraw what it names: see [`after_push`].
    pub pushed_services: Option<BTreeSet<String>>,
    /// The prefixes anycastd managed that the configuration no longer names (see `state/managed.rs`).
    pub departed: Vec<Departed>,
    /// The host's interfaces and their addresses, when a prefix has an `interface` key or anycastd added addresses.
    pub host: super::HostSeen,
    /// The record of the addresses anycastd added (see `state/addresses.rs`).
    pub added: AddedAddresses,
}

/// A prefix anycastd managed and the configuration no longer names: withdrawn wherever its daemon still has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departed {
    /// What the record says of it.
    pub entry: Entry,
    /// Whether its daemon may be reached. An FRR's vtysh may be run when a configuration names it, or it is FRR's
    /// default: the record must never make anycastd run a program the configuration does not name. A BIRD is
    /// reached through its control socket, which runs nothing, and writes anycastd's own file, in a folder only its
    /// owner may write (`bird/owned_file.rs`): the record, trusted, may name one the configuration no longer does.
    pub allowed: bool,
}

/// What the run is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Announce healthy services, withdraw the others (`plan`, `apply`, `run`).
    Reconcile,
    /// Withdraw every managed prefix, whatever the health (`withdraw-all`, and `run` on exit).
    WithdrawAll,
    /// Drain every announced managed prefix until `until` (Unix seconds), whatever the health (`withdraw-all
    /// --drain`); a prefix without a drain route-map is withdrawn.
    Drain {
        /// The drain's deadline.
        until: u64,
    },
}

impl Intent {
    /// Whether a pass with this intent asks Cabourotte: every pass but a withdrawal of everything. A drain asks too,
    /// so that a service failing during it is withdrawn at once rather than kept drained until the deadline.
    pub fn asks_health(self) -> bool {
        match self {
            Intent::Reconcile | Intent::Drain { .. } => true,
            Intent::WithdrawAll => false,
        }
    }
}
