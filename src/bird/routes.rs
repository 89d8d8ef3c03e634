//! What BIRD shows, read (pure): its routes from anycastd's protocols, the state of those protocols, and whether
//! the daemon is reconfiguring.
//!
//! The formats are those of BIRD 2.0.12, 2.17.6 and 3.1.8, captured in `fixtures/`. They differ in the attribute
//! lines of `show route ... all` and in the order of the routes, not in anything read here; columns are never
//! cut at fixed offsets, since a long protocol name pushes the next fields to the right.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::reply::{Reply, ReplyReader};
use super::{BirdNet, BirdRoute, BirdRoutes, net_of_protocol};
use crate::config::Prefix;
use crate::escape::escape;

/// The route attribute a draining route carries, as `show route ... all` prints it (`anycastd_draining: 1`).
const DRAINING: &str = "anycastd_draining";

/// BIRD's answer to `show protocols "PATTERN"` when no protocol matches: a runtime error, meaning "none".
const NO_PROTOCOLS_MATCH: u16 = 8003;

/// The code of a row of `show protocols`.
const PROTOCOL_ROW: u16 = 1002;

/// The code of `show status`'s last line.
const STATUS: u16 = 13;

/// The state of each protocol `show protocols` lists, by name.
pub type Protocols = BTreeMap<String, ProtocolState>;

/// A protocol's state in `show protocols`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolState {
    /// `up`: its routes are in BIRD's table.
    Up,
    /// `down`: disabled, or not started.
    Down,
    /// On its way (`start`, `flush` right after a `disable`): neither announced for certain nor withdrawn yet.
    /// The text is BIRD's, escaped.
    Changing(String),
}

/// What `show status` says of the daemon, on its last line (`0013 ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaemonStatus {
    /// `Daemon is up and running`: a `configure` may be sent.
    Running,
    /// `Reconfiguration in progress`: another `configure` now would be queued (and a second queued one makes 3.1.8
    /// abort).
    Reconfiguring,
    /// `Shutdown in progress`.
    ShuttingDown,
}

/// Why a reply of BIRD could not be read as what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShowError {
    /// BIRD answered with an error: its final line, escaped.
    Refused(String),
    /// A route line whose first field is not a prefix (escaped).
    MalformedPrefix(String),
    /// A line of a kind the command never prints (escaped).
    Unexpected(String),
}

impl fmt::Display for ShowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShowError::Refused(message) => write!(f, "BIRD answered {message}"),
            ShowError::MalformedPrefix(text) => write!(f, "BIRD showed a route for {text:?}, which is no prefix"),
            ShowError::Unexpected(text) => write!(f, "BIRD answered a line anycastd cannot read: {text:?}"),
        }
    }
}

impl std::error::Error for ShowError {}

