//! A note that an anycastd process changed FRR, for loop mode.
//!
//! `run` trusts what it remembers of FRR until its resync (`--resync`, 30 s by default), so that an idle pass costs
//! no vtysh call. Another anycastd process changing FRR meanwhile (`withdraw-all` then `resume` between two of its
//! passes, an `apply` by hand) would go unseen until then, and healthy services stayed withdrawn for half a minute.
//! So every pass that changes FRR writes a new random token into this file, and `run` reads it at every pass (one
//! small read, no vtysh): a token it neither saw nor wrote means FRR must be read again. Whoever can write the state
//! directory can only make `run` read FRR again: the token is compared, never interpreted.

use std::io;

use super::StateDir;

/// The file's name inside the state directory.
const CHANGES_FILE: &str = "frr-changed";

/// The most of the file read: a token is 16 hex digits.
const TOKEN_LIMIT: u64 = 64;

/// The token of the last change, as found in the file.
pub(crate) type Token = Vec<u8>;

/// The token now in the state directory; `None` when there is none (no change recorded yet) or it cannot be read.
pub(crate) fn read(state_dir: &StateDir) -> Option<Token> {
    state_dir.read(CHANGES_FILE, TOKEN_LIMIT).ok().flatten()
}

/// Records that this process just changed FRR: a new token, which it returns so that loop mode knows it for its own.
pub(crate) fn record(state_dir: &StateDir) -> io::Result<Token> {
    let token = format!("{}\n", super::file::random_hex()).into_bytes();
    state_dir.write(CHANGES_FILE, &token)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_writes_a_new_token() {
        let dir = std::env::temp_dir().join(format!("anycastd-changes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state_dir = StateDir::create(&dir).expect("state dir");
        assert_eq!(read(&state_dir), None);
        let first = record(&state_dir).expect("recorded");
        assert_eq!(read(&state_dir), Some(first.clone()));
        let second = record(&state_dir).expect("recorded");
        assert_ne!(first, second);
        assert_eq!(read(&state_dir), Some(second));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
