//! A test environment for the anycastd binary: a temporary directory with a config, a fake vtysh keeping a
//! running config in a file, a fake Cabourotte, and a state directory; [`Env::anycastd`] runs the binary in it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anycastd::frr::RunningConfig;

use super::anycastd::Anycastd;
use super::cabourotte::FakeCabourotte;

/// FRR's running config with the seed's two BGP instances and nothing announced.
pub const EMPTY_FRR: &str = "Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\nfrr defaults datacenter\n\
hostname vm\n!\nrouter bgp 65536\n bgp router-id 203.0.113.179\n neighbor 192.0.2.2 remote-as 65100\nexit\n!\n\
router bgp 65537 vrf 123\n bgp router-id 203.0.113.181\nexit\n!\nend\n";

/// The seed example's configuration with `{vtysh}` and `{url}` to fill in.
pub const SEED_CONFIG: &str = r#"[services.dns]
prefixes.frrouting = [{ prefix = "2001:db8::b19:bad:53", vtysh = "{vtysh}" }, { prefix = "203.0.113.53", vtysh = "{vtysh}" }]
checks.cabourotte = [{ name = "dns", url = "{url}" }]

[services.ntp]
prefixes.frrouting = [
    { "prefix" = "2001:db8::123:7e11:713e", "vrf" = "123", vtysh = "{vtysh}" },
    { "prefix" = "203.0.113.123", "vrf" = "123", vtysh = "{vtysh}" },
]
checks.cabourotte = [
    { "name" = "ntp_v6", "interval" = 1, url = "{url}" },
    { "name" = "ntp_v4", "interval" = 1, url = "{url}" },
]
"#;

/// One test's world.
pub struct Env {
    /// The temporary directory holding everything.
    pub dir: PathBuf,
    /// The fake Cabourotte.
    pub cabourotte: FakeCabourotte,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Env {
    /// A new world with the seed config, FRR holding [`EMPTY_FRR`], and every check healthy.
    pub fn new() -> Env {
        Env::with_cabourotte(FakeCabourotte::start())
    }

    /// Like [`Env::new`], with this fake Cabourotte (e.g. one serving https).
    pub fn with_cabourotte(cabourotte: FakeCabourotte) -> Env {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("anycastd-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("frr")).expect("create the test directory");
        let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake_vtysh.py");
        let wrapper =
            format!("#!/bin/sh\nexec python3 {} --state {} \"$@\"\n", fake.display(), dir.join("frr").display());
        write_executable(&dir.join("vtysh"), &wrapper);
        let env = Env { dir, cabourotte };
        env.frr(EMPTY_FRR).config(SEED_CONFIG);
        env.cabourotte.healthy("dns").healthy("ntp_v4").healthy("ntp_v6");
        env
    }

    /// The fake vtysh's path.
    pub fn vtysh(&self) -> PathBuf {
        self.dir.join("vtysh")
    }

    /// The config file's path.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// The state directory's path.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// Writes the config, filling in `{vtysh}` and `{url}`.
    pub fn config(&self, template: &str) -> &Self {
        let text =
            template.replace("{vtysh}", &self.vtysh().display().to_string()).replace("{url}", &self.cabourotte.url());
        std::fs::write(self.config_path(), text).expect("write the config");
        self
    }

    /// Sets FRR's running config.
    pub fn frr(&self, running_config: &str) -> &Self {
        std::fs::write(self.dir.join("frr/running-config"), running_config).expect("write the running config");
        self
    }

    /// FRR's running config now.
    pub fn running_config(&self) -> String {
        std::fs::read_to_string(self.dir.join("frr/running-config")).expect("read the running config")
    }

    /// The networks FRR has now, as `VRF PREFIX` lines (`default` for the default VRF), sorted.
    pub fn networks(&self) -> Vec<String> {
        let running = self.running_config();
        let parsed = RunningConfig::parse(&running)
            .unwrap_or_else(|error| panic!("the fake FRR's running config does not parse ({error}):\n{running}"));
        let mut networks: Vec<String> = parsed
            .instances
            .iter()
            .flat_map(|instance| {
                let vrf = instance.vrf.name().unwrap_or("default").to_string();
                instance.networks.keys().map(move |prefix| format!("{vrf} {prefix}"))
            })
            .collect();
        networks.sort();
        networks
    }

    /// Every vtysh call so far: the command lines of each.
    pub fn vtysh_calls(&self) -> Vec<Vec<String>> {
        let log = std::fs::read_to_string(self.dir.join("frr/calls.log")).unwrap_or_default();
        log.lines().map(|line| serde_json::from_str(line).expect("a JSON call log line")).collect()
    }

    /// Forgets the vtysh calls so far.
    pub fn clear_vtysh_calls(&self) {
        let _ = std::fs::remove_file(self.dir.join("frr/calls.log"));
    }

    /// Makes the fake vtysh fail like FRR on this exact command line (or stop failing with `None`).
    pub fn fail_on(&self, command: Option<&str>) -> &Self {
        let path = self.dir.join("frr/fail-on");
        match command {
            Some(command) => std::fs::write(path, command).expect("write fail-on"),
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
        self
    }

    /// Sets the routes of FRR's RIB, as `VRF PREFIX` lines (`default` for the default VRF).
    pub fn rib(&self, routes: &[&str]) -> &Self {
        std::fs::write(self.dir.join("frr/rib"), routes.join("\n")).expect("write rib");
        self
    }

    /// Makes FRR know no VRF of these names, as when the kernel has no VRF device for them: its RIB lookups there
    /// answer `% VRF NAME not found`.
    pub fn missing_vrfs(&self, names: &[&str]) -> &Self {
        std::fs::write(self.dir.join("frr/missing-vrfs"), names.join("\n")).expect("write missing-vrfs");
        self
    }

    /// Makes every vtysh call hang.
    pub fn hang(&self) -> &Self {
        std::fs::write(self.dir.join("frr/hang"), "").expect("write hang");
        self
    }

    /// The binary with this environment's config and state directory, and `args`: see [`Anycastd`].
    pub fn anycastd<I, S>(&self, args: I) -> Anycastd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Anycastd::new(self).args(args)
    }

    /// `text` with this environment's temporary paths and Cabourotte's address replaced by placeholders, as
    /// [`Anycastd::run`] replaces them.
    pub fn normalize(&self, text: &str) -> String {
        super::anycastd::normalize(self, text)
    }

    /// Makes every vtysh call take `seconds` before doing its work (`None`: at once again).
    pub fn slow(&self, seconds: Option<f64>) -> &Self {
        let path = self.dir.join("frr/slow");
        match seconds {
            Some(seconds) => std::fs::write(path, seconds.to_string()).expect("write slow"),
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
        self
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write an executable");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("make it executable");
}
