//! Whether FRR sends each prefix to its BGP neighbors: "announced" is what a peer receives, not only what FRR's
//! running config says. An eBGP neighbor without an outbound policy under `bgp ebgp-requires-policy` (Debian's
//! `frr defaults traditional`), a neighbor not activated for the address family, or a session that is down all leave
//! a `network` in the running config that reaches nobody.
//!
//! One vtysh call per FRR, whatever the number of prefixes: `show bgp vrf all neighbors json` (each neighbor's
//! session state, families and whether policy holds its updates back), then each neighbor's `advertised-routes json`
//! for the families anycastd manages in its VRF. The neighbors come from the running config, read anyway. vtysh
//! prints one JSON document per command, but FRR 10.3 wraps a `warning` object in a stray pair of braces for a
//! neighbor not activated for a family: the output is split into top-level brace groups, one per command, and a
//! group that is not valid JSON answers "nothing advertised" for its command alone.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::running_config::RunningConfig;
use super::vtysh::Vtysh;
use crate::config::{AddressFamily, Prefix, Vrf};

/// A BGP neighbor of one VRF, by its name in FRR's config (an address or, unnumbered, an interface).
pub type Neighbor = String;

/// What FRR said about the neighbors of the VRFs and families asked for, and what it sends each of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advertised {
    /// Each neighbor of each VRF asked about, with its session.
    pub sessions: BTreeMap<Vrf, BTreeMap<Neighbor, Session>>,
    /// What each neighbor is sent, per VRF and family.
    pub sent: BTreeMap<(Vrf, AddressFamily, Neighbor), BTreeSet<Prefix>>,
}

/// A neighbor's session, as `show bgp neighbors json` has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// FRR's state name: `Established` when up.
    pub state: String,
    /// The families the neighbor is activated for, each with whether FRR holds its updates back for want of an
    /// outbound policy (`bgp ebgp-requires-policy`, shown as `(Policy)` by `show bgp summary`).
    pub families: BTreeMap<AddressFamily, bool>,
    /// The router ID FRR uses towards it (`localRouterId`).
    pub local_router_id: Option<String>,
}

impl Session {
    pub fn is_established(&self) -> bool {
        self.state == "Established"
    }
}

/// What FRR sends of one prefix: to which neighbors, and what that means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// The neighbors FRR sends it to.
    pub peers: Vec<Neighbor>,
    /// What that means for the prefix.
    pub status: Advertisement,
}

/// Whether one prefix reaches a peer, and why not when it does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Advertisement {
    /// FRR sends it to at least one neighbor.
    Advertised,
    /// FRR sends it to nobody yet, but a neighbor could receive it: FRR sends updates on its own timers, so right after
    /// a change this is expected; it is confirmed at the next read.
    Pending,
    /// FRR sends it to nobody, and these are the reasons, per neighbor (empty: the VRF has no neighbor).
    Nowhere(Vec<Held>),
}

/// Why one neighbor does not receive a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Held {
    /// The session is not established (FRR's state).
    SessionDown { neighbor: Neighbor, state: String },
    /// eBGP requires a policy and the neighbor has no outbound one.
    NeedsPolicy { neighbor: Neighbor },
    /// The neighbor is not activated for the prefix's address family.
    NotActivated { neighbor: Neighbor, family: AddressFamily },
    /// The session is up and the family active, yet FRR does not send it (an outbound filter, or no route in the RIB).
    Filtered { neighbor: Neighbor },
    /// A BGP protocol of BIRD (its name) whose session is not established (BIRD's state).
    BirdSessionDown { protocol: Neighbor, state: String },
    /// A BGP protocol of BIRD, established, whose export filter does not accept the prefix (or that uses another
    /// table).
    BirdFiltered { protocol: Neighbor },
}

impl Advertised {
    /// Whether `prefix` of `vrf` reaches a neighbor. `announced`: FRR has its `network` line; `just_changed`: this
    /// pass has just announced or withdrawn it, so FRR may not have sent the update yet.
    pub fn of(&self, vrf: &Vrf, prefix: &Prefix, announced: bool, just_changed: bool) -> Reach {
        let peers = self.peers(vrf, prefix);
        let status = self.status(vrf, prefix, &peers, announced && just_changed);
        let status = match status {
            Advertisement::Advertised if just_changed && !announced => Advertisement::Pending,
            status => status,
        };
        Reach { peers, status }
    }

