//! Reading an input whose size anycastd does not control (a file named on the command line, stdin, an HTTP body)
//! up to a limit: a file such as `/dev/zero` must end in a clear error, not in reading until memory runs out.
//!
//! Each limit is far above any real input (at 10,000 prefixes a configuration is about 1 MB, Cabourotte's answer and
//! FRR's running config a few hundred KB) and far below what would hurt the host.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The configuration file (`-c`).
pub const CONFIG: Limit = Limit(16 * MIB);
/// A Cabourotte answer, over HTTP or from `plan --health`.
pub const HEALTH: Limit = Limit(16 * MIB);
/// FRR's running config from `plan --running-config`; real ones with large prefix lists reach several MB.
pub const RUNNING_CONFIG: Limit = Limit(64 * MIB);
/// What a child (vtysh, a hook) prints on stdout, and on stderr: vtysh's running config is the largest of it.
pub const CHILD_OUTPUT: Limit = RUNNING_CONFIG;
/// A PEM file of a check's `ca_file`, `cert_file` or `key_file`: a bundle of every web PKI root is about 200 KB.
pub const TLS_FILE: Limit = Limit(MIB);
/// `/etc/passwd`, read to name the user who wrote the maintenance marker: a large site's is a few MB.
pub(crate) const PASSWD: Limit = Limit(16 * MIB);

const MIB: u64 = 1024 * 1024;

/// The most bytes anycastd reads of one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(pub u64);

/// `16 MiB`.
impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} MiB", self.0 / MIB)
    }
}

impl Limit {
    /// Why `what` (an input over the limit) is refused, in the words of every such error.
    pub fn exceeded(&self, what: &str) -> String {
        format!("{what} is larger than {self}, the most anycastd reads")
    }

    /// Reads all of `input` as UTF-8 text, or fails once it is over the limit (reading one byte more to know).
    pub fn read_to_string(&self, input: impl Read) -> Result<String, String> {
        String::from_utf8(self.read_to_end(input)?).map_err(|_| "it is not UTF-8 text".to_string())
    }

    /// Reads all of `input` as bytes, or fails once it is over the limit (reading one byte more to know).
    pub fn read_to_end(&self, input: impl Read) -> Result<Vec<u8>, String> {
        let mut bytes = Vec::new();
        input.take(self.0 + 1).read_to_end(&mut bytes).map_err(|error| error.to_string())?;
        if bytes.len() as u64 > self.0 {
            return Err(self.exceeded("it"));
        }
        Ok(bytes)
    }
}

/// Opens the file at `path` for reading, only if it is a regular file. The open does not block: opening a FIFO for
/// reading waits for a writer, and a FIFO planted where a file should be (the configuration, FRR's pid file, the
/// push secret) would hang a pass forever, deaf to SIGTERM, with every prefix left as it was. Symbolic links are
/// followed (a configuration is often a link into a deployment); a device, a directory or a socket is refused.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file (a FIFO, a device, a socket or a directory)",
        ));
    }
    Ok(file)
}

/// Makes a FIFO at `path`, for the tests that prove one is refused at once rather than waited on.
#[cfg(test)]
pub(crate) fn make_fifo(path: &Path) {
    use rustix::fs::{CWD, FileType, Mode, mknodat};
    mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0).expect("mkfifo");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_at_once_not_waited_on() {
        let dir = std::env::temp_dir().join(format!("anycastd-bounded-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let fifo = dir.join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(status.success());
        let error = open_regular(&fifo).expect_err("a FIFO is no regular file");
        assert_eq!(error.to_string(), "it is not a regular file (a FIFO, a device, a socket or a directory)");
        assert!(open_regular(&dir).is_err(), "nor is a directory");
        std::fs::write(dir.join("file"), "text").expect("file");
        assert!(open_regular(&dir.join("file")).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reads_up_to_the_limit_and_refuses_one_byte_more() {
        let limit = Limit(4);
        assert_eq!(limit.read_to_string(&b"abcd"[..]), Ok("abcd".to_string()));
        assert_eq!(limit.read_to_string(&b"abcde"[..]), Err("it is larger than 0 MiB, the most anycastd reads".into()));
        assert_eq!(limit.read_to_string(&b"\xff"[..]), Err("it is not UTF-8 text".into()));
        assert_eq!(HEALTH.to_string(), "16 MiB");
    }
}
