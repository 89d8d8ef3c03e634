//! BIRD's reply-code protocol, read from a stream of bytes (pure: no socket here).
//!
//! A reply is a run of lines, each `DDDD-text` (more lines follow), ` text` (more text under the previous line's
//! code) or `DDDD text` (the last line of the reply, whose code says how the command ended). Lines starting with
//! `+` are asynchronous log messages a client may receive at any time; they belong to no reply and are dropped.
//! Nothing in the protocol announces a size, so nothing is allocated by what BIRD claims: every line, and every
//! reply, is refused once it is over a limit.

use std::fmt;

use crate::escape::escape;

/// The longest line anycastd reads. BIRD formats a reply line in a buffer of 512 bytes (`CLI_LINE_SIZE` in
/// `nest/cli.h`, the same in 2.x and 3.x) and prints `<line overflow>` instead of anything longer; asynchronous log
/// lines are bounded by BIRD's log buffer. Eight times BIRD's own limit leaves room for any release that raises it.
pub const MAX_LINE: usize = 4096;

/// The largest reply anycastd reads. The largest it asks for is `show route table all where proto ~ "anycastd_*" all`: at
/// 20,000 prefixes, about 250 bytes each on 3.1.8 (the route, `preference`, `source`, `anycastd_draining` and the
/// internal values lines), so 5 MB; three times that is room to spare, and not enough to hurt the host.
pub const MAX_REPLY: usize = 16 * 1024 * 1024;

/// The most lines of one reply: 20,000 prefixes give at most six lines each (120,000). Bounding the count too keeps
/// a reply of empty lines from costing a line's bookkeeping per two bytes.
pub const MAX_LINES: usize = 500_000;

/// One line of a reply, with the code it is under (a continuation line's is the line's before it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The four-digit reply code, 0 to 9999.
    pub code: u16,
    /// The text after the code and its separator (or after a continuation's space), as BIRD sent it; bytes that are
    /// not UTF-8 become U+FFFD. Not escaped: use [`escape`] before printing it.
    pub text: String,
}

/// A complete reply: its lines, the last one being the final line (`DDDD text`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    lines: Vec<Line>,
    last: Line,
}

/// What a reply code says, by its first digit (BIRD's `doc/reply_codes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// 0xxx: the action was completed (`0003 Reconfigured`, `0000` after a table).
    Done,
    /// 1xxx and 2xxx: a table's entries and headings.
    Data,
    /// 8xxx: the command was understood and failed (`8002` a configuration that does not parse, `8003 No
    /// protocols match`).
    RuntimeError,
    /// 9xxx: the command itself was refused (`9001 syntax error`, `9000 Command too long`).
    CommandError,
    /// 3xxx to 7xxx: unassigned; no release uses them.
    Unknown,
}

impl Class {
    /// The class of a reply code.
    pub fn of(code: u16) -> Class {
        match code / 1000 {
            0 => Class::Done,
            1 | 2 => Class::Data,
            8 => Class::RuntimeError,
            9 => Class::CommandError,
            _ => Class::Unknown,
        }
    }
}

impl Reply {
    /// The final line's code: how the command ended.
    pub fn code(&self) -> u16 {
        self.last.code
    }

    /// What the final code says.
    pub fn class(&self) -> Class {
        Class::of(self.last.code)
    }

    /// Whether the command succeeded (a final code of 0xxx, 1xxx or 2xxx).
    pub fn is_success(&self) -> bool {
        matches!(self.class(), Class::Done | Class::Data)
    }

    /// Every line before the final one.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The final line: `0013 Daemon is up and running`, `8002 PATH:19:63 syntax error, ...`.
    pub fn last(&self) -> &Line {
        &self.last
    }

    /// Every line, the final one included.
    pub fn all_lines(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().chain(std::iter::once(&self.last))
    }

    /// BIRD's words on how the command ended (the final line), safe to print: `8002 /etc/bird/bird.conf:19:63
    /// syntax error, unexpected '}'`.
    pub fn message(&self) -> String {
        format!("{:04} {}", self.last.code, escape(&self.last.text))
    }
}

/// Why bytes from BIRD are not a reply anycastd can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// A line longer than [`MAX_LINE`], or no end of line within it.
    LineTooLong,
    /// A reply of more than [`MAX_REPLY`] bytes or [`MAX_LINES`] lines.
    TooLarge,
    /// A line that is not of the protocol (its text escaped, cut to 80 characters).
    Malformed(String),
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::LineTooLong => write!(f, "a reply line longer than {MAX_LINE} bytes"),
            ReplyError::TooLarge => {
                write!(f, "a reply larger than {} MiB or {MAX_LINES} lines", MAX_REPLY / (1024 * 1024))
            }
            ReplyError::Malformed(line) => write!(f, "a line that is not of BIRD's reply protocol: {line:?}"),
        }
    }
}

impl std::error::Error for ReplyError {}

