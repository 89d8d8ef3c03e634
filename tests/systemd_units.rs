//! The shipped systemd units, checked by systemd itself (`systemd-analyze verify`, Debian package `systemd`).

use std::path::Path;
use std::process::Command;

use anycastd::identity::{UNITS_SUPPLEMENTARY_GROUPS, UNITS_USER};

const UNITS: [&str; 3] = ["anycastd.service", "anycastd.timer", "anycastd-run.service"];

#[test]
fn every_unit_passes_systemd_analyze_verify() {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    assert!(
        analyze.is_ok_and(|output| output.status.success()),
        "systemd-analyze is missing: install Debian's systemd package (scripts/test does)"
    );
    let dir = std::env::temp_dir().join(format!("anycastd-units-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("timers");
    for unit in UNITS {
        let text = std::fs::read_to_string(shipped.join(unit)).expect("a shipped unit");
        if unit.ends_with(".service") {
            assert!(text.contains("ExecStart=/usr/bin/anycastd --quiet "), "{unit} runs the installed binary");
        }
        // verify checks that ExecStart is executable: point it at the binary under test.
        let text = text.replace("/usr/bin/anycastd", env!("CARGO_BIN_EXE_anycastd"));
        std::fs::write(dir.join(unit), text).expect("write unit");
    }
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(UNITS.map(|unit| dir.join(unit)))
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_timer_asks_for_a_five_second_period_with_100_ms_accuracy() {
    let timer =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("timers/anycastd.timer")).expect("timer");
    assert!(timer.contains("\nOnUnitActiveSec=5s\n"));
    assert!(timer.contains("\nAccuracySec=100ms\n"), "the default one-minute accuracy would defeat a 5 s period");
}

/// `systemd-analyze security`'s overall exposure of a unit file (0.0 best, 10.0 worst), and its last line.
fn exposure(unit: &str) -> (f64, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("timers").join(unit);
    let output = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .expect("run systemd-analyze security");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_string();
    let prefix = format!("→ Overall exposure level for {unit}: ");
    let level = last
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("systemd-analyze security {unit}: no overall exposure in {stdout}"));
    (level, last)
}

#[test]
fn both_services_have_an_exposure_of_at_most_1_5_in_systemd_analyze_security() {
    for unit in ["anycastd.service", "anycastd-run.service"] {
        let (level, line) = exposure(unit);
        assert!(level <= 1.5, "{line}");
    }
}

/// The identity root takes in the units' state directory (src/identity.rs) is the units' own.
#[test]
fn both_services_run_as_the_packaged_system_user_with_umask_0077() {
    let sysusers = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pkg/sysusers.d/anycastd.conf"))
        .expect("the sysusers.d file");
    assert!(sysusers.lines().any(|line| line.starts_with("u anycastd - ")), "{sysusers}");
    for unit in ["anycastd.service", "anycastd-run.service"] {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("timers").join(unit)).expect("unit");
        let user = format!("\nUser={UNITS_USER}\n");
        let group = format!("\nGroup={UNITS_USER}\n");
        let supplementary = format!("\nSupplementaryGroups={}\n", UNITS_SUPPLEMENTARY_GROUPS.join(" "));
        for setting in [user.as_str(), &group, "\nUMask=0077\n", &supplementary, "\nLogLevelMax=notice\n"] {
            assert!(text.contains(setting), "{unit} has {setting:?}");
        }
        assert!(text.contains("\nBindReadOnlyPaths=-/usr/lib/anycastd/pam.d:/etc/pam.d\n"), "{unit}: vtysh's PAM");
        assert!(!text.lines().any(|line| line.starts_with("DynamicUser=")), "{unit}: a static user, see its comment");
    }
}

#[test]
fn both_services_bound_descriptors_and_tasks_but_never_kill_for_memory() {
    for unit in ["anycastd.service", "anycastd-run.service"] {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("timers").join(unit)).expect("unit");
        for setting in ["\nLimitNOFILE=1024\n", "\nTasksMax=512\n"] {
            assert!(text.contains(setting), "{unit} has {setting:?}: anycastd cannot raise its own limits");
        }
        assert!(
            !text.lines().any(|line| line.starts_with("MemoryMax=")),
            "{unit}: a kill by the memory limit is a SIGKILL that leaves every prefix announced"
        );
    }
}
