//! BIRD, the second routing daemon anycastd can drive: the file anycastd owns, and BIRD's control socket.
//!
//! # Why one file of static protocols, applied with `configure`
//!
//! anycastd owns one file that the operator's bird.conf includes, holding one `protocol static anycastd_<name>` per
//! announced prefix and nothing else, and applies it with `configure`; when `configure` fails, it withdraws with
//! `disable anycastd_<name>` on the control socket. This is design (c) of the evidence gathered on BIRD 2.0.12,
//! 2.17.6 and 3.1.8 (`/work/bird-evidence/EVIDENCE.md`), chosen because, on all three releases:
//!
//! - no announce, withdrawal, drain, `configure`, `enable` or `disable` ever reset a BGP session;
//! - a file with no protocol at all (the header comment only) is valid, so "nothing announced" needs no special case;
//! - `disable NAME` works while the operator's bird.conf does not parse, when `configure` cannot apply anything: a
//!   withdrawal never waits for the operator to fix their file. Prefix sets (design (a)) gave no such way out;
//! - the next successful `configure` puts every protocol back in its configured state, undoing a CLI `disable`: so
//!   the file must be the truth and `disable` only the emergency brake, never the other way round (design (b));
//! - the kernel-table design (d) needs CAP_NET_ADMIN and AF_NETLINK, which anycastd's hardened unit does not have.
//!
//! A drain is a route attribute, `anycastd_draining`, set on the static route; the operator declares it
//! (`attribute int anycastd_draining;`) and their export filter turns it into 65535:0 or a prepend. anycastd never
//! writes the operator's filters, so its file needs no symbol of theirs and theirs none of anycastd's.
//!
//! # The modules
//!
//! `reply` reads BIRD's reply-code protocol from bytes, `control` is one connection to the control socket,
//! `owned_file` renders and writes anycastd's file, `routes` reads what BIRD shows, and `reconfigure` holds the
//! conversations (`configure`, `disable`, reading the routes) on a connection.

mod control;
#[cfg(test)]
pub(crate) mod fake;
mod owned_file;
pub mod preflight;
mod reconfigure;
mod reply;
mod routes;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use crate::config::{ManagedPrefix, Prefix};

pub use control::{BirdError, Connection};
pub use owned_file::{
    OwnedFileError, check_folder as check_owned_folder, read as read_owned_file, render as render_owned_file,
    write as write_owned_file,
};
pub use reconfigure::{
    Configured, Disabled, configure, disable, disable_all, read_bgp_sessions, read_exported, read_protocols,
    read_routes, read_status, read_tables,
};
pub use reply::{Class, Line, Reply, ReplyError};
pub use routes::{
    BgpSession, DaemonStatus, ProtocolState, Protocols, ShowError, parse_bgp_sessions, parse_exported, parse_protocols,
    parse_routes, parse_routes_text, parse_status, parse_tables,
};

/// What BIRD's tables hold of anycastd's prefixes: each prefix, in each table, a protocol `anycastd_*` has a route
/// for.
///
/// A route in the table is what BIRD's export filters see; whether a peer receives it is the operator's filter's
/// business (and `show route export <bgp protocol>`'s), so this is not called "exported".
pub type BirdRoutes = BTreeMap<BirdNet, BirdRoute>;

/// A prefix in one of BIRD's routing tables: BIRD's VRFs are tables (`ipv4 table blue4;`, which the operator's VRF
/// protocols use), so a prefix announced in a VRF is a prefix in that VRF's table. Ordered by prefix first, so that
/// anycastd's file lists IPv4 first, as before tables.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BirdNet {
    /// The prefix.
    pub prefix: Prefix,
    /// Its table; `None` for the master table of its family (`master4`, `master6`), BIRD's default.
    pub table: Option<String>,
}

impl BirdNet {
    /// `prefix` in `table` (`None`, `master4` or `master6`: the master table of its family).
    pub fn new(prefix: Prefix, table: Option<&str>) -> BirdNet {
        let table = table.filter(|table| !is_master(table)).map(str::to_string);
        BirdNet { prefix, table }
    }

    /// The prefix and table of `managed`, a BIRD prefix; `None` for another daemon's.
    pub(crate) fn of(managed: &ManagedPrefix) -> Option<BirdNet> {
        let bird = managed.bird()?;
        Some(BirdNet { prefix: managed.prefix, table: bird.table.clone() })
    }

    /// `203.0.113.53/32`, or `203.0.113.53/32 in table blue4`: for messages.
    pub fn described(&self) -> String {
        match &self.table {
            Some(table) => format!("{} in table {table}", self.prefix),
            None => self.prefix.to_string(),
        }
    }
}

/// Whether `table` is the name of one of BIRD's master tables.
pub fn is_master(table: &str) -> bool {
    matches!(table, "master4" | "master6")
}

/// The longest name of a symbol BIRD accepts (its `SYM_MAX_LEN`): a protocol name longer than this does not parse.
pub const SYMBOL_MAX_LEN: usize = 64;

/// Whether `name` is a symbol BIRD accepts as a table name: a letter or `_`, then letters, digits and `_`.
pub fn is_symbol(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        && name.len() <= SYMBOL_MAX_LEN
}

