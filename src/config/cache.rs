//! A cache of the validated configuration, so that a timer firing every few seconds does not parse and validate an
//! unchanged TOML file every time (at 10,000 prefixes that was half the cost of a pass that changes nothing).
//!
//! The cache is keyed on the file's identity and change times (path, device, inode, size, modification and status
//! change times to the nanosecond) and on anycastd's version. Anything that does not match exactly, or cannot be
//! read, falls back to reading the TOML file: the cache can make a pass faster, never make it use another
//! configuration. Prefixes and VRF names are validated again when read back.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Config;

/// The cache's file name inside the state directory.
const CACHE_FILE: &str = "config-cache.json";

/// What the cached configuration was read from.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    path: PathBuf,
    device: u64,
    inode: u64,
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileStamp {
    /// The stamp of the file at `path` now; taken before reading it, so a change while reading shows next time.
    pub fn of(path: &Path) -> Option<FileStamp> {
        let meta = fs::metadata(path).ok()?;
        Some(FileStamp {
            path: fs::canonicalize(path).ok()?,
            device: meta.dev(),
            inode: meta.ino(),
            len: meta.len(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Cached {
    anycastd: String,
    source: FileStamp,
    config: Config,
}

/// The cached configuration, if it was made from exactly this file by this version of anycastd.
pub fn load(state_dir: &Path, stamp: &FileStamp) -> Option<Config> {
    let text = fs::read(state_dir.join(CACHE_FILE)).ok()?;
    let cached: Cached = serde_json::from_slice(&text).ok()?;
    (cached.anycastd == env!("CARGO_PKG_VERSION") && &cached.source == stamp).then_some(cached.config)
}

/// Stores `config`, read from the file of `stamp`; failing to store it only costs speed next time.
pub fn store(state_dir: &Path, stamp: FileStamp, config: &Config) {
    let cached = Cached { anycastd: env!("CARGO_PKG_VERSION").to_string(), source: stamp, config: config.clone() };
    if let Ok(json) = serde_json::to_vec(&cached) {
        let _ = fs::create_dir_all(state_dir).and_then(|()| crate::atomic::write(&state_dir.join(CACHE_FILE), &json));
    }
}
