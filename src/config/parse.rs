//! Walks the TOML document by hand, so that every problem of a file is reported at once, each at its own span.
//!
//! serde's derive stops at the first error and cannot say "unknown prefix type" in our words; a walk over
//! `toml`'s spanned document can.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeArray, DeString, DeTable, DeValue};

use super::diagnostics::ConfigProblem;
use super::duration::{self, Bounds, parse_seconds};
use super::tls::{self, TlsKey};
use super::types::{CabourotteUrl, Prefix, PrefixError, RouteMap, Vrf};
use super::{
    BirdDaemon, Check, Config, DEFAULT_BGPD_PID_FILE, DEFAULT_BIRD_FILE, DEFAULT_BIRD_SOCKET, DEFAULT_CABOUROTTE_URL,
    DEFAULT_EXEC_TIMEOUT, DEFAULT_HOOK_TIMEOUT, DEFAULT_INTERVAL, DEFAULT_VTYSH, Daemon, ExecCheck, FrrDaemon, Hook,
    HostAddresses, MAX_ADDRESSES_PER_PREFIX, ManagedPrefix, OnCheckerError, OnFalling, OnUnhealthy, Policy, Service,
};
use crate::bird;

type Key<'i> = Spanned<DeString<'i>>;
type Value<'i> = Spanned<DeValue<'i>>;

/// The longest interface name Linux accepts (IFNAMSIZ less its terminating zero).
const INTERFACE_NAME_MAX: usize = 15;

const PREFIX_TYPES: &[&str] = &["frrouting", "bird"];
const CHECK_TYPES: &[&str] = &["cabourotte", "exec"];
const FRROUTING_KEYS: &[&str] =
    &["prefix", "vrf", "vtysh", "bgpd_pid_file", "route_map", "drain_route_map", "interface", "addresses"];
const BIRD_KEYS: &[&str] = &["prefix", "socket", "file", "drain", "table", "interface", "addresses"];
const CABOUROTTE_KEYS: &[&str] = &["name", "url", "interval", "max_age", "ca_file", "cert_file", "key_file"];
const EXEC_KEYS: &[&str] = &["name", "command", "timeout", "interval", "warning_is_failure"];
const SERVICE_KEYS: &[&str] = &[
    "prefixes",
    "checks",
    "rise",
    "fall",
    "max_age",
    "on_checker_error",
    "on_falling",
    "on_unhealthy",
    "route_map",
    "drain_route_map",
    "on_change",
    "on_change_timeout",
];

/// Parses and validates configuration text, returning every problem found when it is not valid.
pub(crate) fn parse(text: &str) -> Result<Config, Vec<ConfigProblem>> {
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    if let Some(first) = syntax_errors.first() {
        return Err(vec![syntax_problem(first, syntax_errors.len() > 1)]);
    }
    let mut walker = Walker::default();
    let mut services = walker.document(&document);
    if !walker.problems.is_empty() {
        walker.problems.sort_by_key(|(order, problem)| (*order, problem.span.start, problem.span.end));
        return Err(walker.problems.into_iter().map(|(_, problem)| problem).collect());
    }
    walker.tls.share(&mut services);
    services.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Config { services })
}

/// The first syntax error only. The parser recovers and goes on, but what it reports after a first error is mostly
/// that error again, seen from further on: one missing `]` made fifteen errors, down to the end of the file.
fn syntax_problem(error: &toml::de::Error, more: bool) -> ConfigProblem {
    let span = error.span().unwrap_or(0..0);
    let problem = ConfigProblem::new(span, format!("invalid TOML: {}", error.message().trim()), "here");
    if more {
        problem.help("the rest of the file cannot be read until this is fixed; only this first error is shown")
    } else {
        problem
    }
}

/// A check of either type, as read from `checks.<type>`.
enum AnyCheck {
    Cabourotte(Check),
    Exec(Spanned<ExecCheck>),
}

/// The route-maps a service or one of its prefixes names; a prefix's own override the service's.
#[derive(Clone, Default)]
struct RouteMaps {
    route_map: Option<RouteMap>,
    drain_route_map: Option<RouteMap>,
}

#[derive(Default)]
struct Walker {
    /// Every problem found, each with the place in the file where it is listed (see [`Walker::report_consequence`]).
    problems: Vec<(usize, ConfigProblem)>,
    /// Where each managed prefix was first defined, to catch duplicates across services.
    first_definition: HashMap<DuplicateKey, Range<usize>>,
    /// The bgpd pid file of each vtysh, and where it was first given.
    bgpd_pid_files: HashMap<PathBuf, (Option<PathBuf>, Range<usize>)>,
    /// The file of each BIRD socket seen so far, and where it was first given.
    bird_files: HashMap<PathBuf, (Option<PathBuf>, Range<usize>)>,
    /// The BIRD socket of each file seen so far, and where it was first given.
    bird_file_owners: HashMap<PathBuf, (PathBuf, Range<usize>)>,
    /// The TLS settings of each Cabourotte URL, shared by its checks.
    tls: tls::ByUrl,
}

impl Walker {
    /// Reports a problem, listed where its span starts.
    fn report(&mut self, problem: ConfigProblem) {
        self.problems.push((problem.span.start, problem));
    }

    /// Reports a problem that may be the consequence of others (a service without prefixes, because `prefixes` was
    /// misspelt), listed at `after`, the end of what may hold its cause: the cause comes first, and explains it.
    fn report_consequence(&mut self, after: usize, problem: ConfigProblem) {
        self.problems.push((after, problem));
    }

    fn document(&mut self, document: &Spanned<DeTable<'_>>) -> Vec<Service> {
        let table = document.get_ref();
        self.reject_unknown_keys(table, &["services"], || "at the top level".to_string());
        // No services is valid (see `Config::warnings`): the file installed with the package is all comments.
        let Some((_, services)) = field(table, "services") else { return Vec::new() };
        let Some(services) = self.table(services, "`services` must be a table of services") else {
            return Vec::new();
        };
        services.iter().filter_map(|(name, body)| self.service(name, body)).collect()
    }

