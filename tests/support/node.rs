//! An anycast node in a box: the cached Debian 12 root (`scripts/test-root`) booted by `systemd-nspawn`, with
//! systemd 252 as its PID 1, Debian's FRR (bgpd on, `router bgp 65536`; or as Debian installs it, for the README's
//! quickstarts) and node_exporter running as Debian starts them, Debian's BIRD when a test starts it, and the fake
//! Cabourotte of the tests (`scripts/fake-cabourotte`) serving the check `dns`.
//!
//! The container has a network namespace of its own (`--private-network`: only a loopback), so that its zebra and
//! bgpd never touch the host's routes or port 179 and several nodes can run side by side. The fake Cabourotte is a
//! host process (host's python3 and files) that only listens in that namespace, on the container's 127.0.0.1:9013,
//! where anycastd's default `url` points. Commands run inside through the container's systemd, with `nsenter`.
//! Everything goes away on drop, also when a test fails: the container is powered off (killed after a deadline),
//! the fake Cabourotte stopped, the overlay unmounted and removed.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::debian::{self, Overlay, succeed, text};
use super::running_config::networks_in;
use super::wait::Wait;

const CABOUROTTE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/fake-cabourotte");
/// The BGP instance the node's FRR starts with, as in the README's production quickstart.
pub const ASN: &str = "65536";

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct Node {
    name: String,
    nspawn: Child,
    /// The container's systemd, as a PID of the host.
    init: u32,
    cabourotte: Option<Child>,
    results: PathBuf,
    cgroups: [PathBuf; 2],
    // Last: unmounted only after the container is gone.
    root: Overlay,
}

impl Node {
    /// Boots a node and waits until its systemd reports `running` and FRR has its BGP instance.
    pub fn boot() -> Node {
        let node = Node::boot_with(true);
        node.wait_for("FRR runs bgpd with its BGP instance", Duration::from_secs(30), || {
            let output = node.run(&["vtysh", "-d", "bgpd", "-c", "show running-config"]);
            text(&output.stdout).contains(&format!("\nrouter bgp {ASN}\n")).then_some(())
        });
        node
    }

    /// Boots a node whose FRR is as Debian's package installs it (bgpd off, Debian's frr.conf, `frr defaults
    /// traditional`), and waits until its systemd reports `running`: the README's production quickstart starts there.
    pub fn boot_as_installed() -> Node {
        Node::boot_with(false)
    }

