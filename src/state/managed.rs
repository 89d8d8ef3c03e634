//! The record of what anycastd manages in FRR and BIRD: every prefix the configuration named at the last changing
//! pass, and every prefix it named before that its daemon may still have, each with its daemon (FRR's vtysh, or
//! BIRD's control socket and anycastd's file there), VRF, AS and service.
//!
//! The configuration says what anycastd manages now; only this record remembers what it managed before. A service
//! deleted from the file would otherwise stay announced for ever, with nothing checking it. A prefix of the record
//! that its daemon still has and the configuration no longer names (see [`Named`]) is departed, and withdrawn; once
//! its daemon no longer has it, it leaves the record. For BIRD, this is what reaches a BIRD the configuration no
//! longer names at all: the record's socket and file are used, as no configured prefix gives them any more.
//!
//! Why every configured prefix, and not only those announced: while the configuration names a prefix, anycastd is
//! what puts it in FRR or takes it out (a `network` for it added by hand is withdrawn as soon as its service is
//! unhealthy), so a prefix the configuration named is one anycastd announced, or would have. Recording them all when
//! the configuration changes, before anything is announced under it, means an announcement never waits for a write,
//! and a crash or a full disk never leaves an announcement nobody owns: a pass that cannot write the record of a new
//! configuration announces nothing.
//!
//! The file is JSON lines: a header, then one entry per line. The header says for which configured prefixes (a digest
//! of their prefix, VRF and vtysh) it was written and how many of its entries that configuration lacks: while the
//! configuration names the same prefixes and none is departed, a pass reads only the header, so an idle pass at
//! 10,000 prefixes pays nothing for the record.
//!
//! ```text
//! {"anycastd_record":1,"named":"8f3c2a0b9d3e4f61","departed":0}
//! {"prefix":"203.0.113.53/32","vrf":"default","asn":"65536","vtysh":"/usr/bin/vtysh","service":"dns"}
//! {"prefix":"203.0.113.54/32","vrf":"default","bird":{"socket":"/run/bird/bird.ctl","file":"/run/anycastd-bird/anycastd.conf"},"service":"web"}
//! ```

use std::collections::BTreeSet;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::StateDir;
use crate::config::{BirdDaemon, Config, Daemon, FrrDaemon, ManagedPrefix, Prefix, Vrf};

/// The record's name inside the state directory.
pub(crate) const RECORD_FILE: &str = "managed.json";

/// The largest record read: an entry is about 100 bytes, so room for half a million.
const RECORD_LIMIT: u64 = 64 << 20;

/// The largest header read.
const HEADER_LIMIT: u64 = 4096;

/// One prefix anycastd manages, or managed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The network.
    pub prefix: Prefix,
    /// The VRF of its BGP instance.
    pub vrf: Vrf,
    /// The AS of that instance when it was recorded, if FRR had one (for the operator: a prefix is withdrawn by its
    /// prefix and VRF, whatever AS its instance has by then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<String>,
    /// The vtysh of its FRR; `None` for a prefix of BIRD's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vtysh: Option<PathBuf>,
    /// The BIRD that announced it (its control socket and anycastd's file there); `None` for a prefix of FRR's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bird: Option<BirdDaemon>,
    /// The service it was for.
    pub service: String,
}

impl Entry {
    /// What the configuration names it by (see [`Named`]).
    pub(crate) fn named_as(&self) -> Option<Named> {
        match (&self.vtysh, &self.bird) {
            (Some(_), None) => Some(Named::Frr(self.prefix, self.vrf.clone())),
            (None, Some(bird)) => Some(Named::Bird(self.prefix, bird.socket.clone(), bird.table.clone())),
            _ => None,
        }
    }

    /// Its routing daemon, as a configured prefix's would be (`None` for an entry that names none, or both).
    pub(crate) fn daemon(&self) -> Option<Daemon> {
        match (&self.vtysh, &self.bird) {
            (Some(vtysh), None) => Some(Daemon::Frr(FrrDaemon { vtysh: vtysh.clone(), bgpd_pid_file: None })),
            (None, Some(bird)) => Some(Daemon::Bird(BirdDaemon { drain: false, ..bird.clone() })),
            _ => None,
        }
    }
}

/// What makes a prefix the same prefix to the record, whatever else of it changes. An FRR prefix is its prefix and
/// VRF, under any vtysh: moving a prefix to another vtysh path of the same FRR must not make it flap. A BIRD prefix
/// is its prefix in one table of one BIRD (its control socket): one BIRD never withdraws another's. A prefix that moves from FRR
/// to BIRD, or the other way, leaves the daemon it was in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Named {
    /// An FRR prefix: its prefix and VRF.
    Frr(Prefix, Vrf),
    /// A BIRD prefix: its prefix, BIRD's control socket and its table (`None`: the master table).
    Bird(Prefix, PathBuf, Option<String>),
}