    fn service(&mut self, name: &Key<'_>, body: &Value<'_>) -> Option<Service> {
        if name.get_ref().is_empty() || name.get_ref().chars().any(char::is_control) {
            self.report(ConfigProblem::new(
                name.span(),
                "a service name cannot be empty or contain control characters",
                "invalid name",
            ));
        }
        let table = self.table(body, &format!("service `{}` must be a table", name.get_ref()))?;
        self.reject_unknown_keys(table, SERVICE_KEYS, || format!("in service `{}`", name.get_ref()));
        let max_age = self
            .optional(table, "max_age", |walker, value| walker.duration(value, "max_age", duration::MAX_AGE).map(Some));
        let policy = self.policy(table);
        let on_change = self.hook(table);
        let service_maps = self.route_maps(Some(table));
        let inherited = service_maps.clone().unwrap_or_default();
        let prefixes = self.typed_lists(table, "prefixes", PREFIX_TYPES, |walker, kind, item| match kind {
            "bird" => walker.bird_prefix(item),
            _ => walker.frrouting_prefix(item, &inherited),
        });
        let default_max_age = max_age.flatten();
        let checks = self.typed_lists(table, "checks", CHECK_TYPES, |walker, kind, item| match kind {
            "exec" => walker.exec_check(item).map(AnyCheck::Exec),
            _ => walker.cabourotte_check(item, default_max_age).map(AnyCheck::Cabourotte),
        });
        let (prefixes, checks, policy, on_change, _) = (prefixes?, checks?, policy?, on_change?, service_maps?);
        let (checks, exec) = self.split_checks(checks);
        self.drains_need_a_route_map(table, policy, &prefixes);
        let end = table.iter().map(|(key, value)| key.span().end.max(end_of(value))).max();
        let end = end.unwrap_or(name.span().start);
        if prefixes.is_empty() {
            self.report_consequence(
                end,
                ConfigProblem::new(name.span(), format!("service `{}` has no prefixes", name.get_ref()), "no prefixes")
                    .help("add the prefixes to announce while healthy, e.g. prefixes.frrouting = [\"203.0.113.53\"]"),
            );
        }
        if checks.is_empty() && exec.is_empty() {
            self.report_consequence(
                end,
                ConfigProblem::new(name.span(), format!("service `{}` has no checks", name.get_ref()), "no checks")
                    .help(
                        "add the checks that decide its health, e.g. checks.cabourotte = [\"dns\"] or checks.exec = \
                         [{ name = \"dns\", command = [\"/usr/lib/nagios/plugins/check_dns\", \"-H\", \"example.com\"] }]",
                    ),
            );
        }
        let mut prefixes = self.without_duplicates(prefixes);
        prefixes.sort();
        Some(Service { name: name.get_ref().to_string(), prefixes, checks, exec, policy, on_change })
    }

