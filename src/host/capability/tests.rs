//! A child of a service user that holds CAP_NET_ADMIN as an ambient capability (as systemd's
//! AmbientCapabilities=CAP_NET_ADMIN grants it to anycastd): without [`keep_from_children`] the child gets it, with
//! it the child gets nothing. The child is `cat /proc/self/status`, so the kernel itself says what it holds.

use std::os::unix::process::CommandExt;
use std::process::Command;

use super::*;

const NET_ADMIN: u64 = 1 << CAP_NET_ADMIN;
const PR_CAP_AMBIENT_RAISE: libc::c_ulong = 2;
const NOBODY: libc::uid_t = 65534;

/// The capability sets of a `cat` run as nobody by a process that holds CAP_NET_ADMIN in its permitted, effective,
/// inheritable and ambient sets, and that calls [`keep_from_children`] before exec when `keep` says so.
fn child_capabilities(keep: bool) -> [(String, u64); 4] {
    let mut cat = Command::new("/bin/cat");
    cat.arg("/proc/self/status");
    // SAFETY: between fork and exec the closure makes system calls only (prctl, setresuid, capget, capset); an
    // allocation happens only on the error path, where the child is about to fail anyway.
    unsafe {
        cat.pre_exec(move || {
            let fail = |what: &str| io::Error::other(format!("{what}: {}", io::Error::last_os_error()));
            if libc::prctl(libc::PR_SET_KEEPCAPS, 1 as libc::c_ulong, 0 as libc::c_ulong, 0, 0) != 0 {
                return Err(fail("PR_SET_KEEPCAPS"));
            }
            if libc::setresuid(NOBODY, NOBODY, NOBODY) != 0 {
                return Err(fail("setresuid"));
            }
            let net_admin =
                Sets { effective: 1 << CAP_NET_ADMIN, permitted: 1 << CAP_NET_ADMIN, inheritable: 1 << CAP_NET_ADMIN };
            let sets = [net_admin, Sets::default()];
            let mut header = Header { version: VERSION_3, pid: 0 };
            if libc::syscall(libc::SYS_capset, &raw mut header, sets.as_ptr()) != 0 {
                return Err(fail("capset"));
            }
            let raise = PR_CAP_AMBIENT_RAISE;
            if libc::prctl(
                PR_CAP_AMBIENT,
                raise,
                CAP_NET_ADMIN as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            ) != 0
            {
                return Err(fail("PR_CAP_AMBIENT_RAISE"));
            }
            if keep {
                keep_from_children().map_err(io::Error::other)?;
            }
            Ok(())
        });
    }
    let output = cat.output().expect("cat runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let status = String::from_utf8_lossy(&output.stdout).into_owned();
    ["CapInh", "CapPrm", "CapEff", "CapAmb"].map(|set| {
        let line = status.lines().find_map(|line| line.strip_prefix(&format!("{set}:\t")).map(str::to_owned));
        let value = line.and_then(|hex| u64::from_str_radix(&hex, 16).ok()).unwrap_or_else(|| panic!("{status}"));
        (set.to_owned(), value)
    })
}

#[test]
#[ignore = "needs root: sets up a service user's ambient CAP_NET_ADMIN in a child"]
fn a_child_started_after_keep_from_children_has_no_capability() {
    let sets = |values: [u64; 4]| {
        ["CapInh", "CapPrm", "CapEff", "CapAmb"].map(|set| set.to_owned()).into_iter().zip(values).collect::<Vec<_>>()
    };
    assert_eq!(
        child_capabilities(false).to_vec(),
        sets([NET_ADMIN, NET_ADMIN, NET_ADMIN, NET_ADMIN]),
        "the control: an ambient capability survives exec"
    );
    assert_eq!(child_capabilities(true).to_vec(), sets([0, 0, 0, 0]));
}

/// On its own thread (capabilities are a thread's): as root it gives CAP_NET_ADMIN up, unprivileged it has none.
#[test]
fn each_succeeds_again_when_there_is_nothing_left_to_give_up() {
    let thread =
        std::thread::spawn(|| [keep_from_children(), drop_net_admin(), keep_from_children(), drop_net_admin()]);
    assert_eq!(thread.join().unwrap(), [Ok(()), Ok(()), Ok(()), Ok(())]);
}
