//! The parser on hand-built bytes: real answers as the kernel lays them out, then truncated and lying ones, which
//! must end in an error and never in a panic.

use super::*;

fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_attribute(&mut out, kind, value);
    out
}

fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = header(kind, flags, seq);
    out.extend_from_slice(payload);
    let mut out = finish(out);
    out.resize(align(out.len()), 0);
    out
}

/// An RTM_NEWLINK payload: `struct ifinfomsg` for `index`, then `attributes`.
fn link_payload(index: i32, attributes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0u8; IFINFOMSG_LEN];
    out[4..8].copy_from_slice(&index.to_ne_bytes());
    attributes.iter().for_each(|attribute| out.extend_from_slice(attribute));
    out
}

/// An RTM_NEWADDR payload: `struct ifaddrmsg`, then `attributes`.
fn address_payload(family: u8, prefix_len: u8, index: u32, attributes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![family, prefix_len, 0, 0];
    out.extend_from_slice(&index.to_ne_bytes());
    attributes.iter().for_each(|attribute| out.extend_from_slice(attribute));
    out
}

fn linkinfo(kind: &str) -> Vec<u8> {
    let mut nested = attribute(IFLA_INFO_KIND, format!("{kind}\0").as_bytes());
    nested.extend(attribute(2, b"data"));
    attribute(IFLA_LINKINFO | 0x8000, &nested) // NLA_F_NESTED, as the kernel may set it
}

fn dummy0_in_blue() -> Vec<u8> {
    link_payload(
        3,
        &[attribute(IFLA_IFNAME, b"dummy0\0"), attribute(IFLA_MASTER, &2u32.to_ne_bytes()), linkinfo("dummy")],
    )
}

#[test]
fn a_link_has_its_name_master_and_whether_it_is_a_vrf() {
    assert_eq!(link(&dummy0_in_blue()), Ok(Link { index: 3, name: "dummy0".into(), master: Some(2), is_vrf: false }));
    let blue = link_payload(2, &[linkinfo("vrf"), attribute(IFLA_IFNAME, b"blue\0")]);
    assert_eq!(link(&blue), Ok(Link { index: 2, name: "blue".into(), master: None, is_vrf: true }));
    let unenslaved = link_payload(4, &[attribute(IFLA_IFNAME, b"eth0\0"), attribute(IFLA_MASTER, &0u32.to_ne_bytes())]);
    assert_eq!(link(&unenslaved).map(|link| link.master), Ok(None), "master 0 is none");
    let vrfish = link_payload(5, &[attribute(IFLA_IFNAME, b"x\0"), linkinfo("vrf2")]);
    assert_eq!(link(&vrfish).map(|link| link.is_vrf), Ok(false));
}

#[test]
fn a_link_name_is_at_most_ifnamsiz_and_lossy_when_not_utf8() {
    let longest = link_payload(1, &[attribute(IFLA_IFNAME, b"fifteen-bytes-x\0")]);
    assert_eq!(link(&longest).map(|link| link.name), Ok("fifteen-bytes-x".into()));
    let too_long = link_payload(1, &[attribute(IFLA_IFNAME, b"sixteen-bytes-xx\0")]);
    assert_eq!(link(&too_long), Err("interface 1: a name of 16 bytes".into()));
    let no_nul = link_payload(1, &[attribute(IFLA_IFNAME, &[b'a'; 40])]);
    assert_eq!(link(&no_nul), Err("interface 1: a name of 40 bytes".into()));
    let empty = link_payload(1, &[attribute(IFLA_IFNAME, b"\0")]);
    assert_eq!(link(&empty), Err("interface 1: a name of 0 bytes".into()));
    let latin1 = link_payload(1, &[attribute(IFLA_IFNAME, b"caf\xe9\0")]);
    assert_eq!(link(&latin1).map(|link| link.name), Ok("caf\u{fffd}".into()));
}

