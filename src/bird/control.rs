//! One connection to BIRD's control socket, for a whole pass, every step of it under the pass's deadline.
//!
//! BIRD serves its socket from one event loop: a BIRD that is stopped (its socket file left behind), busy, or stuck
//! must cost a pass its deadline and no more. So the connect does not block (a full backlog makes a UNIX socket's
//! connect wait, or return EAGAIN without blocking), and every read and write waits at most until the deadline.
//! The write side is never shut down: after a half-close BIRD often sends no reply, and once (3.1.8) did not run the
//! `configure` at all (EVIDENCE.md, section 2).

use std::fmt;
use std::io::{ErrorKind, Read};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};

use super::reply::{Reply, ReplyError, ReplyReader};
use crate::escape::escape;

/// How long to wait before trying a connect again when the socket's backlog is full.
const CONNECT_RETRY: Duration = Duration::from_millis(10);

/// The longest command anycastd sends. BIRD reads a command into 4,096 bytes (`CLI_RX_BUF_SIZE`) and answers
/// `9000 Command too long` past it; anycastd's longest, `disable` of a 52-character name, is far below this.
const MAX_COMMAND: usize = 1024;

/// How much is read from the socket at once.
const READ_SIZE: usize = 64 * 1024;

/// One connection to BIRD's control socket, greeted.
#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
    reader: ReplyReader,
    socket: PathBuf,
    deadline: Instant,
    version: String,
}

/// Why BIRD could not be reached or did not answer, each with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BirdError {
    /// No socket at the path.
    NoSocket {
        /// The control socket's path.
        socket: PathBuf,
    },
    /// The socket is BIRD's group's.
    PermissionDenied {
        /// The control socket's path.
        socket: PathBuf,
    },
    /// A socket file nobody listens on: BIRD stopped or crashed and left it.
    NotListening {
        /// The control socket's path.
        socket: PathBuf,
    },
    /// Any other reason the connect failed.
    Connect {
        /// The control socket's path.
        socket: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The pass's deadline passed while waiting on BIRD.
    Timeout {
        /// The control socket's path.
        socket: PathBuf,
        /// What anycastd was waiting for: "connecting", "the greeting", "`configure`"...
        during: String,
    },
    /// BIRD closed the connection before it answered.
    Closed {
        /// The control socket's path.
        socket: PathBuf,
        /// What anycastd was waiting for.
        during: String,
    },
    /// Reading or writing failed.
    Io {
        /// The control socket's path.
        socket: PathBuf,
        /// What anycastd was waiting for.
        during: String,
        /// The operating system's reason.
        reason: String,
    },
    /// BIRD's answer is too large, or not of its protocol.
    Reply {
        /// The control socket's path.
        socket: PathBuf,
        /// What anycastd was waiting for.
        during: String,
        /// What is wrong with it.
        error: ReplyError,
    },
    /// The first line was not `0001 BIRD <version> ready.`: something else listens on the socket.
    Greeting {
        /// The control socket's path.
        socket: PathBuf,
        /// What came instead, escaped.
        text: String,
    },
    /// A command anycastd would not send (a line break or another control character, or too long); nothing was
    /// sent.
    UnsafeCommand(String),
    /// BIRD is shutting down (`show status`, or `0006 Reconfiguration ignored, shutting down`): it withdraws every
    /// route as it stops, and applies nothing more.
    ShuttingDown {
        /// The control socket's path.
        socket: PathBuf,
    },
    /// BIRD answered, but not in a way that command ever answers (escaped).
    Unexpected {
        /// The command.
        command: String,
        /// What was wrong with the answer.
        reason: String,
    },
}

