//! The Debian package that `scripts/package` builds: what it holds, and that it installs, runs, verifies and purges
//! cleanly in a throwaway Debian 12 root (an overlay of the root `scripts/test-root` caches), never on the host
//! itself: conffiles outlive a removal, and /etc/anycastd/config.toml is anycastd's default path.
//!
//! It packages the debug build (`scripts/package --dev`), which the tests have built already, so that CI does not
//! build a second time with fat LTO; the layout, the units, the config file and the maintainer scripts are those of
//! the release package. Needs root (mount, chroot), as `scripts/test` runs it; `scripts/test --no-lab` skips it.

use crate::support;

use std::process::{Command, Output};

use support::debian::{Overlay, VERSION, architecture, deb, source, succeed, text};

const UNITS: [&str; 3] = ["anycastd-run.service", "anycastd.service", "anycastd.timer"];

/// What the warning of an unconfigured anycastd says (src/config/mod.rs).
const NO_SERVICES: &str = "the configuration defines no services: anycastd manages no prefix and changes nothing in \
                           FRR; add a [services.NAME] table with prefixes.frrouting and checks.cabourotte";

fn dpkg_deb(args: &[&str]) -> String {
    let mut command = Command::new("dpkg-deb");
    command.args(args).arg(deb());
    text(&succeed(&mut command, &format!("dpkg-deb {}", args.join(" "))).stdout)
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn the_package_holds_the_binary_units_config_man_page_and_completions_and_nothing_in_var() {
    let listing = Command::new("dpkg-deb").arg("--contents").arg(deb()).output().expect("dpkg-deb --contents");
    let listing = text(&listing.stdout);
    assert!(!listing.lines().any(|line| line.contains(" ./var/")), "no /var/lib/anycastd of its own:\n{listing}");
    let mut files: Vec<String> = listing
        .lines()
        .filter(|line| !line.starts_with('d'))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            format!("{} {}", fields[0], fields[fields.len() - 1])
        })
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "-rw-r--r-- ./etc/anycastd/config.toml",
            "-rw-r--r-- ./usr/lib/anycastd/pam.d/frr",
            "-rw-r--r-- ./usr/lib/anycastd/pam.d/other",
            "-rw-r--r-- ./usr/lib/anycastd/systemd/address.conf",
            "-rw-r--r-- ./usr/lib/systemd/system/anycastd-run.service",
            "-rw-r--r-- ./usr/lib/systemd/system/anycastd.service",
            "-rw-r--r-- ./usr/lib/systemd/system/anycastd.timer",
            "-rw-r--r-- ./usr/lib/sysusers.d/anycastd.conf",
            "-rw-r--r-- ./usr/lib/tmpfiles.d/anycastd.conf",
            "-rw-r--r-- ./usr/share/bash-completion/completions/anycastd",
            "-rw-r--r-- ./usr/share/doc/anycastd/CHANGELOG.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/README.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/copyright",
            "-rw-r--r-- ./usr/share/doc/anycastd/docs/behaviour.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/docs/benchmark.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/docs/bird-evidence.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/docs/bird.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/docs/configuration.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/docs/frr.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/docs/operations.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/docs/security.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/examples/config.toml",
            "-rw-r--r-- ./usr/share/fish/vendor_completions.d/anycastd.fish",
            "-rw-r--r-- ./usr/share/man/man1/anycastd.1.gz",
            "-rw-r--r-- ./usr/share/zsh/vendor-completions/_anycastd",
            "-rwxr-xr-x ./usr/bin/anycastd",
        ]
    );
    let mut conffiles = Command::new("dpkg-deb");
    conffiles.arg("--info").arg(deb()).arg("conffiles");
    assert_eq!(text(&succeed(&mut conffiles, "dpkg-deb --info conffiles").stdout), "/etc/anycastd/config.toml\n");
    let fields = dpkg_deb(&["--field"]);
    for field in [
        "Package: anycastd\n".to_string(),
        format!("Version: {VERSION}\n"),
        format!("Architecture: {}\n", architecture()),
        "Depends: libc6 (>= 2.34), systemd | systemd-standalone-sysusers\n".to_string(),
        "Recommends: frr\n".to_string(),
    ] {
        assert!(fields.contains(&field), "{field:?} in\n{fields}");
    }
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn the_packaged_files_are_the_repository_s_and_what_the_binary_generates() {
    let dir = std::env::temp_dir().join(format!("anycastd-deb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    succeed(Command::new("dpkg-deb").arg("--extract").arg(deb()).arg(&dir), "dpkg-deb --extract");
    let read = |path: &str| std::fs::read(dir.join(path)).unwrap_or_else(|error| panic!("{path}: {error}"));
    for unit in UNITS {
        let packaged = read(&format!("usr/lib/systemd/system/{unit}"));
        assert_eq!(text(&packaged), text(&std::fs::read(source(&format!("timers/{unit}"))).expect("a unit")), "{unit}");
        if unit.ends_with(".service") {
            assert!(
                text(&packaged).contains("\nExecStart=/usr/bin/anycastd --quiet "),
                "{unit} runs /usr/bin/anycastd"
            );
        }
    }
    let config = std::fs::read(source("pkg/debian/config.toml")).expect("the packaged config");
    assert_eq!(read("etc/anycastd/config.toml"), config);
    let sysusers = std::fs::read(source("pkg/sysusers.d/anycastd.conf")).expect("the sysusers.d file");
    assert_eq!(read("usr/lib/sysusers.d/anycastd.conf"), sysusers);
    let tmpfiles = std::fs::read(source("pkg/tmpfiles.d/anycastd.conf")).expect("the tmpfiles.d file");
    assert_eq!(read("usr/lib/tmpfiles.d/anycastd.conf"), tmpfiles);
    for service in ["frr", "other"] {
        let pam = std::fs::read(source(&format!("pkg/pam.d/{service}"))).expect("the units' PAM services");
        assert_eq!(read(&format!("usr/lib/anycastd/pam.d/{service}")), pam, "{service}");
    }
    let address = std::fs::read(source("pkg/systemd/address.conf")).expect("the units' address drop-in");
    assert_eq!(read("usr/lib/anycastd/systemd/address.conf"), address);
    let generated = |args: &[&str]| {
        let mut binary = Command::new(env!("CARGO_BIN_EXE_anycastd"));
        succeed(binary.args(args), &format!("anycastd {}", args.join(" "))).stdout
    };
    let mut gunzip = Command::new("gzip");
    gunzip.arg("-dc").arg(dir.join("usr/share/man/man1/anycastd.1.gz"));
    assert_eq!(succeed(&mut gunzip, "gzip -dc anycastd.1.gz").stdout, generated(&["man"]));
    assert_eq!(read("usr/share/bash-completion/completions/anycastd"), generated(&["completions", "bash"]));
    assert_eq!(read("usr/share/zsh/vendor-completions/_anycastd"), generated(&["completions", "zsh"]));
    assert_eq!(read("usr/share/fish/vendor_completions.d/anycastd.fish"), generated(&["completions", "fish"]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The cached Debian 12 root seen through an overlay, entered with chroot: all of it goes away on drop.
struct ThrowawayRoot {
    overlay: Overlay,
}

impl ThrowawayRoot {
    /// A root of its own for each `name`: tests run side by side.
    fn new(name: &str) -> ThrowawayRoot {
        ThrowawayRoot { overlay: Overlay::new(name) }
    }

    /// Runs `args` inside the root, with a plain environment.
    fn run(&self, args: &[&str]) -> Output {
        Command::new("chroot")
            .arg(&self.overlay.merged)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap_or_else(|error| panic!("chroot {}: {error}", args.join(" ")))
    }

    /// Like [`ThrowawayRoot::run`], asserting success; returns stdout and stderr.
    fn succeeds(&self, args: &[&str]) -> (String, String) {
        let output = self.run(args);
        let what = args.join(" ");
        assert!(output.status.success(), "{what}: {}\n{}{}", output.status, text(&output.stdout), text(&output.stderr));
        (text(&output.stdout), text(&output.stderr))
    }

    /// Like [`ThrowawayRoot::run`], asserting success with nothing on stderr; returns stdout.
    fn quietly(&self, args: &[&str]) -> String {
        let (stdout, stderr) = self.succeeds(args);
        assert_eq!(stderr, "", "{} wrote to stderr", args.join(" "));
        stdout
    }

    /// Every path the root has changed (relative to its base), except those of dpkg's and man-db's bookkeeping and
    /// the user database, which keeps the system user anycastd (Debian never removes a package's system user).
    fn changed(&self) -> Vec<String> {
        let upper = &self.overlay.upper;
        let mut found = Vec::new();
        let mut pending = vec![upper.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("read the overlay").flatten() {
                let path = entry.path();
                let relative = path.strip_prefix(upper).expect("under upper").display().to_string();
                let bookkeeping = ["var/lib/dpkg/", "var/log/", "var/cache/man/", "run/systemd/"];
                // The user database and its backups (`passwd-`) and lock, as systemd-sysusers leaves them.
                let users = ["etc/passwd", "etc/group", "etc/shadow", "etc/gshadow"];
                let user_database = relative == "etc/.pwd.lock"
                    || users.iter().any(|file| relative == *file || relative == format!("{file}-"));
                if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    pending.push(path);
                } else if !bookkeeping.iter().any(|prefix| relative.starts_with(prefix)) && !user_database {
                    found.push(relative);
                }
            }
        }
        found.sort();
        found
    }
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn the_package_installs_runs_harmlessly_verifies_and_purges_in_a_throwaway_debian_12_root() {
    let root = ThrowawayRoot::new("root");
    let copy = root.overlay.path("/tmp/anycastd.deb");
    std::fs::copy(deb(), &copy).expect("copy the package into the root");

    let (installed, said) = root.succeeds(&["dpkg", "--install", "/tmp/anycastd.deb"]);
    assert!(installed.contains(&format!("Setting up anycastd ({VERSION}) ...\n")), "{installed}");
    std::fs::remove_file(&copy).expect("remove the copy");
    // systemd-sysusers tells what it made, on stderr; nothing else may be there.
    let said: Vec<&str> = said.lines().collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[0].starts_with("Creating group 'anycastd' with GID "), "{said:?}");
    assert!(
        said[1].starts_with("Creating user 'anycastd' (anycastd, announcer of anycast prefixes) with UID "),
        "{said:?}"
    );
    let user = root.quietly(&["getent", "passwd", "anycastd"]);
    assert!(user.ends_with(":anycastd, announcer of anycast prefixes:/:/usr/sbin/nologin\n"), "{user}");
    // The configuration may come to hold a password: readable by the units' group, not by others.
    assert_eq!(root.quietly(&["stat", "-c", "%U:%G %a", "/etc/anycastd/config.toml"]), "root:anycastd 640\n");

    assert_eq!(root.quietly(&["anycastd", "--version"]), format!("anycastd {VERSION}\n"));
    assert_eq!(root.quietly(&["man", "-w", "anycastd"]), "/usr/share/man/man1/anycastd.1.gz\n");
    let units: Vec<String> = UNITS.iter().map(|unit| format!("/usr/lib/systemd/system/{unit}")).collect();
    let mut verify = vec!["systemd-analyze", "verify", "--man=no"];
    verify.extend(units.iter().map(String::as_str));
    assert_eq!(root.quietly(&verify), "");
    assert!(
        !root.overlay.path("/etc/systemd/system/timers.target.wants/anycastd.timer").exists(),
        "installed, not enabled"
    );

    // Installed but unconfigured: valid, harmless, and it says so.
    assert_eq!(
        root.quietly(&["anycastd", "check"]),
        format!("/etc/anycastd/config.toml is valid: 0 services, 0 prefixes, 0 checks.\nWarning: {NO_SERVICES}\n")
    );
    let apply = root.run(&["anycastd", "apply"]);
    assert_eq!(apply.status.code(), Some(0), "{apply:?}");
    assert_eq!(text(&apply.stderr), format!("anycastd apply: warning: {NO_SERVICES}\n"));
    assert!(root.overlay.path("/var/lib/anycastd/lock").exists(), "the run made the state directory");

    // An unconfigured anycastd manages nothing: its removal has nothing to withdraw, and says so.
    let purged = root.quietly(&["dpkg", "--purge", "anycastd"]);
    assert!(
        purged.contains("anycastd: /etc/anycastd/config.toml defines no service: nothing to withdraw\n"),
        "{purged}"
    );
    let query = root.run(&["dpkg-query", "--show", "anycastd"]);
    assert!(!query.status.success(), "dpkg forgot anycastd: {}", text(&query.stdout));
    let overrides = root.quietly(&["dpkg-statoverride", "--list"]);
    assert!(!overrides.contains("/etc/anycastd/"), "the purge removed the configuration's override:\n{overrides}");
    assert_eq!(root.changed(), Vec::<String>::new(), "the purge left files behind");
}

/// What the package's prerm says when withdraw-all did not withdraw (pkg/debian/prerm).
const BY_HAND: &str = "look for them in FRR (vtysh -c 'show running-config') and remove their network lines by hand";

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn the_prerm_withdraws_only_on_remove_and_never_fails_the_removal() {
    let root = ThrowawayRoot::new("prerm");
    let copy = root.overlay.path("/tmp/anycastd.deb");
    std::fs::copy(deb(), &copy).expect("copy the package into the root");
    root.succeeds(&["dpkg", "--install", "/tmp/anycastd.deb"]);
    std::fs::remove_file(&copy).expect("remove the copy");
    let prerm = "/var/lib/dpkg/info/anycastd.prerm";
    let config = root.overlay.path("/etc/anycastd/config.toml");
    let marker = root.overlay.path("/var/lib/anycastd/maintenance.json");
    // A service whose prefix is behind a vtysh that never answers, and one behind the root's vtysh, whose FRR is not
    // running (nothing runs in a chroot).
    let hung = root.overlay.path("/usr/local/bin/hung-vtysh");
    std::fs::write(&hung, "#!/bin/sh\nexec sleep 600\n").expect("write the hung vtysh");
    root.quietly(&["chmod", "755", "/usr/local/bin/hung-vtysh"]);
    let services = r#"[services.dns]
prefixes.frrouting = ["203.0.113.53"]
checks.cabourotte = ["dns"]

[services.ntp]
prefixes.frrouting = [{ prefix = "203.0.113.123", vtysh = "/usr/local/bin/hung-vtysh" }]
checks.cabourotte = ["ntp"]
"#;
    std::fs::write(&config, services).expect("configure two services");

    // What dpkg runs on an upgrade, and when it unwinds one: nothing is withdrawn, nothing said, no marker.
    for args in [["upgrade", VERSION], ["failed-upgrade", VERSION], ["deconfigure", "in-favour"]] {
        let output = root.run(&[prerm, args[0], args[1]]);
        assert_eq!(output.status.code(), Some(0), "prerm {args:?}: {output:?}");
        assert_eq!((text(&output.stdout), text(&output.stderr)), (String::new(), String::new()), "prerm {args:?}");
        assert!(!marker.exists(), "prerm {args:?} wrote the maintenance marker");
    }

    // On removal, a withdrawal that fails (one FRR down, one vtysh hung until --vtysh-timeout) is said, and the
    // removal goes on, within the prerm's bound. (The marker is not written here: the chroot has no /proc, which the
    // state directory's safe writes need; tests/units_live.rs sees it on a booted node.)
    let started = std::time::Instant::now();
    let removed = root.run(&[prerm, "remove"]);
    let took = started.elapsed();
    let said = text(&removed.stderr);
    assert_eq!(removed.status.code(), Some(0), "{said}");
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
    assert!(said.contains("anycastd withdraw-all: prefix-error 203.0.113.53/32 for service dns"), "{said}");
    assert!(said.contains("anycastd withdraw-all: prefix-error 203.0.113.123/32 for service ntp"), "{said}");
    assert!(said.contains("/usr/local/bin/hung-vtysh"), "{said}");
    let failed = format!(
        "anycastd: withdraw-all failed (exit 1, see above): FRR may still announce prefixes of anycastd's services; \
         {BY_HAND}\n"
    );
    assert!(said.ends_with(&failed), "{said}");
    println!("prerm remove with a hung vtysh took {took:?}:\n{said}");

    // A configuration that cannot be read withdraws nothing: anycastd says why, the prerm what it means.
    std::fs::write(&config, "[services.dns\n").expect("break the configuration");
    let removed = root.run(&[prerm, "remove"]);
    let said = text(&removed.stderr);
    assert_eq!(removed.status.code(), Some(0), "{said}");
    assert!(said.contains("invalid TOML"), "{said}");
    assert!(said.ends_with(&failed), "{said}");
    std::fs::remove_file(&config).expect("remove the configuration");
    let removed = root.run(&[prerm, "remove"]);
    assert_eq!(removed.status.code(), Some(0), "{removed:?}");
    assert_eq!(
        text(&removed.stderr),
        format!(
            "anycastd: /etc/anycastd/config.toml is missing, so which prefixes anycastd manages is unknown: none \
             withdrawn; {BY_HAND}\n"
        )
    );
}
