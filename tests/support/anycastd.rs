//! The one way the tests run the anycastd binary, in the spirit of casey/just's `Test`: build the command against a
//! world (a fake [`Env`] or a real FRR [`Lab`]), run it, and declare what must come out:
//!
//! ```ignore
//! env.anycastd(["plan"]).run().code(1).stdout_has("cannot read FRR's running config");
//! lab.anycastd(["apply"]).json().run().success().summary();
//! ```
//!
//! Every failure prints the command, its exit code, its stdout and its stderr, so that a failing test says what the
//! binary did without a rerun.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::env::Env;
use super::lab::Lab;

/// How long one anycastd command may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// An anycastd command about to run (see [`Env::anycastd`], [`Lab::anycastd`]).
pub struct Anycastd {
    command: Command,
    /// The arguments after the world's own (`--configuration`, `--state-dir`), for messages.
    args: Vec<String>,
    /// `--format json`, put before the arguments.
    json: bool,
    /// The most file descriptors the process may have open (`RLIMIT_NOFILE`), when not the test's own.
    open_files: Option<u64>,
    /// Where its stdout and stderr go: files, so that a chatty daemon never blocks on a full pipe, and what it
    /// printed can be read while it runs.
    dir: PathBuf,
    /// The world's temporary paths and addresses, replaced in the output by stable placeholders (`[DIR]`).
    placeholders: Vec<(String, String)>,
}

impl Anycastd {
    /// `anycastd --configuration CONFIG --state-dir STATE` of the fake world, under the C.UTF-8 locale with no
    /// `ANYCASTD_*` or `NO_COLOR` from the test's environment; its output with `[DIR]` and `[CABOUROTTE]` for the
    /// world's temporary directory and the fake Cabourotte's address.
    pub fn new(env: &Env) -> Anycastd {
        let mut command = Command::new(env!("CARGO_BIN_EXE_anycastd"));
        command
            .arg("--configuration")
            .arg(env.config_path())
            .arg("--state-dir")
            .arg(env.state_dir())
            .env_remove("ANYCASTD_CONFIG")
            .env_remove("ANYCASTD_STATE_DIR")
            .env_remove("NO_COLOR");
        // Error reports are drawn in Unicode only under a UTF-8 locale (src/locale.rs): every test sees the same one,
        // whatever the machine running it has.
        command.env("LANG", "C.UTF-8").env_remove("LC_ALL").env_remove("LC_CTYPE").env_remove("TERM");
        let placeholders = vec![
            (env.dir.display().to_string(), "[DIR]".to_string()),
            (format!("127.0.0.1:{}", env.cabourotte.port()), "[CABOUROTTE]".to_string()),
        ];
        Anycastd::with(command, env.dir.clone(), placeholders)
    }

    /// `anycastd -c CONFIG --state-dir STATE` of a lab, without colours, reading nothing from stdin.
    pub fn in_lab(lab: &Lab) -> Anycastd {
        let mut command = Command::new(env!("CARGO_BIN_EXE_anycastd"));
        command.arg("-c").arg(lab.config_path()).arg("--state-dir").arg(lab.state_dir());
        command.env("NO_COLOR", "1");
        Anycastd::with(command, lab.dir().to_path_buf(), Vec::new())
    }

    fn with(command: Command, dir: PathBuf, placeholders: Vec<(String, String)>) -> Anycastd {
        Anycastd { command, args: Vec::new(), json: false, open_files: None, dir, placeholders }
    }

    /// Runs it inside network namespace `ns` (`ip netns exec NS anycastd ...`), as on a node, where anycastd shares
    /// the routing daemon's namespace: the addresses it puts on an interface land on the interface that daemon sees,
    /// never on the machine running the tests. Its vtysh wrapper and BIRD's control socket are files, reached from
    /// any namespace.
    pub fn in_namespace(mut self, ns: &str) -> Self {
        self.command = in_namespace(&self.command, ns);
        self
    }

