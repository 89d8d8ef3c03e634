//! A real FRRouting and a real BGP peer (GoBGP), each in its own network namespace, one pair per test, on every FRR
//! release the lab supports.
//!
//! The recipe is `scripts/lab`, the same one a person runs by hand and the benchmark uses: it starts FRR (the
//! host's, or one from a cached Debian root) with `-N <name> --vty_socket <dir>` in one namespace, GoBGP listening
//! passively in a second one across a veth pair, and writes a `vtysh` wrapper that anycastd's config names (the
//! per-prefix `vtysh` key), so anycastd needs no test-only code. This file drives it and asserts on its results.
//!
//! Everything a lab creates carries its id `acd-t<pid>-<n>`: the namespaces, `/tmp/anycastd-lab-tests/<id>`, FRR's
//! path space. `Drop` runs `scripts/lab down`, also when the test panics; a later run removes what a killed run left
//! behind, recognised by the dead PID in the name. The lab needs root and network namespaces and panics loudly
//! without them: these tests must never pass by doing nothing.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anycastd::config::Vrf;
use anycastd::frr::RunningConfig;
use serde_json::Value;

/// The one lab recipe.
const LAB_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab");
/// Parent of every lab's directory.
const LAB_ROOT: &str = "/tmp/anycastd-lab-tests";
/// Every lab id starts with this, followed by the PID of the test process: `acd-t<pid>-<n>`.
const ID_PREFIX: &str = "acd-t";

/// GoBGP's gRPC API, inside the peer namespace.
const GOBGP_API_PORT: u16 = 50051;

/// AS of the default-VRF BGP instance in the starting config.
pub const DEFAULT_ASN: u32 = 65536;
/// AS of the `vrf 123` BGP instance in the starting config.
pub const VRF_ASN: u32 = 65537;
/// The VRF that has a BGP instance in the starting config.
pub const VRF: &str = "123";

/// Seed example: service `dns`, default VRF, IPv4.
pub const DNS_V4: &str = "203.0.113.53/32";
/// Seed example: service `dns`, default VRF, IPv6.
pub const DNS_V6: &str = "2001:db8::b19:bad:53/128";
/// Seed example: service `ntp`, VRF 123, IPv4.
pub const NTP_V4: &str = "203.0.113.123/32";
/// Seed example: service `ntp`, VRF 123, IPv6.
pub const NTP_V6: &str = "2001:db8::123:7e11:713e/128";
/// An operator's own `network` statement that anycastd does not manage (see [`LabBuilder::unmanaged_network`]).
pub const UNMANAGED: &str = "198.51.100.0/24";

/// How long to wait for BGP to show an effect before a test fails.
const DEADLINE: Duration = Duration::from_secs(20);
/// How often to look again while waiting.
const POLL: Duration = Duration::from_millis(100);
/// How long one anycastd command may take before the test fails.
const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

static NEXT_LAB: AtomicUsize = AtomicUsize::new(0);
static PREFLIGHT: Once = Once::new();

/// The FRR releases the lab supports: Debian 11's, 12's and 13's `frr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frr {
    /// FRR 7.5.1 (Debian 11, bullseye): no `exit` lines in the running config.
    V7_5,
    /// FRR 8.4.4 (Debian 12, bookworm): the host's.
    V8_4,
    /// FRR 10.3 (Debian 13, trixie): `vtysh -f` applies in parallel, one child per daemon; mgmtd.
    V10_3,
}

impl Frr {
    /// The version as `scripts/lab --frr` takes it.
    pub fn version(self) -> &'static str {
        match self {
            Frr::V7_5 => "7.5",
            Frr::V8_4 => "8.4",
            Frr::V10_3 => "10.3",
        }
    }
}

/// Generates one `#[test]` per supported FRR release for each named function `fn name(frr: Frr)`: the tests are
/// `name::frr_7_5`, `name::frr_8_4` and `name::frr_10_3`.
/// They need root and the lab, so they are ignored by a plain `cargo test`; `scripts/test` runs them.
macro_rules! on_every_frr {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::support::lab::Frr;

                #[test]
                #[ignore = "needs root and the lab: scripts/test runs it"]
                fn frr_7_5() {
                    super::$name(Frr::V7_5)
                }

                #[test]
                #[ignore = "needs root and the lab: scripts/test runs it"]
                fn frr_8_4() {
                    super::$name(Frr::V8_4)
                }

                #[test]
                #[ignore = "needs root and the lab: scripts/test runs it"]
                fn frr_10_3() {
                    super::$name(Frr::V10_3)
                }
            }
        )*
    };
}

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