/// One line of `show route ... all`, by what its text is.
#[derive(Debug, PartialEq, Eq)]
enum RouteText<'a> {
    /// `Table master4:`: the route before it is complete, and those after it are in that table.
    Table(&'a str),
    /// The empty line between tables: the route before it is complete.
    Boundary,
    /// `203.0.113.53/32      blackhole [anycastd_... 23:52:13.407] * (250)`: a route of a new prefix, and the
    /// protocol it is from (between `[` and the time), if shown.
    Route(&'a str, Option<&'a str>),
    /// A line whose prefix column is blank: another route of the same prefix, and its protocol.
    SamePrefix(Option<&'a str>),
    /// `\tanycastd_draining: 1`, `\tType: static univ`, `\tpreference: 250`: an attribute of the route above.
    Attribute(&'a str),
}

/// Reads what `birdc show route table all where proto ~ "anycastd_*" all` printed, saved to a file (`plan --bird-routes`):
/// birdc's own lines (`Table master4:`, `203.0.113.53/32  blackhole [anycastd_... ] * (250)`, a tab before each
/// attribute), or `birdc -v`'s, with the reply codes. Each line is read as a line of the reply would be.
pub fn parse_routes_text(text: &str) -> Result<BirdRoutes, ShowError> {
    let mut lines = String::new();
    for line in text.lines() {
        let line = without_code(line);
        if line.starts_with("BIRD ") && line.ends_with(" ready.") {
            continue;
        }
        lines.push_str("1007-");
        lines.push_str(line);
        lines.push('\n');
    }
    lines.push_str("0000 \n");
    let mut reader = ReplyReader::default();
    match reader.push(lines.as_bytes()) {
        Ok(Some(reply)) => parse_routes(&reply),
        Ok(None) => Err(ShowError::Unexpected("an unfinished reply".into())),
        Err(error) => Err(ShowError::Unexpected(error.to_string())),
    }
}

/// A line of `birdc -v` without its reply code (`1007-Table master4:`), or its continuation's five spaces; any
/// other line as it is. The final `0000` line is left empty.
fn without_code(line: &str) -> &str {
    let bytes = line.as_bytes();
    let coded = bytes.len() >= 5 && bytes[..4].iter().all(u8::is_ascii_digit) && matches!(bytes[4], b'-' | b' ');
    match () {
        _ if coded && bytes[..4] == *b"0000" => "",
        _ if coded => &line[5..],
        _ => line.strip_prefix("     ").unwrap_or(line),
    }
}

/// Reads the reply of `show route table all where proto ~ "anycastd_*" all` into what BIRD's tables hold of
/// anycastd's prefixes, each in the table whose `Table NAME:` line comes before it (a route before any is in its
/// family's master table, as `show route` without `table all` prints). A prefix is draining when its route carries
/// `anycastd_draining`, whatever its value (the operator's filter asks `defined(anycastd_draining)`).
///
/// Only a route from the protocol anycastd names for that prefix and table counts: a copy that the operator's `pipe`
/// brings into another table keeps its protocol's name, and is not anycastd's to withdraw there (it leaves with the
/// original).
pub fn parse_routes(reply: &Reply) -> Result<BirdRoutes, ShowError> {
    refused(reply)?;
    let mut routes = BirdRoutes::new();
    let mut table: Option<String> = None;
    let mut current: Option<Route> = None;
    for line in reply.all_lines() {
        match route_text(&line.text) {
            RouteText::Boundary => finish(&mut routes, current.take()),
            RouteText::Table(name) => {
                finish(&mut routes, current.take());
                table = Some(name.to_string());
            }
            RouteText::Route(net, protocol) => {
                finish(&mut routes, current.take());
                let prefix = Prefix::parse(net).map_err(|_| ShowError::MalformedPrefix(escape(net).into_owned()))?;
                current = Some(Route::new(BirdNet::new(prefix, table.as_deref()), protocol));
            }
            RouteText::SamePrefix(protocol) => {
                let net = current.as_ref().map(|route| route.net.clone());
                finish(&mut routes, current.take());
                current = net.map(|net| Route::new(net, protocol));
            }
            RouteText::Attribute(attribute) => {
                if let Some(route) = &mut current {
                    route.draining |= is_draining(attribute);
                }
            }
        }
    }
    finish(&mut routes, current);
    Ok(routes)
}

fn route_text(text: &str) -> RouteText<'_> {
    if text.trim().is_empty() {
        return RouteText::Boundary;
    }
    if let Some(name) = text.strip_prefix("Table ").and_then(|rest| rest.strip_suffix(':')) {
        return RouteText::Table(name);
    }
    match text.strip_prefix('\t') {
        Some(attribute) => RouteText::Attribute(attribute),
        None if text.starts_with(char::is_whitespace) => RouteText::SamePrefix(protocol_of(text)),
        None => RouteText::Route(text.split_whitespace().next().unwrap_or_default(), protocol_of(text)),
    }
}

/// The protocol a route line names: `[anycastd_203_0_113_53_32 23:52:13.407]` → `anycastd_203_0_113_53_32`.
fn protocol_of(text: &str) -> Option<&str> {
    let (_, after) = text.split_once('[')?;
    after.split(|c: char| c.is_whitespace() || c == ']').next().filter(|name| !name.is_empty())
}

/// A route being read: its prefix and table, whether it carries the drain mark, and whether anycastd's protocol for
/// that prefix and table gave it (a route line that names no protocol is believed).
struct Route {
    net: BirdNet,
    draining: bool,
    ours: bool,
}

impl Route {
    fn new(net: BirdNet, protocol: Option<&str>) -> Route {
        let ours = protocol.is_none_or(|name| net_of_protocol(name).as_ref() == Some(&net));
        Route { net, draining: false, ours }
    }
}

fn is_draining(attribute: &str) -> bool {
    attribute.split_once(':').is_some_and(|(name, _)| name.trim() == DRAINING)
}

/// Adds a route that has been read completely.
fn finish(routes: &mut BirdRoutes, route: Option<Route>) {
    if let Some(Route { net, draining, ours: true }) = route {
        routes.entry(net).and_modify(|seen| seen.draining &= draining).or_insert(BirdRoute { draining });
    }
}

/// Reads the reply of `show route export PROTOCOL where proto ~ "anycastd_*"`: the prefix and table of each of
/// anycastd's protocols whose route the BGP protocol exports. By the protocol's name, not by the table the route is
/// shown in: a VRF's route that the operator's `pipe` leaks into the table the session uses is that VRF's prefix,
/// and reaches the peer.
pub fn parse_exported(reply: &Reply) -> Result<BTreeSet<BirdNet>, ShowError> {
    refused(reply)?;
    let exported = reply.all_lines().filter_map(|line| match route_text(&line.text) {
        RouteText::Route(_, protocol) | RouteText::SamePrefix(protocol) => net_of_protocol(protocol?),
        RouteText::Table(_) | RouteText::Boundary | RouteText::Attribute(_) => None,
    });
    Ok(exported.collect())
}

/// One BGP protocol of BIRD, as `show protocols` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpSession {
    /// Its name, a BIRD symbol.
    pub name: String,
    /// Whether its session is established.
    pub established: bool,
    /// Its state, as BIRD shows it (`start Active`, `up Established`), escaped.
    pub state: String,
}

