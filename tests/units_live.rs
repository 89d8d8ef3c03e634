//! The shipped systemd units, run the way operators run them: the Debian package installed with dpkg on a booted
//! Debian 12 node (systemd 252 as PID 1 in a systemd-nspawn container, see `tests/support/node.rs`), Debian's own
//! FRR 8.4 and node_exporter running beside it, the fake Cabourotte on the node's 127.0.0.1:9013. Every assertion is
//! about what an operator sees there: the `network` lines in FRR's running config, unit states, the journal, file
//! owners and modes, what node_exporter serves.
//!
//! Needs root (mount, nspawn), as `scripts/test` runs it; `scripts/test --no-lab` skips it. The node is built once
//! into /var/cache/anycastd-build by `scripts/test-root`; each test boots its own throwaway overlay of it.

use crate::support;

use std::time::{Duration, Instant};

use support::debian::VERSION;
use support::node::Node;

/// anycastd.timer's period (`OnUnitActiveSec=5s`, checked in tests/systemd_units.rs).
const TIMER_PERIOD: Duration = Duration::from_secs(5);
const TWO_PERIODS: Duration = Duration::from_secs(10);

const DNS_V4: &str = "203.0.113.53/32";
const DNS_V6: &str = "2001:db8::b19:bad:53/128";
const NTP: &str = "203.0.113.123/32";
/// A network of the operator's own, which anycastd must never touch.
const UNMANAGED: &str = "198.51.100.0/24";

const DNS_CONFIG: &str = r#"[services.dns]
prefixes.frrouting = ["203.0.113.53", "2001:db8::b19:bad:53"]
checks.cabourotte = ["dns"]
"#;

/// The message the fake Cabourotte gives a check set to failing.
const FAILED: &str = "check failed (set by hand in the lab)";

/// A booted node with the package installed, FRR's BGP instance holding the operator's own network, the service
/// addresses on `lo` (README, "Production quickstart", step 3), the fake Cabourotte up and `config` in
/// /etc/anycastd/config.toml. Nothing of anycastd is enabled yet.
fn node_with(config: &str, checks: &[&str]) -> Node {
    let mut node = Node::boot();
    let installed = node.install_package();
    assert!(installed.contains("Setting up anycastd ("), "{installed}");
    for address in [DNS_V4, DNS_V6, NTP] {
        node.ok(&["ip", "address", "add", address, "dev", "lo"]);
    }
    let asn = support::node::ASN;
    let router = format!("router bgp {asn}");
    node.ok(&[
        "vtysh",
        "-c",
        "configure",
        "-c",
        &router,
        "-c",
        "address-family ipv4 unicast",
        "-c",
        "network 198.51.100.0/24",
    ]);
    node.start_cabourotte();
    for check in checks {
        node.set_check(check, true);
    }
    node.write_config(config);
    node
}

/// The shared secret of pushes on the node.
const PUSH_SECRET: &str = "node-s3cr3t";

/// Makes `unit` listen for pushes on 127.0.0.1:9014 with a secret file only group anycastd can read
/// (docs/operations.md, "Pushes from Cabourotte"), through a drop-in, as an operator would.
fn listen_for_pushes(node: &Node, unit: &str) {
    let secret = "/etc/anycastd/push-secret";
    std::fs::write(node.path(secret), format!("{PUSH_SECRET}\n")).expect("write the push secret");
    node.ok(&["chown", "root:anycastd", secret]);
    node.ok(&["chmod", "0640", secret]);
    let dir = node.path(&format!("/etc/systemd/system/{unit}.d"));
    std::fs::create_dir_all(&dir).expect("the drop-in folder");
    let exec = format!(
        "ExecStart=\nExecStart=/usr/bin/anycastd --quiet run --listen 127.0.0.1:9014 --push-secret-file {secret}"
    );
    std::fs::write(dir.join("listen.conf"), format!("[Service]\n{exec}\n")).expect("the drop-in");
    node.ok(&["systemctl", "daemon-reload"]);
}

/// The user the package made for the units, and its numeric id.
fn anycastd_uid(node: &Node) -> String {
    node.ok(&["id", "-u", "anycastd"]).trim().to_string()
}

/// Enables the unit's commented metrics lines with a drop-in, after the one-time setup its comment gives; returns the
/// metrics file's path.
fn enable_metrics(node: &Node, unit: &str) -> String {
    let shipped = std::fs::read_to_string(node.path(&format!("/usr/lib/systemd/system/{unit}"))).expect("the unit");
    let setup = shipped
        .lines()
        .find_map(|line| line.strip_prefix("#   chgrp "))
        .unwrap_or_else(|| panic!("{unit} tells how to let anycastd write node_exporter's folder"));
    node.ok(&["sh", "-c", &format!("chgrp {setup}")]);
    let lines: Vec<&str> = shipped
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .filter(|line| line.starts_with("Environment=ANYCASTD_METRICS_FILE=") || line.starts_with("ReadWritePaths="))
        .collect();
    assert_eq!(lines.len(), 2, "{unit} has the two metrics lines to uncomment");
    let dir = node.path(&format!("/etc/systemd/system/{unit}.d"));
    std::fs::create_dir_all(&dir).expect("the drop-in folder");
    std::fs::write(dir.join("metrics.conf"), format!("[Service]\n{}\n", lines.join("\n"))).expect("the drop-in");
    node.ok(&["systemctl", "daemon-reload"]);
    lines[0].trim_start_matches("Environment=ANYCASTD_METRICS_FILE=").to_string()
}

/// Waits until the timer has run anycastd.service once more, to its end: a run whose invocation is not in `seen`.
/// Returns its invocation ID.
fn next_timer_run(node: &Node, seen: &[String]) -> String {
    node.wait_for("the timer runs anycastd.service again", TWO_PERIODS, || {
        let id = node.property("anycastd.service", "InvocationID");
        let finished = node.property("anycastd.service", "ActiveState") == "inactive";
        (finished && !seen.contains(&id)).then_some(id)
    })
}