impl Named {
    /// What `prefix` of the configuration is named by.
    fn of(prefix: &ManagedPrefix) -> Named {
        match &prefix.daemon {
            Daemon::Frr(_) => Named::Frr(prefix.prefix, prefix.vrf.clone()),
            Daemon::Bird(bird) => Named::Bird(prefix.prefix, bird.socket.clone(), bird.table.clone()),
        }
    }
}

/// The record's first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    /// The format (1).
    anycastd_record: u32,
    /// [`named_digest`] of the configuration it was written for.
    named: String,
    /// How many of its entries that configuration does not name.
    departed: usize,
}

/// What the record says, as far as this pass needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// There is none yet (a new installation, or an anycastd older than the record).
    Missing,
    /// It was written for the prefixes the configuration names now, and none of its entries is departed: its
    /// entries were not read, as no pass needs them.
    Settled,
    /// Its entries, read in full and trusted: written for another configuration, or some of them departed.
    Read(Vec<Entry>),
    /// It is damaged (in this user's own state directory, but unreadable, not a regular file, or with a mode or a
    /// link that would make it untrusted): why. It is written anew, and what it knew of departed prefixes is lost.
    Damaged(String),
    /// It belongs to another user (root in the units' state directory): why, and the entries it lists as far as
    /// they could be read. Nothing is done on them; its owner's passes keep it.
    Untrusted {
        /// Why it is not trusted.
        why: String,
        /// What it lists.
        listed: Vec<Entry>,
    },
}

impl Record {
    /// The entries whose prefix and VRF `config` does not name: managed by anycastd once, no longer configured.
    pub(crate) fn departed(&self, config: &Config) -> Vec<Entry> {
        let entries = match self {
            Record::Read(entries) | Record::Untrusted { listed: entries, .. } => entries,
            Record::Missing | Record::Settled | Record::Damaged(_) => return Vec::new(),
        };
        let named = named_set(config);
        let departed: BTreeSet<&Entry> = entries.iter().filter(|entry| is_departed(entry, &named)).collect();
        departed.into_iter().cloned().collect()
    }

    /// Whether it must be written (anew) for the configuration in force.
    pub(crate) fn needs_writing(&self) -> bool {
        matches!(self, Record::Missing | Record::Read(_) | Record::Damaged(_))
    }
}

/// What `config` names (see [`Named`]).
fn named_set(config: &Config) -> BTreeSet<Named> {
    config.prefixes().map(|(_, prefix)| Named::of(prefix)).collect()
}

/// Whether `entry` is one `named` (what the configuration names) lacks. An entry that names no daemon, or two, was
/// written by no anycastd: it is not departed, there is nothing it could withdraw.
fn is_departed(entry: &Entry, named: &BTreeSet<Named>) -> bool {
    entry.named_as().is_some_and(|named_as| !named.contains(&named_as))
}

