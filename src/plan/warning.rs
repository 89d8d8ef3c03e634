//! What the operator should know that is not an error, as data: the wording is the renderer's
//! (`render::words::warning`), and each kind has a stable `code` for the JSON output.

use std::path::PathBuf;

use crate::config::{ConfigWarning, Prefix, RouteMap, Vrf};
use crate::state::streaks::CountsProblem;

/// One warning of a plan, or of one of its prefixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// About the configuration as a whole.
    Config(ConfigWarning),
    /// A command check's program is not there, or cannot be run, on this host (`check`, an offline `plan`): a failing
    /// check when it runs, but only a warning here, since a CI machine lacks the nodes' plugins.
    ExecProgram {
        /// The service.
        service: String,
        /// The check.
        check: String,
        /// What is wrong with its program.
        problem: String,
    },
    /// A check's TLS `key_file` is readable by every user of the host (`config::exposed_keys`).
    KeyFileReadable {
        /// The file.
        key_file: PathBuf,
    },
    /// The prefix's `route_map` is not in FRR: it is not announced without it.
    MissingRouteMap {
        /// The prefix.
        prefix: Prefix,
        /// Its `route_map`.
        route_map: RouteMap,
    },
    /// The prefix's `drain_route_map` is not in FRR: draining it withdraws it instead.
    MissingDrainRouteMap {
        /// The prefix.
        prefix: Prefix,
        /// Its `drain_route_map`.
        route_map: RouteMap,
    },
    /// FRR has the network but no route for it in the VRF's RIB, with `bgp network import-check` on: it does not
    /// advertise it.
    NotInRib {
        /// The prefix.
        prefix: Prefix,
        /// Its VRF.
        vrf: Vrf,
    },
    /// The RIB of a VRF could not be read to tell whether FRR advertises its prefixes.
    RibUnreadable {
        /// The VRF.
        vrf: Vrf,
        /// Why.
        reason: String,
    },
    /// What FRR sends to its BGP neighbors could not be read through this vtysh.
    AdvertisementUnreadable {
        /// The vtysh.
        vtysh: PathBuf,
        /// Why.
        reason: String,
    },
    /// vtysh reported an error, yet FRR has every planned change of its batch.
    VtyshErrorButApplied {
        /// What vtysh reported.
        error: String,
    },
    /// BIRD would not load its configuration (the operator's bird.conf, or a file it includes, does not parse): what
    /// was to be withdrawn was withdrawn by disabling its protocol; nothing can be announced until it loads.
    BirdRefusedConfiguration {
        /// BIRD's control socket.
        socket: PathBuf,
        /// Why, in BIRD's words.
        message: String,
    },
    /// The maintenance marker appeared while the pass applied an announcement; the pass followed it.
    MarkerAppeared,
    /// The rise/fall counts were not used (damaged, or not trusted): counting from zero.
    CountsReset(CountsProblem),
    /// The record of managed prefixes is damaged: what it knew of departed prefixes is lost.
    RecordDamaged {
        /// Why it is damaged.
        why: String,
    },
    /// The record of managed prefixes is not trusted: the departed prefixes it lists are left as they are.
    RecordUntrusted {
        /// Why it is not trusted.
        why: String,
        /// The departed prefixes it lists, each with its VRF described.
        listed: Vec<String>,
    },
    /// The record of managed prefixes could not be written anew after departed prefixes were withdrawn.
    RecordNotUpdated {
        /// Why.
        error: String,
    },
    /// The record of the addresses anycastd added is damaged or not trusted: no address it lists is removed, and
    /// none is added until it can be written.
    AddressRecordUnusable {
        /// Why.
        why: String,
    },
    /// The record of the addresses anycastd added could not be written anew after applying.
    AddressRecordNotUpdated {
        /// Why.
        why: String,
    },
    /// A service address goes on `lo` while this FRR's BGP instance has no `bgp router-id`: bgpd picks the highest
    /// loopback address as its router-ID, so adding or removing the address can change the router-ID and reset
    /// every session of the instance.
    NoRouterId {
        /// The vtysh of that FRR.
        vtysh: PathBuf,
        /// The VRF of the instance.
        vrf: crate::config::Vrf,
    },
}

impl Warning {
    /// Its stable code in the JSON output (`warning_codes`): kebab-case, never reworded.
    pub fn code(&self) -> &'static str {
        match self {
            Warning::Config(warning) => warning.code(),
            Warning::KeyFileReadable { .. } => "key-file-readable",
            Warning::ExecProgram { .. } => "exec-program-unusable",
            Warning::MissingRouteMap { .. } => "missing-route-map",
            Warning::MissingDrainRouteMap { .. } => "missing-drain-route-map",
            Warning::NotInRib { .. } => "not-in-rib",
            Warning::RibUnreadable { .. } => "rib-unreadable",
            Warning::AdvertisementUnreadable { .. } => "advertisement-unreadable",
            Warning::VtyshErrorButApplied { .. } => "vtysh-error-but-applied",
            Warning::BirdRefusedConfiguration { .. } => "bird-refused-configuration",
            Warning::MarkerAppeared => "marker-appeared-while-applying",
            Warning::CountsReset(_) => "counts-reset",
            Warning::RecordDamaged { .. } => "record-damaged",
            Warning::RecordUntrusted { .. } => "record-untrusted",
            Warning::RecordNotUpdated { .. } => "record-not-updated",
            Warning::AddressRecordUnusable { .. } => "address-record-unusable",
            Warning::AddressRecordNotUpdated { .. } => "address-record-not-updated",
            Warning::NoRouterId { .. } => "no-router-id",
        }
    }
}
