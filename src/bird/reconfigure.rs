//! The conversations anycastd has with BIRD on a connection: apply its file (`configure`), withdraw through the
//! emergency brake (`disable`), and read what BIRD has.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::control::{BirdError, Connection};
use super::reply::Reply;
use super::routes::{self, BgpSession, DaemonStatus, Protocols, ShowError};
use super::{BirdNet, BirdRoutes, protocol_name};

/// How often `show status` is asked while BIRD reconfigures: the evidence saw reconfigurations end within 1 to
/// 19 ms, so a few polls, each costing BIRD next to nothing.
const STATUS_POLL: Duration = Duration::from_millis(10);

/// `0003 Reconfigured`: the new configuration runs.
const RECONFIGURED: u16 = 3;
/// `0004 Reconfiguration in progress`: a protocol has to stop or restart first (one removed from the file).
const IN_PROGRESS: u16 = 4;
/// `0005 Reconfiguration already in progress, queueing new config`.
const QUEUED: u16 = 5;
/// `0006 Reconfiguration ignored, shutting down`.
const IGNORED_SHUTTING_DOWN: u16 = 6;
/// `0008-NAME: already disabled` and `0009-NAME: disabled`.
const ALREADY_DISABLED: u16 = 8;
const DISABLED: u16 = 9;
/// `8003 No protocols match`, for a pattern that matches none.
const NO_PROTOCOLS_MATCH: u16 = 8003;
/// `9001 syntax error, unexpected CF_SYM_UNDEFINED, ...`: a name BIRD's running configuration does not define.
const SYNTAX_ERROR: u16 = 9001;
const UNDEFINED: &str = "CF_SYM_UNDEFINED";

/// What reads anycastd's routes: only its protocols, with their attributes (the drain), in every table (a prefix in
/// a VRF is in that VRF's table). `table all` works on the three releases (2.0.12, 2.17.6, 3.1.8).
const SHOW_ROUTES: &str = "show route table all where proto ~ \"anycastd_*\" all";
/// What lists every protocol (the BGP ones are read).
const SHOW_ALL_PROTOCOLS: &str = "show protocols";
/// What lists BIRD's routing tables.
const SHOW_TABLES: &str = "show symbols table";
/// What reads the state of anycastd's protocols.
const SHOW_PROTOCOLS: &str = "show protocols \"anycastd_*\"";
/// What disables every protocol of anycastd at once (`withdraw-all` while bird.conf is broken).
const DISABLE_ALL: &str = "disable \"anycastd_*\"";

/// How a `configure` ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Configured {
    /// BIRD runs the configuration as it is now, anycastd's file included, and has finished switching to it.
    Applied,
    /// BIRD refused it (8xxx, 9xxx: bird.conf, or a file it includes, does not parse) and runs the one before:
    /// BIRD's message, escaped. Withdrawals must go through [`disable`] until the operator fixes it.
    Failed(String),
}

/// What `disable` did to one protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disabled {
    /// `0009`: it was running and is now disabled: its route is withdrawn.
    Now,
    /// `0008`: it was disabled already.
    Already,
    /// `9001 ... CF_SYM_UNDEFINED`: BIRD's running configuration has no such protocol, so it announces nothing of
    /// it either.
    NoSuchProtocol,
    /// Any other answer: BIRD's message, escaped.
    Failed(String),
}

/// Applies the configuration as it is on disk, anycastd's file with it. Never sends `configure` while a
/// reconfiguration is in progress: `show status` is polled until BIRD runs, first, and again after a `0004` or
/// `0005`, so that no two configurations are ever queued (BIRD 3.1.8 aborts on a second queued one). Everything
/// within the connection's deadline.
pub fn configure(connection: &mut Connection) -> Result<Configured, BirdError> {
    wait_until_running(connection)?;
    let reply = connection.command("configure")?;
    match reply.code() {
        RECONFIGURED => Ok(Configured::Applied),
        IN_PROGRESS | QUEUED => wait_until_running(connection).map(|()| Configured::Applied),
        IGNORED_SHUTTING_DOWN => Err(BirdError::ShuttingDown { socket: connection.socket().to_path_buf() }),
        _ if !reply.is_success() => Ok(Configured::Failed(reply.message())),
        _ => Err(unexpected("configure", &format!("it answered {}", reply.message()))),
    }
}

