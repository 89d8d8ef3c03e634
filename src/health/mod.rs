//! A service's health from Cabourotte's answers and its commands' results: healthy if and only if every one of its
//! checks passed.
//!
//! Anything short of a reported success counts against the service, as in the original anycastd: a failing
//! check, a check Cabourotte has no result for, and a Cabourotte that could not be asked (or a command that ended in
//! a checker error). Pure: no I/O.

pub mod cabourotte;
pub mod exec;
pub mod preflight;

use crate::health::cabourotte::{Answers, Unreadable};
use crate::health::exec::ExecResults;
use std::time::Duration;

use crate::config::{CabourotteUrl, Service};

/// The verdict on one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckStatus {
    /// Cabourotte reported success.
    Passing,
    /// Cabourotte reported a failure with this message.
    Failing(String),
    /// Cabourotte answered but had no result for the check (an unknown check, or one that has not run yet). The
    /// entries of its answer whose name could not be read are described: one of them may be this check's.
    NoResult(Unreadable),
    /// The result is older than the check's `max_age`, or dated too far ahead of this host's clock to be judged.
    Stale {
        /// How old it is.
        age: Age,
        /// The allowed age.
        max_age: Duration,
    },
    /// Cabourotte could not be asked, for this reason.
    Unavailable(String),
}

/// How old a result is, by its `healthcheck-timestamp` and this host's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Age {
    /// This many seconds old.
    Seconds(u64),
    /// Dated this many seconds after this host's clock, more than [`FUTURE_SKEW`] allows.
    Ahead(u64),
    /// A passing result without a timestamp: its age cannot be known.
    Unknown,
}

/// How far ahead of this host's clock a result may be dated and still count as fresh: two clocks synchronised by
/// NTP differ by far less. Beyond it, the age of the result cannot be told: a Cabourotte frozen with its clock ahead,
/// or this host's clock stepped back, would otherwise have its last result look fresh until the clocks meet again,
/// and `max_age` could not catch it.
pub const FUTURE_SKEW: u64 = 5;

/// What a service's checks say as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Every check passed.
    Healthy,
    /// At least one check failed, had no result, or had a stale one.
    Unhealthy,
    /// No check failed, but Cabourotte could not be asked for at least one: the service's health is unknown.
    CheckerUnavailable,
}

/// Where a check's verdict comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckSource {
    /// The Cabourotte at this URL.
    Cabourotte(CabourotteUrl),
    /// A command of `checks.exec`.
    Exec,
}

/// One check of a service and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckVerdict {
    /// The check's name (in Cabourotte, or of its `checks.exec` entry).
    pub name: String,
    /// Who was asked.
    pub source: CheckSource,
    /// What it said.
    pub status: CheckStatus,
}

impl CheckVerdict {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.status == CheckStatus::Passing
    }

    /// Its type in reports: `cabourotte` or `exec`.
    pub fn kind(&self) -> &'static str {
        match self.source {
            CheckSource::Cabourotte(_) => "cabourotte",
            CheckSource::Exec => "exec",
        }
    }

    /// Why the check passed or not, in words for the operator.
    pub fn reason(&self) -> String {
        let url = match &self.source {
            CheckSource::Cabourotte(url) => url,
            CheckSource::Exec => return self.exec_reason(),
        };
        match &self.status {
            CheckStatus::Passing => "success".to_string(),
            CheckStatus::Failing(message) => message.clone(),
            CheckStatus::NoResult(unreadable) if unreadable.is_empty() => {
                format!("Cabourotte at {url} has no result for this check (unknown check, or it has not run yet)")
            }
            CheckStatus::NoResult(unreadable) => format!(
                "Cabourotte at {url} has no result for this check; some entries of its answer have no readable name, \
                 and one may be this check's: {unreadable}"
            ),
            CheckStatus::Stale { age: Age::Seconds(age), max_age } => {
                format!("stale result (age {age} s > max_age {})", crate::config::describe(*max_age))
            }
            CheckStatus::Stale { age: Age::Ahead(ahead), .. } => format!(
                "stale result: it is dated {ahead} s ahead of this host's clock (more than the {FUTURE_SKEW} s \
                 allowed), so its age cannot be told: a Cabourotte whose clock runs ahead, or this host's clock \
                 stepped back"
            ),
            CheckStatus::Stale { age: Age::Unknown, max_age } => format!(
                "stale result: it has no healthcheck-timestamp, so it cannot be shown younger than max_age {}",
                crate::config::describe(*max_age)
            ),
            CheckStatus::Unavailable(reason) => format!("Cabourotte at {url} could not be asked: {reason}"),
        }
    }

    /// [`CheckVerdict::reason`] for a command check.
    fn exec_reason(&self) -> String {
        match &self.status {
            CheckStatus::Passing => "success".to_string(),
            CheckStatus::Failing(message) => message.clone(),
            CheckStatus::NoResult(_) => "no result for this command check (it was not run, or the health file has \
                                         no entry of its name)"
                .to_string(),
            CheckStatus::Stale { .. } => "stale result".to_string(),
            CheckStatus::Unavailable(reason) => format!("checker error: {reason}"),
        }
    }
}

