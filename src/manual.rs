//! What anycastd tells shells and `man` about itself: completion scripts and the man page anycastd(1), both generated
//! from the clap definitions in `cli.rs`, so that neither can drift from what the binary accepts.
//!
//! They are printed by the binary (`anycastd completions SHELL` and `anycastd man`) rather than written by
//! a build script: cargo-deb cannot package what build.rs writes to OUT_DIR, and users who install with cargo get
//! them the same way as the package does (`scripts/package`).

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

use anycastd::commands::Exit;

use crate::cli::Cli;

/// Writes generated text to stdout as it is. A reader that went away (`anycastd man | head`) is not an error.
pub fn print(text: &[u8]) -> Exit {
    let _ = std::io::stdout().lock().write_all(text);
    Exit::Done
}

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "anycastd", &mut script);
    script
}

/// The man page anycastd(1), in roff: the global options, then each command with its own options, a short reference of
/// the configuration file, then what the README and docs/ say about exit codes and files, and examples.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let command = Cli::command();
    let man = Man::new(command.clone()).date("").manual("anycastd manual");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    render_commands(&command, &mut page)?;
    page.write_all(configuration_section().render().as_bytes())?;
    page.write_all(closing_sections().render().as_bytes())?;
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// One subsection per visible command: its synopsis, what it does, and its own options. The subcommands come from the
/// command before clap built it, so they do not repeat the global options.
fn render_commands(command: &clap::Command, page: &mut Vec<u8>) -> std::io::Result<()> {
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    page.write_all(roff.render().as_bytes())?;
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let mut roff = Roff::new();
        roff.control("SS", [format!("anycastd {}", sub.get_name()).as_str()]);
        let usage = sub.clone().bin_name(format!("anycastd {}", sub.get_name())).render_usage().to_string();
        roff.text([bold(usage.trim_start_matches("Usage: ").to_string())]);
        let about = sub.get_long_about().or_else(|| sub.get_about()).map(ToString::to_string).unwrap_or_default();
        roff.control("PP", []).text([roman(about)]);
        let aliases: Vec<&str> = sub.get_visible_aliases().collect();
        if !aliases.is_empty() {
            roff.control("PP", []).text([roman(format!("Alias: {}.", aliases.join(", ")))]);
        }
        page.write_all(roff.render().as_bytes())?;
        let mut options = Vec::new();
        Man::new(sub.clone()).render_options_section(&mut options)?;
        // Its options as items of this subsection, without a section heading of their own.
        let options = String::from_utf8_lossy(&options).replacen(".SH OPTIONS\n", "", 1);
        page.write_all(options.as_bytes())?;
    }
    Ok(())
}

/// The keys of a service table, `[services.NAME]`, as docs/configuration.md ("Service keys") lists them, in short.
const SERVICE_KEYS: &[(&str, &str)] = &[
    (
        "prefixes.frrouting",
        "The prefixes FRR announces while the service is healthy (this or prefixes.bird; keys below).",
    ),
    (
        "prefixes.bird",
        "The prefixes BIRD announces while the service is healthy (this or prefixes.frrouting; keys below).",
    ),
    ("checks.cabourotte", "The Cabourotte checks that must all pass (this or checks.exec, or both; keys below)."),
    ("checks.exec", "The commands that must all pass too (this or checks.cabourotte, or both; keys below)."),
    ("rise", "Healthy passes in a row before a withdrawn service is announced (default 1)."),
    ("fall", "Unhealthy passes in a row before an announced service is withdrawn (default 1)."),
    ("max_age", "The default max_age of the service's checks."),
    (
        "on_checker_error",
        "\"withdraw\" (default) or \"keep\": what to do when Cabourotte itself cannot be asked and no check failed.",
    ),
    ("on_falling", "\"keep\" (default) or \"drain\": an announced service that is unhealthy before fall is reached."),
    ("on_unhealthy", "\"withdraw\" (default) or \"drain\": a service unhealthy for fall passes."),
    ("route_map", "The FRR route-map every announcement carries (network P route-map NAME)."),
    ("drain_route_map", "The route-map of the service's prefixes while drained."),
    (
        "on_change",
        "A command, as an argument vector (no shell), run after the prefixes were announced, drained or withdrawn; \
         ANYCASTD_SERVICE, ANYCASTD_STATE, ANYCASTD_PREFIXES and ANYCASTD_REASON tell it what happened.",
    ),
    ("on_change_timeout", "How long on_change may run before it is killed (default \"10s\")."),
];