    /// Whether FRR may still be sending its update for `prefix` of `vrf`, just changed: announced (`announced`) and
    /// not yet sent to a neighbor that could receive it, or withdrawn and still sent to one.
    pub fn awaiting(&self, vrf: &Vrf, prefix: &Prefix, announced: bool) -> bool {
        let family = prefix.family();
        self.sessions.get(vrf).into_iter().flatten().any(|(neighbor, session)| {
            let sent =
                self.sent.get(&(vrf.clone(), family, neighbor.clone())).is_some_and(|sent| sent.contains(prefix));
            match announced {
                true => !sent && matches!(held(neighbor, session, family), Held::Filtered { .. }),
                false => sent,
            }
        })
    }

    /// The neighbors `prefix` of `vrf` is sent to.
    fn peers(&self, vrf: &Vrf, prefix: &Prefix) -> Vec<Neighbor> {
        let family = prefix.family();
        self.sessions
            .get(vrf)
            .into_iter()
            .flatten()
            .map(|(neighbor, _)| neighbor)
            .filter(|neighbor| {
                self.sent.get(&(vrf.clone(), family, (*neighbor).clone())).is_some_and(|sent| sent.contains(prefix))
            })
            .cloned()
            .collect()
    }

    /// Advertised when sent to someone; else pending when `just_announced` and a neighbor could receive it; else
    /// why nobody does.
    fn status(&self, vrf: &Vrf, prefix: &Prefix, peers: &[Neighbor], just_announced: bool) -> Advertisement {
        if !peers.is_empty() {
            return Advertisement::Advertised;
        }
        let family = prefix.family();
        let sessions = self.sessions.get(vrf).into_iter().flatten();
        let held: Vec<Held> = sessions.map(|(neighbor, session)| held(neighbor, session, family)).collect();
        if just_announced && held.iter().any(|held| matches!(held, Held::Filtered { .. })) {
            return Advertisement::Pending;
        }
        Advertisement::Nowhere(held)
    }
}

impl Held {
    /// Why one neighbor does not receive a prefix, and what to do.
    pub fn sentence(&self) -> String {
        match self {
            Held::SessionDown { neighbor, state } => format!(
                "the session with neighbor {neighbor} is not established ({state}): check its address and remote-as, and \
                 the peer's side"
            ),
            Held::NeedsPolicy { neighbor } => {
                format!("neighbor {neighbor} needs an outbound policy (eBGP requires one): give it a route-map out")
            }
            Held::NotActivated { neighbor, family } => format!(
                "neighbor {neighbor} is not activated for {0} unicast: `neighbor {neighbor} activate` under `address-family {0} unicast`",
                family.name()
            ),
            Held::Filtered { neighbor } => {
                format!("neighbor {neighbor} does not receive it (an outbound filter, or no route in the RIB)")
            }
            Held::BirdSessionDown { protocol, state } => format!(
                "BIRD's BGP protocol {protocol} is not established ({state}): check its neighbor, and the peer's side"
            ),
            Held::BirdFiltered { protocol } => format!(
                "BIRD's BGP protocol {protocol} does not export it (its export filter must accept `proto ~ \
                 \"anycastd_*\"`, and its channel use the prefix's table)"
            ),
        }
    }

    /// The stable code of why one neighbor does not receive a prefix (JSON `not_advertised[].code`).
    pub fn code(&self) -> &'static str {
        match self {
            Held::SessionDown { .. } | Held::BirdSessionDown { .. } => "session-down",
            Held::NeedsPolicy { .. } => "needs-policy",
            Held::NotActivated { .. } => "not-activated",
            Held::Filtered { .. } | Held::BirdFiltered { .. } => "filtered",
        }
    }

    /// The neighbor it is about.
    pub fn neighbor(&self) -> &str {
        match self {
            Held::SessionDown { neighbor, .. }
            | Held::NeedsPolicy { neighbor }
            | Held::NotActivated { neighbor, .. }
            | Held::Filtered { neighbor }
            | Held::BirdSessionDown { protocol: neighbor, .. }
            | Held::BirdFiltered { protocol: neighbor } => neighbor,
        }
    }
}

