//! The run lock: one process at a time changes FRR.
//!
//! Every command that changes FRR holds an exclusive lock on `lock` in the state directory for its whole
//! read-diff-apply pass, so a timer-driven `apply` and a human's `withdraw-all` never interleave their reads and
//! writes. The holder writes its PID and command into the file, so a process that gives up can name it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The lock file's name inside the state directory.
const LOCK_FILE: &str = "lock";

/// How often a waiting process tries again.
const RETRY_EVERY: Duration = Duration::from_millis(50);

/// A held lock; released when dropped (or when the process dies: the kernel releases it).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `state_dir` for `command`, waiting up to `timeout` for another holder to finish.
    pub fn acquire(state_dir: &Path, command: &str, timeout: Duration) -> Result<RunLock, String> {
        crate::atomic::create_private_dir(state_dir)
            .map_err(|error| format!("cannot create {}: {error}", state_dir.display()))?;
        let path = state_dir.join(LOCK_FILE);
        let mut file =
            open_lock_file(&path).map_err(|error| format!("cannot open the lock {}: {error}", path.display()))?;
        let deadline = Instant::now() + timeout;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(RETRY_EVERY),
                Err(TryLockError::WouldBlock) => {
                    return Err(format!(
                        "another anycastd holds the lock {} ({}); gave up after {}",
                        path.display(),
                        holder(&mut file),
                        crate::render::seconds(timeout)
                    ));
                }
                Err(TryLockError::Error(error)) => return Err(format!("cannot lock {}: {error}", path.display())),
            }
        }
        let about = format!("pid {} running `anycastd {command}`", std::process::id());
        let _ = file.set_len(0).and_then(|()| file.write_all(about.as_bytes()));
        Ok(RunLock { _file: file })
    }
}

/// Opens (or creates) the lock file. One created by another user (root's `withdraw-all` beside the service's user)
/// may be read-only for us: a lock needs no write access, only the note about the holder is then skipped.
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    match OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(crate::atomic::PRIVATE).open(path)
    {
        Err(error) if error.kind() == ErrorKind::PermissionDenied => File::open(path),
        opened => opened,
    }
}

/// What the current holder wrote about itself.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_string(&mut text));
    if text.trim().is_empty() { "holder unknown".to_string() } else { text.trim().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_then_names_the_holder() {
        let dir = std::env::temp_dir().join(format!("anycastd-lock-{}", std::process::id()));
        let held = RunLock::acquire(&dir, "apply", Duration::from_secs(1)).expect("first lock");
        let started = Instant::now();
        let error = RunLock::acquire(&dir, "withdraw-all", Duration::from_millis(200)).expect_err("second lock");
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(error.contains(&format!("(pid {} running `anycastd apply`)", std::process::id())), "{error}");
        assert!(error.ends_with("gave up after 200 ms"), "{error}");
        drop(held);
        assert!(RunLock::acquire(&dir, "resume", Duration::from_millis(200)).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