impl fmt::Display for BirdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BirdError::NoSocket { socket } => write!(
                f,
                "there is no BIRD control socket at {}: is BIRD running, with this socket (its -s; Debian's is \
                 /run/bird/bird.ctl)?",
                shown(socket)
            ),
            BirdError::PermissionDenied { socket } => write!(
                f,
                "permission denied on BIRD's control socket {}: anycastd's user needs BIRD's group, bird, which owns \
                 the socket (SupplementaryGroups=bird in its unit)",
                shown(socket)
            ),
            BirdError::NotListening { socket } => write!(
                f,
                "nothing listens on BIRD's control socket {}: BIRD has stopped or crashed and left its socket behind \
                 (see its log), start it again",
                shown(socket)
            ),
            BirdError::Connect { socket, reason } => {
                write!(f, "cannot connect to BIRD's control socket {}: {reason}", shown(socket))
            }
            BirdError::Timeout { socket, during } => write!(
                f,
                "BIRD did not answer {during} on {} before the pass's deadline: it is stuck or overloaded, or stopped \
                 with its socket's backlog full",
                shown(socket)
            ),
            BirdError::Closed { socket, during } => write!(
                f,
                "BIRD closed the connection on {} while anycastd waited for {during}: it may have stopped or crashed \
                 (see its log)",
                shown(socket)
            ),
            BirdError::Io { socket, during, reason } => {
                write!(f, "talking to BIRD on {} ({during}) failed: {reason}", shown(socket))
            }
            BirdError::Reply { socket, during, error } => {
                write!(f, "BIRD's answer to {during} on {} cannot be read: {error}", shown(socket))
            }
            BirdError::Greeting { socket, text } => write!(
                f,
                "{} did not greet anycastd as BIRD does (\"0001 BIRD <version> ready.\") but with {text:?}: is it \
                 BIRD's control socket?",
                shown(socket)
            ),
            BirdError::ShuttingDown { socket } => write!(
                f,
                "BIRD on {} is shutting down: it withdraws every route as it stops, and applies nothing more",
                shown(socket)
            ),
            BirdError::UnsafeCommand(command) => write!(f, "refusing to send {command:?} to BIRD"),
            BirdError::Unexpected { command, reason } => write!(f, "BIRD's answer to `{command}`: {reason}"),
        }
    }
}

impl std::error::Error for BirdError {}

fn shown(socket: &Path) -> String {
    escape(&socket.display().to_string()).into_owned()
}

impl Connection {
    /// Connects to BIRD's control socket and reads its greeting, both before `deadline`, which every later command
    /// of this connection shares: one deadline for the whole pass.
    pub fn open(socket: &Path, deadline: Instant) -> Result<Connection, BirdError> {
        let stream = connect(socket, deadline)?;
        let reader = ReplyReader::default();
        let mut connection =
            Connection { stream, reader, socket: socket.to_path_buf(), deadline, version: String::new() };
        let greeting = connection.read_reply("the greeting")?;
        connection.version = version(&greeting).ok_or_else(|| BirdError::Greeting {
            socket: socket.to_path_buf(),
            text: escape(&greeting.last().text).into_owned(),
        })?;
        Ok(connection)
    }

    /// BIRD's version, from its greeting: `2.0.12`, `3.1.8`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The control socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The deadline every step of this connection keeps.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Sends one command and reads BIRD's whole reply, whatever its code: the caller decides what an error code
    /// means. A command with a line break or another control character is refused before anything is sent: it
    /// would be read by BIRD as two commands.
    pub fn command(&mut self, command: &str) -> Result<Reply, BirdError> {
        if command.is_empty() || command.len() > MAX_COMMAND || command.chars().any(char::is_control) {
            return Err(BirdError::UnsafeCommand(escape(command).into_owned()));
        }
        let during = format!("`{command}`");
        self.send(&format!("{command}\n"), &during)?;
        self.read_reply(&during)
    }

    /// Writes all of `line`. Through send(2) with MSG_NOSIGNAL: should BIRD have closed the connection, the write
    /// fails with EPIPE instead of raising SIGPIPE, whose default action would end anycastd mid-pass.
    fn send(&mut self, line: &str, during: &str) -> Result<(), BirdError> {
        let mut rest = line.as_bytes();
        while !rest.is_empty() {
            let remaining = self.remaining(during)?;
            self.stream.set_write_timeout(Some(remaining)).map_err(|error| self.io(during, &error))?;
            match rustix::net::send(&self.stream, rest, SendFlags::NOSIGNAL) {
                Ok(written) => rest = &rest[written..],
                Err(Errno::INTR | Errno::AGAIN) => continue,
                Err(Errno::PIPE | Errno::CONNRESET) => return Err(self.closed(during)),
                Err(errno) => return Err(self.io(during, &errno.into())),
            }
        }
        Ok(())
    }