/// Runs `command` (one that removes the package) as root on the node; returns its exit code and what it printed, as
/// the operator's terminal shows it: apt-get runs dpkg on a terminal of its own, which ends lines with `\r\n` and
/// puts the maintainer scripts' stderr in its stdout, in order.
fn remove_package(node: &Node, command: &[&str]) -> (Option<i32>, String) {
    let output = node.run(command);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let shown = format!("{stdout}{stderr}").replace("\r\n", "\n");
    println!("{}: {}\n{shown}", command.join(" "), output.status);
    (output.status.code(), shown)
}

/// The log line of withdraw-all's withdrawal of `prefix` of the service dns.
fn withdrawn_by_withdraw_all(prefix: &str) -> String {
    format!(
        "anycastd withdraw-all: withdrawn {prefix} for service dns (default VRF, AS 65536): withdrawing every managed \
         prefix\n"
    )
}

/// The maintenance marker's reason, as root's `anycastd plan` shows it: the line that starts with `Maintenance since`.
fn maintenance_shown(node: &Node) -> String {
    let plan = node.ok(&["anycastd", "plan"]);
    let line = plan.lines().find(|line| line.starts_with("Maintenance since ")).unwrap_or_default().to_string();
    assert!(plan.contains("Every managed prefix stays withdrawn until `anycastd resume`."), "{plan}");
    line
}

/// What the package's prerm prints when withdraw-all succeeded (pkg/debian/prerm).
const PRERM_WITHDREW: &str = concat!(
    "anycastd: withdrew every prefix it manages; reinstalled, it keeps them withdrawn until `anycastd resume` ",
    "(a purge forgets that)\n"
);
/// The reason the package's prerm gives withdraw-all, which the marker keeps.
const REMOVED: &str = "package anycastd removed";