/// What one BIRD has: anycastd's routes in its tables, and the tables its configuration defines (`None`: not asked,
/// as no prefix of it is in a table other than a master one, or not known, as from `plan --bird-routes`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BirdState {
    /// What its tables hold of anycastd's prefixes.
    pub routes: BirdRoutes,
    /// The names of its routing tables, when asked.
    pub tables: Option<std::collections::BTreeSet<String>>,
}

/// One prefix in BIRD's table, from one of anycastd's protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BirdRoute {
    /// Whether its route carries `anycastd_draining`, which the operator's export filter turns into a drain.
    pub draining: bool,
}

/// The prefix every protocol name of anycastd starts with: `show protocols "anycastd_*"` and `disable
/// "anycastd_*"` reach them all, and the operator's filter tells them by it (`proto ~ "anycastd_*"`).
pub const PROTOCOL_PREFIX: &str = "anycastd_";

/// The name of the static protocol that announces `net`: `anycastd_203_0_113_53_32`, `anycastd_2001_db8__53_128`;
/// `anycastd_203_0_113_53_32_t_blue4` in table `blue4` (`_t_` never occurs in an address's part: `t` is no
/// hexadecimal digit).
///
/// A BIRD symbol allows letters, digits and `_` only, so the separators become `_`. The address is written in
/// RFC 5952's canonical form but always in hexadecimal for IPv6: the usual text of an IPv4-mapped address
/// (`::ffff:192.0.2.1`) mixes `.` and `:`, and would give `::ffff:192:0:2:1` the same name. With one separator per
/// family, a name decodes back to its prefix ([`prefix_of_protocol`]), so two prefixes never share a name: an IPv4
/// name has exactly four `_` after `anycastd` and no `__`, an IPv6 one seven or more, or a `__`. The longest
/// (`anycastd_2001_db8_1234_5678_9abc_def0_1234_5678_128`, 51 characters) is within BIRD's 64 and worked on the
/// three releases; with a table, the configuration checks that the name fits ([`SYMBOL_MAX_LEN`]).
pub fn protocol_name(net: &BirdNet) -> String {
    let prefix = &net.prefix;
    let address = match prefix.net().addr() {
        IpAddr::V4(address) => address.to_string().replace('.', "_"),
        IpAddr::V6(address) => hexadecimal(&address).replace(':', "_"),
    };
    let name = format!("{PROTOCOL_PREFIX}{address}_{}", prefix.net().prefix_len());
    match &net.table {
        Some(table) => format!("{name}_t_{table}"),
        None => name,
    }
}

/// The prefix and table a protocol name of anycastd stands for; `None` for any name [`protocol_name`] would not give
/// (the operator's own `anycastd_something`, a name not in canonical form).
pub fn net_of_protocol(name: &str) -> Option<BirdNet> {
    let rest = name.strip_prefix(PROTOCOL_PREFIX)?;
    let (rest, table) = match rest.split_once("_t_") {
        Some((_, table)) if !is_symbol(table) => return None,
        Some((rest, table)) => (rest, Some(table)),
        None => (rest, None),
    };
    let (address, length) = rest.rsplit_once('_')?;
    let ipv4 = format!("{}/{length}", address.replace('_', "."));
    let ipv6 = format!("{}/{length}", address.replace('_', ":"));
    let prefix = Prefix::parse(&ipv4).or_else(|_| Prefix::parse(&ipv6)).ok()?;
    let net = BirdNet::new(prefix, table);
    (protocol_name(&net) == name).then_some(net)
}

/// An IPv6 address in RFC 5952's form (lowercase, no leading zeros, the first longest run of two or more zero
/// groups as `::`), without its dotted-quad exception for IPv4-mapped addresses.
fn hexadecimal(address: &Ipv6Addr) -> String {
    let groups = address.segments();
    let (start, length) = longest_zero_run(&groups);
    let text = |groups: &[u16]| groups.iter().map(|group| format!("{group:x}")).collect::<Vec<_>>().join(":");
    if length < 2 {
        return text(&groups);
    }
    format!("{}::{}", text(&groups[..start]), text(&groups[start + length..]))
}

