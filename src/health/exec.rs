//! Command checks (`checks.exec`): a program whose exit status is the health, as a Nagios or Icinga plugin's, so that
//! a node without Cabourotte can use the plugins it has.
//!
//! A command is run as an argument vector, never through a shell, with stdin from `/dev/null`, in `/`, with a small
//! fixed environment (nothing of anycastd's own: a unit's or an operator's variables must not change what a check
//! says), in a process group of its own that does not outlive it (see [`process::run_check`]). The checks of one
//! pass run at the same time, [`PARALLEL`] at most, so a pass waits for about its slowest check, not for their sum,
//! and a configuration with hundreds of them does not fork hundreds of processes at once.
//!
//! Exit 0 (OK) passes; 2 (CRITICAL) fails; 1 (WARNING) fails unless the check lets it pass. 3 (UNKNOWN), another
//! status, a signal, the timeout and a command that cannot be started are checker errors, weighed by the service's
//! `on_checker_error` as a Cabourotte that cannot be asked: none of them says the service is down. A program that is
//! not there, or not executable, is a failing check: it will not start working at the next pass by itself.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use super::CheckStatus;
use super::cabourotte::ResultList;
use crate::config::{Config, ExecCheck, Service, describe};
use crate::escape::escape;
use crate::process::{self, Finished};

/// How many commands of one pass run at the same time.
pub const PARALLEL: usize = 8;

/// The longest message taken from a command's output, in characters: a plugin's first line is its summary.
pub const MESSAGE_MAX: usize = 200;

/// How much of each of a command's streams is kept: enough for a first line of [`MESSAGE_MAX`] characters.
const KEPT_OUTPUT: usize = 4096;

