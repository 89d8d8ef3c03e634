//! Runs vtysh: always with an argument vector (never a shell), always with a deadline.

use std::fmt;
use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::RunningConfig;
use crate::process::{self, RunError};

/// One FRR, reached through its vtysh binary.
#[derive(Clone, Debug)]
pub(crate) struct Vtysh {
    path: PathBuf,
    timeout: Duration,
}

/// Why a vtysh call did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum VtyshError {
    /// The binary could not be started.
    Spawn {
        /// The vtysh path.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// It did not finish within the deadline and was killed.
    Timeout {
        /// The vtysh path.
        path: PathBuf,
        /// The deadline.
        timeout: Duration,
    },
    /// It printed more than [`crate::bounded::CHILD_OUTPUT`] and was stopped.
    OutputTooLarge {
        /// The vtysh path.
        path: PathBuf,
    },
    /// It exited unsuccessfully; `output` is what it printed about it.
    Failed {
        /// The vtysh path.
        path: PathBuf,
        /// Its exit code, if it exited (rather than being killed by a signal).
        code: Option<i32>,
        /// What it printed, trimmed.
        output: String,
    },
    /// A command line held a character that has no business in an FRR command; nothing was run.
    UnsafeCommand(String),
    /// The in-memory file holding a batch could not be made; nothing was run.
    Batch(String),
}

/// What vtysh says when none of the daemons it was asked to reach runs: for `-d bgpd`, a stopped bgpd.
const NO_DAEMONS: &str = "failed to connect to any daemons";

/// The usual reason on a fresh host: Debian's (and FRR's own) /etc/frr/daemons ships with `bgpd=no`.
const NO_DAEMONS_HINT: &str = " (is bgpd running? FRR starts only the daemons enabled in /etc/frr/daemons, and \
     Debian's has bgpd=no: set bgpd=yes, then `systemctl restart frr`)";

impl fmt::Display for VtyshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VtyshError::Spawn { path, reason } => write!(f, "cannot run {}: {reason}", path.display()),
            VtyshError::Timeout { path, timeout } => {
                write!(
                    f,
                    "{} did not finish within {} and was stopped",
                    path.display(),
                    crate::config::describe(*timeout)
                )
            }
            VtyshError::OutputTooLarge { path } => write!(f, "{}: {}", path.display(), RunError::output_too_large()),
            VtyshError::Failed { path, code, output } => {
                let status =
                    code.map_or_else(|| "was killed by a signal".to_string(), |code| format!("exited with {code}"));
                let output = if output.is_empty() { String::new() } else { format!(": {output}") };
                write!(f, "{} {status}{output}", path.display())?;
                if output.contains(NO_DAEMONS) {
                    f.write_str(NO_DAEMONS_HINT)?;
                }
                Ok(())
            }
            VtyshError::UnsafeCommand(line) => write!(f, "refusing to pass {line:?} to vtysh"),
            VtyshError::Batch(reason) => write!(f, "cannot prepare the batch for vtysh in memory: {reason}"),
        }
    }
}

impl std::error::Error for VtyshError {}

impl Vtysh {
    /// A vtysh at `path` whose every call is stopped after `timeout`.
    pub(crate) fn new(path: &Path, timeout: Duration) -> Vtysh {
        Vtysh { path: path.to_path_buf(), timeout }
    }

    /// The text of bgpd's `show running-config`. Asking bgpd alone (`-d bgpd`) makes a stopped bgpd an error:
    /// the plain command still succeeds then, without any `router bgp` block, which would read as "no instance".
    pub(crate) fn running_config(&self) -> Result<String, VtyshError> {
        self.call(&["-d", "bgpd", "-c", "show running-config"].map(String::from), None)
    }

    /// bgpd's running config, parsed; the reason in words when it cannot be read or is cut short.
    pub(crate) fn read_running_config(&self) -> Result<RunningConfig, String> {
        let text = self.running_config().map_err(|error| error.to_string())?;
        RunningConfig::parse(&text).map_err(|error| error.to_string())
    }

    /// Runs `show` commands in one vtysh call and returns what they printed, one after the other.
    pub(crate) fn show(&self, commands: &[String]) -> Result<String, VtyshError> {
        if let Some(command) = commands.iter().find(|command| !is_safe_command(command)) {
            return Err(VtyshError::UnsafeCommand(command.clone()));
        }
        let arguments: Vec<String> = commands.iter().flat_map(|command| ["-c".to_string(), command.clone()]).collect();
        self.call(&arguments, None)
    }

