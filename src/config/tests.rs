//! Tests of the configuration: the original's format, and one test per validation rule asserting the message and
//! the exact text its span points at.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

const SEED: &str = include_str!("../../examples/config.toml");

/// The configuration file the Debian package installs as /etc/anycastd/config.toml.
const PACKAGED: &str = include_str!("../../pkg/debian/config.toml");

/// Parses `text` and returns each problem as (message, the text under its span).
fn problems(text: &str) -> Vec<(String, String)> {
    match Config::parse(text, "test.toml") {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(error) => error.problems().iter().map(|p| (p.message.clone(), text[p.span.clone()].to_string())).collect(),
    }
}

fn one_problem(text: &str) -> (String, String) {
    let mut found = problems(text);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn prefix(text: &str) -> Prefix {
    Prefix::parse(text).expect("a valid prefix")
}

#[test]
fn the_seed_example_parses_with_its_defaults() {
    let config = Config::parse(SEED, "seed").expect("the seed example is valid");
    let names: Vec<_> = config.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["dns", "ntp"]);
    let dns = &config.services[0];
    assert_eq!(
        dns.prefixes,
        [
            ManagedPrefix {
                vrf: Vrf::Default,
                prefix: prefix("203.0.113.53/32"),
                daemon: Daemon::Frr(FrrDaemon {
                    vtysh: PathBuf::from("/usr/bin/vtysh"),
                    bgpd_pid_file: Some(PathBuf::from("/run/frr/bgpd.pid")),
                }),
                route_map: None,
                drain_route_map: None,
                host: None,
            },
            ManagedPrefix {
                vrf: Vrf::Default,
                prefix: prefix("2001:db8::b19:bad:53/128"),
                daemon: Daemon::Frr(FrrDaemon {
                    vtysh: PathBuf::from("/usr/bin/vtysh"),
                    bgpd_pid_file: Some(PathBuf::from("/run/frr/bgpd.pid")),
                }),
                route_map: None,
                drain_route_map: None,
                host: None,
            },
        ]
    );
    assert_eq!(dns.checks[0].name, "dns");
    assert_eq!(dns.checks[0].url.to_string(), "http://127.0.0.1:9013");
    assert_eq!(dns.checks[0].interval, Duration::from_secs(5));
    let ntp = &config.services[1];
    assert!(ntp.prefixes.iter().all(|p| p.vrf == Vrf::Named("123".into())));
    assert_eq!(ntp.checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["ntp_v6", "ntp_v4"]);
    assert_eq!(config.shortest_interval(), Duration::from_secs(1));
}

#[test]
fn array_of_tables_and_every_interval_spelling_work() {
    let text = r#"
[[services.web.prefixes.frrouting]]
prefix = "192.0.2.0/24"
vtysh = "/usr/local/bin/vtysh"

[[services.web.checks.cabourotte]]
name = "a"
interval = 2

[[services.web.checks.cabourotte]]
name = "b"
interval = 0.25
url = "https://user:pw@healthz.local/api/v1"

[[services.web.checks.cabourotte]]
name = "c"
interval = "500ms"
"#;
    let config = Config::parse(text, "t").expect("valid");
    let web = &config.services[0];
    assert_eq!(web.prefixes[0].vtysh(), Some(Path::new("/usr/local/bin/vtysh")));
    let intervals: Vec<_> = web.checks.iter().map(|c| c.interval).collect();
    assert_eq!(intervals, [Duration::from_secs(2), Duration::from_millis(250), Duration::from_millis(500)]);
    assert_eq!(web.checks[1].url.result_list(), "https://healthz.local/api/v1/result");
}

#[test]
fn unknown_keys_are_reported_at_every_level() {
    let text = r#"
verbose = true
[services.dns]
prefix.frrouting = ["203.0.113.53"]
prefixes.frrouting = [{ prefix = "203.0.113.53", vfr = "x" }]
checks.cabourotte = [{ name = "dns", intervall = 3 }]
"#;
    let found = problems(text);
    assert_eq!(
        found,
        [
            ("unknown key `verbose` at the top level".to_string(), "verbose".to_string()),
            ("unknown key `prefix` in service `dns`".to_string(), "prefix".to_string()),
            ("unknown key `vfr` in a frrouting prefix".to_string(), "vfr".to_string()),
            ("unknown key `intervall` in a cabourotte check".to_string(), "intervall".to_string()),
        ]
    );
    let error = Config::parse(text, "t").unwrap_err();
    assert_eq!(
        error.problems()[2].help.as_deref(),
        Some(
            "did you mean `vrf`? Valid keys: prefix, vrf, vtysh, bgpd_pid_file, route_map, drain_route_map, interface, addresses"
        )
    );
}

