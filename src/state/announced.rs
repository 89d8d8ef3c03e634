//! The record of what anycastd announced: every prefix it made FRR announce and has not yet seen withdrawn, with the
//! FRR (its vtysh), VRF and AS it went to and the service it was for.
//!
//! The configuration says what anycastd manages now; only this record remembers what it managed before. A service
//! deleted from the file would otherwise stay announced for ever, with nothing checking it. A prefix of the record
//! that FRR still has and the configuration no longer names (under any vtysh: moving a prefix to another vtysh path
//! of the same FRR must not make it flap) is withdrawn; once FRR no longer has it, it leaves the record.
//!
//! The file is JSON lines: a header, then one entry per line. An announcement appends its entry (and is not made if
//! that fails), so a crash never leaves an announcement nobody owns; a pass that read the record in full writes it
//! anew, without what FRR no longer has. Reading it all at every pass would cost as much as the rest of an idle pass
//! at 10,000 prefixes, so the header says for which set of configured prefixes it was last written and how many of
//! its entries that set lacks: while the configuration names the same prefixes and none is departed, only the
//! header is read.
//!
//!     {"anycastd_announced":1,"named":"8f3c…","departed":0,"size":162}
//!     {"prefix":"203.0.113.53/32","vrf":"default","asn":"65536","vtysh":"/usr/bin/vtysh","service":"dns"}

use std::collections::BTreeSet;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::StateDir;
use crate::config::{Config, Prefix, Vrf};

/// The record's name inside the state directory.
pub const RECORD_FILE: &str = "announced.json";

/// The largest record read: an entry is about 100 bytes, so room for half a million.
const RECORD_LIMIT: u64 = 64 << 20;

/// The largest header read.
const HEADER_LIMIT: u64 = 4096;

/// How much the record may grow by appended entries (announcements) beyond twice its size at its last rewrite
/// before a pass reads it in full and writes it anew: a flapping service appends an entry at every announcement.
const GROWTH_ALLOWED: u64 = 64 << 10;

/// One prefix anycastd announced.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    /// The network.
    pub prefix: Prefix,
    /// The VRF of its BGP instance.
    pub vrf: Vrf,
    /// The AS of that instance when it was announced: a network under another AS is not this one.
    pub asn: String,
    /// The vtysh it was announced through.
    pub vtysh: PathBuf,
    /// The service it was announced for.
    pub service: String,
}

impl Entry {
    /// The prefix and VRF: what the configuration names, whatever the vtysh.
    pub fn named_as(&self) -> (Prefix, Vrf) {
        (self.prefix, self.vrf.clone())
    }
}

/// The record's first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    /// The format (1).
    anycastd_announced: u32,
    /// [`named_digest`] of the configuration it was last written for.
    named: String,
    /// How many of its entries that configuration does not name.
    departed: usize,
    /// Its size in bytes when it was last written whole.
    size: u64,
}

/// What the record says, as far as this pass needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// There is none yet (a new installation, or an anycastd older than the record).
    Missing,
    /// It was last written for the prefixes the configuration names now, and none of its entries is departed: its
    /// entries were not read, as no pass needs them.
    Settled,
    /// Its entries, read in full and trusted, and whether it must be written anew even if they stay the same (its
    /// header is for another configuration, or appended entries made it grow).
    Read(Vec<Entry>, bool),
    /// It cannot be trusted or read: why, and the entries it lists as far as they could be read. Nothing is done
    /// on them.
    Untrusted {
        /// Why it is not trusted.
        why: String,
        /// What it lists.
        listed: Vec<Entry>,
    },
}

impl Record {
    /// The entries whose prefix and VRF `config` does not name: announced by anycastd, no longer configured.
    pub fn departed(&self, config: &Config) -> Vec<Entry> {
        let entries = match self {
            Record::Read(entries, _) | Record::Untrusted { listed: entries, .. } => entries,
            Record::Missing | Record::Settled => return Vec::new(),
        };
        let named = named_set(config);
        let departed: BTreeSet<&Entry> = entries.iter().filter(|entry| !named.contains(&entry.named_as())).collect();
        departed.into_iter().cloned().collect()
    }
}