/// The start and length of the first longest run of zero groups.
fn longest_zero_run(groups: &[u16; 8]) -> (usize, usize) {
    let (mut best, mut current) = ((0, 0), (0, 0));
    for (index, group) in groups.iter().enumerate() {
        current = if *group == 0 { (if current.1 == 0 { index } else { current.0 }, current.1 + 1) } else { (0, 0) };
        if current.1 > best.1 {
            best = current;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(text: &str) -> Prefix {
        Prefix::parse(text).expect("a valid prefix")
    }

    /// `text` in its family's master table.
    fn net(text: &str) -> BirdNet {
        BirdNet::new(prefix(text), None)
    }

    #[test]
    fn names_follow_the_evidence() {
        assert_eq!(protocol_name(&net("203.0.113.53/32")), "anycastd_203_0_113_53_32");
        assert_eq!(protocol_name(&net("2001:db8::53/128")), "anycastd_2001_db8__53_128");
        assert_eq!(protocol_name(&net("198.51.100.0/24")), "anycastd_198_51_100_0_24");
        assert_eq!(protocol_name(&net("::/0")), "anycastd____0");
        assert_eq!(protocol_name(&net("2001:db8::/32")), "anycastd_2001_db8___32");
        assert_eq!(
            protocol_name(&net("2001:db8:1234:5678:9abc:def0:1234:5678/128")),
            "anycastd_2001_db8_1234_5678_9abc_def0_1234_5678_128"
        );
    }

    /// With the usual text of an IPv6 address, these two would both be `anycastd___ffff_192_0_2_1_128`.
    #[test]
    fn an_ipv4_mapped_address_does_not_take_the_name_of_a_hexadecimal_one() {
        let mapped = net("::ffff:192.0.2.1/128");
        let hexadecimal = net("::ffff:192:0:2:1/128");
        assert_eq!(protocol_name(&mapped), "anycastd___ffff_c000_201_128");
        assert_eq!(protocol_name(&hexadecimal), "anycastd___ffff_192_0_2_1_128");
    }

    #[test]
    fn compressed_forms_are_rfc_5952() {
        let cases = [
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("1:0:0:0:0:0:0:0", "1::"),
            ("0:0:0:0:0:0:0:0", "::"),
            ("2001:DB8:0:0:0:0:0:53", "2001:db8::53"),
        ];
        for (written, canonical) in cases {
            assert_eq!(hexadecimal(&written.parse().expect("an address")), canonical, "{written}");
        }
    }

    #[test]
    fn names_decode_to_their_prefix_and_nothing_else_does() {
        for text in ["203.0.113.53/32", "2001:db8::53/128", "::/0", "::ffff:192.0.2.1/128", "10.0.0.0/8"] {
            assert_eq!(net_of_protocol(&protocol_name(&net(text))), Some(net(text)), "{text}");
            let in_blue = BirdNet::new(prefix(text), Some("blue_t_4"));
            assert_eq!(net_of_protocol(&protocol_name(&in_blue)), Some(in_blue), "{text} in blue_t_4");
        }
        let master = BirdNet::new(prefix("203.0.113.53/32"), Some("master4"));
        assert_eq!(protocol_name(&master), "anycastd_203_0_113_53_32", "master4 is the default table");
        for name in [
            "anycastd_operator",
            "anycastd_203_0_113_53",
            "anycastd_203_0_113_53_33",
            "anycastd_203_0_113_52_31_",
            "anycastd_203_0_113_053_32",
            "anycastd_2001_db8_0_0_0_0_0_53_128",
            "anycastd_203_0_113_1_24",
            "bird_203_0_113_53_32",
            "anycastd_203_0_113_53_32_t_",
            "anycastd_203_0_113_53_32_t_master4",
        ] {
            assert_eq!(net_of_protocol(name), None, "{name}");
        }
    }

    mod properties {
        use ipnet::IpNet;
        use proptest::prelude::*;

        use super::*;

        fn any_net() -> impl Strategy<Value = BirdNet> {
            let table = prop_oneof![Just(None), "[a-z_][a-z0-9_]{0,8}".prop_map(Some)];
            (any_prefix(), table).prop_map(|(prefix, table)| BirdNet::new(prefix, table.as_deref()))
        }

        fn any_prefix() -> impl Strategy<Value = Prefix> {
            let v4 = (any::<u32>(), 0u8..=32).prop_map(|(bits, length)| (IpAddr::from(bits.to_be_bytes()), length));
            let v6 = (any::<[u16; 8]>(), 0u8..=128, 0usize..4).prop_map(|(mut groups, length, zeros)| {
                // Runs of zero groups, so that compressed forms are common.
                groups[zeros..zeros * 2].fill(0);
                (IpAddr::from(groups), length)
            });
            let mapped =
                any::<u32>().prop_map(|bits| (IpAddr::from(std::net::Ipv4Addr::from(bits).to_ipv6_mapped()), 128));
            prop_oneof![v4, v6, mapped].prop_map(|(address, length)| {
                let net = IpNet::new(address, length).expect("a valid length").trunc();
                Prefix::parse(&net.to_string()).expect("a truncated network")
            })
        }

        proptest! {
            #[test]
            fn distinct_prefixes_never_share_a_name(a in any_net(), b in any_net()) {
                prop_assert_eq!(protocol_name(&a) == protocol_name(&b), a == b);
                prop_assert_eq!(net_of_protocol(&protocol_name(&a)), Some(a));
            }

            #[test]
            fn names_are_bird_symbols(a in any_net()) {
                let name = protocol_name(&a);
                prop_assert!(name.len() <= 64);
                prop_assert!(name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_'));
            }

            #[test]
            fn hexadecimal_matches_std_except_for_mapped_addresses(groups in any::<[u16; 8]>(), zeros in 0usize..5) {
                let mut groups = groups;
                groups[zeros..zeros + 3].fill(0);
                let address = Ipv6Addr::from(groups);
                prop_assume!(address.to_ipv4_mapped().is_none());
                prop_assert_eq!(hexadecimal(&address), address.to_string());
            }
        }
    }
}