    /// Runs configuration `lines` in one vtysh call, as a configuration file (`-f`): no argument length limit, and a
    /// failing line does not stop the ones after it (vtysh then exits non-zero; with `-c` it would skip the rest).
    /// Either way the caller must read the running config again to learn what was applied.
    ///
    /// The file is an in-memory file (memfd) on vtysh's stdin, named `/proc/self/fd/0`. vtysh opens `-f FILE` by
    /// name, and FRR 10 opens it once more in each of the children it forks, one per daemon, to apply the file in
    /// parallel. A pipe would be drained by the first child: bgpd would get nothing while vtysh still exits 0, so
    /// nothing could be announced or withdrawn. Each open of `/proc/self/fd/0` on a memfd starts at offset 0 of the
    /// same content, so every child reads every line, on FRR 7.5 and 8.4 alike. Being in memory, it needs no
    /// writable directory (a full or read-only disk must never block a withdrawal) and has no name another user
    /// could replace. Being stdin, it also passes through wrappers that close other descriptors (sudo, chroot).
    pub(crate) fn configure(&self, lines: &[String]) -> Result<(), VtyshError> {
        if let Some(line) = lines.iter().find(|line| !is_safe_command(line)) {
            return Err(VtyshError::UnsafeCommand(line.clone()));
        }
        let mut text = lines.join("\n");
        text.push('\n');
        let batch = in_memory_file(text.as_bytes()).map_err(|error| VtyshError::Batch(error.to_string()))?;
        // `-d bgpd`: every line of a batch is bgpd's, and not connecting to the other daemons saves a third of the
        // call on FRR 10 (36 to 25 ms), where each would also get a child of its own.
        self.call(&["-d", "bgpd", "-f", "/proc/self/fd/0"].map(String::from), Some(batch)).map(drop)
    }

    fn call(&self, arguments: &[String], stdin: Option<File>) -> Result<String, VtyshError> {
        let mut command = Command::new(&self.path);
        // vtysh appends every `-c` line to $HOME/.history_frr (open, write, chown, close per line) and then cuts the
        // file to its last 1,000 lines: 10,000 changes cost 50,000 system calls, and the operator's own history is
        // gone. Under a HOME that cannot hold the file, each append fails at once and the file is left alone.
        command.env("HOME", "/dev/null");
        command.args(arguments);
        let finished = process::run_with_deadline(&mut command, stdin, self.timeout).map_err(|error| match error {
            RunError::Spawn(reason) => VtyshError::Spawn { path: self.path.clone(), reason },
            RunError::Timeout => VtyshError::Timeout { path: self.path.clone(), timeout: self.timeout },
            RunError::OutputTooLarge => VtyshError::OutputTooLarge { path: self.path.clone() },
        })?;
        if finished.success {
            return Ok(finished.stdout);
        }
        Err(VtyshError::Failed { path: self.path.clone(), code: finished.code, output: failure_text(&finished) })
    }
}

/// A file in memory only, holding `contents`, positioned at its start.
fn in_memory_file(contents: &[u8]) -> io::Result<File> {
    let mut file = File::from(rustix::fs::memfd_create(c"anycastd-batch", rustix::fs::MemfdFlags::CLOEXEC)?);
    file.write_all(contents)?;
    file.rewind()?;
    Ok(file)
}

/// What vtysh said about a failure: its stderr and stdout lines, each once, on one line, without FRR 10's progress
/// lines. FRR prints its `% ...` error on stdout (and, in 8.4, on stderr too); with `-f`, stderr also names the
/// failing line.
fn failure_text(finished: &process::Finished) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in finished.stderr.lines().chain(finished.stdout.lines()).map(str::trim) {
        if !line.is_empty() && !is_progress(line) && !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines.join(" / ")
}

/// FRR 10's `vtysh -f` narrates its parallel apply: `[1234|bgpd] sending configuration`, `Waiting for children to
/// finish applying config...`, `[1234|bgpd] done`, and on a failed line `[1234|bgpd] Configuration file[/etc/frr/
/// frr.conf] processing failure: 13`, which names FRR's default file rather than the batch. None of it says what
/// went wrong: the `% ...` answer and the `line N: ...` that come with it do.
fn is_progress(line: &str) -> bool {
    if line == "Waiting for children to finish applying config..." {
        return true;
    }
    let Some((tag, message)) = line.strip_prefix('[').and_then(|rest| rest.split_once("] ")) else { return false };
    let is_child_tag = tag
        .split_once('|')
        .is_some_and(|(pid, daemon)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && !daemon.is_empty());
    is_child_tag
        && (message == "sending configuration"
            || message == "done"
            || message.starts_with("Configuration file[") && message.contains("] processing failure"))
}

