//! What a new operator sees of errors and help in the first hour: one error per syntax error, a cause before its
//! consequences, ASCII drawing where Unicode cannot be shown, and an empty configuration that is harmless.

use crate::support;

use support::env::Env;

const MISSING_BRACKET: &str = r#"[services.dns]
prefixes.frrouting = ["203.0.113.53"
checks.cabourotte = ["dns"]

[services.ntp]
prefixes.frrouting = ["203.0.113.123"]
checks.cabourotte = ["ntp_v4"]
"#;

#[test]
fn one_missing_bracket_reports_one_error() {
    let env = Env::new();
    env.config(MISSING_BRACKET);
    let run = env.anycastd(["check"]).run().code(1);
    assert_eq!(
        run.stderr,
        "  × the configuration [DIR]/config.toml has 1 error

Error: 
  × invalid TOML: missing comma between array elements, expected `,`
   ╭─[[DIR]/config.toml:3:1]
 2 │ prefixes.frrouting = [\"203.0.113.53\"
 3 │ checks.cabourotte = [\"dns\"]
   · ▲
   · ╰── here
 4 │ 
   ╰────
  help: the rest of the file cannot be read until this is fixed; only this first error is shown

"
    );
}

#[test]
fn a_misspelt_key_with_its_suggestion_comes_before_the_missing_prefixes_it_causes() {
    let env = Env::new();
    env.config("[services.dns]\nprefix.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [\"dns\"]\n");
    let run = env.anycastd(["check"]).run().code(1);
    let headlines: Vec<&str> = run.stderr.lines().filter(|line| line.starts_with("  × ")).collect();
    assert_eq!(
        headlines,
        [
            "  × the configuration [DIR]/config.toml has 2 errors",
            "  × unknown key `prefix` in service `dns`",
            "  × service `dns` has no prefixes",
        ]
    );
    run.stderr_has("  help: did you mean `prefixes`? Valid keys: prefixes, checks,");
}

#[test]
fn errors_are_drawn_in_ascii_under_the_c_locale_and_a_dumb_terminal() {
    let env = Env::new();
    env.config("[services.dns]\nprefixes.frrouting = [\"192.0.2.241/28\"]\nchecks.cabourotte = [\"dns\"]\n");
    let ascii = "  x the configuration [DIR]/config.toml has 1 error

Error: 
  x prefix `192.0.2.241/28` has host bits set
   ,-[[DIR]/config.toml:2:23]
 1 | [services.dns]
 2 | prefixes.frrouting = [\"192.0.2.241/28\"]
   :                       ^^^^^^^^|^^^^^^^
   :                               `-- did you mean 192.0.2.240/28?
 3 | checks.cabourotte = [\"dns\"]
   `----
  help: FRR would silently store it as `192.0.2.240/28` and anycastd could never find it again: write \"192.0.2.240/28\"

";
    for (name, value) in [("LANG", "C"), ("LC_ALL", "POSIX"), ("TERM", "dumb")] {
        let run = env.anycastd(["check"]).env(name, value).run().code(1);
        assert_eq!(run.stderr, ascii, "with {name}={value}");
    }
    let unicode = env.anycastd(["check"]).run();
    assert!(unicode.stderr.contains("   ╭─[[DIR]/config.toml:2:23]\n"), "C.UTF-8 draws boxes: {}", unicode.stderr);
}

#[test]
fn a_configuration_of_comments_only_is_valid_and_changes_nothing_with_a_warning() {
    let env = Env::new();
    env.config("# Nothing configured yet.\n");
    let warning = "the configuration defines no services: anycastd manages no prefix and changes nothing in FRR; add \
                   a [services.NAME] table with prefixes.frrouting and checks.cabourotte";
    let check = env.anycastd(["check"]).run();
    assert_eq!((check.code, check.stderr.as_str()), (0, ""), "{check:?}");
    assert_eq!(
        check.stdout,
        format!("[DIR]/config.toml is valid: 0 services, 0 prefixes, 0 checks.\nWarning: {warning}\n")
    );
    let apply = env.anycastd(["apply"]).run().success();
    apply.stdout_is(&format!("Warning: {warning}\n\nApplied: 0 announced, 0 withdrawn, 0 unchanged.\n"));
    apply.stderr_is(&format!("anycastd apply: warning: {warning}\n"));
    assert!(env.vtysh_calls().is_empty(), "FRR was not even asked: {:?}", env.vtysh_calls());
    assert_eq!(env.cabourotte.request_count(), 0, "Cabourotte was not asked");
}

#[test]
fn a_stock_frr_without_bgpd_gets_a_hint_about_etc_frr_daemons() {
    let env = Env::new();
    // What Debian's vtysh answers `-d bgpd` with when /etc/frr/daemons still has bgpd=no.
    let stub = "#!/bin/sh\necho 'Exiting: failed to connect to any daemons.' >&2\nexit 1\n";
    std::fs::write(env.vtysh(), stub).expect("replace the fake vtysh");
    let hint = "[DIR]/vtysh exited with 1: Exiting: failed to connect to any daemons. (is bgpd running? FRR starts \
                only the daemons enabled in /etc/frr/daemons, and Debian's has bgpd=no: set bgpd=yes, then \
                `systemctl restart frr`)";
    // Said once for the FRR, in the report and in the log; each prefix refers to it.
    let plan = env.anycastd(["plan"]).run().code(1);
    assert!(plan.stdout.starts_with(&format!("Error: cannot read FRR's running config: {hint}\n\n")), "{plan}");
    plan.stdout_has(
        "  ! 203.0.113.53/32              error (default VRF): cannot read FRR's running config through [DIR]/vtysh (see \
         above)\n",
    );
    plan.stdout_has(
        "  ! 2001:db8::123:7e11:713e/128  error (VRF 123): cannot read FRR's running config through [DIR]/vtysh (see \
         above)\n",
    );
    assert_eq!(plan.stdout.matches("failed to connect to any daemons").count(), 1, "{plan}");
    let apply = env.anycastd(["apply"]).run().code(1);
    assert_eq!(apply.stdout.matches("failed to connect to any daemons").count(), 1, "{apply}");
    assert!(
        apply
            .stderr
            .starts_with(&format!("anycastd apply: frr-unavailable: cannot read FRR's running config: {hint}\n")),
        "{apply}"
    );
    apply.stderr_has(
        "anycastd apply: prefix-error 203.0.113.53/32 for service dns (default VRF): cannot read FRR's running config \
         through [DIR]/vtysh (see above)\n",
    );
    assert_eq!(apply.stderr.matches("failed to connect to any daemons").count(), 1, "{apply}");
    assert_eq!(apply.stderr.matches("prefix-error").count(), 4, "{apply}");
    let json = env.anycastd(["plan"]).json().run().code(1).json();
    let codes: Vec<&serde_json::Value> = json["services"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|service| service["prefixes"].as_array().into_iter().flatten())
        .map(|prefix| &prefix["error_code"])
        .collect();
    assert_eq!(codes, [&serde_json::json!("frr-unavailable"); 4], "the JSON keeps one per prefix: {json}");
    let check = env.anycastd(["check", "--frr"]).run().code(1);
    check.stdout_has(&format!("cannot read FRR's running config: {hint}\n"));
}

/// A command's help shows what the command takes, and one line says where the global options are; `anycastd --help`
/// lists each of them once, and every command, `man` included.
#[test]
fn a_commands_help_shows_its_own_options_and_the_top_level_help_the_global_ones() {
    let env = Env::new();
    let completions = env.anycastd(["completions", "--help"]).run().success();
    completions.stdout_has("<SHELL>").stdout_lacks("--vtysh-timeout").stdout_lacks("--log-level");
    completions.stdout_has("valid before or after the command: see `anycastd --help`.");
    assert!(completions.stdout.lines().count() < 30, "{}", completions.stdout);
    let plan = env.anycastd(["plan", "-h"]).run().success();
    plan.stdout_has("--detailed-exitcode").stdout_lacks("--state-dir <").stdout_has("see `anycastd --help`.");
    let top = env.anycastd(["--help"]).run().success();
    for global in ["--vtysh-timeout <", "--state-dir <", "--log-level <", "--configuration <", "--no-color\n"] {
        assert_eq!(top.stdout.matches(global).count(), 1, "{global}:\n{}", top.stdout);
    }
    top.stdout_has("\n  man ").stdout_has("\n  completions ");
}

/// Hidden from a command's help is not taken away: the original anycastd's flags after the command still work.
#[test]
fn global_options_after_the_command_still_work() {
    let env = Env::new();
    let applied = env.anycastd(["apply", "--log-level", "error", "--log-format", "json", "--no-color", "-q"]).run();
    applied.success().stdout_is("");
    let checked = env.anycastd(["check", "--format", "json", "--config", &env.config_path().display().to_string()]);
    assert_eq!(checked.run().success().json()["valid"], true);
}

/// `anycastd man`, listed now, prints a page with the configuration's keys and examples.
#[test]
fn the_man_page_has_a_configuration_reference_and_examples() {
    let env = Env::new();
    let man = env.anycastd(["man"]).run().success();
    for section in [".SH CONFIGURATION\n", ".SH EXAMPLES\n", ".SH \"EXIT STATUS\"\n", ".SS \"anycastd man\"\n"] {
        man.stdout_has(section);
    }
    man.stdout_has("\\fBon_checker_error\\fR").stdout_has("docs/configuration.md is the full reference");
}

/// A usage error exits 64, apart from `plan --detailed-exitcode`'s 2 (changes pending) and a failure's 1, and does
/// nothing; help and the version exit 0.
#[test]
fn a_usage_error_has_its_own_exit_code() {
    let env = Env::new();
    for args in [
        &["plan", "--detailed-exitcod"][..],
        &["aply"],
        &[],
        &["--vtysh-timeout", "1ms", "apply"],
        &["apply", "--format", "yaml"],
        &["check", "--frr-conf", "/etc/frr/frr.conf"],
        &["forget", "203.0.113.53/24"],
    ] {
        let run = env.anycastd(args.iter().copied()).run().code(64);
        assert!(!run.stderr.trim().is_empty(), "{args:?} says what is wrong");
    }
    assert!(env.networks().is_empty(), "nothing was applied");
    env.anycastd(["plan", "--detailed-exitcode"]).run().code(2).stdout_has("Plan: 4 to announce");
    for args in [&["--help"][..], &["--version"], &["plan", "--help"], &["help", "run"]] {
        env.anycastd(args.iter().copied()).run().success();
    }
}

/// The README's commands after `cargo install`, run as written but under an empty directory standing for a stock
/// Debian's `/`, whose /usr/local/share has neither bash-completion/completions nor man/man1: they make the
/// directories they write into, and leave the completion script and the man page there. (Before, the completion
/// line failed there: `No such file or directory`.)
#[test]
fn the_readmes_cargo_install_commands_make_the_directories_they_write_into() {
    let readme = include_str!("../README.md");
    let install = &readme[readme.find("\n## Install").expect("Install")..readme.find("\n## Try it").expect("Try it")];
    let block = install
        .split("```sh")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .find(|block| block.contains("cargo install"))
        .expect("the README's block of `cargo install`");
    let root = std::env::temp_dir().join(format!("anycastd-readme-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("an empty root");
    let script: Vec<String> = block
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("cargo install"))
        .map(|line| line.replace(" /usr/", &format!(" {}/usr/", root.display())))
        .collect();
    let root_text = root.display().to_string();
    let outside = script
        .iter()
        .flat_map(|line| line.split_whitespace())
        .find(|word| word.starts_with('/') && !word.starts_with(&root_text));
    assert_eq!(outside, None, "every path is moved under the root: {script:#?}");
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_anycastd"));
    let path =
        format!("{}:{}", binary.parent().expect("its directory").display(), std::env::var("PATH").unwrap_or_default());
    let ran = std::process::Command::new("sh").args(["-e", "-c", &script.join("\n")]).env("PATH", path).output();
    let ran = ran.expect("run sh");
    let completion = std::fs::read_to_string(root.join("usr/local/share/bash-completion/completions/anycastd"));
    let manual = std::fs::read_to_string(root.join("usr/local/share/man/man1/anycastd.1"));
    let _ = std::fs::remove_dir_all(&root);
    assert!(ran.status.success(), "{script:#?}: {}", String::from_utf8_lossy(&ran.stderr));
    assert!(completion.is_ok_and(|text| text.contains("complete -F _anycastd")), "the bash completion");
    assert!(manual.is_ok_and(|text| text.contains(".TH anycastd 1")), "the man page");
}

/// Under systemd, stderr is the journal (`$JOURNAL_STREAM` names its device and inode): each line starts with its
/// syslog priority, and a fatal error is one line, which the units' `LogLevelMax=notice` keeps and the journal shows
/// whole. A `$JOURNAL_STREAM` that names another file is not believed.
#[test]
fn under_the_journal_a_fatal_error_is_one_line_with_its_priority() {
    use std::os::unix::fs::MetadataExt;

    let env = Env::new();
    env.config(MISSING_BRACKET);
    let stderr_path = env.dir.join("stderr");
    let run = |stream: &dyn Fn(&std::fs::Metadata) -> String| {
        let file = std::fs::File::create(&stderr_path).expect("the stderr file");
        let stream = stream(&file.metadata().expect("its metadata"));
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_anycastd"))
            .args(["-c", &env.config_path().display().to_string(), "check"])
            .env("JOURNAL_STREAM", stream)
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .status()
            .expect("anycastd runs");
        (status.code(), std::fs::read_to_string(&stderr_path).expect("what it wrote"))
    };
    let (code, journal) = run(&|metadata| format!("{}:{}", metadata.dev(), metadata.ino()));
    let config = env.config_path().display().to_string();
    assert_eq!(code, Some(1));
    assert_eq!(
        journal,
        format!(
            "<3>anycastd check: pass-failed: the configuration {config} has 1 error: line 3, column 1: invalid TOML: \
             missing comma between array elements, expected `,` (help: the rest of the file cannot be read until \
             this is fixed; only this first error is shown)\n"
        )
    );
    let (code, elsewhere) = run(&|metadata| format!("{}:{}", metadata.dev(), metadata.ino() + 1));
    assert_eq!(code, Some(1));
    assert!(elsewhere.starts_with("  × the configuration "), "miette's report, not the journal's line: {elsewhere}");
}
