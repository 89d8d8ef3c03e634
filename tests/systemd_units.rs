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

/// The opt-in drop-in of the `interface` key (pkg/systemd/address.conf), which operators link into both services'
/// drop-in folders.
const ADDRESS_DROP_IN: &str = "pkg/systemd/address.conf";

/// `systemd-analyze security --offline=yes` of `unit` in a root of its own, `/etc/systemd/system/`, with `drop_in`
/// (a file of the repository) in its `UNIT.d/` folder, as systemd merges them: offline analysis reads drop-ins only
/// under `--root`. The drop-in is copied, not linked: offline, systemd reads an absolute link's target on the host,
/// not under the root, and skips a missing one without a word. Returns the overall exposure (0.0 best, 10.0
/// worst), its line, and the names of the settings it counts against the unit (its `✗` lines).
fn exposure(unit: &str, drop_in: Option<&str>) -> (f64, String, Vec<String>) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = format!("anycastd-security-{}-{unit}-{}", std::process::id(), drop_in.is_some());
    let root = std::env::temp_dir().join(name);
    let system = root.join("etc/systemd/system");
    std::fs::create_dir_all(system.join(format!("{unit}.d"))).expect("the drop-in folder");
    std::fs::copy(manifest.join("timers").join(unit), system.join(unit)).expect("copy the unit");
    if let Some(drop_in) = drop_in {
        let to = system.join(format!("{unit}.d/address.conf"));
        std::fs::copy(manifest.join(drop_in), to).expect("copy the drop-in");
    }
    let output = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(format!("--root={}", root.display()))
        .arg(unit)
        .output()
        .expect("run systemd-analyze security");
    let _ = std::fs::remove_dir_all(&root);
    // systemd says on stderr which lines of the unit or the drop-in it ignored (an unknown key, a misspelt family).
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.trim().is_empty(), "systemd-analyze security {unit} with {drop_in:?}: {stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_string();
    let prefix = format!("→ Overall exposure level for {unit}: ");
    let level = last
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("systemd-analyze security {unit}: no overall exposure in {stdout}"));
    let counted = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("✗ "))
        .filter_map(|line| line.split_whitespace().next())
        .map(String::from)
        .collect();
    (level, last, counted)
}

#[test]
fn both_services_have_an_exposure_of_at_most_1_5_in_systemd_analyze_security() {
    for unit in ["anycastd.service", "anycastd-run.service"] {
        let (level, line, _) = exposure(unit, None);
        assert!(level <= 1.5, "{line}");
    }
}

/// The drop-in costs what it grants and nothing more: measured under systemd 252, anycastd.service goes from 1.1 to
/// 1.7 and anycastd-run.service from 1.3 to 1.9 (docs/security.md).
#[test]
fn with_the_address_drop_in_both_services_have_an_exposure_of_at_most_2_0_for_exactly_what_it_grants() {
    for unit in ["anycastd.service", "anycastd-run.service"] {
        let (plain, _, plain_counted) = exposure(unit, None);
        let (level, line, counted) = exposure(unit, Some(ADDRESS_DROP_IN));
        assert!(level <= 2.0, "{line}");
        // A drop-in systemd did not read would leave the figure as it was, and pass the bound above.
        assert!(level > plain, "{unit}: {line}, {plain} without the drop-in");
        let mut added: Vec<&str> =
            counted.iter().filter(|setting| !plain_counted.contains(setting)).map(String::as_str).collect();
        added.sort_unstable();
        let mut expected = [
            // The drop-in lets capset, of @privileged, through.
            "SystemCallFilter=~@privileged",
            "AmbientCapabilities=",
            "RestrictAddressFamilies=~AF_NETLINK",
            "CapabilityBoundingSet=~CAP_NET_ADMIN",
            "PrivateUsers=",
        ];
        expected.sort_unstable();
        assert_eq!(added, expected, "{unit}: what the drop-in costs");
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

/// The README's commands that link the drop-in are the ones its own comment gives, which tests/units_live.rs runs on
/// a booted node, and the package installs it where they link to.
#[test]
fn the_readme_links_the_address_drop_in_as_its_comment_says_where_the_package_installs_it() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let drop_in = std::fs::read_to_string(manifest.join(ADDRESS_DROP_IN)).expect("the drop-in");
    let mut commented: Vec<&str> = drop_in.lines().filter_map(|line| line.strip_prefix("#   ")).collect();
    commented.push("systemctl daemon-reload");
    let readme = std::fs::read_to_string(manifest.join("README.md")).expect("the README");
    let section = readme
        .split_once("\n### Letting the units change addresses\n")
        .map(|(_, rest)| rest)
        .expect("the README's section on the drop-in");
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .map(|(block, _)| block)
        .expect("a sh block in that section");
    assert_eq!(block.lines().collect::<Vec<_>>(), commented);
    let cargo = std::fs::read_to_string(manifest.join("Cargo.toml")).expect("Cargo.toml");
    let asset = "[\"pkg/systemd/address.conf\", \"usr/lib/anycastd/systemd/address.conf\", \"644\"]";
    assert!(cargo.contains(asset), "Cargo.toml's assets have {asset}");
    assert!(block.contains(" /usr/lib/anycastd/systemd/address.conf "), "{block}");
}