/// The only environment a command sees.
const ENVIRONMENT: [(&str, &str); 2] = [("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), ("LC_ALL", "C")];

/// What names a command check: its service and its name (unique within the service).
pub type ExecKey = (String, String);

/// The verdict on each command check that was run (or read from a file).
pub type ExecResults = BTreeMap<ExecKey, CheckStatus>;

/// The key of `check` of `service`.
pub fn key(service: &Service, check: &ExecCheck) -> ExecKey {
    (service.name.clone(), check.name.clone())
}

/// Runs one command check and judges it.
pub fn run(check: &ExecCheck) -> CheckStatus {
    let Some((program, arguments)) = check.command.split_first() else {
        return CheckStatus::Failing("the command is empty".into());
    };
    let mut command = Command::new(program);
    command.args(arguments).env_clear().envs(ENVIRONMENT).current_dir("/");
    match process::run_check(&mut command, check.timeout, KEPT_OUTPUT) {
        Ok(finished) => judge(check, &finished),
        Err(error) if error.kind() == io::ErrorKind::TimedOut => CheckStatus::Unavailable(format!(
            "no result within its timeout of {}: the command and every process it started were killed",
            describe(check.timeout)
        )),
        Err(error) if matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied) => {
            CheckStatus::Failing(format!("cannot run {}: {}", escape(program), crate::os_error::words(&error)))
        }
        Err(error) => {
            CheckStatus::Unavailable(format!("cannot start {}: {}", escape(program), crate::os_error::words(&error)))
        }
    }
}

/// The verdict on a command that ran to its end.
fn judge(check: &ExecCheck, finished: &Finished) -> CheckStatus {
    let said = message(finished);
    let with = |what: String| if said.is_empty() { format!("{what}, no output") } else { format!("{what}: {said}") };
    match (finished.code, finished.signal) {
        (Some(0), _) => CheckStatus::Passing,
        (Some(1), _) if !check.warning_is_failure => CheckStatus::Passing,
        (Some(code @ (1 | 2)), _) => CheckStatus::Failing(with(format!("exit status {code}"))),
        (Some(3), _) => CheckStatus::Unavailable(with("exit status 3 (UNKNOWN)".into())),
        (Some(code), _) => CheckStatus::Unavailable(with(format!("exit status {code}, which no plugin means"))),
        (None, Some(signal)) => CheckStatus::Unavailable(with(format!("killed by signal {signal}"))),
        (None, None) => CheckStatus::Unavailable(with("ended without an exit status".into())),
    }
}

/// The first line of what the command printed on stdout (on stderr when stdout has none), at most
/// [`MESSAGE_MAX`] characters, control characters escaped.
fn message(finished: &Finished) -> String {
    let first = |text: &str| text.lines().map(str::trim).find(|line| !line.is_empty()).map(str::to_string);
    let line = first(&finished.stdout).or_else(|| first(&finished.stderr)).unwrap_or_default();
    let mut short: String = line.chars().take(MESSAGE_MAX).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    escape(&short).into_owned()
}

/// Runs `checks` at the same time, [`PARALLEL`] at most, each within its own timeout.
pub fn run_all<'c>(checks: impl IntoIterator<Item = (&'c Service, &'c ExecCheck)>) -> ExecResults {
    let queue: Vec<(&Service, &ExecCheck)> = checks.into_iter().collect();
    if queue.is_empty() {
        return ExecResults::new();
    }
    let next = Mutex::new(queue.iter());
    let results = Mutex::new(ExecResults::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(queue.len()) {
            scope.spawn(|| {
                loop {
                    let taken = next.lock().map(|mut next| next.next().copied());
                    let Ok(Some((service, check))) = taken else { break };
                    let status = run(check);
                    if let Ok(mut results) = results.lock() {
                        results.insert(key(service, check), status);
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_default()
}

/// Loop mode's memory of the command checks: each one's last verdict and when it ran, so that a command runs at its
/// own `interval` and not at every pass (the loop's passes come at the shortest interval of all checks).
#[derive(Clone, Debug, Default)]
pub struct Remembered {
    results: ExecResults,
    ran: BTreeMap<ExecKey, Instant>,
}

impl Remembered {
    /// The checks of `config` to run at `now`: never run, or run at least their `interval` ago. Half of the loop's
    /// period is allowed early, so that a check whose interval is a multiple of the loop's is not put off by one
    /// period because the previous pass started a little later than its tick.
    pub fn due<'c>(&self, config: &'c Config, now: Instant) -> Vec<(&'c Service, &'c ExecCheck)> {
        let slack = config.shortest_interval() / 2;
        config
            .exec_checks()
            .filter(|(service, check)| match self.ran.get(&key(service, check)) {
                Some(ran) => now.saturating_duration_since(*ran) + slack.min(check.interval / 2) >= check.interval,
                None => true,
            })
            .collect()
    }

    /// What the last run of each check said.
    pub fn results(&self) -> &ExecResults {
        &self.results
    }

    /// Takes in the checks run at `ran` (`fresh`), and forgets those `config` no longer has.
    pub fn learn(&mut self, config: &Config, fresh: &ExecResults, ran: Instant) {
        for (key, status) in fresh {
            self.results.insert(key.clone(), status.clone());
            self.ran.insert(key.clone(), ran);
        }
        let known: std::collections::BTreeSet<ExecKey> =
            config.exec_checks().map(|(service, check)| key(service, check)).collect();
        self.results.retain(|key, _| known.contains(key));
        self.ran.retain(|key, _| known.contains(key));
    }
}

/// A warning for every command check of `config` whose program cannot be run on this host (see
/// [`program_problem`]).
pub fn program_warnings(config: &Config) -> Vec<crate::plan::Warning> {
    config
        .exec_checks()
        .filter_map(|(service, check)| {
            let problem = program_problem(check)?;
            Some(crate::plan::Warning::ExecProgram {
                service: service.name.clone(),
                check: check.name.clone(),
                problem,
            })
        })
        .collect()
}

/// `check --exec`: every command check run once, what it said as a finding. A failing check is a warning (the
/// service would be withdrawn, which may be what the operator is testing); a checker error, or a program that
/// cannot be run, is an error: the check cannot say anything as it is written.
pub fn preflight(config: &Config) -> Vec<crate::finding::Finding> {
    use crate::finding::{Finding, Level};
    let results = run_every(config);
    config
        .exec_checks()
        .map(|(service, check)| {
            let subject = format!("service {}, exec check {}", escape(&service.name), escape(&check.name));
            let verdict = super::CheckVerdict {
                name: check.name.clone(),
                source: super::CheckSource::Exec,
                status: results.get(&key(service, check)).cloned().unwrap_or(CheckStatus::NoResult(Default::default())),
            };
            let (level, code) = match &verdict.status {
                CheckStatus::Passing => (Level::Ok, "exec-passing"),
                CheckStatus::Failing(_) if program_problem(check).is_some() => (Level::Error, "exec-cannot-run"),
                CheckStatus::Failing(_) => (Level::Warning, "exec-failing"),
                _ => (Level::Error, "exec-checker-error"),
            };
            Finding::new(level, code, subject, verdict.reason())
        })
        .collect()
}

/// Every command check of `config`, run now.
pub fn run_every(config: &Config) -> ExecResults {
    run_all(config.exec_checks())
}

/// The results of a `plan --health` file (or `--assume`) for the command checks: each takes the entry of its name.
/// A check the file does not name has no result (see [`super::evaluate`]).
pub fn from_file(config: &Config, results: &ResultList) -> ExecResults {
    config
        .exec_checks()
        .filter_map(|(service, check)| {
            let result = results.get(&check.name)?;
            let status =
                if result.success { CheckStatus::Passing } else { CheckStatus::Failing(result.message.clone()) };
            Some((key(service, check), status))
        })
        .collect()
}

/// Why `check`'s program could not be run as it is now, if it could not: it is not there, not a file, or not
/// executable. A warning for `check` and an offline `plan`, not an error: a CI machine lacks the plugins of the
/// nodes, and one plugin not installed yet must not make the whole configuration invalid.
pub fn program_problem(check: &ExecCheck) -> Option<String> {
    let program = check.command.first()?;
    let shown = escape(program);
    match std::fs::metadata(Path::new(program)) {
        Err(error) => Some(format!("{shown}: {}", crate::os_error::words(&error))),
        Ok(meta) if !meta.is_file() => Some(format!("{shown} is not a file")),
        Ok(meta) if meta.permissions().mode() & 0o111 == 0 => Some(format!("{shown} is not executable")),
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn finished(code: Option<i32>, signal: Option<i32>, stdout: &str) -> Finished {
        Finished { success: code == Some(0), code, signal, stdout: stdout.into(), stderr: String::new() }
    }

    fn check(warning_is_failure: bool) -> ExecCheck {
        ExecCheck {
            name: "dns".into(),
            command: vec!["/bin/true".into()],
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(5),
            warning_is_failure,
        }
    }

    #[test]
    fn exit_statuses_mean_what_they_mean_to_nagios() {
        let strict = check(true);
        assert_eq!(judge(&strict, &finished(Some(0), None, "DNS OK")), CheckStatus::Passing);
        assert_eq!(
            judge(&strict, &finished(Some(2), None, "DNS CRITICAL - no answer\nmore\n")),
            CheckStatus::Failing("exit status 2: DNS CRITICAL - no answer".into())
        );
        assert_eq!(
            judge(&strict, &finished(Some(1), None, "")),
            CheckStatus::Failing("exit status 1, no output".into())
        );
        assert_eq!(judge(&check(false), &finished(Some(1), None, "slow")), CheckStatus::Passing);
        assert_eq!(
            judge(&strict, &finished(Some(3), None, "UNKNOWN - bad args")),
            CheckStatus::Unavailable("exit status 3 (UNKNOWN): UNKNOWN - bad args".into())
        );
        assert_eq!(
            judge(&strict, &finished(None, Some(9), "")),
            CheckStatus::Unavailable("killed by signal 9, no output".into())
        );
    }

    #[test]
    fn the_message_is_one_bounded_escaped_line() {
        let long = format!("{}\n", "x".repeat(500));
        assert_eq!(message(&finished(Some(2), None, &long)).chars().count(), MESSAGE_MAX + 1);
        assert_eq!(message(&finished(Some(2), None, "bad\x1b[31m red\n")), "bad\\u{1b}[31m red");
        let quiet = Finished { stderr: "only on stderr\n".into(), ..finished(Some(2), None, "") };
        assert_eq!(message(&quiet), "only on stderr");
    }
}