/// The keys of a prefix, an item of `prefixes.frrouting`, as docs/configuration.md lists them, in short.
const PREFIX_KEYS: &[(&str, &str)] = &[
    ("prefix", "The network (192.0.2.240/28), or an address (/32 or /128); host bits zero (required)."),
    ("vrf", "The VRF of the router bgp instance (default: the default VRF)."),
    (
        "bgpd_pid_file",
        "The pid file of that FRR's bgpd, watched by run (default /run/frr/bgpd.pid for /usr/bin/vtysh).",
    ),
    ("route_map", "The route-map of this prefix's announcement (default: the service's)."),
    ("drain_route_map", "The route-map of this prefix while drained (default: the service's)."),
    ("interface", "The interface anycastd keeps the service address on (lo, a VRF's device); none by default."),
    ("addresses", "Which of a network's addresses go on the interface (default: a host prefix's own address)."),
    ("vtysh", "The vtysh of the FRR holding the prefix, an absolute path (default /usr/bin/vtysh)."),
];

/// The keys of a BIRD prefix, an item of `prefixes.bird`, as docs/configuration.md lists them, in short.
const BIRD_PREFIX_KEYS: &[(&str, &str)] = &[
    ("prefix", "The network or address, as for FRR (required)."),
    ("socket", "BIRD's control socket, an absolute path (default /run/bird/bird.ctl); anycastd needs group bird."),
    ("file", "The file anycastd writes and bird.conf includes (default /run/anycastd-bird/anycastd.conf)."),
    ("drain", "Whether a drain keeps the prefix announced with the mark anycastd_draining = 1 (default false)."),
    ("interface", "As for FRR: the interface anycastd keeps the service address on."),
    ("addresses", "As for FRR: which of a network's addresses go on the interface."),
    ("table", "The BIRD table it is announced in, a VRF's (default: the master table of its family)."),
];

/// The keys of a check, an item of `checks.cabourotte`, as docs/configuration.md lists them, in short.
const CHECK_KEYS: &[(&str, &str)] = &[
    ("name", "The check's name in Cabourotte's configuration (required)."),
    (
        "url",
        "Cabourotte's API, http or https (default http://127.0.0.1:9013; Cabourotte 2.x serves it under /api/v1). It \
         may carry basic-auth credentials; the password is never printed.",
    ),
    ("ca_file", "A PEM file of the CA certificates of Cabourotte's certificate, instead of the web PKI roots."),
    ("cert_file", "A PEM file: the client certificate anycastd presents, then its intermediate CAs."),
    ("key_file", "A PEM file: the client certificate's private key, readable by nobody else."),
    ("interval", "How often run runs a pass: the shortest interval of all checks (default 5; 100 ms to 1 day)."),
    ("max_age", "A passing result older than this counts as failed (default: the service's max_age, else none)."),
];

/// The keys of a command check, an item of `checks.exec`, as docs/configuration.md lists them, in short.
const EXEC_KEYS: &[(&str, &str)] = &[
    ("name", "The check's name in plans, logs, metrics and hooks; unique among its service's exec checks (required)."),
    (
        "command",
        "The program (an absolute path) and its arguments, run without a shell, stdin /dev/null, a fixed small \
         environment (required). Exit 0 passes, 2 fails, 1 fails unless warning_is_failure = false; 3, a signal or \
         the timeout is a checker error (on_checker_error).",
    ),
    ("timeout", "How long it may run before its process group is killed (default \"5s\"; 100 ms to 1 min)."),
    ("interval", "How often run runs it (default 5; 100 ms to 1 day); a timer's pass runs it every time."),
    ("warning_is_failure", "Whether exit status 1 (WARNING) fails the check (default true)."),
];

/// CONFIGURATION: the file's shape and a short reference of its keys; docs/configuration.md is the full one.
fn configuration_section() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["CONFIGURATION"]);
    roff.text([roman(
        "The configuration file (--configuration, default /etc/anycastd/config.toml) is TOML, in the original \
         anycastd's format: one table per service, whose prefixes are announced while all of its checks pass. Each \
         item of a service's lists is a string (the prefix, or the check's name) or a table with the keys below:",
    )]);
    roff.control("PP", []).control("RS", ["4"]).control("nf", []);
    roff.text([roman(
        "[services.dns]\n\
         prefixes.frrouting = [\"203.0.113.53\", { prefix = \"2001:db8::53\", vrf = \"123\" }]\n\
         checks.cabourotte = [{ name = \"dns\", url = \"http://127.0.0.1:9013/api/v1\" }]\n\
         fall = 3",
    )]);
    roff.control("fi", []).control("RE", []);
    roff.control("PP", []).text([roman(
        "Durations are seconds (5, 0.5) or a string with a unit (\"500ms\", \"2s\", \"1m\", \"1h\"), each within a \
         range. docs/configuration.md is the full reference: every key, its range, and the limits of every input.",
    )]);
    for (heading, keys) in [
        ("Service keys, [services.NAME]", SERVICE_KEYS),
        ("Prefix keys, prefixes.frrouting", PREFIX_KEYS),
        ("Prefix keys, prefixes.bird", BIRD_PREFIX_KEYS),
        ("Check keys, checks.cabourotte", CHECK_KEYS),
        ("Check keys, checks.exec", EXEC_KEYS),
    ] {
        roff.control("SS", [heading]);
        for (key, meaning) in keys {
            roff.control("TP", []).text([bold(*key)]).text([roman(*meaning)]);
        }
    }
    roff
}

