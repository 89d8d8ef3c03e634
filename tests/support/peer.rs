//! The BGP peers of the tests: GoBGP in a network namespace of its own, listening passively for FRR's session, for
//! the lab ([`Lab`]) and for a booted node ([`Peer`]). What it received is what the rest of the network would see of
//! anycastd's announcements and withdrawals.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::debian::succeed;
use super::lab::Lab;
use super::node::Node;
use super::wait::Wait;

/// GoBGP's gRPC API, inside the peer namespace.
const GOBGP_API_PORT: u16 = 50051;

/// Address family of a prefix, to ask GoBGP for the right RIB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Afi {
    /// `ipv4 unicast`
    Ipv4,
    /// `ipv6 unicast`
    Ipv6,
}

impl Afi {
    /// The family of `prefix` (IPv6 when it contains a colon).
    pub fn of(prefix: &str) -> Afi {
        if prefix.contains(':') { Afi::Ipv6 } else { Afi::Ipv4 }
    }

    fn gobgp_name(self) -> &'static str {
        match self {
            Afi::Ipv4 => "ipv4",
            Afi::Ipv6 => "ipv6",
        }
    }
}

impl Lab {
    /// The prefixes GoBGP received in `afi`.
    pub fn peer_prefixes(&self, afi: Afi) -> BTreeSet<String> {
        self.try_peer_prefixes(afi)
            .unwrap_or_else(|| panic!("cannot read GoBGP's {afi:?} RIB\n{}", self.failure_context()))
    }

    pub(super) fn try_peer_prefixes(&self, afi: Afi) -> Option<BTreeSet<String>> {
        received(&self.peer_ns, afi)
    }

    /// Every prefix GoBGP received, IPv4 and IPv6.
    pub fn peer_routes(&self) -> BTreeSet<String> {
        let mut all = self.peer_prefixes(Afi::Ipv4);
        all.extend(self.peer_prefixes(Afi::Ipv6));
        all
    }

    /// Waits until GoBGP has received every one of `prefixes`; panics with a diagnosis after the deadline.
    #[track_caller]
    pub fn wait_peer_has(&self, prefixes: &[&str]) {
        self.wait_until(&format!("the peer has received {prefixes:?}"), || {
            let routes = self.peer_routes();
            prefixes.iter().all(|p| routes.contains(*p))
        });
    }

    /// Waits until GoBGP has none of `prefixes` (any more); panics with a diagnosis after the deadline.
    #[track_caller]
    pub fn wait_peer_lacks(&self, prefixes: &[&str]) {
        self.wait_until(&format!("the peer has none of {prefixes:?}"), || {
            let routes = self.peer_routes();
            prefixes.iter().all(|p| !routes.contains(*p))
        });
    }

    /// Waits until GoBGP's received routes are exactly `prefixes`.
    #[track_caller]
    pub fn wait_peer_routes(&self, prefixes: &[&str]) {
        let expected: BTreeSet<String> = prefixes.iter().map(|p| p.to_string()).collect();
        self.wait_until(&format!("the peer has exactly {expected:?}"), || self.peer_routes() == expected);
    }

    /// The route the peer received for `prefix` (its best path), with the attributes tests look at.
    pub fn peer_route(&self, prefix: &str) -> Option<PeerRoute> {
        best_route(&self.peer_ns, prefix)
    }

    /// Waits until the peer has a route for `prefix` whose attributes satisfy `condition`, and returns it; panics
    /// after the deadline with the route the peer last had and the state of FRR and GoBGP.
    #[track_caller]
    pub fn wait_peer_route(&self, prefix: &str, condition: impl Fn(&PeerRoute) -> bool) -> PeerRoute {
        let last = RefCell::new(None);
        let what = format!("the peer's route {prefix} matches");
        let diagnosis = || format!("it last was {:?}\n{}", last.borrow(), self.failure_context());
        self.wait(&what).diagnosis(diagnosis).until(|| {
            let route = self.peer_route(prefix);
            last.replace(route.clone());
            route.filter(|route| condition(route))
        })
    }