/// Reads replies from the bytes of one connection, as they arrive, in pieces of any size.
#[derive(Debug, Default)]
pub(crate) struct ReplyReader {
    /// Bytes received and not yet read as lines: at most one partial line once [`ReplyReader::push`] returns.
    pending: Vec<u8>,
    /// The lines of the reply being read.
    lines: Vec<Line>,
    /// Its size so far, in bytes, newlines included.
    size: usize,
}

/// One line of the protocol, read.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// An asynchronous `+` line: no part of any reply.
    Async,
    /// A line of a reply; `last` when it is the final one.
    Line { line: Line, last: bool },
}

impl ReplyReader {
    /// Takes bytes read from the connection; the reply they complete, if they do. Bytes after a reply's final
    /// line stay for the next reply (send `&[]` to read it).
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<Option<Reply>, ReplyError> {
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        let outcome = loop {
            let Some(length) = self.pending[start..].iter().position(|&byte| byte == b'\n') else {
                break if self.pending.len() - start > MAX_LINE { Err(ReplyError::LineTooLong) } else { Ok(None) };
            };
            let line = start..start + length;
            start += length + 1;
            match self.take_line(line) {
                Ok(None) => continue,
                other => break other,
            }
        };
        self.pending.drain(..start);
        outcome
    }

    /// Reads the line at `range` of the pending bytes into the reply; the reply when it was the final line.
    fn take_line(&mut self, range: std::ops::Range<usize>) -> Result<Option<Reply>, ReplyError> {
        if range.len() > MAX_LINE {
            return Err(ReplyError::LineTooLong);
        }
        let previous = self.lines.last().map(|line| line.code);
        let (line, last) = match parse_line(&self.pending[range.clone()], previous)? {
            Parsed::Async => return Ok(None),
            Parsed::Line { line, last } => (line, last),
        };
        self.size += range.len() + 1;
        if self.size > MAX_REPLY || self.lines.len() >= MAX_LINES {
            return Err(ReplyError::TooLarge);
        }
        if !last {
            self.lines.push(line);
            return Ok(None);
        }
        self.size = 0;
        Ok(Some(Reply { lines: std::mem::take(&mut self.lines), last: line }))
    }
}

/// Reads one line (without its newline); `previous` is the code of the reply's line before it, if any.
fn parse_line(bytes: &[u8], previous: Option<u16>) -> Result<Parsed, ReplyError> {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    match bytes {
        [b'+', ..] => Ok(Parsed::Async),
        [b' ', rest @ ..] => match previous {
            Some(code) => Ok(Parsed::Line { line: Line { code, text: text(rest) }, last: false }),
            None => Err(malformed(bytes)),
        },
        [a, b, c, d, rest @ ..] if [a, b, c, d].iter().all(|digit| digit.is_ascii_digit()) => {
            let code = [a, b, c, d].iter().fold(0, |code, digit| code * 10 + u16::from(**digit - b'0'));
            match rest {
                // BIRD always writes the space of a final line (`0000 `); a bare code is read the same way.
                [] => Ok(Parsed::Line { line: Line { code, text: String::new() }, last: true }),
                [b' ', rest @ ..] => Ok(Parsed::Line { line: Line { code, text: text(rest) }, last: true }),
                [b'-', rest @ ..] => Ok(Parsed::Line { line: Line { code, text: text(rest) }, last: false }),
                _ => Err(malformed(bytes)),
            }
        }
        _ => Err(malformed(bytes)),
    }
}

