//! The configuration: TOML text in, a validated [`Config`] out.
//!
//! Everything that can be checked without the network is checked here, once, so the rest of the program works
//! with values that cannot be wrong: a [`Prefix`] has no host bits, a [`Vrf`] name is safe to hand to vtysh, a
//! [`CabourotteUrl`] is http or https. The format is the original anycastd's (see docs/configuration.md).

mod diagnostics;
mod duration;
mod excerpt;
mod parse;
mod pem;
mod tls;
mod types;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bounded;

pub(crate) use diagnostics::ConfigError;
pub use duration::{
    DRAIN, EXEC_TIMEOUT, HTTP_TIMEOUT, INTERVAL, LOCK_TIMEOUT, RESYNC, VTYSH_TIMEOUT, describe, parse_seconds, spoken,
};
pub(crate) use pem::{exposed_keys, load as load_tls};
pub(crate) use tls::TlsSettings;
pub(crate) use types::parse_net;
pub use types::{AddressFamily, CabourotteUrl, Prefix, PrefixError, RouteMap, Vrf};

/// Where the configuration lives unless `--configuration` or `ANYCASTD_CONFIG` say otherwise.
pub const DEFAULT_PATH: &str = "/etc/anycastd/config.toml";

/// The vtysh binary used when a prefix does not name one.
pub(crate) const DEFAULT_VTYSH: &str = "/usr/bin/vtysh";
/// Debian's bgpd pid file, watched for `/usr/bin/vtysh` when no `bgpd_pid_file` is given.
pub(crate) const DEFAULT_BGPD_PID_FILE: &str = "/run/frr/bgpd.pid";
/// Debian's BIRD control socket (`bird2` and `bird3`), used when a BIRD prefix does not name one.
pub(crate) const DEFAULT_BIRD_SOCKET: &str = "/run/bird/bird.ctl";
/// The file anycastd owns for BIRD when a prefix does not name one: under /run, so that after a reboot BIRD starts
/// with nothing of anycastd's until a pass has seen a passing check; the package's tmpfiles.d makes the folder.
pub(crate) const DEFAULT_BIRD_FILE: &str = "/run/anycastd-bird/anycastd.conf";

/// The Cabourotte API used when a check does not name one.
pub(crate) const DEFAULT_CABOUROTTE_URL: &str = "http://127.0.0.1:9013";

/// The check interval used when a check does not set one.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// How long a command check may run when it does not say: a Nagios plugin's own default timeout is 10 s, but a
/// check that slow holds up every pass.
pub(crate) const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(5);

/// The most addresses one prefix may put on the host: enough for any service, small enough that a typo cannot
/// make a pass add thousands.
pub(crate) const MAX_ADDRESSES_PER_PREFIX: usize = 64;

/// How long an `on_change` hook may run when the service does not say.
pub(crate) const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the operator should know about a valid configuration (see [`Config::warnings`]); worded by the renderer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConfigWarning {
    /// The configuration defines no services: anycastd manages nothing.
    NoServices,
}

impl ConfigWarning {
    /// Its stable code in the JSON output.
    pub(crate) fn code(self) -> &'static str {
        match self {
            ConfigWarning::NoServices => "no-services",
        }
    }
}

/// A validated configuration: the services anycastd manages, sorted by name. The default manages nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Every service, sorted by name.
    pub services: Vec<Service>,
}

/// A service: prefixes announced while all of its checks pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// The name under `[services.NAME]`.
    pub name: String,
    /// The prefixes announced while healthy, sorted by VRF then prefix.
    pub(crate) prefixes: Vec<ManagedPrefix>,
    /// The Cabourotte checks that must all pass for the service to be healthy, in config order.
    pub checks: Vec<Check>,
    /// The commands that must all pass too (`checks.exec`), in config order. Left out of the configuration cache
    /// when empty, so that a cache written before them reads the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<ExecCheck>,
    /// How health turns into announcements: rise/fall counts, what to do when Cabourotte cannot be asked.
    pub(crate) policy: Policy,
    /// A command run after the service's prefixes were announced or withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) on_change: Option<Hook>,
}

/// How a service's health turns into announcements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Policy {
    /// Consecutive healthy passes needed before a withdrawn service is announced.
    pub rise: u32,
    /// Consecutive unhealthy passes needed before an announced service is withdrawn.
    pub fall: u32,
    /// What to do when Cabourotte itself cannot be asked.
    pub on_checker_error: OnCheckerError,
    /// What an announced service does while unhealthy but not yet for `fall` passes.
    pub on_falling: OnFalling,
    /// What an announced service does once unhealthy for `fall` passes.
    pub on_unhealthy: OnUnhealthy,
}

