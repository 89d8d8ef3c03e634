//! `check --bird`: whether each BIRD of the configuration is ready for anycastd, changing nothing. One connection
//! per BIRD: it answers (the socket, the group), runs, has the drain mark declared where a prefix drains, loads
//! anycastd's file (its protocols are BIRD's), and has a BGP session up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::{BirdDaemon, Config, ManagedPrefix};
use crate::escape::escape;
use crate::finding::{Finding, Level};

use super::{Connection, DaemonStatus, read_bgp_sessions, read_owned_file, read_protocols, read_status, read_tables};

/// The attribute a draining prefix's route carries; the operator declares it in bird.conf.
const DRAIN_MARK: &str = "anycastd_draining";

/// Checks every BIRD of `config`, each within `timeout`.
pub fn check_all(config: &Config, timeout: Duration) -> Vec<Finding> {
    let mut birds: BTreeMap<&Path, (&BirdDaemon, Vec<&ManagedPrefix>)> = BTreeMap::new();
    for prefix in config.prefixes().map(|(_, prefix)| prefix) {
        if let Some(bird) = prefix.bird() {
            birds.entry(bird.socket.as_path()).or_insert_with(|| (bird, Vec::new())).1.push(prefix);
        }
    }
    birds.into_values().flat_map(|(bird, prefixes)| check_bird(bird, &prefixes, timeout)).collect()
}

/// The findings of one BIRD.
fn check_bird(bird: &BirdDaemon, prefixes: &[&ManagedPrefix], timeout: Duration) -> Vec<Finding> {
    let subject = format!("BIRD {}", escape(&bird.socket.display().to_string()));
    let mut connection = match Connection::open(&bird.socket, Instant::now() + timeout) {
        Ok(connection) => connection,
        Err(error) => return vec![Finding::new(Level::Error, "bird-unreachable", subject, error.to_string())],
    };
    let answered = format!("BIRD {} answers", escape(connection.version()));
    let mut findings = vec![Finding::new(Level::Ok, "bird-answers", &subject, answered)];
    findings.extend(status(&mut connection, &subject));
    findings.extend(folder(bird, &subject));
    if prefixes.iter().any(|prefix| prefix.drains()) {
        findings.extend(drain_mark(&mut connection, &subject));
    }
    findings.extend(tables(&mut connection, prefixes, &subject));
    findings.extend(file_loaded(&mut connection, bird, &subject));
    findings.extend(bgp_sessions(&mut connection, &subject));
    findings
}

/// Whether BIRD runs (not reconfiguring, not shutting down).
fn status(connection: &mut Connection, subject: &str) -> Option<Finding> {
    match read_status(connection) {
        Ok(DaemonStatus::Running) => None,
        Ok(DaemonStatus::Reconfiguring) => Some(Finding::new(
            Level::Warning,
            "bird-reconfiguring",
            subject,
            "BIRD is reconfiguring: ask again in a moment",
        )),
        Ok(DaemonStatus::ShuttingDown) => {
            Some(Finding::new(Level::Error, "bird-shutting-down", subject, "BIRD is shutting down"))
        }
        Err(error) => Some(Finding::new(Level::Error, "bird-unreachable", subject, error.to_string())),
    }
}

/// Whether anycastd could write its file: the folder exists and only its owner may write it.
fn folder(bird: &BirdDaemon, subject: &str) -> Option<Finding> {
    let error = super::check_owned_folder(&bird.file).err()?;
    Some(Finding::new(
        Level::Error,
        "bird-file-folder",
        subject,
        format!("anycastd cannot write its file: {error} (the package's tmpfiles.d makes /run/anycastd-bird)"),
    ))
}

