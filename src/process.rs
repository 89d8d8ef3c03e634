//! Runs a child process with a deadline, collecting its output: a hung vtysh or hook never hangs anycastd.

use std::fs::File;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A process that ran to its end.
#[derive(Debug)]
pub struct Finished {
    /// It exited with status 0.
    pub success: bool,
    /// Its exit code, unless a signal ended it.
    pub code: Option<i32>,
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
}

/// Runs `command` with `stdin` (`/dev/null` when `None`), killing it if it has not finished within `timeout`.
pub fn run_with_deadline(command: &mut Command, stdin: Option<File>, timeout: Duration) -> Result<Finished, RunError> {
    let stdin = stdin.map_or_else(Stdio::null, Stdio::from);
    let child = command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| RunError::Spawn(error.to_string()))?;
    wait_with_deadline(child, Instant::now() + timeout).ok_or(RunError::Timeout)
}

/// Collects a child's output and status, killing it if it is not done by `deadline`.
fn wait_with_deadline(mut child: Child, deadline: Instant) -> Option<Finished> {
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let stdout = stdout.recv_timeout(remaining()).ok();
    let stderr = stdout.as_ref().and_then(|_| stderr.recv_timeout(remaining()).ok());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) if stderr.is_some() => break Some(status),
            Ok(None) if Instant::now() < deadline && stderr.is_some() => std::thread::sleep(Duration::from_millis(1)),
            _ => break None,
        }
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    };
    Some(Finished {
        success: status.success(),
        code: status.code(),
        stdout: stdout.unwrap_or_default(),
        stderr: stderr.unwrap_or_default(),
    })
}

fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}
