//! Runs a child process with a deadline, collecting its output: a hung vtysh or hook never hangs anycastd.
//!
//! Each child leads a process group of its own, and a deadline kills the whole group: a `vtysh` wrapper that does
//! not `exec` (or a hook that starts helpers) would otherwise leave its own children running, and a vtysh batch that
//! lands after anycastd gave up on it could undo what a later pass did. For the same reason a child dies with
//! anycastd (`PR_SET_PDEATHSIG`): an `apply` killed by SIGKILL or the OOM killer leaves no vtysh behind that would
//! apply its batch after a newer pass decided otherwise.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::bounded;

/// A process that ran to its end.
#[derive(Debug)]
pub struct Finished {
    /// It exited with status 0.
    pub success: bool,
    /// Its exit code, unless a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Why a process did not run to its end.
#[derive(Debug, PartialEq, Eq)]
pub enum RunError {
    /// It could not be started, for this reason.
    Spawn(String),
    /// It was still running at the deadline and was killed.
    Timeout,
    /// It printed more than [`bounded::CHILD_OUTPUT`] on stdout or stderr and was killed: a child that prints more
    /// is broken or hostile, and reading on would only fill anycastd's memory.
    OutputTooLarge,
}

impl RunError {
    /// The reason for [`RunError::OutputTooLarge`], in the words of every input over its limit.
    pub fn output_too_large() -> String {
        format!("{}; it was stopped", bounded::CHILD_OUTPUT.exceeded("what it printed"))
    }
}

/// Runs `command` with `stdin` (`/dev/null` when `None`) in a process group of its own, killing the group if it
/// has not finished within `timeout` or prints more than [`bounded::CHILD_OUTPUT`].
pub fn run_with_deadline(command: &mut Command, stdin: Option<File>, timeout: Duration) -> Result<Finished, RunError> {
    let mut child = spawn_in_group(command, stdin).map_err(|error| RunError::Spawn(error.to_string()))?;
    let finished = wait_with_deadline(&mut child, Instant::now() + timeout);
    if finished.is_err() {
        kill_group(&mut child);
    }
    finished
}

/// Starts `command` as the leader of a process group of its own, which dies with anycastd.
fn spawn_in_group(command: &mut Command, stdin: Option<File>) -> io::Result<Child> {
    let stdin = stdin.map_or_else(Stdio::null, Stdio::from);
    let parent = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec and calls only async-signal-safe functions
    // (prctl, getppid), touching no memory of the parent.
    unsafe {
        command.pre_exec(move || die_with_parent(parent));
    }
    command.stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).spawn()
}

/// Runs a check's `command` (stdin `/dev/null`) in a process group of its own, which it does not outlive: the group
/// is killed when the command ends, not only at `timeout`. A check is a question asked once; whatever it left
/// running (a daemonised helper, a forgotten `sleep &`) would pile up at every pass, and would hold its pipes open,
/// so that waiting for the end of its output would wait for the helper. So the end of the command is its exit, not
/// the end of its output; the first `keep` bytes of each stream are kept, and the rest is read and dropped, so that
/// a chatty check neither fills anycastd's memory nor blocks on a full pipe. A process that left the group
/// (`setsid`) is out of reach, as it is for the deadline: its pipes are waited for until `timeout` at most, and
/// what was read by then is kept.
///
/// `Spawn` carries the error itself, whose kind tells a program that is not there from a host out of resources.
pub fn run_check(command: &mut Command, timeout: Duration, keep: usize) -> Result<Finished, io::Error> {
    let deadline = Instant::now() + timeout;
    let mut child = spawn_in_group(command, None)?;
    let stdout = keep_in_background(child.stdout.take(), keep);
    let stderr = keep_in_background(child.stderr.take(), keep);
    let Some(pid) = i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw) else {
        kill_group(&mut child);
        return Err(io::Error::other("the child has no process id"));
    };
    let mut pause = Duration::from_micros(200);
    loop {
        // WNOWAIT: seen exited but not reaped, so that its id still names its group, and no other, for the kill.
        let options = rustix::process::WaitIdOptions::EXITED
            | rustix::process::WaitIdOptions::NOHANG
            | rustix::process::WaitIdOptions::NOWAIT;
        match rustix::process::waitid(rustix::process::WaitId::Pid(pid), options) {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            Ok(None) => {
                kill_group(&mut child);
                return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
            }
            Err(error) => {
                kill_group(&mut child);
                return Err(error.into());
            }
        }
    }
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    let status = child.wait()?;
    let collect = |pipe: mpsc::Receiver<Vec<u8>>| {
        let bytes = pipe.recv_timeout(deadline.saturating_duration_since(Instant::now())).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let (stdout, stderr) = (collect(stdout), collect(stderr));
    use std::os::unix::process::ExitStatusExt;
    Ok(Finished { success: status.success(), code: status.code(), signal: status.signal(), stdout, stderr })
}