    /// Reads `key` of `table` with `read`; `Some(None)` when the key is absent, `None` when it is invalid.
    fn optional<T>(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        read: impl FnOnce(&mut Self, &Value<'_>) -> Option<Option<T>>,
    ) -> Option<Option<T>> {
        match field(table, key) {
            Some((_, value)) => read(self, value),
            None => Some(None),
        }
    }

    fn policy(&mut self, service: &DeTable<'_>) -> Option<Policy> {
        let defaults = Policy::default();
        let rise = self.optional(service, "rise", |walker, value| walker.count(value, "rise").map(Some));
        let fall = self.optional(service, "fall", |walker, value| walker.count(value, "fall").map(Some));
        let on_checker_error =
            self.optional(service, "on_checker_error", |walker, value| walker.on_checker_error(value).map(Some));
        let on_falling = self.optional(service, "on_falling", |walker, value| {
            walker.choice(value, "on_falling", &[("keep", OnFalling::Keep), ("drain", OnFalling::Drain)]).map(Some)
        });
        let on_unhealthy = self.optional(service, "on_unhealthy", |walker, value| {
            walker
                .choice(value, "on_unhealthy", &[("withdraw", OnUnhealthy::Withdraw), ("drain", OnUnhealthy::Drain)])
                .map(Some)
        });
        Some(Policy {
            rise: rise?.unwrap_or(defaults.rise),
            fall: fall?.unwrap_or(defaults.fall),
            on_checker_error: on_checker_error?.unwrap_or(defaults.on_checker_error),
            on_falling: on_falling?.unwrap_or(defaults.on_falling),
            on_unhealthy: on_unhealthy?.unwrap_or(defaults.on_unhealthy),
        })
    }

    /// One of `choices` (the first is the default, named so in the help).
    fn choice<T: Copy>(&mut self, value: &Value<'_>, key: &str, choices: &[(&str, T)]) -> Option<T> {
        let text = self.string(value, &format!("`{key}` must be a string"))?;
        if let Some((_, choice)) = choices.iter().find(|(name, _)| *name == text) {
            return Some(*choice);
        }
        let names: Vec<String> = choices.iter().map(|(name, _)| format!("\"{name}\"")).collect();
        self.report(
            ConfigProblem::new(
                value.span(),
                format!("unknown {key} policy `{}`", text.escape_debug()),
                "unknown policy",
            )
            .help(format!("use {} (the default) or {}", names[0], names[1..].join(" or "))),
        );
        None
    }

    /// The `route_map` and `drain_route_map` keys of a service or prefix table, each `None` when absent; `None`
    /// as a whole when one is invalid.
    fn route_maps(&mut self, table: Option<&DeTable<'_>>) -> Option<RouteMaps> {
        let mut read = |key: &str| match option(table, key) {
            Some(value) => self.route_map(value, key).map(Some),
            None => Some(None),
        };
        let (route_map, drain_route_map) = (read("route_map"), read("drain_route_map"));
        Some(RouteMaps { route_map: route_map?, drain_route_map: drain_route_map? })
    }

    fn route_map(&mut self, value: &Value<'_>, key: &str) -> Option<RouteMap> {
        let text = self.string(value, &format!("`{key}` must be a string: the name of a route-map in FRR"))?;
        let route_map = RouteMap::parse(text);
        if route_map.is_none() {
            self.report(
                ConfigProblem::new(
                    value.span(),
                    format!("`{}` is not a route-map name anycastd accepts", text.escape_debug()),
                    "invalid route-map name",
                )
                .help(format!(
                    "use only letters, digits, `-`, `_`, `.` and `:`, at most {} characters",
                    RouteMap::MAX_LEN
                )),
            );
        }
        route_map
    }

    /// `on_falling = "drain"` and `on_unhealthy = "drain"` drain every prefix of the service: each needs a drain
    /// route-map, or the policy would quietly mean "keep" or "withdraw" for some of them. A drain route-map that is
    /// the announcement's own route-map would drain nothing.
    fn drains_need_a_route_map(&mut self, table: &DeTable<'_>, policy: Policy, prefixes: &[Spanned<ManagedPrefix>]) {
        for prefix in prefixes {
            let managed = prefix.get_ref();
            if managed.drain_route_map.is_some() && managed.drain_route_map == managed.route_map {
                self.report(
                    ConfigProblem::new(
                        prefix.span(),
                        format!("{} has the same route-map for announcing and for draining", managed.prefix),
                        "drain_route_map = route_map",
                    )
                    .help("a drain route-map must lower the preference of the route, e.g. set community graceful-shutdown"),
                );
            }
        }
        let drains = [
            ("on_falling", policy.on_falling == OnFalling::Drain),
            ("on_unhealthy", policy.on_unhealthy == OnUnhealthy::Drain),
        ];
        for (key, _) in drains.iter().filter(|(_, drains)| *drains) {
            let Some((_, value)) = field(table, key) else { continue };
            let lacking: Vec<&ManagedPrefix> =
                prefixes.iter().map(Spanned::get_ref).filter(|prefix| !prefix.drains()).collect();
            let (frr, bird): (Vec<_>, Vec<_>) = lacking.iter().partition(|prefix| prefix.bird().is_none());
            let names = |prefixes: &[&&ManagedPrefix]| {
                prefixes.iter().map(|prefix| prefix.prefix.to_string()).collect::<Vec<_>>().join(", ")
            };
            if !frr.is_empty() {
                self.report(
                    ConfigProblem::new(
                        value.span(),
                        format!("`{key} = \"drain\"` needs a drain route-map, and {} has none", names(&frr)),
                        "drains without a route-map",
                    )
                    .help("add drain_route_map = \"ANYCAST-DRAIN\" to the service (or to each prefix's table)"),
                );
            }
            if !bird.is_empty() {
                self.report(
                    ConfigProblem::new(
                        value.span(),
                        format!("`{key} = \"drain\"` needs BIRD prefixes that drain, and {} does not", names(&bird)),
                        "drains without drain = true",
                    )
                    .help("add drain = true to each BIRD prefix's table, with the export filter the README shows"),
                );
            }
        }
    }

    /// A count of passes: a whole number from 1 up.
    fn count(&mut self, value: &Value<'_>, key: &str) -> Option<u32> {
        let count = match value.get_ref() {
            DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix()).ok(),
            _ => None,
        };
        match count.and_then(|count| u32::try_from(count).ok()).filter(|count| *count >= 1) {
            Some(count) => Some(count),
            None => {
                self.report(
                    ConfigProblem::new(
                        value.span(),
                        format!("`{key}` must be a whole number of passes, 1 or more"),
                        "invalid count",
                    )
                    .help(format!("e.g. {key} = 3; 1 (the default) decides on every pass alone")),
                );
                None
            }
        }
    }

    fn on_checker_error(&mut self, value: &Value<'_>) -> Option<OnCheckerError> {
        self.choice(
            value,
            "on_checker_error",
            &[("withdraw", OnCheckerError::Withdraw), ("keep", OnCheckerError::Keep)],
        )
    }

    fn hook(&mut self, service: &DeTable<'_>) -> Option<Option<Hook>> {
        let timeout = self.optional(service, "on_change_timeout", |walker, value| {
            walker.duration(value, "on_change_timeout", duration::HOOK_TIMEOUT).map(Some)
        });
        let argv = self.optional(service, "on_change", |walker, value| {
            let help = "e.g. on_change = [\"/usr/local/bin/notify\", \"--channel\", \"noc\"] (no shell is involved)";
            walker.argv(value, "on_change", help).map(Some)
        });
        let (timeout, argv) = (timeout?, argv?);
        Some(argv.map(|argv| Hook { argv, timeout: timeout.unwrap_or(DEFAULT_HOOK_TIMEOUT) }))
    }

    /// An argument vector for `key`: a non-empty list of strings, the first an absolute path.
    fn argv(&mut self, value: &Value<'_>, key: &str, help: &str) -> Option<Vec<String>> {
        let array = self.array(value, &format!("`{key}` must be a list: the program and its arguments"))?;
        let words: Option<Vec<String>> = array
            .iter()
            .map(|word| self.string(word, &format!("each word of `{key}` must be a string")).map(str::to_string))
            .collect();
        let words = words?;
        let valid =
            words.first().is_some_and(|program| program.starts_with('/')) && !words.iter().any(|w| w.contains('\0'));
        if !valid {
            self.report(
                ConfigProblem::new(
                    value.span(),
                    format!("`{key}` must start with the absolute path of a program"),
                    "invalid command",
                )
                .help(help),
            );
            return None;
        }
        Some(words)
    }