/// Why `neighbor` does not get a prefix of `family`.
pub fn held(neighbor: &Neighbor, session: &Session, family: AddressFamily) -> Held {
    let neighbor = neighbor.clone();
    if !session.is_established() {
        return Held::SessionDown { neighbor, state: session.state.clone() };
    }
    match session.families.get(&family) {
        None => Held::NotActivated { neighbor, family },
        Some(true) => Held::NeedsPolicy { neighbor },
        Some(false) => Held::Filtered { neighbor },
    }
}

/// Reads, in one vtysh call, what FRR sends the neighbors of each VRF in `wanted`, for its families.
pub fn read(
    vtysh: &Vtysh,
    running: &RunningConfig,
    wanted: &BTreeMap<Vrf, BTreeSet<AddressFamily>>,
) -> Result<Advertised, String> {
    let queries = queries(running, wanted);
    let mut commands = vec!["show bgp vrf all neighbors json".to_string()];
    commands.extend(queries.iter().map(|(vrf, family, neighbor)| advertised_routes(vrf, *family, neighbor)));
    let output = vtysh.show(&commands).map_err(|error| error.to_string())?;
    parse(&output, wanted, &queries)
}

/// The (VRF, family, neighbor) triples to ask about: every neighbor of the running config in each wanted VRF, for
/// each wanted family. Peer groups are not neighbors; names vtysh could misread are skipped.
fn queries(
    running: &RunningConfig,
    wanted: &BTreeMap<Vrf, BTreeSet<AddressFamily>>,
) -> Vec<(Vrf, AddressFamily, Neighbor)> {
    let mut queries = Vec::new();
    for (vrf, families) in wanted {
        let Some(instance) = running.instance(vrf) else { continue };
        for neighbor in instance.neighbors.iter().filter(|neighbor| is_plain_name(neighbor)) {
            queries.extend(families.iter().map(|family| (vrf.clone(), *family, neighbor.clone())));
        }
    }
    queries
}

/// An address or an interface name: nothing vtysh could read as more than one word.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b':' | b'-' | b'_'))
}

fn advertised_routes(vrf: &Vrf, family: AddressFamily, neighbor: &str) -> String {
    let family = family.name();
    match vrf {
        Vrf::Default => format!("show bgp {family} unicast neighbors {neighbor} advertised-routes json"),
        Vrf::Named(name) => format!("show bgp vrf {name} {family} unicast neighbors {neighbor} advertised-routes json"),
    }
}

/// Reads vtysh's output: the neighbors document, then one per query, in order.
fn parse(
    output: &str,
    wanted: &BTreeMap<Vrf, BTreeSet<AddressFamily>>,
    queries: &[(Vrf, AddressFamily, Neighbor)],
) -> Result<Advertised, String> {
    let groups = brace_groups(output);
    if groups.len() != queries.len() + 1 {
        let first = output.lines().map(str::trim).find(|line| !line.is_empty() && !line.starts_with(['{', '}', '"']));
        return Err(match first {
            Some(line) => format!("unexpected vtysh output: {line}"),
            None => format!("expected {} answers from vtysh, got {}", queries.len() + 1, groups.len()),
        });
    }
    let neighbors: Value =
        serde_json::from_str(groups[0]).map_err(|error| format!("unexpected `show bgp neighbors` output: {error}"))?;
    let sessions = wanted.keys().map(|vrf| (vrf.clone(), sessions_of(&neighbors, vrf))).collect();
    let sent = queries.iter().zip(&groups[1..]).map(|(query, group)| (query.clone(), sent_prefixes(group))).collect();
    Ok(Advertised { sessions, sent })
}

