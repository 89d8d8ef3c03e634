//! The run lock: one process at a time changes FRR.
//!
//! Every command that changes FRR holds an exclusive lock on `lock` in the state directory for its whole
//! read-diff-apply pass, so a timer-driven `apply` and a human's `withdraw-all` never interleave their reads and
//! writes. The holder writes its PID and command into the file, so a process that gives up can name it.

use std::fs::{File, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

use crate::state::StateDir;

/// The lock file's name inside the state directory.
const LOCK_FILE: &str = "lock";

/// How often a waiting process tries again.
const RETRY_EVERY: Duration = Duration::from_millis(50);

/// The most of the holder's note that is read back: the note is one short line.
const NOTE_LIMIT: u64 = 4096;

/// A held lock; released when dropped (or when the process dies: the kernel releases it).
#[derive(Debug)]
pub(crate) struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `state_dir` for `command`, waiting up to `timeout` for another holder to finish.
    pub(crate) fn acquire(state_dir: &StateDir, command: &str, timeout: Duration) -> io::Result<RunLock> {
        let path = state_dir.file(LOCK_FILE);
        let mut file = state_dir
            .open_lock(LOCK_FILE)
            .map_err(|error| io::Error::other(format!("cannot open the lock {}: {error}", path.display())))?;
        let deadline = Instant::now() + timeout;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(RETRY_EVERY),
                Err(TryLockError::WouldBlock) => {
                    return Err(io::Error::other(format!(
                        "another anycastd holds the lock {} ({}); gave up after {}",
                        path.display(),
                        holder(&mut file),
                        crate::config::describe(timeout)
                    )));
                }
                Err(TryLockError::Error(error)) => {
                    return Err(io::Error::other(format!("cannot lock {}: {error}", path.display())));
                }
            }
        }
        // A lock opened read-only (another user's file, a read-only file system) gets no note; locking needs none.
        let about = format!("pid {} running `anycastd {command}`", std::process::id());
        // Loop mode takes the lock every pass with the same note: rewriting it each time costs a truncation, which
        // ext4 follows with a flush of the file at close, the dearest thing an idle pass did.
        if holder(&mut file) != about {
            let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(about.as_bytes()));
        }
        Ok(RunLock { _file: file })
    }
}

/// What the current holder wrote about itself.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0)).and_then(|_| file.take(NOTE_LIMIT).read_to_string(&mut text));
    if text.trim().is_empty() { "holder unknown".to_string() } else { text.trim().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_then_names_the_holder() {
        let dir = std::env::temp_dir().join(format!("anycastd-lock-{}", std::process::id()));
        let state_dir = StateDir::create(&dir).expect("state dir");
        let held = RunLock::acquire(&state_dir, "apply", Duration::from_secs(1)).expect("first lock");
        let started = Instant::now();
        let error = RunLock::acquire(&state_dir, "withdraw-all", Duration::from_millis(200)).expect_err("second lock");
        assert!(started.elapsed() >= Duration::from_millis(200));
        let error = error.to_string();
        assert!(error.contains(&format!("(pid {} running `anycastd apply`)", std::process::id())), "{error}");
        assert!(error.ends_with("gave up after 200 ms"), "{error}");
        drop(held);
        assert!(RunLock::acquire(&state_dir, "resume", Duration::from_millis(200)).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_note_is_rewritten_only_when_it_changes_and_then_whole() {
        let dir = std::env::temp_dir().join(format!("anycastd-lock-note-{}", std::process::id()));
        let state_dir = StateDir::create(&dir).expect("state dir");
        drop(RunLock::acquire(&state_dir, "withdraw-all", Duration::from_secs(1)).expect("first"));
        drop(RunLock::acquire(&state_dir, "run", Duration::from_secs(1)).expect("second"));
        let note = std::fs::read_to_string(dir.join(LOCK_FILE)).expect("the note");
        assert_eq!(note, format!("pid {} running `anycastd run`", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
