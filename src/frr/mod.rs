//! FRRouting: what its running config says, the commands that change it, and the vtysh process that runs them.

mod commands;
mod running_config;
mod vtysh;

pub use commands::{Change, ChangeKind, render_batch};
pub use running_config::{Asn, RunningConfig};
pub use vtysh::Vtysh;