    /// Adds arguments (a command and its options, or global options before it).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args.extend(args.into_iter().map(|arg| arg.as_ref().to_string()));
        self
    }

    /// Sets an environment variable of the process.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    /// Adds `--format json` (before the command).
    pub fn json(mut self) -> Self {
        self.json = true;
        self
    }

    /// Runs it with at most `limit` open file descriptors, as a unit's `LimitNOFILE=` would (its vtysh children
    /// inherit the limit).
    pub fn open_files(mut self, limit: u64) -> Self {
        self.open_files = Some(limit);
        self
    }

    /// The command line, for messages: `anycastd --format json apply`.
    fn shown(&self) -> String {
        format!("anycastd{} {}", if self.json { " --format json" } else { "" }, self.args.join(" "))
    }

    /// The process's command, with every argument, limit and variable, to be run by a wrapper (`setpriv`,
    /// `unshare`); [`Run::of`] reads what the wrapped command printed.
    pub fn command(mut self) -> Command {
        self.finish_command();
        self.command
    }

    fn finish_command(&mut self) {
        if let Some(limit) = self.open_files {
            use std::os::unix::process::CommandExt;
            let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            // SAFETY: between fork and exec the closure only calls setrlimit, which is async-signal-safe.
            unsafe {
                self.command.pre_exec(move || match libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                });
            }
        }
        if self.json {
            self.command.args(["--format", "json"]);
        }
        self.command.args(&self.args);
    }

    /// Runs it to completion (the test fails after a minute) and returns what it did, with the world's
    /// placeholders in its output.
    #[track_caller]
    pub fn run(self) -> Run {
        let placeholders = self.placeholders.clone();
        let mut run = self.spawn().wait(DEADLINE);
        run.stdout = replace(&placeholders, &run.stdout);
        run.stderr = replace(&placeholders, &run.stderr);
        run
    }

    /// Starts it in the background (`run`, or a command that must wait for something); the process is killed if
    /// the [`Running`] is dropped first. What it prints is kept as printed, without placeholders.
    pub fn spawn(mut self) -> Running {
        let shown = self.shown();
        self.finish_command();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let stdout = self.dir.join(format!("anycastd-{n}.stdout"));
        let stderr = self.dir.join(format!("anycastd-{n}.stderr"));
        self.command.stdin(Stdio::null());
        self.command.stdout(fs::File::create(&stdout).expect("create a stdout file"));
        self.command.stderr(fs::File::create(&stderr).expect("create a stderr file"));
        let child = self.command.spawn().expect("start the anycastd binary");
        Running { child: Some(child), command: shown, stdout, stderr }
    }
}

/// `command` (program, arguments, environment) run inside network namespace `ns` by `ip netns exec`, which
/// execs it there: the process started is the command itself, in that namespace.
pub fn in_namespace(command: &Command, ns: &str) -> Command {
    let mut wrapped = Command::new("ip");
    wrapped.args(["netns", "exec", ns]).arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

/// `text` with the world's placeholders (see [`Anycastd::new`]).
pub fn normalize(env: &Env, text: &str) -> String {
    replace(&Anycastd::new(env).placeholders, text)
}

fn replace(placeholders: &[(String, String)], text: &str) -> String {
    placeholders.iter().fold(text.to_string(), |text, (from, to)| text.replace(from, to))
}

/// An anycastd process started by [`Anycastd::spawn`]; killed when dropped, so a failing test leaves nothing running.
pub struct Running {
    child: Option<Child>,
    command: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Running {
    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.exited().is_none() && self.child.is_some()
    }

    /// Its exit code if it has exited (`-1`: killed by a signal), `None` while it runs.
    pub fn exited(&mut self) -> Option<i32> {
        let child = self.child.as_mut()?;
        child.try_wait().ok().flatten().map(|status| status.code().unwrap_or(-1))
    }

    /// Sends `signal` (`"TERM"`, `"HUP"`, ...) and lets it run on.
    #[track_caller]
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status();
        assert!(sent.is_ok_and(|status| status.success()), "kill -{signal} {}", self.pid());
    }

    /// Kills it with SIGKILL, as the OOM killer or a crash would, and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `signal` and waits for the exit (a minute at most).
    #[track_caller]
    pub fn stop(self, signal: &str) -> Run {
        self.signal(signal);
        self.wait(DEADLINE)
    }

    /// Sends SIGTERM and waits for the exit.
    #[track_caller]
    pub fn terminate(self, deadline: Duration) -> Run {
        self.signal("TERM");
        self.wait(deadline)
    }

    /// Waits for the exit; after `deadline` kills it and fails the test with what it printed so far.
    #[track_caller]
    pub fn wait(mut self, deadline: Duration) -> Run {
        self.exit_within(deadline).unwrap_or_else(|| {
            let (stdout, stderr) = self.printed();
            panic!(
                "`{}` did not exit within {deadline:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                self.command
            )
        })
    }

    /// Waits up to `deadline` for it to exit by itself: what it did, or `None` if it still runs.
    pub fn exit_within(&mut self, deadline: Duration) -> Option<Run> {
        let started = Instant::now();
        loop {
            if let Some(code) = self.exited() {
                self.child = None;
                let (stdout, stderr) = self.printed();
                return Some(Run { command: self.command.clone(), code, stdout, stderr });
            }
            if started.elapsed() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn printed(&self) -> (String, String) {
        let read = |path: &Path| fs::read_to_string(path).unwrap_or_default();
        (read(&self.stdout), read(&self.stderr))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                let (stdout, stderr) = self.printed();
                eprintln!(
                    "`{}` was still running when the test failed; it printed:\n--- stdout ---\n{stdout}\n--- stderr \
                     ---\n{stderr}",
                    self.command
                );
            }
        }
    }
}

