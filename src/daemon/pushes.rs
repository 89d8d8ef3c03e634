//! The results Cabourotte's exporter pushed, as loop mode weighs them between polls: a failure newer than anything
//! known may withdraw its services at once, in a pass of its own (at most one per service and interval); a success
//! waits for the poll to confirm it, so that nobody who can reach the port can announce anything. Each pushed failure
//! is kept, and swapped into every poll's answers where newer, until a poll catches up with it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::health::cabourotte::{Answers, CheckResult};
use crate::pass::HealthInput;

/// The pushed failures the polls have not caught up with, and when each service last had a pass made by a push.
#[derive(Debug, Default)]
pub struct Pushes {
    /// Failures pushed by Cabourotte, by check name, until a poll returns something as new.
    failures: BTreeMap<String, CheckResult>,
    /// When each service last had a pass made by a push: at most one per interval.
    passed_at: HashMap<String, Instant>,
}

impl Pushes {
    /// The health of a poll: Cabourotte asked, with the failures it has not caught up with swapped in.
    pub fn poll(&self) -> HealthInput {
        HealthInput::Polled { pushed: self.failures.clone() }
    }

    /// Takes in the pushed `results`, at `now`: a failure of a check of `config` newer than what the last poll
    /// (`polled`) and the earlier pushes said is kept. Returns the health of the pass it should make at once, if any:
    /// the last poll's answers with the failures swapped in, for the services of the new failures that had no such
    /// pass in the last `interval`. Without a poll yet there is nothing to swap them into: the first poll takes them.
    pub fn take(
        &mut self,
        results: impl IntoIterator<Item = (String, CheckResult)>,
        config: &Config,
        polled: Option<&Answers>,
        interval: Duration,
        now: Instant,
    ) -> Option<HealthInput> {
        let configured: BTreeSet<&str> = config.checks().map(|(_, check)| check.name.as_str()).collect();
        let mut fresh_failures = BTreeSet::new();
        for (name, result) in results {
            if result.success || !configured.contains(name.as_str()) || !self.is_news(&name, &result, polled) {
                continue;
            }
            self.failures.insert(name.clone(), result);
            fresh_failures.insert(name);
        }
        let services: BTreeSet<String> = config
            .services
            .iter()
            .filter(|service| service.checks.iter().any(|check| fresh_failures.contains(&check.name)))
            .filter(|service| self.passed_at.get(&service.name).is_none_or(|at| now.duration_since(*at) >= interval))
            .map(|service| service.name.clone())
            .collect();
        let remembered = polled?.clone();
        if services.is_empty() {
            return None;
        }
        for service in &services {
            self.passed_at.insert(service.clone(), now);
        }
        Some(HealthInput::Pushed { remembered, pushed: self.failures.clone(), services })
    }

    /// Whether a pushed `result` of check `name` is newer than the polled and pushed ones known.
    fn is_news(&self, name: &str, result: &CheckResult, polled: Option<&Answers>) -> bool {
        let polled = polled
            .into_iter()
            .flat_map(|answers| answers.values())
            .filter_map(|answer| answer.as_ref().ok().and_then(|list| list.get(name)).map(|known| known.timestamp));
        let pushed = self.failures.get(name).map(|known| known.timestamp);
        polled.chain(pushed).all(|known| result.timestamp > known)
    }

    /// Drops the pushed failures that a poll (`polled`, its answers) has caught up with: Cabourotte's list is the
    /// truth again.
    pub fn caught_up(&mut self, polled: &Answers) {
        self.failures.retain(|name, pushed| {
            !polled.values().any(|answer| {
                answer
                    .as_ref()
                    .ok()
                    .and_then(|list| list.get(name))
                    .is_some_and(|polled| polled.timestamp >= pushed.timestamp)
            })
        });
    }

    /// Keeps only the failures of `checks` (the configuration's, after a SIGHUP).
    pub fn keep_checks(&mut self, checks: &BTreeSet<String>) {
        self.failures.retain(|name, _| checks.contains(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::cabourotte::{self, ResultList};

    const CONFIG: &str = r#"
[services.dns]
prefixes.frrouting = ["203.0.113.53"]
checks.cabourotte = ["dns"]

[services.web]
prefixes.frrouting = ["203.0.113.80"]
checks.cabourotte = ["web"]
"#;

    const INTERVAL: Duration = Duration::from_secs(5);

    fn config() -> Config {
        Config::parse(CONFIG, "test.toml").expect("a valid configuration")
    }

    fn result(success: bool, timestamp: i64) -> (String, CheckResult) {
        ("dns".to_string(), CheckResult { success, message: String::new(), timestamp: Some(timestamp) })
    }

    /// A poll that saw dns healthy at `timestamp`.
    fn polled(config: &Config, timestamp: i64) -> Answers {
        cabourotte::answer_everywhere(config, &ResultList::from_results([result(true, timestamp)]))
    }

    fn services(health: Option<HealthInput>) -> Option<BTreeSet<String>> {
        health.and_then(|health| health.pushed_services())
    }

    #[test]
    fn a_new_failure_makes_a_pass_for_its_service_at_most_once_per_interval() {
        let (config, start) = (config(), Instant::now());
        let polled = polled(&config, 100);
        let mut pushes = Pushes::default();
        let first = pushes.take([result(false, 101)], &config, Some(&polled), INTERVAL, start);
        assert_eq!(services(first), Some(BTreeSet::from(["dns".to_string()])));
        let soon = pushes.take([result(false, 102)], &config, Some(&polled), INTERVAL, start + INTERVAL / 2);
        assert_eq!(services(soon), None, "one pass per service and interval");
        let later = pushes.take([result(false, 103)], &config, Some(&polled), INTERVAL, start + INTERVAL);
        assert_eq!(services(later), Some(BTreeSet::from(["dns".to_string()])));
    }

    #[test]
    fn successes_old_results_and_unknown_checks_make_no_pass() {
        let (config, now) = (config(), Instant::now());
        let polled = polled(&config, 100);
        let mut pushes = Pushes::default();
        let unknown = ("ntp".to_string(), result(false, 101).1);
        let taken =
            pushes.take([result(true, 101), result(false, 100), unknown], &config, Some(&polled), INTERVAL, now);
        assert_eq!(services(taken), None);
        assert!(matches!(pushes.poll(), HealthInput::Polled { pushed } if pushed.is_empty()));
    }

    #[test]
    fn a_failure_waits_for_the_first_poll_and_is_kept_until_a_poll_catches_up() {
        let (config, now) = (config(), Instant::now());
        let mut pushes = Pushes::default();
        assert_eq!(services(pushes.take([result(false, 101)], &config, None, INTERVAL, now)), None);
        assert!(matches!(pushes.poll(), HealthInput::Polled { pushed } if pushed.len() == 1));
        pushes.caught_up(&polled(&config, 100));
        assert!(matches!(pushes.poll(), HealthInput::Polled { pushed } if pushed.len() == 1), "the poll is older");
        pushes.caught_up(&polled(&config, 101));
        assert!(matches!(pushes.poll(), HealthInput::Polled { pushed } if pushed.is_empty()));
    }
}