fn malformed(bytes: &[u8]) -> ReplyError {
    let text: String = String::from_utf8_lossy(bytes).chars().take(80).collect();
    ReplyError::Malformed(escape(&text).into_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Reads a whole fixture as one reply, insisting that nothing follows its final line.
    pub(crate) fn reply_of(bytes: &str) -> Reply {
        let mut reader = ReplyReader::default();
        let reply = reader.push(bytes.as_bytes()).expect("a well-formed reply").expect("a complete reply");
        assert!(reader.pending.is_empty(), "bytes after the final line: {:?}", reader.pending);
        reply
    }

    fn line(code: u16, text: &str) -> Line {
        Line { code, text: text.to_string() }
    }

    #[test]
    fn codes_continuations_and_the_final_line() {
        let reply = reply_of(include_str!("fixtures/2.17.6/disable-pattern.txt"));
        assert_eq!(
            reply.lines(),
            [
                line(9, "anycastd_203_0_113_54_32: disabled"),
                line(9, "anycastd_2001_db8__53_128: disabled"),
                line(9, "anycastd_2001_db8_1234_5678_9abc_def0_1234_5678_128: disabled"),
            ]
        );
        assert_eq!(reply.last(), &line(0, ""));
        assert_eq!((reply.code(), reply.class(), reply.is_success()), (0, Class::Done, true));
    }

    #[test]
    fn the_greeting_is_a_reply_of_one_line() {
        for (fixture, text) in [
            (include_str!("fixtures/2.0.12/greeting.txt"), "BIRD 2.0.12 ready."),
            (include_str!("fixtures/2.17.6/greeting.txt"), "BIRD 2.17.6 ready."),
            (include_str!("fixtures/3.1.8/greeting.txt"), "BIRD 3.1.8 ready."),
        ] {
            let reply = reply_of(fixture);
            assert_eq!((reply.lines(), reply.last()), (&[][..], &line(1, text)));
        }
    }

    #[test]
    fn failures_are_classified_and_their_message_is_birds() {
        let broken = reply_of(include_str!("fixtures/3.1.8/configure-failed.txt"));
        assert_eq!(broken.lines(), [line(2, "Reading configuration from /var/lib/acdl/v31/bird.conf")]);
        assert_eq!((broken.class(), broken.is_success()), (Class::RuntimeError, false));
        assert_eq!(
            broken.message(),
            "8002 /var/lib/acdl/v31/bird.conf:19:63 syntax error, unexpected '}', expecting ';' or '{'"
        );
        let unknown = reply_of(include_str!("fixtures/2.0.12/disable-unknown.txt"));
        assert_eq!((unknown.code(), unknown.class()), (9001, Class::CommandError));
        assert_eq!(Class::of(4000), Class::Unknown);
        assert_eq!(Class::of(2002), Class::Data);
    }

    #[test]
    fn a_message_is_escaped() {
        let reply = reply_of("8002 /etc/bird.conf\x1b[2J:1:1 syntax error\n");
        assert_eq!(reply.message(), "8002 /etc/bird.conf\\u{1b}[2J:1:1 syntax error");
    }

    #[test]
    fn a_reply_arrives_in_pieces_of_any_size() {
        let bytes = include_str!("fixtures/3.1.8/show-route-all.txt").as_bytes();
        let whole = reply_of(include_str!("fixtures/3.1.8/show-route-all.txt"));
        for size in [1, 2, 7, 64] {
            let mut reader = ReplyReader::default();
            let mut replies = Vec::new();
            for piece in bytes.chunks(size) {
                replies.extend(reader.push(piece).expect("well-formed"));
            }
            assert_eq!(replies, std::slice::from_ref(&whole), "pieces of {size}");
        }
    }

    #[test]
    fn async_lines_are_dropped_and_a_following_reply_waits_for_the_next_read() {
        let mut reader = ReplyReader::default();
        let first = reader.push(b"+ 2026-12-03 <INFO> Reconfiguring\n0003 Reconfigured\n0013 Daemon").expect("read");
        assert_eq!(first.map(|reply| reply.last().clone()), Some(line(3, "Reconfigured")));
        let second = reader.push(b" is up and running\n").expect("read").expect("complete");
        assert_eq!(second.last(), &line(13, "Daemon is up and running"));
    }

    #[test]
    fn text_that_is_not_utf8_is_kept_readable() {
        let reply = reply_of("8002 /etc/bird/\u{fffd}.conf: error\n");
        let mut reader = ReplyReader::default();
        let raw = reader.push(b"8002 /etc/bird/\xff.conf: error\n").expect("read").expect("complete");
        assert_eq!(raw, reply);
    }

    #[test]
    fn lines_outside_the_protocol_are_refused() {
        for (bytes, shown) in [
            (&b" continuation of nothing\n"[..], " continuation of nothing"),
            (b"hello\n", "hello"),
            (b"12a4 text\n", "12a4 text"),
            (b"0001_text\n", "0001_text"),
            (b"\n", ""),
            (b"\x1b]0;title\x07\n", "\\u{1b}]0;title\\u{7}"),
        ] {
            let error = ReplyReader::default().push(bytes);
            assert_eq!(error, Err(ReplyError::Malformed(shown.to_string())), "{bytes:?}");
        }
        assert_eq!(ReplyReader::default().push(b"0000\n").map(|reply| reply.map(|r| r.code())), Ok(Some(0)));
    }

    #[test]
    fn every_size_is_bounded() {
        let long = format!("1007-{}\n", "x".repeat(MAX_LINE));
        assert_eq!(ReplyReader::default().push(long.as_bytes()), Err(ReplyError::LineTooLong));
        let no_end = vec![b'x'; MAX_LINE + 1];
        assert_eq!(ReplyReader::default().push(&no_end), Err(ReplyError::LineTooLong));
        let mut reader = ReplyReader::default();
        let line = format!("1007-{}\n", "x".repeat(MAX_LINE - 10));
        let outcome = (0..MAX_REPLY / line.len() + 1).map(|_| reader.push(line.as_bytes())).find(|o| o.is_err());
        assert_eq!(outcome, Some(Err(ReplyError::TooLarge)));
        let mut reader = ReplyReader::default();
        let outcome = (0..=MAX_LINES).map(|_| reader.push(b"1007-\n")).find(|outcome| outcome.is_err());
        assert_eq!(outcome, Some(Err(ReplyError::TooLarge)));
    }
}
