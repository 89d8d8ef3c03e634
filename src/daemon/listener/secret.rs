//! The shared secret that pushes carry (`Authorization: Bearer SECRET`), read from `--push-secret-file` at start and
//! again on SIGHUP.
//!
//! The file is opened without blocking (a FIFO put there must not hang the start or a reload), and only a regular
//! file of at most [`SECRET_BYTES`] that others cannot read is taken. The secret itself is never compared byte by
//! byte: both it and what a client sends go through HMAC-SHA256 under a random key of this process, and the two
//! tags are compared in constant time (`ring::hmac::verify`), so how long a refusal takes says nothing of the
//! secret, not even its length.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ring::hmac;
use ring::rand::SystemRandom;

/// The most a secret file may hold: a secret is one line, and 4 KiB is far more than a strong one needs (32 random
/// bytes in base64 are 44 characters). A larger file is refused, never cut.
pub const SECRET_BYTES: u64 = 4096;

/// The push secret in force and where it came from.
pub struct Secret {
    path: PathBuf,
    sealed: Mutex<Sealed>,
}

/// The secret as the listener keeps it: a random key, and the secret's tag under it.
struct Sealed {
    key: hmac::Key,
    tag: hmac::Tag,
}

impl Secret {
    /// Reads the secret of `path`.
    pub fn read(path: &Path) -> Result<Secret, String> {
        let sealed = seal(&read_file(path)?)?;
        Ok(Secret { path: path.to_path_buf(), sealed: Mutex::new(sealed) })
    }

    /// Reads the file again (SIGHUP): the new secret takes effect, or, if the file cannot be used, the one in force
    /// stays and the reason is returned.
    pub fn reload(&self) -> Result<(), String> {
        let sealed = seal(&read_file(&self.path)?)?;
        *self.sealed.lock().unwrap_or_else(PoisonError::into_inner) = sealed;
        Ok(())
    }

    /// Whether `given` is the secret, in time that depends on neither.
    pub fn matches(&self, given: &[u8]) -> bool {
        let sealed = self.sealed.lock().unwrap_or_else(PoisonError::into_inner);
        hmac::verify(&sealed.key, given, sealed.tag.as_ref()).is_ok()
    }
}

fn seal(secret: &[u8]) -> Result<Sealed, String> {
    let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
        .map_err(|_| "cannot draw a random key to keep the push secret with".to_string())?;
    let tag = hmac::sign(&key, secret);
    Ok(Sealed { key, tag })
}

/// The secret in the file at `path`: its one line, without surrounding whitespace.
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let cannot = |reason: String| format!("cannot read the push secret {shown}: {reason}");
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|error| cannot(error.to_string()))?;
    let metadata = file.metadata().map_err(|error| cannot(error.to_string()))?;
    if !metadata.is_file() {
        return Err(cannot("it is not a regular file".into()));
    }
    if metadata.mode() & 0o004 != 0 {
        return Err(format!("the push secret {shown} is readable by every user: chmod o-r {shown}"));
    }
    let too_large = || {
        format!(
            "the push secret {shown} is larger than {SECRET_BYTES} bytes, the most anycastd reads of it (a secret is one line)"
        )
    };
    if metadata.len() > SECRET_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(SECRET_BYTES + 1).read_to_end(&mut bytes).map_err(|error| cannot(error.to_string()))?;
    if bytes.len() as u64 > SECRET_BYTES {
        return Err(too_large());
    }
    let secret = bytes.trim_ascii();
    if secret.is_empty() {
        return Err(format!("the push secret {shown} is empty"));
    }
    if secret.iter().any(u8::is_ascii_control) {
        return Err(format!(
            "the push secret {shown} holds more than one line or a control character: an HTTP header cannot carry it"
        ));
    }
    Ok(secret.to_vec())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn file(name: &str, content: &[u8], mode: u32) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("anycastd-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    #[test]
    fn the_secret_is_its_line_and_only_it_matches() {
        let secret = Secret::read(&file("line", b"  s3cr3t\n", 0o600)).expect("a secret");
        assert!(secret.matches(b"s3cr3t"));
        for wrong in [&b""[..], b"s3cr3", b"s3cr3t ", b"s3cr3t\n", b"S3CR3T", b"s3cr3ts3cr3t"] {
            assert!(!secret.matches(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn a_file_others_can_read_an_empty_one_a_large_one_or_two_lines_are_refused() {
        let refused = |name: &str, content: &[u8], mode: u32| Secret::read(&file(name, content, mode)).err();
        assert!(refused("readable", b"s", 0o644).is_some_and(|e| e.contains("readable by every user: chmod o-r")));
        assert!(refused("empty", b" \n", 0o600).is_some_and(|e| e.ends_with("is empty")));
        let large = vec![b'a'; SECRET_BYTES as usize + 1];
        assert!(refused("large", &large, 0o600).is_some_and(|e| e.contains("is larger than 4096 bytes")));
        assert!(refused("exactly", &large[1..], 0o600).is_none(), "4096 bytes is a secret");
        assert!(refused("lines", b"one\ntwo\n", 0o600).is_some_and(|e| e.contains("more than one line")));
    }

    #[test]
    fn a_fifo_or_a_directory_is_refused_at_once() {
        let dir = std::env::temp_dir().join(format!("anycastd-secret-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let fifo = dir.join("fifo");
        let _ = std::fs::remove_file(&fifo);
        crate::bounded::make_fifo(&fifo);
        let refused = Secret::read(&fifo).err().unwrap_or_default();
        assert!(refused.ends_with("it is not a regular file"), "{refused}");
        assert!(Secret::read(&dir).err().unwrap_or_default().ends_with("it is not a regular file"));
    }

    #[test]
    fn a_reload_takes_the_new_secret_and_keeps_the_old_one_when_the_file_is_bad() {
        let path = file("reloaded", b"old\n", 0o600);
        let secret = Secret::read(&path).expect("a secret");
        std::fs::write(&path, b"new\n").expect("write");
        assert_eq!(secret.reload(), Ok(()));
        assert!(secret.matches(b"new") && !secret.matches(b"old"));
        std::fs::write(&path, b"").expect("write");
        assert!(secret.reload().is_err());
        assert!(secret.matches(b"new"), "the secret in force stays");
    }
}