impl Default for Policy {
    /// The original anycastd's behaviour: every pass decides alone, and a silent checker means withdraw.
    fn default() -> Self {
        Policy {
            rise: 1,
            fall: 1,
            on_checker_error: OnCheckerError::Withdraw,
            on_falling: OnFalling::Keep,
            on_unhealthy: OnUnhealthy::Withdraw,
        }
    }
}

/// What an announced service does while it is unhealthy but its `fall` count is not reached yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OnFalling {
    /// Stays announced as it is (the default).
    Keep,
    /// Announced through its drain route-map, so that peers prefer other nodes before it is withdrawn.
    Drain,
}

/// What an announced service does once it is unhealthy for `fall` passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OnUnhealthy {
    /// Withdrawn (the default).
    Withdraw,
    /// Kept, through its drain route-map: a degraded node is better than none (the last site standing).
    Drain,
}

/// What to do with a service when its Cabourotte cannot be asked (connection refused, timeout, 5xx, bad JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OnCheckerError {
    /// Withdraw, as if a check failed (the default, the original's behaviour).
    Withdraw,
    /// Leave the prefixes as they are in FRR, and say so loudly.
    Keep,
}

/// A command run after a service changed, as an argument vector (no shell).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Hook {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// How long it may run before it is killed.
    pub timeout: Duration,
}

/// One prefix that anycastd announces through a routing daemon: a `network` statement in FRR.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct ManagedPrefix {
    /// The VRF of the BGP instance that announces it.
    pub vrf: Vrf,
    /// The network itself.
    pub prefix: Prefix,
    /// The routing daemon that announces it, and how anycastd reaches it.
    pub daemon: Daemon,
    /// The route-map every announcement carries (`network P route-map NAME`), if any. Left out of the configuration
    /// cache when absent: at 10,000 prefixes, two `null`s each were 0.4 MB more to read at every pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_map: Option<RouteMap>,
    /// The route-map used while draining, if any; a prefix without one is withdrawn instead of drained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_route_map: Option<RouteMap>,
    /// The service address anycastd keeps on the host for it (`interface`), if any. Left out of the configuration
    /// cache when absent, so that a cache written before the key reads the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostAddresses>,
}

/// The service addresses anycastd keeps on an interface of the host for one prefix (its `interface` and
/// `addresses` keys): added before the prefix is first announced and kept whatever the health, since the service
/// binds them and its checks often use them; removed only once the prefix has left the configuration and been
/// withdrawn (see `host/` and `plan/address.rs`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct HostAddresses {
    /// The interface: `lo`, a VRF's device, or an interface in the prefix's VRF.
    pub interface: String,
    /// The addresses, each put on the interface as a /32 or /128: a host prefix's own address unless the
    /// configuration names others; for a shorter prefix, the ones it names, inside the prefix.
    pub addresses: Vec<std::net::IpAddr>,
}

/// The routing daemon that announces a prefix, and how anycastd reaches it. Serialised in the configuration cache
/// with its name as the key (`{"frr":{"vtysh":...}}`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Daemon {
    /// FRRouting, through a vtysh.
    Frr(FrrDaemon),
    /// BIRD, through its control socket and a file of anycastd's that its configuration includes.
    Bird(BirdDaemon),
}

/// How anycastd reaches one BIRD (see `bird/mod.rs` for why a file and the control socket).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct BirdDaemon {
    /// BIRD's control socket (`birdc -s`).
    pub socket: PathBuf,
    /// The file anycastd owns and BIRD's configuration includes: one `protocol static` per announced prefix.
    pub file: PathBuf,
    /// Whether a drain keeps the prefix announced with `anycastd_draining = 1`, which the operator's export filter
    /// turns into the graceful-shutdown community (README, "BIRD"); without it, a drain withdraws, as an FRR prefix
    /// without a drain route-map does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drain: bool,
    /// The BIRD table the prefix is announced in (a VRF's table); `None` for its family's master table. A BIRD
    /// symbol; never `master4` or `master6` (those are `None`), so that one table has one name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

/// How anycastd reaches one FRR.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct FrrDaemon {
    /// The vtysh binary that talks to the FRR holding it.
    pub vtysh: PathBuf,
    /// The pid file of that FRR's bgpd, watched by `run` to notice a restart without asking vtysh; `None` when it
    /// cannot be watched (then `run` reads the running config on every pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgpd_pid_file: Option<PathBuf>,
}

impl ManagedPrefix {
    /// The vtysh of the FRR that announces it; `None` for another daemon.
    pub(crate) fn vtysh(&self) -> Option<&Path> {
        match &self.daemon {
            Daemon::Frr(frr) => Some(&frr.vtysh),
            Daemon::Bird(_) => None,
        }
    }