    /// Reads `prefixes.<type> = [...]` or `checks.<type> = [...]`: a table of lists keyed by a known type.
    fn typed_lists<T>(
        &mut self,
        service: &DeTable<'_>,
        section: &str,
        types: &[&str],
        mut item: impl FnMut(&mut Self, &str, &Value<'_>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Some((_, lists)) = field(service, section) else { return Some(Vec::new()) };
        let lists =
            self.table(lists, &format!("`{section}` must be a table such as {section}.{} = [...]", types[0]))?;
        let mut items = Vec::new();
        let mut all_valid = true;
        for (kind, list) in lists.iter() {
            if !types.contains(&kind.get_ref().as_ref()) {
                self.report(
                    ConfigProblem::new(
                        kind.span(),
                        format!("unknown {} type `{}`", singular(section), kind.get_ref()),
                        "unknown type",
                    )
                    .help(format!("supported {} types: {}", singular(section), types.join(", "))),
                );
                continue;
            }
            let Some(list) = self.array(list, &format!("`{section}.{}` must be a list", kind.get_ref())) else {
                all_valid = false;
                continue;
            };
            for entry in list.iter() {
                match item(self, kind.get_ref(), entry) {
                    Some(parsed) => items.push(parsed),
                    None => all_valid = false,
                }
            }
        }
        all_valid.then_some(items)
    }

    fn frrouting_prefix(&mut self, item: &Value<'_>, service_maps: &RouteMaps) -> Option<Spanned<ManagedPrefix>> {
        let example = "{ prefix = \"203.0.113.53\", vrf = \"EDGE\" }";
        let (prefix_value, table) =
            self.shorthand_or_table(item, ("frrouting prefix", "a prefix string"), FRROUTING_KEYS, "prefix", example)?;
        let prefix = self.prefix(prefix_value);
        let vrf = option(table, "vrf").map_or(Some(Vrf::Default), |value| self.vrf(value));
        let vtysh = option(table, "vtysh")
            .map_or_else(|| Some(PathBuf::from(DEFAULT_VTYSH)), |value| self.absolute_path(value, "vtysh"));
        let bgpd_pid_file = match option(table, "bgpd_pid_file") {
            Some(value) => Some(self.absolute_path(value, "bgpd_pid_file")?),
            None => vtysh
                .as_deref()
                .filter(|path| *path == Path::new(DEFAULT_VTYSH))
                .map(|_| PathBuf::from(DEFAULT_BGPD_PID_FILE)),
        };
        let own_maps = self.route_maps(table)?;
        let prefix = prefix?;
        let host = self.host_addresses(table, prefix)?;
        let managed = ManagedPrefix {
            prefix,
            vrf: vrf?,
            daemon: Daemon::Frr(FrrDaemon { vtysh: vtysh?, bgpd_pid_file }),
            route_map: own_maps.route_map.or_else(|| service_maps.route_map.clone()),
            drain_route_map: own_maps.drain_route_map.or_else(|| service_maps.drain_route_map.clone()),
            host,
        };
        Some(Spanned::new(prefix_value.span(), managed))
    }

    fn bird_prefix(&mut self, item: &Value<'_>) -> Option<Spanned<ManagedPrefix>> {
        let example = "{ prefix = \"203.0.113.53\", drain = true }";
        let (prefix_value, table) =
            self.shorthand_or_table(item, ("bird prefix", "a prefix string"), BIRD_KEYS, "prefix", example)?;
        let prefix = self.prefix(prefix_value);
        let path = |walker: &mut Self, key: &str, default: &str| {
            option(table, key).map_or_else(|| Some(PathBuf::from(default)), |value| walker.absolute_path(value, key))
        };
        let socket = path(self, "socket", DEFAULT_BIRD_SOCKET);
        let file = path(self, "file", DEFAULT_BIRD_FILE);
        let drain = option(table, "drain").map_or(Some(false), |value| self.boolean(value, "drain"));
        let prefix = prefix?;
        let bird_table = option(table, "table").map_or(Some(None), |value| self.bird_table(value, prefix));
        let host = self.host_addresses(table, prefix);
        let daemon = BirdDaemon { socket: socket?, file: file?, drain: drain?, table: bird_table? };
        let managed = ManagedPrefix {
            prefix,
            vrf: Vrf::Default,
            daemon: Daemon::Bird(daemon),
            route_map: None,
            drain_route_map: None,
            host: host?,
        };
        Some(Spanned::new(prefix_value.span(), managed))
    }

    /// A prefix's `interface` and `addresses` keys: `Some(None)` when it has neither, `None` when they are invalid.
    fn host_addresses(&mut self, table: Option<&DeTable<'_>>, prefix: Prefix) -> Option<Option<HostAddresses>> {
        let interface = option(table, "interface").map(|value| self.interface(value));
        let addresses = option(table, "addresses");
        let Some(interface) = interface else {
            if let Some(addresses) = addresses {
                self.report(
                    ConfigProblem::new(addresses.span(), "`addresses` without `interface`", "on which interface?")
                        .help("add interface = \"lo\" (or the VRF's device) to this prefix's table"),
                );
                return None;
            }
            return Some(None);
        };
        let addresses = match addresses {
            Some(value) => self.addresses(value, prefix),
            None => self.prefix_as_address(table, prefix),
        };
        Some(Some(HostAddresses { interface: interface?, addresses: addresses? }))
    }

    /// A Linux interface name, as the kernel accepts one (`dev_valid_name`).
    fn interface(&mut self, value: &Value<'_>) -> Option<String> {
        let text = self.string(value, "`interface` must be a string, the name of an interface such as \"lo\"")?;
        let forbidden = |c: char| c == '/' || c == ':' || c.is_whitespace() || c.is_control();
        if text.is_empty() || text.len() > INTERFACE_NAME_MAX || text == "." || text == ".." || text.contains(forbidden)
        {
            self.report(
                ConfigProblem::new(
                    value.span(),
                    format!("`{}` is not an interface name Linux accepts", text.escape_debug()),
                    "invalid interface name",
                )
                .help(format!(
                    "1 to {INTERFACE_NAME_MAX} characters, without `/`, `:` or spaces, as `ip link` shows it: \"lo\", \
                     a VRF's device, \"dummy0\""
                )),
            );
            return None;
        }
        Some(text.to_string())
    }

    /// The address of a host prefix (/32, /128), when a prefix with `interface` names no `addresses`; a shorter
    /// prefix must name them, since anycastd cannot guess which of its addresses the service binds.
    fn prefix_as_address(&mut self, table: Option<&DeTable<'_>>, prefix: Prefix) -> Option<Vec<IpAddr>> {
        let net = prefix.net();
        if net.prefix_len() == net.max_prefix_len() {
            return Some(vec![net.addr()]);
        }
        let span = option(table, "interface").map(|value| value.span()).unwrap_or(0..0);
        let example = net.hosts().next().unwrap_or(net.addr());
        self.report(
            ConfigProblem::new(
                span,
                format!("{prefix} is a network: which of its addresses go on the interface?"),
                "which addresses?",
            )
            .help(format!("name them: addresses = [\"{example}\"]; each is added as a /{}", net.max_prefix_len())),
        );
        None
    }

    /// A prefix's `addresses`: at least one, each inside `prefix`, none twice.
    fn addresses(&mut self, value: &Value<'_>, prefix: Prefix) -> Option<Vec<IpAddr>> {
        let array = self.array(value, "`addresses` must be a list of addresses such as [\"203.0.113.53\"]")?;
        if array.is_empty() || array.len() > MAX_ADDRESSES_PER_PREFIX {
            self.report(
                ConfigProblem::new(
                    value.span(),
                    format!("`addresses` must name 1 to {MAX_ADDRESSES_PER_PREFIX} addresses"),
                    format!("{} addresses", array.len()),
                )
                .help("leave `addresses` out for a host prefix (/32, /128): its own address is the one added"),
            );
            return None;
        }
        let mut addresses: Vec<IpAddr> = Vec::new();
        let mut all_valid = true;
        for item in array.iter() {
            let Some(text) = self.string(item, "each address must be a string such as \"203.0.113.53\"") else {
                all_valid = false;
                continue;
            };
            let problem = match text.parse::<IpAddr>() {
                Err(_) => Some((format!("`{}` is not an IP address", text.escape_debug()), "not an address")),
                Ok(address) if !prefix.net().contains(&address) => {
                    Some((format!("{address} is not inside {prefix}"), "outside the prefix"))
                }
                Ok(address) if addresses.contains(&address) => Some((format!("{address} is named twice"), "again")),
                Ok(address) => {
                    addresses.push(address);
                    None
                }
            };
            if let Some((message, label)) = problem {
                self.report(
                    ConfigProblem::new(item.span(), message, label)
                        .help(format!("each address is one of {prefix}'s, written without a length")),
                );
                all_valid = false;
            }
        }
        all_valid.then_some(addresses)
    }

    /// Reads a list item that is either a bare string (the `required` key's value; `shorthand` names it) or a table
    /// with `keys`. Returns the `required` value and the table, if any; `kind` names the item in messages.
    fn shorthand_or_table<'a, 'i>(
        &mut self,
        item: &'a Value<'i>,
        (kind, shorthand): (&str, &str),
        keys: &[&str],
        required: &str,
        example: &str,
    ) -> Option<(&'a Value<'i>, Option<&'a DeTable<'i>>)> {
        match item.get_ref() {
            DeValue::String(_) => Some((item, None)),
            DeValue::Table(table) => {
                self.reject_unknown_keys(table, keys, || format!("in a {kind}"));
                let Some((_, value)) = field(table, required) else {
                    self.report(
                        ConfigProblem::new(
                            item.span(),
                            format!("this {kind} has no `{required}` key"),
                            format!("missing `{required}`"),
                        )
                        .help(format!("e.g. {example}")),
                    );
                    return None;
                };
                Some((value, Some(table)))
            }
            other => {
                self.type_mismatch(item, &format!("{shorthand} or a table such as {example}"), other);
                None
            }
        }
    }

    fn prefix(&mut self, value: &Value<'_>) -> Option<Prefix> {
        let text = self.string(value, "the prefix must be a string such as \"203.0.113.53\" or \"192.0.2.0/24\"")?;
        match Prefix::parse(text) {
            Ok(prefix) => Some(prefix),
            Err(PrefixError::NotAPrefix) => {
                self.report(
                    ConfigProblem::new(
                        value.span(),
                        format!("`{text}` is not an IP address or prefix"),
                        "not a prefix",
                    )
                    .help("write an address (203.0.113.53, 2001:db8::53) or a network (192.0.2.0/24)"),
                );
                None
            }
            Err(PrefixError::HostBitsSet(meant)) => {
                self.report(
                    ConfigProblem::new(value.span(), format!("prefix `{text}` has host bits set"), format!("did you mean {meant}?"))
                        .help(format!("FRR would silently store it as `{meant}` and anycastd could never find it again: write \"{meant}\"")),
                );
                None
            }
        }
    }

    fn vrf(&mut self, value: &Value<'_>) -> Option<Vrf> {
        let text = self.string(value, "`vrf` must be a string")?;
        let vrf = Vrf::parse(text);
        if vrf.is_none() {
            self.report(
                ConfigProblem::new(
                    value.span(),
                    format!("`{}` is not a VRF name FRR accepts", text.escape_debug()),
                    "invalid VRF name",
                )
                .help(format!("use only letters, digits, `-`, `_` and `.`, at most {} characters", Vrf::MAX_LEN)),
            );
        }
        vrf
    }

    /// An absolute path (`vtysh`, `bgpd_pid_file`), normalised without looking at the file system (`//`, `.` and a
    /// trailing `/` dropped), so that two spellings of one vtysh are one FRR: the same prefix under `/usr/bin/vtysh`
    /// and `/usr/bin//vtysh` is a duplicate, not two owners that undo each other's changes.
    fn absolute_path(&mut self, value: &Value<'_>, key: &str) -> Option<PathBuf> {
        let text = self.string(value, &format!("`{key}` must be a string"))?;
        let example = match key {
            "vtysh" => DEFAULT_VTYSH,
            "socket" => DEFAULT_BIRD_SOCKET,
            "file" => DEFAULT_BIRD_FILE,
            _ => DEFAULT_BGPD_PID_FILE,
        };
        if !text.starts_with('/') || text.chars().any(char::is_control) {
            self.report(
                ConfigProblem::new(value.span(), format!("`{key}` must be an absolute path"), "not an absolute path")
                    .help(format!("e.g. \"{example}\"")),
            );
            return None;
        }
        let path = Path::new(text);
        if path.components().any(|component| component == Component::ParentDir) {
            self.report(
                ConfigProblem::new(value.span(), format!("`{key}` cannot contain `..`"), "`..` in the path").help(
                    format!(
                        "after a symbolic link, `..` is not the folder before it, so two paths could name one file \
                         unnoticed: write the path without it, e.g. \"{example}\""
                    ),
                ),
            );
            return None;
        }
        Some(path.components().collect())
    }

    /// An item of `checks.exec`: a table, since a command has no shorthand.
    fn exec_check(&mut self, item: &Value<'_>) -> Option<Spanned<ExecCheck>> {
        let example = "{ name = \"dns\", command = [\"/usr/lib/nagios/plugins/check_dns\", \"-H\", \"example.com\"] }";
        let DeValue::Table(table) = item.get_ref() else {
            self.type_mismatch(item, &format!("a table such as {example}"), item.get_ref());
            return None;
        };
        self.reject_unknown_keys(table, EXEC_KEYS, || "in an exec check".to_string());
        let mut missing = Vec::new();
        let name = match field(table, "name") {
            Some((_, value)) => self.check_name(value).map(|name| (name, value.span())),
            None => {
                missing.push("name");
                None
            }
        };
        let help = "e.g. command = [\"/usr/lib/nagios/plugins/check_dns\", \"-H\", \"example.com\"]";
        let command = match field(table, "command") {
            Some((_, value)) => self.argv(value, "command", &format!("{help} (no shell is involved)")),
            None => {
                missing.push("command");
                None
            }
        };
        if !missing.is_empty() {
            let keys = missing.iter().map(|key| format!("`{key}`")).collect::<Vec<_>>().join(" and ");
            self.report(
                ConfigProblem::new(item.span(), format!("this exec check has no {keys}"), format!("missing {keys}"))
                    .help(format!("e.g. {example}")),
            );
        }
        let timeout = option(Some(table), "timeout")
            .map_or(Some(DEFAULT_EXEC_TIMEOUT), |v| self.duration(v, "timeout", duration::EXEC_TIMEOUT));
        let interval = option(Some(table), "interval")
            .map_or(Some(DEFAULT_INTERVAL), |v| self.duration(v, "interval", duration::INTERVAL));
        let warning_is_failure =
            option(Some(table), "warning_is_failure").map_or(Some(true), |v| self.boolean(v, "warning_is_failure"));
        let (name, span) = name?;
        let check = ExecCheck {
            name,
            command: command?,
            timeout: timeout?,
            interval: interval?,
            warning_is_failure: warning_is_failure?,
        };
        Some(Spanned::new(span, check))
    }

    /// Splits a service's checks by type, and reports (and drops) a command check whose name another command check of
    /// the service has: its name is what plans, metrics, hooks and `plan --health` know it by.
    fn split_checks(&mut self, checks: Vec<AnyCheck>) -> (Vec<Check>, Vec<ExecCheck>) {
        let (mut cabourotte, mut exec) = (Vec::new(), Vec::new());
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for check in checks {
            match check {
                AnyCheck::Cabourotte(check) => cabourotte.push(check),
                AnyCheck::Exec(check) => {
                    let (span, check) = (check.span(), check.into_inner());
                    if let Some(first) = seen.get(&check.name) {
                        self.report(
                            ConfigProblem::new(
                                span,
                                format!("two exec checks of this service are named `{}`", check.name.escape_debug()),
                                "named again here",
                            )
                            .also_at(first.clone(), "first named here")
                            .help("give each exec check of a service its own name"),
                        );
                        continue;
                    }
                    seen.insert(check.name.clone(), span);
                    exec.push(check);
                }
            }
        }
        (cabourotte, exec)
    }

    fn cabourotte_check(&mut self, item: &Value<'_>, default_max_age: Option<Duration>) -> Option<Check> {
        let example = "{ name = \"dns\", interval = 1 }";
        let (name_value, table) =
            self.shorthand_or_table(item, ("cabourotte check", "a check name"), CABOUROTTE_KEYS, "name", example)?;
        let name = self.check_name(name_value);
        let url =
            option(table, "url").map_or_else(|| CabourotteUrl::parse(DEFAULT_CABOUROTTE_URL).ok(), |v| self.url(v));
        let interval = option(table, "interval")
            .map_or(Some(DEFAULT_INTERVAL), |v| self.duration(v, "interval", duration::INTERVAL));
        let max_age = option(table, "max_age")
            .map_or(Some(default_max_age), |v| self.duration(v, "max_age", duration::MAX_AGE).map(Some));
        let written = self.tls_keys(table);
        let tls = match (&name, &url, written) {
            (Some(name), Some(url), Some(written)) => self
                .tls
                .define(url, name, item.span(), &written)
                .map_err(|problems| problems.into_iter().for_each(|problem| self.report(problem)))
                .ok(),
            _ => None,
        };
        Some(Check { name: name?, url: url?, interval: interval?, max_age: max_age?, tls: tls? })
    }

    /// The TLS keys of a check table (`ca_file`, `cert_file`, `key_file`), each an absolute path; `None` when one
    /// of them is not.
    fn tls_keys(&mut self, table: Option<&DeTable<'_>>) -> Option<tls::Written> {
        let mut written = tls::Written::default();
        let mut valid = true;
        for key in TlsKey::ALL {
            let Some(value) = option(table, key.name()) else { continue };
            match self.tls_path(value, key) {
                Some(path) => written.set(key, path, value.span()),
                None => valid = false,
            }
        }
        valid.then_some(written)
    }

    /// The path of a PEM file: absolute, since anycastd runs from timers and units whose working directory is not
    /// the configuration's.
    fn tls_path(&mut self, value: &Value<'_>, key: TlsKey) -> Option<PathBuf> {
        let text = self.string(value, &format!("`{key}` must be a string: the path of a PEM file"))?;
        if !text.starts_with('/') || text.chars().any(char::is_control) {
            self.report(
                ConfigProblem::new(value.span(), format!("`{key}` must be an absolute path"), "not an absolute path")
                    .help(format!("e.g. \"/etc/anycastd/cabourotte-{}.pem\"", key.name().trim_end_matches("_file"))),
            );
            return None;
        }
        Some(PathBuf::from(text))
    }

    fn check_name(&mut self, value: &Value<'_>) -> Option<String> {
        let text = self.string(value, "the check name must be a string")?;
        if text.is_empty() || text.chars().any(char::is_control) {
            self.report(
                ConfigProblem::new(
                    value.span(),
                    "a check name cannot be empty or contain control characters",
                    "invalid check name",
                )
                .help("a Cabourotte check's is its name in Cabourotte's configuration; an exec check's is free"),
            );
            return None;
        }
        Some(text.to_string())
    }

    fn url(&mut self, value: &Value<'_>) -> Option<CabourotteUrl> {
        let text = self.string(value, "`url` must be a string")?;
        match CabourotteUrl::parse(text) {
            Ok(url) => Some(url),
            Err(reason) => {
                self.report(
                    ConfigProblem::new(value.span(), format!("invalid Cabourotte URL: {reason}"), "invalid URL").help(
                        format!("e.g. \"{DEFAULT_CABOUROTTE_URL}\" or \"https://user:password@healthz.local/api/v1\""),
                    ),
                );
                None
            }
        }
    }

    /// A duration for `key`, within `bounds`.
    fn duration(&mut self, value: &Value<'_>, key: &str, bounds: Bounds) -> Option<Duration> {
        let seconds = match value.get_ref() {
            DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix())
                .map(|n| n as f64)
                .map_err(|_| "is not a valid number".to_string()),
            DeValue::Float(float) => float.as_str().parse::<f64>().map_err(|_| "is not a valid number".to_string()),
            DeValue::String(text) => parse_seconds(text),
            other => {
                self.type_mismatch(value, "a number of seconds or a duration string such as \"500ms\"", other);
                return None;
            }
        };
        seconds
            .and_then(|seconds| bounds.checked(seconds))
            .map_err(|reason| {
                self.report(
                    ConfigProblem::new(value.span(), format!("invalid {key}: {reason}"), format!("invalid {key}"))
                        .help(format!(
                            "{key} takes {}: a number of seconds (5, 0.5) or a string such as \"500ms\", \"2s\", \"1m\"",
                            bounds.range()
                        )),
                )
            })
            .ok()
    }