/// The health of one service: the verdict on each of its checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceHealth {
    /// Every check of the service, in config order.
    pub checks: Vec<CheckVerdict>,
}

impl ServiceHealth {
    /// Healthy if and only if every check passed.
    pub fn is_healthy(&self) -> bool {
        self.checks.iter().all(CheckVerdict::passed)
    }

    /// The service's condition: a failing check outweighs a Cabourotte that could not be asked.
    pub fn condition(&self) -> Condition {
        let unavailable = |check: &&CheckVerdict| matches!(check.status, CheckStatus::Unavailable(_));
        match (self.failures().filter(|check| !unavailable(check)).count(), self.failures().filter(unavailable).count())
        {
            (0, 0) => Condition::Healthy,
            (0, _) => Condition::CheckerUnavailable,
            _ => Condition::Unhealthy,
        }
    }

    /// Who could not give a verdict, in words for the operator: Cabourotte, an exec check, or both kinds.
    pub fn checker_trouble(&self) -> &'static str {
        let unavailable = self.checks.iter().filter(|check| matches!(check.status, CheckStatus::Unavailable(_)));
        let (exec, cabourotte): (Vec<&CheckVerdict>, Vec<&CheckVerdict>) =
            unavailable.partition(|check| check.source == CheckSource::Exec);
        match (cabourotte.is_empty(), exec.is_empty()) {
            (true, false) => "an exec check ended in a checker error",
            (false, false) => "Cabourotte could not be asked, and an exec check ended in a checker error",
            _ => "Cabourotte could not be asked",
        }
    }

    /// The checks that did not pass.
    pub fn failures(&self) -> impl Iterator<Item = &CheckVerdict> {
        self.checks.iter().filter(|check| !check.passed())
    }
}

/// Judges `service` from the answers of its Cabourotte URLs and the results of its commands (`exec`). With `now` (Unix
/// seconds), results older than their check's `max_age` are stale; without it (offline plans), age is not judged.
pub fn evaluate(service: &Service, answers: &Answers, exec: &ExecResults, now: Option<i64>) -> ServiceHealth {
    let commands = service.exec.iter().map(|check| CheckVerdict {
        name: check.name.clone(),
        source: CheckSource::Exec,
        status: exec
            .get(&exec::key(service, check))
            .cloned()
            .unwrap_or_else(|| CheckStatus::NoResult(Unreadable::default())),
    });
    let checks = service
        .checks
        .iter()
        .map(|check| {
            let status = match answers.get(&check.url) {
                None => CheckStatus::Unavailable("it was not asked".into()),
                Some(Err(reason)) => CheckStatus::Unavailable(reason.clone()),
                Some(Ok(results)) => match results.get(&check.name) {
                    None => CheckStatus::NoResult(results.unreadable().clone()),
                    Some(result) if !result.success => CheckStatus::Failing(result.message.clone()),
                    Some(result) => match staleness(result.timestamp, check.max_age, now) {
                        Some(age) => CheckStatus::Stale { age, max_age: check.max_age.unwrap_or_default() },
                        None => CheckStatus::Passing,
                    },
                },
            };
            CheckVerdict { name: check.name.clone(), source: CheckSource::Cabourotte(check.url.clone()), status }
        })
        .chain(commands)
        .collect();
    ServiceHealth { checks }
}

