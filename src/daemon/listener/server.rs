//! A bounded HTTP/1.1 server: one thread per listening socket running a small `poll(2)` loop over non-blocking
//! sockets. It knows nothing of anycastd: a [`Service`] says what to answer, from the request head and then, if it
//! asks for it, the body.
//!
//! Whoever can reach the port is hostile, and nothing they do may cost the loop of `run` a withdrawal. So everything a
//! client can make the server hold is bounded, whatever it sends and however slowly it sends it:
//!
//! - **connections**: at most [`CONNECTIONS`] at once. When full, a new connection evicts the one that has waited
//!   longest without completing its request head (else one lingering after its response, else the oldest other), so
//!   that a flood of idle connections can neither use up the process's file descriptors (every vtysh call needs
//!   some) nor lock Cabourotte out;
//! - **time**: the head must be complete within [`HEAD_DEADLINE`] of the accept, the body within [`BODY_DEADLINE`];
//!   a response must be taken within [`WRITE_DEADLINE`]; then at most [`LINGER`] of lingering. Nothing waits on a
//!   client: one slow client delays no other;
//! - **memory**: the head is read into a buffer of [`HEAD_BYTES`] (`431` beyond); a body is read only when the
//!   service asks for it (after checking the head: the secret), only up to its `Content-Length`, itself at most
//!   [`BODY_BYTES`] (`413` beyond, without reading), and its buffer grows with the bytes that arrive, not with the
//!   length claimed. A response body is shared, not copied per connection;
//! - **one request per connection**: every response closes the connection. Whatever the client sent after its
//!   request (a pipelined second one) is never answered: after the response, the server stops writing and reads
//!   and throws away what comes for a moment ([`LINGER`], [`LINGER_BYTES`]) before closing, so that the client gets
//!   its response rather than a reset;
//! - **errors**: an accept that fails for lack of descriptors or memory pauses accepting for [`ACCEPT_BACKOFF`];
//!   no error ends the loop, and errors are logged at most once per [`COMPLAINT_INTERVAL`].
//!
//! Not hyper: it would parse requests as well as httparse does (it uses httparse), but leave the connection cap, the
//! deadlines, the accept backoff and the memory bounds to us, and bring tokio and about 20 crates to a server of
//! three routes.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::http::{self, Head, Response};

/// Connections served at once on one listening socket. Cabourotte's exporter pushes one result at a time and
/// Prometheus scrapes with one connection, so a few would do; 16 leaves room for bursts and bounds what a flood costs
/// (16 descriptors, and at most 16 × ([`HEAD_BYTES`] + [`BODY_BYTES`]) of memory).
pub const CONNECTIONS: usize = 16;

/// The request head: request line and headers. Cabourotte's exporter sends about 200 bytes, a browser 1 to 2 KiB.
pub const HEAD_BYTES: usize = 8 * 1024;

/// A request body: a push of one result is a few hundred bytes; 1 MiB is thousands of them.
pub const BODY_BYTES: usize = 1024 * 1024;

/// From the accept to the end of the request head. Cabourotte sends it at once; a client that has not sent it after
/// this long is idle or dripping it.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(5);

/// From the accept to the end of the body: 1 MiB at 100 KiB/s. Cabourotte's own client gives up after 3 s.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// To write a response the client does not read (a response fits the socket's buffer unless it is a large metrics
/// text).
pub const WRITE_DEADLINE: Duration = Duration::from_secs(5);

/// After a response, how long what the client still sends is read and thrown away before the connection is closed.
pub const LINGER: Duration = Duration::from_secs(2);

/// After a response, how much of what the client still sends is read and thrown away (into a small buffer, never
/// kept) before the connection is closed regardless: twice the largest body, so that a client that writes a refused
/// body whole before it reads the answer (ureq does) gets its `401` or `413` rather than a reset. It costs time,
/// bounded by [`LINGER`], not memory.
pub const LINGER_BYTES: usize = 2 * BODY_BYTES;

/// How long accepting pauses after an accept failed for lack of descriptors (`EMFILE`, `ENFILE`) or memory: the
/// listening socket stays readable while connections wait, and accepting again at once would spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The server logs an error at most this often (with how many it did not log), so a flood cannot flood the journal.
pub const COMPLAINT_INTERVAL: Duration = Duration::from_secs(60);