/// The neighbors of `vrf` in `show bgp vrf all neighbors json`: `{"default": {"vrfId": 0, "192.0.2.2": {...}}, ...}`.
fn sessions_of(neighbors: &Value, vrf: &Vrf) -> BTreeMap<Neighbor, Session> {
    let key = vrf.name().unwrap_or("default");
    let Some(entries) = neighbors.get(key).and_then(Value::as_object) else { return BTreeMap::new() };
    entries
        .iter()
        .filter_map(|(name, neighbor)| neighbor.get("bgpState").map(|state| (name, state, neighbor)))
        .map(|(name, state, neighbor)| {
            let families = neighbor
                .get("addressFamilyInfo")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(key, info)| {
                    let family = match key.as_str() {
                        "ipv4Unicast" => AddressFamily::Ipv4,
                        "ipv6Unicast" => AddressFamily::Ipv6,
                        _ => return None,
                    };
                    Some((family, info.get("outboundEbgpRequiresPolicy").is_some()))
                })
                .collect();
            let state = state.as_str().unwrap_or("unknown").chars().take(32).collect();
            let local_router_id =
                neighbor.get("localRouterId").and_then(Value::as_str).map(|id| id.chars().take(64).collect());
            (name.chars().take(64).collect(), Session { state, families, local_router_id })
        })
        .collect()
}

/// The prefixes of one `advertised-routes json` answer; none when it is a warning or not valid JSON.
fn sent_prefixes(group: &str) -> BTreeSet<Prefix> {
    let Ok(answer) = serde_json::from_str::<Value>(group) else { return BTreeSet::new() };
    let Some(routes) = answer.get("advertisedRoutes").and_then(Value::as_object) else { return BTreeSet::new() };
    routes.keys().filter_map(|key| key.parse().ok().map(Prefix::from_frr)).collect()
}