/// Reads the reply of `show protocols`: its BGP protocols (`Name Proto Table State Since Info`, split on whitespace;
/// `Since` is one field or two, by BIRD's time format, so the state is the protocol's state and the last field).
/// A name BIRD would not accept as a symbol is left out: it is sent back to BIRD in a command.
pub fn parse_bgp_sessions(reply: &Reply) -> Result<Vec<BgpSession>, ShowError> {
    refused(reply)?;
    let sessions = reply.all_lines().filter_map(|line| {
        let fields: Vec<&str> = line.text.split_whitespace().collect();
        let [name, "BGP", _table, state, ..] = fields[..] else { return None };
        let info = fields.last().filter(|_| fields.len() > 5).copied().unwrap_or_default();
        let state = escape(format!("{state} {info}").trim()).into_owned();
        super::is_symbol(name).then(|| BgpSession { name: name.to_string(), established: info == "Established", state })
    });
    Ok(sessions.collect())
}

/// Reads the reply of `show symbols table`: the name of every routing table BIRD's configuration defines (a row is
/// `master4 \trouting table`).
pub fn parse_tables(reply: &Reply) -> Result<BTreeSet<String>, ShowError> {
    refused(reply)?;
    let tables = reply.all_lines().filter_map(|line| {
        let (name, kind) = line.text.trim().split_once(char::is_whitespace)?;
        kind.contains("table").then(|| name.to_string())
    });
    Ok(tables.collect())
}

/// Reads the reply of `show protocols "anycastd_*"`: each protocol's name and state (`8003 No protocols match`
/// means none). The rows are split on whitespace: `Name Proto Table State Since Info`.
pub fn parse_protocols(reply: &Reply) -> Result<Protocols, ShowError> {
    if reply.code() == NO_PROTOCOLS_MATCH {
        return Ok(Protocols::new());
    }
    refused(reply)?;
    let mut protocols = Protocols::new();
    for line in reply.lines().iter().filter(|line| line.code == PROTOCOL_ROW) {
        let fields: Vec<&str> = line.text.split_whitespace().collect();
        let [name, _proto, _table, state, ..] = fields[..] else {
            return Err(ShowError::Unexpected(escape(&line.text).into_owned()));
        };
        protocols.insert(name.to_string(), protocol_state(state));
    }
    Ok(protocols)
}

fn protocol_state(state: &str) -> ProtocolState {
    match state {
        "up" => ProtocolState::Up,
        "down" => ProtocolState::Down,
        other => ProtocolState::Changing(escape(other).into_owned()),
    }
}