/// Only the characters FRR commands of ours are made of: no newline, quote, `;`, `|` or anything shell-ish.
fn is_safe_command(line: &str) -> bool {
    !line.is_empty()
        && line.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '/' | ':' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_lines_never_reach_vtysh() {
        let vtysh = Vtysh::new(Path::new("/nonexistent/vtysh"), Duration::from_secs(1));
        let error = vtysh.configure(&["network 192.0.2.0/24\nwrite".to_string()]);
        assert_eq!(error, Err(VtyshError::UnsafeCommand("network 192.0.2.0/24\nwrite".into())));
        assert!(!is_safe_command("router bgp 1; reboot"));
        assert!(is_safe_command("router bgp 65537 vrf EDGE-1.a_b"));
    }

    #[test]
    fn a_vtysh_that_reaches_no_daemon_says_how_to_start_bgpd() {
        let output = "Exiting: failed to connect to any daemons.".to_string();
        let error = VtyshError::Failed { path: PathBuf::from("/usr/bin/vtysh"), code: Some(1), output };
        assert_eq!(
            error.to_string(),
            "/usr/bin/vtysh exited with 1: Exiting: failed to connect to any daemons. (is bgpd running? FRR starts \
             only the daemons enabled in /etc/frr/daemons, and Debian's has bgpd=no: set bgpd=yes, then `systemctl \
             restart frr`)"
        );
        let other = VtyshError::Failed { path: PathBuf::from("/usr/bin/vtysh"), code: Some(1), output: "% x".into() };
        assert_eq!(other.to_string(), "/usr/bin/vtysh exited with 1: % x");
    }

    #[test]
    fn a_missing_binary_is_a_spawn_error() {
        let vtysh = Vtysh::new(Path::new("/nonexistent/vtysh"), Duration::from_secs(1));
        assert!(matches!(vtysh.running_config(), Err(VtyshError::Spawn { .. })));
    }

    #[test]
    fn a_hung_vtysh_is_stopped_at_the_deadline() {
        use std::time::Instant;
        let started = Instant::now();
        let hung = Vtysh { path: PathBuf::from("/bin/sleep"), timeout: Duration::from_millis(200) };
        let error = hung.call(&["5".to_string()], None);
        assert!(matches!(error, Err(VtyshError::Timeout { .. })), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn vtysh_runs_with_home_set_to_dev_null() {
        let shell = Vtysh { path: PathBuf::from("/bin/sh"), timeout: Duration::from_secs(5) };
        assert_eq!(shell.call(&["-c".into(), "echo $HOME".into()], None), Ok("/dev/null\n".to_string()));
    }

    #[test]
    fn failures_carry_what_vtysh_printed() {
        let failing = Vtysh { path: PathBuf::from("/bin/sh"), timeout: Duration::from_secs(5) };
        let error = failing.call(&["-c".into(), "echo '% Unknown command: network x' >&2; exit 1".into()], None);
        assert_eq!(
            error.map_err(|e| e.to_string()),
            Err("/bin/sh exited with 1: % Unknown command: network x".to_string())
        );
    }

    /// What FRR 10's `vtysh -f` does: one child per daemon, each opening the file again by name.
    #[test]
    fn every_reopen_of_the_batch_reads_every_line() {
        let script = "for daemon in zebra bgpd; do cat /proc/self/fd/0 | sed \"s/^/$daemon: /\"; done";
        let shell = Vtysh { path: PathBuf::from("/bin/sh"), timeout: Duration::from_secs(5) };
        let batch = in_memory_file(b"router bgp 1\n network 192.0.2.0/24\n").expect("a memfd");
        assert_eq!(
            shell.call(&["-c".into(), script.into()], Some(batch)),
            Ok("zebra: router bgp 1\nzebra:  network 192.0.2.0/24\nbgpd: router bgp 1\nbgpd:  network 192.0.2.0/24\n"
                .to_string())
        );
    }

    /// FRR 10.3's own output of a batch with one failing line (captured in the lab).
    #[test]
    fn frr_10_progress_lines_are_not_part_of_the_error() {
        let finished = process::Finished {
            success: false,
            code: Some(13),
            signal: None,
            stdout: "[16647|mgmtd] sending configuration\n[16648|zebra] sending configuration\n[16654|bgpd] sending \
                     configuration\n% Can't find static route specified\n[16664|staticd] sending configuration\n\
                     Waiting for children to finish applying config...\n"
                .into(),
            stderr: "[16647|mgmtd] done\n[16648|zebra] done\nline 4: Failure to communicate[13] to bgpd, line:   no \
                     network 203.0.113.99/32\n\n[16654|bgpd] Configuration file[/etc/frr/frr.conf] processing failure: \
                     13\n[16664|staticd] done\n"
                .into(),
        };
        assert_eq!(
            failure_text(&finished),
            "line 4: Failure to communicate[13] to bgpd, line:   no network 203.0.113.99/32 / % Can't find static \
             route specified"
        );
    }
}