#[test]
fn a_malformed_link_is_an_error() {
    assert_eq!(link(&[0; 15]), Err("an interface message shorter than struct ifinfomsg".into()));
    assert_eq!(link(&link_payload(7, &[])), Err("interface 7 has no name".into()));
    assert_eq!(link(&link_payload(0, &[attribute(IFLA_IFNAME, b"lo\0")])), Err("an interface with index 0".into()));
    assert_eq!(link(&link_payload(-4, &[attribute(IFLA_IFNAME, b"lo\0")])), Err("an interface with index -4".into()));
    let short_master = link_payload(3, &[attribute(IFLA_IFNAME, b"lo\0"), attribute(IFLA_MASTER, &[2, 0])]);
    assert_eq!(link(&short_master), Err("interface 3: a master of 2 bytes".into()));
    let mut lying_linkinfo = link_payload(3, &[attribute(IFLA_IFNAME, b"lo\0")]);
    lying_linkinfo.extend(attribute(IFLA_LINKINFO, &[200, 0, 1, 0, b'v', b'r', b'f', 0]));
    assert_eq!(
        link(&lying_linkinfo),
        Err("interface 3: an attribute whose length (200) does not fit its message (8 bytes)".into())
    );
}

#[test]
fn an_address_is_its_local_one_with_its_prefix_length() {
    let v4 = address_payload(
        AF_INET,
        24,
        1,
        &[attribute(IFA_ADDRESS, &[198, 51, 100, 1]), attribute(IFA_LOCAL, &[203, 0, 113, 53]), attribute(3, b"lo\0")],
    );
    assert_eq!(
        address(&v4),
        Ok(Some(Address { index: 1, address: "203.0.113.53".parse().unwrap(), prefix_len: 24 })),
        "IFA_LOCAL, not a point-to-point peer's IFA_ADDRESS"
    );
    let v6: Ipv6Addr = "2001:db8::53".parse().unwrap();
    let v6_only_address = address_payload(AF_INET6, 128, 9, &[attribute(IFA_ADDRESS, &v6.octets())]);
    assert_eq!(address(&v6_only_address), Ok(Some(Address { index: 9, address: IpAddr::V6(v6), prefix_len: 128 })));
    let packet = address_payload(17, 0, 1, &[attribute(IFA_ADDRESS, &[1, 2, 3, 4, 5, 6])]);
    assert_eq!(address(&packet), Ok(None), "AF_PACKET: neither IPv4 nor IPv6");
}

#[test]
fn a_malformed_address_is_an_error() {
    assert_eq!(address(&[AF_INET, 32, 0, 0, 1, 0, 0]), Err("an address message shorter than struct ifaddrmsg".into()));
    let too_long_prefix = address_payload(AF_INET, 33, 1, &[attribute(IFA_LOCAL, &[203, 0, 113, 53])]);
    assert_eq!(address(&too_long_prefix), Err("interface 1: an address with prefix length 33".into()));
    let v6_prefix = address_payload(AF_INET6, 129, 1, &[attribute(IFA_ADDRESS, &[0; 16])]);
    assert_eq!(address(&v6_prefix), Err("interface 1: an address with prefix length 129".into()));
    let five_bytes = address_payload(AF_INET, 32, 1, &[attribute(IFA_LOCAL, &[203, 0, 113, 53, 0])]);
    assert_eq!(address(&five_bytes), Err("interface 1: an address of 5 bytes".into()));
    let v4_in_v6 = address_payload(AF_INET6, 32, 1, &[attribute(IFA_ADDRESS, &[203, 0, 113, 53])]);
    assert_eq!(address(&v4_in_v6), Err("interface 1: an address of 4 bytes".into()));
    let none = address_payload(AF_INET, 32, 1, &[attribute(IFA_FLAGS, &[0; 4])]);
    assert_eq!(address(&none), Err("interface 1: an address message without an address".into()));
}

#[test]
fn a_datagram_splits_into_its_aligned_messages() {
    let first = message(RTM_NEWLINK, NLM_F_MULTI, 7, &[1, 2, 3]); // 19 bytes, padded to 20
    let mut datagram = first.clone();
    datagram.extend(message(NLMSG_DONE, NLM_F_MULTI, 7, &0i32.to_ne_bytes()));
    let split = messages(&datagram).unwrap();
    assert_eq!(split.len(), 2);
    assert_eq!(split[0], Message { kind: RTM_NEWLINK, flags: NLM_F_MULTI, seq: 7, payload: &[1, 2, 3] });
    assert_eq!((split[1].kind, split[1].payload), (NLMSG_DONE, &[0u8, 0, 0, 0][..]));
    // The last message may end without its padding.
    assert_eq!(messages(&first[..19]).map(|split| split.len()), Ok(1));
}

