//! Parses `show running-config` into the BGP instances, their unicast `network` statements with the route-map each
//! carries, and the names of the route-maps FRR has.
//!
//! It reads by keywords and indentation, never by `exit` lines: FRR before 8.2 did not print `exit` after a
//! top-level block. Any line at column zero other than `router bgp` ends the current instance; blank lines mean
//! nothing. The output must end with FRR's `end` line: without it, it was cut short, and a missing part could hold a
//! network that must be withdrawn.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::config::{AddressFamily, Prefix, Vrf};

/// A BGP AS number as FRR prints it: plain (`65536`) or asdot (`1.10`). Only digits and one dot, so it is safe to
/// hand back to vtysh.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Asn(String);

impl Asn {
    /// Validates an AS number read from FRR.
    pub(crate) fn parse(text: &str) -> Option<Asn> {
        let mut parts = text.split('.');
        let valid = parts.clone().count() <= 2
            && parts.all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
        valid.then(|| Asn(text.to_string()))
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One `router bgp ASN [vrf NAME]` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpInstance {
    /// Its AS number.
    pub asn: Asn,
    /// Its VRF.
    pub vrf: Vrf,
    /// The `network` statements of its `ipv4 unicast` and `ipv6 unicast` address families, each with the name of
    /// its `route-map`, if it has one.
    pub networks: BTreeMap<Prefix, Option<String>>,
    /// The unicast address families that have an `address-family` block.
    pub families: BTreeSet<AddressFamily>,
    /// `bgp network import-check` (on unless the config says `no bgp network import-check`): FRR then advertises a
    /// network only while a route for it is in its RIB.
    pub import_check: bool,
    /// Its BGP neighbors, by the name its `neighbor` lines give them (an address, or an interface for unnumbered
    /// BGP); peer groups are not neighbors.
    pub neighbors: BTreeSet<String>,
    /// Its `bgp router-id`, when the config sets one.
    pub router_id: Option<String>,
}

/// What FRR's running config says about BGP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunningConfig {
    /// Every BGP instance, in the order FRR printed them.
    pub instances: Vec<BgpInstance>,
    /// The names of the route-maps defined (`route-map NAME permit|deny SEQ`). FRR accepts a `network` naming a
    /// route-map it does not have, and then does not advertise the network at all.
    pub route_maps: BTreeSet<String>,
}

/// Why a text is not one complete `show running-config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// No `end` line: the output stopped early (a killed vtysh, a closed pipe, a size limit). What is missing could
    /// hold the very networks that must be withdrawn, so this is never read as "nothing announced".
    CutShort,
    /// Something followed the `end` line (at this line number, from 1): not one running config.
    TextAfterEnd(usize),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::CutShort => {
                f.write_str("FRR's running config ended before its `end` line: vtysh output was cut short")
            }
            ParseError::TextAfterEnd(line) => write!(
                f,
                "FRR's running config goes on after its `end` line (at line {line}): it is not one complete running \
                 config"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

impl RunningConfig {
    /// Parses the text of `show running-config`. FRR ends it with an `end` line; output without one was cut short and
    /// is an error. Blank lines carry no meaning anywhere (FRR prints some before `Current configuration:`).
    pub fn parse(text: &str) -> Result<RunningConfig, ParseError> {
        let mut reader = Reader::default();
        let mut ended = false;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if ended {
                return Err(ParseError::TextAfterEnd(index + 1));
            }
            ended = line.trim_end() == "end";
            reader.line(line);
        }
        if !ended {
            return Err(ParseError::CutShort);
        }
        Ok(reader.finish())
    }

    /// The BGP instance of `vrf`, if FRR has one.
    pub fn instance(&self, vrf: &Vrf) -> Option<&BgpInstance> {
        self.instances.iter().find(|instance| &instance.vrf == vrf)
    }

    /// The `network` line of `prefix` in the BGP instance of `vrf`, if there is one: the route-map it carries.
    pub(crate) fn network(&self, vrf: &Vrf, prefix: &Prefix) -> Option<Option<&str>> {
        self.instance(vrf)?.networks.get(prefix).map(Option::as_deref)
    }

    /// Whether FRR has a route-map of this name.
    pub(crate) fn has_route_map(&self, name: &str) -> bool {
        self.route_maps.contains(name)
    }
}

/// Reads a running config line by line: the instance being read and the address family it is in.
#[derive(Default)]
struct Reader {
    instances: Vec<BgpInstance>,
    route_maps: BTreeSet<String>,
    current: Option<BgpInstance>,
    family: Family,
    /// The peer groups of the current instance (`neighbor NAME peer-group`), which its `neighbor` lines also name.
    peer_groups: Vec<String>,
}

impl Reader {
    /// Reads one line that is not blank.
    fn line(&mut self, line: &str) {
        if !line.starts_with(char::is_whitespace) {
            if let ["route-map", name, "permit" | "deny", _] = line.split_whitespace().collect::<Vec<_>>()[..] {
                self.route_maps.insert(name.to_string());
            }
            self.end_instance();
            self.current = parse_router_bgp(line);
            self.family = Family::Implicit;
            return;
        }
        let Some(instance) = self.current.as_mut() else { return };
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("network"), Some(prefix)) if self.family.is_unicast() => {
                if let Some(net) = crate::config::parse_net(prefix) {
                    let mut rest = words.skip_while(|word| *word != "route-map");
                    let route_map = rest.nth(1).map(str::to_string);
                    instance.networks.insert(Prefix::from_frr(net), route_map);
                }
            }
            (Some("address-family"), Some(afi)) => {
                self.family = Family::parse(afi, words.next());
                if self.family == Family::Unicast {
                    instance.families.extend(AddressFamily::from_afi(afi));
                }
            }
            (Some("exit-address-family"), None) => self.family = Family::Implicit,
            (Some("neighbor"), Some(name)) => match words.next() {
                Some("peer-group") if words.next().is_none() => self.peer_groups.push(name.to_string()),
                _ => _ = instance.neighbors.insert(name.to_string()),
            },
            (Some("no"), Some("bgp")) if line.trim() == "no bgp network import-check" => instance.import_check = false,
            (Some("bgp"), Some("router-id")) => instance.router_id = words.next().map(str::to_string),
            _ => {}
        }
    }

    fn end_instance(&mut self) {
        let peer_groups = std::mem::take(&mut self.peer_groups);
        if let Some(mut instance) = self.current.take() {
            instance.neighbors.retain(|name| !peer_groups.contains(name));
            self.instances.push(instance);
        }
    }

    fn finish(mut self) -> RunningConfig {
        self.end_instance();
        RunningConfig { instances: self.instances, route_maps: self.route_maps }
    }
}