/// Chooses the starting state of a lab; [`LabBuilder::start`] brings it up.
#[derive(Clone, Debug)]
pub struct LabBuilder {
    frr: Frr,
    unmanaged: Vec<String>,
}

impl LabBuilder {
    /// Adds an operator's own `network` statement to the default-VRF instance of the starting config, with a
    /// matching address on `lo` so that FRR really advertises it. anycastd must leave it alone.
    pub fn unmanaged_network(mut self, prefix: &str) -> Self {
        self.unmanaged.push(prefix.to_string());
        self
    }

    /// Runs `scripts/lab up`: creates the namespaces, starts GoBGP and FRR, loads the starting config and waits
    /// until the BGP session is established and the unmanaged IPv4 networks reached the peer. Panics with the
    /// script's reason when any step fails.
    pub fn start(self) -> Lab {
        preflight();
        let n = NEXT_LAB.fetch_add(1, Ordering::SeqCst);
        let id = format!("{ID_PREFIX}{}-{n}", std::process::id());
        // Built before anything exists, so that a panic half-way still runs `Drop` and removes what was created.
        let lab = Lab {
            frr_ns: format!("{id}-frr"),
            peer_ns: format!("{id}-peer"),
            dir: Path::new(LAB_ROOT).join(&id),
            id,
            frr: self.frr,
            runs: Cell::new(0),
        };
        let mut up = lab.script();
        up.args(["--frr", self.frr.version(), "up", "--no-cabourotte"]);
        for prefix in &self.unmanaged {
            up.args(["--unmanaged", prefix]);
        }
        lab.run_script(&mut up, "up");
        lab.wait_peer_has(&self.unmanaged.iter().map(String::as_str).collect::<Vec<_>>());
        lab
    }
}

/// One running lab. Dropping it tears everything down.
pub struct Lab {
    id: String,
    frr: Frr,
    frr_ns: String,
    peer_ns: String,
    /// The lab's directory (`scripts/lab --dir`): configs, wrappers, logs, anycastd's state dir and outputs.
    dir: PathBuf,
    runs: Cell<usize>,
}

impl Lab {
    /// A builder for a lab on `frr` with a different starting state.
    pub fn builder(frr: Frr) -> LabBuilder {
        LabBuilder { frr, unmanaged: Vec::new() }
    }

    /// A lab on `frr` with an operator's own network ([`UNMANAGED`]), configured with the seed example against
    /// `cabourotte_url`: the start of most scenarios.
    pub fn seed(frr: Frr, cabourotte_url: &str) -> Lab {
        let lab = Lab::builder(frr).unmanaged_network(UNMANAGED).start();
        lab.write_seed_config(cabourotte_url);
        lab
    }

    /// anycastd's `--state-dir` for this lab.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// Path of the `vtysh` wrapper that talks to this lab's FRR only; put it in the config's `vtysh` keys.
    pub fn vtysh_wrapper(&self) -> PathBuf {
        self.dir.join("vtysh")
    }

    /// Where `write memory` in this lab saves FRR's configuration (its `/etc/frr/<name>/frr.conf`, as the host sees
    /// it), read from the lab's settings.
    pub fn startup_config(&self) -> PathBuf {
        self.setting("FRR_STARTUP_CONFIG")
    }

    /// bgpd's pid file, as the host sees it: the `bgpd_pid_file` of the seed config.
    pub fn bgpd_pid_file(&self) -> PathBuf {
        self.setting("BGPD_PID_FILE")
    }

    /// The keys that put a prefix behind this lab's FRR: `vtysh = "..."`, and the `bgpd_pid_file` that `run` watches.
    pub fn vtysh_keys(&self) -> String {
        format!(
            "vtysh = \"{}\", bgpd_pid_file = \"{}\"",
            self.vtysh_wrapper().display(),
            self.bgpd_pid_file().display()
        )
    }

