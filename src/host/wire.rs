//! rtnetlink's wire format, as pure functions over bytes: the requests anycastd sends and the parser of what the
//! kernel answers. Everything read here is untrusted input: each length is checked against what is left before a
//! byte is read, so that a truncated or lying message ends in an error string, never in a panic or an out-of-bounds
//! slice. Integers are in the host's byte order, as netlink defines them (except addresses, in network order).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Address, Link};

/// `struct nlmsghdr`: length, type, flags, sequence number, port ID.
pub(super) const HEADER_LEN: usize = 16;
/// `struct ifinfomsg`, which starts the payload of RTM_NEWLINK and RTM_GETLINK.
const IFINFOMSG_LEN: usize = 16;
/// `struct ifaddrmsg`, which starts the payload of RTM_NEWADDR, RTM_DELADDR and RTM_GETADDR.
const IFADDRMSG_LEN: usize = 8;
/// `struct nlmsgerr`: the error code and the header of the request it answers.
const NLMSGERR_LEN: usize = 4 + HEADER_LEN;

pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
pub(super) const RTM_NEWLINK: u16 = 16;
pub(super) const RTM_GETLINK: u16 = 18;
pub(super) const RTM_NEWADDR: u16 = 20;
pub(super) const RTM_DELADDR: u16 = 21;
pub(super) const RTM_GETADDR: u16 = 22;

const NLM_F_REQUEST: u16 = 0x1;
#[cfg(test)]
pub(super) const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
/// On a dump's message: the table changed while it was dumped, so the dump may be inconsistent.
pub(super) const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
/// On an error message: the request's payload is not echoed back (NETLINK_CAP_ACK).
const NLM_F_CAPPED: u16 = 0x100;
/// On an error message: extended-ack attributes follow (NETLINK_EXT_ACK).
const NLM_F_ACK_TLVS: u16 = 0x200;

const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u8 = 0x02;
const NLMSGERR_ATTR_MSG: u16 = 1;
/// An attribute's type without its NLA_F_NESTED and NLA_F_NET_BYTEORDER bits.
const NLA_TYPE_MASK: u16 = 0x3fff;
/// The longest interface name and its NUL (IFNAMSIZ).
const IFNAMSIZ: usize = 16;
/// The most of the kernel's extended-ack message that an error keeps.
const MOST_MESSAGE: usize = 200;

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;

/// One netlink message of a datagram, its payload still to parse.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// An NLMSG_ERROR message: `errno` 0 is the acknowledgement of a success.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Ack {
    pub errno: i32,
    /// The kernel's own words (NLMSGERR_ATTR_MSG), when it gave some.
    pub message: Option<String>,
}

/// The messages of one datagram, in order.
pub(super) fn messages(mut datagram: &[u8]) -> Result<Vec<Message<'_>>, String> {
    let mut out = Vec::new();
    while !datagram.is_empty() {
        let header = datagram.get(..HEADER_LEN).ok_or("a message shorter than its header")?;
        let len = u32_at(header, 0)? as usize;
        if len < HEADER_LEN || len > datagram.len() {
            return Err(format!("a message whose length ({len}) does not fit its datagram ({} bytes)", datagram.len()));
        }
        out.push(Message {
            kind: u16_at(header, 4)?,
            flags: u16_at(header, 6)?,
            seq: u32_at(header, 8)?,
            payload: &datagram[HEADER_LEN..len],
        });
        datagram = datagram.get(align(len)..).unwrap_or_default();
    }
    Ok(out)
}

/// The attributes (`struct rtattr`/`struct nlattr`) packed in `bytes`: type and payload.
pub(super) fn attributes(mut bytes: &[u8]) -> Result<Vec<(u16, &[u8])>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let header = bytes.get(..4).ok_or("an attribute shorter than its header")?;
        let len = usize::from(u16_at(header, 0)?);
        if len < 4 || len > bytes.len() {
            return Err(format!("an attribute whose length ({len}) does not fit its message ({} bytes)", bytes.len()));
        }
        out.push((u16_at(header, 2)? & NLA_TYPE_MASK, &bytes[4..len]));
        bytes = bytes.get(align(len)..).unwrap_or_default();
    }
    Ok(out)
}

