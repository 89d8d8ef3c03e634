//! FRRouting: what its running config (and its startup config) says, the commands that change it, and the vtysh process that runs them.

mod advertised;
mod batch;
pub(crate) mod preflight;
mod rib;
mod running_config;
mod startup_config;
mod vtysh;

pub(crate) use advertised::{Advertised, Advertisement, Held, Reach, held, read as read_advertised};
pub(crate) use batch::{Change, ChangeKind, render_batch};
pub(crate) use rib::{RouteLookup, routes_present};
pub use running_config::{Asn, RunningConfig};
pub(crate) use startup_config::bgp_networks;
pub(crate) use vtysh::Vtysh;