/// Whether bird.conf declares the drain mark, which anycastd's file sets on a draining prefix: without it, BIRD
/// would refuse the file at the first drain.
fn drain_mark(connection: &mut Connection, subject: &str) -> Option<Finding> {
    let reply = connection.command(&format!("show symbols {DRAIN_MARK}")).ok()?;
    let declared = reply.is_success() && reply.all_lines().any(|line| line.text.contains("attribute"));
    (!declared).then(|| {
        Finding::new(
            Level::Error,
            "bird-drain-mark-missing",
            subject,
            format!(
                "bird.conf does not declare `attribute int {DRAIN_MARK};`, which anycastd's file sets on a draining \
                 prefix (drain = true): BIRD would refuse the file at the first drain; add it before the include"
            ),
        )
    })
}

/// Whether BIRD defines every table the configuration names for its prefixes: a prefix in a table BIRD lacks is left
/// out of anycastd's file (BIRD would refuse the whole file with it).
fn tables(connection: &mut Connection, prefixes: &[&ManagedPrefix], subject: &str) -> Vec<Finding> {
    let named: BTreeSet<&str> = prefixes.iter().filter_map(|prefix| prefix.bird()?.table.as_deref()).collect();
    if named.is_empty() {
        return Vec::new();
    }
    let defined = match read_tables(connection) {
        Ok(defined) => defined,
        Err(error) => return vec![Finding::new(Level::Error, "bird-unreachable", subject, error.to_string())],
    };
    named
        .into_iter()
        .map(|table| match defined.contains(table) {
            true => Finding::new(Level::Ok, "bird-table-defined", subject, format!("BIRD defines table {table}")),
            false => Finding::new(
                Level::Error,
                "bird-table-unknown",
                subject,
                format!(
                    "BIRD defines no table {table}, which the configuration names: declare `ipv4 table {table};` (or \
                     ipv6) in bird.conf before the include of anycastd's file; its prefixes are not announced until \
                     then"
                ),
            ),
        })
        .collect()
}

/// Whether BIRD loaded anycastd's file: every protocol of the file is one of BIRD's. A file without protocols (or
/// none yet) cannot tell.
fn file_loaded(connection: &mut Connection, bird: &BirdDaemon, subject: &str) -> Option<Finding> {
    let file = escape(&bird.file.display().to_string()).into_owned();
    let text = read_owned_file(&bird.file).ok().flatten().unwrap_or_default();
    let named: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("protocol static "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    if named.is_empty() {
        return Some(Finding::new(
            Level::Warning,
            "bird-include-unknown",
            subject,
            format!(
                "{file} announces nothing yet, so whether bird.conf includes it cannot be told: it must hold \
                 `include \"{}/*.conf\";` (docs/bird.md)",
                escape(&bird.file.parent().map(|dir| dir.display().to_string()).unwrap_or_default())
            ),
        ));
    }
    let protocols = read_protocols(connection).ok()?;
    let missing = named.iter().filter(|name| !protocols.contains_key(**name)).count();
    Some(match missing {
        0 => Finding::new(Level::Ok, "bird-file-loaded", subject, format!("BIRD runs the protocols of {file}")),
        _ => Finding::new(
            Level::Error,
            "bird-file-not-loaded",
            subject,
            format!(
                "BIRD lacks {missing} of the {} protocols of {file}: bird.conf does not include it, or BIRD has not \
                 loaded it yet (`birdc configure`)",
                named.len()
            ),
        ),
    })
}

/// Whether BIRD has a BGP session up: anycastd's routes reach nobody otherwise.
fn bgp_sessions(connection: &mut Connection, subject: &str) -> Option<Finding> {
    let bgp = read_bgp_sessions(connection).ok()?;
    let up: Vec<&str> = bgp.iter().filter(|session| session.established).map(|session| session.name.as_str()).collect();
    Some(match (bgp.len(), up.len()) {
        (0, _) => Finding::new(Level::Warning, "bird-no-bgp", subject, "BIRD has no BGP protocol: nobody receives"),
        (_, 0) => Finding::new(
            Level::Warning,
            "bird-bgp-down",
            subject,
            "no BGP session of BIRD is established: nobody receives anything now",
        ),
        _ => Finding::new(Level::Ok, "bird-bgp-up", subject, format!("BGP established: {}", escape(&up.join(", ")))),
    })
}
