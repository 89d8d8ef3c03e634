//! Where the listener leaves pushed results for the loop of `run`: coalesced, not queued.
//!
//! Only the newest result of each check matters, so the mailbox keeps one per check, and only for the checks the
//! configuration has (the set changes on SIGHUP): its size follows the configuration, whatever clients send and
//! however slow the passes are. Each result's message is cut to [`MESSAGE_BYTES`]. The loop is woken with at most one
//! notification pending: the first result after the loop took the mail sends one; the next ones find it already
//! sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};

use super::Wake;
use crate::health::cabourotte::CheckResult;

/// The most of a pushed result's message kept: it is shown in a log line or a report, and Cabourotte's messages are
/// one line of a few hundred bytes at most.
pub const MESSAGE_BYTES: usize = 1024;

/// Pushed results waiting for the loop, newest per check.
pub struct Mailbox {
    pending: Mutex<Pending>,
    /// A [`Wake::Pushed`] is on its way and the loop has not taken the mail since.
    signalled: AtomicBool,
    wake: Sender<Wake>,
}

struct Pending {
    /// The checks of the configuration: a push about any other is dropped.
    checks: Arc<BTreeSet<String>>,
    results: BTreeMap<String, CheckResult>,
}

impl Mailbox {
    /// An empty mailbox for the configuration's `checks`, waking the loop through `wake`.
    pub fn new(checks: BTreeSet<String>, wake: Sender<Wake>) -> Mailbox {
        let pending = Pending { checks: Arc::new(checks), results: BTreeMap::new() };
        Mailbox { pending: Mutex::new(pending), signalled: AtomicBool::new(false), wake }
    }

    /// The checks a push may be about, for the parser to skip the others without keeping them.
    pub fn checks(&self) -> Arc<BTreeSet<String>> {
        Arc::clone(&self.lock().checks)
    }

    /// Leaves `results`: each one of a configured check replaces the one waiting if it is newer (of two as new, the
    /// failure is kept). Wakes the loop unless a wake is already on its way. Returns how many were kept.
    pub fn post(&self, results: impl IntoIterator<Item = (String, CheckResult)>) -> usize {
        let mut kept = 0;
        {
            let mut pending = self.lock();
            let checks = Arc::clone(&pending.checks);
            for (name, result) in results.into_iter().filter(|(name, _)| checks.contains(name)) {
                let result = bounded(result);
                let newer = pending.results.get(&name).is_none_or(|waiting| replaces(&result, waiting));
                if newer {
                    pending.results.insert(name, result);
                    kept += 1;
                }
            }
        }
        if kept > 0 && !self.signalled.swap(true, Ordering::SeqCst) {
            // The loop may be gone (run is stopping): nothing to wake then.
            let _ = self.wake.send(Wake::Pushed);
        }
        kept
    }

    /// Takes every result waiting. A result left after this wakes the loop again.
    pub fn take(&self) -> BTreeMap<String, CheckResult> {
        self.signalled.store(false, Ordering::SeqCst);
        std::mem::take(&mut self.lock().results)
    }

    /// The configuration's checks changed (SIGHUP): results of checks it no longer has are dropped.
    pub fn set_checks(&self, checks: BTreeSet<String>) {
        let mut pending = self.lock();
        pending.results.retain(|name, _| checks.contains(name));
        pending.checks = Arc::new(checks);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `new` replaces `waiting`: newer, or as new and a failure where `waiting` passed.
fn replaces(new: &CheckResult, waiting: &CheckResult) -> bool {
    new.timestamp > waiting.timestamp || (new.timestamp == waiting.timestamp && waiting.success && !new.success)
}

/// `result` with its message cut to [`MESSAGE_BYTES`] (at a character boundary, with `…`), in a string of its own
/// size: the parsed one may hold a megabyte.
fn bounded(mut result: CheckResult) -> CheckResult {
    if result.message.len() > MESSAGE_BYTES {
        let mut end = MESSAGE_BYTES;
        while !result.message.is_char_boundary(end) {
            end -= 1;
        }
        let mut message = String::with_capacity(end + '…'.len_utf8());
        message.push_str(&result.message[..end]);
        message.push('…');
        result.message = message;
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    fn result(success: bool, timestamp: i64, message: &str) -> CheckResult {
        CheckResult { success, message: message.to_string(), timestamp: Some(timestamp) }
    }

    fn mailbox() -> (Mailbox, mpsc::Receiver<Wake>) {
        let (wake, woken) = mpsc::channel();
        (Mailbox::new(["dns".to_string(), "ntp".to_string()].into(), wake), woken)
    }

    #[test]
    fn only_the_newest_result_of_each_configured_check_waits() {
        let (mailbox, _woken) = mailbox();
        assert_eq!(mailbox.post([("dns".into(), result(false, 10, "a")), ("other".into(), result(false, 10, "x"))]), 1);
        assert_eq!(mailbox.post([("dns".into(), result(true, 9, "older"))]), 0, "an older result changes nothing");
        assert_eq!(mailbox.post([("dns".into(), result(true, 10, "as new"))]), 0, "as new: the failure stays");
        assert_eq!(mailbox.post([("dns".into(), result(true, 11, "newer"))]), 1);
        for n in 0..1000 {
            mailbox.post([("ntp".into(), result(false, 100 + n, "again"))]);
        }
        let taken = mailbox.take();
        assert_eq!(taken.len(), 2, "one per check, however many were pushed");
        assert_eq!(taken["dns"].message, "newer");
        assert_eq!(taken["ntp"].timestamp, Some(1099));
        assert!(mailbox.take().is_empty());
    }

    #[test]
    fn the_loop_is_woken_once_until_it_takes_the_mail() {
        let (mailbox, woken) = mailbox();
        for n in 0..100 {
            mailbox.post([("dns".into(), result(false, n, "x"))]);
        }
        assert_eq!(woken.try_iter().count(), 1, "one wake for a hundred pushes");
        mailbox.take();
        mailbox.post([("dns".into(), result(false, 1000, "x"))]);
        assert_eq!(woken.try_iter().count(), 1, "woken again after the mail was taken");
        mailbox.post([("other".into(), result(false, 2000, "x"))]);
        mailbox.take();
        assert_eq!(woken.try_iter().count(), 0, "nothing kept, nothing to wake for");
    }

    #[test]
    fn a_reload_drops_the_checks_the_configuration_no_longer_has_and_messages_are_bounded() {
        let (mailbox, _woken) = mailbox();
        let long = "é".repeat(MESSAGE_BYTES);
        mailbox.post([("dns".into(), result(false, 1, &long)), ("ntp".into(), result(false, 1, "x"))]);
        mailbox.set_checks(["ntp".to_string()].into());
        let taken = mailbox.take();
        assert_eq!(taken.keys().collect::<Vec<_>>(), ["ntp"]);
        mailbox.set_checks(["dns".to_string()].into());
        mailbox.post([("dns".into(), result(false, 1, &long))]);
        let message = &mailbox.take()["dns"].message;
        assert!(message.len() <= MESSAGE_BYTES + '…'.len_utf8() && message.ends_with('…'), "{}", message.len());
        assert!(message.capacity() < 2 * MESSAGE_BYTES, "not the parsed string's capacity");
        assert!(!mailbox.checks().contains("ntp"));
    }
}