/// What one request read so far asks of the [`Service`].
pub enum Next {
    /// Answer now: any body is never read.
    Answer(Response),
    /// Read the body (at most [`Limits::body_bytes`]), then ask [`Service::body`].
    ReadBody,
}

/// What the server serves.
pub trait Service {
    /// The answer to a request whose head has arrived, or [`Next::ReadBody`]. Decide here everything the head
    /// decides (the route, the method, the credentials), so a refused body is never read.
    fn head(&self, head: &Head) -> Next;

    /// The answer to a request whose body has arrived.
    fn body(&self, head: &Head, body: &[u8]) -> Response;
}

/// The bounds of one server: the constants above, smaller in unit tests.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// [`CONNECTIONS`]
    pub connections: usize,
    /// [`HEAD_BYTES`]
    pub head_bytes: usize,
    /// [`BODY_BYTES`]
    pub body_bytes: usize,
    /// [`HEAD_DEADLINE`]
    pub head_deadline: Duration,
    /// [`BODY_DEADLINE`]
    pub body_deadline: Duration,
    /// [`WRITE_DEADLINE`]
    pub write_deadline: Duration,
    /// [`LINGER`]
    pub linger: Duration,
    /// [`LINGER_BYTES`]
    pub linger_bytes: usize,
    /// [`ACCEPT_BACKOFF`]
    pub accept_backoff: Duration,
}

impl Limits {
    /// The limits of the listener of `run`.
    pub const DEFAULT: Limits = Limits {
        connections: CONNECTIONS,
        head_bytes: HEAD_BYTES,
        body_bytes: BODY_BYTES,
        head_deadline: HEAD_DEADLINE,
        body_deadline: BODY_DEADLINE,
        write_deadline: WRITE_DEADLINE,
        linger: LINGER,
        linger_bytes: LINGER_BYTES,
        accept_backoff: ACCEPT_BACKOFF,
    };
}

/// How much a read of a body takes at once: bounds the stack the reads use, not the body.
const READ_CHUNK: usize = 16 * 1024;

/// How much one read of a lingering connection throws away at once: a client that sends [`LINGER_BYTES`] after its
/// answer costs 32 reads, not 512.
const LINGER_CHUNK: usize = 64 * 1024;

/// Serves `listener` (non-blocking) forever, logging what goes wrong with `log`.
pub fn serve(listener: &TcpListener, service: &dyn Service, limits: Limits, log: &dyn Fn(String)) -> ! {
    let mut server = Server {
        listener,
        service,
        limits,
        connections: Vec::with_capacity(limits.connections),
        paused_until: None,
        complaints: Complaints { log, last: None, unsaid: 0 },
    };
    loop {
        server.turn();
    }
}

struct Server<'a> {
    listener: &'a TcpListener,
    service: &'a dyn Service,
    limits: Limits,
    connections: Vec<Connection>,
    /// Accepting is paused until then (out of descriptors).
    paused_until: Option<Instant>,
    complaints: Complaints<'a>,
}

