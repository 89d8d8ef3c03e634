//! The state directory as an attacker or an unlucky operator meets it (issue 11): what anycastd writes there and
//! with which mode, what it trusts of what it finds there, and what it still does when it cannot use it.

use crate::support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use support::anycastd::Run;
use support::env::{Env, SEED_CONFIG};

/// Every file below `dir`, with its path.
fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the state directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_below(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Creates the environment's state directory as anycastd would: writable by its owner only.
fn owner_only_state_dir(env: &Env) {
    std::fs::create_dir_all(env.state_dir()).expect("state dir");
    std::fs::set_permissions(env.state_dir(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).expect("stat").mode() & 0o7777
}

#[test]
fn a_check_password_never_lands_in_the_state_directory() {
    let env = Env::new();
    env.cabourotte.require_basic_auth("anycast", "s3cr3t-pw");
    let with_auth = format!("http://anycast:s3cr3t-pw@127.0.0.1:{}", env.cabourotte.port());
    env.config(&SEED_CONFIG.replace("{url}", &with_auth));
    // The cache an older anycastd left behind, with the password in plain text.
    std::fs::create_dir_all(env.state_dir()).expect("state dir");
    std::fs::write(env.state_dir().join("config-cache.json"), format!(r#"{{"url": "{with_auth}"}}"#))
        .expect("an old cache");
    env.anycastd(["apply"]).run().success();
    env.anycastd(["apply"]).run().success();
    env.anycastd(["withdraw-all", "--reason", "test"]).run().success();
    assert!(env.networks().is_empty());
    let files = files_below(&env.state_dir());
    assert!(files.iter().any(|file| file.ends_with("maintenance.json")), "{files:?}");
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("read")).into_owned();
        assert!(!text.contains("s3cr3t-pw"), "{} holds the password: {text}", file.display());
    }
}

#[test]
fn the_state_directory_is_created_0700_and_its_files_0600() {
    let env = Env::new();
    std::fs::set_permissions(&env.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    env.anycastd(["apply"]).run().success();
    env.anycastd(["withdraw-all"]).run().success();
    assert_eq!(mode(&env.state_dir()), 0o700, "the state directory");
    let files = files_below(&env.state_dir());
    let names: Vec<_> = files.iter().filter_map(|file| file.file_name()?.to_str()).collect();
    assert_eq!(names, ["config-cache.json", "frr-changed", "lock", "maintenance.json", "managed.json", "state.json"]);
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
}

/// Whether the tests run as root: ownership, other users and mounts need it.
fn root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// Fails a test that needs root for `what` when run without it: such a test is `#[ignore]`d, so that a plain
/// `cargo test` leaves it to `scripts/test` (as root), and must never pass by doing nothing.
fn needs_root(what: &str) {
    assert!(root(), "this test needs root ({what}): run it with scripts/test as root");
}

/// The user `nobody`, who owns the service's directory in the tests of systemd's `DynamicUser=yes` layout.
const NOBODY: u32 = 65534;

/// `command` run as `nobody` (as root, through setpriv), like the service's dynamic user.
fn as_nobody(command: &std::process::Command) -> std::process::Command {
    let mut wrapped = std::process::Command::new("setpriv");
    wrapped
        .arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

/// `anycastd ARGS` with the environment's config and `state_dir` as the state directory.
fn with_state_dir(env: &Env, state_dir: &Path, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_anycastd"));
    command
        .arg("--configuration")
        .arg(env.config_path())
        .arg("--state-dir")
        .arg(state_dir)
        .args(args)
        .env_remove("ANYCASTD_CONFIG")
        .env_remove("ANYCASTD_STATE_DIR")
        .env_remove("NO_COLOR");
    command
}

/// Runs `command` and waits for it.
fn run(env: &Env, mut command: std::process::Command) -> Run {
    let output = command.output().expect("run anycastd");
    Run::of(env, &command, &output)
}

/// The state directory of systemd's `DynamicUser=yes`: `lib/anycastd`, a root-owned link to `private/anycastd`,
/// which `nobody` owns; `private` is root's, mode 0700. Returns the link.
fn dynamic_user_layout(env: &Env) -> std::path::PathBuf {
    let private = env.dir.join("lib/private");
    std::fs::create_dir_all(private.join("anycastd")).expect("dirs");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::set_permissions(private.join("anycastd"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::os::unix::fs::chown(private.join("anycastd"), Some(NOBODY), Some(NOBODY)).expect("chown");
    let link = env.dir.join("lib/anycastd");
    std::os::unix::fs::symlink("private/anycastd", &link).expect("link");
    link
}

#[test]
fn a_symlink_planted_as_the_lock_is_not_followed() {
    let env = Env::new();
    owner_only_state_dir(&env);
    std::fs::write(env.dir.join("victim"), "precious\n").expect("victim");
    std::os::unix::fs::symlink(env.dir.join("victim"), env.state_dir().join("lock")).expect("planted");
    let run = env.anycastd(["apply"]).run();
    assert_eq!(std::fs::read_to_string(env.dir.join("victim")).expect("victim"), "precious\n");
    assert_eq!(run.code, 1);
    run.stderr_has(
        "cannot open the lock [DIR]/state/lock: [DIR]/state/lock is a symbolic link: anycastd follows none in its \
             state directory; remove it",
    );
    assert!(env.networks().is_empty(), "nothing announced without the lock");
}

#[test]
fn temporary_files_planted_under_predictable_names_are_not_written_through() {
    let env = Env::new();
    owner_only_state_dir(&env);
    std::fs::write(env.dir.join("victim"), "precious\n").expect("victim");
    // The names anycastd used to write through: `.NAME.PID`, for the next few thousand PIDs.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(1000);
    for pid in last..last + 3000 {
        for name in ["state.json", "config-cache.json", "maintenance.json"] {
            let planted = env.state_dir().join(format!(".{name}.{pid}"));
            std::os::unix::fs::symlink(env.dir.join("victim"), planted).expect("planted");
        }
    }
    env.anycastd(["apply"]).run().success();
    env.anycastd(["withdraw-all"]).run().success();
    assert_eq!(std::fs::read_to_string(env.dir.join("victim")).expect("victim"), "precious\n");
    for name in ["state.json", "config-cache.json", "maintenance.json"] {
        let metadata = std::fs::symlink_metadata(env.state_dir().join(name)).expect(name);
        assert!(metadata.is_file(), "{name} is a regular file of its own");
    }
}

#[test]
fn a_state_directory_others_can_write_is_refused() {
    let env = Env::new();
    std::fs::create_dir_all(env.state_dir()).expect("state dir");
    std::fs::set_permissions(env.state_dir(), std::fs::Permissions::from_mode(0o775)).expect("chmod");
    let run = env.anycastd(["apply"]).run().code(1);
    run.stderr_has(
        "the state directory [DIR]/state has mode 0775: its group or others can write it, and so plant files that \
             anycastd would read; make it writable by its owner only: chmod go-w [DIR]/state",
    );
    assert!(env.networks().is_empty(), "nothing announced");
}

#[test]
fn a_fifo_planted_as_the_marker_cannot_hang_a_pass_and_keeps_maintenance_on() {
    let env = Env::new();
    owner_only_state_dir(&env);
    let made = std::process::Command::new("mkfifo").arg(env.state_dir().join("maintenance.json")).status();
    assert!(made.is_ok_and(|status| status.success()), "mkfifo");
    let mut child = env.anycastd(["apply"]).spawn();
    let run = child
        .exit_within(std::time::Duration::from_secs(30))
        .unwrap_or_else(|| panic!("apply hangs on a FIFO planted as the maintenance marker"))
        .normalized(&env);
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout_has("the marker [DIR]/state/maintenance.json cannot be read ([DIR]/state/maintenance.json is not a regular file); maintenance stays on");
    assert!(env.networks().is_empty(), "nothing announced in maintenance");
}

#[test]
fn a_lock_hard_linked_to_another_file_is_not_written() {
    let env = Env::new();
    owner_only_state_dir(&env);
    std::fs::write(env.dir.join("victim"), "precious\n").expect("victim");
    std::fs::hard_link(env.dir.join("victim"), env.state_dir().join("lock")).expect("linked");
    let run = env.anycastd(["apply"]).run();
    assert_eq!(std::fs::read_to_string(env.dir.join("victim")).expect("victim"), "precious\n");
    assert_eq!(run.code, 1);
    run.stderr_has(
        "cannot open the lock [DIR]/state/lock: [DIR]/state/lock has other names (hard links), whose content \
             anycastd would overwrite; remove it",
    );
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn systemds_dynamic_user_layout_works_and_roots_files_go_to_the_service_user() {
    needs_root("chown, setpriv");
    let env = Env::new();
    let link = dynamic_user_layout(&env);
    assert_eq!(run(&env, with_state_dir(&env, &link, &["apply"])).code, 0);
    let withdrawn = run(&env, with_state_dir(&env, &link, &["withdraw-all", "--reason", "kernel upgrade"]));
    assert_eq!(withdrawn.code, 0, "{withdrawn:?}");
    assert!(env.networks().is_empty());
    for file in files_below(&env.dir.join("lib/private/anycastd")) {
        let metadata = std::fs::metadata(&file).expect("stat");
        assert_eq!((metadata.uid(), metadata.gid()), (NOBODY, NOBODY), "{} is the service's", file.display());
    }
    // The service reads root's marker, and can end the maintenance. (systemd's mount namespace lets the service
    // through `private`; here it may search it.)
    let private = env.dir.join("lib/private");
    std::fs::set_permissions(private, std::fs::Permissions::from_mode(0o711)).expect("chmod");
    std::fs::write(env.dir.join("running-config"), support::env::EMPTY_FRR).expect("running config");
    let running = env.dir.join("running-config").display().to_string();
    let plan = with_state_dir(&env, &link, &["plan", "--running-config", &running, "--assume", "healthy"]);
    let plan = run(&env, as_nobody(&plan));
    assert_eq!(plan.code, 0, "{plan:?}");
    let marker = plan.stdout.lines().next().unwrap_or_default();
    assert!(marker.starts_with("Maintenance since ") && marker.ends_with(": kernel upgrade"), "{}", plan.stdout);
    let resume = run(&env, as_nobody(&with_state_dir(&env, &link, &["resume"])));
    assert_eq!(resume.code, 0, "{resume:?}");
    resume.stdout_is("Maintenance ended: the next apply announces the prefixes of healthy services again.\n");
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn a_symlink_to_the_state_directory_owned_by_someone_else_is_refused() {
    needs_root("lchown");
    let env = Env::new();
    let link = dynamic_user_layout(&env);
    std::os::unix::fs::lchown(&link, Some(NOBODY), Some(NOBODY)).expect("lchown");
    let refused = run(&env, with_state_dir(&env, &link, &["apply"]));
    assert_eq!(refused.code, 1);
    refused.stderr_has(
        "the state directory [DIR]/lib/anycastd goes through the symbolic link [DIR]/lib/anycastd, which belongs \
             to uid 65534: anycastd follows only links that belong to root or to itself (uid 0); replace the link, or \
             give the real directory",
    );
    assert!(env.networks().is_empty(), "nothing announced");
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn a_cache_forged_by_the_state_directorys_owner_never_reaches_root() {
    needs_root("another user owning the state directory");
    let env = Env::new();
    let state_dir = env.dir.join("service-state");
    std::fs::create_dir_all(&state_dir).expect("state dir");
    std::fs::set_permissions(&state_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::os::unix::fs::chown(&state_dir, Some(NOBODY), Some(NOBODY)).expect("chown");
    assert_eq!(run(&env, with_state_dir(&env, &state_dir, &["apply"])).code, 0);
    assert_eq!(run(&env, with_state_dir(&env, &state_dir, &["withdraw-all"])).code, 0);
    assert_eq!(run(&env, with_state_dir(&env, &state_dir, &["resume"])).code, 0);

    // The directory's owner edits the cache and keeps its `source`: a hook, 0.0.0.0/0, no checks.
    let cache = state_dir.join("config-cache.json");
    // The cache is its JSON on one line, then the TOML text it was made from.
    let bytes = std::fs::read(&cache).expect("apply cached the config");
    let newline = bytes.iter().position(|byte| *byte == b'\n').expect("the JSON line");
    let (json, source) = bytes.split_at(newline);
    let mut forged: serde_json::Value = serde_json::from_slice(json).expect("JSON");
    let pwned = env.dir.join("pwned");
    let dns = &mut forged["config"]["services"][0];
    dns["checks"] = serde_json::json!([]);
    dns["on_change"] = serde_json::json!({
        "argv": ["/bin/sh", "-c", format!("touch {}", pwned.display())],
        "timeout": {"secs": 5, "nanos": 0}
    });
    let vtysh = env.vtysh().display().to_string();
    dns["prefixes"].as_array_mut().expect("prefixes").push(serde_json::json!(
        {"vrf": "default", "prefix": "0.0.0.0/0", "vtysh": vtysh}
    ));
    let mut forgery = serde_json::to_vec(&forged).expect("JSON");
    forgery.extend_from_slice(source);
    std::fs::write(&cache, forgery).expect("forge");
    std::os::unix::fs::chown(&cache, Some(NOBODY), Some(NOBODY)).expect("chown");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    let plan = run(&env, with_state_dir(&env, &state_dir, &["plan"]));
    plan.stdout_lacks("0.0.0.0/0");
    let applied = run(&env, with_state_dir(&env, &state_dir, &["apply"]));
    assert_eq!(applied.code, 0, "{applied:?}");
    assert_eq!(
        env.networks(),
        [
            "123 2001:db8::123:7e11:713e/128",
            "123 203.0.113.123/32",
            "default 2001:db8::b19:bad:53/128",
            "default 203.0.113.53/32",
        ],
        "exactly what the TOML says"
    );
    assert!(!pwned.exists(), "the forged hook ran as root");
}

const NTP: [&str; 2] = ["123 2001:db8::123:7e11:713e/128", "123 203.0.113.123/32"];
const DNS: [&str; 2] = ["default 2001:db8::b19:bad:53/128", "default 203.0.113.53/32"];

/// `command` in a private mount namespace (nothing leaks to the host) in which `state_dir` is read-only: bound onto
/// itself and remounted read-only, keeping its files, or, when `empty`, a fresh read-only tmpfs.
fn on_read_only(command: &std::process::Command, state_dir: &Path, empty: bool) -> std::process::Command {
    let mount = if empty {
        r#"mount -t tmpfs -o ro,mode=0700 anycastd-test "$0""#
    } else {
        r#"mount --bind "$0" "$0" && mount -o remount,bind,ro "$0""#
    };
    let mut wrapped = std::process::Command::new("unshare");
    wrapped
        .args(["--mount", "--propagation", "private", "sh", "-c", &format!("{mount} && exec \"$@\"")])
        .arg(state_dir)
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

/// The stderr lines of a run.
fn lines(run: &Run) -> Vec<&str> {
    run.stderr.lines().collect()
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn on_a_read_only_state_directory_apply_withdraws_and_announces_nothing() {
    needs_root("mount");
    let env = Env::new();
    env.cabourotte.failing("dns", "timeout");
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), NTP);
    env.cabourotte.healthy("dns").failing("ntp_v4", "exit status 1");
    let applied = run(&env, on_read_only(&env.anycastd(["apply"]).command(), &env.state_dir(), false));
    assert_eq!(applied.code, 1, "{applied:?}");
    assert!(env.networks().is_empty(), "ntp withdrawn, dns not announced");
    let refused = "cannot write [DIR]/state/state.json: Read-only file system (os error 30)";
    assert_eq!(
        lines(&applied),
        [
            format!("anycastd apply: state-error: {refused}; this pass withdraws but announces nothing"),
            format!(
                "anycastd apply: prefix-error 203.0.113.53/32 for service dns (default VRF, AS 65536): not announced: \
                 {refused}"
            ),
            format!(
                "anycastd apply: prefix-error 2001:db8::b19:bad:53/128 for service dns (default VRF, AS 65536): not \
                 announced: {refused}"
            ),
            "anycastd apply: withdrawn 203.0.113.123/32 for service ntp (VRF 123, AS 65537): check ntp_v4 failed: exit \
             status 1"
                .to_string(),
            "anycastd apply: withdrawn 2001:db8::123:7e11:713e/128 for service ntp (VRF 123, AS 65537): check ntp_v4 \
             failed: exit status 1"
                .to_string(),
        ]
    );
    assert!(applied.stdout.starts_with(&format!("Error: {refused}; this pass withdraws but announces nothing\n")));
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn on_a_read_only_state_directory_withdraw_all_still_withdraws_and_warns() {
    needs_root("mount");
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks().len(), 4);
    let withdrawn = run(&env, on_read_only(&env.anycastd(["withdraw-all"]).command(), &env.state_dir(), false));
    assert_eq!(withdrawn.code, 1, "{withdrawn:?}");
    assert!(env.networks().is_empty());
    assert_eq!(
        lines(&withdrawn)[0],
        "anycastd withdraw-all: state-error: cannot write [DIR]/state/maintenance.json: Read-only file system (os \
         error 30): withdrawing anyway, but without the maintenance marker the next apply or run pass may announce \
         the prefixes again; stop the timer or the loop, or make the state directory writable and run `anycastd \
         withdraw-all` again"
    );
    assert_eq!(lines(&withdrawn).len(), 5, "the warning and 4 withdrawals: {}", withdrawn.stderr);
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn on_a_read_only_state_directory_run_still_withdraws_on_sigterm() {
    needs_root("mount");
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    env.clear_vtysh_calls();
    let looping = on_read_only(&env.anycastd(["run", "--interval", "200ms"]).command(), &env.state_dir(), true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start anycastd run");
    support::wait::wait_until("two passes", || env.vtysh_calls().len() >= 2);
    assert_eq!(env.networks().len(), 4, "nothing to withdraw while healthy");
    let sent = std::process::Command::new("kill").arg("-TERM").arg(looping.id().to_string()).status();
    assert!(sent.is_ok_and(|status| status.success()), "kill -TERM");
    let output = looping.wait_with_output().expect("run ends");
    let stderr = env.normalize(&String::from_utf8_lossy(&output.stderr));
    assert!(env.networks().is_empty(), "withdrawn on SIGTERM: {stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    // The withdrawal on SIGTERM is a pass of `run`, whose reason is the signal.
    for expected in [
        "anycastd run: stopping: received SIGTERM, withdrawing every managed prefix\n\
         anycastd run: state-error: cannot open the lock [DIR]/state/lock: Read-only file system (os error 30); this \
         pass withdraws but announces nothing\n",
        "anycastd run: withdrawn 203.0.113.53/32 for service dns (default VRF, AS 65536): received SIGTERM\n",
    ] {
        assert!(stderr.contains(expected), "expected {expected:?}\n{stderr}");
    }
}

#[test]
fn a_state_directory_this_user_cannot_write_never_stops_a_withdrawal() {
    let env = Env::new();
    env.cabourotte.failing("dns", "timeout");
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), NTP);
    env.cabourotte.healthy("dns").failing("ntp_v4", "exit status 1");
    let applied = if root() {
        // As `nobody`, in root's directory (0755, its files 0600): nothing there can be written or even opened.
        std::fs::set_permissions(env.state_dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for path in [env.dir.join("frr")].into_iter().chain(files_below(&env.dir.join("frr"))) {
            let mode = if path.is_dir() { 0o777 } else { 0o666 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("the fake FRR is shared");
        }
        run(&env, as_nobody(&env.anycastd(["apply"]).command()))
    } else {
        std::fs::set_permissions(env.state_dir(), std::fs::Permissions::from_mode(0o555)).expect("chmod");
        env.anycastd(["apply"]).run()
    };
    assert_eq!(applied.code, 1, "{applied:?}");
    assert!(env.networks().is_empty(), "ntp withdrawn, dns not announced: {applied:?}");
    applied.stderr_has("Permission denied (os error 13); this pass withdraws but announces nothing");
    assert!(
        applied
            .stderr
            .contains("prefix-error 203.0.113.53/32 for service dns (default VRF, AS 65536): not announced: ")
    );
    let _ = std::fs::set_permissions(env.state_dir(), std::fs::Permissions::from_mode(0o700));
}

#[test]
fn a_lock_held_too_long_never_stops_a_withdrawal() {
    let env = Env::new();
    env.anycastd(["apply"]).run().success();
    env.cabourotte.failing("ntp_v4", "exit status 1");
    let lock = std::fs::OpenOptions::new().write(true).open(env.state_dir().join("lock")).expect("the lock");
    lock.set_len(0).expect("no holder's note");
    lock.lock().expect("held by the test");
    let applied = env.anycastd(["--lock-timeout", "300ms", "apply"]).run().code(1);
    assert_eq!(env.networks(), DNS, "ntp withdrawn");
    assert_eq!(
        lines(&applied)[0],
        "anycastd apply: state-error: another anycastd holds the lock [DIR]/state/lock (holder unknown); gave up \
         after 300 ms; this pass withdraws but announces nothing"
    );
    let withdrawn = env.anycastd(["--lock-timeout", "300ms", "withdraw-all"]).json().run().code(1);
    assert!(env.networks().is_empty());
    assert_eq!(withdrawn.json()["error_codes"], serde_json::json!(["lock-not-taken"]), "{withdrawn}");
    drop(lock);
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn on_a_read_only_state_directory_fall_cannot_hold_back_a_withdrawal() {
    needs_root("mount");
    let env = Env::new();
    env.config(&SEED_CONFIG.replace("[services.dns]\n", "[services.dns]\nfall = 3\n"));
    env.anycastd(["apply"]).run().success();
    env.cabourotte.failing("dns", "timeout");
    let applied = run(&env, on_read_only(&env.anycastd(["apply"]).command(), &env.state_dir(), false));
    assert_eq!(applied.code, 1, "{applied:?}");
    assert_eq!(env.networks(), NTP, "dns withdrawn at its first unhealthy pass: the count could not be kept");
    applied.stdout_has("dns: unhealthy\n");
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn counts_someone_else_can_write_neither_hold_back_a_withdrawal_nor_hasten_an_announcement() {
    needs_root("another user owning the state directory");
    let env = Env::new();
    env.config(
        &SEED_CONFIG
            .replace("[services.dns]\n", "[services.dns]\nfall = 3\n")
            .replace("[services.ntp]\n", "[services.ntp]\nrise = 3\n"),
    );
    let state_dir = env.dir.join("service-state");
    std::fs::create_dir_all(&state_dir).expect("state dir");
    std::fs::set_permissions(&state_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::os::unix::fs::chown(&state_dir, Some(NOBODY), Some(NOBODY)).expect("chown");
    env.cabourotte.failing("ntp_v4", "exit status 1");
    assert_eq!(run(&env, with_state_dir(&env, &state_dir, &["apply"])).code, 0);
    assert_eq!(env.networks(), DNS);

    // The directory's owner rewrites the counts: dns has never failed, ntp has passed a hundred times.
    let counts = state_dir.join("state.json");
    let forged = r#"{"services": {"dns": {"healthy": 0, "unhealthy": 0}, "ntp": {"healthy": 100, "unhealthy": 0}}}"#;
    std::fs::write(&counts, forged).expect("forge");
    std::os::unix::fs::chown(&counts, Some(NOBODY), Some(NOBODY)).expect("chown");
    env.cabourotte.failing("dns", "timeout").healthy("ntp_v4");
    let applied = run(&env, with_state_dir(&env, &state_dir, &["apply"]));
    assert!(env.networks().is_empty(), "dns withdrawn at once, ntp not announced early: {}", applied.stdout);
    applied.stdout_has("ntp: healthy 1/3, still withdrawn\n");
    applied.stderr_has(
        "anycastd apply: warning: not using the rise/fall counts: the state directory [DIR]/service-state belongs \
             to uid 65534, not to this user (uid 0): its owner can change what it holds; counting from zero, and \
             `fall` cannot hold back a withdrawal",
    );
}

#[test]
#[ignore = "needs root: scripts/test runs it"]
fn root_s_withdraw_all_in_the_units_directory_says_nothing_of_counts_it_does_not_use() {
    needs_root("another user owning the state directory");
    let env = Env::new();
    env.config(SEED_CONFIG);
    let state_dir = env.dir.join("service-state");
    std::fs::create_dir_all(&state_dir).expect("state dir");
    std::fs::set_permissions(&state_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::os::unix::fs::chown(&state_dir, Some(NOBODY), Some(NOBODY)).expect("chown");
    assert_eq!(run(&env, with_state_dir(&env, &state_dir, &["apply"])).code, 0);
    assert!(!env.networks().is_empty(), "announced");

    // What the package's prerm runs as root on removal: the warning `apply` gives there would only confuse.
    let withdrawn = run(&env, with_state_dir(&env, &state_dir, &["--quiet", "withdraw-all"]));
    assert_eq!(withdrawn.code, 0, "{withdrawn:?}");
    assert!(env.networks().is_empty(), "withdrawn");
    withdrawn.stderr_lacks("warning");
    withdrawn.stderr_has("anycastd withdraw-all: withdrawn ");
}

/// A tmpfs of 64 KiB mounted on a directory of the host (so that every process of the test sees it), unmounted when
/// dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &Path) -> SmallDisk {
        std::fs::create_dir_all(dir).expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "anycastd-test"])
            .arg(dir)
            .status();
        assert!(mounted.is_ok_and(|status| status.success()), "mount a tmpfs on {}", dir.display());
        SmallDisk(dir.to_path_buf())
    }

    /// Fills the file system: every block taken, inodes left (an empty file can still be created).
    fn fill(&self) {
        let filler = (0..).map(|n| self.0.join(format!("filler-{n}"))).find(|path| !path.exists()).expect("a name");
        let filled = std::process::Command::new("dd")
            .args(["if=/dev/zero", "bs=4096", "status=none"])
            .arg(format!("of={}", filler.display()))
            .stderr(std::process::Stdio::null())
            .status();
        assert!(filled.is_ok(), "dd ran");
        let probe = std::fs::write(self.0.join("probe"), "x");
        assert!(probe.is_err(), "the file system is full");
        let _ = std::fs::remove_file(self.0.join("probe"));
    }
}

impl SmallDisk {
    /// Removes every filler.
    fn empty(&self) {
        for entry in std::fs::read_dir(&self.0).expect("list").flatten() {
            if entry.file_name().to_string_lossy().starts_with("filler-") {
                std::fs::remove_file(entry.path()).expect("remove a filler");
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// With the state directory's file system full, the counts file could be created but never written: every pass read
/// the stale count and said "unhealthy 1/3", and a failing service with `fall = 3` stayed announced for ever (six
/// applies in a row exited 0). Counts that cannot be kept cannot hold back a withdrawal: the first pass withdraws,
/// says why and exits 1, in timer mode and in loop mode.
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn on_a_full_disk_fall_cannot_hold_back_a_withdrawal() {
    needs_root("mount");
    let env = Env::new();
    env.config(&SEED_CONFIG.replace("[services.dns]\n", "[services.dns]\nfall = 3\n"));
    let disk = SmallDisk::mount(&env.state_dir());
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks().len(), 4);
    disk.fill();
    env.cabourotte.failing("dns", "timeout");
    let applied = env.anycastd(["apply"]).run().code(1);
    assert_eq!(env.networks(), NTP, "dns withdrawn at its first unhealthy pass: {applied:?}");
    let full = "cannot write [DIR]/state/state.json: No space left on device (os error 28)";
    assert_eq!(
        lines(&applied)[..2],
        [
            format!("anycastd apply: state-error: {full}; this pass withdraws but announces nothing"),
            "anycastd apply: withdrawn 203.0.113.53/32 for service dns (default VRF, AS 65536): check dns failed: \
             timeout"
                .to_string(),
        ]
    );

    // The counts this pass could not keep are removed (the next pass counts from zero): that frees a block.
    disk.fill();
    env.cabourotte.healthy("dns");
    env.anycastd(["apply"]).run().code(1);
    assert_eq!(env.networks(), NTP, "nothing announced while the counts cannot be kept");
    disk.empty();
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks().len(), 4, "announced again once the disk has room");

    let looping = env.anycastd(["run", "--interval", "200ms"]).spawn();
    support::wait::wait_until("the loop's first pass", || {
        std::fs::read(env.state_dir().join("lock"))
            .is_ok_and(|note| String::from_utf8_lossy(&note).contains("anycastd run"))
    });
    disk.fill();
    env.cabourotte.failing("dns", "timeout");
    support::wait::wait_until("the loop withdrew dns at once", || env.networks() == NTP);
    let Run { code, stderr, .. } = looping.stop("TERM");
    let stderr = env.normalize(&stderr);
    assert!(stderr.contains(&format!("anycastd run: state-error: {full}; this pass withdraws")), "{stderr}");
    assert_eq!(code, 0, "the withdrawal on SIGTERM needs no counts: {stderr}");
}

/// Loop mode keeps a counts file ready between its passes; killed, it left it behind as an empty
/// `.state.json.<random>`, one more at every crash. Now the waiting file has no name, and the leftovers of older
/// versions are removed.
#[test]
fn a_killed_loop_leaves_no_temporary_file_behind() {
    let env = Env::new();
    env.config(&SEED_CONFIG.replace("[services.dns]\n", "[services.dns]\nfall = 3\n"));
    std::fs::create_dir_all(env.state_dir()).expect("state dir");
    std::fs::set_permissions(env.state_dir(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::write(env.state_dir().join(".state.json.0123456789abcdef"), "").expect("an older crash's leftover");
    let temporary = |env: &Env| {
        files_below(&env.state_dir())
            .into_iter()
            .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.')))
            .collect::<Vec<_>>()
    };
    let mut looping = env.anycastd(["run", "--interval", "100ms"]).spawn();
    support::wait::wait_until("a few passes", || env.vtysh_calls().len() >= 2);
    std::thread::sleep(std::time::Duration::from_millis(500));
    looping.kill();
    assert_eq!(temporary(&env), Vec::<std::path::PathBuf>::new(), "nothing left behind");
}

/// The record of managed prefixes is input from a directory another user may own. In one the running user does
/// not own (root in the service's directory), it is reported, never acted on: a forged entry cannot make root
/// withdraw a network the configuration does not name.
#[test]
#[ignore = "needs root: scripts/test runs it"]
fn a_record_someone_else_can_write_is_reported_and_not_acted_on() {
    needs_root("another user owning the state directory");
    let env = Env::new();
    let state_dir = env.dir.join("service-state");
    std::fs::create_dir_all(&state_dir).expect("state dir");
    std::fs::set_permissions(&state_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::os::unix::fs::chown(&state_dir, Some(NOBODY), Some(NOBODY)).expect("chown");
    assert_eq!(run(&env, with_state_dir(&env, &state_dir, &["apply"])).code, 0);
    assert_eq!(env.networks().len(), 4);
    assert!(!state_dir.join("managed.json").exists(), "root writes no record in a directory it does not trust");
    // The directory's owner writes a record with ntp's prefixes (and one for a network nobody configured), and ntp
    // is dropped from the configuration.
    let record = state_dir.join("managed.json");
    let entry = |prefix: &str| {
        format!(
            "{{\"prefix\":\"{prefix}\",\"vrf\":\"123\",\"vtysh\":\"{}\",\"service\":\"ntp\"}}\n",
            env.vtysh().display()
        )
    };
    let text = format!(
        "{{\"anycastd_record\":1,\"named\":\"0\",\"departed\":2}}\n{}{}",
        entry("203.0.113.123/32"),
        entry("2001:db8::123:7e11:713e/128")
    );
    std::fs::write(&record, text).expect("forge");
    std::os::unix::fs::chown(&record, Some(NOBODY), Some(NOBODY)).expect("chown");
    env.config(SEED_CONFIG.split("[services.ntp]").next().expect("the dns part"));
    let applied = run(&env, with_state_dir(&env, &state_dir, &["apply"]));
    assert_eq!(applied.code, 0, "{applied:?}");
    assert_eq!(env.networks().len(), 4, "nothing withdrawn on an untrusted record: {applied:?}");
    applied.stderr_has(
        "anycastd apply: warning: not acting on the record of managed prefixes: the state directory \
             [DIR]/service-state belongs to uid 65534, not to this user (uid 0): its owner can change what it holds; \
             it lists 2 prefixes the configuration no longer names, which stay as they are in FRR: \
             2001:db8::123:7e11:713e/128 (VRF 123), 203.0.113.123/32 (VRF 123)",
    );
}

/// An announcement whose entry cannot be added to the record is not made: a crash or a full disk must never leave an
/// announcement nobody owns. (Here the record's name is taken by a directory.)
#[test]
fn an_announcement_that_cannot_be_recorded_is_not_made() {
    let env = Env::new();
    env.cabourotte.failing("dns", "SERVFAIL");
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), NTP);
    let record = env.state_dir().join("managed.json");
    std::fs::remove_file(&record).expect("the record");
    std::fs::create_dir(&record).expect("a directory in its place");
    env.cabourotte.healthy("dns");
    let applied = env.anycastd(["apply"]).run().code(1);
    assert_eq!(env.networks(), NTP, "dns not announced");
    applied.stderr_has(
        "anycastd apply: prefix-error 203.0.113.53/32 for service dns (default VRF, AS 65536): not announced: \
             cannot record the prefixes it manages: ",
    );
    std::fs::remove_dir(&record).expect("remove the directory");
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks().len(), 4);
}