    /// Reports (and drops) a prefix whose daemon is given a setting that another prefix of the same daemon gives
    /// differently: one vtysh talks to one bgpd (its pid file), one BIRD has one file of anycastd's, and one file
    /// belongs to one BIRD.
    fn one_daemon_one_setting(&mut self, prefix: &ManagedPrefix, span: &Range<usize>) -> bool {
        let (seen, key, setting, (problem, label, help)) = match &prefix.daemon {
            Daemon::Frr(frr) => (
                &mut self.bgpd_pid_files,
                frr.vtysh.clone(),
                frr.bgpd_pid_file.clone(),
                (
                    format!("{} is given two different `bgpd_pid_file`s", frr.vtysh.display()),
                    "a different bgpd_pid_file (or none) here",
                    "one vtysh talks to one bgpd: give every prefix of this vtysh the same bgpd_pid_file",
                ),
            ),
            Daemon::Bird(bird) => (
                &mut self.bird_files,
                bird.socket.clone(),
                Some(bird.file.clone()),
                (
                    format!("the BIRD of {} is given two different `file`s", bird.socket.display()),
                    "a different file here",
                    "anycastd writes one file per BIRD: give every prefix of this socket the same file",
                ),
            ),
        };
        match seen.get(&key) {
            Some((first, at)) if *first != setting => {
                let problem =
                    ConfigProblem::new(span.clone(), problem, label).also_at(at.clone(), "first given here").help(help);
                self.report(problem);
                return false;
            }
            Some(_) => {}
            None => {
                seen.insert(key, (setting, span.clone()));
            }
        }
        let Some(bird) = prefix.bird() else { return true };
        match self.bird_file_owners.get(&bird.file) {
            Some((socket, at)) if *socket != bird.socket => {
                let problem = ConfigProblem::new(
                    span.clone(),
                    format!("{} is given to two BIRDs", bird.file.display()),
                    "another socket here",
                )
                .also_at(at.clone(), "first given here")
                .help("each BIRD needs a file of its own: anycastd rewrites the whole file for its BIRD");
                self.report(problem);
                false
            }
            Some(_) => true,
            None => {
                self.bird_file_owners.insert(bird.file.clone(), (bird.socket.clone(), span.clone()));
                true
            }
        }
    }

