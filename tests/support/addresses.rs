//! The addresses of a network namespace's interfaces, as `ip` shows them, and their changes as they happen
//! (`ip -timestamp monitor address`): what an operator looks at to see the service addresses anycastd keeps on the
//! host (the prefixes' `interface` key), and when it changed them against when the peer saw the route.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::wait::Wait;

/// The address the watch adds and deletes once on `lo` to know that `ip monitor` listens: a loopback address that no
/// routing daemon of the labs looks at (both set their router-ID).
const SENTINEL: &str = "127.0.0.254/32";

/// The addresses on `interface` in network namespace `ns`, with their length (`203.0.113.53/32`).
pub fn addresses_on(ns: &str, interface: &str) -> Vec<String> {
    let output = Command::new("ip")
        .args(["-n", ns, "-j", "address", "show", "dev", interface])
        .stdin(Stdio::null())
        .output()
        .expect("run ip address show");
    assert!(
        output.status.success(),
        "ip -n {ns} address show dev {interface}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let links: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    links
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|info| Some(format!("{}/{}", info["local"].as_str()?, info["prefixlen"].as_u64()?)))
        .collect()
}

/// Runs `ip -n NS ARGS` and fails the test if it fails.
pub fn ip_in(ns: &str, args: &[&str]) {
    let output = Command::new("ip").args(["-n", ns]).args(args).stdin(Stdio::null()).output().expect("run ip");
    assert!(output.status.success(), "ip -n {ns} {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
}

/// One change of an address, as `ip monitor` printed it.
#[derive(Clone, Debug)]
pub struct AddressEvent {
    /// `ip`'s timestamp of the change (when the kernel's notification reached it).
    pub at: SystemTime,
    /// The address with its length (`203.0.113.53/32`).
    pub address: String,
    /// Whether it was deleted (else added, or changed: IPv6's tentative then final state are two events).
    pub deleted: bool,
    /// The line as printed.
    pub line: String,
}

/// The address changes of one network namespace, recorded from `ip -timestamp monitor address` until dropped.
pub struct AddressWatch {
    child: Child,
    events: Arc<Mutex<Vec<AddressEvent>>>,
}

impl AddressWatch {
    /// Starts watching the addresses of network namespace `ns`; returns once `ip monitor` is seen to listen (it has
    /// printed the addition and deletion of a loopback sentinel, which are not kept).
    pub fn start(ns: &str) -> AddressWatch {
        let mut child = Command::new("ip")
            .args(["-n", ns, "-tshort", "monitor", "address"])
            // `-tshort` prints local time: UTC, so that it reads back without a time zone database.
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ip monitor address");
        let stdout = child.stdout.take().expect("ip monitor's stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(event) = parse(&line) {
                    sink.lock().expect("the address watch's events").push(event);
                }
            }
        });
        let watch = AddressWatch { child, events };
        // `ip monitor` subscribes after it starts: until it shows a change, a change may go unseen.
        let sentinel_seen = |deleted: bool| {
            watch.events.lock().expect("events").iter().any(|e| e.address == SENTINEL && e.deleted == deleted)
        };
        Wait::new("ip monitor shows the sentinel address added").deadline(Duration::from_secs(10)).until(|| {
            if !sentinel_seen(false) {
                let _ = Command::new("ip").args(["-n", ns, "address", "replace", SENTINEL, "dev", "lo"]).output();
                std::thread::sleep(Duration::from_millis(50));
            }
            sentinel_seen(false).then_some(())
        });
        ip_in(ns, &["address", "del", SENTINEL, "dev", "lo"]);
        Wait::new("ip monitor shows the sentinel address deleted").until(|| sentinel_seen(true).then_some(()));
        watch.events.lock().expect("events").clear();
        watch
    }

    /// Every change of `address` (`203.0.113.53/32`) seen so far, oldest first.
    pub fn events(&self, address: &str) -> Vec<AddressEvent> {
        self.events.lock().expect("events").iter().filter(|e| e.address == address).cloned().collect()
    }

    /// When `address` was first added since the watch started.
    pub fn added(&self, address: &str) -> Option<SystemTime> {
        self.events(address).iter().find(|e| !e.deleted).map(|e| e.at)
    }

    /// When `address` was first deleted since the watch started.
    pub fn deleted(&self, address: &str) -> Option<SystemTime> {
        self.events(address).iter().find(|e| e.deleted).map(|e| e.at)
    }

    /// Every change seen, as printed, for failure messages.
    pub fn timeline(&self) -> String {
        self.events.lock().expect("events").iter().map(|e| format!("{}\n", e.line)).collect()
    }
}

impl Drop for AddressWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line of `ip -tshort monitor address` that starts a change:
/// `[2026-12-04T10:00:49.347019] Deleted 1: lo    inet 203.0.113.53/32 scope global lo`. The continuation lines
/// (`valid_lft ...`) are not changes.
fn parse(line: &str) -> Option<AddressEvent> {
    let (stamp, rest) = line.strip_prefix('[')?.split_once("] ")?;
    let at = utc(stamp)?;
    let (deleted, rest) = match rest.strip_prefix("Deleted ") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let mut words = rest.split_whitespace();
    words.find(|w| *w == "inet" || *w == "inet6")?;
    let address = words.next()?.to_string();
    Some(AddressEvent { at, address, deleted, line: line.to_string() })
}

/// `2026-12-04T10:00:49.347019` (UTC) as a time.
fn utc(stamp: &str) -> Option<SystemTime> {
    let (date, time) = stamp.split_once('T')?;
    let mut ymd = date.split('-').map(|n| n.parse::<i64>());
    let (y, m, d) = (ymd.next()?.ok()?, ymd.next()?.ok()?, ymd.next()?.ok()?);
    let (hms, micros) = time.split_once('.')?;
    let mut hms = hms.split(':').map(|n| n.parse::<u64>());
    let (h, min, s) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    let micros: u64 = micros.parse().ok()?;
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    let secs = days * 86_400 + h * 3600 + min * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ip_monitor_lines_as_utc_times() {
        let event = parse("[2026-12-04T10:00:49.347019] Deleted 1: lo    inet 203.0.113.53/32 scope global lo")
            .expect("a change");
        assert!(event.deleted);
        assert_eq!(event.address, "203.0.113.53/32");
        let since = event.at.duration_since(UNIX_EPOCH).expect("after 1970");
        assert_eq!((since.as_secs(), since.subsec_micros()), (1_796_378_449, 347_019));
        let added =
            parse("[2000-02-29T00:00:00.000001] 1: lo    inet6 2001:db8::53/128 scope global").expect("a change");
        assert_eq!((added.deleted, added.address.as_str()), (false, "2001:db8::53/128"));
        assert_eq!(added.at.duration_since(UNIX_EPOCH).expect("after 1970").as_secs(), 951_782_400);
        assert!(parse("       valid_lft forever preferred_lft forever").is_none());
    }
}
