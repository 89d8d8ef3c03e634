//! A cache of the validated configuration, so that a timer firing every few seconds does not parse and validate an
//! unchanged TOML file each time (at 10,000 prefixes that was half the cost of a pass that changes nothing); and the
//! last valid configuration, which stands in while the file is broken.
//!
//! The cache decides what root announces and which hooks it runs, so it is used only when nobody but the running
//! user (or root) can have written it ([`StateDir::read_trusted`]), and only for the exact file it was made from: its
//! path and its content, byte for byte, and anycastd's version (file times are not trusted). Anything else falls back to
//! parsing the TOML: the cache can make a pass faster, never make it use another configuration. It never holds a
//! password (see [`store`]).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StateDir;
use crate::config::{Config, ConfigError};

/// The cache's file name inside the state directory.
const CACHE_FILE: &str = "config-cache.json";

/// The largest cache read: a cache is about two and a half times the size of its TOML file (its JSON, then the
/// text itself).
const CACHE_LIMIT: u64 = 64 << 20;

/// Reads the configuration file at `path`, and takes its validated form from the cache in `state_dir` when the
/// cache matches the file's exact content and can be trusted; otherwise parses and validates it, and with `refresh`
/// stores it there for the next run.
pub(crate) fn load_config(path: &Path, state_dir: &Path, refresh: bool) -> Result<Config, ConfigError> {
    let text = Config::read_file(path)?;
    let source = Source::of(path, &text);
    if let Some(config) = load(state_dir, &source) {
        return Ok(config);
    }
    let config = Config::parse(&text, &path.display().to_string())?;
    if refresh {
        store(state_dir, source, &config);
    }
    Ok(config)
}

/// What the cached configuration was made from: the file and its exact content. The content itself, not a hash of
/// it: no collision, nothing a Rust release can change (std's `DefaultHasher` may), and comparing 1.7 MB (10,000
/// prefixes) costs far less than hashing it (SHA-256 was a sixth of the instructions of a pass that changes nothing).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Source<'a> {
    path: PathBuf,
    text: &'a str,
}

impl Source<'_> {
    /// The source of configuration `text` read from `path`.
    pub(crate) fn of<'a>(path: &Path, text: &'a str) -> Source<'a> {
        let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Source { path, text }
    }
}

/// The cache file: this JSON on its first line, then the TOML text it was made from, byte for byte. A cache of an
/// older anycastd (JSON alone, keyed by a hash) has no second part: it is no cache, and the next store replaces it.
#[derive(Serialize, Deserialize)]
struct Cached {
    anycastd: String,
    path: PathBuf,
    config: Config,
}

/// The cache's JSON part and the text after it; `None` when the file is not a cache of this version of anycastd.
fn read_cache(state_dir: &Path) -> Option<(Cached, Vec<u8>)> {
    let mut bytes = StateDir::open(state_dir).ok()??.read_trusted(CACHE_FILE, CACHE_LIMIT).ok()??;
    let newline = bytes.iter().position(|byte| *byte == b'\n')?;
    let cached: Cached = serde_json::from_slice(&bytes[..newline]).ok()?;
    let text = bytes.split_off(newline + 1);
    (cached.anycastd == env!("CARGO_PKG_VERSION")).then_some((cached, text))
}

/// The cached configuration, if it was made from exactly this file by this version of anycastd.
pub(crate) fn load(state_dir: &Path, source: &Source<'_>) -> Option<Config> {
    let (cached, text) = read_cache(state_dir)?;
    (cached.path == source.path && text == source.text.as_bytes()).then_some(cached.config)
}

/// The configuration last cached, whatever file it was made from: the last valid configuration a changing command
/// used, which stands in while the file is broken (see `commands::load_config_or_last_valid`). Only a cache nobody
/// else can have written, made by this version of anycastd; none when the configuration held a password (such a
/// configuration is never cached).
pub(crate) fn last_valid(state_dir: &Path) -> Option<Config> {
    read_cache(state_dir).map(|(cached, _)| cached.config)
}