/// The prefixes and VRFs `config` names.
fn named_set(config: &Config) -> BTreeSet<(Prefix, Vrf)> {
    config.prefixes().map(|(_, prefix)| (prefix.prefix, prefix.vrf.clone())).collect()
}

/// A digest of the prefixes and VRFs `config` names, in its order: the header's `named`. FNV-1a over their bytes:
/// it runs at every pass over every prefix, where std's SipHash cost 6 M instructions at 10,000 prefixes, and it
/// cannot change between Rust releases. It need not resist forgery: it only says when to read the record whole.
pub fn named_digest(config: &Config) -> String {
    let mut digest = Fnv::new();
    for (_, prefix) in config.prefixes() {
        match prefix.prefix.net() {
            IpNet::V4(net) => digest.write(&net.addr().octets()),
            IpNet::V6(net) => digest.write(&net.addr().octets()),
        }
        digest.write(&[prefix.prefix.net().prefix_len()]);
        digest.write(prefix.vrf.name().unwrap_or_default().as_bytes());
        digest.write(&[0]);
    }
    format!("{:016x}", digest.0)
}

/// The 64-bit FNV-1a hash.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Reads the record for a pass under `config` (see [`Record`]); `None` state directory: [`Record::Missing`].
pub fn read(state_dir: Option<&StateDir>, config: &Config) -> Record {
    let Some(state_dir) = state_dir else { return Record::Missing };
    match state_dir.open_trusted(RECORD_FILE) {
        Ok(None) => Record::Missing,
        Ok(Some((file, metadata))) => read_trusted(state_dir, file, metadata.len(), &named_digest(config)),
        Err(why) => Record::Untrusted { why: why.to_string(), listed: read_untrusted(state_dir) },
    }
}

/// Reads a trusted record: its header only, when it is settled for `named`; every entry otherwise.
fn read_trusted(state_dir: &StateDir, file: std::fs::File, len: u64, named: &str) -> Record {
    let mut reader = BufReader::new(file.take(RECORD_LIMIT + 1));
    let mut first = Vec::new();
    let header = (&mut reader)
        .take(HEADER_LIMIT)
        .read_until(b'\n', &mut first)
        .ok()
        .and_then(|_| serde_json::from_slice::<Header>(&first).ok());
    if let Some(header) = &header
        && header.named == named
        && header.departed == 0
        && len <= header.size.saturating_mul(2).saturating_add(GROWTH_ALLOWED)
    {
        return Record::Settled;
    }
    let stale = header.is_none_or(|header| header.named != named || len > header.size);
    let mut rest = Vec::new();
    match reader.read_to_end(&mut rest) {
        Ok(_) if (first.len() + rest.len()) as u64 <= RECORD_LIMIT => Record::Read(entries(&rest), stale),
        Ok(_) => Record::Untrusted {
            why: format!("{} is larger than {} MiB", state_dir.file(RECORD_FILE).display(), RECORD_LIMIT >> 20),
            listed: Vec::new(),
        },
        Err(error) => Record::Untrusted {
            why: format!("cannot read {}: {error}", state_dir.file(RECORD_FILE).display()),
            listed: Vec::new(),
        },
    }
}

/// The entries of a record that is not trusted, to report them: its header is skipped.
fn read_untrusted(state_dir: &StateDir) -> Vec<Entry> {
    match state_dir.read(RECORD_FILE, RECORD_LIMIT) {
        Ok(Some(text)) => entries(&text),
        _ => Vec::new(),
    }
}

/// The entries of the record's lines, skipping any line that is not one (the header, a line cut by a crash).
fn entries(text: &[u8]) -> Vec<Entry> {
    text.split(|byte| *byte == b'\n').filter_map(|line| serde_json::from_slice::<Entry>(line).ok()).collect()
}