    /// Drops (and reports) a prefix defined twice in the same VRF of the same FRR, and reports one FRR (vtysh) given
    /// two different bgpd pid files: it has one bgpd.
    fn without_duplicates(&mut self, prefixes: Vec<Spanned<ManagedPrefix>>) -> Vec<ManagedPrefix> {
        let mut unique = Vec::with_capacity(prefixes.len());
        for prefix in prefixes {
            let (span, prefix) = (prefix.span(), prefix.into_inner());
            if !self.one_daemon_one_setting(&prefix, &span) {
                continue;
            }
            let key = DuplicateKey::of(&prefix);
            if let Some(first) = self.first_definition.get(&key) {
                let problem = ConfigProblem::new(
                    span.clone(),
                    format!("prefix {} is defined twice in {}", prefix.prefix, prefix.vrf.described()),
                    "defined again here",
                )
                .also_at(first.clone(), "first defined here")
                .help("a prefix can belong to only one service: remove one of them");
                self.report(problem);
                continue;
            }
            self.first_definition.insert(key, span);
            unique.push(prefix);
        }
        unique
    }

    fn reject_unknown_keys(&mut self, table: &DeTable<'_>, known: &[&str], place: impl Fn() -> String) {
        for (key, _) in table.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let help = match closest(name, known) {
                _ if name == "vrf" && known == BIRD_KEYS => format!(
                    "BIRD's VRFs are its tables: `table = \"blue4\"`, the table your VRF's protocols use. Valid keys: \
                     {}",
                    known.join(", ")
                ),
                Some(suggestion) => format!("did you mean `{suggestion}`? Valid keys: {}", known.join(", ")),
                None => format!("valid keys: {}", known.join(", ")),
            };
            self.report(
                ConfigProblem::new(key.span(), format!("unknown key `{name}` {}", place()), "unknown key").help(help),
            );
        }
    }

    fn table<'a, 'i>(&mut self, value: &'a Value<'i>, message: &str) -> Option<&'a DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.type_mismatch(value, message, other);
                None
            }
        }
    }

    fn array<'a, 'i>(&mut self, value: &'a Value<'i>, message: &str) -> Option<&'a DeArray<'i>> {
        match value.get_ref() {
            DeValue::Array(array) => Some(array),
            other => {
                self.type_mismatch(value, message, other);
                None
            }
        }
    }

    fn string<'a>(&mut self, value: &'a Value<'_>, message: &str) -> Option<&'a str> {
        match value.get_ref() {
            DeValue::String(text) => Some(text.as_ref()),
            other => {
                self.type_mismatch(value, message, other);
                None
            }
        }
    }

    /// A BIRD prefix's `table`: a BIRD symbol, such that the name of the protocol that announces `prefix` there
    /// stays within BIRD's 64 characters. `master4` and `master6` are the default tables: `None`.
    fn bird_table(&mut self, value: &Value<'_>, prefix: Prefix) -> Option<Option<String>> {
        let text = self.string(value, "`table` must be a string, the name of one of BIRD's tables")?;
        if !bird::is_symbol(text) {
            self.report(
                ConfigProblem::new(
                    value.span(),
                    format!("`{}` is not a table name BIRD accepts", text.escape_debug()),
                    "invalid table name",
                )
                .help("a letter or `_`, then letters, digits and `_`, as in bird.conf's `ipv4 table blue4;`"),
            );
            return None;
        }
        let net = bird::BirdNet::new(prefix, Some(text));
        let name = bird::protocol_name(&net);
        if name.len() > bird::SYMBOL_MAX_LEN {
            let room = text.len() - (name.len() - bird::SYMBOL_MAX_LEN);
            self.report(
                ConfigProblem::new(
                    value.span(),
                    format!("the table name `{text}` is too long for {prefix}"),
                    "too long for this prefix",
                )
                .help(format!(
                    "anycastd names its protocol {name}, longer than the {} characters BIRD allows: use a table name \
                     of at most {room} characters for this prefix",
                    bird::SYMBOL_MAX_LEN
                )),
            );
            return None;
        }
        Some(net.table)
    }

    fn boolean(&mut self, value: &Value<'_>, key: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(flag) => Some(*flag),
            other => {
                self.type_mismatch(value, &format!("`{key}` must be true or false"), other);
                None
            }
        }
    }

    fn type_mismatch(&mut self, value: &Value<'_>, expected: &str, found: &DeValue<'_>) {
        let message = if expected.starts_with('`') || expected.starts_with("the ") {
            expected.to_string()
        } else {
            format!("expected {expected}")
        };
        self.report(ConfigProblem::new(value.span(), message, format!("found {}", found.type_str())));
    }
}