/// EXAMPLES: what an operator types, from the first check to maintenance.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "anycastd check --all",
        "Validate the configuration, and ask FRR and Cabourotte whether they are ready; change nothing.",
    ),
    ("anycastd plan", "Show what apply would announce and withdraw, and change nothing."),
    ("anycastd apply", "Make FRR announce the prefixes of healthy services and withdraw the others."),
    ("systemctl enable --now anycastd.timer", "Run apply every 5 seconds (the Debian package's units)."),
    (
        "anycastd --format json plan --detailed-exitcode",
        "For monitoring: exit 2 while FRR differs from what the checks say, with the plan as JSON.",
    ),
    (
        "anycastd plan --running-config frr.txt --assume healthy",
        "In CI: the plan of a configuration against a saved show running-config, every check taken as passing.",
    ),
    (
        "anycastd withdraw-all --reason kernel-upgrade --drain 30s",
        "Maintenance: drain the announced prefixes for 30 seconds, withdraw them, and keep them withdrawn.",
    ),
    ("anycastd resume", "End maintenance: the next apply announces healthy services again."),
    ("anycastd man | man -l -", "Read this page where it is not installed."),
];

/// The section EXAMPLES, added to `roff`.
fn examples(roff: &mut Roff) {
    roff.control("SH", ["EXAMPLES"]);
    for (command, meaning) in EXAMPLES {
        roff.control("TP", []).text([bold(*command)]).text([roman(*meaning)]);
    }
}

/// What each exit code means, as the README's "Exit codes" table says (a test holds them to it).
const EXIT_CODES: &[(&str, &str)] = &[
    ("0", "Done; nothing failed. An unhealthy service whose prefixes were withdrawn is not a failure."),
    (
        "1",
        "Something failed: an invalid configuration, a Cabourotte that could not be asked, an FRR that could not \
         be read, a missing BGP instance, a change FRR did not take, a state directory that could not be used \
         (then nothing was announced, but withdrawals went on).",
    ),
    ("2", "Only with plan --detailed-exitcode: changes are pending, and nothing failed."),
    (
        "64",
        "A usage error (EX_USAGE of sysexits.h): an unknown command or option, a missing or invalid value (a \
         duration out of its range, forget given something that is not a prefix); nothing was done. --help and \
         --version exit 0.",
    ),
];