/// Adds `entries` before they are announced: appended to the record, or a new record (settled for `config`) holding
/// them when there is none. The record is flushed to disk before this returns: an announcement whose entry could be
/// lost is not made.
///
/// When the entries would make the record grow past twice its size at its last rewrite (plus [`GROWTH_ALLOWED`]),
/// it is read whole and written anew instead, without repeated entries: so the pass that announces pays for keeping
/// the record small, never one that changes nothing.
pub fn append(state_dir: &StateDir, config: &Config, entries: &[Entry]) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let lines = lines(entries);
    let room = match head(state_dir)? {
        None => return rewrite(state_dir, config, entries),
        Some((len, header)) => header.is_some_and(|header| {
            len.saturating_add(lines.len() as u64) <= header.size.saturating_mul(2).saturating_add(GROWTH_ALLOWED)
        }),
    };
    if room && state_dir.append(RECORD_FILE, lines.as_bytes())? {
        return Ok(());
    }
    let mut all = match state_dir.read(RECORD_FILE, RECORD_LIMIT)? {
        Some(text) => self::entries(&text),
        None => Vec::new(),
    };
    all.extend_from_slice(entries);
    rewrite(state_dir, config, &all)
}

/// The record's size and header (`None` when it cannot be read as one); `None` when there is no record.
fn head(state_dir: &StateDir) -> io::Result<Option<(u64, Option<Header>)>> {
    let Some((file, metadata)) = state_dir.open_existing(RECORD_FILE)? else { return Ok(None) };
    let mut first = Vec::new();
    let header = BufReader::new(file.take(HEADER_LIMIT))
        .read_until(b'\n', &mut first)
        .ok()
        .and_then(|_| serde_json::from_slice::<Header>(&first).ok());
    Ok(Some((metadata.len(), header)))
}

/// Writes the record anew, holding exactly `entries`, settled for `config` when it names all of them.
pub fn rewrite(state_dir: &StateDir, config: &Config, entries: &[Entry]) -> io::Result<()> {
    let unique: BTreeSet<&Entry> = entries.iter().collect();
    let named = named_set(config);
    let departed = unique.iter().filter(|entry| !named.contains(&entry.named_as())).count();
    let body = lines(&unique.into_iter().cloned().collect::<Vec<_>>());
    let header = |size: u64| Header { anycastd_announced: 1, named: named_digest(config), departed, size };
    // The header holds the file's size, header included: its own length is found by trying.
    let mut size = body.len() as u64;
    let text = loop {
        let line = serde_json::to_string(&header(size)).map_err(io::Error::other)?;
        let total = (line.len() + 1 + body.len()) as u64;
        if total == size {
            break format!("{line}\n{body}");
        }
        size = total;
    };
    state_dir.write(RECORD_FILE, text.as_bytes())
}

/// Forgets every entry of `prefix` (in `vrf`, or in every VRF): anycastd will not withdraw it. Returns what it
/// forgot. The record is read whether trusted or not: forgetting only removes.
pub fn forget(state_dir: &StateDir, config: &Config, prefix: Prefix, vrf: Option<&Vrf>) -> io::Result<Vec<Entry>> {
    let all = match state_dir.read(RECORD_FILE, RECORD_LIMIT)? {
        Some(text) => entries(&text),
        None => return Ok(Vec::new()),
    };
    let (forgotten, kept): (Vec<Entry>, Vec<Entry>) =
        all.into_iter().partition(|entry| entry.prefix == prefix && vrf.is_none_or(|vrf| *vrf == entry.vrf));
    if !forgotten.is_empty() {
        rewrite(state_dir, config, &kept)?;
    }
    let unique: BTreeSet<Entry> = forgotten.into_iter().collect();
    Ok(unique.into_iter().collect())
}

/// One JSON line per entry.
fn lines(entries: &[Entry]) -> String {
    entries.iter().filter_map(|entry| serde_json::to_string(entry).ok()).map(|line| line + "\n").collect()
}

