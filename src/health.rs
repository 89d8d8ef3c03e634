//! A service's health from Cabourotte's answers: healthy if and only if every one of its checks passed.
//!
//! Anything short of a reported success counts against the service, as in the original anycastd: a failing
//! check, a check Cabourotte has no result for, and a Cabourotte that could not be asked. Pure: no I/O.

use crate::cabourotte::Answers;
use crate::config::{CabourotteUrl, Service};

/// The verdict on one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckStatus {
    /// Cabourotte reported success.
    Passing,
    /// Cabourotte reported a failure with this message.
    Failing(String),
    /// Cabourotte answered but had no result for the check (an unknown check, or one that has not run yet).
    NoResult,
    /// Cabourotte could not be asked, for this reason.
    Unavailable(String),
}

/// One check of a service and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckVerdict {
    /// The check's name in Cabourotte.
    pub name: String,
    /// The Cabourotte that was asked.
    pub url: CabourotteUrl,
    /// What it said.
    pub status: CheckStatus,
}

impl CheckVerdict {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.status == CheckStatus::Passing
    }

    /// Why the check passed or not, in words for the operator.
    pub fn reason(&self) -> String {
        match &self.status {
            CheckStatus::Passing => "success".to_string(),
            CheckStatus::Failing(message) => message.clone(),
            CheckStatus::NoResult => format!(
                "Cabourotte at {} has no result for this check (unknown check, or it has not run yet)",
                self.url
            ),
            CheckStatus::Unavailable(reason) => format!("Cabourotte at {} could not be asked: {reason}", self.url),
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

    /// The checks that did not pass.
    pub fn failures(&self) -> impl Iterator<Item = &CheckVerdict> {
        self.checks.iter().filter(|check| !check.passed())
    }
}

/// Judges `service` from the answers of its Cabourotte URLs.
pub fn evaluate(service: &Service, answers: &Answers) -> ServiceHealth {
    let checks = service
        .checks
        .iter()
        .map(|check| {
            let status = match answers.get(&check.url) {
                None => CheckStatus::Unavailable("it was not asked".into()),
                Some(Err(reason)) => CheckStatus::Unavailable(reason.clone()),
                Some(Ok(results)) => match results.get(&check.name) {
                    None => CheckStatus::NoResult,
                    Some(result) if result.success => CheckStatus::Passing,
                    Some(result) => CheckStatus::Failing(result.message.clone()),
                },
            };
            CheckVerdict { name: check.name.clone(), url: check.url.clone(), status }
        })
        .collect();
    ServiceHealth { checks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cabourotte::parse_result_list;
    use crate::config::Config;

    fn seed() -> Config {
        Config::parse(include_str!("../examples/config.toml"), "seed").expect("valid seed")
    }

    fn answers(config: &Config, answer: Result<&str, &str>) -> Answers {
        let answer = answer.map(|body| parse_result_list(body).expect("valid list")).map_err(str::to_string);
        config.checks().map(|(_, check)| (check.url.clone(), answer.clone())).collect()
    }

    #[test]
    fn a_service_is_healthy_only_when_every_check_passed() {
        let config = seed();
        let answers = answers(&config, Ok(include_str!("../tests/fixtures/cabourotte-result-list.json")));
        let dns = evaluate(&config.services[0], &answers);
        assert!(dns.is_healthy());
        let ntp = evaluate(&config.services[1], &answers);
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
        let empty = evaluate(&config.services[0], &answers(&config, Ok("[]")));
        assert_eq!(empty.checks[0].status, CheckStatus::NoResult);
        assert!(!empty.is_healthy());
        let down = evaluate(&config.services[0], &answers(&config, Err("Connection refused (os error 111)")));
        assert!(!down.is_healthy());
        assert_eq!(
            down.checks[0].reason(),
            "Cabourotte at http://127.0.0.1:9013 could not be asked: Connection refused (os error 111)"
        );
    }
}