    /// A path setting of the lab, from its `lab.env`.
    fn setting(&self, key: &str) -> PathBuf {
        let settings = fs::read_to_string(self.dir.join("lab.env")).expect("read the lab's lab.env");
        let path = settings
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{key} in lab.env"));
        PathBuf::from(path.trim_matches('\''))
    }

    /// Path of the anycastd config file that [`Lab::write_config`] writes.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// Writes anycastd's config file.
    pub fn write_config(&self, toml: &str) {
        fs::write(self.config_path(), toml).expect("write the anycastd config of the lab");
    }

    /// Writes the seed example's config (services `dns` and `ntp`, checks `dns`, `ntp_v4`, `ntp_v6`), every prefix
    /// with this lab's vtysh wrapper and every check at `cabourotte_url`.
    pub fn write_seed_config(&self, cabourotte_url: &str) {
        self.write_config(&self.seed_config(cabourotte_url));
    }

    /// The seed example's config text for this lab (see [`Lab::write_seed_config`]).
    pub fn seed_config(&self, cabourotte_url: &str) -> String {
        let k = self.vtysh_keys();
        let u = cabourotte_url;
        format!(
            r#"[services.dns]
prefixes.frrouting = [
    {{ prefix = "203.0.113.53", {k} }},
    {{ prefix = "2001:db8::b19:bad:53", {k} }},
]
checks.cabourotte = [{{ name = "dns", url = "{u}" }}]

[services.ntp]
prefixes.frrouting = [
    {{ prefix = "203.0.113.123", vrf = "{VRF}", {k} }},
    {{ prefix = "2001:db8::123:7e11:713e", vrf = "{VRF}", {k} }},
]
checks.cabourotte = [{{ name = "ntp_v4", url = "{u}" }}, {{ name = "ntp_v6", url = "{u}" }}]
"#
        )
    }