#[test]
fn unknown_prefix_and_check_types_list_the_supported_ones_before_what_they_leave_missing() {
    let text = "[services.dns]\nprefixes.exabgp = [\"203.0.113.53\"]\nchecks.consul = [\"dns\"]\n";
    let error = Config::parse(text, "t").unwrap_err();
    let found: Vec<_> = error.problems().iter().map(|p| (p.message.as_str(), p.help.as_deref())).collect();
    assert_eq!(
        found,
        [
            ("unknown prefix type `exabgp`", Some("supported prefix types: frrouting, bird")),
            ("unknown check type `consul`", Some("supported check types: cabourotte, exec")),
            (
                "service `dns` has no prefixes",
                Some("add the prefixes to announce while healthy, e.g. prefixes.frrouting = [\"203.0.113.53\"]")
            ),
            (
                "service `dns` has no checks",
                Some(
                    "add the checks that decide its health, e.g. checks.cabourotte = [\"dns\"] or checks.exec = [{ \
                     name = \"dns\", command = [\"/usr/lib/nagios/plugins/check_dns\", \"-H\", \"example.com\"] }]"
                )
            ),
        ]
    );
}

#[test]
fn a_misspelt_key_is_reported_before_the_service_it_leaves_without_prefixes() {
    let text = "[services.dns]\nprefix.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [\"dns\"]\n\n\
                [services.ntp]\nprefixes.frrouting = [\"203.0.113.123\"]\nchecks.cabourotte = [\"ntp\", 7]\n";
    assert_eq!(
        problems(text),
        [
            ("unknown key `prefix` in service `dns`".to_string(), "prefix".to_string()),
            ("service `dns` has no prefixes".to_string(), "dns".to_string()),
            ("expected a check name or a table such as { name = \"dns\", interval = 1 }".to_string(), "7".to_string()),
        ]
    );
    let error = Config::parse(text, "t").unwrap_err();
    assert_eq!(
        error.problems()[0].help.as_deref(),
        Some(
            "did you mean `prefixes`? Valid keys: prefixes, checks, rise, fall, max_age, on_checker_error, on_falling, on_unhealthy, route_map, drain_route_map, on_change, on_change_timeout"
        )
    );
}

#[test]
fn host_bits_are_rejected_showing_the_meant_network() {
    let text = "[services.dns]\nprefixes.frrouting = [\"192.0.2.241/28\"]\nchecks.cabourotte = [\"dns\"]\n";
    assert_eq!(one_problem(text), ("prefix `192.0.2.241/28` has host bits set".into(), "\"192.0.2.241/28\"".into()));
    let error = Config::parse(text, "t").unwrap_err();
    assert_eq!(error.problems()[0].label, "did you mean 192.0.2.240/28?");
}

#[test]
fn a_prefix_twice_in_one_vrf_is_rejected_even_across_services() {
    let text = r#"
[services.a]
prefixes.frrouting = ["203.0.113.53", { prefix = "203.0.113.53", vrf = "blue" }]
checks.cabourotte = ["a"]
[services.b]
prefixes.frrouting = ["203.0.113.53/32"]
checks.cabourotte = ["b"]
"#;
    assert_eq!(
        one_problem(text),
        ("prefix 203.0.113.53/32 is defined twice in the default VRF".into(), "\"203.0.113.53/32\"".into())
    );
    let error = Config::parse(text, "t").unwrap_err();
    let (first, label) = error.problems()[0].related.clone().expect("points at the first definition");
    assert_eq!((&text[first], label.as_str()), ("\"203.0.113.53\"", "first defined here"));
}

#[test]
fn a_configuration_without_services_is_valid_with_a_warning() {
    for text in ["", "# all comments, as the package installs it\n", "[services]\n"] {
        let config = Config::parse(text, "t").expect("no services is valid");
        assert!(config.services.is_empty());
        assert_eq!(config.warnings(), [ConfigWarning::NoServices], "{text:?}");
    }
    let seed = Config::parse(SEED, "seed").expect("the seed example is valid");
    assert!(seed.warnings().is_empty());
}

#[test]
fn the_packaged_config_is_valid_as_installed_and_its_example_is_the_seed_once_uncommented() {
    let installed = Config::parse(PACKAGED, "/etc/anycastd/config.toml").expect("valid as installed");
    assert_eq!(installed.warnings(), [ConfigWarning::NoServices]);
    // As the file says: remove the leading `#` of each line from the example's first one on.
    let example = &PACKAGED[PACKAGED.find("\n#[services.").expect("an example") + 1..];
    assert!(example.lines().all(|line| line.starts_with('#')), "the whole example is commented out");
    let uncommented: String = example.lines().map(|line| format!("{}\n", &line[1..])).collect();
    assert!(uncommented.contains("[services.dns]"), "{uncommented}");
    let example = Config::parse(&uncommented, "uncommented").expect("the example validates");
    assert_eq!(example, Config::parse(SEED, "seed").expect("the seed is valid"));
}

#[test]
fn services_must_have_prefixes_and_checks() {
    assert_eq!(
        problems("[services.dns]\nprefixes.frrouting = []\n"),
        [
            ("service `dns` has no prefixes".to_string(), "dns".to_string()),
            ("service `dns` has no checks".to_string(), "dns".to_string()),
        ]
    );
    assert_eq!(one_problem("services = 3\n"), ("`services` must be a table of services".into(), "3".into()));
}