/// The top-level `{...}` groups of `text`, braces inside JSON strings aside; text between groups is skipped.
fn brace_groups(text: &str) -> Vec<&str> {
    let mut groups = Vec::new();
    let (mut depth, mut start, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for (index, byte) in text.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' if depth > 0 => in_string = true,
            b'{' => {
                if depth == 0 {
                    start = index;
                }
                depth += 1;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    groups.push(&text[start..=index]);
                }
            }
            _ => {}
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(text: &str) -> Prefix {
        Prefix::parse(text).expect("prefix")
    }

    const NEIGHBORS: &str = r#"{
"default":{"vrfId":0,"vrfName":"default",
  "192.0.2.2":{"bgpState":"Established","addressFamilyInfo":{"ipv4Unicast":{"sentPrefixCounter":1},
    "ipv6Unicast":{"outboundEbgpRequiresPolicy":"Outbound updates discarded due to missing policy"}}},
  "192.0.2.9":{"bgpState":"Active","addressFamilyInfo":{"ipv4Unicast":{}}}
}}"#;

    fn wanted() -> BTreeMap<Vrf, BTreeSet<AddressFamily>> {
        BTreeMap::from([(Vrf::Default, BTreeSet::from([AddressFamily::Ipv4, AddressFamily::Ipv6]))])
    }

    fn queries() -> Vec<(Vrf, AddressFamily, Neighbor)> {
        let q = |family, neighbor: &str| (Vrf::Default, family, neighbor.to_string());
        vec![
            q(AddressFamily::Ipv4, "192.0.2.2"),
            q(AddressFamily::Ipv6, "192.0.2.2"),
            q(AddressFamily::Ipv4, "192.0.2.9"),
            q(AddressFamily::Ipv6, "192.0.2.9"),
        ]
    }

    /// Each answer as the releases print it: 8.4 pretty, 10.3 compact, and 10.3's braces around a warning.
    fn output() -> String {
        [
            NEIGHBORS,
            "{\n  \"advertisedRoutes\":{\n    \"203.0.113.53/32\":{\"network\":\"203.0.113.53/32\"}\n  }\n}",
            "{\n{ \"warning\": \"No such neighbor or address family\" }\n}",
            "{\"bgpTableVersion\":2,\"advertisedRoutes\": {}\n,\"totalPrefixCounter\":0}",
            "{ \"warning\": \"No such neighbor or address family\" }",
        ]
        .join("\n")
    }

    #[test]
    fn reads_sessions_and_what_each_neighbor_is_sent() {
        let advertised = parse(&output(), &wanted(), &queries()).expect("parsed");
        let sessions = &advertised.sessions[&Vrf::Default];
        assert_eq!(
            sessions["192.0.2.2"].families,
            BTreeMap::from([(AddressFamily::Ipv4, false), (AddressFamily::Ipv6, true)])
        );
        assert_eq!(sessions["192.0.2.9"].state, "Active");
        assert_eq!(advertised.peers(&Vrf::Default, &prefix("203.0.113.53")), ["192.0.2.2"]);
        assert_eq!(advertised.peers(&Vrf::Default, &prefix("203.0.113.54")), Vec::<String>::new());
        let reach = advertised.of(&Vrf::Default, &prefix("203.0.113.53"), true, false);
        assert_eq!(reach, Reach { peers: vec!["192.0.2.2".into()], status: Advertisement::Advertised });
    }

    #[test]
    fn says_why_a_prefix_reaches_nobody() {
        let advertised = parse(&output(), &wanted(), &queries()).expect("parsed");
        let v6 = prefix("2001:db8::53");
        let down = Held::SessionDown { neighbor: "192.0.2.9".into(), state: "Active".into() };
        let policy = Held::NeedsPolicy { neighbor: "192.0.2.2".into() };
        let status = |vrf: &Vrf, prefix: &Prefix, announced, just_changed| {
            advertised.of(vrf, prefix, announced, just_changed).status
        };
        assert_eq!(status(&Vrf::Default, &v6, true, true), Advertisement::Nowhere(vec![policy, down.clone()]));
        let v4 = prefix("203.0.113.54");
        let filtered = Held::Filtered { neighbor: "192.0.2.2".into() };
        assert_eq!(status(&Vrf::Default, &v4, true, false), Advertisement::Nowhere(vec![filtered, down]));
        assert_eq!(status(&Vrf::Default, &v4, true, true), Advertisement::Pending, "just announced");
        let sent = prefix("203.0.113.53");
        assert_eq!(status(&Vrf::Default, &sent, false, true), Advertisement::Pending, "just withdrawn");
        assert_eq!(status(&Vrf::Named("x".into()), &sent, true, false), Advertisement::Nowhere(vec![]));
    }

    #[test]
    fn output_that_does_not_answer_every_command_is_an_error() {
        assert_eq!(
            parse("% Unknown command: show bgp vrf all neighbors json\n", &wanted(), &queries()),
            Err("unexpected vtysh output: % Unknown command: show bgp vrf all neighbors json".into())
        );
        assert!(parse(NEIGHBORS, &wanted(), &queries()).is_err());
        assert_eq!(brace_groups(r#"x{"a":"}{"}y{}"#), [r#"{"a":"}{"}"#, "{}"]);
    }

    #[test]
    fn asks_each_neighbor_of_the_running_config_for_each_wanted_family() {
        let running = RunningConfig::parse(
            "router bgp 65536\n neighbor PG peer-group\n neighbor 192.0.2.2 remote-as 65100\n neighbor 192.0.2.3 \
             peer-group PG\n neighbor eth0 interface remote-as external\n!\nrouter bgp 65537 vrf 123\n neighbor \
             198.51.100.1 remote-as 65100\nend\n",
        )
        .expect("running config");
        let only_v4 = BTreeMap::from([(Vrf::Default, BTreeSet::from([AddressFamily::Ipv4]))]);
        let asked: Vec<String> = super::queries(&running, &only_v4)
            .iter()
            .map(|(vrf, family, n)| advertised_routes(vrf, *family, n))
            .collect();
        assert_eq!(
            asked,
            [
                "show bgp ipv4 unicast neighbors 192.0.2.2 advertised-routes json",
                "show bgp ipv4 unicast neighbors 192.0.2.3 advertised-routes json",
                "show bgp ipv4 unicast neighbors eth0 advertised-routes json",
            ]
        );
        assert_eq!(
            advertised_routes(&Vrf::Named("123".into()), AddressFamily::Ipv6, "198.51.100.1"),
            "show bgp vrf 123 ipv6 unicast neighbors 198.51.100.1 advertised-routes json"
        );
    }
}