    /// Starts recording every route change the peer sees, IPv4 and IPv6 (`gobgp monitor global rib`), with the
    /// time each arrived; returns once the recording runs (it has received the peer's current routes, which it
    /// keeps as its first events). Stops when dropped.
    pub fn watch_peer(&self) -> PeerWatch {
        PeerWatch::start(&self.peer_ns, self.wait("gobgp monitor has dumped the peer's routes"))
    }

    /// Whether GoBGP reports the session with FRR as established.
    pub fn session_established(&self) -> bool {
        session_established(&self.peer_ns)
    }

    /// Gives VRF `vrf`'s BGP instance (AS `asn`) a session of its own with the peer, as a VRF's uplink would: a
    /// veth pair whose FRR end is in the VRF's device (192.0.2.5/30), to GoBGP's address across it, which GoBGP
    /// accepts once told of the neighbor. Needs the VRF's device (a kernel with VRF devices: `tests/in_vm.rs`).
    pub fn peer_with_vrf(&self, vrf: &str, asn: u32) {
        let (frr, peer) = (self.frr_namespace(), self.peer_ns.as_str());
        let ip = |ns: &str, args: &[&str]| crate::support::addresses::ip_in(ns, args);
        ip(frr, &["link", "add", "to-peer-vrf", "type", "veth", "peer", "name", "to-vrf", "netns", peer]);
        ip(frr, &["link", "set", "to-peer-vrf", "master", vrf]);
        ip(frr, &["address", "add", "192.0.2.5/30", "dev", "to-peer-vrf"]);
        ip(frr, &["link", "set", "to-peer-vrf", "up"]);
        ip(frr, &["route", "add", "192.0.2.2/32", "dev", "to-peer-vrf", "vrf", vrf]);
        ip(peer, &["address", "add", "192.0.2.6/30", "dev", "to-vrf"]);
        ip(peer, &["link", "set", "to-vrf", "up"]);
        let added = gobgp(peer, &["neighbor", "add", "192.0.2.5", "as", &asn.to_string()]);
        assert!(added.is_some(), "gobgp neighbor add 192.0.2.5 as {asn} failed");
        self.vtysh(&[
            "configure terminal",
            &format!("router bgp {asn} vrf {vrf}"),
            "neighbor 192.0.2.2 remote-as 65100",
            "neighbor 192.0.2.2 port 11179",
            "neighbor 192.0.2.2 timers connect 1",
            // GoBGP's address is one hop away but not on the VRF's link: without this, bgpd waits for NHT forever.
            "neighbor 192.0.2.2 disable-connected-check",
        ]);
    }

    pub(super) fn try_gobgp(&self, args: &[&str]) -> Option<String> {
        gobgp(&self.peer_ns, args)
    }
}

/// Whether the GoBGP of network namespace `ns` reports a session as established.
pub(super) fn session_established(ns: &str) -> bool {
    let Some(out) = gobgp(ns, &["neighbor", "-j"]) else { return false };
    let Ok(neighbors) = serde_json::from_str::<Value>(out.trim()) else { return false };
    neighbors.as_array().is_some_and(|all| {
        all.iter().any(|n| {
            let state = &n["state"]["session_state"];
            state == 6 || state.as_str().is_some_and(|s| s.eq_ignore_ascii_case("established"))
        })
    })
}

