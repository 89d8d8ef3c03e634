//! The state directory (`/var/lib/anycastd` under the shipped units): the maintenance marker, the run lock, the
//! rise/fall counts, the record of managed prefixes (and of the addresses anycastd added) and the configuration cache.
//!
//! It belongs to the units' user (`User=anycastd`), and an operator runs `anycastd withdraw-all` as root against the
//! same directory: what one finds there, the other may have written. So trust is decided in one place (`dir.rs`),
//! and every file is opened, replaced and removed through one set of safe operations (`file.rs`).

pub mod addresses;
pub(crate) mod changes;
pub(crate) mod config_cache;
mod dir;
mod file;
pub(crate) mod lock;
pub mod maintenance;
pub(crate) mod managed;
pub(crate) mod streaks;

pub(crate) use dir::StateDir;
pub(crate) use file::{Replacement, read_file, replace_file};

/// A fresh private directory for one test of this module's files.
#[cfg(test)]
fn scratch(name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(format!("anycastd-state-dir-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).expect("scratch dir");
    dir
}

/// A fresh state directory for one test of this module's files, and its path.
#[cfg(test)]
fn scratch_state_dir(name: &str) -> (std::path::PathBuf, StateDir) {
    let dir = scratch(name);
    let state_dir = StateDir::create(&dir).expect("state dir");
    (dir, state_dir)
}