/// Waits until `show status` says the daemon is up and running, polling every [`STATUS_POLL`].
fn wait_until_running(connection: &mut Connection) -> Result<(), BirdError> {
    loop {
        match read_status(connection)? {
            DaemonStatus::Running => return Ok(()),
            DaemonStatus::ShuttingDown => {
                return Err(BirdError::ShuttingDown { socket: connection.socket().to_path_buf() });
            }
            DaemonStatus::Reconfiguring => {
                let remaining = connection.deadline().saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return Err(BirdError::Timeout {
                        socket: connection.socket().to_path_buf(),
                        during: "the end of its reconfiguration".into(),
                    });
                }
                std::thread::sleep(remaining.min(STATUS_POLL));
            }
        }
    }
}

/// Disables the protocol of each prefix: the emergency withdrawal, which works while bird.conf does not parse. The
/// next successful `configure` undoes it for every prefix still in anycastd's file, so the file must not hold
/// them. One command per prefix, so that each has its own outcome.
pub fn disable(connection: &mut Connection, nets: &[BirdNet]) -> Result<BTreeMap<BirdNet, Disabled>, BirdError> {
    let mut outcomes = BTreeMap::new();
    for net in nets {
        let name = protocol_name(net);
        let reply = connection.command(&format!("disable {name}"))?;
        outcomes.insert(net.clone(), disabled(&reply, &name));
    }
    Ok(outcomes)
}

/// What the reply to `disable NAME` says of NAME.
fn disabled(reply: &Reply, name: &str) -> Disabled {
    if reply.code() == SYNTAX_ERROR && reply.last().text.contains(UNDEFINED) {
        return Disabled::NoSuchProtocol;
    }
    if !reply.is_success() {
        return Disabled::Failed(reply.message());
    }
    match each_disabled(reply).remove(name) {
        Some(outcome) => outcome,
        None => Disabled::Failed(format!("BIRD did not say whether it disabled {name}: {}", reply.message())),
    }
}

/// Disables every protocol whose name starts with `anycastd_`, at once: what `withdraw-all` does when `configure`
/// cannot. Each protocol's outcome by name (the operator may have named one of theirs `anycastd_...`); none when
/// no protocol matches.
pub fn disable_all(connection: &mut Connection) -> Result<BTreeMap<String, Disabled>, BirdError> {
    let reply = connection.command(DISABLE_ALL)?;
    if reply.code() == NO_PROTOCOLS_MATCH {
        return Ok(BTreeMap::new());
    }
    if !reply.is_success() {
        return Err(unexpected(DISABLE_ALL, &format!("it answered {}", reply.message())));
    }
    Ok(each_disabled(&reply))
}

/// The `NAME: disabled` (0009) and `NAME: already disabled` (0008) lines of a reply, by name.
fn each_disabled(reply: &Reply) -> BTreeMap<String, Disabled> {
    let mut outcomes = BTreeMap::new();
    for line in reply.lines() {
        let outcome = match (line.code, line.text.rsplit_once(": ")) {
            (DISABLED, Some((name, "disabled"))) => (name, Disabled::Now),
            (ALREADY_DISABLED, Some((name, "already disabled"))) => (name, Disabled::Already),
            _ => continue,
        };
        outcomes.insert(outcome.0.to_string(), outcome.1);
    }
    outcomes
}

/// What BIRD's tables hold of anycastd's prefixes, with the drain of each.
pub fn read_routes(connection: &mut Connection) -> Result<BirdRoutes, BirdError> {
    let reply = connection.command(SHOW_ROUTES)?;
    routes::parse_routes(&reply).map_err(|error| unreadable(SHOW_ROUTES, &error))
}

