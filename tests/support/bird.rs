//! The BIRD lab: a real BIRD of each supported release in a network namespace, BGP to a real GoBGP peer
//! (`scripts/bird-lab`, which also builds the Debian 13 roots), the fake Cabourotte, and anycastd run against them as
//! an operator would, with the configuration's `prefixes.bird` pointing at the lab's control socket and file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::cabourotte::FakeCabourotte;
use super::peer::{PeerRoute, PeerWatch, gobgp, session_established};
use super::wait::Wait;

/// The BIRD releases the lab supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bird {
    /// Debian 12's bird2, the host's.
    V2_0,
    /// Debian 13's bird2.
    V2_17,
    /// Debian 13's bird3.
    V3_1,
}

impl Bird {
    fn release(self) -> &'static str {
        match self {
            Bird::V2_0 => "2.0",
            Bird::V2_17 => "2.17",
            Bird::V3_1 => "3.1",
        }
    }
}

/// The operator's own route, which anycastd never touches.
pub const OPERATOR_OWN: &str = "198.51.100.0/24";

/// One service of the lab's configuration, checked by the fake Cabourotte's check of the same name.
pub struct Service<'a> {
    pub name: &'a str,
    /// Its `prefixes.bird`: TOML tables without the braces, nor the socket and file, which the lab adds.
    pub prefixes: &'a [&'a str],
    /// More keys of the service, one per line (`"rise = 2\nfall = 2"`), or none.
    pub keys: &'a str,
}

/// One BIRD lab, torn down when dropped.
pub struct BirdLab {
    bird: Bird,
    name: String,
    dir: PathBuf,
    /// The fake Cabourotte, every check healthy until told otherwise.
    pub cabourotte: FakeCabourotte,
}

impl BirdLab {
    /// Starts BIRD `bird` and its peer, and waits for the BGP session.
    pub fn start(bird: Bird) -> BirdLab {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("b{}x{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bird-lab");
        let output = Command::new(&script).args(["up", bird.release(), &name]).output().expect("scripts/bird-lab up");
        let lab_down = || {
            let _ = Command::new(&script).args(["down", bird.release(), &name]).output();
        };
        if !output.status.success() {
            lab_down();
            panic!("scripts/bird-lab up {}: {}", bird.release(), String::from_utf8_lossy(&output.stderr));
        }
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        let cabourotte = FakeCabourotte::start();
        cabourotte.healthy("dns");
        BirdLab { bird, name, dir, cabourotte }
    }