    /// Reads until a whole reply has arrived.
    fn read_reply(&mut self, during: &str) -> Result<Reply, BirdError> {
        let mut buffer = vec![0; READ_SIZE];
        let mut received = &[][..];
        loop {
            let reply = self.reader.push(received).map_err(|error| BirdError::Reply {
                socket: self.socket.clone(),
                during: during.to_string(),
                error,
            })?;
            if let Some(reply) = reply {
                return Ok(reply);
            }
            let read = self.read_some(&mut buffer, during)?;
            received = &buffer[..read];
        }
    }

    /// One read, waiting at most until the deadline.
    fn read_some(&mut self, buffer: &mut [u8], during: &str) -> Result<usize, BirdError> {
        loop {
            let remaining = self.remaining(during)?;
            self.stream.set_read_timeout(Some(remaining)).map_err(|error| self.io(during, &error))?;
            match self.stream.read(buffer) {
                Ok(0) => return Err(self.closed(during)),
                Ok(read) => return Ok(read),
                Err(error) if matches!(error.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => continue,
                Err(error) if error.kind() == ErrorKind::TimedOut => continue,
                Err(error) if error.kind() == ErrorKind::ConnectionReset => return Err(self.closed(during)),
                Err(error) => return Err(self.io(during, &error)),
            }
        }
    }

    /// The time left before the deadline, or the error saying it has passed.
    fn remaining(&self, during: &str) -> Result<Duration, BirdError> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(BirdError::Timeout { socket: self.socket.clone(), during: during.to_string() });
        }
        Ok(remaining)
    }

    fn closed(&self, during: &str) -> BirdError {
        BirdError::Closed { socket: self.socket.clone(), during: during.to_string() }
    }

    fn io(&self, during: &str, error: &std::io::Error) -> BirdError {
        BirdError::Io { socket: self.socket.clone(), during: during.to_string(), reason: error.to_string() }
    }
}

/// Connects without blocking: while the backlog is full, tries again every [`CONNECT_RETRY`] until the deadline.
fn connect(socket: &Path, deadline: Instant) -> Result<UnixStream, BirdError> {
    let failed = |errno: Errno| connect_error(socket, errno);
    let address = SocketAddrUnix::new(socket).map_err(failed)?;
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None).map_err(failed)?;
    loop {
        match rustix::net::connect(&fd, &address) {
            Ok(()) => break,
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return Err(BirdError::Timeout { socket: socket.to_path_buf(), during: "connecting".into() });
                }
                std::thread::sleep(remaining.min(CONNECT_RETRY));
            }
            Err(errno) => return Err(failed(errno)),
        }
    }
    let stream = UnixStream::from(fd);
    // From here on, the socket's timeouts bound each read and write.
    stream
        .set_nonblocking(false)
        .map_err(|error| BirdError::Connect { socket: socket.to_path_buf(), reason: error.to_string() })?;
    Ok(stream)
}

/// A failed connect, in the words that say what to do.
fn connect_error(socket: &Path, errno: Errno) -> BirdError {
    let socket = socket.to_path_buf();
    match errno {
        Errno::NOENT => BirdError::NoSocket { socket },
        Errno::ACCESS | Errno::PERM => BirdError::PermissionDenied { socket },
        Errno::CONNREFUSED => BirdError::NotListening { socket },
        errno => BirdError::Connect { socket, reason: std::io::Error::from(errno).to_string() },
    }
}

/// The version in a greeting, `0001 BIRD 2.0.12 ready.`.
fn version(greeting: &Reply) -> Option<String> {
    let text = greeting.last().text.strip_prefix("BIRD ")?.strip_suffix(" ready.")?;
    let plausible = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    (greeting.code() == 1 && greeting.lines().is_empty() && plausible).then(|| text.to_string())
}

#[cfg(test)]
mod tests;