    fn boot_with(bgp_instance: bool) -> Node {
        let name = format!("acd-node-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let root = Overlay::new(&name);
        if bgp_instance {
            // FRR as an operator sets it up (README, "Production quickstart", steps 1 and 2): bgpd on, one BGP
            // instance.
            let daemons = root.path("/etc/frr/daemons");
            let enabled =
                std::fs::read_to_string(&daemons).expect("FRR's daemons file").replace("\nbgpd=no\n", "\nbgpd=yes\n");
            std::fs::write(&daemons, enabled).expect("enable bgpd");
            let mut frr_conf = std::fs::read_to_string(root.path("/etc/frr/frr.conf")).expect("FRR's frr.conf");
            frr_conf.push_str(&format!("router bgp {ASN}\n bgp router-id 192.0.2.1\nexit\n!\n"));
            std::fs::write(root.path("/etc/frr/frr.conf"), frr_conf).expect("write frr.conf");
        }

        let log = root.dir.join("nspawn.log");
        let cgroups = own_cgroups(&name);
        // systemd-nspawn starts in cgroups of its own (see own_cgroups), entered by the shell it then replaces.
        let nspawn = Command::new("sh")
            .args(["-c", r#"for dir in "$1" "$2"; do echo $$ >"$dir/cgroup.procs"; done; shift 2; exec "$@""#, "sh"])
            .args(&cgroups)
            .arg("systemd-nspawn")
            .arg("--directory")
            .arg(&root.merged)
            .args(["--boot", "--register=no", "--keep-unit", "--private-network", "--console=passive"])
            .arg(format!("--machine={name}"))
            .stdin(Stdio::null())
            .stdout(File::create(&log).expect("nspawn's log"))
            .stderr(File::create(root.dir.join("nspawn.err")).expect("nspawn's log"))
            .spawn()
            .expect("start systemd-nspawn (Debian package systemd-container; scripts/test installs it)");
        let results = root.dir.join("results.json");
        std::fs::write(&results, "[]\n").expect("no check results yet");
        let mut node = Node { name, nspawn, init: 0, cabourotte: None, results, cgroups, root };
        node.init = node.wait_for("the container's systemd has started", Duration::from_secs(30), || node.find_init());
        node.wait_for("systemctl is-system-running says running", Duration::from_secs(60), || {
            let state = text(&node.run(&["systemctl", "is-system-running"]).stdout);
            (state.trim() == "running").then_some(())
        });
        node
    }

    /// Starts Debian's BIRD (`bird.service`, with Debian's bird.conf) and waits until its control socket answers.
    /// The cached root has the unit disabled (`scripts/test-root`): with only a loopback, as a node boots, BIRD finds
    /// no router ID and fails, so it is started once the node's uplink has its address ([`super::peer::Peer`]), the
    /// state `apt install bird2` leaves on a host with a network.
    pub fn start_bird(&self) {
        self.ok(&["systemctl", "enable", "--now", "--quiet", "bird.service"]);
        self.wait_for("BIRD answers on its control socket", Duration::from_secs(30), || {
            let status = text(&self.run(&["birdc", "show", "status"]).stdout);
            status.contains("Daemon is up and running").then_some(())
        });
    }

    /// The container's systemd as a PID of the host: its network namespace is the node's (`ip link ... netns PID`).
    pub fn pid(&self) -> u32 {
        self.init
    }

    /// The container's systemd: the child of systemd-nspawn.
    fn find_init(&self) -> Option<u32> {
        let parent = self.nspawn.id().to_string();
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
            let (comm, rest) = stat.split_once(") ")?;
            let ppid = rest.split_whitespace().nth(1)?;
            (ppid == parent && comm.ends_with("(systemd")).then_some(pid)
        })
    }

    /// Runs `args` inside the container, as root, with a plain environment (a root shell on the node).
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.init.to_string(), "-m", "-u", "-i", "-n", "-p", "--"])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("nsenter {}: {error}", args.join(" ")))
    }

    /// Like [`Node::run`], asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{} in node {}: {}\n{}{}\n{}",
            args.join(" "),
            self.name,
            output.status,
            text(&output.stdout),
            text(&output.stderr),
            self.diagnosis()
        );
        text(&output.stdout)
    }

    /// The host's path of `path` in the container's file system (what it has on disk, not its tmpfs mounts).
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.path(path)
    }

    /// Installs the package of the debug build with dpkg, under the running systemd, as an operator would.
    pub fn install_package(&self) -> String {
        std::fs::copy(debian::deb(), self.path("/root/anycastd.deb")).expect("copy the package into the node");
        let installed = self.ok(&["dpkg", "--install", "/root/anycastd.deb"]);
        std::fs::remove_file(self.path("/root/anycastd.deb")).expect("remove the copy");
        installed
    }

    /// Starts the fake Cabourotte on the container's 127.0.0.1:9013, with no results yet.
    pub fn start_cabourotte(&mut self) {
        let port_file = self.root.dir.join("cabourotte.port");
        let child = Command::new("nsenter")
            .args(["-t", &self.init.to_string(), "-n", "--", "python3", CABOUROTTE, "--results"])
            .arg(&self.results)
            .args(["--port", "9013", "--port-file"])
            .arg(&port_file)
            .arg("--behaviour")
            .arg(self.root.dir.join("cabourotte-behaviour.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(self.root.dir.join("cabourotte.log")).expect("the fake Cabourotte's log"))
            .spawn()
            .expect("start scripts/fake-cabourotte (python3) in the node's network namespace");
        self.cabourotte = Some(child);
        self.wait_for("the fake Cabourotte listens", Duration::from_secs(10), || port_file.exists().then_some(()));
    }

    /// Makes the fake Cabourotte serve its API only under `/api/v1`, as Cabourotte 2.x does.
    pub fn cabourotte_serves_only_api_v1(&self) {
        let behaviour = self.root.dir.join("cabourotte-behaviour.json");
        std::fs::write(behaviour, "{\"api_v1_only\": true}\n").expect("write the fake Cabourotte's behaviour");
    }

    /// Makes the check `name` report success (`healthy`) or failure in the fake Cabourotte.
    pub fn set_check(&self, name: &str, healthy: bool) {
        let state = if healthy { "healthy" } else { "failing" };
        let mut command = Command::new("python3");
        command.arg(CABOUROTTE).arg("--results").arg(&self.results).args(["--set", &format!("{name}={state}")]);
        succeed(&mut command, "fake-cabourotte --set");
    }

    /// Replaces the contents of /etc/anycastd/config.toml, keeping its owner and mode.
    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.path("/etc/anycastd/config.toml"), toml).expect("write the node's config.toml");
    }

    /// The `network` prefixes of FRR's default BGP instance, read by root's vtysh.
    pub fn networks(&self) -> Vec<String> {
        let config = self.ok(&["vtysh", "-d", "bgpd", "-c", "show running-config"]);
        networks_in(&config, None).into_iter().collect()
    }

    /// Waits until FRR's default instance has exactly the networks `expected`; returns how long that took.
    pub fn wait_networks(&self, expected: &[&str], deadline: Duration) -> Duration {
        let started = Instant::now();
        let mut expected: Vec<String> = expected.iter().map(ToString::to_string).collect();
        expected.sort();
        self.wait_for(&format!("FRR's networks are {expected:?}"), deadline, || {
            (self.networks() == expected).then_some(())
        });
        started.elapsed()
    }

    /// `systemctl show --value -p PROPERTY UNIT`.
    pub fn property(&self, unit: &str, property: &str) -> String {
        self.ok(&["systemctl", "show", "--value", "-p", property, unit]).trim().to_string()
    }

    /// The messages the journal holds for `unit`, one per line, oldest first.
    pub fn journal(&self, unit: &str) -> String {
        self.ok(&["journalctl", "--no-pager", "-o", "cat", "-u", unit])
    }

    /// The journal of `unit` as `journalctl` shows it, with microsecond times, for a test's output.
    pub fn journal_shown(&self, unit: &str) -> String {
        self.ok(&["journalctl", "--no-pager", "-o", "short-precise", "-u", unit])
    }

    /// Waits until the journal of `unit` holds `line`, a message of its own: a pass logs after it has verified
    /// what FRR took, and journald reads the stream a moment later.
    pub fn wait_journal(&self, unit: &str, line: &str, deadline: Duration) {
        self.wait_for(&format!("the journal of {unit} has {line:?}"), deadline, || {
            self.journal(unit).lines().any(|logged| logged == line).then_some(())
        });
    }

    /// `stat -c FORMAT PATH` inside the container (names resolved by its own /etc/passwd).
    pub fn stat(&self, format: &str, path: &str) -> String {
        self.ok(&["stat", "-c", format, path]).trim().to_string()
    }

    /// `GET http://127.0.0.1:PORT/PATH` in the container's network namespace, by the host's python3.
    pub fn http_get(&self, port: u16, path: &str) -> String {
        let script = format!(
            "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:{port}{path}', \
             timeout=5).read().decode())"
        );
        let mut command = Command::new("nsenter");
        command.args(["-t", &self.init.to_string(), "-n", "--", "python3", "-c", &script]);
        text(&succeed(&mut command, &format!("GET :{port}{path} in the node")).stdout)
    }

    /// `POST http://127.0.0.1:PORT/PATH` of `body` with `Authorization: AUTHORIZATION` in the container's network
    /// namespace, by the host's python3: the status code.
    pub fn http_post(&self, port: u16, path: &str, authorization: &str, body: &str) -> u16 {
        let script = format!(
            "import sys, urllib.request, urllib.error\n\
             request = urllib.request.Request('http://127.0.0.1:{port}{path}', data=sys.argv[2].encode(), \
             headers={{'Authorization': sys.argv[1], 'Content-Type': 'application/json'}})\n\
             try:\n    print(urllib.request.urlopen(request, timeout=5).status)\n\
             except urllib.error.HTTPError as error:\n    print(error.code)\n"
        );
        let mut command = Command::new("nsenter");
        command.args(["-t", &self.init.to_string(), "-n", "--", "python3", "-c", &script, authorization, body]);
        let status = text(&succeed(&mut command, &format!("POST :{port}{path} in the node")).stdout);
        status.trim().parse().unwrap_or_else(|_| panic!("POST :{port}{path}: not a status: {status}"))
    }

    /// Polls `condition` every 100 ms until it gives a value; fails the test after `deadline`, with what the node
    /// was doing.
    #[track_caller]
    pub fn wait_for<T>(&self, what: &str, deadline: Duration, condition: impl FnMut() -> Option<T>) -> T {
        let diagnosis = || format!("node {}\n{}", self.name, self.diagnosis());
        Wait::new(what).deadline(deadline).poll(Duration::from_millis(100)).diagnosis(diagnosis).until(condition)
    }

    /// What helps to understand a failure: the container's failed units and the end of its journal.
    pub fn diagnosis(&self) -> String {
        if self.init == 0 {
            let log = std::fs::read_to_string(self.root.dir.join("nspawn.err")).unwrap_or_default();
            return format!("systemd-nspawn's stderr:\n{log}");
        }
        let failed = text(&self.run(&["systemctl", "--failed", "--no-legend"]).stdout);
        let journal = text(&self.run(&["journalctl", "--no-pager", "-n", "60", "-o", "short-precise"]).stdout);
        format!("failed units: {failed}\nthe journal's last lines:\n{journal}")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut cabourotte) = self.cabourotte.take() {
            let _ = cabourotte.kill();
            let _ = cabourotte.wait();
        }
        // SIGTERM makes systemd-nspawn power the container off in order; a container that does not stop within the
        // deadline is killed.
        let _ = Command::new("kill").args(["-TERM", &self.nspawn.id().to_string()]).status();
        let started = Instant::now();
        while !matches!(self.nspawn.try_wait(), Ok(Some(_))) {
            if started.elapsed() > Duration::from_secs(20) {
                let _ = self.nspawn.kill();
                let _ = self.nspawn.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        for cgroup in &self.cgroups {
            remove_cgroup(cgroup);
            // anycastd-nodes too, once no other node is left in it.
            if let Some(parent) = cgroup.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

/// The cgroups one container runs in: `anycastd-nodes/NAME` of the name=systemd and the unified hierarchy, made
/// here. Without a systemd on the host, systemd-nspawn (`--keep-unit`) puts the container's cgroups below its own,
/// and every container started from the same cgroup would share `payload/system.slice/...`: one container's systemd
/// would remove the cgroup of another's unit under it (`Failed to attach to cgroup ...: No such file or directory`).
fn own_cgroups(name: &str) -> [PathBuf; 2] {
    ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"].map(|hierarchy| {
        let dir = PathBuf::from(hierarchy).join("anycastd-nodes").join(name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("create the cgroup {}: {error}", dir.display()));
        dir
    })
}

/// Removes a cgroup and those below it, deepest first (a cgroup goes with rmdir, once it has no process and no
/// child).
fn remove_cgroup(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                remove_cgroup(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