/// Reads the last line of `show status`.
pub fn parse_status(reply: &Reply) -> Result<DaemonStatus, ShowError> {
    refused(reply)?;
    let last = reply.last();
    match (last.code, last.text.as_str()) {
        (STATUS, "Daemon is up and running") => Ok(DaemonStatus::Running),
        (STATUS, "Reconfiguration in progress") => Ok(DaemonStatus::Reconfiguring),
        (STATUS, "Shutdown in progress") => Ok(DaemonStatus::ShuttingDown),
        _ => Err(ShowError::Unexpected(reply.message())),
    }
}

fn refused(reply: &Reply) -> Result<(), ShowError> {
    if reply.is_success() { Ok(()) } else { Err(ShowError::Refused(reply.message())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bird::reply::tests::reply_of;

    /// `text` in its family's master table.
    fn prefix(text: &str) -> BirdNet {
        BirdNet::new(Prefix::parse(text).expect("a valid prefix"), None)
    }

    /// What the fixtures' BIRD had: four prefixes, 203.0.113.54/32 draining.
    fn announced() -> BirdRoutes {
        BirdRoutes::from([
            (prefix("203.0.113.53/32"), BirdRoute { draining: false }),
            (prefix("203.0.113.54/32"), BirdRoute { draining: true }),
            (prefix("2001:db8::53/128"), BirdRoute { draining: false }),
            (prefix("2001:db8:1234:5678:9abc:def0:1234:5678/128"), BirdRoute { draining: false }),
        ])
    }

    #[test]
    fn routes_of_every_release() {
        for (release, fixture) in [
            ("2.0.12", include_str!("fixtures/2.0.12/show-route-all.txt")),
            ("2.17.6", include_str!("fixtures/2.17.6/show-route-all.txt")),
            ("3.1.8", include_str!("fixtures/3.1.8/show-route-all.txt")),
        ] {
            assert_eq!(parse_routes(&reply_of(fixture)), Ok(announced()), "{release}");
        }
    }

    /// `show route table all` lists every table: each route is in the table whose header comes before it, master
    /// tables as `None`. (BIRD 3.1.8's output, captured in the lab.)
    #[test]
    fn each_route_is_in_the_table_above_it() {
        let text = "Table blue4:\n\
                    203.0.113.53/32      blackhole [anycastd_203_0_113_53_32_t_blue4 03:14:24.080] * (250)\n\
                    \tpreference: 250\n\tsource: static\n\tanycastd_draining: 1\n\
                    \tInternal route handling values: 0L 3G 0S id 1\n\n\
                    Table blue6:\n\
                    2001:db8::53/128     blackhole [anycastd_2001_db8__53_128_t_blue6 03:14:24.080] * (250)\n\
                    \tpreference: 250\n\n\
                    Table master4:\n\
                    203.0.113.53/32      blackhole [anycastd_203_0_113_53_32 03:14:24.080] * (250)\n\
                    \tpreference: 250\n\n\
                    Table master6:\n";
        let in_table = |text: &str, table: &str| BirdNet::new(Prefix::parse(text).expect("a prefix"), Some(table));
        assert_eq!(
            parse_routes_text(text),
            Ok(BirdRoutes::from([
                (prefix("203.0.113.53/32"), BirdRoute { draining: false }),
                (in_table("203.0.113.53/32", "blue4"), BirdRoute { draining: true }),
                (in_table("2001:db8::53/128", "blue6"), BirdRoute { draining: false }),
            ]))
        );
    }

    /// What a BGP protocol exports is known by the protocol's name: a VRF's route leaked by a pipe into the master
    /// table is that VRF's prefix.
    #[test]
    fn exports_are_known_by_their_protocol() {
        let text = "1007-Table master4:\n 198.51.100.0/24  blackhole [operator_own 10:00:00.000] * (200)\n\
                    \x20203.0.113.53/32  blackhole [anycastd_203_0_113_53_32 10:00:00.000] * (250)\n\
                    \x20203.0.113.60/32  blackhole [anycastd_203_0_113_60_32_t_blue4 10:00:00.000] * (250)\n0000 \n";
        let in_table = |text: &str, table| BirdNet::new(Prefix::parse(text).expect("a prefix"), table);
        assert_eq!(
            parse_exported(&reply_of(text)),
            Ok([in_table("203.0.113.53/32", None), in_table("203.0.113.60/32", Some("blue4"))].into())
        );
    }

    /// `show protocols` of BIRD 2.0.12 and 3.1.8: the BGP protocols, established or not.
    #[test]
    fn bgp_sessions_are_read_from_show_protocols() {
        let text = "2002-Name       Proto      Table      State  Since         Info\n\
                    1002-device1    Device     ---        up     23:36:02.581  \n\
                    \x20    peer1      BGP        ---        up     23:36:02.581  Established   \n\
                    \x20    peer2      BGP        ---        start  2025-01-01 23:36:02  Active\n0000 \n";
        let sessions = parse_bgp_sessions(&reply_of(text)).expect("read");
        assert_eq!(
            sessions,
            [
                BgpSession { name: "peer1".into(), established: true, state: "up Established".into() },
                BgpSession { name: "peer2".into(), established: false, state: "start Active".into() },
            ]
        );
    }

    /// `show symbols table` of BIRD 2.0.12 (3.1.8 prints the same rows in another order).
    #[test]
    fn tables_are_read_from_show_symbols() {
        let text = "1010-master4 \trouting table\n     master6 \trouting table\n     blue6   \trouting table\n\
                    \x20    blue4   \trouting table\n0000 \n";
        let tables = parse_tables(&reply_of(text)).expect("read");
        assert_eq!(tables, ["blue4", "blue6", "master4", "master6"].map(String::from).into());
    }

    #[test]
    fn no_route_at_all() {
        for fixture in [
            include_str!("fixtures/2.0.12/show-route-none.txt"),
            include_str!("fixtures/2.17.6/show-route-none.txt"),
            include_str!("fixtures/3.1.8/show-route-none.txt"),
        ] {
            assert_eq!(parse_routes(&reply_of(fixture)), Ok(BirdRoutes::new()));
        }
    }

    /// The attribute belongs to the route above it, not to the next one: 2.x prints `1012-` under the draining
    /// route, 3.x a continuation line.
    #[test]
    fn only_the_route_carrying_the_attribute_is_draining() {
        let text = "1007-Table master4:\n 192.0.2.1/32  blackhole [anycastd_192_0_2_1_32 10:00:00.000] * (250)\n\
                    1012-\tpreference: 250\n \tanycastd_draining: 1\n\
                    1007-192.0.2.2/32  blackhole [anycastd_192_0_2_2_32 10:00:00.000] * (250)\n0000 \n";
        let routes = parse_routes(&reply_of(text)).expect("read");
        assert_eq!(routes[&prefix("192.0.2.1/32")], BirdRoute { draining: true });
        assert_eq!(routes[&prefix("192.0.2.2/32")], BirdRoute { draining: false });
    }

    /// BIRD leaves the prefix column blank for a prefix's second route; only the route of anycastd's protocol for
    /// the prefix and table counts: not a protocol of another name, nor a copy that a `pipe` brought from another
    /// table (it keeps its protocol's name, which names that other table).
    #[test]
    fn only_the_route_of_anycastd_s_protocol_for_the_prefix_and_table_counts() {
        let text = "1007-Table master4:\n 192.0.2.1/32  blackhole [anycastd_other 10:00:00.000] * (250)\n\
                    1012-\tType: static univ\n\
                    1007-              blackhole [anycastd_192_0_2_1_32 10:00:00.000] (250)\n\
                    1012-\tanycastd_draining: 1\n\
                    1007- 192.0.2.2/32  blackhole [anycastd_192_0_2_2_32_t_blue4 10:00:00.000] * (250)\n0000 \n";
        let routes = parse_routes(&reply_of(text)).expect("read");
        assert_eq!(routes, BirdRoutes::from([(prefix("192.0.2.1/32"), BirdRoute { draining: true })]));
    }

    #[test]
    fn a_route_line_without_a_prefix_is_an_error() {
        for (net, shown) in
            [("203.0.113.999/32", "203.0.113.999/32"), ("192.0.2.1/24", "192.0.2.1/24"), ("x\u{1b}", "x\\u{1b}")]
        {
            let text = format!("1007-Table master4:\n {net}  blackhole [anycastd_x 10:00:00.000] * (250)\n0000 \n");
            assert_eq!(parse_routes(&reply_of(&text)), Err(ShowError::MalformedPrefix(shown.to_string())));
        }
        let refused = reply_of("9001 syntax error, unexpected CF_SYM_UNDEFINED\n");
        assert_eq!(
            parse_routes(&refused),
            Err(ShowError::Refused("9001 syntax error, unexpected CF_SYM_UNDEFINED".to_string()))
        );
    }

    #[test]
    fn protocols_of_every_release() {
        let expected = Protocols::from([
            ("anycastd_203_0_113_53_32".to_string(), ProtocolState::Up),
            ("anycastd_203_0_113_54_32".to_string(), ProtocolState::Down),
            ("anycastd_2001_db8__53_128".to_string(), ProtocolState::Up),
            ("anycastd_2001_db8_1234_5678_9abc_def0_1234_5678_128".to_string(), ProtocolState::Up),
        ]);
        for (release, fixture) in [
            ("2.0.12", include_str!("fixtures/2.0.12/show-protocols.txt")),
            ("2.17.6", include_str!("fixtures/2.17.6/show-protocols.txt")),
            ("3.1.8", include_str!("fixtures/3.1.8/show-protocols.txt")),
        ] {
            assert_eq!(parse_protocols(&reply_of(fixture)), Ok(expected.clone()), "{release}");
        }
    }

    /// Right after `disable "anycastd_*"`, a protocol may still be `flush`ing (3.1.8 here; 2.0.12 in one capture of
    /// two) or already `down` (2.17.6).
    #[test]
    fn protocols_on_their_way_down() {
        let flushing = parse_protocols(&reply_of(include_str!("fixtures/3.1.8/show-protocols-disabled.txt")));
        assert_eq!(
            flushing.map(|protocols| protocols.into_values().collect::<Vec<_>>()),
            Ok(vec![ProtocolState::Changing("flush".to_string()); 3])
        );
        let down = parse_protocols(&reply_of(include_str!("fixtures/2.17.6/show-protocols-disabled.txt")));
        assert_eq!(down.map(|protocols| protocols.into_values().collect::<Vec<_>>()), Ok(vec![ProtocolState::Down; 3]));
    }

    #[test]
    fn no_protocol_matching_is_no_protocol() {
        for fixture in [
            include_str!("fixtures/2.0.12/show-protocols-none.txt"),
            include_str!("fixtures/2.17.6/show-protocols-none.txt"),
            include_str!("fixtures/3.1.8/show-protocols-none.txt"),
        ] {
            assert_eq!(parse_protocols(&reply_of(fixture)), Ok(Protocols::new()));
        }
        let short = reply_of(
            "2002-Name       Proto      Table      State  Since         Info\n1002-anycastd_x Static\n0000 \n",
        );
        assert_eq!(parse_protocols(&short), Err(ShowError::Unexpected("anycastd_x Static".to_string())));
    }

    #[test]
    fn status_of_every_release() {
        for (release, running, reconfiguring) in [
            (
                "2.0.12",
                include_str!("fixtures/2.0.12/show-status.txt"),
                include_str!("fixtures/2.0.12/show-status-reconfiguring.txt"),
            ),
            (
                "2.17.6",
                include_str!("fixtures/2.17.6/show-status.txt"),
                include_str!("fixtures/2.17.6/show-status-reconfiguring.txt"),
            ),
            (
                "3.1.8",
                include_str!("fixtures/3.1.8/show-status.txt"),
                include_str!("fixtures/3.1.8/show-status-reconfiguring.txt"),
            ),
        ] {
            assert_eq!(parse_status(&reply_of(running)), Ok(DaemonStatus::Running), "{release}");
            assert_eq!(parse_status(&reply_of(reconfiguring)), Ok(DaemonStatus::Reconfiguring), "{release}");
        }
        assert_eq!(parse_status(&reply_of("0013 Shutdown in progress\n")), Ok(DaemonStatus::ShuttingDown));
        assert_eq!(
            parse_status(&reply_of("0013 Daemon is dreaming\n")),
            Err(ShowError::Unexpected("0013 Daemon is dreaming".to_string()))
        );
    }
}