/// The address family a `network` line is in.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Family {
    /// Directly under `router bgp` (old layouts put IPv4 unicast networks there).
    #[default]
    Implicit,
    /// `address-family ipv4 [unicast]` or `address-family ipv6 [unicast]`.
    Unicast,
    /// Any other family (multicast, vpn, evpn, flowspec...): not ours.
    Other,
}

impl Family {
    fn parse(afi: &str, safi: Option<&str>) -> Family {
        let unicast = matches!(afi, "ipv4" | "ipv6") && matches!(safi, None | Some("unicast"));
        if unicast { Family::Unicast } else { Family::Other }
    }

    fn is_unicast(self) -> bool {
        self != Family::Other
    }
}

/// Reads `router bgp ASN [vrf NAME] [as-notation dot|dot+|plain]`; views and other blocks are not instances we
/// manage. FRR 9.1 and later print `as-notation` when it was configured; it only changes how FRR writes the AS
/// number, and `router bgp ASN [vrf NAME]` with the number as printed enters the instance again.
fn parse_router_bgp(line: &str) -> Option<BgpInstance> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let words = match words.as_slice() {
        [head @ .., "as-notation", "dot" | "dot+" | "plain"] => head,
        all => all,
    };
    let (asn, vrf) = match words {
        ["router", "bgp", asn] => (asn, Vrf::Default),
        ["router", "bgp", asn, "vrf", name] => (asn, Vrf::parse(name)?),
        _ => return None,
    };
    Some(BgpInstance {
        asn: Asn::parse(asn)?,
        vrf,
        networks: BTreeMap::new(),
        families: BTreeSet::new(),
        import_check: true,
        neighbors: BTreeSet::new(),
        router_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRR_8: &str = include_str!("../../tests/fixtures/frr-8.4.4-running-config.txt");
    const FRR_7: &str = include_str!("../../tests/fixtures/frr-7.x-layout-running-config.txt");
    const FRR_7_5_1: &str = include_str!("../../tests/fixtures/frr-7.5.1-bgpd-running-config.txt");
    const FRR_10_3: &str = include_str!("../../tests/fixtures/frr-10.3-bgpd-running-config.txt");
    const FRR_10_3_AS_NOTATION: &str = include_str!("../../tests/fixtures/frr-10.3-as-notation.txt");

    fn parse(text: &str) -> RunningConfig {
        RunningConfig::parse(text).expect("a complete running config")
    }

    fn prefixes(instance: &BgpInstance) -> Vec<String> {
        instance.networks.keys().map(ToString::to_string).collect()
    }

    #[test]
    fn reads_instances_and_unicast_networks_of_frr_8() {
        let config = parse(FRR_8);
        assert_eq!(config.instances.len(), 2);
        let default = config.instance(&Vrf::Default).expect("default instance");
        assert_eq!(default.asn.to_string(), "65536");
        assert_eq!(
            prefixes(default),
            ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.53/32", "2001:db8::b19:bad:53/128"]
        );
        let vrf = config.instance(&Vrf::Named("123".into())).expect("vrf 123 instance");
        assert_eq!(vrf.asn.to_string(), "65537");
        assert_eq!(prefixes(vrf), ["203.0.113.123/32", "2001:db8::123:7e11:713e/128"]);
        assert_eq!(vrf.families, BTreeSet::from([AddressFamily::Ipv4, AddressFamily::Ipv6]));
    }

    #[test]
    fn the_layout_without_exit_lines_reads_the_same() {
        assert_eq!(parse(FRR_7), parse(FRR_8));
    }

    /// FRR 7.5.1 (no `exit` lines, `!` between blocks) and FRR 10.3 (`exit` lines, a `route-map` block before the
    /// instances), captured from the same configuration in the lab, read exactly like FRR 8.4.4.
    #[test]
    fn real_outputs_of_frr_7_5_and_10_3_read_like_frr_8_4() {
        let frr_8 = parse(FRR_8);
        assert_eq!(parse(FRR_7_5_1), frr_8);
        assert_eq!(parse(FRR_10_3), frr_8);
    }

    /// `network P route-map NAME` (FRR may add `label-index N` after it) and the `route-map NAME permit|deny SEQ`
    /// blocks, as FRR prints them.
    #[test]
    fn networks_carry_their_route_map_and_route_maps_are_named() {
        let config = parse(
            "route-map ANYCAST-DRAIN permit 10\n set community graceful-shutdown\nexit\n!\nroute-map DENY deny 5\n!\n\
             router bgp 65536\n address-family ipv4 unicast\n  network 192.0.2.0/24 route-map ANYCAST-DRAIN\n  \
             network 198.51.100.0/24\n  network 203.0.113.0/24 route-map OUT label-index 3\n exit-address-family\nexit\nend\n",
        );
        let route_map = |prefix: &str| config.network(&Vrf::Default, &Prefix::parse(prefix).expect("valid"));
        assert_eq!(route_map("192.0.2.0/24"), Some(Some("ANYCAST-DRAIN")));
        assert_eq!(route_map("198.51.100.0/24"), Some(None));
        assert_eq!(route_map("203.0.113.0/24"), Some(Some("OUT")));
        assert_eq!(route_map("203.0.113.53/32"), None);
        assert!(config.has_route_map("ANYCAST-DRAIN") && config.has_route_map("DENY"));
        assert!(!config.has_route_map("OUT"), "named by a network, but not defined");
        let frr_10_3 = parse(FRR_10_3);
        assert!(frr_10_3.has_route_map("RM"), "FRR 10.3's route-map, captured in the lab");
        assert_eq!(frr_10_3.network(&Vrf::Default, &Prefix::parse("192.0.2.0/24").expect("valid")), Some(Some("RM")));
    }

    /// FRR 10.3's `router bgp ASN vrf NAME as-notation dot|dot+|plain`, captured in the lab.
    #[test]
    fn instances_with_an_as_notation_are_instances() {
        let config = parse(FRR_10_3_AS_NOTATION);
        let found: Vec<(String, String)> =
            config.instances.iter().map(|instance| (instance.vrf.described(), instance.asn.to_string())).collect();
        assert_eq!(
            found,
            [
                ("the default VRF", "65536"),
                ("VRF 123", "65537"),
                ("VRF blue", "4200000001"),
                ("VRF red", "65538"),
                ("VRF green", "1.5"),
            ]
            .map(|(vrf, asn)| (vrf.to_string(), asn.to_string()))
        );
        let green = config.instance(&Vrf::Named("green".into())).expect("vrf green");
        assert_eq!(prefixes(green), ["192.0.2.0/24"]);
    }

    #[test]
    fn other_families_views_and_blocks_are_ignored() {
        let text = "router bgp 65536\n address-family ipv4 multicast\n  network 192.0.2.0/24\n exit-address-family\n \
                    address-family ipv4 unicast\n  network 198.51.100.0/24\n exit-address-family\n!\n\
                    router bgp 65001 view V\n network 203.0.113.0/24\n!\ninterface lo\n network 203.0.113.1/32\nend\n";
        let config = parse(text);
        assert_eq!(config.instances.len(), 1);
        assert_eq!(prefixes(&config.instances[0]), ["198.51.100.0/24"]);
    }

    #[test]
    fn networks_directly_under_router_bgp_count_as_unicast() {
        let config = parse("router bgp 1.10\n network 192.0.2.0/24\nend\n");
        assert_eq!(config.instances[0].asn.to_string(), "1.10");
        assert!(config.network(&Vrf::Default, &Prefix::parse("192.0.2.0/24").expect("valid")).is_some());
    }

    #[test]
    fn networks_read_as_ipnet_reads_them() {
        for text in ["203.0.113.53/32", "2001:db8::b19:bad:53/128", "0.0.0.0/0", "::/0", "198.51.100.0/24"] {
            assert_eq!(crate::config::parse_net(text), text.parse::<ipnet::IpNet>().ok(), "{text}");
        }
        for text in ["203.0.113.53", "203.0.113.53/33", "2001:db8::/129", "x/8", "1.2.3.4/+8", "1.2.3.4/ 8", ""] {
            assert_eq!(crate::config::parse_net(text), None, "{text}");
        }
    }

    #[test]
    fn import_check_is_on_unless_disabled() {
        let config = parse("router bgp 1\n no bgp network import-check\n!\nrouter bgp 2 vrf x\n!\nend\n");
        assert!(!config.instances[0].import_check);
        assert!(config.instances[1].import_check);
    }

    #[test]
    fn a_blank_line_inside_router_bgp_does_not_end_it() {
        let config = parse(
            "router bgp 65536\n\n address-family ipv4 unicast\n\n  network 192.0.2.0/24\n exit-address-family\nexit\n!\nend\n",
        );
        assert!(config.network(&Vrf::Default, &Prefix::parse("192.0.2.0/24").expect("valid")).is_some());
    }

    #[test]
    fn output_cut_before_its_end_line_is_an_error() {
        let cut = FRR_8.trim_end().strip_suffix("end").expect("the fixture ends with `end`");
        assert_eq!(
            RunningConfig::parse(cut).map_err(|error| error.to_string()),
            Err("FRR's running config ended before its `end` line: vtysh output was cut short".to_string())
        );
        assert!(RunningConfig::parse("").is_err(), "empty output is cut short too");
    }

    #[test]
    fn text_after_the_end_line_is_an_error() {
        assert_eq!(
            RunningConfig::parse("router bgp 1\nend\nrouter bgp 2 vrf x\n network 192.0.2.0/24\n")
                .map_err(|e| e.to_string()),
            Err("FRR's running config goes on after its `end` line (at line 3): it is not one complete running config"
                .to_string())
        );
    }

    #[test]
    fn only_plain_or_asdot_numbers_are_as_numbers() {
        assert!(Asn::parse("65536").is_some());
        assert!(Asn::parse("1.10").is_some());
        assert!(Asn::parse("1.2.3").is_none());
        assert!(Asn::parse("65536;reboot").is_none());
        assert!(Asn::parse("").is_none());
    }
}