/// A digest of the prefixes, VRFs and vtysh paths (BIRD's control sockets) `config` names, in its order: the header's
/// `named`. FNV-1a over
/// their bytes: it runs at every pass over every prefix, where std's SipHash cost 6 M instructions at 10,000 prefixes,
/// and it cannot change between Rust releases. It need not resist forgery: it only says when to read the record
/// whole.
pub(crate) fn named_digest(config: &Config) -> String {
    let mut digest = Fnv::new();
    for (_, prefix) in config.prefixes() {
        match prefix.prefix.net() {
            IpNet::V4(net) => digest.write(&net.addr().octets()),
            IpNet::V6(net) => digest.write(&net.addr().octets()),
        }
        digest.write(&[prefix.prefix.net().prefix_len()]);
        digest.write(prefix.vrf.name().unwrap_or_default().as_bytes());
        digest.write(&[0]);
        // A vtysh path starts with `/`, so BIRD's `b` before its socket keeps the two apart (and FRR's digest as it
        // was before BIRD: an upgrade does not rewrite every record).
        match &prefix.daemon {
            Daemon::Frr(frr) => digest.write(frr.vtysh.as_os_str().as_encoded_bytes()),
            Daemon::Bird(bird) => {
                digest.write(b"b");
                digest.write(bird.socket.as_os_str().as_encoded_bytes());
                digest.write(&[0]);
                digest.write(bird.table.as_deref().unwrap_or_default().as_bytes());
            }
        }
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
pub(crate) fn read(state_dir: Option<&StateDir>, config: &Config) -> Record {
    let Some(state_dir) = state_dir else { return Record::Missing };
    match state_dir.open_trusted(RECORD_FILE) {
        Ok(None) => Record::Missing,
        Ok(Some((file, _))) => read_trusted(state_dir, file, &named_digest(config)),
        Err(why) if state_dir.is_own() => Record::Damaged(why.to_string()),
        Err(why) => Record::Untrusted { why: why.to_string(), listed: read_untrusted(state_dir) },
    }
}

/// Reads a trusted record: its header only, when it is settled for `named`; every entry otherwise.
fn read_trusted(state_dir: &StateDir, file: std::fs::File, named: &str) -> Record {
    let mut reader = BufReader::new(file.take(RECORD_LIMIT + 1));
    let mut first = Vec::new();
    let header = (&mut reader)
        .take(HEADER_LIMIT)
        .read_until(b'\n', &mut first)
        .ok()
        .and_then(|_| serde_json::from_slice::<Header>(&first).ok());
    if header.is_some_and(|header| header.named == named && header.departed == 0) {
        return Record::Settled;
    }
    let mut rest = Vec::new();
    match reader.read_to_end(&mut rest) {
        Ok(_) if (first.len() + rest.len()) as u64 <= RECORD_LIMIT => Record::Read(entries(&rest)),
        Ok(_) => Record::Damaged(format!(
            "{} is larger than {} MiB",
            state_dir.file(RECORD_FILE).display(),
            RECORD_LIMIT >> 20
        )),
        Err(error) => Record::Damaged(format!("cannot read {}: {error}", state_dir.file(RECORD_FILE).display())),
    }
}

/// The entries of a record that is not trusted, to report them.
fn read_untrusted(state_dir: &StateDir) -> Vec<Entry> {
    match state_dir.read(RECORD_FILE, RECORD_LIMIT) {
        Ok(Some(text)) => entries(&text),
        _ => Vec::new(),
    }
}

/// The entries of the record's lines, skipping any line that is not one (the header).
fn entries(text: &[u8]) -> Vec<Entry> {
    text.split(|byte| *byte == b'\n').filter_map(|line| serde_json::from_slice::<Entry>(line).ok()).collect()
}

/// Writes the record anew, atomically, holding exactly `entries` (once each), for `config`.
pub(crate) fn write(state_dir: &StateDir, config: &Config, entries: &[Entry]) -> io::Result<()> {
    let unique: BTreeSet<&Entry> = entries.iter().collect();
    let named = named_set(config);
    let departed = unique.iter().filter(|entry| is_departed(entry, &named)).count();
    let header = Header { anycastd_record: 1, named: named_digest(config), departed };
    let mut text = serde_json::to_string(&header).map_err(io::Error::other)?;
    text.push('\n');
    for entry in unique {
        text.push_str(&serde_json::to_string(entry).map_err(io::Error::other)?);
        text.push('\n');
    }
    state_dir.write(RECORD_FILE, text.as_bytes())
}

/// Forgets every entry of `prefix` (in `vrf`, or in every VRF): anycastd will not withdraw it when the configuration
/// no longer names it. Returns what it forgot. The record is read whether trusted or not: forgetting only removes.
/// It stays settled for `config`, so the prefix stays forgotten until the configuration changes.
pub(crate) fn forget(
    state_dir: &StateDir,
    config: &Config,
    prefix: Prefix,
    vrf: Option<&Vrf>,
) -> io::Result<Vec<Entry>> {
    let all = match state_dir.read(RECORD_FILE, RECORD_LIMIT)? {
        Some(text) => entries(&text),
        None => return Ok(Vec::new()),
    };
    let (forgotten, kept): (Vec<Entry>, Vec<Entry>) =
        all.into_iter().partition(|entry| entry.prefix == prefix && vrf.is_none_or(|vrf| *vrf == entry.vrf));
    if !forgotten.is_empty() {
        write(state_dir, config, &kept)?;
    }
    let unique: BTreeSet<Entry> = forgotten.into_iter().collect();
    Ok(unique.into_iter().collect())
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
            asn: Some("65536".into()),
            vtysh: Some("/usr/bin/vtysh".into()),
            bird: None,
            service: service.into(),
        }
    }

    fn scratch(name: &str) -> (std::path::PathBuf, StateDir) {
        crate::state::scratch_state_dir(&format!("managed-{name}"))
    }

    #[test]
    fn a_record_settled_for_the_configuration_is_not_read_beyond_its_header() {
        let (dir, state_dir) = scratch("settled");
        let both = config("\"203.0.113.53\", \"203.0.113.80\"");
        assert_eq!(read(Some(&state_dir), &both), Record::Missing);
        let recorded = [entry("203.0.113.53/32", "dns"), entry("203.0.113.80/32", "dns")];
        write(&state_dir, &both, &recorded).expect("written");
        assert_eq!(read(Some(&state_dir), &both), Record::Settled);
        let one = config("\"203.0.113.53\"");
        let read_in_full = read(Some(&state_dir), &one);
        assert_eq!(read_in_full, Record::Read(recorded.to_vec()));
        assert_eq!(read_in_full.departed(&one), [entry("203.0.113.80/32", "dns")]);
        write(&state_dir, &one, &recorded).expect("written");
        assert!(matches!(read(Some(&state_dir), &one), Record::Read(_)), "one departed entry: read in full");
        write(&state_dir, &one, &recorded[..1]).expect("written");
        assert_eq!(read(Some(&state_dir), &one), Record::Settled);
        let moved = Config::parse(
            "[services.dns]\nprefixes.frrouting = [{ prefix = \"203.0.113.53\", vtysh = \"/opt/vtysh\" }]\n\
             checks.cabourotte = [\"dns\"]\n",
            "test",
        )
        .expect("valid");
        assert!(matches!(read(Some(&state_dir), &moved), Record::Read(_)), "another vtysh: written anew");
        assert_eq!(read(Some(&state_dir), &moved).departed(&moved), [], "but nothing departed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn bird_entry(prefix: &str, socket: &str, service: &str) -> Entry {
        let bird =
            BirdDaemon { socket: socket.into(), file: "/run/acd/anycastd.conf".into(), drain: false, table: None };
        Entry { vtysh: None, bird: Some(bird), asn: None, ..entry(prefix, service) }
    }

    #[test]
    fn a_prefix_leaves_the_daemon_it_moves_out_of_and_a_bird_the_configuration_no_longer_names() {
        let (dir, state_dir) = scratch("daemons");
        let in_frr = config("\"203.0.113.53\"");
        let recorded = [entry("203.0.113.53/32", "dns"), bird_entry("203.0.113.54/32", "/run/b1.ctl", "web")];
        write(&state_dir, &in_frr, &recorded).expect("written");
        let text = std::fs::read_to_string(state_dir.file(RECORD_FILE)).expect("readable");
        assert!(text.contains(r#""bird":{"socket":"/run/b1.ctl","file":"/run/acd/anycastd.conf"}"#), "{text}");
        assert!(!text.contains(r#""vtysh":null"#), "{text}");
        let in_bird = Config::parse(
            "[services.dns]\nprefixes.bird = [{ prefix = \"203.0.113.53\", socket = \"/run/b2.ctl\" }]\n\
             checks.cabourotte = [\"dns\"]\n",
            "test",
        )
        .expect("valid");
        let record = read(Some(&state_dir), &in_bird);
        assert_eq!(record, Record::Read(recorded.to_vec()), "the record is read back whole, BIRD's entry too");
        assert_eq!(record.departed(&in_bird), recorded, "FRR's entry moved to BIRD, and BIRD b1 is named no more");
        let (frr, bird) = (&recorded[0], &recorded[1]);
        assert!(matches!(bird.daemon(), Some(Daemon::Bird(daemon)) if Some(&daemon) == bird.bird.as_ref()));
        assert!(matches!(frr.daemon(), Some(Daemon::Frr(_))));
        let at_b1 = Config::parse(
            "[services.web]\nprefixes.bird = [{ prefix = \"203.0.113.54\", socket = \"/run/b1.ctl\" }]\n\
             checks.cabourotte = [\"web\"]\n",
            "test",
        )
        .expect("valid");
        assert_eq!(
            read(Some(&state_dir), &at_b1).departed(&at_b1),
            std::slice::from_ref(frr),
            "b1 still has its prefix"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn forgetting_removes_every_entry_of_the_prefix() {
        let (dir, state_dir) = scratch("forget");
        let one = config("\"203.0.113.53\"");
        let web = entry("203.0.113.80/32", "web");
        write(&state_dir, &one, &[entry("203.0.113.53/32", "dns"), web.clone()]).expect("written");
        let forgotten = forget(&state_dir, &one, web.prefix, None).expect("forgotten");
        assert_eq!(forgotten, [web]);
        assert_eq!(read(Some(&state_dir), &one), Record::Settled);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