#[test]
fn urls_must_be_http_or_https() {
    let text = "[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [{ name = \"dns\", url = \"ftp://x\" }]\n";
    assert_eq!(
        one_problem(text),
        (
            "invalid Cabourotte URL: unsupported scheme `ftp`: only http and https are supported".into(),
            "\"ftp://x\"".into()
        )
    );
}

#[test]
fn intervals_must_be_positive() {
    for (interval, message) in [
        ("0", "invalid interval: must be at least 100 ms"),
        ("-2", "invalid interval: must be at least 100 ms"),
        ("0.0", "invalid interval: must be at least 100 ms"),
        ("\"0s\"", "invalid interval: must be at least 100 ms"),
        ("\"soon\"", "invalid interval: `soon` is not a duration (e.g. 5, 0.5, \"500ms\", \"2s\")"),
        ("true", "expected a number of seconds or a duration string such as \"500ms\""),
    ] {
        let text = format!(
            "[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [{{ name = \"dns\", interval = {interval} }}]\n"
        );
        assert_eq!(one_problem(&text), (message.to_string(), interval.to_string()), "interval {interval}");
    }
}

/// A config whose `dns` service has `keys` and whose check is `check`.
fn with_durations(keys: &str, check: &str) -> String {
    format!("[services.dns]\n{keys}\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [{check}]\n")
}

#[test]
fn durations_outside_their_range_are_rejected_at_their_span() {
    for (keys, check, message, span) in [
        (
            "",
            "{ name = \"dns\", interval = \"0.0001ms\" }",
            "invalid interval: must be at least 100 ms",
            "\"0.0001ms\"",
        ),
        ("", "{ name = \"dns\", interval = 1e-10 }", "invalid interval: must be at least 100 ms", "1e-10"),
        ("", "{ name = \"dns\", interval = 86401 }", "invalid interval: must be at most 1 day", "86401"),
        ("", "{ name = \"dns\", interval = 1e300 }", "invalid interval: must be at most 1 day", "1e300"),
        ("", "{ name = \"dns\", max_age = 0.5 }", "invalid max_age: must be at least 1 s", "0.5"),
        ("max_age = \"25h\"", "\"dns\"", "invalid max_age: must be at most 1 day", "\"25h\""),
        ("on_change_timeout = \"1ms\"", "\"dns\"", "invalid on_change_timeout: must be at least 100 ms", "\"1ms\""),
        ("on_change_timeout = \"61m\"", "\"dns\"", "invalid on_change_timeout: must be at most 1 h", "\"61m\""),
    ] {
        assert_eq!(
            one_problem(&with_durations(keys, check)),
            (message.to_string(), span.to_string()),
            "{keys} {check}"
        );
    }
    let error = Config::parse(&with_durations("", "{ name = \"dns\", interval = 1e-10 }"), "t").unwrap_err();
    assert_eq!(
        error.problems()[0].help.as_deref(),
        Some(
            "interval takes 100 ms to 1 day: a number of seconds (5, 0.5) or a string such as \"500ms\", \"2s\", \"1m\""
        )
    );
}

#[test]
fn durations_at_the_ends_of_their_range_are_accepted() {
    let text = with_durations(
        "max_age = 86400\non_change_timeout = \"1h\"\non_change = [\"/bin/true\"]",
        "{ name = \"dns\", interval = \"100ms\" }, { name = \"b\", interval = \"1h\", max_age = \"1s\" }, { name = \"c\", interval = 0.1 }",
    );
    let config = Config::parse(&text, "t").expect("valid");
    let dns = &config.services[0];
    let intervals: Vec<_> = dns.checks.iter().map(|c| c.interval).collect();
    assert_eq!(intervals, [Duration::from_millis(100), Duration::from_secs(3600), Duration::from_millis(100)]);
    assert_eq!(dns.checks[0].max_age, Some(Duration::from_secs(86400)));
    assert_eq!(dns.checks[1].max_age, Some(Duration::from_secs(1)));
    assert_eq!(dns.on_change.as_ref().map(|hook| hook.timeout), Some(Duration::from_secs(3600)));
}

#[test]
fn vrf_names_that_frr_would_refuse_are_rejected() {
    let text = "[services.dns]\nprefixes.frrouting = [{ prefix = \"203.0.113.53\", vrf = \"x\\nexit\" }]\nchecks.cabourotte = [\"dns\"]\n";
    assert_eq!(one_problem(text), ("`x\\nexit` is not a VRF name FRR accepts".into(), "\"x\\nexit\"".into()));
}

#[test]
fn check_names_cannot_be_empty_or_hold_control_characters() {
    for name in ["\"\"", "\"dns\\u0007\""] {
        let text = format!("[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [{name}]\n");
        assert_eq!(
            one_problem(&text),
            ("a check name cannot be empty or contain control characters".to_string(), name.to_string())
        );
    }
}