/// Stores `config`, made from `source`; failing to store it only costs speed next time.
///
/// A configuration with a password in a check's URL is not cached: the cache would hold the password in plain
/// text. A cache left by an older anycastd, which did hold it, is removed instead.
pub(crate) fn store(state_dir: &Path, source: Source<'_>, config: &Config) {
    let Ok(state_dir) = StateDir::create(state_dir) else { return };
    if config.checks().any(|(_, check)| check.url.credentials().is_some()) {
        let _ = state_dir.remove(CACHE_FILE);
        return;
    }
    let cached = Cached { anycastd: env!("CARGO_PKG_VERSION").to_string(), path: source.path, config: config.clone() };
    if let Ok(mut bytes) = serde_json::to_vec(&cached) {
        bytes.push(b'\n');
        bytes.extend_from_slice(source.text.as_bytes());
        let _ = state_dir.write(CACHE_FILE, &bytes);
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_edit_within_the_same_clock_tick_is_seen() {
        let dir = std::env::temp_dir().join(format!("anycastd-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("config.toml");
        let text = "[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [\"dns\"]\n";
        std::fs::write(&path, text).expect("write");
        let first = super::load_config(&path, &dir, true).expect("valid");
        assert!(dir.join("config-cache.json").exists());
        std::fs::write(&path, text.replace(".53", ".54")).expect("same length, written at once");
        let second = super::load_config(&path, &dir, true).expect("valid");
        assert_ne!(first, second);
        assert_eq!(second.services[0].prefixes[0].prefix.to_string(), "203.0.113.54/32");
        assert_eq!(super::load_config(&path, &dir, true).expect("cached"), second, "the cache now holds the edit");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_a_cache_nobody_else_can_have_written_is_used() {
        let dir = std::env::temp_dir().join(format!("anycastd-cache-trust-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("config.toml");
        let text = "[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [\"dns\"]\n";
        std::fs::write(&path, text).expect("write");
        let config = super::load_config(&path, &dir, true).expect("valid");
        let source = super::Source::of(&path, text);
        assert_eq!(super::load(&dir, &source), Some(config), "the running user's own cache is used");
        let cache = dir.join(super::CACHE_FILE);
        std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
        assert_eq!(super::load(&dir, &source), None, "a cache with mode 0644 is not");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cache_keyed_by_an_older_hash_is_no_cache_and_is_replaced() {
        let dir = std::env::temp_dir().join(format!("anycastd-cache-old-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("config.toml");
        let text = "[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [\"dns\"]\n";
        std::fs::write(&path, text).expect("write");
        let config = super::load_config(&path, &dir, false).expect("valid");
        let canonical = std::fs::canonicalize(&path).expect("canonical");
        let old = serde_json::json!({
            "anycastd": env!("CARGO_PKG_VERSION"),
            "source": {"path": canonical, "len": text.len(), "sha256": "00"},
            "config": config,
        });
        let state = crate::state::StateDir::open(&dir).expect("opened").expect("exists");
        state.write(super::CACHE_FILE, old.to_string().as_bytes()).expect("an old cache");
        let source = super::Source::of(&path, text);
        assert_eq!(super::load(&dir, &source), None, "the old key matches nothing");
        assert_eq!(super::last_valid(&dir), None, "nor is it a last valid configuration");
        assert_eq!(super::load_config(&path, &dir, true).expect("parsed, not an error"), config);
        assert_eq!(super::load(&dir, &source), Some(config.clone()), "replaced by a cache with the new key");
        let cache = std::fs::read(dir.join(super::CACHE_FILE)).expect("the cache");
        assert!(cache.ends_with(format!("}}\n{text}").as_bytes()), "the JSON, then the TOML it was made from");
        std::fs::write(&path, text.replace(".53", ".54")).expect("an edit");
        assert_eq!(super::load(&dir, &super::Source::of(&path, &text.replace(".53", ".54"))), None, "another text");
        assert_eq!(super::last_valid(&dir), Some(config), "is still the last valid configuration");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