/// Reads a pipe to its end in a thread of its own, keeping its first `keep` bytes and dropping the rest.
fn keep_in_background(pipe: Option<impl Read + Send + 'static>, keep: usize) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut pipe) = pipe {
            let mut buffer = [0u8; 8192];
            loop {
                match pipe.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => {
                        let room = keep.saturating_sub(kept.len()).min(read);
                        kept.extend_from_slice(&buffer[..room]);
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        let _ = sender.send(kept);
    });
    receiver
}

/// Collects a child's output and status, or says why it must be killed: it is not done by `deadline`, or it printed
/// too much.
fn wait_with_deadline(child: &mut Child, deadline: Instant) -> Result<Finished, RunError> {
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let stdout = stdout.recv_timeout(remaining()).map_err(|_| RunError::Timeout)??;
    let stderr = stderr.recv_timeout(remaining()).map_err(|_| RunError::Timeout)??;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => return Err(RunError::Timeout),
        }
    };
    use std::os::unix::process::ExitStatusExt;
    Ok(Finished { success: status.success(), code: status.code(), signal: status.signal(), stdout, stderr })
}

/// Makes the child (about to exec) receive SIGKILL when anycastd dies, and fails if it is already gone: a child whose
/// parent died between fork and this call would not be told. (Run between fork and exec: async-signal-safe only.)
fn die_with_parent(parent: u32) -> io::Result<()> {
    use rustix::process::{Signal, getppid, set_parent_process_death_signal};
    set_parent_process_death_signal(Some(Signal::KILL))?;
    if getppid().and_then(|now| u32::try_from(now.as_raw_nonzero().get()).ok()) != Some(parent) {
        return Err(io::Error::other("anycastd ended before its child started"));
    }
    Ok(())
}

/// Kills the child's whole process group, then reaps the child.
fn kill_group(child: &mut Child) {
    // The child leads its own group (`process_group(0)`) and is not reaped yet, so its id still names that group and
    // no other.
    if let Some(group) = i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads a pipe to its end in a thread of its own, up to [`bounded::CHILD_OUTPUT`].
fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Result<String, RunError>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(pipe) = pipe {
            let _ = pipe.take(bounded::CHILD_OUTPUT.0 + 1).read_to_end(&mut bytes);
        }
        let read = if bytes.len() as u64 > bounded::CHILD_OUTPUT.0 {
            Err(RunError::OutputTooLarge)
        } else {
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        let _ = sender.send(read);
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The processes whose command line holds `marker`.
    fn processes_with(marker: &str) -> usize {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
            .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(marker))
            .count()
    }

    #[test]
    fn a_deadline_kills_what_the_child_started_too() {
        // A wrapper that does not `exec`: its `sleep` is a grandchild of anycastd.
        let marker = format!("31.{}", std::process::id());
        let mut wrapper = Command::new("/bin/sh");
        wrapper.args(["-c", &format!("sleep {marker}; echo late")]);
        let outcome = run_with_deadline(&mut wrapper, None, Duration::from_millis(300));
        assert!(matches!(outcome, Err(RunError::Timeout)), "{outcome:?}");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(processes_with(&format!("sleep {marker}")), 0, "the grandchild must be gone");
    }

    #[test]
    fn a_child_that_prints_without_end_is_stopped() {
        let mut yes = Command::new("/usr/bin/yes");
        let outcome = run_with_deadline(&mut yes, None, Duration::from_secs(30));
        assert!(matches!(outcome, Err(RunError::OutputTooLarge)), "{outcome:?}");
    }
}