/// EXIT STATUS, FILES, EXAMPLES and SEE ALSO, as the README's "Exit codes", docs/security.md and the units describe them.
fn closing_sections() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in EXIT_CODES {
        roff.control("TP", []).text([bold(*code)]).text([roman(*meaning)]);
    }
    roff.control("SH", ["FILES"]);
    for (path, meaning) in [
        (
            "/etc/anycastd/config.toml",
            "The configuration (TOML): services, their prefixes and their checks. Without any service anycastd \
             manages nothing and warns.",
        ),
        (
            "/var/lib/anycastd/",
            "The state directory: the run lock (lock), the rise/fall counts (state.json), the maintenance marker \
             (maintenance.json), the configuration cache (config-cache.json), the record of managed prefixes \
             (managed.json) and the token of FRR changes made by another anycastd (frr-changed). Created with mode \
             0700; refused when its group or others can write it.",
        ),
        (
            "/usr/lib/systemd/system/anycastd.timer, anycastd.service, anycastd-run.service",
            "The units: an apply every 5 seconds (the timer and its oneshot service), or loop mode. Installed, not \
             enabled: systemctl enable --now anycastd.timer.",
        ),
    ] {
        roff.control("TP", []).text([italic(path)]).text([roman(meaning)]);
    }
    examples(&mut roff);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "vtysh(1), systemd.timer(5); /usr/share/doc/anycastd/README.md, and beside it docs/configuration.md for the \
         configuration keys, docs/behaviour.md for the health semantics, docs/operations.md for the JSON output and \
         docs/security.md for the security model.",
    )]);
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> String {
        String::from_utf8(man_page().expect("render the man page")).expect("roff is text")
    }

    #[test]
    fn the_man_page_has_every_visible_command_and_option_once() {
        let page = page();
        assert!(page.contains("\n.TH anycastd 1 "), "{page}");
        let sections = [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "COMMANDS",
            "CONFIGURATION",
            "EXIT STATUS",
            "FILES",
            "EXAMPLES",
            "SEE ALSO",
        ];
        for section in sections {
            assert_eq!(
                page.matches(&format!(".SH {section}\n")).count()
                    + page.matches(&format!(".SH \"{section}\"\n")).count(),
                1,
                "{section}"
            );
        }
        for command in ["plan", "apply", "withdraw-all", "resume", "forget", "check", "run", "completions", "man"] {
            assert!(
                page.contains(&format!(".SS \"anycastd {command}\"\n"))
                    || page.contains(&format!(".SS anycastd {command}\n")),
                "{command}:\n{page}"
            );
        }
        assert!(!page.contains("anycastd\\-plan(1)"), "no reference to pages that do not exist");
        // The global options appear once, in OPTIONS, not again under each command.
        assert_eq!(page.matches(".TP\n\\fB\\-\\-state\\-dir\\fR").count(), 1, "{page}");
        assert!(page.contains("\\-\\-detailed\\-exitcode"));
    }

    /// The keys of the first table after `heading` in docs/configuration.md.
    fn documented_keys(heading: &str) -> Vec<String> {
        const DOC: &str = include_str!("../docs/configuration.md");
        let start = DOC.find(heading).unwrap_or_else(|| panic!("docs/configuration.md has no {heading:?}"));
        let rows = DOC[start..].lines().skip_while(|line| !line.starts_with('|')).take_while(|l| l.starts_with('|'));
        let keys = rows.skip(2).filter_map(|row| row.trim_start_matches('|').split('`').nth(1));
        keys.map(str::to_string).collect()
    }

    /// CONFIGURATION names every key that docs/configuration.md documents, and no other, in the same order.
    #[test]
    fn the_man_page_configuration_has_every_documented_key() {
        for (heading, keys) in [
            ("### Service keys", SERVICE_KEYS),
            ("### `prefixes.frrouting`", PREFIX_KEYS),
            ("### `prefixes.bird`", BIRD_PREFIX_KEYS),
            ("### `checks.cabourotte`", CHECK_KEYS),
            ("### `checks.exec`", EXEC_KEYS),
        ] {
            let shown: Vec<&str> = keys.iter().map(|(key, _)| *key).collect();
            assert_eq!(shown, documented_keys(heading), "{heading}: the man page (left) and docs/configuration.md");
        }
        let page = page();
        assert!(page.contains(".SS \"Check keys, checks.cabourotte\"\n"), "{page}");
        assert!(page.contains("\n\\fBon_checker_error\\fR\n"), "{page}");
    }

    /// EXIT STATUS has the codes of the README's "Exit codes" table, and of `commands::Exit`.
    #[test]
    fn the_man_page_has_the_exit_codes_of_the_readme() {
        const README: &str = include_str!("../README.md");
        let start = README.find("### Exit codes").expect("the README's exit codes");
        let rows = README[start..].lines().skip_while(|line| !line.starts_with('|')).take_while(|l| l.starts_with('|'));
        let readme: Vec<&str> = rows.skip(2).filter_map(|row| row.split('|').nth(1)).map(str::trim).collect();
        let shown: Vec<&str> = EXIT_CODES.iter().map(|(code, _)| *code).collect();
        assert_eq!(shown, readme, "the man page (left) and the README");
        let exits = [Exit::Done, Exit::Failed, Exit::ChangesPending, Exit::Usage];
        let codes: Vec<String> =
            exits.into_iter().map(|exit| format!("{:?}", std::process::ExitCode::from(exit))).collect();
        let expected: Vec<String> = shown
            .iter()
            .map(|code| format!("{:?}", std::process::ExitCode::from(code.parse::<u8>().expect("a code"))))
            .collect();
        assert_eq!(codes, expected, "commands::Exit (left) and the man page");
    }

    /// Each example is a command line anycastd accepts.
    #[test]
    fn every_example_is_a_valid_command_line() {
        for (example, _) in EXAMPLES.iter().filter(|(example, _)| example.starts_with("anycastd ")) {
            let words = example.split(" | ").next().unwrap_or_default().split_whitespace();
            let parsed = crate::cli::command().try_get_matches_from(words);
            assert!(parsed.is_ok(), "{example}: {}", parsed.err().map(|e| e.to_string()).unwrap_or_default());
        }
        assert!(page().contains(".SH EXAMPLES\n.TP\n\\fBanycastd check \\-\\-all\\fR\n"), "{}", page());
    }

    #[test]
    fn completions_name_every_command_for_each_packaged_shell() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let script = String::from_utf8(completions(shell)).expect("a script is text");
            for word in ["withdraw-all", "detailed-exitcode", "state-dir", "completions"] {
                assert!(script.contains(word), "{shell}: {word}");
            }
        }
        assert!(String::from_utf8_lossy(&completions(Shell::Bash)).contains("complete -F _anycastd"));
    }
}