/// What one run of the binary did, and the assertions on it. Each assertion returns the run, so that they chain
/// (`env.anycastd(["plan"]).run().code(1).stdout_has("...")`): [`Run::code`] gives the run back, to keep, and the
/// assertions on its output borrow it. Each failure shows the command, its exit code and everything it printed.
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// Its exit code (`-1`: killed by a signal).
    pub code: i32,
    /// Its stdout, with the world's temporary paths and ports replaced by placeholders.
    pub stdout: String,
    /// Its stderr, likewise.
    pub stderr: String,
}

/// The counts of anycastd's JSON `summary` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Prefixes to announce / announced.
    pub announce: u64,
    /// Prefixes to withdraw / withdrawn.
    pub withdraw: u64,
    /// Prefixes already as they should be.
    pub unchanged: u64,
    /// Prefixes that could not be handled.
    pub errors: u64,
}

impl Run {
    /// What `command` (one of [`Anycastd::command`], perhaps wrapped) did, with `env`'s placeholders.
    pub fn of(env: &Env, command: &Command, output: &std::process::Output) -> Run {
        Run {
            command: format!("{command:?}"),
            code: output.status.code().unwrap_or(-1),
            stdout: normalize(env, &String::from_utf8_lossy(&output.stdout)),
            stderr: normalize(env, &String::from_utf8_lossy(&output.stderr)),
        }
    }

    /// The same run with `env`'s placeholders in its output (for one that was [`Anycastd::spawn`]ed).
    pub fn normalized(self, env: &Env) -> Run {
        Run { stdout: normalize(env, &self.stdout), stderr: normalize(env, &self.stderr), ..self }
    }

    /// Fails unless it exited with `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert!(self.code == code, "expected exit code {code}\n{self}");
        self
    }

    /// Fails unless it exited with 0.
    #[track_caller]
    pub fn success(self) -> Self {
        self.code(0)
    }

    /// Fails unless stdout contains `text`.
    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(self.stdout.contains(text), "expected stdout to contain {text:?}\n{self}");
        self
    }

    /// Fails unless stderr contains `text`.
    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "expected stderr to contain {text:?}\n{self}");
        self
    }

    /// Fails if stdout contains `text`.
    #[track_caller]
    pub fn stdout_lacks(&self, text: &str) -> &Self {
        assert!(!self.stdout.contains(text), "expected stdout not to contain {text:?}\n{self}");
        self
    }

    /// Fails if stderr contains `text`.
    #[track_caller]
    pub fn stderr_lacks(&self, text: &str) -> &Self {
        assert!(!self.stderr.contains(text), "expected stderr not to contain {text:?}\n{self}");
        self
    }

    /// Fails unless stdout is exactly `text`.
    #[track_caller]
    pub fn stdout_is(&self, text: &str) -> &Self {
        assert!(self.stdout == text, "expected stdout to be exactly\n{text}\n{self}");
        self
    }

    /// Fails unless stderr is exactly `text`.
    #[track_caller]
    pub fn stderr_is(&self, text: &str) -> &Self {
        assert!(self.stderr == text, "expected stderr to be exactly\n{text}\n{self}");
        self
    }

    /// stdout and stderr together (for "the output names X" assertions).
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }

    /// The JSON `summary` counts.
    #[track_caller]
    pub fn summary(&self) -> Summary {
        Summary {
            announce: self.count("announce"),
            withdraw: self.count("withdraw"),
            unchanged: self.count("unchanged"),
            errors: self.count("errors"),
        }
    }

    /// One count of the JSON `summary` (`"drain"`, `"restore"`, ...).
    #[track_caller]
    pub fn count(&self, key: &str) -> u64 {
        self.json()["summary"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("no count summary.{key} in the JSON output\n{self}"))
    }

    /// The object anycastd reports for `prefix` (in any VRF) in its JSON output, with or without a length
    /// (`current`, `route_map`, `action`, `error`, ...).
    #[track_caller]
    pub fn prefix(&self, prefix: &str) -> Value {
        let json = self.json();
        let bare = prefix.split('/').next().unwrap_or(prefix);
        json["services"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["prefixes"].as_array().into_iter().flatten())
            .find(|p| p["prefix"].as_str().is_some_and(|q| q == prefix || q == bare))
            .cloned()
            .unwrap_or_else(|| panic!("no prefix {prefix} in the JSON output\n{self}"))
    }

    /// The `action` anycastd reports for `prefix` (in any VRF) in its JSON output, with or without a length.
    #[track_caller]
    pub fn action(&self, prefix: &str) -> String {
        let found = self.prefix(prefix);
        found["action"]
            .as_str()
            .unwrap_or_else(|| panic!("no action for {prefix} in the JSON output\n{self}"))
            .to_string()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code =
            if self.code == -1 { "killed by a signal".to_string() } else { format!("exited with {}", self.code) };
        write!(f, "`{}` {code}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.command, self.stdout, self.stderr)
    }
}

/// The same as [`Display`](std::fmt::Display): `{run:?}` in a message shows the output as it was printed.
impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
