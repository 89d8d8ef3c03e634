//! Runs vtysh: always with an argument vector (never a shell), always with a deadline.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{self, RunError};

/// One FRR, reached through its vtysh binary.
#[derive(Clone, Debug)]
pub struct Vtysh {
    path: PathBuf,
    timeout: Duration,
}

/// Why a vtysh call did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VtyshError {
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
}

impl fmt::Display for VtyshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VtyshError::Spawn { path, reason } => write!(f, "cannot run {}: {reason}", path.display()),
            VtyshError::Timeout { path, timeout } => {
                write!(
                    f,
                    "{} did not finish within {} and was stopped",
                    path.display(),
                    crate::render::seconds(*timeout)
                )
            }
            VtyshError::Failed { path, code, output } => {
                let status =
                    code.map_or_else(|| "was killed by a signal".to_string(), |code| format!("exited with {code}"));
                let output = if output.is_empty() { String::new() } else { format!(": {output}") };
                write!(f, "{} {status}{output}", path.display())
            }
            VtyshError::UnsafeCommand(line) => write!(f, "refusing to pass {line:?} to vtysh"),
        }
    }
}

impl std::error::Error for VtyshError {}

impl Vtysh {
    /// A vtysh at `path` whose every call is stopped after `timeout`.
    pub fn new(path: &Path, timeout: Duration) -> Vtysh {
        Vtysh { path: path.to_path_buf(), timeout }
    }

    /// The text of bgpd's `show running-config`. Asking bgpd alone (`-d bgpd`) makes a stopped bgpd an error:
    /// the plain command still succeeds then, without any `router bgp` block, which would read as "no instance".
    pub fn running_config(&self) -> Result<String, VtyshError> {
        self.run(&["-d", "bgpd", "-c", "show running-config"].map(String::from), &[])
    }

    /// Runs `show` commands in one vtysh call and returns what they printed, one after the other.
    pub fn show(&self, commands: &[String]) -> Result<String, VtyshError> {
        if let Some(command) = commands.iter().find(|command| !is_safe_command(command)) {
            return Err(VtyshError::UnsafeCommand(command.clone()));
        }
        let arguments: Vec<String> = commands.iter().flat_map(|command| ["-c".to_string(), command.clone()]).collect();
        self.run(&arguments, &[])
    }

    /// Runs configuration `lines` in one vtysh call, fed on stdin as a configuration file (`-f`): no argument
    /// length limit, and a failing line does not stop the ones after it (vtysh then exits non-zero). Either way the
    /// caller must read the running config again to learn what was applied.
    pub fn configure(&self, lines: &[String]) -> Result<(), VtyshError> {
        if let Some(line) = lines.iter().find(|line| !is_safe_command(line)) {
            return Err(VtyshError::UnsafeCommand(line.clone()));
        }
        let mut input = lines.join("\n");
        input.push('\n');
        self.run(&["-f".to_string(), "/proc/self/fd/0".to_string()], input.as_bytes()).map(drop)
    }

    fn run(&self, arguments: &[String], input: &[u8]) -> Result<String, VtyshError> {
        let mut command = Command::new(&self.path);
        // vtysh appends every `-c` line to $HOME/.history_frr (open, write, chown, close per line) and then cuts the
        // file to its last 1,000 lines: 10,000 changes cost 50,000 system calls, and the operator's own history is
        // gone. Under a HOME that cannot hold the file, each append fails at once and the file is left alone.
        command.env("HOME", "/dev/null");
        command.args(arguments);
        let finished = process::run_with_deadline(&mut command, input, self.timeout).map_err(|error| match error {
            RunError::Spawn(reason) => VtyshError::Spawn { path: self.path.clone(), reason },
            RunError::Timeout => VtyshError::Timeout { path: self.path.clone(), timeout: self.timeout },
        })?;
        if finished.success {
            return Ok(finished.stdout);
        }
        Err(VtyshError::Failed { path: self.path.clone(), code: finished.code, output: failure_text(&finished) })
    }
}

/// What vtysh said about a failure: its stderr and stdout lines, each once, on one line. FRR prints its `% ...`
/// error on stdout (and, in 8.4, on stderr too); with `-f`, stderr also names the failing line.
fn failure_text(finished: &process::Finished) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in finished.stderr.lines().chain(finished.stdout.lines()).map(str::trim) {
        if !line.is_empty() && !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines.join(" / ")
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
    fn a_missing_binary_is_a_spawn_error() {
        let vtysh = Vtysh::new(Path::new("/nonexistent/vtysh"), Duration::from_secs(1));
        assert!(matches!(vtysh.running_config(), Err(VtyshError::Spawn { .. })));
    }

    #[test]
    fn a_hung_vtysh_is_stopped_at_the_deadline() {
        use std::time::Instant;
        let started = Instant::now();
        let hung = Vtysh { path: PathBuf::from("/bin/sleep"), timeout: Duration::from_millis(200) };
        let error = hung.run(&["5".to_string()], &[]);
        assert!(matches!(error, Err(VtyshError::Timeout { .. })), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn vtysh_keeps_no_history_of_our_commands() {
        let shell = Vtysh { path: PathBuf::from("/bin/sh"), timeout: Duration::from_secs(5) };
        assert_eq!(shell.run(&["-c".into(), "echo $HOME".into()], &[]), Ok("/dev/null\n".to_string()));
    }

    #[test]
    fn failures_carry_what_vtysh_printed() {
        let failing = Vtysh { path: PathBuf::from("/bin/sh"), timeout: Duration::from_secs(5) };
        let error = failing.run(&["-c".into(), "echo '% Unknown command: network x' >&2; exit 1".into()], &[]);
        assert_eq!(
            error.map_err(|e| e.to_string()),
            Err("/bin/sh exited with 1: % Unknown command: network x".to_string())
        );
    }
}
