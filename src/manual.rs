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

/// The man page anycastd(1), in roff: the global options, then each command with its own options, then what the
/// README and docs/ say about exit codes, files and the environment.
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

/// EXIT STATUS, FILES and SEE ALSO, as the README's "Exit codes", docs/security.md and the units describe them.
fn closing_sections() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        ("0", "Done; nothing failed. An unhealthy service whose prefixes were withdrawn is not a failure."),
        (
            "1",
            "Something failed: an invalid configuration, a Cabourotte that could not be asked, an FRR that could not \
             be read, a missing BGP instance, a change FRR did not take, a state directory that could not be used \
             (then nothing was announced, but withdrawals went on).",
        ),
        ("2", "Only with plan --detailed-exitcode: changes are pending, and nothing failed. Usage errors exit 2 too."),
    ] {
        roff.control("TP", []).text([bold(code)]).text([roman(meaning)]);
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
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXIT STATUS", "FILES", "SEE ALSO"] {
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
