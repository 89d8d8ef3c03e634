//! The tests this machine's kernel cannot run (`in_vm.rs`: a VRF device), run in a virtual machine with Debian 12's
//! kernel (`scripts/vm`), which boots on this host's files, runs this very test binary with the filter `in_vm::`,
//! and prints its output on the machine's console. `scripts/test` runs this group alone, after the lab's: the
//! machine is emulated (about two minutes on 2 cores) and would slow the lab's timed waits beside it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the machine's script is written: a folder of the host it sees (not its own /run).
const RUNS: &str = "/var/cache/anycastd-vm/runs";

/// The FRR releases each test of `in_vm.rs` runs on (`on_every_frr!`).
const RELEASES: [&str; 3] = ["frr_7_5", "frr_8_4", "frr_10_3"];

/// A script that runs this test binary's `in_vm::` tests, one at a time (each starts a lab), without colours.
fn script(test_binary: &Path) -> PathBuf {
    std::fs::create_dir_all(RUNS).expect("create the machine's runs folder");
    let path = Path::new(RUNS).join(format!("in-vm-{}.sh", std::process::id()));
    let body = format!(
        "cd {}\nexec {} --include-ignored --test-threads 1 --color never in_vm::\n",
        env!("CARGO_MANIFEST_DIR"),
        test_binary.display()
    );
    std::fs::write(&path, body).expect("write the machine's script");
    path
}

#[test]
#[ignore = "needs root, the lab and qemu: scripts/test runs it"]
fn the_tests_that_need_a_vrf_device_pass_in_a_vm_with_debian_s_kernel() {
    let test_binary = std::env::current_exe().expect("this test binary's path");
    let script = script(&test_binary);
    let vm = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/vm");
    let built = Command::new(&vm).arg("build").status().expect("run scripts/vm build");
    assert!(built.success(), "scripts/vm build failed");
    let output = Command::new("timeout")
        .arg("1200")
        .arg(&vm)
        .arg("run")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/vm");
    let _ = std::fs::remove_file(&script);
    let console = String::from_utf8_lossy(&output.stdout);
    let said = format!("{console}\n--- stderr ---\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(console.contains("VM-EXIT 0"), "the tests in the machine failed, or it did not finish:\n{said}");
    let names = [
        "an_address_on_a_vrf_s_device_or_an_interface_in_it_comes_before_the_announcement_and_goes_after_the_withdrawal",
    ];
    for name in names {
        for release in RELEASES {
            let passed = format!("test in_vm::{name}::{release} ... ok");
            assert!(console.contains(&passed), "no `{passed}` in the machine's output:\n{said}");
        }
    }
    println!("{console}");
}