/// The path of the record in `state_dir`, for messages.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(RECORD_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(prefixes: &str) -> Config {
        let toml = format!("[services.dns]\nprefixes.frrouting = [{prefixes}]\nchecks.cabourotte = [\"dns\"]\n");
        Config::parse(&toml, "test").expect("valid")
    }

    fn entry(prefix: &str, service: &str) -> Entry {
        Entry {
            prefix: Prefix::parse(prefix).expect("prefix"),
            vrf: Vrf::Default,
            asn: "65536".into(),
            vtysh: "/usr/bin/vtysh".into(),
            service: service.into(),
        }
    }

    fn scratch(name: &str) -> (PathBuf, StateDir) {
        let dir = std::env::temp_dir().join(format!("anycastd-announced-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state_dir = StateDir::create(&dir).expect("state dir");
        (dir, state_dir)
    }

    #[test]
    fn a_record_settled_for_the_configuration_is_not_read_beyond_its_header() {
        let (dir, state_dir) = scratch("settled");
        let both = config("\"203.0.113.53\", \"203.0.113.80\"");
        assert_eq!(read(Some(&state_dir), &both), Record::Missing);
        append(&state_dir, &both, &[entry("203.0.113.53/32", "dns")]).expect("a new record");
        assert_eq!(read(Some(&state_dir), &both), Record::Settled);
        append(&state_dir, &both, &[entry("203.0.113.80/32", "dns")]).expect("appended");
        assert_eq!(read(Some(&state_dir), &both), Record::Settled, "appended entries are named");
        let one = config("\"203.0.113.53\"");
        let read_in_full = read(Some(&state_dir), &one);
        let both_entries = vec![entry("203.0.113.53/32", "dns"), entry("203.0.113.80/32", "dns")];
        assert_eq!(read_in_full, Record::Read(both_entries, true));
        assert_eq!(read_in_full.departed(&one), [entry("203.0.113.80/32", "dns")]);
        rewrite(&state_dir, &one, &[entry("203.0.113.80/32", "dns")]).expect("rewritten");
        assert!(matches!(read(Some(&state_dir), &one), Record::Read(_, false)), "one departed entry: read in full");
        rewrite(&state_dir, &one, &[]).expect("rewritten");
        assert_eq!(read(Some(&state_dir), &one), Record::Settled);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_growth_makes_a_full_read() {
        let (dir, state_dir) = scratch("torn");
        let one = config("\"203.0.113.53\"");
        append(&state_dir, &one, &[entry("203.0.113.53/32", "dns")]).expect("a new record");
        let file = dir.join(RECORD_FILE);
        let mut text = std::fs::read_to_string(&file).expect("read");
        text.push_str("{\"prefix\":\"203.0.11");
        std::fs::write(&file, &text).expect("torn");
        assert_eq!(read(Some(&state_dir), &one), Record::Settled);
        text.push_str(&"\n".repeat(70_000));
        std::fs::write(&file, &text).expect("grown");
        assert_eq!(read(Some(&state_dir), &one), Record::Read(vec![entry("203.0.113.53/32", "dns")], true));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_pass_that_appends_keeps_the_record_small_so_that_an_idle_pass_never_reads_it_whole() {
        let (dir, state_dir) = scratch("compaction");
        let one = config("\"203.0.113.53\"");
        let dns = entry("203.0.113.53/32", "dns");
        for _ in 0..2000 {
            append(&state_dir, &one, std::slice::from_ref(&dns)).expect("appended");
            assert_eq!(read(Some(&state_dir), &one), Record::Settled);
        }
        let size = std::fs::metadata(dir.join(RECORD_FILE)).expect("stat").len();
        assert!(size < 2 * 200 + GROWTH_ALLOWED, "{size} bytes: written anew when it grew");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn forgetting_removes_every_entry_of_the_prefix() {
        let (dir, state_dir) = scratch("forget");
        let one = config("\"203.0.113.53\"");
        let web = entry("203.0.113.80/32", "web");
        rewrite(&state_dir, &one, &[entry("203.0.113.53/32", "dns"), web.clone()]).expect("written");
        let forgotten = forget(&state_dir, &one, web.prefix, None).expect("forgotten");
        assert_eq!(forgotten, [web]);
        assert_eq!(read(Some(&state_dir), &one), Record::Settled);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