impl Server<'_> {
    /// One turn of the loop: deadlines, one `poll`, then every connection that is ready, then new connections.
    fn turn(&mut self) {
        let now = Instant::now();
        for connection in &mut self.connections {
            connection.expire(self.limits, now);
        }
        self.connections.retain(Connection::is_open);
        if self.paused_until.is_some_and(|until| now >= until) {
            self.paused_until = None;
        }
        let listening = self.paused_until.is_none();
        let ready = match self.wait_for_ready(listening, now) {
            Ok(ready) => ready,
            Err(error) => {
                if error.kind() != io::ErrorKind::Interrupted {
                    self.complaints.say(now, format!("poll failed: {error}"));
                    std::thread::sleep(self.limits.accept_backoff);
                }
                return;
            }
        };
        let (accept, connections_ready) = match listening {
            true => (ready[0], &ready[1..]),
            false => (false, &ready[..]),
        };
        let now = Instant::now();
        for (connection, _) in self.connections.iter_mut().zip(connections_ready).filter(|(_, ready)| **ready) {
            connection.advance(self.service, self.limits, now);
        }
        self.connections.retain(Connection::is_open);
        if accept {
            self.accept(now);
        }
    }

    /// `poll(2)` over the listening socket (unless paused) and every connection: which of them are ready, in that
    /// order.
    fn wait_for_ready(&self, listening: bool, now: Instant) -> io::Result<Vec<bool>> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = Vec::with_capacity(self.connections.len() + 1);
        if listening {
            fds.push(PollFd::new(&self.listener, PollFlags::IN));
        }
        fds.extend(self.connections.iter().map(Connection::poll_fd));
        let timeout = self.timeout(now).map(|wait| Timespec {
            tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(wait.subsec_nanos()),
        });
        poll(&mut fds, timeout.as_ref())?;
        Ok(fds.iter().map(|fd| !fd.revents().is_empty()).collect())
    }

    /// How long `poll` may wait: until the nearest deadline, or for ever when nothing has one (an idle listener
    /// costs nothing).
    fn timeout(&self, now: Instant) -> Option<Duration> {
        let next = self.connections.iter().map(|connection| connection.deadline).chain(self.paused_until).min()?;
        // One millisecond more, so that the deadline has passed when poll returns.
        Some(next.saturating_duration_since(now).min(Duration::from_secs(60)) + Duration::from_millis(1))
    }

    /// Accepts what is waiting (at most one server's worth per turn, so a flood cannot keep the loop from serving),
    /// each new connection read at once, evicting when full.
    fn accept(&mut self, now: Instant) {
        for _ in 0..self.limits.connections {
            match self.listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, now),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if transient(&error) => {}
                Err(error) => {
                    self.paused_until = Some(now + self.limits.accept_backoff);
                    let pause = self.limits.accept_backoff.as_millis();
                    self.complaints.say(now, format!("cannot accept a connection: {error}; pausing for {pause} ms"));
                    return;
                }
            }
        }
    }

    fn admit(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        if self.connections.len() >= self.limits.connections {
            self.evict();
        }
        let mut connection = Connection::new(stream, peer, self.limits, now);
        connection.advance(self.service, self.limits, now);
        if connection.is_open() {
            self.connections.push(connection);
        }
    }

    /// Closes the connection least worth keeping: the one that has waited longest for its request head, else the
    /// oldest lingering, else the oldest reading a body, else the oldest being answered.
    fn evict(&mut self) {
        let victim = self.connections.iter().enumerate().min_by_key(|(_, connection)| connection.worth());
        if let Some((index, _)) = victim {
            self.connections.swap_remove(index);
        }
    }
}

/// An accept error that concerns only the connection being accepted (it was reset, or its network is gone): the
/// next one may be fine. Linux reports such errors of the pending connection through accept(2).
fn transient(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted)
        || matches!(
            error.raw_os_error(),
            Some(
                libc::EPROTO
                    | libc::ENETDOWN
                    | libc::ENOPROTOOPT
                    | libc::EHOSTDOWN
                    | libc::ENONET
                    | libc::EHOSTUNREACH
                    | libc::ENETUNREACH
                    | libc::EOPNOTSUPP
                    | libc::EPERM
            )
        )
}

/// Errors said at most once per [`COMPLAINT_INTERVAL`].
struct Complaints<'a> {
    log: &'a dyn Fn(String),
    last: Option<Instant>,
    /// Errors not said since the last one said.
    unsaid: u64,
}

impl Complaints<'_> {
    fn say(&mut self, now: Instant, what: String) {
        if self.last.is_some_and(|last| now.duration_since(last) < COMPLAINT_INTERVAL) {
            self.unsaid += 1;
            return;
        }
        let unsaid = std::mem::take(&mut self.unsaid);
        let more =
            if unsaid > 0 { format!(" ({unsaid} more errors not logged since the last one)") } else { String::new() };
        (self.log)(format!("{what}{more}"));
        self.last = Some(now);
    }
}

/// One client connection, in the phase its request is in.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    accepted: Instant,
    /// When the current phase must have ended.
    deadline: Instant,
    phase: Phase,
}

enum Phase {
    /// Reading the request head into a buffer of [`Limits::head_bytes`].
    Head { buffer: Box<[u8]>, filled: usize },
    /// Reading a body of `length` bytes.
    Body { head: Head, body: Vec<u8>, length: usize },
    /// Writing the response: its head, then its body (unless `HEAD`).
    Respond { head: Vec<u8>, body: Option<Arc<str>>, written: usize },
    /// The response is written and writing shut down: reading and throwing away what the client still sends.
    Linger { discarded: usize },
    /// Done: dropped at the end of the turn.
    Closed,
}

