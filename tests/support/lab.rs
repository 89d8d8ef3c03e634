//! A real FRRouting and a real BGP peer (GoBGP), each in its own network namespace, one pair per test, on every FRR
//! release the lab supports.
//!
//! The recipe is `scripts/lab`, the same one a person runs by hand and the benchmark uses: it starts FRR (the
//! host's, or one from a cached Debian root) with `-N <name> --vty_socket <dir>` in one namespace, GoBGP listening
//! passively in a second one across a veth pair, and writes a `vtysh` wrapper that anycastd's config names (the
//! per-prefix `vtysh` key), so anycastd needs no test-only code. This file drives the lab's life and its FRR; the
//! peer is in `peer.rs`, the running-config readers in `running_config.rs`, and anycastd runs through
//! [`Lab::anycastd`] (`anycastd.rs`).
//!
//! Everything a lab creates carries its id `acd-t<pid>-<n>`: the namespaces, `/tmp/anycastd-lab-tests/<id>`, FRR's
//! path space. `Drop` runs `scripts/lab down`, also when the test panics; a later run removes what a killed run left
//! behind, recognised by the dead PID in the name. The lab needs root and network namespaces and panics loudly
//! without them: these tests must never pass by doing nothing.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::anycastd::Anycastd;
use super::peer::Afi;
use super::running_config::{bgp_instances_in, network_line_in, networks_in};
use super::wait::Wait;

/// The one lab recipe.
const LAB_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab");
/// Parent of every lab's directory.
const LAB_ROOT: &str = "/tmp/anycastd-lab-tests";
/// Every lab id starts with this, followed by the PID of the test process: `acd-t<pid>-<n>`.
const ID_PREFIX: &str = "acd-t";

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
    /// The peer's namespace, where GoBGP runs (`peer.rs`).
    pub(super) peer_ns: String,
    /// The lab's directory (`scripts/lab --dir`): configs, wrappers, logs, anycastd's state dir and outputs.
    dir: PathBuf,
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

    /// The network namespace FRR runs in: where a node's anycastd runs too, to put service addresses on the `lo`
    /// that FRR sees (see [`Anycastd::in_namespace`]).
    pub fn frr_namespace(&self) -> &str {
        &self.frr_ns
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

    /// Polls `condition` until it holds; after the deadline panics with `what` and the state of FRR and GoBGP.
    #[track_caller]
    pub fn wait_until(&self, what: &str, mut condition: impl FnMut() -> bool) {
        self.wait(what).until(|| condition().then_some(()));
    }

    /// A [`Wait`] of this lab: BGP's pace and deadline, and a failure that shows FRR's and GoBGP's state.
    pub(super) fn wait<'a>(&'a self, what: &'a str) -> Wait<'a> {
        Wait::new(what).deadline(DEADLINE).poll(POLL).diagnosis(|| self.failure_context())
    }

    /// Which lab failed, and [`Lab::diagnosis`].
    pub(super) fn failure_context(&self) -> String {
        format!("lab {} (FRR {})\n{}", self.id, self.frr.version(), self.diagnosis())
    }

    /// Starts building an anycastd command with this lab's config and state dir, and `args`.
    pub fn anycastd<I, S>(&self, args: I) -> Anycastd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Anycastd::in_lab(self).args(args)
    }

    /// The lab's directory (`scripts/lab --dir`): configs, wrappers, logs, anycastd's state dir and outputs.
    pub fn dir(&self) -> &Path {
        &self.dir
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
}

impl Drop for Lab {
    fn drop(&mut self) {
        tear_down(&self.dir, &self.id);
    }
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