/// `gobgp ARGS` against the GoBGP of network namespace `ns`: its stdout, if it succeeded.
pub(super) fn gobgp(ns: &str, args: &[&str]) -> Option<String> {
    let port = GOBGP_API_PORT.to_string();
    let mut all = vec!["netns", "exec", ns, "gobgp", "-u", "127.0.0.1", "-p", &port];
    all.extend_from_slice(args);
    let output = Command::new("ip").args(&all).stdin(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The route the GoBGP of network namespace `ns` received for `prefix` (its best path).
fn best_route(ns: &str, prefix: &str) -> Option<PeerRoute> {
    let out = gobgp(ns, &["global", "rib", "-a", Afi::of(prefix).gobgp_name(), "-j"])?;
    let rib: Value = serde_json::from_str(out.trim()).ok()?;
    let paths = rib.get(prefix)?.as_array()?;
    let best = paths.iter().find(|p| p["best"] == true).or_else(|| paths.first())?;
    Some(PeerRoute::from_gobgp(best))
}

/// The prefixes the GoBGP of network namespace `ns` received in `afi`.
fn received(ns: &str, afi: Afi) -> Option<BTreeSet<String>> {
    let out = gobgp(ns, &["global", "rib", "-a", afi.gobgp_name(), "-j"])?;
    let rib: Value = serde_json::from_str(out.trim()).ok()?;
    Some(rib.as_object().map(|routes| routes.keys().cloned().collect()).unwrap_or_default())
}

static NEXT_PEER: AtomicUsize = AtomicUsize::new(0);

/// The BGP peer of a booted [`Node`], as its upstream router would be: GoBGP (AS 65100, 192.0.2.2) in a network
/// namespace of its own, linked to the node's by a veth pair, waiting for the node's FRR or BIRD (AS 65536) to connect
/// to port 179. The node's end of the link is `uplink`, with 192.0.2.1/30 and 2001:db8:ffff::1/64 (the peer has ::2):
/// the addresses of the README's quickstarts. Stopped, and its namespace deleted, on drop.
pub struct Peer {
    ns: String,
    dir: PathBuf,
    gobgpd: Child,
}

impl Peer {
    /// Links a new peer to `node` and starts its GoBGP; returns once GoBGP's API answers.
    pub fn facing(node: &Node) -> Peer {
        let n = NEXT_PEER.fetch_add(1, Ordering::SeqCst);
        let ns = format!("acd-peer-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("anycastd-{ns}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the peer's directory");
        let node_ns = node.pid().to_string();
        for args in [
            vec!["netns", "add", &ns],
            vec!["-n", &ns, "link", "set", "lo", "up"],
            vec!["link", "add", "downlink", "netns", &ns, "type", "veth", "peer", "name", "uplink", "netns", &node_ns],
            vec!["-n", &ns, "address", "add", "192.0.2.2/30", "dev", "downlink"],
            vec!["-n", &ns, "-6", "address", "add", "2001:db8:ffff::2/64", "dev", "downlink", "nodad"],
            vec!["-n", &ns, "link", "set", "downlink", "up"],
        ] {
            succeed(Command::new("ip").args(&args), &format!("ip {}", args.join(" ")));
        }
        // The node's end, from inside: its network configuration, not the quickstart's.
        node.ok(&["ip", "address", "add", "192.0.2.1/30", "dev", "uplink"]);
        node.ok(&["ip", "-6", "address", "add", "2001:db8:ffff::1/64", "dev", "uplink", "nodad"]);
        node.ok(&["ip", "link", "set", "uplink", "up"]);
        let config = dir.join("gobgpd.toml");
        std::fs::write(
            &config,
            r#"[global.config]
  as = 65100
  router-id = "192.0.2.2"
  local-address-list = ["192.0.2.2"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.1"
    peer-as = 65536
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"#,
        )
        .expect("write gobgpd.toml");
        let api = format!("127.0.0.1:{GOBGP_API_PORT}");
        let gobgpd = Command::new("ip")
            .args(["netns", "exec", &ns, "gobgpd", "--pprof-disable", "-f"])
            .arg(&config)
            .args(["--api-hosts", &api])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("gobgpd.log")).expect("gobgpd's log"))
            .spawn()
            .expect("start gobgpd (Debian package gobgpd)");
        let peer = Peer { ns, dir, gobgpd };
        peer.wait_for("GoBGP's API answers", || gobgp(&peer.ns, &["neighbor"]).map(|_| ()));
        peer
    }

    /// Every prefix it received, IPv4 and IPv6.
    pub fn routes(&self) -> BTreeSet<String> {
        let mut all = received(&self.ns, Afi::Ipv4).unwrap_or_default();
        all.extend(received(&self.ns, Afi::Ipv6).unwrap_or_default());
        all
    }

    /// The route it received for `prefix` (its best path), with the attributes tests look at.
    pub fn route(&self, prefix: &str) -> Option<PeerRoute> {
        best_route(&self.ns, prefix)
    }

    /// Waits until it has received exactly `prefixes` (within `deadline`); returns how long that took.
    #[track_caller]
    pub fn wait_routes(&self, prefixes: &[&str], deadline: Duration, diagnosis: impl Fn() -> String) -> Duration {
        self.wait_routes_where(prefixes, "", |_| true, deadline, diagnosis)
    }

    /// Waits until it has received exactly `prefixes`, each route satisfying `condition` (said in the failure as
    /// `what`), within `deadline`; returns how long that took.
    #[track_caller]
    pub fn wait_routes_where(
        &self,
        prefixes: &[&str],
        what: &str,
        condition: impl Fn(&PeerRoute) -> bool,
        deadline: Duration,
        diagnosis: impl Fn() -> String,
    ) -> Duration {
        let started = Instant::now();
        let expected: BTreeSet<String> = prefixes.iter().map(ToString::to_string).collect();
        let routes = || -> Vec<(&str, Option<PeerRoute>)> { prefixes.iter().map(|p| (*p, self.route(p))).collect() };
        Wait::new(&format!("the peer has exactly {expected:?}{what}"))
            .deadline(deadline)
            .poll(Duration::from_millis(100))
            .diagnosis(|| {
                format!("the peer has {:?}: {:?}\n{}\n{}", self.routes(), routes(), self.diagnosis(), diagnosis())
            })
            .until(|| {
                let held = self.routes() == expected
                    && routes().iter().all(|(_, route)| route.as_ref().is_some_and(&condition));
                held.then_some(())
            });
        started.elapsed()
    }

    /// GoBGP's view of the session and the end of its log.
    pub fn diagnosis(&self) -> String {
        let neighbors = gobgp(&self.ns, &["neighbor"]).unwrap_or_else(|| "(gobgp neighbor failed)".into());
        let log = std::fs::read_to_string(self.dir.join("gobgpd.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        format!("gobgp neighbor:\n{neighbors}\ngobgpd's log, last lines:\n{}", tail.join("\n"))
    }

    #[track_caller]
    fn wait_for(&self, what: &str, condition: impl FnMut() -> Option<()>) {
        Wait::new(what).diagnosis(|| self.diagnosis()).until(condition);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.gobgpd.kill();
        let _ = self.gobgpd.wait();
        // Deleting the namespace deletes the peer's end of the link, and the node's end with it.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The graceful-shutdown community (RFC 8326) as [`PeerRoute::communities`] shows it.
pub const GRACEFUL_SHUTDOWN: &str = "65535:0";

/// A route as the peer (GoBGP) received it: the attributes route-maps change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRoute {
    /// The AS path, first AS first (`[65536]`; `[65536, 65536, 65536]` with two prepends).
    pub as_path: Vec<u32>,
    /// The standard communities as `high:low` (`"65535:0"`), in the order received.
    pub communities: Vec<String>,
    /// The MED, when the route carries one (FRR sends 0 when no route-map sets one).
    pub med: Option<u32>,
}

impl PeerRoute {
    /// Reads one path of GoBGP's JSON (`global rib -j`, `monitor ... -j`): `attrs` of type 2 (AS path), 4 (MED)
    /// and 8 (communities, 32-bit numbers).
    pub fn from_gobgp(path: &Value) -> PeerRoute {
        let attrs = path["attrs"].as_array().cloned().unwrap_or_default();
        let of_type = |t: u64| attrs.iter().find(|a| a["type"] == t);
        let numbers = |v: &Value| v.as_array().into_iter().flatten().filter_map(Value::as_u64).collect::<Vec<_>>();
        let as_path = of_type(2)
            .and_then(|a| a["as_paths"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .flat_map(|segment| numbers(&segment["asns"]))
            .map(|asn| asn as u32)
            .collect();
        let communities = of_type(8)
            .map(|a| numbers(&a["communities"]).iter().map(|c| format!("{}:{}", c >> 16, c & 0xffff)).collect())
            .unwrap_or_default();
        let med = of_type(4).and_then(|a| a["metric"].as_u64()).map(|m| m as u32);
        PeerRoute { as_path, communities, med }
    }

    /// Whether it carries community `community` (`"65535:0"`).
    pub fn has_community(&self, community: &str) -> bool {
        self.communities.iter().any(|c| c == community)
    }
}

impl std::fmt::Display for PeerRoute {
    /// `as-path 65536 65536 65536, MED 0, communities 65535:0`: one line of a timeline.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path: Vec<String> = self.as_path.iter().map(u32::to_string).collect();
        write!(f, "as-path {}", path.join(" "))?;
        if let Some(med) = self.med {
            write!(f, ", MED {med}")?;
        }
        if !self.communities.is_empty() {
            write!(f, ", communities {}", self.communities.join(" "))?;
        }
        Ok(())
    }
}

/// One change the peer saw, recorded by a [`PeerWatch`].
#[derive(Clone, Debug)]
pub struct PeerEvent {
    /// When the watch received it.
    pub at: SystemTime,
    /// The prefix (`203.0.113.53/32`).
    pub prefix: String,
    /// Whether it is a withdrawal (then `route` is the path withdrawn).
    pub withdrawn: bool,
    /// The path's attributes.
    pub route: PeerRoute,
}

impl std::fmt::Display for PeerEvent {
    /// `04:01:08.123Z  203.0.113.53/32  withdrawn` or `...  announced  as-path 65536, MED 50`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}  {}  ", clock(self.at), self.prefix)?;
        if self.withdrawn { write!(f, "withdrawn") } else { write!(f, "received   {}", self.route) }
    }
}

/// `at` as a UTC time of day with milliseconds: `04:01:08.123Z`.
pub fn clock(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (s, ms) = (since.as_secs() % 86_400, since.subsec_millis());
    format!("{:02}:{:02}:{:02}.{ms:03}Z", s / 3600, s / 60 % 60, s % 60)
}

/// The peer's route changes as they arrive (see [`Lab::watch_peer`]); stops `gobgp monitor` when dropped.
pub struct PeerWatch {
    child: Child,
    events: Arc<Mutex<Vec<PeerEvent>>>,
}

impl PeerWatch {
    /// Starts `gobgp monitor global rib` against the GoBGP of network namespace `ns`; returns once it has dumped the
    /// current routes, waiting with `ready`.
    pub(super) fn start(ns: &str, ready: Wait<'_>) -> PeerWatch {
        let port = GOBGP_API_PORT.to_string();
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "gobgp", "-u", "127.0.0.1", "-p", &port])
            .args(["monitor", "global", "rib", "--current", "-j"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gobgp monitor");
        let stdout = child.stdout.take().expect("gobgp monitor's stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::new(AtomicUsize::new(0));
        let (sink, seen) = (Arc::clone(&events), Arc::clone(&lines));
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let at = SystemTime::now();
                let Ok(Value::Array(paths)) = serde_json::from_str::<Value>(line.trim()) else { continue };
                let mut sink = sink.lock().expect("the peer watch's events");
                for path in &paths {
                    sink.push(PeerEvent {
                        at,
                        prefix: path["nlri"]["prefix"].as_str().unwrap_or_default().to_string(),
                        withdrawn: path["withdrawal"] == true,
                        route: PeerRoute::from_gobgp(path),
                    });
                }
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });
        let watch = PeerWatch { child, events };
        ready.until(|| (lines.load(Ordering::SeqCst) > 0).then_some(()));
        watch
    }

    /// Every change of `prefix` received so far, oldest first (the first may be the current route at the start).
    pub fn events(&self, prefix: &str) -> Vec<PeerEvent> {
        self.events.lock().expect("the peer watch's events").iter().filter(|e| e.prefix == prefix).cloned().collect()
    }

    /// Whether the peer has seen `prefix` withdrawn since the watch started.
    pub fn saw_withdrawal(&self, prefix: &str) -> bool {
        self.events(prefix).iter().any(|e| e.withdrawn)
    }

    /// The changes of `prefix`, one line each ([`PeerEvent`]'s display), for a timeline.
    pub fn timeline(&self, prefix: &str) -> String {
        self.events(prefix).iter().map(|e| format!("{e}\n")).collect()
    }
}

impl Drop for PeerWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