#[test]
fn a_truncated_or_lying_message_is_an_error() {
    let whole = message(RTM_NEWLINK, 0, 1, &dummy0_in_blue());
    assert_eq!(messages(&whole[..10]), Err("a message shorter than its header".into()));
    assert!(messages(&whole[..whole.len() - 1]).unwrap_err().contains("does not fit its datagram"));
    let mut lying = whole.clone();
    lying[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
    assert_eq!(
        messages(&lying),
        Err(format!("a message whose length (4294967295) does not fit its datagram ({} bytes)", whole.len()))
    );
    let mut short = whole.clone();
    short[..4].copy_from_slice(&3u32.to_ne_bytes());
    assert!(messages(&short).unwrap_err().contains("length (3)"), "shorter than a header: no endless loop");
}

#[test]
fn attributes_with_lying_lengths_are_errors() {
    assert_eq!(attributes(&[5, 0, 3, 0, b'x', 0, 0, 0]), Ok(vec![(3, &b"x"[..])]));
    assert_eq!(attributes(&[5, 0, 3]), Err("an attribute shorter than its header".into()));
    assert_eq!(
        attributes(&[2, 0, 3, 0]),
        Err("an attribute whose length (2) does not fit its message (4 bytes)".into())
    );
    assert_eq!(
        attributes(&[9, 0, 3, 0, 1, 2, 3, 4]),
        Err("an attribute whose length (9) does not fit its message (8 bytes)".into())
    );
    assert_eq!(attributes(&[4, 0, 3, 0, 0, 0]), Err("an attribute shorter than its header".into()), "2 stray bytes");
}

#[test]
fn an_ack_has_its_errno_and_the_kernels_words() {
    assert_eq!(ack(0, &[0; NLMSGERR_LEN]), Ok(Ack { errno: 0, message: None }));
    let mut capped = (-libc::ENODEV).to_ne_bytes().to_vec();
    capped.extend([0; HEADER_LEN]);
    capped.extend(attribute(NLMSGERR_ATTR_MSG, b"ipv4: Device not found\0"));
    assert_eq!(
        ack(NLM_F_CAPPED | NLM_F_ACK_TLVS, &capped),
        Ok(Ack { errno: libc::ENODEV, message: Some("ipv4: Device not found".into()) })
    );
    // Not capped: the request is echoed whole before the attributes.
    let request = address_request(RTM_NEWADDR, 9, 1, "203.0.113.53".parse().unwrap());
    let mut echoed = (-libc::EPERM).to_ne_bytes().to_vec();
    echoed.extend(&request);
    echoed.extend(attribute(NLMSGERR_ATTR_MSG, b"no\0"));
    assert_eq!(ack(NLM_F_ACK_TLVS, &echoed), Ok(Ack { errno: libc::EPERM, message: Some("no".into()) }));
    assert_eq!(ack(0, &echoed), Ok(Ack { errno: libc::EPERM, message: None }), "attributes only when flagged");
}

#[test]
fn a_malformed_ack_is_an_error() {
    assert_eq!(ack(0, &[0, 0]), Err("an error message shorter than its code".into()));
    assert_eq!(ack(0, &5i32.to_ne_bytes()), Err("an error message with code 5".into()));
    assert_eq!(ack(0, &i32::MIN.to_ne_bytes()), Err(format!("an error message with code {}", i32::MIN)));
    assert_eq!(ack(NLM_F_ACK_TLVS, &(-1i32).to_ne_bytes()), Err("an error message without its request".into()));
    let mut lying = (-1i32).to_ne_bytes().to_vec();
    lying.extend(1000u32.to_ne_bytes());
    lying.extend([0; 12]);
    assert_eq!(ack(NLM_F_ACK_TLVS, &lying), Err("an error message shorter than its request".into()));
}

#[test]
fn an_address_request_is_a_host_route_and_ipv6_skips_dad() {
    let v4 = address_request(RTM_NEWADDR, 5, 1, "203.0.113.53".parse().unwrap());
    let split = messages(&v4).unwrap();
    assert_eq!(split.len(), 1);
    assert_eq!((split[0].kind, split[0].flags, split[0].seq), (RTM_NEWADDR, 0x1 | 0x4 | 0x400 | 0x200, 5));
    assert_eq!(split[0].payload[..IFADDRMSG_LEN], [AF_INET, 32, 0, 0, 1, 0, 0, 0]);
    let v4_attributes = vec![(IFA_LOCAL, &[203u8, 0, 113, 53][..]), (IFA_ADDRESS, &[203, 0, 113, 53][..])];
    assert_eq!(attributes(&split[0].payload[IFADDRMSG_LEN..]), Ok(v4_attributes));

    let v6: Ipv6Addr = "2001:db8::53".parse().unwrap();
    let add = address_request(RTM_NEWADDR, 6, 4, IpAddr::V6(v6));
    let split = messages(&add).unwrap();
    assert_eq!(split[0].payload[..IFADDRMSG_LEN], [AF_INET6, 128, IFA_F_NODAD, 0, 4, 0, 0, 0]);
    let (octets, nodad) = (v6.octets(), 2u32.to_ne_bytes());
    let v6_attributes = vec![(IFA_LOCAL, &octets[..]), (IFA_ADDRESS, &octets[..]), (IFA_FLAGS, &nodad[..])];
    assert_eq!(attributes(&split[0].payload[IFADDRMSG_LEN..]), Ok(v6_attributes));

    let remove = address_request(RTM_DELADDR, 7, 4, IpAddr::V6(v6));
    let split = messages(&remove).unwrap();
    assert_eq!((split[0].kind, split[0].flags), (RTM_DELADDR, 0x1 | 0x4), "acknowledged, neither create nor excl");
    assert_eq!(split[0].payload[..IFADDRMSG_LEN], [AF_INET6, 128, 0, 0, 4, 0, 0, 0]);
}

#[test]
fn a_dump_request_asks_every_family() {
    let links = dump_request(RTM_GETLINK, 1);
    assert_eq!(links.len(), HEADER_LEN + IFINFOMSG_LEN);
    let addresses = dump_request(RTM_GETADDR, 2);
    let split = messages(&addresses).unwrap();
    assert_eq!((split[0].kind, split[0].flags, split[0].payload), (RTM_GETADDR, 0x301, &[0u8; 8][..]));
}

/// Every prefix of real messages, and noise: the parser answers each with a value or an error, and never panics.
#[test]
fn no_truncation_or_noise_makes_the_parser_panic() {
    let v6: Ipv6Addr = "2001:db8::53".parse().unwrap();
    let payloads = [
        dummy0_in_blue(),
        address_payload(AF_INET6, 128, 9, &[attribute(IFA_ADDRESS, &v6.octets()), attribute(IFA_FLAGS, &[0; 4])]),
    ];
    for payload in &payloads {
        let whole = message(RTM_NEWLINK, 0, 1, payload);
        for end in 0..=whole.len() {
            let _ = messages(&whole[..end]);
            let _ = link(&payload[..end.min(payload.len())]);
            let _ = address(&payload[..end.min(payload.len())]);
            let _ = ack(NLM_F_ACK_TLVS, &whole[..end]);
            let _ = ack(NLM_F_ACK_TLVS | NLM_F_CAPPED, &whole[..end]);
        }
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        let len = (state % 80) as usize;
        let noise: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Mostly small bytes, so that lengths often land near the buffer's own length.
                if state.is_multiple_of(3) { (state >> 8) as u8 } else { (state >> 8) as u8 % 24 }
            })
            .collect();
        let _ = messages(&noise);
        let _ = attributes(&noise);
        let _ = link(&noise);
        let _ = address(&noise);
        let _ = ack((state >> 32) as u16, &noise);
    }
}