/// BIRD's BGP protocols, and whether each is established.
pub fn read_bgp_sessions(connection: &mut Connection) -> Result<Vec<BgpSession>, BirdError> {
    let reply = connection.command(SHOW_ALL_PROTOCOLS)?;
    routes::parse_bgp_sessions(&reply).map_err(|error| unreadable(SHOW_ALL_PROTOCOLS, &error))
}

/// The prefixes of anycastd's protocols that BGP protocol `protocol` exports (its export filter accepts them), in
/// each table. `protocol` must be a BIRD symbol (as [`read_bgp_sessions`] gives).
pub fn read_exported(connection: &mut Connection, protocol: &str) -> Result<BTreeSet<BirdNet>, BirdError> {
    let command = format!("show route export {protocol} where proto ~ \"anycastd_*\"");
    let reply = connection.command(&command)?;
    routes::parse_exported(&reply).map_err(|error| unreadable(&command, &error))
}

/// The routing tables BIRD's configuration defines, by name.
pub fn read_tables(connection: &mut Connection) -> Result<BTreeSet<String>, BirdError> {
    let reply = connection.command(SHOW_TABLES)?;
    routes::parse_tables(&reply).map_err(|error| unreadable(SHOW_TABLES, &error))
}

/// The state of each of anycastd's protocols, by name.
pub fn read_protocols(connection: &mut Connection) -> Result<Protocols, BirdError> {
    let reply = connection.command(SHOW_PROTOCOLS)?;
    routes::parse_protocols(&reply).map_err(|error| unreadable(SHOW_PROTOCOLS, &error))
}

/// Whether BIRD runs, reconfigures or shuts down.
pub fn read_status(connection: &mut Connection) -> Result<DaemonStatus, BirdError> {
    let reply = connection.command("show status")?;
    routes::parse_status(&reply).map_err(|error| unreadable("show status", &error))
}

fn unreadable(command: &str, error: &ShowError) -> BirdError {
    unexpected(command, &error.to_string())
}