#[test]
fn every_error_of_a_file_is_reported_at_once() {
    let text = r#"
[services.dns]
prefixes.frrouting = ["203.0.113.300", { prefix = "2001:db8::1/64", vrf = "a b" }]
checks.cabourotte = [{ name = "dns", url = "gopher://x", interval = 0 }, 42]
"#;
    let messages: Vec<_> = problems(text).into_iter().map(|(message, _)| message).collect();
    assert_eq!(
        messages,
        [
            "`203.0.113.300` is not an IP address or prefix",
            "prefix `2001:db8::1/64` has host bits set",
            "`a b` is not a VRF name FRR accepts",
            "invalid Cabourotte URL: unsupported scheme `gopher`: only http and https are supported",
            "invalid interval: must be at least 100 ms",
            "expected a check name or a table such as { name = \"dns\", interval = 1 }",
        ]
    );
}

#[test]
fn syntax_errors_point_at_the_broken_toml() {
    let (message, _) = one_problem("[services.dns\n");
    assert!(message.starts_with("invalid TOML: "), "{message}");
}

#[test]
fn one_missing_bracket_is_one_error_at_the_first_place_it_shows() {
    let text = "[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"\nchecks.cabourotte = [\"dns\"]\n\n\
                [services.ntp]\nprefixes.frrouting = [\"203.0.113.123\"]\nchecks.cabourotte = [\"ntp\"]\n";
    let error = Config::parse(text, "t").unwrap_err();
    let [problem] = error.problems() else { panic!("one error expected, got {:?}", error.problems()) };
    assert_eq!(problem.message, "invalid TOML: missing comma between array elements, expected `,`");
    assert_eq!(problem.span.start, text.find("checks").expect("line 3"));
    assert_eq!(
        problem.help.as_deref(),
        Some("the rest of the file cannot be read until this is fixed; only this first error is shown")
    );
    assert_eq!(error.to_string(), "the configuration t has 1 error");
}

#[test]
fn vtysh_must_be_an_absolute_path() {
    let text = "[services.dns]\nprefixes.frrouting = [{ prefix = \"203.0.113.53\", vtysh = \"vtysh\" }]\nchecks.cabourotte = [\"dns\"]\n";
    assert_eq!(one_problem(text), ("`vtysh` must be an absolute path".into(), "\"vtysh\"".into()));
}

#[test]
fn health_policy_keys_have_the_original_defaults() {
    let config = Config::parse(SEED, "seed").expect("valid");
    assert_eq!(config.services[0].policy, Policy::default());
    assert_eq!(config.services[0].on_change, None);
    assert_eq!(config.services[0].checks[0].max_age, None);
}

#[test]
fn health_policy_keys_are_read_with_service_defaults_for_checks() {
    let text = r#"
[services.dns]
rise = 2
fall = 3
max_age = "30s"
on_checker_error = "keep"
on_change = ["/usr/local/bin/notify", "--channel", "noc"]
on_change_timeout = "3s"
prefixes.frrouting = ["203.0.113.53"]
checks.cabourotte = ["dns", { name = "dns2", max_age = 10 }]
"#;
    let config = Config::parse(text, "t").expect("valid");
    let dns = &config.services[0];
    assert_eq!(dns.policy, Policy { rise: 2, fall: 3, on_checker_error: OnCheckerError::Keep, ..Policy::default() });
    assert_eq!(dns.checks[0].max_age, Some(Duration::from_secs(30)));
    assert_eq!(dns.checks[1].max_age, Some(Duration::from_secs(10)));
    let hook = dns.on_change.as_ref().expect("a hook");
    assert_eq!(hook.argv, ["/usr/local/bin/notify", "--channel", "noc"]);
    assert_eq!(hook.timeout, Duration::from_secs(3));
}

#[test]
fn health_policy_keys_are_validated() {
    let text = r#"
[services.dns]
rise = 0
fall = 1.5
on_checker_error = "ignore"
on_change = "notify --all"
max_age = "-"
prefixes.frrouting = ["203.0.113.53"]
checks.cabourotte = ["dns"]
"#;
    assert_eq!(
        problems(text),
        [
            ("`rise` must be a whole number of passes, 1 or more".to_string(), "0".to_string()),
            ("`fall` must be a whole number of passes, 1 or more".to_string(), "1.5".to_string()),
            ("unknown on_checker_error policy `ignore`".to_string(), "\"ignore\"".to_string()),
            ("`on_change` must be a list: the program and its arguments".to_string(), "\"notify --all\"".to_string()),
            (
                "invalid max_age: `-` is not a duration (e.g. 5, 0.5, \"500ms\", \"2s\")".to_string(),
                "\"-\"".to_string()
            ),
        ]
    );
    let relative = "[services.dns]\non_change = [\"notify\"]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [\"dns\"]\n";
    assert_eq!(
        one_problem(relative),
        ("`on_change` must start with the absolute path of a program".into(), "[\"notify\"]".into())
    );
}

#[test]
fn vtysh_paths_that_name_the_same_file_are_the_same_frr() {
    let text = r#"
[services.a]
prefixes.frrouting = [{ prefix = "203.0.113.53", vtysh = "/usr/bin/vtysh" }]
checks.cabourotte = ["a"]
[services.b]
prefixes.frrouting = [{ prefix = "203.0.113.53", vtysh = "/usr/bin//vtysh" }, { prefix = "203.0.113.54", vtysh = "/usr/./bin/vtysh/" }]
checks.cabourotte = ["b"]
"#;
    assert_eq!(
        one_problem(text),
        ("prefix 203.0.113.53/32 is defined twice in the default VRF".into(), "\"203.0.113.53\"".into())
    );
    let valid = text.replace(
        "prefix = \"203.0.113.53\", vtysh = \"/usr/bin//vtysh\"",
        "prefix = \"203.0.113.55\", vtysh = \"/usr/bin//vtysh\"",
    );
    let config = Config::parse(&valid, "t").expect("valid");
    let paths: Vec<_> = config
        .prefixes()
        .map(|(_, p)| p.vtysh().map(|vtysh| vtysh.display().to_string()).unwrap_or_default())
        .collect();
    assert_eq!(paths, ["/usr/bin/vtysh", "/usr/bin/vtysh", "/usr/bin/vtysh"]);
}

#[test]
fn vtysh_paths_with_parent_components_are_rejected() {
    let text = "[services.dns]\nprefixes.frrouting = [{ prefix = \"203.0.113.53\", vtysh = \"/usr/lib/../bin/vtysh\" }]\nchecks.cabourotte = [\"dns\"]\n";
    assert_eq!(one_problem(text), ("`vtysh` cannot contain `..`".into(), "\"/usr/lib/../bin/vtysh\"".into()));
}

#[test]
fn the_bgpd_pid_file_is_debians_for_the_default_vtysh_and_none_for_others() {
    let config = Config::parse(
        "[services.a]\nprefixes.frrouting = [\"192.0.2.1\", { prefix = \"192.0.2.2\", vtysh = \"/opt/lab/vtysh\" }, \
         { prefix = \"192.0.2.3\", vtysh = \"/opt/b/vtysh\", bgpd_pid_file = \"/opt/b/bgpd.pid\" }]\n\
         checks.cabourotte = [\"a\"]\n",
        "t",
    )
    .expect("valid");
    let files: Vec<_> = config.services[0].prefixes.iter().map(|p| p.bgpd_pid_file().map(Path::to_path_buf)).collect();
    assert_eq!(files, [Some(PathBuf::from("/run/frr/bgpd.pid")), None, Some(PathBuf::from("/opt/b/bgpd.pid"))]);
}

#[test]
fn one_vtysh_with_two_bgpd_pid_files_is_an_error() {
    let text = "[services.a]\nprefixes.frrouting = [{ prefix = \"192.0.2.1\", vtysh = \"/opt/v\", bgpd_pid_file = \"/a\" }, \
                { prefix = \"192.0.2.2\", vtysh = \"/opt/v\", bgpd_pid_file = \"/b\" }]\nchecks.cabourotte = [\"a\"]\n";
    assert_eq!(
        one_problem(text),
        ("/opt/v is given two different `bgpd_pid_file`s".to_string(), "\"192.0.2.2\"".to_string())
    );
}

#[test]
fn route_maps_are_inherited_by_prefixes_and_overridden_by_their_own() {
    let config = Config::parse(
        r#"
[services.dns]
prefixes.frrouting = ["203.0.113.53", { prefix = "203.0.113.54", route_map = "V4-OUT", drain_route_map = "V4-DRAIN" }]
checks.cabourotte = ["dns"]
route_map = "ANYCAST-OUT"
drain_route_map = "ANYCAST-DRAIN"
on_falling = "drain"
on_unhealthy = "drain"
"#,
        "t",
    )
    .expect("valid");
    let dns = &config.services[0];
    let maps: Vec<(Option<String>, Option<String>)> = dns
        .prefixes
        .iter()
        .map(|p| (p.route_map.as_ref().map(ToString::to_string), p.drain_route_map.as_ref().map(ToString::to_string)))
        .collect();
    assert_eq!(
        maps,
        [(Some("ANYCAST-OUT".into()), Some("ANYCAST-DRAIN".into())), (Some("V4-OUT".into()), Some("V4-DRAIN".into()))]
    );
    assert_eq!((dns.policy.on_falling, dns.policy.on_unhealthy), (OnFalling::Drain, OnUnhealthy::Drain));
}

#[test]
fn graded_keys_are_checked_at_their_span() {
    let base = "[services.dns]\nchecks.cabourotte = [\"dns\"]\n";
    let one = |rest: &str| one_problem(&format!("{base}{rest}"));
    assert_eq!(
        one("prefixes.frrouting = [\"203.0.113.53\"]\nroute_map = \"A B\"\n"),
        ("`A B` is not a route-map name anycastd accepts".into(), "\"A B\"".into())
    );
    assert_eq!(
        one("prefixes.frrouting = [\"203.0.113.53\"]\non_falling = \"withdraw\"\n"),
        ("unknown on_falling policy `withdraw`".into(), "\"withdraw\"".into())
    );
    assert_eq!(
        one(
            "prefixes.frrouting = [\"203.0.113.53\", { prefix = \"203.0.113.54\", drain_route_map = \"D\" }]\non_unhealthy = \"drain\"\n"
        ),
        ("`on_unhealthy = \"drain\"` needs a drain route-map, and 203.0.113.53/32 has none".into(), "\"drain\"".into())
    );
    assert_eq!(
        one("prefixes.frrouting = [\"203.0.113.53\"]\nroute_map = \"OUT\"\ndrain_route_map = \"OUT\"\n"),
        ("203.0.113.53/32 has the same route-map for announcing and for draining".into(), "\"203.0.113.53\"".into())
    );
}

/// `prefixes.bird`: a bare prefix takes Debian's socket and anycastd's default file; a table may name both and
/// `drain`; one service may have prefixes in both daemons.
#[test]
fn bird_prefixes_take_debian_s_socket_and_anycastd_s_file_unless_told() {
    let text = r#"[services.dns]
prefixes.frrouting = ["203.0.113.53"]
prefixes.bird = ["203.0.113.54", { prefix = "2001:db8::53", socket = "/run/bird2/bird.ctl", file = "/run/acd/b.conf", drain = true }]
checks.cabourotte = ["dns"]
"#;
    let config = Config::parse(text, "t").expect("valid");
    let birds: Vec<_> =
        config.services[0].prefixes.iter().filter_map(|p| Some((p.prefix.to_string(), p.bird()?.clone()))).collect();
    assert_eq!(
        birds,
        [
            (
                "203.0.113.54/32".to_string(),
                BirdDaemon {
                    socket: "/run/bird/bird.ctl".into(),
                    file: "/run/anycastd-bird/anycastd.conf".into(),
                    drain: false,
                    table: None
                }
            ),
            (
                "2001:db8::53/128".to_string(),
                BirdDaemon {
                    socket: "/run/bird2/bird.ctl".into(),
                    file: "/run/acd/b.conf".into(),
                    drain: true,
                    table: None
                }
            ),
        ]
    );
    assert_eq!(config.services[0].prefixes.len(), 3, "and the FRR prefix");
}

/// One BIRD has one file of anycastd's, and a file belongs to one BIRD: each conflict is an error at its place.
#[test]
fn a_bird_given_two_files_and_a_file_given_two_birds_are_errors() {
    let text = r#"[services.dns]
prefixes.bird = [
  { prefix = "203.0.113.1", socket = "/run/a.ctl", file = "/run/a.conf" },
  { prefix = "203.0.113.2", socket = "/run/a.ctl", file = "/run/other.conf" },
  { prefix = "203.0.113.3", socket = "/run/b.ctl", file = "/run/a.conf" },
]
checks.cabourotte = ["dns"]
"#;
    let error = Config::parse(text, "t").unwrap_err();
    let found: Vec<_> = error.problems().iter().map(|p| (p.message.as_str(), p.label.as_str())).collect();
    assert_eq!(
        found,
        [
            ("the BIRD of /run/a.ctl is given two different `file`s", "a different file here"),
            ("/run/a.conf is given to two BIRDs", "another socket here"),
        ]
    );
}

/// `drain` is true or false, the paths are absolute, a table is a BIRD symbol that leaves the protocol's name within
/// BIRD's 64 characters, and a VRF is a table in BIRD (the help says so).
#[test]
fn bad_bird_keys_are_errors() {
    let text = r#"[services.dns]
prefixes.bird = [
  { prefix = "203.0.113.4", drain = "yes" },
  { prefix = "203.0.113.5", vrf = "blue" },
  { prefix = "203.0.113.6", socket = "relative.ctl" },
  { prefix = "203.0.113.7", table = "blue-4" },
  { prefix = "2001:db8:1234:5678:9abc:def0:1234:5678", table = "blue_table6" },
]
checks.cabourotte = ["dns"]
"#;
    let error = Config::parse(text, "t").unwrap_err();
    let found: Vec<_> = error.problems().iter().map(|p| (p.message.as_str(), p.help.as_deref())).collect();
    assert_eq!(
        found,
        [
            ("`drain` must be true or false", None),
            (
                "unknown key `vrf` in a bird prefix",
                Some(
                    "BIRD's VRFs are its tables: `table = \"blue4\"`, the table your VRF's protocols use. Valid keys: \
                     prefix, socket, file, drain, table, interface, addresses"
                )
            ),
            ("`socket` must be an absolute path", Some("e.g. \"/run/bird/bird.ctl\"")),
            (
                "`blue-4` is not a table name BIRD accepts",
                Some("a letter or `_`, then letters, digits and `_`, as in bird.conf's `ipv4 table blue4;`")
            ),
            (
                "the table name `blue_table6` is too long for 2001:db8:1234:5678:9abc:def0:1234:5678/128",
                Some(
                    "anycastd names its protocol anycastd_2001_db8_1234_5678_9abc_def0_1234_5678_128_t_blue_table6, \
                     longer than the 64 characters BIRD allows: use a table name of at most 10 characters for this \
                     prefix"
                )
            ),
        ]
    );
}

/// A BIRD prefix in a VRF's table: the table is kept; `master4`/`master6` are the default tables, as no table.
#[test]
fn a_bird_table_is_kept_and_a_master_table_is_the_default() {
    let text = r#"[services.dns]
prefixes.bird = [{ prefix = "203.0.113.53", table = "blue4" }, { prefix = "203.0.113.54", table = "master4" }]
checks.cabourotte = ["dns"]
"#;
    let config = Config::parse(text, "t").expect("valid");
    let tables: Vec<_> = config.services[0].prefixes.iter().map(|p| p.bird().and_then(|b| b.table.clone())).collect();
    assert_eq!(tables, [Some("blue4".to_string()), None]);
}

/// A service checked only by commands: `checks.cabourotte` is not required then, and the defaults apply.
#[test]
fn exec_checks_stand_alone_with_their_defaults() {
    let text = "[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\n\
                checks.exec = [{ name = \"dns-local\", command = [\"/usr/lib/nagios/plugins/check_dns\", \"-H\", \
                \"example.com\"] },\n  { name = \"load\", command = [\"/bin/true\"], timeout = \"2s\", interval = 1, \
                warning_is_failure = false }]\n";
    let config = Config::parse(text, "t").expect("valid");
    let service = &config.services[0];
    assert!(service.checks.is_empty());
    assert_eq!(
        service.exec,
        [
            ExecCheck {
                name: "dns-local".into(),
                command: vec!["/usr/lib/nagios/plugins/check_dns".into(), "-H".into(), "example.com".into()],
                timeout: Duration::from_secs(5),
                interval: Duration::from_secs(5),
                warning_is_failure: true,
            },
            ExecCheck {
                name: "load".into(),
                command: vec!["/bin/true".into()],
                timeout: Duration::from_secs(2),
                interval: Duration::from_secs(1),
                warning_is_failure: false,
            },
        ]
    );
    assert_eq!(config.shortest_interval(), Duration::from_secs(1), "exec intervals count for run's loop");
}

#[test]
fn exec_checks_are_validated_at_their_span() {
    let service =
        |checks: &str| format!("[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.exec = [{checks}]\n");
    assert_eq!(
        one_problem(&service(r#"{ name = "a", command = ["check_dns"] }"#)),
        ("`command` must start with the absolute path of a program".into(), r#"["check_dns"]"#.into())
    );
    assert_eq!(
        one_problem(&service(r#"{ name = "a", command = [] }"#)),
        ("`command` must start with the absolute path of a program".into(), "[]".into())
    );
    assert_eq!(
        one_problem(&service(r#"{ name = "a", command = "/bin/true -v" }"#)),
        ("`command` must be a list: the program and its arguments".into(), r#""/bin/true -v""#.into())
    );
    assert_eq!(
        one_problem(&service(r#"{ command = ["/bin/true"] }"#)),
        ("this exec check has no `name`".into(), r#"{ command = ["/bin/true"] }"#.into())
    );
    assert_eq!(
        one_problem(&service(r#"{ name = "a", command = ["/bin/true"], timeout = "2m" }"#)),
        ("invalid timeout: must be at most 1 min".into(), r#""2m""#.into())
    );
    assert_eq!(
        one_problem(&service(r#"{ name = "a", command = ["/bin/true"], timeout = "50ms" }"#)),
        ("invalid timeout: must be at least 100 ms".into(), r#""50ms""#.into())
    );
    assert_eq!(
        one_problem(&service(r#"{ name = "a", command = ["/bin/true"], warning_is_failure = "no" }"#)),
        ("`warning_is_failure` must be true or false".into(), r#""no""#.into())
    );
    assert_eq!(
        one_problem(&service(r#""/bin/true""#)),
        (
            r#"expected a table such as { name = "dns", command = ["/usr/lib/nagios/plugins/check_dns", "-H", "example.com"] }"#.into(),
            r#""/bin/true""#.into()
        )
    );
    assert_eq!(
        one_problem(&service(r#"{ name = "a", command = ["/bin/true"], shell = true }"#)).0,
        "unknown key `shell` in an exec check"
    );
    let twice = service(r#"{ name = "a", command = ["/bin/true"] }, { name = "a", command = ["/bin/false"] }"#);
    let error = Config::parse(&twice, "t").unwrap_err();
    let problem = &error.problems()[0];
    assert_eq!(problem.message, "two exec checks of this service are named `a`");
    assert_eq!(error.problems().len(), 1);
}

#[test]
fn a_service_may_mix_both_check_types_and_exec_names_may_repeat_across_services() {
    let text = "[services.a]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [\"dns\"]\n\
                checks.exec = [{ name = \"dns\", command = [\"/bin/true\"] }]\n\
                [services.b]\nprefixes.frrouting = [\"203.0.113.54\"]\n\
                checks.exec = [{ name = \"dns\", command = [\"/bin/false\"] }]\n";
    let config = Config::parse(text, "t").expect("valid");
    assert_eq!((config.services[0].checks.len(), config.services[0].exec.len()), (1, 1));
    assert_eq!(config.exec_checks().count(), 2);
}

/// A service `dns` with one check and the prefix item `item` under `prefixes.<kind>`.
fn with_prefix(kind: &str, item: &str) -> String {
    format!(
        "[services.dns]\nprefixes.{kind} = [{item}]\nchecks.cabourotte = [{{ name = \"dns\", url = \"http://127.0.0.1:9013\" }}]\n"
    )
}

#[test]
fn interface_puts_a_host_prefix_s_own_address_there_for_frr_and_bird() {
    for kind in ["frrouting", "bird"] {
        let config = Config::parse(&with_prefix(kind, r#"{ prefix = "203.0.113.53", interface = "lo" }"#), "t.toml")
            .expect("valid");
        let host = config.services[0].prefixes[0].host.clone().expect("an address");
        assert_eq!(host, HostAddresses { interface: "lo".into(), addresses: vec!["203.0.113.53".parse().unwrap()] });
    }
    let v6 = Config::parse(&with_prefix("frrouting", r#"{ prefix = "2001:db8::53", interface = "blue" }"#), "t")
        .expect("valid");
    let host = v6.services[0].prefixes[0].host.clone().expect("an address");
    assert_eq!(host.addresses, ["2001:db8::53".parse::<std::net::IpAddr>().unwrap()]);
}

#[test]
fn a_network_with_an_interface_names_its_addresses_inside_it() {
    let config = Config::parse(
        &with_prefix(
            "frrouting",
            r#"{ prefix = "192.0.2.0/24", interface = "lo", addresses = ["192.0.2.1", "192.0.2.2"] }"#,
        ),
        "t",
    )
    .expect("valid");
    let host = config.services[0].prefixes[0].host.clone().expect("addresses");
    assert_eq!(host.addresses.len(), 2);
    assert_eq!(
        one_problem(&with_prefix("frrouting", r#"{ prefix = "192.0.2.0/24", interface = "lo" }"#)),
        ("192.0.2.0/24 is a network: which of its addresses go on the interface?".into(), "\"lo\"".into())
    );
    assert_eq!(
        one_problem(&with_prefix(
            "frrouting",
            r#"{ prefix = "192.0.2.0/24", interface = "lo", addresses = ["198.51.100.1"] }"#
        )),
        ("198.51.100.1 is not inside 192.0.2.0/24".into(), "\"198.51.100.1\"".into())
    );
    assert_eq!(
        one_problem(&with_prefix(
            "bird",
            r#"{ prefix = "192.0.2.0/24", interface = "lo", addresses = ["192.0.2.1", "192.0.2.1"] }"#
        )),
        ("192.0.2.1 is named twice".into(), "\"192.0.2.1\"".into())
    );
    assert_eq!(
        one_problem(&with_prefix("frrouting", r#"{ prefix = "192.0.2.0/24", interface = "lo", addresses = [] }"#)),
        ("`addresses` must name 1 to 64 addresses".into(), "[]".into())
    );
    assert_eq!(
        one_problem(&with_prefix(
            "frrouting",
            r#"{ prefix = "192.0.2.0/24", interface = "lo", addresses = ["192.0.2.1/32"] }"#
        )),
        ("`192.0.2.1/32` is not an IP address".into(), "\"192.0.2.1/32\"".into())
    );
}

#[test]
fn interface_names_linux_would_refuse_and_addresses_alone_are_rejected_at_their_span() {
    for name in ["", "a/b", "eth0:1", "has space", "sixteen_chars_xx", "..", "tab\t"] {
        let item = format!("{{ prefix = \"203.0.113.53\", interface = {:?} }}", name);
        let (message, span) = one_problem(&with_prefix("frrouting", &item));
        assert_eq!(message, format!("`{}` is not an interface name Linux accepts", name.escape_debug()));
        assert_eq!(span, format!("{name:?}"));
    }
    assert_eq!(
        one_problem(&with_prefix("bird", r#"{ prefix = "203.0.113.53", addresses = ["203.0.113.53"] }"#)),
        ("`addresses` without `interface`".into(), "[\"203.0.113.53\"]".into())
    );
}

/// The README's example of `interface`, as written: valid, every prefix with its address.
#[test]
fn the_readme_s_service_address_example_is_valid() {
    let readme = include_str!("../../README.md");
    let section = readme.split("\n## The service address on the host\n").nth(1).expect("the section");
    let block = section.split("```toml\n").nth(1).and_then(|rest| rest.split("\n```").next()).expect("a toml block");
    let config = Config::parse(block, "README").expect("valid");
    let interfaces: Vec<String> = config
        .prefixes()
        .map(|(_, p)| format!("{} {:?}", p.prefix, p.host.as_ref().map(|h| (&h.interface, h.addresses.len()))))
        .collect();
    assert_eq!(
        interfaces,
        [
            "203.0.113.53/32 Some((\"lo\", 1))",
            "2001:db8::b19:bad:53/128 Some((\"lo\", 1))",
            "203.0.113.123/32 Some((\"123\", 1))",
            "2001:db8::123:7e11:713e/128 Some((\"123\", 1))",
        ]
    );
}