impl Connection {
    fn new(stream: TcpStream, peer: SocketAddr, limits: Limits, now: Instant) -> Connection {
        let buffer = vec![0; limits.head_bytes].into_boxed_slice();
        let phase = Phase::Head { buffer, filled: 0 };
        Connection { stream, peer, accepted: now, deadline: now + limits.head_deadline, phase }
    }

    fn is_open(&self) -> bool {
        !matches!(self.phase, Phase::Closed)
    }

    /// What to wait for in `poll`.
    fn poll_fd(&self) -> rustix::event::PollFd<'_> {
        let events = match self.phase {
            Phase::Respond { .. } => rustix::event::PollFlags::OUT,
            _ => rustix::event::PollFlags::IN,
        };
        rustix::event::PollFd::new(&self.stream, events)
    }

    /// The order of eviction, least worth keeping first (see [`Server::evict`]).
    fn worth(&self) -> (u8, Instant) {
        let rank = match self.phase {
            Phase::Head { .. } | Phase::Closed => 0,
            Phase::Linger { .. } => 1,
            Phase::Body { .. } => 2,
            Phase::Respond { .. } => 3,
        };
        (rank, self.accepted)
    }

    /// The deadline of the current phase has passed: a request that is late gets `408` (an idle connection is just
    /// closed); an answer not taken, or a linger over, is closed.
    fn expire(&mut self, limits: Limits, now: Instant) {
        if now < self.deadline {
            return;
        }
        match &self.phase {
            Phase::Head { filled: 0, .. } | Phase::Respond { .. } | Phase::Linger { .. } => self.phase = Phase::Closed,
            Phase::Head { .. } | Phase::Body { .. } => {
                self.respond(Response::message(408, "the request took too long"), true, limits, now);
            }
            Phase::Closed => {}
        }
    }

    /// Does what the socket is ready for.
    fn advance(&mut self, service: &dyn Service, limits: Limits, now: Instant) {
        match self.phase {
            Phase::Head { .. } => self.read_head(service, limits, now),
            Phase::Body { .. } => self.read_body(service, limits, now),
            Phase::Respond { .. } => self.write_response(limits, now),
            Phase::Linger { .. } => self.linger(limits),
            Phase::Closed => {}
        }
    }

    fn read_head(&mut self, service: &dyn Service, limits: Limits, now: Instant) {
        let Phase::Head { buffer, filled } = &mut self.phase else { return };
        let from = *filled;
        match self.stream.read(&mut buffer[from..]) {
            Ok(0) => {
                self.phase = Phase::Closed;
                return;
            }
            Ok(read) => *filled += read,
            Err(error) if retry(&error) => return,
            Err(_) => {
                self.phase = Phase::Closed;
                return;
            }
        }
        let (buffer, filled) = (&buffer[..*filled], *filled);
        let parsed = match http::end_of_head(buffer, from) {
            Some(end) => http::parse_head(&buffer[..end], self.peer).map(|head| head.map(|head| (head, end))),
            None => Ok(None),
        };
        match parsed {
            Ok(Some((head, end))) => {
                let early_body = buffer[end..].to_vec();
                self.route(head, early_body, service, limits, now);
            }
            Ok(None) if filled == limits.head_bytes => {
                let too_large = format!("the request head is larger than {}", http::size(limits.head_bytes));
                self.respond(Response::message(431, &too_large), true, limits, now);
            }
            Ok(None) => {}
            Err(refusal) => self.respond(refusal, true, limits, now),
        }
    }

    /// A complete head: the service answers, or the body is read (what arrived with the head is its start).
    fn route(&mut self, head: Head, early_body: Vec<u8>, service: &dyn Service, limits: Limits, now: Instant) {
        let length = match service.head(&head) {
            Next::Answer(response) => return self.respond(response, !head.is_head(), limits, now),
            Next::ReadBody => match http::body_length(&head, limits.body_bytes) {
                Ok(length) => length,
                Err(refusal) => return self.respond(refusal, true, limits, now),
            },
        };
        let mut body = early_body;
        body.truncate(length);
        if body.len() == length {
            let response = service.body(&head, &body);
            return self.respond(response, true, limits, now);
        }
        if expects_continue(&head) && !self.send_continue() {
            self.phase = Phase::Closed;
            return;
        }
        self.deadline = self.accepted + limits.body_deadline;
        self.phase = Phase::Body { head, body, length };
    }

    /// `100 Continue`, for a client that waits for it before sending its body (curl does, for large ones). It is the
    /// first thing written, so the socket's empty buffer takes it whole; if not, the connection is given up.
    fn send_continue(&mut self) -> bool {
        const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
        matches!(self.stream.write(CONTINUE), Ok(written) if written == CONTINUE.len())
    }

    fn read_body(&mut self, service: &dyn Service, limits: Limits, now: Instant) {
        let Phase::Body { head, body, length } = &mut self.phase else { return };
        let mut chunk = [0; READ_CHUNK];
        let wanted = (*length - body.len()).min(READ_CHUNK);
        match self.stream.read(&mut chunk[..wanted]) {
            Ok(0) => self.phase = Phase::Closed,
            Ok(read) => {
                grow(body, read, *length);
                body.extend_from_slice(&chunk[..read]);
                if body.len() == *length {
                    let response = service.body(head, body);
                    self.respond(response, true, limits, now);
                }
            }
            Err(error) if retry(&error) => {}
            Err(_) => self.phase = Phase::Closed,
        }
    }

    /// Starts writing `response` (with its body unless `HEAD`), at once: most fit the socket's buffer.
    fn respond(&mut self, response: Response, with_body: bool, limits: Limits, now: Instant) {
        let body = with_body.then_some(response.body.clone());
        self.phase = Phase::Respond { head: response.head_bytes(), body, written: 0 };
        self.deadline = now + limits.write_deadline;
        self.write_response(limits, now);
    }

    fn write_response(&mut self, limits: Limits, now: Instant) {
        let Phase::Respond { head, body, written } = &mut self.phase else { return };
        let body = body.as_deref().unwrap_or_default().as_bytes();
        loop {
            let slices = if *written < head.len() {
                [IoSlice::new(&head[*written..]), IoSlice::new(body)]
            } else if *written < head.len() + body.len() {
                [IoSlice::new(&body[*written - head.len()..]), IoSlice::new(&[])]
            } else {
                break;
            };
            match self.stream.write_vectored(&slices) {
                Ok(0) => {
                    self.phase = Phase::Closed;
                    return;
                }
                Ok(sent) => *written += sent,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.phase = Phase::Closed;
                    return;
                }
            }
        }
        // Written: no more is sent, and what the client still sends is thrown away for a moment, so that closing does
        // not reset the connection before the client has read its response.
        let _ = self.stream.shutdown(Shutdown::Write);
        self.phase = Phase::Linger { discarded: 0 };
        self.deadline = now + limits.linger;
    }

    fn linger(&mut self, limits: Limits) {
        let Phase::Linger { discarded } = &mut self.phase else { return };
        let mut sink = [0; LINGER_CHUNK];
        loop {
            match self.stream.read(&mut sink) {
                Ok(0) => break,
                Ok(read) if *discarded + read > limits.linger_bytes => break,
                Ok(read) => *discarded += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => break,
            }
        }
        self.phase = Phase::Closed;
    }
}

/// Whether a read or write error only means "not now".
fn retry(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
}

/// Whether the head asks for `100 Continue` before the body.
fn expects_continue(head: &Head) -> bool {
    matches!(head.header("expect"), Ok(Some(value)) if value.eq_ignore_ascii_case(b"100-continue"))
}

/// Makes room in `body` for `more` bytes, growing it by doubling but never past `length`: the memory of a body
/// follows the bytes that arrived, not the `Content-Length` claimed.
fn grow(body: &mut Vec<u8>, more: usize, length: usize) {
    if body.capacity() - body.len() >= more {
        return;
    }
    let target = (body.capacity() * 2).max(body.len() + more).max(READ_CHUNK).min(length);
    body.reserve_exact(target.saturating_sub(body.len()));
}

#[cfg(test)]
mod tests;
