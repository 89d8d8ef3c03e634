//! The rtnetlink socket: one per pass, closed on exec (no child inherits it), with a receive timeout so that a pass
//! never hangs on a kernel that does not answer, a fixed receive buffer, and a bound on what one read keeps.

use std::io;
use std::mem;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::Host;
use super::wire::{self, Message};

/// How long anycastd waits for each datagram of an answer.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(2);
/// The receive buffer: a dump's datagrams are at most 32 KiB; a longer one is an error (MSG_TRUNC), not cut short.
const BUFFER: usize = 64 * 1024;
/// The most interfaces one read keeps; a host with more is refused, not read until memory runs out.
pub(super) const MOST_LINKS: usize = 100_000;
/// The most addresses one read keeps.
pub(super) const MOST_ADDRESSES: usize = 100_000;
/// The most datagrams read while waiting for an acknowledgement: what is left of an earlier dump that timed out.
const MOST_STRAY_DATAGRAMS: usize = 10_000;
/// How many times a dump that the kernel marks inconsistent (the table changed meanwhile) is started again.
const DUMP_ATTEMPTS: usize = 3;

const SOL_NETLINK: libc::c_int = 270;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;

/// One rtnetlink socket (NETLINK_ROUTE), opened once per pass, with a receive timeout.
pub(crate) struct Netlink {
    socket: OwnedFd,
    seq: u32,
    buffer: Vec<u8>,
}

/// How a dump ended.
enum Dumped {
    Complete,
    /// The kernel said the table changed while it was dumped: what was read may be inconsistent.
    Interrupted,
}