/// The journal entries of `unit` as JSON objects (`journalctl -o json`), for their `_UID` and `MESSAGE`.
fn journal_entries(node: &Node, unit: &str) -> Vec<serde_json::Value> {
    let json = node.ok(&["journalctl", "--no-pager", "-o", "json", "-u", unit]);
    json.lines().map(|line| serde_json::from_str(line).expect("journalctl -o json")).collect()
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn the_timer_announces_a_healthy_service_and_withdraws_a_failing_one_within_two_periods_as_user_anycastd() {
    let node = node_with(DNS_CONFIG, &["dns"]);
    // The configuration may hold a password: the package makes it readable by the units' group, not by others.
    assert_eq!(node.stat("%U:%G %a", "/etc/anycastd/config.toml"), "root:anycastd 640");
    let metrics = enable_metrics(&node, "anycastd.service");

    node.ok(&["systemctl", "enable", "--now", "anycastd.timer"]);
    let announced = node.wait_networks(&[DNS_V4, DNS_V6, UNMANAGED], TWO_PERIODS);
    node.set_check("dns", false);
    let withdrawn = node.wait_networks(&[UNMANAGED], TWO_PERIODS);
    println!("announced {announced:?} after enabling the timer, withdrawn {withdrawn:?} after the check failed");

    // The journal holds our log lines, written by the units' user. A pass logs once it has verified what FRR took,
    // a moment after FRR has it.
    for line in [
        format!("anycastd apply: announced {DNS_V4} for service dns (default VRF, AS 65536): every check passes"),
        format!("anycastd apply: announced {DNS_V6} for service dns (default VRF, AS 65536): every check passes"),
        format!(
            "anycastd apply: withdrawn {DNS_V4} for service dns (default VRF, AS 65536): check dns failed: {FAILED}"
        ),
        format!(
            "anycastd apply: withdrawn {DNS_V6} for service dns (default VRF, AS 65536): check dns failed: {FAILED}"
        ),
    ] {
        node.wait_journal("anycastd.service", &line, TIMER_PERIOD);
    }
    println!("journalctl -u anycastd.service:\n{}", node.journal_shown("anycastd.service"));
    let uid = anycastd_uid(&node);
    let ours: Vec<_> = journal_entries(&node, "anycastd.service")
        .into_iter()
        .filter(|entry| entry["MESSAGE"].as_str().is_some_and(|message| message.starts_with("anycastd apply: ")))
        .collect();
    assert!(ours.len() >= 4, "{ours:?}");
    for entry in &ours {
        assert_eq!(entry["_UID"].as_str(), Some(uid.as_str()), "logged by user anycastd: {entry}");
        assert_eq!(entry["_SYSTEMD_UNIT"].as_str(), Some("anycastd.service"), "{entry}");
        // Changes are notices, so that the unit's LogLevelMax=notice keeps them (syslog priority 5).
        assert_eq!(entry["PRIORITY"].as_str(), Some("5"), "{entry}");
    }
    assert_eq!(node.property("anycastd.service", "Result"), "success");

    // The state directory belongs to the units' user alone (docs/security.md): 0700, its files 0600.
    assert_eq!(node.stat("%F %U:%G %a", "/var/lib/anycastd"), "directory anycastd:anycastd 700");
    let files = node.ok(&["find", "/var/lib/anycastd", "-mindepth", "1", "-printf", "%P %y %u:%g %m\n"]);
    let mut names: Vec<&str> = files.lines().map(|line| line.split(' ').next().unwrap_or_default()).collect();
    names.sort();
    assert_eq!(names, ["config-cache.json", "frr-changed", "lock", "managed.json", "state.json"], "{files}");
    for line in files.lines() {
        assert!(line.ends_with(" f anycastd:anycastd 600"), "{line}");
    }

    // The metrics file is where the unit says, 0644 under UMask=0077, and node_exporter serves it.
    assert_eq!(metrics, "/var/lib/prometheus/node-exporter/anycastd.prom");
    assert_eq!(node.stat("%U:%G %a", &metrics), "anycastd:anycastd 644");
    let scraped = node.http_get(9100, "/metrics");
    for line in [
        format!("anycastd_prefix_announced{{daemon=\"frr\",prefix=\"{DNS_V4}\",service=\"dns\",vrf=\"default\"}} 0"),
        "anycastd_service_healthy{service=\"dns\"} 0".to_string(),
        "node_textfile_scrape_error 0".to_string(),
    ] {
        assert!(scraped.lines().any(|served| served == line), "node_exporter serves {line:?}");
    }
}

/// The journal entries about the timer's units since `since` (a `journalctl --since` time), systemd's own lines about
/// them included, and every line of PAM's `unix_chkpwd` (which vtysh's PAM service may run).
fn timer_journal_since(node: &Node, since: &str) -> Vec<String> {
    let about_units = ["-u", "anycastd.service", "-u", "anycastd.timer"];
    let mut lines = Vec::new();
    for filter in [&about_units[..], &["_COMM=unix_chkpwd"]] {
        let mut args = vec!["journalctl", "--no-pager", "-q", "-o", "short-precise", "--since", since];
        args.extend_from_slice(filter);
        lines.extend(node.ok(&args).lines().map(String::from));
    }
    lines
}

/// A node whose timer runs and has announced `dns`, and whose announcing pass has ended: it logs once it has
/// verified FRR, and a command run during it would see it withdraw again what it had just announced.
fn timer_announced() -> Node {
    let node = node_with(DNS_CONFIG, &["dns"]);
    node.ok(&["systemctl", "enable", "--now", "anycastd.timer"]);
    node.wait_networks(&[DNS_V4, DNS_V6, UNMANAGED], TWO_PERIODS);
    let announced =
        format!("anycastd apply: announced {DNS_V6} for service dns (default VRF, AS 65536): every check passes");
    node.wait_journal("anycastd.service", &announced, TIMER_PERIOD);
    node
}

/// The node's clock, as `journalctl --since` takes it.
fn node_now(node: &Node) -> String {
    format!("@{}", node.ok(&["date", "+%s.%N"]).trim())
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn a_minute_of_timer_runs_that_change_nothing_leaves_nothing_in_the_journal_and_a_change_is_a_notice() {
    let node = timer_announced();

    // A minute of runs that change nothing: not one line, neither anycastd's, nor systemd's (LogLevelMax=notice),
    // nor unix_chkpwd's (the units' PAM service for vtysh, pkg/pam.d/frr).
    let since = node_now(&node);
    let mut seen = vec![node.property("anycastd.service", "InvocationID")];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        seen.push(next_timer_run(&node, &seen));
        assert_eq!(node.property("anycastd.service", "Result"), "success");
    }
    let runs = seen.len() - 1;
    let quiet = timer_journal_since(&node, &since);
    println!("{runs} timer runs in {:?}: {} journal lines\n{}", started.elapsed(), quiet.len(), quiet.join("\n"));
    assert!(runs >= 10, "{runs} runs in a minute");
    assert_eq!(quiet, Vec::<String>::new(), "nothing in the journal");

    // The same runs with systemd's info lines let through: the count above would have seen them, and the PAM
    // helper stays silent whatever the level.
    let dir = node.path("/etc/systemd/system/anycastd.service.d");
    std::fs::create_dir_all(&dir).expect("the drop-in folder");
    std::fs::write(dir.join("info.conf"), "[Service]\nLogLevelMax=info\n").expect("the drop-in");
    node.ok(&["systemctl", "daemon-reload"]);
    let since = node_now(&node);
    let mut seen = vec![node.property("anycastd.service", "InvocationID")];
    for _ in 0..2 {
        seen.push(next_timer_run(&node, &seen));
    }
    let loud = timer_journal_since(&node, &since);
    println!("2 timer runs at LogLevelMax=info: {} journal lines\n{}", loud.len(), loud.join("\n"));
    assert!(loud.iter().any(|line| line.contains(" systemd[1]: Finished anycastd.service")), "{loud:?}");
    assert!(!loud.iter().any(|line| line.contains("unix_chkpwd")), "{loud:?}");
    std::fs::remove_file(dir.join("info.conf")).expect("the drop-in removed");
    node.ok(&["systemctl", "daemon-reload"]);

    // A change is a notice: the withdrawal is in the journal, at priority 5.
    node.set_check("dns", false);
    node.wait_networks(&[UNMANAGED], TWO_PERIODS);
    let withdrawn = format!(
        "anycastd apply: withdrawn {DNS_V4} for service dns (default VRF, AS 65536): check dns failed: {FAILED}"
    );
    node.wait_journal("anycastd.service", &withdrawn, TIMER_PERIOD);
    let entry = journal_entries(&node, "anycastd.service")
        .into_iter()
        .find(|entry| entry["MESSAGE"].as_str() == Some(withdrawn.as_str()))
        .expect("the withdrawal's entry");
    assert_eq!(entry["PRIORITY"].as_str(), Some("5"), "{entry}");
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn root_at_the_shell_is_silent_and_its_withdraw_all_keeps_everything_withdrawn_across_timer_runs_until_resume() {
    let node = timer_announced();

    // From a root shell on the node, in the directory of the units' user: root acts as that user (src/identity.rs),
    // so it uses the rise/fall counts as the units do, and warns about nothing (it used to warn, twice per command,
    // that the directory belonged to uid 997).
    for command in
        [&["anycastd", "plan"][..], &["anycastd", "apply"], &["anycastd", "withdraw-all", "--reason", "test"]]
    {
        let output = node.run(command);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{}: {}\n{}{stderr}", command.join(" "), output.status, String::from_utf8_lossy(&output.stdout));
        assert_eq!(output.status.code(), Some(0), "{command:?}");
        let expected = if command[1] == "withdraw-all" {
            format!("{}{}", withdrawn_by_withdraw_all(DNS_V4), withdrawn_by_withdraw_all(DNS_V6))
        } else {
            String::new()
        };
        assert_eq!(stderr, expected, "{command:?}: nothing but what it changed");
    }
    assert_eq!(node.networks(), [UNMANAGED], "withdraw-all withdraws before it returns");
    assert_eq!(node.stat("%U:%G %a", "/var/lib/anycastd/maintenance.json"), "anycastd:anycastd 600");
    // The marker names root, who ran the command (a root shell on the node sets no SUDO_USER, USER or LOGNAME).
    let shown = maintenance_shown(&node);
    assert!(shown.starts_with("Maintenance since ") && shown.ends_with(" by root: test"), "{shown}");

    // Several timer runs later, the healthy service is still withdrawn, and the runs went well.
    let mut seen = vec![node.property("anycastd.service", "InvocationID")];
    let started = Instant::now();
    while seen.len() < 4 {
        let invocation = next_timer_run(&node, &seen);
        seen.push(invocation);
        assert_eq!(node.networks(), [UNMANAGED], "run {} in maintenance", seen.len() - 1);
        assert_eq!(node.property("anycastd.service", "Result"), "success");
    }
    assert!(started.elapsed() >= 2 * TIMER_PERIOD, "three runs take at least two periods");
    let journal = node.journal("anycastd.service");
    let since = journal.rfind("anycastd apply: announced").expect("the first announcement");
    assert!(
        !journal[since..].contains("state-error"),
        "the units' user can use the state directory root wrote in:\n{journal}"
    );

    node.ok(&["anycastd", "resume"]);
    node.wait_networks(&[DNS_V4, DNS_V6, UNMANAGED], TWO_PERIODS);
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn loop_mode_announces_reloads_converges_after_sigkill_and_withdraws_everything_before_it_stops() {
    let config = r#"[services.dns]
prefixes.frrouting = ["203.0.113.53", "2001:db8::b19:bad:53"]
checks.cabourotte = [{ name = "dns", interval = 1 }]

[services.ntp]
prefixes.frrouting = ["203.0.113.123"]
checks.cabourotte = [{ name = "ntp", interval = 1 }]
"#;
    let node = node_with(config, &["dns", "ntp"]);
    let unit = "anycastd-run.service";
    let pass = Duration::from_secs(10);
    listen_for_pushes(&node, unit);
    node.ok(&["systemctl", "enable", "--now", unit]);
    node.wait_networks(&[DNS_V4, DNS_V6, NTP, UNMANAGED], pass);

    // The listener, under the unit's system-call filter and limits: the secret read (O_NONBLOCK, HMAC with a random
    // key), poll(2), accept, a push judged and read. A pushed success changes nothing, so the rest runs as before.
    node.wait_for("/healthz answers ok", pass, || (node.http_get(9014, "/healthz") == "ok\n").then_some(()));
    let success = r#"[{"name":"dns","success":true,"healthcheck-timestamp":2000000000}]"#;
    assert_eq!(node.http_post(9014, "/push", "Bearer wrong", success), 401);
    assert_eq!(node.http_post(9014, "/push", &format!("bearer {PUSH_SECRET}"), success), 200);
    let limits = node.ok(&["cat", &format!("/proc/{}/limits", node.property(unit, "MainPID"))]);
    assert!(limits.lines().any(|line| line.starts_with("Max open files") && line.contains(" 1024 ")), "{limits}");

    // `systemctl reload`: the same process reads the new file, and withdraws what it no longer has.
    let pid = node.property(unit, "MainPID");
    node.write_config(DNS_CONFIG);
    node.ok(&["systemctl", "reload", unit]);
    node.wait_networks(&[DNS_V4, DNS_V6, UNMANAGED], pass);
    let dropped = "no longer in the configuration";
    node.wait_journal(
        unit,
        &format!("anycastd run: withdrawn {NTP} for service ntp (default VRF, AS 65536): {dropped}"),
        pass,
    );
    let reloaded = "anycastd run: reloaded: the configuration is read again; 1 prefixes it no longer has withdrawn";
    node.wait_journal(unit, reloaded, pass);
    assert_eq!(node.property(unit, "MainPID"), pid, "reloaded, not restarted");

    // A reload of a broken file: one readable journal line (an error), and the configuration in force stays.
    node.write_config(&format!("{DNS_CONFIG}rise = \"x\"\n"));
    node.ok(&["systemctl", "reload", unit]);
    let failed = "anycastd run: reload-failed: the configuration /etc/anycastd/config.toml has 1 error: line 4, column \
                  8: `rise` must be a whole number of passes, 1 or more (help: e.g. rise = 3; 1 (the default) decides \
                  on every pass alone); the configuration in force stays";
    node.wait_journal(unit, failed, pass);
    let entries = journal_entries(&node, unit);
    let reload_failures: Vec<_> = entries
        .iter()
        .filter(|entry| entry["MESSAGE"].as_str().is_some_and(|message| message.contains("reload-failed")))
        .collect();
    assert_eq!(reload_failures.len(), 1, "one entry: {reload_failures:?}");
    assert_eq!(reload_failures[0]["PRIORITY"].as_str(), Some("3"), "an error");
    let mut in_force = vec![DNS_V4, DNS_V6, UNMANAGED];
    in_force.sort();
    assert_eq!(node.networks(), in_force, "the configuration in force stays");
    node.write_config(DNS_CONFIG);

    // Killed outright, it cannot withdraw; systemd starts it again, and the new process follows the health.
    node.ok(&["systemctl", "kill", "-s", "SIGKILL", unit]);
    node.set_check("dns", false);
    node.wait_for("systemd restarts the killed loop", Duration::from_secs(20), || {
        let restarted = node.property(unit, "NRestarts") == "1" && node.property(unit, "MainPID") != pid;
        (restarted && node.property(unit, "ActiveState") == "active").then_some(())
    });
    node.wait_networks(&[UNMANAGED], pass);
    node.set_check("dns", true);
    node.wait_networks(&[DNS_V4, DNS_V6, UNMANAGED], pass);

    // `systemctl stop` returns once the unit is inactive: by then every managed prefix is withdrawn.
    node.ok(&["systemctl", "stop", unit]);
    assert_eq!(node.networks(), [UNMANAGED], "withdrawn before the unit was inactive");
    assert_eq!(node.property(unit, "ActiveState"), "inactive");
    assert_eq!(node.property(unit, "Result"), "success");

    for line in [
        format!("anycastd run: withdrawn {DNS_V4} for service dns (default VRF, AS 65536): check dns failed: {FAILED}"),
        "anycastd run: stopping: received SIGTERM, withdrawing every managed prefix".to_string(),
        format!("anycastd run: withdrawn {DNS_V4} for service dns (default VRF, AS 65536): received SIGTERM"),
        format!("anycastd run: withdrawn {DNS_V6} for service dns (default VRF, AS 65536): received SIGTERM"),
    ] {
        node.wait_journal(unit, &line, pass);
    }
    println!("journalctl -u {unit}:\n{}", node.journal_shown(unit));
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn an_upgrade_keeps_the_timer_s_prefixes_announced_and_removing_the_package_withdraws_them_until_resume() {
    let node = node_with(DNS_CONFIG, &["dns"]);
    node.ok(&["systemctl", "enable", "--now", "anycastd.timer"]);
    node.wait_networks(&[DNS_V4, DNS_V6, UNMANAGED], TWO_PERIODS);
    next_timer_run(&node, &[]);
    assert_eq!(node.property("anycastd.service", "Result"), "success");

    // The same package over itself is an upgrade: dpkg runs the old prerm with `upgrade`, which withdraws nothing,
    // and the timer keeps running the new files.
    let started = Instant::now();
    let upgraded = node.install_package();
    let upgrade_took = started.elapsed();
    assert!(upgraded.contains(&format!("Unpacking anycastd ({VERSION}) over ({VERSION}) ...")), "{upgraded}");
    assert!(!upgraded.contains("withdr"), "{upgraded}");
    let announced = [DNS_V4, DNS_V6, UNMANAGED].map(String::from);
    let mut sorted = announced.clone();
    sorted.sort();
    assert_eq!(node.networks(), sorted, "an upgrade withdraws nothing");
    assert_eq!(node.property("anycastd.timer", "ActiveState"), "active");
    next_timer_run(&node, &[node.property("anycastd.service", "InvocationID")]);
    assert_eq!(node.networks(), sorted, "the upgraded package's first timer run announces as before");
    assert_eq!(node.property("anycastd.service", "Result"), "success");

    // `apt-get remove` (offline: nothing to download) stops the units and withdraws, and succeeds.
    let started = Instant::now();
    let (code, shown) = remove_package(&node, &["apt-get", "remove", "-y", "anycastd"]);
    let removal_took = started.elapsed();
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(node.networks(), [UNMANAGED], "withdrawn before the removal returned:\n{shown}");
    let said = format!(
        "Removing anycastd ({VERSION}) ...\n{}{}{PRERM_WITHDREW}",
        withdrawn_by_withdraw_all(DNS_V4),
        withdrawn_by_withdraw_all(DNS_V6)
    );
    assert!(shown.contains(&said), "{said:?} in\n{shown}");
    for unit in ["anycastd.timer", "anycastd.service"] {
        assert_eq!(node.property(unit, "ActiveState"), "inactive", "{unit}");
    }
    assert!(!node.path("/usr/bin/anycastd").exists());
    assert!(!node.path("/usr/lib/systemd/system/anycastd.timer").exists());
    // The marker outlives `remove` (only purge deletes the state directory).
    let marker = node.ok(&["cat", "/var/lib/anycastd/maintenance.json"]);
    assert!(marker.contains(&format!("\"reason\": \"{REMOVED}\"")), "{marker}");
    println!("the upgrade took {upgrade_took:?}, the removal {removal_took:?}");

    // A reinstall finds the marker: nothing is started, and the timer, started again, keeps everything withdrawn.
    node.install_package();
    // The timer the operator had enabled is enabled again (deb-systemd-helper remembers it), but not started: it
    // starts at the next boot, or now by hand, and then keeps everything withdrawn.
    assert_eq!(node.ok(&["systemctl", "is-enabled", "anycastd.timer"]), "enabled\n");
    assert_eq!(node.property("anycastd.timer", "ActiveState"), "inactive", "a reinstall starts nothing");
    assert!(maintenance_shown(&node).ends_with(&format!(": {REMOVED}")), "plan names the removal");
    node.ok(&["systemctl", "start", "anycastd.timer"]);
    let mut seen = vec![node.property("anycastd.service", "InvocationID")];
    for _ in 0..2 {
        seen.push(next_timer_run(&node, &seen));
        assert_eq!(node.networks(), [UNMANAGED], "a timer run after the reinstall, in maintenance");
        assert_eq!(node.property("anycastd.service", "Result"), "success");
    }
    node.ok(&["anycastd", "resume"]);
    node.wait_networks(&[DNS_V4, DNS_V6, UNMANAGED], TWO_PERIODS);
}

#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn removing_the_package_while_the_loop_runs_withdraws_and_only_a_purge_forgets_the_maintenance() {
    let config = r#"[services.dns]
prefixes.frrouting = ["203.0.113.53", "2001:db8::b19:bad:53"]
checks.cabourotte = [{ name = "dns", interval = 1 }]
"#;
    let node = node_with(config, &["dns"]);
    let unit = "anycastd-run.service";
    let pass = Duration::from_secs(10);
    node.ok(&["systemctl", "enable", "--now", unit]);
    node.wait_networks(&[DNS_V4, DNS_V6, UNMANAGED], pass);

    // An upgrade neither stops the loop (which would withdraw) nor withdraws itself.
    let pid = node.property(unit, "MainPID");
    node.install_package();
    assert_eq!(node.property(unit, "MainPID"), pid, "the loop ran through the upgrade");
    let mut announced = vec![DNS_V4, DNS_V6, UNMANAGED];
    announced.sort();
    assert_eq!(node.networks(), announced, "an upgrade withdraws nothing");

    // `dpkg -r`: the loop is stopped (and withdraws on SIGTERM), then withdraw-all writes the marker.
    let (code, shown) = remove_package(&node, &["dpkg", "--remove", "anycastd"]);
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(node.networks(), [UNMANAGED], "withdrawn before the removal returned");
    assert!(shown.contains(PRERM_WITHDREW), "{shown}");
    assert_eq!(node.property(unit, "ActiveState"), "inactive");
    // The loop was stopped first, and withdrew on SIGTERM: withdraw-all found nothing left to withdraw.
    for prefix in [DNS_V4, DNS_V6] {
        let sigterm = "received SIGTERM";
        let line = format!("anycastd run: withdrawn {prefix} for service dns (default VRF, AS 65536): {sigterm}");
        node.wait_journal(unit, &line, pass);
    }
    assert!(!shown.contains("anycastd withdraw-all: withdrawn"), "{shown}");

    // Reinstalled and started, the loop keeps everything withdrawn: three passes, one a second.
    node.install_package();
    node.ok(&["systemctl", "start", unit]);
    let started = "anycastd run: started: running an apply pass every 1 s for 1 services; SIGINT or SIGTERM \
                   withdraws every managed prefix and stops; SIGHUP reloads";
    node.wait_for("the reinstalled loop has started", pass, || {
        let journal = node.journal(unit);
        (journal.lines().filter(|line| *line == started).count() == 2).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(node.networks(), [UNMANAGED], "the reinstalled loop, in maintenance");
    assert!(maintenance_shown(&node).ends_with(&format!(": {REMOVED}")), "plan names the removal");

    // A purge (here of a running loop) withdraws as a removal does, and deletes the marker with the state directory:
    // the next install starts afresh and announces.
    let (code, shown) = remove_package(&node, &["dpkg", "--purge", "anycastd"]);
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains(PRERM_WITHDREW), "{shown}");
    assert!(!node.path("/var/lib/anycastd").exists(), "the purge deleted the state directory");
    node.install_package();
    let enabled = node.run(&["systemctl", "is-enabled", unit]);
    assert_eq!(String::from_utf8_lossy(&enabled.stdout), "disabled\n", "the purge forgot the unit's enablement");
    let checked = node.ok(&["anycastd", "check"]);
    assert!(checked.starts_with("/etc/anycastd/config.toml is valid: 0 services, "), "the packaged file: {checked}");
    node.write_config(config);
    node.ok(&["systemctl", "start", unit]);
    node.wait_networks(&[DNS_V4, DNS_V6, UNMANAGED], pass);
}

/// An exec check that looks for FRR's bgpd in /proc (what `check_procs` does) works for root at the shell, but fails
/// under the timer's unit, whose `ProtectProc=invisible` hides other users' processes (docs/security.md, "Exec
/// checks"): the service stays withdrawn, and the metric says the check failed. The drop-in docs/security.md gives
/// loosens it, and the next runs announce.
#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn an_exec_check_runs_in_the_timer_units_sandbox_and_the_documented_drop_in_loosens_it() {
    let looks_for_bgpd = "for d in /proc/[0-9]*; do [ \\\"$(cat $d/comm 2>/dev/null)\\\" = bgpd ] && { echo bgpd runs; \
                          exit 0; }; done; echo no bgpd in /proc; exit 2";
    let config = format!(
        "[services.dns]\nprefixes.frrouting = [\"203.0.113.53\", \"2001:db8::b19:bad:53\"]\n\
         checks.exec = [{{ name = \"bgpd-runs\", command = [\"/bin/sh\", \"-c\", \"{looks_for_bgpd}\"] }}]\n"
    );
    let node = node_with(&config, &[]);
    let at_the_shell = node.ok(&["anycastd", "check", "--exec"]);
    assert!(at_the_shell.contains("success"), "root at the shell sees bgpd: {at_the_shell}");
    let metrics = enable_metrics(&node, "anycastd.service");
    node.ok(&["systemctl", "enable", "--now", "anycastd.timer"]);
    let failed = "anycastd_check_success{check=\"bgpd-runs\",service=\"dns\"} 0";
    let unsorted = "anycastd_check_success{service=\"dns\",check=\"bgpd-runs\"} 0";
    node.wait_for("the unit's check to fail", TWO_PERIODS, || {
        let written = std::fs::read_to_string(node.path(&metrics)).unwrap_or_default();
        (written.contains(failed) || written.contains(unsorted)).then_some(())
    });
    assert_eq!(node.networks(), [UNMANAGED], "withdrawn: the check cannot see bgpd in the unit");

    let dir = node.path("/etc/systemd/system/anycastd.service.d");
    std::fs::create_dir_all(&dir).expect("the drop-in folder");
    std::fs::write(dir.join("proc.conf"), "[Service]\nProtectProc=default\nProcSubset=all\n").expect("the drop-in");
    node.ok(&["systemctl", "daemon-reload"]);
    node.wait_networks(&[DNS_V4, DNS_V6, UNMANAGED], TWO_PERIODS + TIMER_PERIOD);
}

/// A stand-in for anycastd in the units: what their sandbox lets a process do with the host's addresses, one line
/// per probe, in the state directory (the one place the units may write; the journal would drop stdout, which is
/// `info`, under `LogLevelMax=notice`). The real anycastd does the same over rtnetlink without `ip`.
const ADDRESS_PROBE: &str = r#"#!/bin/sh
exec >/var/lib/anycastd/probe 2>&1
grep '^CapEff:' /proc/self/status
ip -json address show dev lo >/dev/null && echo "read: ok"
ip address add 203.0.113.77/32 dev lo && echo "add: ok"
# capset(2), as anycastd calls it to clear its inheritable set: the child then has no capability left.
setpriv --inh-caps=-all --ambient-caps=-all grep '^CapEff:' /proc/self/status
echo "setpriv: exit $?"
"#;

/// The address the probe adds.
const PROBED: &str = "203.0.113.77";

/// Runs [`ADDRESS_PROBE`] as `unit`'s ExecStart (a test-only drop-in named to come after the others) until the unit
/// has stopped; returns what the probe wrote, or the unit's result if it wrote nothing.
fn probe_addresses(node: &Node, unit: &str) -> String {
    let dir = node.path(&format!("/etc/systemd/system/{unit}.d"));
    std::fs::create_dir_all(&dir).expect("the drop-in folder");
    let stand_in = "[Service]\nExecStart=\nExecStart=/usr/local/bin/address-probe\n";
    std::fs::write(dir.join("zz-stand-in.conf"), stand_in).expect("the stand-in's drop-in");
    node.ok(&["systemctl", "daemon-reload"]);
    let _ = node.run(&["rm", "-f", "/var/lib/anycastd/probe"]);
    let _ = node.run(&["systemctl", "reset-failed", unit]);
    // A oneshot unit's start returns when it has ended (and fails with it); a simple one's when it has started.
    let _ = node.run(&["systemctl", "start", unit]);
    node.wait_for(&format!("{unit} has stopped"), Duration::from_secs(10), || {
        ["inactive", "failed"].contains(&node.property(unit, "ActiveState").as_str()).then_some(())
    });
    let probe = node.run(&["cat", "/var/lib/anycastd/probe"]);
    if probe.status.success() {
        String::from_utf8_lossy(&probe.stdout).into_owned()
    } else {
        format!("no probe: {}", node.property(unit, "Result"))
    }
}

/// Whether the node's `lo` has the probe's address, as root sees it; removes it.
fn lo_had_probed(node: &Node) -> bool {
    let had = node.ok(&["ip", "-json", "address", "show", "dev", "lo"]).contains(&format!("\"local\":\"{PROBED}\""));
    if had {
        node.ok(&["ip", "address", "del", &format!("{PROBED}/32"), "dev", "lo"]);
    }
    had
}

/// The drop-in for the `interface` key (pkg/systemd/address.conf), linked as its own comment says, gives a process of
/// each unit CAP_NET_ADMIN over the node's network namespace (an address added to `lo`), rtnetlink (addresses read)
/// and capset(2) (a child with no capability); the shipped units refuse all three, and the drop-in less any one of
/// its lines fails in its own way.
#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn the_address_drop_in_lets_both_units_read_and_add_addresses_and_call_capset_and_each_line_is_needed() {
    let node = Node::boot_as_installed();
    node.install_package();
    std::fs::write(node.path("/usr/local/bin/address-probe"), ADDRESS_PROBE).expect("write the probe");
    node.ok(&["chmod", "0755", "/usr/local/bin/address-probe"]);
    let net_admin = "CapEff:\t0000000000001000";
    let none = "CapEff:\t0000000000000000";
    let not_permitted = "RTNETLINK answers: Operation not permitted";
    let unsupported = "Cannot open netlink socket: Address family not supported by protocol";
    // dash's word for a child killed by SIGSYS, a system call the filter denies; its exit status is 128 + 31.
    let killed = "Bad system call";

    // The shipped unit: no capability, and capset is a filtered call. `ip`, run by a user without CAP_NET_ADMIN in
    // its inheritable set, first drops its capabilities with capset (iproute2's drop_cap), and is killed for it.
    let shipped = probe_addresses(&node, "anycastd.service");
    println!("anycastd.service as shipped:\n{shipped}");
    assert_eq!(shipped, format!("{none}\n{killed}\n{killed}\n{killed}\nsetpriv: exit 159\n"));
    assert!(!lo_had_probed(&node));

    // The drop-in less one line, in anycastd.service's folder: each line is needed, for the reason its comment says.
    let packaged = std::fs::read_to_string(node.path("/usr/lib/anycastd/systemd/address.conf")).expect("packaged");
    let dir = node.path("/etc/systemd/system/anycastd.service.d");
    for (line, expected, added) in [
        // CAP_NET_ADMIN in a user namespace of the unit's own counts there, not in the node's network namespace.
        ("PrivateUsers=", format!("{net_admin}\nread: ok\n{not_permitted}\n{none}\nsetpriv: exit 0\n"), false),
        ("AmbientCapabilities=", format!("{none}\nread: ok\n{not_permitted}\n{none}\nsetpriv: exit 0\n"), false),
        // An ambient capability outside the bounding set is dropped, without a word.
        ("CapabilityBoundingSet=", format!("{none}\nread: ok\n{not_permitted}\n{none}\nsetpriv: exit 0\n"), false),
        (
            "RestrictAddressFamilies=",
            format!("{net_admin}\n{unsupported}\n{unsupported}\n{none}\nsetpriv: exit 0\n"),
            false,
        ),
        // `ip` holds CAP_NET_ADMIN inheritable and calls no capset; anycastd and setpriv do.
        ("SystemCallFilter=", format!("{net_admin}\nread: ok\nadd: ok\n{killed}\nsetpriv: exit 159\n"), true),
    ] {
        let less: String =
            packaged.lines().filter(|kept| !kept.starts_with(line)).map(|kept| format!("{kept}\n")).collect();
        assert_eq!(less.lines().count() + 1, packaged.lines().count(), "the drop-in has one {line} line");
        std::fs::write(dir.join("address.conf"), less).expect("the drop-in less one line");
        let probed = probe_addresses(&node, "anycastd.service");
        println!("anycastd.service with the drop-in less {line}:\n{probed}");
        assert_eq!(probed, expected, "without {line}");
        assert_eq!(lo_had_probed(&node), added, "without {line}");
    }
    std::fs::remove_file(dir.join("address.conf")).expect("remove the copy");

    // The drop-in, linked into both units' folders with the commands its comment gives.
    let setup: Vec<&str> = packaged
        .lines()
        .filter_map(|line| line.strip_prefix("#   "))
        .filter(|line| line.starts_with("mkdir ") || line.starts_with("ln -s "))
        .collect();
    assert_eq!(setup.len(), 3, "{packaged}");
    for command in setup {
        node.ok(&["sh", "-c", command]);
    }
    for unit in ["anycastd.service", "anycastd-run.service"] {
        let granted = probe_addresses(&node, unit);
        println!("{unit} with the drop-in:\n{granted}");
        assert_eq!(granted, format!("{net_admin}\nread: ok\nadd: ok\n{none}\nsetpriv: exit 0\n"), "{unit}");
        assert!(lo_had_probed(&node), "{unit} added {PROBED} to the node's lo");
        // systemd merged AF_NETLINK into the units' families: Cabourotte and vtysh keep theirs.
        let families = node.property(unit, "RestrictAddressFamilies");
        let mut families: Vec<&str> = families.split_whitespace().collect();
        families.sort_unstable();
        assert_eq!(families, ["AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"], "{unit}");
        // capset is let through, the rest of ~@privileged stays denied.
        let allowed = node.property(unit, "SystemCallFilter");
        let allowed: Vec<&str> = allowed.split_whitespace().collect();
        assert!(allowed.contains(&"capset"), "{unit}: {allowed:?}");
        for privileged in ["setuid", "chroot", "setgroups", "acct"] {
            assert!(!allowed.contains(&privileged), "{unit} still denies {privileged}");
        }
        // What the unit costs as loaded by the node's systemd: the bound tests/systemd_units.rs puts on the
        // offline analysis of the same files.
        let security = node.ok(&["systemd-analyze", "security", "--no-pager", unit]);
        let last = security.lines().last().unwrap_or_default();
        println!("{last}");
        let level: f64 = last
            .strip_prefix(&format!("→ Overall exposure level for {unit}: "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| panic!("no overall exposure in {security}"));
        assert!(level <= 2.0, "{last}");
    }
}

/// Whether the node's `lo` has `address` (without its length), as root sees it.
fn lo_has(node: &Node, address: &str) -> bool {
    node.ok(&["ip", "-json", "address", "show", "dev", "lo"]).contains(&format!("\"local\":\"{address}\""))
}

/// The real anycastd in the timer's unit, with a prefix whose `interface` is `lo`: the shipped unit cannot put the
/// service address there, and leaves the prefix withdrawn with an error; with the address drop-in linked, one run adds
/// the address and announces, an exec check of the same service finds no capability in its own process, and once
/// the prefix has left the configuration a run withdraws it and removes the address.
#[test]
#[ignore = "needs root and the lab: scripts/test runs it"]
fn with_the_address_drop_in_the_timer_s_unit_adds_the_service_address_to_lo_announces_and_later_removes_it() {
    let mut node = Node::boot();
    node.install_package();
    node.start_cabourotte();
    node.set_check("dns", true);
    // Passes only in a process with no effective capability: anycastd's children get none.
    let config = r#"[services.dns]
prefixes.frrouting = [{ prefix = "203.0.113.53", interface = "lo" }]
checks.cabourotte = ["dns"]
checks.exec = [{ name = "no-capability", command = ["/bin/grep", "-q", "^CapEff:.0000000000000000$", "/proc/self/status"] }]
"#;
    node.write_config(config);
    let unit = "anycastd.service";
    let address = "203.0.113.53";
    assert!(!lo_has(&node, address));

    let shipped = node.run(&["systemctl", "start", unit]);
    println!("{unit} as shipped: {}\n{}", shipped.status, node.journal_shown(unit));
    assert!(!shipped.status.success(), "the run fails (exit 1): the address cannot be added");
    let unreadable = "cannot read the host's interfaces: netlink: opening a socket: address family not supported by \
                      protocol (a sandbox refuses netlink: link the units' address drop-in, see \"Letting the units \
                      change addresses\" in the README)";
    let refused = format!(
        "anycastd apply: prefix-error {DNS_V4} for service dns (default VRF, AS 65536): not announced: its address \
         {address} is not on lo ({unreadable})"
    );
    node.wait_journal(unit, &refused, TIMER_PERIOD);
    assert!(!lo_has(&node, address), "as shipped");
    assert_eq!(node.networks(), Vec::<String>::new(), "not announced without its address");

    let packaged = std::fs::read_to_string(node.path("/usr/lib/anycastd/systemd/address.conf")).expect("packaged");
    for command in packaged.lines().filter_map(|line| line.strip_prefix("#   ")) {
        node.ok(&["sh", "-c", command]);
    }
    node.ok(&["systemctl", "daemon-reload"]);
    let since = node_now(&node);
    node.ok(&["systemctl", "start", unit]);
    assert!(lo_has(&node, address), "the run added the address");
    assert_eq!(node.networks(), [DNS_V4], "and announced its prefix");
    let journal = node.ok(&["journalctl", "--no-pager", "-o", "cat", "-u", unit, "--since", &since]);
    println!("{unit} with the drop-in:\n{journal}");
    // The address first, then the announcement; the exec check passed, so it ran with no capability.
    let added = format!(
        "anycastd apply: address-added {DNS_V4} for service dns (default VRF): {address} on lo: its prefix's \
         `interface` names it\n\
         anycastd apply: announced {DNS_V4} for service dns (default VRF, AS 65536): every check passes\n"
    );
    assert!(journal.ends_with(&added), "{journal}");

    node.write_config("[services.other]\nprefixes.frrouting = [\"198.51.100.7\"]\nchecks.cabourotte = [\"dns\"]\n");
    let since = node_now(&node);
    node.ok(&["systemctl", "start", unit]);
    let journal = node.ok(&["journalctl", "--no-pager", "-o", "cat", "-u", unit, "--since", &since]);
    println!("{unit} after the prefix left the configuration:\n{journal}");
    let removed = format!(
        "anycastd apply: withdrawn {DNS_V4} for service dns (default VRF, AS 65536): no longer in the configuration\n\
         anycastd apply: address-removed {DNS_V4} for service dns (default VRF): {address} on lo: its prefix left the \
         configuration and was withdrawn\n"
    );
    assert!(journal.ends_with(&removed), "withdrawn first, then removed: {journal}");
    assert!(!lo_has(&node, address), "the run removed the address it had added");
    assert!(!node.networks().contains(&DNS_V4.to_string()), "and withdrew its prefix first");
}
