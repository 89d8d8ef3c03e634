//! The Debian package that `scripts/package` builds: what it holds, and that it installs, runs, verifies and purges
//! cleanly in a throwaway Debian 12 root (an overlay of the root `scripts/test-root` caches), never on the host
//! itself: conffiles outlive a removal, and /etc/anycastd/config.toml is anycastd's default path.
//!
//! It packages the debug build (`scripts/package --dev`), which the tests have built already, so that CI does not
//! build a second time with fat LTO; the layout, the units, the config file and the maintainer scripts are those of
//! the release package. Needs root (mount, chroot), as `scripts/test` runs it; `scripts/test --no-lab` skips it.

mod support;

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
            "-rw-r--r-- ./usr/lib/systemd/system/anycastd-run.service",
            "-rw-r--r-- ./usr/lib/systemd/system/anycastd.service",
            "-rw-r--r-- ./usr/lib/systemd/system/anycastd.timer",
            "-rw-r--r-- ./usr/lib/sysusers.d/anycastd.conf",
            "-rw-r--r-- ./usr/share/bash-completion/completions/anycastd",
            "-rw-r--r-- ./usr/share/doc/anycastd/CHANGELOG.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/README.md",
            "-rw-r--r-- ./usr/share/doc/anycastd/copyright",
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
    fn new() -> ThrowawayRoot {
        ThrowawayRoot { overlay: Overlay::new("root") }
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
fn the_package_installs_runs_harmlessly_verifies_and_purges_in_a_throwaway_debian_12_root() {
    let root = ThrowawayRoot::new();
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

    root.quietly(&["dpkg", "--purge", "anycastd"]);
    let query = root.run(&["dpkg-query", "--show", "anycastd"]);
    assert!(!query.status.success(), "dpkg forgot anycastd: {}", text(&query.stdout));
    let overrides = root.quietly(&["dpkg-statoverride", "--list"]);
    assert!(!overrides.contains("/etc/anycastd/"), "the purge removed the configuration's override:\n{overrides}");
    assert_eq!(root.changed(), Vec::<String>::new(), "the purge left files behind");
}