    /// BIRD's control socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("bird.ctl")
    }

    /// The file anycastd owns, which the lab's bird.conf includes.
    pub fn file(&self) -> PathBuf {
        self.dir.join("anycastd/anycastd.conf")
    }

    /// A configuration whose one service, `dns`, has `prefixes` (see [`Service::prefixes`]).
    pub fn write_config(&self, prefixes: &[&str]) {
        self.write_services(&[Service { name: "dns", prefixes, keys: "" }]);
    }

    /// A configuration of `services`, whose prefixes all go to the lab's BIRD.
    pub fn write_services(&self, services: &[Service]) {
        let place = format!("socket = \"{}\", file = \"{}\"", self.socket().display(), self.file().display());
        let url = self.cabourotte.url();
        let toml: String = services
            .iter()
            .map(|Service { name, prefixes, keys }| {
                let tables: Vec<String> = prefixes.iter().map(|prefix| format!("{{ {prefix}, {place} }}")).collect();
                let tables = tables.join(", ");
                format!(
                    "[services.{name}]\nprefixes.bird = [{tables}]\n\
                     checks.cabourotte = [{{ name = \"{name}\", url = \"{url}\" }}]\n{keys}\n"
                )
            })
            .collect();
        std::fs::write(self.dir.join("anycastd.toml"), toml).expect("write the configuration");
    }

    /// A configuration of `toml` as it is (one without `prefixes.bird`, say).
    pub fn write_config_text(&self, toml: &str) {
        std::fs::write(self.dir.join("anycastd.toml"), toml).expect("write the configuration");
    }

    /// Starts `anycastd run` with the lab's configuration, its checks asked every second.
    pub fn spawn_run(&self) -> std::process::Child {
        let config = self.dir.join("anycastd.toml");
        let text = std::fs::read_to_string(&config).expect("the configuration");
        std::fs::write(&config, text.replace(", url = ", ", interval = 1, url = ")).expect("interval 1");
        self.command(&["run"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("anycastd run")
    }

    /// Runs anycastd with the lab's configuration and a state directory of its own.
    pub fn anycastd(&self, args: &[&str]) -> Output {
        printed(self.command(args), args)
    }

    /// [`BirdLab::anycastd`] inside BIRD's network namespace, where it changes the `lo` BIRD's host has (a
    /// prefix's `interface`).
    pub fn anycastd_in_namespace(&self, args: &[&str]) -> Output {
        printed(super::anycastd::in_namespace(&self.command(args), &self.namespace()), args)
    }

    /// anycastd with `args`, the lab's configuration and its state directory, to run or spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_anycastd"));
        command
            .arg("-c")
            .arg(self.dir.join("anycastd.toml"))
            .arg("--state-dir")
            .arg(self.dir.join("state"))
            .args(args)
            .env_remove("ANYCASTD_CONFIG")
            .env_remove("ANYCASTD_STATE_DIR");
        command
    }

    /// The network namespace BIRD runs in: where a node's anycastd runs too, to put service addresses on the `lo`
    /// that BIRD's host has (see [`super::anycastd::in_namespace`]).
    pub fn namespace(&self) -> String {
        format!("acd-{}-b", self.name)
    }

    /// The peer's network namespace.
    fn peer_ns(&self) -> String {
        format!("acd-{}-p", self.name)
    }

    /// Runs `gobgp` against the peer; its output, empty when it failed.
    fn peer(&self, args: &[&str]) -> String {
        gobgp(&self.peer_ns(), args).unwrap_or_default()
    }

    /// Every route the peer has, IPv4 and IPv6, with its attributes.
    pub fn peer_routes(&self) -> BTreeMap<String, PeerRoute> {
        let mut routes = BTreeMap::new();
        for family in ["ipv4", "ipv6"] {
            let json: Value =
                serde_json::from_str(&self.peer(&["global", "rib", "-a", family, "-j"])).unwrap_or_default();
            for (prefix, paths) in json.as_object().into_iter().flatten() {
                if let Some(path) = paths.as_array().and_then(|paths| paths.first()) {
                    routes.insert(prefix.clone(), PeerRoute::from_gobgp(path));
                }
            }
        }
        routes
    }

    /// Waits until the peer has exactly `prefixes`; returns its routes then.
    pub fn wait_peer_has(&self, prefixes: &[&str]) -> BTreeMap<String, PeerRoute> {
        let mut wanted: Vec<&str> = prefixes.to_vec();
        wanted.sort();
        Wait::new(&format!("the peer has exactly {wanted:?}")).deadline(Duration::from_secs(10)).until(|| {
            let routes = self.peer_routes();
            (routes.keys().map(String::as_str).collect::<Vec<_>>() == wanted).then_some(routes)
        })
    }

    /// Starts recording every route change the peer sees (see [`PeerWatch`]).
    pub fn watch_peer(&self) -> PeerWatch {
        PeerWatch::start(&self.peer_ns(), Wait::new("gobgp monitor has dumped the peer's routes"))
    }

    /// The BGP session as the peer sees it: when it was established (a Unix time, the same while it stays up), and
    /// how many OPEN messages it has received (one per session set up).
    pub fn session(&self) -> (u64, u64) {
        let json: Value = serde_json::from_str(&self.peer(&["neighbor", "-j"])).unwrap_or_default();
        let neighbor = &json[0];
        let uptime = neighbor["timers"]["state"]["uptime"]["seconds"].as_u64().unwrap_or_default();
        let opens = neighbor["state"]["messages"]["received"]["open"].as_u64().unwrap_or_default();
        (uptime, opens)
    }

    /// Appends an unfinished block to bird.conf, as an operator's half-done edit: BIRD can no longer reconfigure.
    pub fn break_bird_conf(&self) {
        let conf = self.dir.join("bird.conf");
        let mut text = std::fs::read_to_string(&conf).expect("bird.conf");
        text.push_str("protocol static half_done {\n");
        std::fs::write(conf, text).expect("break bird.conf");
    }

    /// Removes what [`BirdLab::break_bird_conf`] added.
    pub fn fix_bird_conf(&self) {
        let conf = self.dir.join("bird.conf");
        let text = std::fs::read_to_string(&conf).expect("bird.conf");
        std::fs::write(conf, text.replace("protocol static half_done {\n", "")).expect("fix bird.conf");
    }

    /// Removes the declaration of the drain mark from bird.conf, and has BIRD load it.
    pub fn remove_drain_mark(&self) {
        let conf = self.dir.join("bird.conf");
        let text = std::fs::read_to_string(&conf).expect("bird.conf");
        let without = text
            .replace("attribute int anycastd_draining;\n", "")
            .replace("    if defined(anycastd_draining) then bgp_community.add((65535, 0));\n", "");
        std::fs::write(conf, without).expect("bird.conf without the drain mark");
        assert!(self.birdc("configure").contains("0003 Reconfigured"), "BIRD loads it");
    }

    /// Stops BIRD as its service would (SIGTERM: it closes its sessions and removes its control socket), and waits
    /// until the peer has seen the session go.
    pub fn stop_bird(&self) {
        self.end_bird("-TERM");
    }

    /// Kills BIRD (SIGKILL, as a crash would: its control socket stays behind), and waits until the peer has seen the
    /// session go.
    pub fn crash_bird(&self) {
        self.end_bird("-KILL");
    }

    fn end_bird(&self, signal: &str) {
        let pid = std::fs::read_to_string(self.dir.join("bird.pid")).expect("bird.pid");
        let _ = Command::new("kill").args([signal, pid.trim()]).status();
        Wait::new("BIRD ends").until(|| (!Path::new(&format!("/proc/{}", pid.trim())).exists()).then_some(()));
        Wait::new("the peer has seen the session go").until(|| (!session_established(&self.peer_ns())).then_some(()));
    }

    /// Starts BIRD again, with the lab's bird.conf (which includes anycastd's file), and waits for its BGP session.
    pub fn start_bird(&self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bird-lab");
        let output = Command::new(script).args(["start", self.bird.release(), &self.name]).output().expect("bird-lab");
        assert!(output.status.success(), "scripts/bird-lab start: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// Sends one command to BIRD's control socket (as birdc would), returning its reply lines.
    pub fn birdc(&self, command: &str) -> String {
        let script = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\nf=s.makefile('rb')\n\
                      f.readline()\ns.sendall(sys.argv[2].encode()+b'\\n')\nout=[]\nwhile True:\n \
                      l=f.readline().decode()\n out.append(l)\n if len(l)>=5 and l[:4].isdigit() and l[4]==' ': break\n\
                      print(''.join(out),end='')\n";
        let output =
            Command::new("python3").args(["-c", script]).arg(self.socket()).arg(command).output().expect("python3");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for BirdLab {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bird-lab");
        let _ = Command::new(script).args(["down", self.bird.release(), &self.name]).output();
    }
}

/// Runs a test on every BIRD release the lab supports.
macro_rules! on_every_bird {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::support::bird::Bird;

                #[test]
                #[ignore = "needs root and the lab: scripts/test runs it"]
                fn bird_2_0() {
                    super::$name(Bird::V2_0)
                }

                #[test]
                #[ignore = "needs root and the lab: scripts/test runs it"]
                fn bird_2_17() {
                    super::$name(Bird::V2_17)
                }

                #[test]
                #[ignore = "needs root and the lab: scripts/test runs it"]
                fn bird_3_1() {
                    super::$name(Bird::V3_1)
                }
            }
        )*
    };
}

/// Runs anycastd's `command` (with `args`) and prints what it did.
fn printed(mut command: Command, args: &[&str]) -> Output {
    let output = command.output().expect("anycastd runs");
    println!(
        "$ anycastd {} ({})\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