impl Netlink {
    pub(crate) fn open() -> Result<Netlink, String> {
        let opening = |error: io::Error| {
            // The shipped units refuse AF_NETLINK: only their address drop-in allows it.
            let hint = if error.raw_os_error() == Some(libc::EAFNOSUPPORT) {
                " (a sandbox refuses netlink: link the units' address drop-in, see \"Letting the units change \
                 addresses\" in the README)"
            } else {
                ""
            };
            format!("netlink: opening a socket: {}{hint}", crate::os_error::words(&error))
        };
        // SAFETY: socket(2) takes integers and returns a new descriptor, which only `OwnedFd` owns from here.
        let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) };
        if fd < 0 {
            return Err(opening(io::Error::last_os_error()));
        }
        // SAFETY: `fd` is a descriptor just opened and owned by nothing else.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        let timeout = libc::timeval { tv_sec: RECEIVE_TIMEOUT.as_secs() as libc::time_t, tv_usec: 0 };
        set_option(&socket, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout).map_err(opening)?;
        set_option(&socket, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &timeout).map_err(opening)?;
        // The kernel's own words in an error, and no echo of the request in it; a kernel without them (before 4.12
        // and 4.3) answers with the error code alone, which is enough.
        let _ = set_option(&socket, SOL_NETLINK, NETLINK_EXT_ACK, &1 as &libc::c_int);
        let _ = set_option(&socket, SOL_NETLINK, NETLINK_CAP_ACK, &1 as &libc::c_int);
        let address = kernel();
        // SAFETY: bind(2) reads a `sockaddr_nl` of the size given, alive for the call.
        let bound = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&raw const address).cast(),
                mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if bound != 0 {
            return Err(opening(io::Error::last_os_error()));
        }
        Ok(Netlink { socket, seq: 0, buffer: vec![0; BUFFER] })
    }

    /// One RTM_GETLINK dump and one RTM_GETADDR dump (both families).
    pub(crate) fn read(&mut self) -> Result<Host, String> {
        for _ in 0..DUMP_ATTEMPTS {
            let mut host = Host::default();
            let links = self.dump(wire::RTM_GETLINK, wire::RTM_NEWLINK, MOST_LINKS, |payload| {
                host.links.push(wire::link(payload)?);
                Ok(())
            });
            let links = links.map_err(|error| format!("netlink: reading the interfaces: {error}"))?;
            let addresses = self.dump(wire::RTM_GETADDR, wire::RTM_NEWADDR, MOST_ADDRESSES, |payload| {
                host.addresses.extend(wire::address(payload)?);
                Ok(())
            });
            let addresses = addresses.map_err(|error| format!("netlink: reading the addresses: {error}"))?;
            if let (Dumped::Complete, Dumped::Complete) = (links, addresses) {
                return Ok(host);
            }
        }
        Err(format!("netlink: the interfaces or addresses changed during each of {DUMP_ATTEMPTS} reads; try again"))
    }

    /// Adds `address` as /32 (IPv4) or /128 (IPv6) on interface `index`, scope global, IPv6 with IFA_F_NODAD (a
    /// service must be able to bind it at once: no tentative address on a dummy or VRF device). EEXIST is success
    /// (already there).
    pub(crate) fn add_address(&mut self, index: u32, address: IpAddr) -> Result<(), String> {
        let seq = self.next_seq();
        match self.change(&wire::address_request(wire::RTM_NEWADDR, seq, index, address), seq) {
            Ok(()) | Err(Failed::Kernel(libc::EEXIST, _)) => Ok(()),
            Err(failed) => {
                Err(format!("netlink: adding {}/{} to interface {index}: {failed}", address, host_len(address)))
            }
        }
    }

    /// Removes the /32 or /128 `address` from interface `index`. EADDRNOTAVAIL (already gone) is success.
    pub(crate) fn remove_address(&mut self, index: u32, address: IpAddr) -> Result<(), String> {
        let seq = self.next_seq();
        match self.change(&wire::address_request(wire::RTM_DELADDR, seq, index, address), seq) {
            Ok(()) | Err(Failed::Kernel(libc::EADDRNOTAVAIL, _)) => Ok(()),
            Err(failed) => {
                Err(format!("netlink: removing {}/{} from interface {index}: {failed}", address, host_len(address)))
            }
        }
    }

    /// Each interface's index and kind of device (`veth`, `bridge`, empty for `lo`), as the kernel names them.
    #[cfg(test)]
    pub(super) fn link_kinds(&mut self) -> Result<Vec<(u32, String)>, String> {
        let mut kinds = Vec::new();
        self.dump(wire::RTM_GETLINK, wire::RTM_NEWLINK, MOST_LINKS, |payload| {
            kinds.push((wire::link(payload)?.index, wire::link_kind(payload)?));
            Ok(())
        })?;
        Ok(kinds)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Sends a dump request of `request` and hands the payload of each `answer` message to `each`, until the
    /// kernel's NLMSG_DONE; more than `most` messages is an error.
    fn dump(
        &mut self,
        request: u16,
        answer: u16,
        most: usize,
        mut each: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<Dumped, String> {
        let seq = self.next_seq();
        self.send(&wire::dump_request(request, seq))?;
        let mut count = 0usize;
        let mut interrupted = false;
        loop {
            let len = self.receive()?;
            for message in wire::messages(&self.buffer[..len])? {
                count += 1;
                if count > most {
                    return Err(format!("more than {most} of them"));
                }
                if message.seq != seq {
                    continue; // the answer to an earlier request that timed out
                }
                interrupted |= message.flags & wire::NLM_F_DUMP_INTR != 0;
                match message.kind {
                    wire::NLMSG_DONE => return Ok(if interrupted { Dumped::Interrupted } else { Dumped::Complete }),
                    wire::NLMSG_ERROR => match Failed::from_ack(&message)? {
                        Failed::Kernel(0, _) => {} // an acknowledgement, which a dump does not ask for
                        failed => return Err(failed.to_string()),
                    },
                    kind if kind == answer => each(message.payload)?,
                    _ => {}
                }
            }
        }
    }

    /// Sends `request` (with NLM_F_ACK) and waits for the kernel's acknowledgement of it.
    fn change(&mut self, request: &[u8], seq: u32) -> Result<(), Failed> {
        self.send(request).map_err(Failed::Socket)?;
        for _ in 0..MOST_STRAY_DATAGRAMS {
            let len = self.receive().map_err(Failed::Socket)?;
            for message in wire::messages(&self.buffer[..len]).map_err(Failed::Socket)? {
                if message.seq == seq && message.kind == wire::NLMSG_ERROR {
                    return match Failed::from_ack(&message).map_err(Failed::Socket)? {
                        Failed::Kernel(0, _) => Ok(()),
                        failed => Err(failed),
                    };
                }
            }
        }
        Err(Failed::Socket("no acknowledgement among the kernel's answers".into()))
    }

    fn send(&mut self, request: &[u8]) -> Result<(), String> {
        let to = kernel();
        loop {
            // SAFETY: sendto(2) reads `request` and a `sockaddr_nl`, both alive for the call, of the sizes given.
            let sent = unsafe {
                libc::sendto(
                    self.socket.as_raw_fd(),
                    request.as_ptr().cast(),
                    request.len(),
                    0,
                    (&raw const to).cast(),
                    mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if sent >= 0 {
                return if sent as usize == request.len() { Ok(()) } else { Err("a request sent in part".into()) };
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(crate::os_error::words(&error));
            }
        }
    }

    /// Receives one datagram from the kernel into the buffer and returns its length. A datagram from any other
    /// sender is dropped; one longer than the buffer is an error.
    fn receive(&mut self) -> Result<usize, String> {
        loop {
            // SAFETY: all-zero is a valid `sockaddr_nl` and `msghdr`.
            let mut from: libc::sockaddr_nl = unsafe { mem::zeroed() };
            let mut iov = libc::iovec { iov_base: self.buffer.as_mut_ptr().cast(), iov_len: self.buffer.len() };
            let mut header: libc::msghdr = unsafe { mem::zeroed() };
            header.msg_name = (&raw mut from).cast();
            header.msg_namelen = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            header.msg_iov = &raw mut iov;
            header.msg_iovlen = 1;
            // SAFETY: recvmsg(2) writes at most `iov_len` bytes into the buffer and at most `msg_namelen` bytes into
            // `from`, all alive and exclusively borrowed for the call.
            let len = unsafe { libc::recvmsg(self.socket.as_raw_fd(), &raw mut header, 0) };
            if len < 0 {
                let error = io::Error::last_os_error();
                match error.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        return Err(format!("no answer from the kernel within {} s", RECEIVE_TIMEOUT.as_secs()));
                    }
                    _ => return Err(crate::os_error::words(&error)),
                }
            }
            if header.msg_flags & libc::MSG_TRUNC != 0 {
                return Err(format!("an answer longer than {} KiB", BUFFER / 1024));
            }
            if from.nl_family != libc::AF_NETLINK as libc::sa_family_t || from.nl_pid != 0 {
                continue; // not from the kernel
            }
            return Ok(len as usize);
        }
    }
}

/// Why a change failed: the kernel's refusal (errno and its own words) or the socket's trouble.
#[derive(Debug)]
enum Failed {
    Kernel(i32, Option<String>),
    Socket(String),
}

impl Failed {
    fn from_ack(message: &Message<'_>) -> Result<Failed, String> {
        let ack = wire::ack(message.flags, message.payload)?;
        Ok(Failed::Kernel(ack.errno, ack.message))
    }
}

/// `operation not permitted (anycastd lacks CAP_NET_ADMIN: …)`, `no such device (kernel: ipv4: Device not found)`.
impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Socket(text) => f.write_str(text),
            Failed::Kernel(errno, message) => {
                f.write_str(&crate::os_error::words(&io::Error::from_raw_os_error(*errno)))?;
                if *errno == libc::EPERM {
                    f.write_str(
                        " (anycastd lacks CAP_NET_ADMIN: see \"The service address on the host\" in the README)",
                    )?;
                } else if let Some(message) = message {
                    write!(f, " (the kernel says: {})", crate::escape::escape(message))?;
                }
                Ok(())
            }
        }
    }
}

/// The kernel's address (port ID 0).
fn kernel() -> libc::sockaddr_nl {
    // SAFETY: all-zero is a valid `sockaddr_nl`: port ID 0, no multicast group.
    let mut address: libc::sockaddr_nl = unsafe { mem::zeroed() };
    address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    address
}

fn set_option<T>(socket: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> Result<(), io::Error> {
    // SAFETY: setsockopt(2) reads `size_of::<T>()` bytes of `value`, alive for the call.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if set == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

fn host_len(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_an_operator_sentence() {
        let eperm = Failed::Kernel(libc::EPERM, Some("ignored".into()));
        assert_eq!(
            eperm.to_string(),
            "operation not permitted (anycastd lacks CAP_NET_ADMIN: see \"The service address on the host\" in the README)"
        );
        let enodev = Failed::Kernel(libc::ENODEV, Some("ipv4: Device not found\n".into()));
        assert_eq!(enodev.to_string(), "no such device (the kernel says: ipv4: Device not found\\n)");
        assert_eq!(Failed::Kernel(libc::ENODEV, None).to_string(), "no such device");
    }
}
