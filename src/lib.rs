//! anycastd: announce a service's anycast prefixes through FRRouting or BIRD only while Cabourotte says it is healthy.
//!
//! The modules follow one pass (see ARCHITECTURE.md): `config` (the TOML file) → `pass` (hold, gather, compute,
//! apply, record) over `health` (Cabourotte), `frr` (vtysh), `bird` (BIRD's control socket and anycastd's file),
//! `state` (the state directory) and the pure `plan`;
//! `render` prints it and `observe` logs it; `commands` holds one function per command, built on a `context` from
//! the command line; `daemon` is loop mode (`run`): the loop, its memory between passes and its listener. Lower
//! modules never import higher ones. The binary (`main.rs`) only parses, takes the units' identity (`identity`),
//! dispatches and renders a fatal error; the library exists so that the tests can use the crate's own parsers.

pub mod bird;
pub(crate) mod bounded;
pub mod clock;
pub mod commands;
pub mod config;
pub mod context;
pub(crate) mod daemon;
pub mod error;
pub mod escape;
pub(crate) mod finding;
pub mod frr;
pub(crate) mod health;
pub(crate) mod host;
pub mod identity;
pub mod observe;
pub(crate) mod os_error;
pub(crate) mod pass;
pub(crate) mod plan;
pub(crate) mod process;
pub mod render;
pub mod state;

#[cfg(test)]
mod properties;