/// An RTM_NEWLINK message of a link dump.
pub(super) fn link(payload: &[u8]) -> Result<Link, String> {
    let fixed = payload.get(..IFINFOMSG_LEN).ok_or("an interface message shorter than struct ifinfomsg")?;
    let index = index(i32::from_ne_bytes(array(fixed, 4)?))?;
    let (mut name, mut master, mut is_vrf) = (None, None, false);
    for (kind, value) in attributes(&payload[IFINFOMSG_LEN..])? {
        match kind {
            IFLA_IFNAME => name = Some(interface_name(value).map_err(|e| format!("interface {index}: {e}"))?),
            IFLA_MASTER => {
                let bytes = <[u8; 4]>::try_from(value)
                    .map_err(|_| format!("interface {index}: a master of {} bytes", value.len()))?;
                master = Some(u32::from_ne_bytes(bytes)).filter(|master| *master != 0);
            }
            IFLA_LINKINFO => is_vrf = info_kind(value).map_err(|e| format!("interface {index}: {e}"))? == b"vrf",
            _ => {}
        }
    }
    let name = name.ok_or_else(|| format!("interface {index} has no name"))?;
    Ok(Link { index, name, master, is_vrf })
}

/// The kind of device (IFLA_INFO_KIND, `vrf`, `dummy`...) in an IFLA_LINKINFO attribute; empty when it has none.
fn info_kind(linkinfo: &[u8]) -> Result<&[u8], String> {
    let kind = attributes(linkinfo)?.into_iter().find(|(kind, _)| *kind == IFLA_INFO_KIND);
    Ok(kind.map_or(&[][..], |(_, value)| c_string(value)))
}

/// The kind of device of an RTM_NEWLINK message, for the tests against the kernel: `is_vrf` is all `Link` keeps.
#[cfg(test)]
pub(super) fn link_kind(payload: &[u8]) -> Result<String, String> {
    let linkinfo =
        attributes(payload.get(IFINFOMSG_LEN..).ok_or("short")?)?.into_iter().find(|(kind, _)| *kind == IFLA_LINKINFO);
    Ok(linkinfo
        .map(|(_, value)| info_kind(value))
        .transpose()?
        .map(String::from_utf8_lossy)
        .unwrap_or_default()
        .into_owned())
}