fn singular(section: &str) -> &str {
    section.strip_suffix("es").filter(|s| s.ends_with('x')).or(section.strip_suffix('s')).unwrap_or(section)
}

/// Where `value` ends, nested tables and lists included: a dotted key's table (`checks.cabourotte = [...]`) may
/// have a span that ends before its contents.
fn end_of(value: &Value<'_>) -> usize {
    let inner = match value.get_ref() {
        DeValue::Table(table) => table.iter().map(|(key, value)| key.span().end.max(end_of(value))).max(),
        DeValue::Array(array) => array.iter().map(end_of).max(),
        _ => None,
    };
    inner.map_or(value.span().end, |inner| inner.max(value.span().end))
}

/// The value of `key` in an optional table.
fn option<'a, 'i>(table: Option<&'a DeTable<'i>>, key: &str) -> Option<&'a Value<'i>> {
    table.and_then(|table| field(table, key)).map(|(_, value)| value)
}

/// What makes two managed prefixes the same `network` statement. The vtysh path is kept as raw bytes: hashing a
/// `Path` walks its components, which made this check the costliest part of reading a 10,000-prefix config. The
/// bytes compare equal for every spelling of one path, since [`Walker::vtysh`] normalises it.
#[derive(PartialEq, Eq, Hash)]
struct DuplicateKey {
    prefix: Prefix,
    vrf: Vrf,
    /// The daemon: its kind and the path that reaches it (vtysh, control socket).
    daemon: (&'static str, Vec<u8>),
}

impl DuplicateKey {
    fn of(managed: &ManagedPrefix) -> Self {
        let daemon = match &managed.daemon {
            Daemon::Frr(frr) => ("frr", frr.vtysh.as_os_str().as_encoded_bytes().to_vec()),
            Daemon::Bird(bird) => ("bird", bird.socket.as_os_str().as_encoded_bytes().to_vec()),
        };
        DuplicateKey { prefix: managed.prefix, vrf: managed.vrf.clone(), daemon }
    }
}

/// Looks up `key` in a spanned table.
fn field<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<(&'a Key<'i>, &'a Value<'i>)> {
    table.iter().find(|(candidate, _)| candidate.get_ref() == key)
}

/// The known key closest to a misspelt one, if it is close enough to be what was meant.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), *candidate))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}