    /// Runs vtysh against this lab's FRR with one `-c` per command; panics when vtysh fails. Returns stdout.
    pub fn vtysh<S: AsRef<str> + std::fmt::Debug>(&self, commands: &[S]) -> String {
        let output = self.try_vtysh(commands);
        assert!(
            output.status.success(),
            "lab {} (FRR {}): vtysh {commands:?} failed ({}):\n{}{}",
            self.id,
            self.frr.version(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs vtysh against this lab's FRR with one `-c` per command, whatever the outcome.
    pub fn try_vtysh<S: AsRef<str>>(&self, commands: &[S]) -> std::process::Output {
        let mut command = Command::new(self.dir.join("frr-vtysh"));
        for c in commands {
            command.arg("-c").arg(c.as_ref());
        }
        command.stdin(Stdio::null()).output().expect("run the lab's frr-vtysh")
    }

    /// FRR's `show running-config`.
    pub fn running_config(&self) -> String {
        self.vtysh(&["show running-config"])
    }

    /// The `network` prefixes of the BGP instance of `vrf` (`None`: the default VRF) in FRR's running config.
    pub fn networks(&self, vrf: Option<&str>) -> BTreeSet<String> {
        networks_in(&self.running_config(), vrf)
    }

    /// The header lines of every BGP instance in FRR's running config (`router bgp 65537 vrf 123`, ...).
    pub fn bgp_instances(&self) -> Vec<String> {
        bgp_instances_in(&self.running_config())
    }

    /// Adds `network <prefix>` to the BGP instance of `vrf` by hand, as an operator would.
    pub fn add_network(&self, vrf: Option<&str>, prefix: &str) {
        self.vtysh(&network_commands(vrf, prefix, ""));
    }

    /// Removes `network <prefix>` from the BGP instance of `vrf` by hand, as an operator would.
    pub fn remove_network(&self, vrf: Option<&str>, prefix: &str) {
        self.vtysh(&network_commands(vrf, prefix, "no "));
    }

    /// Puts `prefix` on `lo` in the FRR namespace, so that FRR's import check lets a `network` for it be advertised.
    pub fn add_service_address(&self, prefix: &str) {
        let family = if Afi::of(prefix) == Afi::Ipv6 { "-6" } else { "-4" };
        run_ok(Command::new("ip").args(["-n", &self.frr_ns, family, "addr", "add", prefix, "dev", "lo"]));
    }

    /// The prefixes GoBGP received in `afi`.
    pub fn peer_prefixes(&self, afi: Afi) -> BTreeSet<String> {
        self.try_peer_prefixes(afi)
            .unwrap_or_else(|| panic!("lab {}: cannot read GoBGP's {afi:?} RIB\n{}", self.id, self.diagnosis()))
    }

    fn try_peer_prefixes(&self, afi: Afi) -> Option<BTreeSet<String>> {
        let out = self.try_gobgp(&["global", "rib", "-a", afi.gobgp_name(), "-j"])?;
        let rib: Value = serde_json::from_str(out.trim()).ok()?;
        Some(rib.as_object().map(|routes| routes.keys().cloned().collect()).unwrap_or_default())
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

    /// Defines route-maps in the lab's FRR, as an operator would: `lines` are what follows `configure terminal`
    /// (`route-map NAME permit 10`, ` set metric 50`, ...). They are appended to the lab's starting config too, so
    /// that [`Lab::restart_frr`] keeps them. Define them before anycastd names them on a `network` line: FRR applies
    /// a change to a route-map already in use only after its route-map delay timer (about 5 s).
    pub fn define_route_maps(&self, lines: &[&str]) {
        let mut commands = vec!["configure terminal"];
        commands.extend(lines.iter().map(|l| l.trim()));
        self.vtysh(&commands);
        let mut starting = fs::read_to_string(self.dir.join("frr.conf")).expect("read the lab's frr.conf");
        for line in lines {
            starting.push_str(line);
            starting.push('\n');
        }
        starting.push_str("!\n");
        fs::write(self.dir.join("frr.conf"), starting).expect("write the lab's frr.conf");
    }

    /// The `network` line of `prefix` in FRR's running config, trimmed (`network 203.0.113.53/32 route-map
    /// ANYCAST-OUT`), from the BGP instance of `vrf` (`None`: the default VRF); `None` when FRR has no such network.
    pub fn network_line(&self, vrf: Option<&str>, prefix: &str) -> Option<String> {
        network_line_in(&self.running_config(), vrf, prefix)
    }

    /// The route the peer received for `prefix` (its best path), with the attributes tests look at.
    pub fn peer_route(&self, prefix: &str) -> Option<PeerRoute> {
        let out = self.try_gobgp(&["global", "rib", "-a", Afi::of(prefix).gobgp_name(), "-j"])?;
        let rib: Value = serde_json::from_str(out.trim()).ok()?;
        let paths = rib.get(prefix)?.as_array()?;
        let best = paths.iter().find(|p| p["best"] == true).or_else(|| paths.first())?;
        Some(PeerRoute::from_gobgp(best))
    }

    /// Waits until the peer has a route for `prefix` whose attributes satisfy `condition`, and returns it; panics
    /// after the deadline with the route the peer last had and the state of FRR and GoBGP.
    #[track_caller]
    pub fn wait_peer_route(&self, prefix: &str, condition: impl Fn(&PeerRoute) -> bool) -> PeerRoute {
        let start = Instant::now();
        loop {
            let route = self.peer_route(prefix);
            if let Some(route) = route.as_ref().filter(|r| condition(r)) {
                return route.clone();
            }
            if start.elapsed() > DEADLINE {
                panic!(
                    "lab {} (FRR {}): timed out after {DEADLINE:?} waiting for the peer's route {prefix} to match; it \
                     last was {route:?}\n{}",
                    self.id,
                    self.frr.version(),
                    self.diagnosis()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Starts recording every route change the peer sees, IPv4 and IPv6 (`gobgp monitor global rib`), with the
    /// time each arrived; returns once the recording runs (it has received the peer's current routes, which it
    /// keeps as its first events). Stops when dropped.
    pub fn watch_peer(&self) -> PeerWatch {
        let port = GOBGP_API_PORT.to_string();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.peer_ns, "gobgp", "-u", "127.0.0.1", "-p", &port])
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
        self.wait_until("gobgp monitor has dumped the peer's routes", || lines.load(Ordering::SeqCst) > 0);
        watch
    }

    /// Whether GoBGP reports the session with FRR as established.
    pub fn session_established(&self) -> bool {
        let Some(out) = self.try_gobgp(&["neighbor", "-j"]) else { return false };
        let Ok(neighbors) = serde_json::from_str::<Value>(out.trim()) else { return false };
        neighbors.as_array().is_some_and(|all| {
            all.iter().any(|n| {
                let state = &n["state"]["session_state"];
                state == 6 || state.as_str().is_some_and(|s| s.eq_ignore_ascii_case("established"))
            })
        })
    }

    /// Kills FRR's daemons and starts them again with the starting config (anything added since is gone, as after
    /// a reboot); returns once the BGP session is established again.
    pub fn restart_frr(&mut self) {
        self.run_script(self.script().arg("frr-restart"), "frr-restart");
    }

    /// Kills bgpd only (the other daemons keep running) and returns once GoBGP has noticed. vtysh then shows a
    /// running config without any `router bgp` block and fails every BGP command; [`Lab::restart_frr`] repairs it.
    pub fn stop_bgpd(&mut self) {
        self.run_script(self.script().args(["frr-stop", "bgpd"]), "frr-stop bgpd");
    }

    /// Makes the vtysh wrapper fail every call that is not a pure `show` (anycastd's writes), printing an error
    /// on stderr and exiting 1 without reaching FRR; `false` lets them through again.
    pub fn fail_vtysh_writes(&self, fail: bool) {
        let flag = self.dir.join("fail-writes");
        if fail {
            fs::write(&flag, "").expect("create the fail-writes flag");
        } else {
            let _ = fs::remove_file(&flag);
        }
    }

    /// Runs these vtysh commands against FRR once, right before the next write that goes through the wrapper:
    /// a concurrent change by someone else between anycastd's read of the running config and its batch.
    pub fn before_next_write(&self, commands: &[&str]) {
        let mut script = String::from("#!/bin/sh\n");
        let _ = write!(script, "exec '{}'", self.dir.join("frr-vtysh").display());
        for c in commands {
            let _ = write!(script, " -c '{c}'");
        }
        script.push_str(" >/dev/null\n");
        let hook = self.dir.join("before-write");
        fs::write(&hook, script).expect("write the before-write hook");
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).expect("make the before-write hook executable");
    }

    /// Makes the next write through the wrapper slow: it marks that it started (see [`Lab::write_started`]), then
    /// waits `delay` before reaching FRR, like a vtysh stuck behind a busy bgpd.
    pub fn slow_next_write(&self, delay: Duration) {
        let started = self.dir.join("write-started");
        let _ = fs::remove_file(&started);
        let script = format!("#!/bin/sh\ntouch '{}'\nsleep {}\n", started.display(), delay.as_secs_f64());
        let hook = self.dir.join("before-write");
        fs::write(&hook, script).expect("write the before-write hook");
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).expect("make the before-write hook executable");
    }

    /// Whether the slow write of [`Lab::slow_next_write`] has started.
    pub fn write_started(&self) -> bool {
        self.dir.join("write-started").exists()
    }

    /// The vtysh calls anycastd made through the wrapper so far, one argument line each.
    pub fn vtysh_calls(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("vtysh-calls")).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// Starts building an anycastd command with this lab's config and state dir.
    pub fn anycastd<I, S>(&self, args: I) -> Anycastd<'_>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Anycastd { lab: self, args: args.into_iter().map(Into::into).collect(), json: false, open_files: None }
    }

    /// Polls `condition` until it holds; after the deadline panics with `what` and the state of FRR and GoBGP.
    #[track_caller]
    pub fn wait_until(&self, what: &str, mut condition: impl FnMut() -> bool) {
        let start = Instant::now();
        loop {
            if condition() {
                return;
            }
            if start.elapsed() > DEADLINE {
                panic!(
                    "lab {} (FRR {}): timed out after {DEADLINE:?} waiting until {what}\n{}",
                    self.id,
                    self.frr.version(),
                    self.diagnosis()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// FRR's running config, GoBGP's neighbors and RIB and the end of GoBGP's log, for failure messages.
    pub fn diagnosis(&self) -> String {
        let config = self.try_vtysh(&["show running-config"]);
        let log = fs::read_to_string(self.dir.join("gobgpd.log")).unwrap_or_default();
        let log_tail: Vec<&str> = log.lines().rev().take(10).collect();
        format!(
            "--- FRR running config ---\n{}{}--- GoBGP neighbors ---\n{}\n--- GoBGP RIB (IPv4, IPv6) ---\n{:?}\n--- GoBGP log (last lines, newest first) ---\n{}",
            String::from_utf8_lossy(&config.stdout),
            String::from_utf8_lossy(&config.stderr),
            self.try_gobgp(&["neighbor"]).unwrap_or_else(|| "(gobgp failed)".into()),
            [Afi::Ipv4, Afi::Ipv6].map(|afi| self.try_peer_prefixes(afi)),
            log_tail.join("\n"),
        )
    }

    fn try_gobgp(&self, args: &[&str]) -> Option<String> {
        let port = GOBGP_API_PORT.to_string();
        let mut all = vec!["netns", "exec", &self.peer_ns, "gobgp", "-u", "127.0.0.1", "-p", &port];
        all.extend_from_slice(args);
        let output = Command::new("ip").args(&all).stdin(Stdio::null()).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `scripts/lab` for this lab (its directory and namespace names), ready for a command.
    fn script(&self) -> Command {
        script_for(&self.dir, &self.id)
    }

    /// Runs a `scripts/lab` command of this lab; panics with what it printed when it fails.
    fn run_script(&self, command: &mut Command, what: &str) {
        let output = command.stdin(Stdio::null()).output().expect("run scripts/lab");
        assert!(
            output.status.success(),
            "lab {} (FRR {}): scripts/lab {what} failed ({}):\n{}{}",
            self.id,
            self.frr.version(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The anycastd binary's output files for the next run.
    fn next_run_files(&self) -> (PathBuf, PathBuf) {
        let n = self.runs.get();
        self.runs.set(n + 1);
        (self.dir.join(format!("run-{n}.stdout")), self.dir.join(format!("run-{n}.stderr")))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        tear_down(&self.dir, &self.id);
    }
}

/// An anycastd command about to run against a lab (see [`Lab::anycastd`]).
pub struct Anycastd<'a> {
    lab: &'a Lab,
    args: Vec<String>,
    json: bool,
    /// The most file descriptors the process may have open (`RLIMIT_NOFILE`), when not the test's own.
    open_files: Option<u64>,
}

impl Anycastd<'_> {
    /// Adds `--format json` (before the command).
    pub fn json(mut self) -> Self {
        self.json = true;
        self
    }

    /// Runs it with at most `limit` open file descriptors, as a unit's `LimitNOFILE=` would (its vtysh children
    /// inherit the limit).
    pub fn open_files(mut self, limit: u64) -> Self {
        self.open_files = Some(limit);
        self
    }

    fn command(&self) -> (Command, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_anycastd"));
        if let Some(limit) = self.open_files {
            use std::os::unix::process::CommandExt;
            let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            // SAFETY: between fork and exec the closure only calls setrlimit, which is async-signal-safe.
            unsafe {
                command.pre_exec(move || match libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                });
            }
        }
        command.arg("-c").arg(self.lab.config_path()).arg("--state-dir").arg(self.lab.state_dir());
        if self.json {
            command.args(["--format", "json"]);
        }
        command.args(&self.args).env("NO_COLOR", "1").stdin(Stdio::null());
        let shown = format!("anycastd{} {}", if self.json { " --format json" } else { "" }, self.args.join(" "));
        (command, shown)
    }

    /// Runs it to completion (panics after a minute) and returns what it did.
    pub fn run(self) -> Outcome {
        let running = self.spawn();
        running.wait(COMMAND_DEADLINE)
    }

    /// Starts it in the background (for `run`); the process is killed if the [`Running`] is dropped first.
    pub fn spawn(self) -> Running {
        let (mut command, shown) = self.command();
        let (stdout, stderr) = self.lab.next_run_files();
        command.stdout(fs::File::create(&stdout).expect("create a stdout file"));
        command.stderr(fs::File::create(&stderr).expect("create a stderr file"));
        let child = command.spawn().expect("start the anycastd binary");
        Running { child: Some(child), command: shown, stdout, stderr }
    }
}

/// An anycastd process started by [`Anycastd::spawn`]; killed when dropped, so a failing test leaves nothing behind.
pub struct Running {
    child: Option<Child>,
    command: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Running {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Sends `signal` (`"TERM"`, `"INT"`, ...).
    pub fn signal(&self, signal: &str) {
        run_ok(Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()));
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(self, deadline: Duration) -> Outcome {
        self.signal("TERM");
        self.wait(deadline)
    }

    /// Waits for the exit; after `deadline` kills it and panics with what it printed so far.
    pub fn wait(mut self, deadline: Duration) -> Outcome {
        let start = Instant::now();
        let mut child = self.child.take().expect("a running child");
        let status: ExitStatus = loop {
            if let Some(status) = child.try_wait().expect("wait for anycastd") {
                break status;
            }
            if start.elapsed() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`{}` did not exit within {deadline:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.command,
                    fs::read_to_string(&self.stdout).unwrap_or_default(),
                    fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Outcome {
            command: self.command.clone(),
            code: status.code(),
            stdout: fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: fs::read_to_string(&self.stderr).unwrap_or_default(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!(
                    "`{}` was still running when the test failed; it printed:\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.command,
                    fs::read_to_string(&self.stdout).unwrap_or_default(),
                    fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
        }
    }
}

/// What a finished anycastd command did.
#[derive(Debug)]
pub struct Outcome {
    /// The command line, for messages.
    pub command: String,
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

/// The counts of anycastd's JSON `summary` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Prefixes to announce / announced.
    pub announce: u64,
    /// Prefixes to withdraw / withdrawn.
    pub withdraw: u64,
    /// Prefixes already as they should be.
    pub unchanged: u64,
    /// Prefixes that could not be handled.
    pub errors: u64,
}

impl Outcome {
    /// Panics, showing everything anycastd printed, unless it exited with `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "`{}` exited with {:?}, expected {code}\n{}", self.command, self.code, self);
        self
    }

    /// stdout and stderr together (for "the output names X" assertions).
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout of `{}` is not JSON ({e})\n{self}", self.command))
    }

    /// The JSON `summary` counts.
    #[track_caller]
    pub fn summary(&self) -> Summary {
        let json = self.json();
        let count = |key: &str| {
            json["summary"][key]
                .as_u64()
                .unwrap_or_else(|| panic!("`{}`: no count summary.{key} in the JSON output\n{self}", self.command))
        };
        Summary {
            announce: count("announce"),
            withdraw: count("withdraw"),
            unchanged: count("unchanged"),
            errors: count("errors"),
        }
    }

    /// The object anycastd reports for `prefix` (in any VRF) in its JSON output, with or without a length
    /// (`current`, `route_map`, `action`, `error`, ...).
    #[track_caller]
    pub fn prefix(&self, prefix: &str) -> Value {
        let json = self.json();
        let bare = prefix.split('/').next().unwrap_or(prefix);
        json["services"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["prefixes"].as_array().into_iter().flatten())
            .find(|p| p["prefix"].as_str().is_some_and(|q| q == prefix || q == bare))
            .cloned()
            .unwrap_or_else(|| panic!("`{}`: no prefix {prefix} in the JSON output\n{self}", self.command))
    }

    /// One count of the JSON `summary` (`"drain"`, `"restore"`, ...).
    #[track_caller]
    pub fn count(&self, key: &str) -> u64 {
        self.json()["summary"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("`{}`: no count summary.{key} in the JSON output\n{self}", self.command))
    }

    /// The `action` anycastd reports for `prefix` (in any VRF) in its JSON output, with or without a length.
    #[track_caller]
    pub fn action(&self, prefix: &str) -> String {
        let found = self.prefix(prefix);
        let action = found["action"].as_str();
        action
            .unwrap_or_else(|| panic!("`{}`: no action for {prefix} in the JSON output\n{self}", self.command))
            .to_string()
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--- stdout ---\n{}\n--- stderr ---\n{}", self.stdout, self.stderr)
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
    fn from_gobgp(path: &Value) -> PeerRoute {
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

/// The trimmed `network <prefix> ...` line in the BGP instance of `vrf` (`None`: the default VRF) of a running
/// config, read from the text itself (`router bgp ASN [vrf NAME]` blocks).
pub fn network_line_in(running_config: &str, vrf: Option<&str>, prefix: &str) -> Option<String> {
    let mut in_instance = false;
    for line in running_config.lines() {
        if !line.starts_with(char::is_whitespace) {
            let words: Vec<&str> = line.split_whitespace().collect();
            in_instance = match words[..] {
                ["router", "bgp", _] => vrf.is_none(),
                ["router", "bgp", _, "vrf", name] => vrf == Some(name),
                _ => false,
            };
            continue;
        }
        let trimmed = line.trim();
        let mut words = trimmed.split_whitespace();
        if in_instance && words.next() == Some("network") && words.next() == Some(prefix) {
            return Some(trimmed.to_string());
        }
    }
    None
}

/// The `network` prefixes (IPv4 and IPv6 unicast) in the BGP instance of `vrf` (`None`: the default VRF) of a running
/// config, read by anycastd's own parser.
pub fn networks_in(running_config: &str, vrf: Option<&str>) -> BTreeSet<String> {
    let parsed = RunningConfig::parse(running_config)
        .unwrap_or_else(|error| panic!("FRR's running config does not parse ({error}):\n{running_config}"));
    let vrf = vrf.map_or(Some(Vrf::Default), Vrf::parse).expect("a valid VRF name");
    parsed
        .instance(&vrf)
        .map(|instance| instance.networks.keys().map(ToString::to_string).collect())
        .unwrap_or_default()
}

/// The header lines of every BGP instance in a running config.
pub fn bgp_instances_in(running_config: &str) -> Vec<String> {
    running_config.lines().filter(|l| l.starts_with("router bgp")).map(|l| l.trim_end().to_string()).collect()
}

/// vtysh commands that add (`no_` empty) or remove (`no_` = `"no "`) a network in the instance of `vrf`.
fn network_commands(vrf: Option<&str>, prefix: &str, no_: &str) -> Vec<String> {
    let router = match vrf {
        None => format!("router bgp {DEFAULT_ASN}"),
        Some(v) if v == VRF => format!("router bgp {VRF_ASN} vrf {v}"),
        Some(v) => panic!("the lab has no BGP instance for VRF {v}"),
    };
    let af = match Afi::of(prefix) {
        Afi::Ipv4 => "address-family ipv4 unicast",
        Afi::Ipv6 => "address-family ipv6 unicast",
    };
    vec!["configure terminal".into(), router, af.into(), format!("{no_}network {prefix}")]
}

/// `scripts/lab --dir DIR --name ID`, ready for a command.
fn script_for(dir: &Path, id: &str) -> Command {
    let mut command = Command::new("bash");
    command.arg(LAB_SCRIPT).arg("--dir").arg(dir).args(["--name", id]);
    command
}

/// Removes everything lab `id` created (`scripts/lab down`). Never panics: it runs in `Drop`.
fn tear_down(dir: &Path, id: &str) {
    let _ = script_for(dir, id).arg("down").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Checks once per test process that the lab can work here, and removes what dead earlier runs left behind.
fn preflight() {
    PREFLIGHT.call_once(|| {
        let uid = fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| l.strip_prefix("Uid:").map(|r| r.split_whitespace().nth(1).map(str::to_string)))
            })
            .flatten();
        if uid.as_deref() != Some("0") {
            panic!(
                "the FRR lab tests need root (uid 0, not {}): they create network namespaces and run FRR and GoBGP \
                 in them. Run them as root (CI does), or run only the other tests with `scripts/test --no-lab`",
                uid.as_deref().unwrap_or("unknown")
            );
        }
        remove_stale_labs();
    });
}

/// Removes the labs of test processes that are gone (killed before `Drop` ran), found by the PID in their id.
fn remove_stale_labs() {
    let me = std::process::id();
    let mut ids = BTreeSet::new();
    if let Ok(out) = Command::new("ip").args(["netns", "list"]).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let ns = line.split_whitespace().next().unwrap_or_default();
            if let Some(id) = ns.strip_suffix("-frr").or_else(|| ns.strip_suffix("-peer")) {
                ids.insert(id.to_string());
            }
        }
    }
    if let Ok(entries) = fs::read_dir(LAB_ROOT) {
        ids.extend(entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
    }
    for id in ids {
        let pid = id.strip_prefix(ID_PREFIX).and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| pid != me && !pid_alive(pid)) {
            tear_down(&Path::new(LAB_ROOT).join(&id), &id);
        }
    }
}

/// Whether `pid` is a live process (a zombie counts as gone).
fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself contain ") ".
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

fn run_ok(command: &mut Command) {
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
