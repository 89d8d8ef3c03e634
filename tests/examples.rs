//! The examples stay true to each other: the Cabourotte configuration of `examples/cabourotte.yml` runs every check
//! that `examples/config.toml` asks for, and its TLS variant names the three files of Cabourotte's `http` section.

use std::collections::BTreeSet;

use anycastd::config::Config;

const CONFIG: &str = include_str!("../examples/config.toml");
const CABOUROTTE: &str = include_str!("../examples/cabourotte.yml");

#[test]
fn the_cabourotte_example_runs_every_check_of_the_config_example() {
    let config = Config::parse(CONFIG, "examples/config.toml").expect("the example is valid");
    let asked: BTreeSet<&str> = config.checks().map(|(_, check)| check.name.as_str()).collect();
    // Cabourotte's YAML without a YAML parser: each check is a list item `- name: NAME` of `command-checks`.
    let checks = &CABOUROTTE[CABOUROTTE.find("\ncommand-checks:\n").expect("a command-checks list")..];
    let defined: BTreeSet<&str> =
        checks.lines().filter_map(|line| line.trim().strip_prefix("- name: ")).map(str::trim).collect();
    assert_eq!(defined, asked);
}

#[test]
fn the_cabourotte_example_shows_its_tls_variant() {
    for key in ["# key: ", "# cert: ", "# cacert: "] {
        assert!(CABOUROTTE.lines().any(|line| line.trim_start().starts_with(key)), "no commented `{key}`");
    }
}
