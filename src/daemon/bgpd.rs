//! Who bgpd is, read without vtysh: its pid file and `/proc`. Loop mode trusts what it last read of FRR only while
//! the same bgpd runs; a bgpd that restarted comes back without anycastd's networks, so a change of identity makes the
//! next pass read the running config again, at the cost of a few small file reads instead of a vtysh call.

use std::io::Read;
use std::path::Path;

/// One bgpd process: its pid and when it started (clock ticks after boot, `/proc/PID/stat` field 22). The start time
/// tells a restarted bgpd from the old one even if it got the same pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BgpdIdentity {
    pid: u32,
    started: u64,
}

/// The pid file holds a pid and a newline; anything longer is not a pid file.
const PID_FILE_LIMIT: u64 = 64;

/// The bgpd that `pid_file` names, if it runs: `None` when the file is missing, unreadable or not a regular file (a
/// FIFO there must not hang the loop), names no process, or names a process that is not bgpd (a pid file left
/// behind, whose pid was reused).
pub fn identity(pid_file: &Path) -> Option<BgpdIdentity> {
    let mut text = String::new();
    crate::bounded::open_regular(pid_file).ok()?.take(PID_FILE_LIMIT).read_to_string(&mut text).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `PID (COMM) STATE ...`: the command name may hold spaces and parentheses, so split at the last `)`.
    let (head, rest) = stat.rsplit_once(") ")?;
    let comm = head.split_once(" (")?.1;
    if comm != "bgpd" {
        return None;
    }
    // Field 22 (starttime) is the 20th after the state, which is field 3.
    let started = rest.split_whitespace().nth(19)?.parse().ok()?;
    Some(BgpdIdentity { pid, started })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_naming_another_program_is_no_bgpd() {
        let dir = std::env::temp_dir().join(format!("anycastd-bgpd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("bgpd.pid");
        std::fs::write(&file, format!("{}\n", std::process::id())).expect("pid file");
        assert_eq!(identity(&file), None, "this test process is not bgpd");
        std::fs::write(&file, "not a pid\n").expect("pid file");
        assert_eq!(identity(&file), None);
        assert_eq!(identity(&dir.join("missing.pid")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