/// An RTM_NEWADDR message of an address dump; None for a family other than IPv4 and IPv6.
pub(super) fn address(payload: &[u8]) -> Result<Option<Address>, String> {
    let fixed = payload.get(..IFADDRMSG_LEN).ok_or("an address message shorter than struct ifaddrmsg")?;
    let (family, prefix_len) = (fixed[0], fixed[1]);
    let index = u32::from_ne_bytes(array(fixed, 4)?);
    let most = match family {
        AF_INET => 32,
        AF_INET6 => 128,
        _ => return Ok(None),
    };
    if prefix_len > most {
        return Err(format!("interface {index}: an address with prefix length {prefix_len}"));
    }
    let (mut local, mut peer) = (None, None);
    for (kind, value) in attributes(&payload[IFADDRMSG_LEN..])? {
        match kind {
            IFA_LOCAL => local = Some(value),
            IFA_ADDRESS => peer = Some(value),
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the same but for a point-to-point peer, and is the
    // only one an IPv6 address usually has: as `ip address` reads them.
    let value = local.or(peer).ok_or_else(|| format!("interface {index}: an address message without an address"))?;
    let address = match (family, <[u8; 4]>::try_from(value), <[u8; 16]>::try_from(value)) {
        (AF_INET, Ok(v4), _) => IpAddr::V4(Ipv4Addr::from(v4)),
        (AF_INET6, _, Ok(v6)) => IpAddr::V6(Ipv6Addr::from(v6)),
        _ => return Err(format!("interface {index}: an address of {} bytes", value.len())),
    };
    Ok(Some(Address { index, address, prefix_len }))
}

/// The payload of an NLMSG_ERROR message whose header has `flags`.
pub(super) fn ack(flags: u16, payload: &[u8]) -> Result<Ack, String> {
    let error = i32::from_ne_bytes(array(payload, 0).map_err(|_| "an error message shorter than its code")?);
    let errno =
        error.checked_neg().filter(|errno| *errno >= 0).ok_or_else(|| format!("an error message with code {error}"))?;
    let mut message = None;
    if flags & NLM_F_ACK_TLVS != 0 {
        // The attributes follow the request's header, and its payload unless the kernel capped it.
        let echoed = if flags & NLM_F_CAPPED != 0 {
            NLMSGERR_LEN
        } else {
            let request_len = u32_at(payload.get(4..NLMSGERR_LEN).ok_or("an error message without its request")?, 0)?;
            4 + align(request_len as usize)
        };
        let tlvs = payload.get(echoed..).ok_or("an error message shorter than its request")?;
        for (kind, value) in attributes(tlvs)? {
            if kind == NLMSGERR_ATTR_MSG {
                let text = String::from_utf8_lossy(c_string(value));
                message = Some(text.chars().take(MOST_MESSAGE).collect::<String>()).filter(|text| !text.is_empty());
            }
        }
    }
    Ok(Ack { errno, message })
}

/// A dump of every interface (RTM_GETLINK) or of every address of both families (RTM_GETADDR).
pub(super) fn dump_request(kind: u16, seq: u32) -> Vec<u8> {
    let fixed = if kind == RTM_GETLINK { IFINFOMSG_LEN } else { IFADDRMSG_LEN };
    let mut out = header(kind, NLM_F_REQUEST | NLM_F_DUMP, seq);
    out.resize(HEADER_LEN + fixed, 0); // family AF_UNSPEC: every family
    finish(out)
}

/// RTM_NEWADDR or RTM_DELADDR of `address` as a host route (/32, /128) on interface `index`, acknowledged. A new
/// address is created, never replaces one (EEXIST says it is there), and an IPv6 one skips duplicate address
/// detection (IFA_F_NODAD), so that it is not tentative: a service can bind it at once.
pub(super) fn address_request(kind: u16, seq: u32, index: u32, address: IpAddr) -> Vec<u8> {
    let adding = kind == RTM_NEWADDR;
    let flags = NLM_F_REQUEST | NLM_F_ACK | if adding { NLM_F_CREATE | NLM_F_EXCL } else { 0 };
    let mut out = header(kind, flags, seq);
    let (family, prefix_len, bytes): (u8, u8, Vec<u8>) = match address {
        IpAddr::V4(v4) => (AF_INET, 32, v4.octets().to_vec()),
        IpAddr::V6(v6) => (AF_INET6, 128, v6.octets().to_vec()),
    };
    let nodad = adding && family == AF_INET6;
    out.extend_from_slice(&[family, prefix_len, if nodad { IFA_F_NODAD } else { 0 }, 0]); // scope: global
    out.extend_from_slice(&index.to_ne_bytes());
    push_attribute(&mut out, IFA_LOCAL, &bytes);
    push_attribute(&mut out, IFA_ADDRESS, &bytes);
    if nodad {
        push_attribute(&mut out, IFA_FLAGS, &u32::from(IFA_F_NODAD).to_ne_bytes());
    }
    finish(out)
}

fn header(kind: u16, flags: u16, seq: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&0u32.to_ne_bytes()); // the length, set by `finish`
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // port ID: the kernel fills it in
    out
}

fn push_attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(align(out.len()), 0);
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    let len = (out.len() as u32).to_ne_bytes();
    out[..4].copy_from_slice(&len);
    out
}

/// An interface name: at most IFNAMSIZ bytes with its NUL, not empty; bytes that are not UTF-8 become U+FFFD.
fn interface_name(value: &[u8]) -> Result<String, String> {
    let name = c_string(value);
    if name.is_empty() || name.len() >= IFNAMSIZ {
        return Err(format!("a name of {} bytes", name.len()));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// The bytes of a string attribute up to its NUL, or all of them when it has none.
fn c_string(value: &[u8]) -> &[u8] {
    value.iter().position(|byte| *byte == 0).map_or(value, |nul| &value[..nul])
}

/// An interface index, which the kernel numbers from 1.
fn index(raw: i32) -> Result<u32, String> {
    u32::try_from(raw).ok().filter(|index| *index != 0).ok_or_else(|| format!("an interface with index {raw}"))
}

/// Netlink's 4-byte alignment of messages and attributes.
fn align(len: usize) -> usize {
    len.saturating_add(3) & !3
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N], String> {
    bytes
        .get(at..at.saturating_add(N))
        .and_then(|slice| <[u8; N]>::try_from(slice).ok())
        .ok_or_else(|| format!("{N} bytes at offset {at} of {} bytes", bytes.len()))
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16, String> {
    array(bytes, at).map(u16::from_ne_bytes)
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, String> {
    array(bytes, at).map(u32::from_ne_bytes)
}

#[cfg(test)]
mod tests;