/// The age of a result, when it is too old for `max_age` or cannot be judged. A passing result without a
/// timestamp, or dated more than [`FUTURE_SKEW`] ahead of `now`, cannot be shown fresh and is stale whenever a
/// `max_age` applies.
fn staleness(timestamp: Option<i64>, max_age: Option<Duration>, now: Option<i64>) -> Option<Age> {
    let (max_age, now) = (max_age?, now?);
    let Some(timestamp) = timestamp else { return Some(Age::Unknown) };
    let age = i128::from(now) - i128::from(timestamp);
    if age < 0 {
        let ahead = u64::try_from(-age).unwrap_or(u64::MAX);
        return (ahead > FUTURE_SKEW).then_some(Age::Ahead(ahead));
    }
    let age = u64::try_from(age).unwrap_or(u64::MAX);
    (age as f64 > max_age.as_secs_f64()).then_some(Age::Seconds(age))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::health::cabourotte::parse_result_list;

    fn seed() -> Config {
        Config::parse(include_str!("../../examples/config.toml"), "seed").expect("valid seed")
    }

    fn answers(config: &Config, answer: Result<&str, &str>) -> Answers {
        let answer = answer.map(|body| parse_result_list(body, &|_| true).expect("valid list")).map_err(str::to_string);
        config.checks().map(|(_, check)| (check.url.clone(), answer.clone())).collect()
    }

    #[test]
    fn a_service_is_healthy_only_when_every_check_passed() {
        let config = seed();
        let answers = answers(&config, Ok(include_str!("../../tests/fixtures/cabourotte-result-list.json")));
        let dns = evaluate(&config.services[0], &answers, &ExecResults::new(), None);
        assert!(dns.is_healthy());
        let ntp = evaluate(&config.services[1], &answers, &ExecResults::new(), None);
        assert!(!ntp.is_healthy());
        let failed: Vec<_> = ntp.failures().map(|c| (c.name.as_str(), c.reason())).collect();
        assert_eq!(
            failed,
            [(
                "ntp_v4",
                "Command failed: exit status 1, output: no server suitable for synchronization found".to_string()
            )]
        );
    }

    #[test]
    fn a_missing_result_or_an_unreachable_cabourotte_is_unhealthy() {
        let config = seed();
        let empty = evaluate(&config.services[0], &answers(&config, Ok("[]")), &ExecResults::new(), None);
        assert_eq!(empty.checks[0].status, CheckStatus::NoResult(Unreadable::default()));
        assert!(!empty.is_healthy());
        let down = evaluate(
            &config.services[0],
            &answers(&config, Err("Connection refused (os error 111)")),
            &ExecResults::new(),
            None,
        );
        assert!(!down.is_healthy());
        assert_eq!(
            down.checks[0].reason(),
            "Cabourotte at http://127.0.0.1:9013 could not be asked: Connection refused (os error 111)"
        );
    }

    #[test]
    fn results_older_than_max_age_are_stale() {
        let mut config = seed();
        config.services[0].checks[0].max_age = Some(Duration::from_secs(30));
        let body = r#"[{"name": "dns", "success": true, "healthcheck-timestamp": 1000}]"#;
        let answers = answers(&config, Ok(body));
        let fresh = evaluate(&config.services[0], &answers, &ExecResults::new(), Some(1030));
        assert!(fresh.is_healthy());
        let stale = evaluate(&config.services[0], &answers, &ExecResults::new(), Some(1047));
        assert_eq!(stale.checks[0].reason(), "stale result (age 47 s > max_age 30 s)");
        assert_eq!(stale.condition(), Condition::Unhealthy);
        assert!(
            evaluate(&config.services[0], &answers, &ExecResults::new(), None).is_healthy(),
            "offline plans do not judge age"
        );
    }

    #[test]
    fn a_result_dated_ahead_of_the_clock_is_fresh_only_within_the_skew() {
        let mut config = seed();
        config.services[0].checks[0].max_age = Some(Duration::from_secs(30));
        let body = r#"[{"name": "dns", "success": true, "healthcheck-timestamp": 1000}]"#;
        let answers = answers(&config, Ok(body));
        assert!(
            evaluate(&config.services[0], &answers, &ExecResults::new(), Some(995)).is_healthy(),
            "5 s of skew is allowed"
        );
        let ahead = evaluate(&config.services[0], &answers, &ExecResults::new(), Some(994));
        assert_eq!(ahead.checks[0].status, CheckStatus::Stale { age: Age::Ahead(6), max_age: Duration::from_secs(30) });
        assert_eq!(
            ahead.checks[0].reason(),
            "stale result: it is dated 6 s ahead of this host's clock (more than the 5 s allowed), so its age cannot \
             be told: a Cabourotte whose clock runs ahead, or this host's clock stepped back"
        );
        assert_eq!(ahead.condition(), Condition::Unhealthy);
        let far = evaluate(&config.services[0], &answers, &ExecResults::new(), Some(i64::MIN));
        let ahead = 1000 - i128::from(i64::MIN);
        assert_eq!(
            far.checks[0].status,
            CheckStatus::Stale { age: Age::Ahead(ahead as u64), max_age: Duration::from_secs(30) },
            "no overflow at the extremes"
        );
        let ancient = evaluate(&config.services[0], &answers, &ExecResults::new(), Some(i64::MAX));
        assert!(matches!(ancient.checks[0].status, CheckStatus::Stale { age: Age::Seconds(_), .. }));
        let mut unlimited = config.clone();
        unlimited.services[0].checks[0].max_age = None;
        assert!(
            evaluate(&unlimited.services[0], &answers, &ExecResults::new(), Some(0)).is_healthy(),
            "no max_age: age is not judged"
        );
    }

    #[test]
    fn a_failure_outweighs_an_unreachable_checker() {
        let mut config = seed();
        let other = crate::config::CabourotteUrl::parse("http://127.0.0.2:9013").expect("url");
        config.services[1].checks[1].url = other.clone();
        let mut answers = answers(&config, Ok(r#"[{"name": "ntp_v6", "success": false, "message": "down"}]"#));
        answers.insert(other, Err("Connection refused".into()));
        assert_eq!(
            evaluate(&config.services[1], &answers, &ExecResults::new(), None).condition(),
            Condition::Unhealthy
        );
        let down =
            |config: &Config| config.checks().map(|(_, c)| (c.url.clone(), Err("refused".to_string()))).collect();
        assert_eq!(
            evaluate(&config.services[1], &down(&config), &ExecResults::new(), None).condition(),
            Condition::CheckerUnavailable
        );
    }
}