fn unexpected(command: &str, reason: &str) -> BirdError {
    BirdError::Unexpected { command: command.to_string(), reason: reason.to_string() }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::bird::BirdRoute;
    use crate::bird::fake::FakeBird;

    const RUNNING: &str = include_str!("fixtures/3.1.8/show-status.txt");
    const RECONFIGURING: &str = include_str!("fixtures/3.1.8/show-status-reconfiguring.txt");

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    /// `text` in its family's master table.
    fn prefix(text: &str) -> BirdNet {
        BirdNet::new(crate::config::Prefix::parse(text).expect("a prefix"), None)
    }

    /// A fake BIRD answering each command from `answers` (command → replies, the last repeated).
    fn bird(name: &str, answers: &[(&'static str, &[&'static str])]) -> FakeBird<Vec<String>> {
        let answers: Vec<(&'static str, Vec<&'static str>)> =
            answers.iter().map(|(command, replies)| (*command, replies.to_vec())).collect();
        let answers = Arc::new(Mutex::new(answers));
        FakeBird::answering(name, move |command| {
            let mut answers = answers.lock().expect("the answers");
            let Some((_, replies)) = answers.iter_mut().find(|(expected, _)| *expected == command) else {
                return "9001 syntax error, unexpected CF_SYM_UNDEFINED, expecting CF_SYM_KNOWN\n".to_string();
            };
            let reply = if replies.len() > 1 { replies.remove(0) } else { replies[0] };
            reply.to_string()
        })
    }

    #[test]
    fn a_configure_that_is_applied_at_once() {
        let fake = bird(
            "configured",
            &[("show status", &[RUNNING]), ("configure", &[include_str!("fixtures/3.1.8/configure-reconfigured.txt")])],
        );
        let mut connection = Connection::open(&fake.socket, soon()).expect("connected");
        assert_eq!(configure(&mut connection), Ok(Configured::Applied));
        drop(connection);
        assert_eq!(fake.observed(), ["show status", "configure"]);
    }

    /// A withdrawal through the file stops a protocol: 0004, and the status is polled until BIRD runs again.
    #[test]
    fn a_configure_in_progress_is_waited_for() {
        for (release, in_progress) in [
            ("in-progress", include_str!("fixtures/2.0.12/configure-in-progress.txt")),
            ("queued", include_str!("fixtures/2.17.6/configure-queued.txt")),
        ] {
            let fake = bird(
                release,
                &[("show status", &[RUNNING, RECONFIGURING, RECONFIGURING, RUNNING]), ("configure", &[in_progress])],
            );
            let mut connection = Connection::open(&fake.socket, soon()).expect("connected");
            assert_eq!(configure(&mut connection), Ok(Configured::Applied), "{release}");
            drop(connection);
            assert_eq!(fake.observed(), ["show status", "configure", "show status", "show status", "show status"]);
        }
    }

    #[test]
    fn no_configure_is_sent_while_one_is_in_progress() {
        let fake = bird(
            "waiting",
            &[
                ("show status", &[RECONFIGURING, RECONFIGURING, RUNNING]),
                ("configure", &[include_str!("fixtures/2.17.6/configure-reconfigured.txt")]),
            ],
        );
        let mut connection = Connection::open(&fake.socket, soon()).expect("connected");
        assert_eq!(configure(&mut connection), Ok(Configured::Applied));
        drop(connection);
        assert_eq!(fake.observed(), ["show status", "show status", "show status", "configure"]);
    }

    #[test]
    fn a_reconfiguration_that_never_ends_costs_the_deadline_and_no_configure() {
        let fake = bird("endless", &[("show status", &[RECONFIGURING])]);
        let started = Instant::now();
        let mut connection = Connection::open(&fake.socket, started + Duration::from_millis(200)).expect("connected");
        let error = configure(&mut connection).expect_err("never running");
        assert!(matches!(&error, BirdError::Timeout { .. }), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(connection);
        let commands = fake.observed();
        assert!(commands.len() > 5 && commands.iter().all(|command| command == "show status"), "{commands:?}");
    }

    #[test]
    fn a_broken_bird_conf_is_a_failed_configure_with_birds_words() {
        let fake = bird(
            "broken",
            &[("show status", &[RUNNING]), ("configure", &[include_str!("fixtures/2.0.12/configure-failed.txt")])],
        );
        let mut connection = Connection::open(&fake.socket, soon()).expect("connected");
        assert_eq!(
            configure(&mut connection),
            Ok(Configured::Failed(
                "8002 /var/lib/acdl/v20/bird.conf:19:63 syntax error, unexpected '}', expecting ';' or '{'".into()
            ))
        );
    }

    #[test]
    fn a_bird_shutting_down_is_not_reconfigured() {
        let fake = bird("shutdown", &[("show status", &["0013 Shutdown in progress\n"])]);
        let mut connection = Connection::open(&fake.socket, soon()).expect("connected");
        let error = configure(&mut connection).expect_err("shutting down");
        assert_eq!(error, BirdError::ShuttingDown { socket: fake.socket.clone() });
        drop(connection);
        assert_eq!(fake.observed(), ["show status"]);
    }

    /// The replies of 3.1.8 in the lab: disabled, already disabled, and a name BIRD does not know.
    #[test]
    fn each_prefix_has_its_outcome() {
        let fake = bird(
            "disable",
            &[
                (
                    "disable anycastd_203_0_113_54_32",
                    &[
                        include_str!("fixtures/3.1.8/disable-disabled.txt"),
                        include_str!("fixtures/3.1.8/disable-already.txt"),
                    ],
                ),
                ("disable anycastd_2001_db8__99_128", &[include_str!("fixtures/3.1.8/disable-unknown.txt")]),
            ],
        );
        let mut connection = Connection::open(&fake.socket, soon()).expect("connected");
        let (draining, unknown) = (prefix("203.0.113.54/32"), prefix("2001:db8::99/128"));
        assert_eq!(
            disable(&mut connection, &[draining.clone(), unknown.clone()]),
            Ok(BTreeMap::from([(draining.clone(), Disabled::Now), (unknown, Disabled::NoSuchProtocol)]))
        );
        assert_eq!(
            disable(&mut connection, std::slice::from_ref(&draining)),
            Ok(BTreeMap::from([(draining, Disabled::Already)]))
        );
        drop(connection);
        assert_eq!(
            fake.observed(),
            [
                "disable anycastd_203_0_113_54_32",
                "disable anycastd_2001_db8__99_128",
                "disable anycastd_203_0_113_54_32"
            ]
        );
    }

    /// A success that does not name the protocol is no answer about it.
    #[test]
    fn a_reply_about_another_protocol_is_not_taken_for_this_one() {
        let reply = crate::bird::reply::tests::reply_of(include_str!("fixtures/2.0.12/disable-disabled.txt"));
        assert_eq!(
            disabled(&reply, "anycastd_203_0_113_53_32"),
            Disabled::Failed("BIRD did not say whether it disabled anycastd_203_0_113_53_32: 0000 ".to_string())
        );
        let refused = crate::bird::reply::tests::reply_of("9000 Command too long\n");
        assert_eq!(disabled(&refused, "anycastd_x"), Disabled::Failed("9000 Command too long".to_string()));
    }

    #[test]
    fn disabling_everything_reports_each_protocol() {
        let fake = bird("disable-all", &[(DISABLE_ALL, &[include_str!("fixtures/2.0.12/disable-pattern.txt")])]);
        let mut connection = Connection::open(&fake.socket, soon()).expect("connected");
        assert_eq!(
            disable_all(&mut connection),
            Ok(BTreeMap::from([
                ("anycastd_203_0_113_54_32".to_string(), Disabled::Now),
                ("anycastd_2001_db8__53_128".to_string(), Disabled::Now),
                ("anycastd_2001_db8_1234_5678_9abc_def0_1234_5678_128".to_string(), Disabled::Now),
            ]))
        );
        let fake = bird("disable-none", &[(DISABLE_ALL, &[include_str!("fixtures/3.1.8/disable-pattern-none.txt")])]);
        let mut connection = Connection::open(&fake.socket, soon()).expect("connected");
        assert_eq!(disable_all(&mut connection), Ok(BTreeMap::new()));
    }

    /// As `disable "anycastd_*"` answers when some were disabled already (EVIDENCE.md, section 2).
    #[test]
    fn mixed_codes_in_one_reply() {
        let reply = crate::bird::reply::tests::reply_of(
            "0008-anycastd_203_0_113_54_32: already disabled\n0009-anycastd_2001_db8__53_128: disabled\n \
             anycastd_192_0_2_1_32: disabled\n0000 \n",
        );
        assert_eq!(
            each_disabled(&reply),
            BTreeMap::from([
                ("anycastd_192_0_2_1_32".to_string(), Disabled::Now),
                ("anycastd_203_0_113_54_32".to_string(), Disabled::Already),
                ("anycastd_2001_db8__53_128".to_string(), Disabled::Now),
            ])
        );
        assert_eq!(disabled(&reply, "anycastd_203_0_113_54_32"), Disabled::Already);
    }

    #[test]
    fn what_bird_has_is_read_on_the_same_connection() {
        let fake = bird(
            "read",
            &[
                (SHOW_ROUTES, &[include_str!("fixtures/2.17.6/show-route-all.txt")]),
                (SHOW_PROTOCOLS, &[include_str!("fixtures/2.17.6/show-protocols-none.txt")]),
            ],
        );
        let mut connection = Connection::open(&fake.socket, soon()).expect("connected");
        let routes = read_routes(&mut connection).expect("routes");
        assert_eq!(routes.len(), 4);
        assert_eq!(routes[&prefix("203.0.113.54/32")], BirdRoute { draining: true });
        assert_eq!(read_protocols(&mut connection), Ok(Protocols::new()));
        drop(connection);
        assert_eq!(fake.observed(), [SHOW_ROUTES, SHOW_PROTOCOLS]);
    }
}
