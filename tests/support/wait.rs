//! The one way the tests wait for something to happen: poll a condition until it holds or a deadline passes, and
//! fail the test saying what it waited for (and, when the caller can tell, the state of the world it waited on).

use std::time::{Duration, Instant};

/// How long [`wait_until`] waits: long enough for a loaded CI machine, short enough to fail a stuck test soon.
pub const DEADLINE: Duration = Duration::from_secs(15);
/// How often [`wait_until`] looks again.
const POLL: Duration = Duration::from_millis(50);

/// Polls `condition` every 50 ms for up to 15 s; fails the test naming `what` otherwise.
#[track_caller]
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    Wait::new(what).until(|| condition().then_some(()));
}

/// A wait with its own deadline, pace or diagnosis; [`Wait::until`] runs it.
pub struct Wait<'a> {
    what: &'a str,
    deadline: Duration,
    poll: Duration,
    diagnosis: Option<Box<dyn Fn() -> String + 'a>>,
}

impl<'a> Wait<'a> {
    /// A wait until `what` (said in the failure: "timed out after 15s waiting until {what}"), 15 s at most.
    pub fn new(what: &'a str) -> Self {
        Wait { what, deadline: DEADLINE, poll: POLL, diagnosis: None }
    }

    /// Gives up after `deadline` instead of 15 s.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Looks again every `poll` instead of every 50 ms.
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Adds what `diagnosis` returns (a running config, a journal, ...) to the failure message.
    pub fn diagnosis(mut self, diagnosis: impl Fn() -> String + 'a) -> Self {
        self.diagnosis = Some(Box::new(diagnosis));
        self
    }

    /// Polls `condition` until it gives a value, and returns it; fails the test after the deadline.
    #[track_caller]
    pub fn until<T>(self, mut condition: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(value) = condition() {
                return value;
            }
            if started.elapsed() > self.deadline {
                let diagnosis =
                    self.diagnosis.as_ref().map(|diagnosis| format!("\n{}", diagnosis())).unwrap_or_default();
                panic!("timed out after {:?} waiting until {}{diagnosis}", self.deadline, self.what);
            }
            std::thread::sleep(self.poll);
        }
    }
}