    /// The pid file of the bgpd that announces it, when it can be watched.
    pub(crate) fn bgpd_pid_file(&self) -> Option<&Path> {
        match &self.daemon {
            Daemon::Frr(frr) => frr.bgpd_pid_file.as_deref(),
            Daemon::Bird(_) => None,
        }
    }

    /// The BIRD that announces it; `None` for another daemon.
    pub(crate) fn bird(&self) -> Option<&BirdDaemon> {
        match &self.daemon {
            Daemon::Bird(bird) => Some(bird),
            Daemon::Frr(_) => None,
        }
    }

    /// The name of its daemon in reports and logs: `frr`, `bird`.
    pub(crate) fn daemon_name(&self) -> &'static str {
        match self.daemon {
            Daemon::Frr(_) => "frr",
            Daemon::Bird(_) => "bird",
        }
    }

    /// Whether a drain keeps it announced, marked as draining: FRR's drain route-map, BIRD's `drain = true`.
    pub(crate) fn drains(&self) -> bool {
        match &self.daemon {
            Daemon::Frr(_) => self.drain_route_map.is_some(),
            Daemon::Bird(bird) => bird.drain,
        }
    }
}

/// One Cabourotte health check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The check's name in Cabourotte's config.
    pub name: String,
    /// The Cabourotte API to ask.
    pub url: CabourotteUrl,
    /// How often loop mode (`anycastd run`) wants a fresh verdict.
    pub interval: Duration,
    /// A result older than this is stale, and counts as a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
    /// How to verify an https Cabourotte and prove who anycastd is: the same for every check of one URL.
    #[serde(default)]
    pub(crate) tls: TlsSettings,
}

/// A check that is a command: its exit status is the health, as a Nagios or Icinga plugin's (see `health/exec.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecCheck {
    /// Its name in plans, logs, metrics and hooks: unique within its service.
    pub name: String,
    /// The program (an absolute path) and its arguments, run without a shell.
    pub command: Vec<String>,
    /// How long it may run before its process group is killed; a check killed so is a checker error.
    pub timeout: Duration,
    /// How often `anycastd run` runs it.
    pub interval: Duration,
    /// Whether exit status 1 (a plugin's WARNING) fails the check (the default), or passes it.
    pub warning_is_failure: bool,
}

impl Config {
    /// Reads and validates the configuration file at `path`.
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::parse(&read(path)?, &path.display().to_string())
    }

    /// The text of the configuration file at `path`, bounded in size (see `bounded.rs`).
    pub(crate) fn read_file(path: &Path) -> Result<String, ConfigError> {
        read(path)
    }

    /// Validates configuration `text`; `origin` names it in diagnostics.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        parse::parse(text).map_err(|problems| ConfigError::invalid(origin, text, problems))
    }

    /// Every managed prefix with the service that owns it.
    pub(crate) fn prefixes(&self) -> impl Iterator<Item = (&Service, &ManagedPrefix)> {
        self.services.iter().flat_map(|service| service.prefixes.iter().map(move |prefix| (service, prefix)))
    }

    /// Every command check with the service that owns it.
    pub fn exec_checks(&self) -> impl Iterator<Item = (&Service, &ExecCheck)> {
        self.services.iter().flat_map(|service| service.exec.iter().map(move |check| (service, check)))
    }

    /// Every Cabourotte check with the service that owns it.
    pub fn checks(&self) -> impl Iterator<Item = (&Service, &Check)> {
        self.services.iter().flat_map(|service| service.checks.iter().map(move |check| (service, check)))
    }

    /// What the operator should know about a valid configuration. A configuration without services is valid, so
    /// that an installed but unconfigured anycastd (the package's config file is all comments) is harmless: it
    /// manages no prefix, so it asks nobody and changes nothing in FRR. It is not silent, though: `check`, `plan`
    /// and every pass say so, since a file emptied by mistake would otherwise look like a healthy no-op.
    pub(crate) fn warnings(&self) -> Vec<ConfigWarning> {
        if self.services.is_empty() { vec![ConfigWarning::NoServices] } else { Vec::new() }
    }

    /// The shortest check interval: how often loop mode runs a pass.
    pub(crate) fn shortest_interval(&self) -> Duration {
        let cabourotte = self.checks().map(|(_, check)| check.interval);
        cabourotte.chain(self.exec_checks().map(|(_, check)| check.interval)).min().unwrap_or(DEFAULT_INTERVAL)
    }
}

/// The text of the configuration file at `path`, at most [`bounded::CONFIG`] of it.
fn read(path: &Path) -> Result<String, ConfigError> {
    let file = bounded::open_regular(path).map_err(|error| ConfigError::unreadable(path, &error.to_string()))?;
    bounded::CONFIG.read_to_string(file).map_err(|reason| ConfigError::unreadable(path, &reason))
}

#[cfg(test)]
mod tests;
