//! The connection against fake BIRDs: UNIX listeners in threads of the test that speak (or break) the protocol.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::thread;

use super::*;
use crate::bird::fake::{FakeBird, GREETING, read_command, scratch};

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[test]
fn a_reply_split_across_reads_is_read_whole_and_the_write_side_stays_open() {
    let bird = FakeBird::start("split", |mut stream| {
        stream.write_all(&GREETING[..9]).expect("write");
        thread::sleep(Duration::from_millis(20));
        stream.write_all(&GREETING[9..]).expect("write");
        let command = read_command(&mut stream).expect("a command");
        let status = include_bytes!("../fixtures/2.0.12/show-status.txt");
        for piece in status.chunks(17) {
            stream.write_all(piece).expect("write");
            thread::sleep(Duration::from_millis(2));
        }
        // A client that half-closed would make this read return 0 (EOF) at once.
        stream.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let after = stream.read(&mut [0u8; 16]).map_err(|error| error.kind());
        (command, after)
    });
    let mut connection = Connection::open(&bird.socket, soon()).expect("connected");
    assert_eq!(connection.version(), "2.0.12");
    let reply = connection.command("show status").expect("a reply");
    assert_eq!(reply.lines().len(), 6);
    assert_eq!((reply.code(), reply.last().text.as_str()), (13, "Daemon is up and running"));
    let (command, after) = bird.observed();
    assert_eq!(command, "show status");
    assert_eq!(after, Err(ErrorKind::WouldBlock), "the client must not half-close");
}

#[test]
fn a_bird_that_never_answers_costs_the_deadline_and_no_more() {
    let bird = FakeBird::start("silent", |mut stream| {
        stream.write_all(GREETING).expect("write");
        let command = read_command(&mut stream).expect("a command");
        let _ = stream.read(&mut [0u8; 16]); // until the client gives up and closes
        command
    });
    let started = Instant::now();
    let mut connection = Connection::open(&bird.socket, started + Duration::from_millis(300)).expect("connected");
    let error = connection.command("show status").expect_err("no answer");
    assert_eq!(error, BirdError::Timeout { socket: bird.socket.clone(), during: "`show status`".into() });
    assert!(started.elapsed() >= Duration::from_millis(300) && started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        error.to_string(),
        format!(
            "BIRD did not answer `show status` on {} before the pass's deadline: it is stuck or overloaded, or \
             stopped with its socket's backlog full",
            bird.socket.display()
        )
    );
    drop(connection);
    assert_eq!(bird.observed(), "show status");
}

#[test]
fn a_bird_that_never_greets_costs_the_deadline() {
    let bird = FakeBird::start("mute", |mut stream| {
        let _ = stream.read(&mut [0u8; 16]);
    });
    let started = Instant::now();
    let error = Connection::open(&bird.socket, started + Duration::from_millis(200)).expect_err("no greeting");
    assert_eq!(error, BirdError::Timeout { socket: bird.socket.clone(), during: "the greeting".into() });
    assert!(started.elapsed() < Duration::from_secs(2));
    bird.observed();
}

#[test]
fn a_bird_that_closes_the_connection_is_a_clear_error() {
    let bird = FakeBird::start("closing", |mut stream| {
        stream.write_all(GREETING).expect("write");
        stream.write_all(b"0002-Reading configuration from /etc/bird/bird.conf\n").expect("write");
        read_command(&mut stream).expect("a command")
    });
    let mut connection = Connection::open(&bird.socket, soon()).expect("connected");
    let error = connection.command("configure").expect_err("closed");
    let socket = bird.socket.clone();
    assert_eq!(error, BirdError::Closed { socket: socket.clone(), during: "`configure`".into() });
    assert_eq!(
        error.to_string(),
        format!(
            "BIRD closed the connection on {} while anycastd waited for `configure`: it may have stopped or crashed \
             (see its log)",
            socket.display()
        )
    );
    assert_eq!(bird.observed(), "configure");
}

#[test]
fn an_endless_reply_is_refused_at_the_limit() {
    let bird = FakeBird::start("endless", |mut stream| {
        stream.write_all(GREETING).expect("write");
        let _ = read_command(&mut stream);
        let line = format!("1007-{}\n", "x".repeat(400));
        let mut sent = 0;
        while sent < 2 * MAX_REPLY_FOR_TESTS && stream.write_all(line.as_bytes()).is_ok() {
            sent += line.len();
        }
        sent
    });
    let mut connection = Connection::open(&bird.socket, soon()).expect("connected");
    let error = connection.command("show route all").expect_err("too large");
    assert_eq!(
        error,
        BirdError::Reply {
            socket: bird.socket.clone(),
            during: "`show route all`".into(),
            error: ReplyError::TooLarge
        }
    );
    drop(connection);
    assert!(bird.observed() < 2 * MAX_REPLY_FOR_TESTS, "the client stopped reading");
}

const MAX_REPLY_FOR_TESTS: usize = crate::bird::reply::MAX_REPLY;

#[test]
fn something_else_on_the_socket_is_not_bird() {
    let bird = FakeBird::start("other", |mut stream| {
        stream.write_all(b"0001 Welcome to something else\n").expect("write");
    });
    let error = Connection::open(&bird.socket, soon()).expect_err("not BIRD");
    let socket = bird.socket.clone();
    assert_eq!(error, BirdError::Greeting { socket, text: "Welcome to something else".into() });
    bird.observed();
}

#[test]
fn commands_with_control_characters_are_never_sent() {
    let bird = FakeBird::start("unsafe", |mut stream| {
        stream.write_all(GREETING).expect("write");
        let command = read_command(&mut stream).expect("a command");
        stream.write_all(b"0013 Daemon is up and running\n").expect("write");
        command
    });
    let mut connection = Connection::open(&bird.socket, soon()).expect("connected");
    for command in ["show status\nconfigure", "", "disable \u{1b}x", "show\u{85}status"] {
        let error = connection.command(command).expect_err("refused");
        assert_eq!(error, BirdError::UnsafeCommand(escape(command).into_owned()));
    }
    assert!(matches!(connection.command(&"x".repeat(MAX_COMMAND + 1)), Err(BirdError::UnsafeCommand(_))));
    assert_eq!(connection.command("show status").map(|reply| reply.code()), Ok(13));
    assert_eq!(bird.observed(), "show status", "nothing of the refused commands reached BIRD");
}

#[test]
fn a_missing_socket_and_a_dead_one_say_what_to_do() {
    let dir = scratch("dead");
    let missing = dir.join("missing.ctl");
    let error = Connection::open(&missing, soon()).expect_err("missing");
    assert_eq!(error, BirdError::NoSocket { socket: missing.clone() });
    assert_eq!(
        error.to_string(),
        format!(
            "there is no BIRD control socket at {}: is BIRD running, with this socket (its -s; Debian's is \
             /run/bird/bird.ctl)?",
            missing.display()
        )
    );
    let dead = dir.join("dead.ctl");
    drop(UnixListener::bind(&dead).expect("bind"));
    assert_eq!(Connection::open(&dead, soon()).expect_err("dead"), BirdError::NotListening { socket: dead.clone() });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Root passes any permission check, so the mapping is tested without a socket.
#[test]
fn permission_denied_names_the_group() {
    let error = connect_error(Path::new("/run/bird/bird.ctl"), Errno::ACCESS);
    assert_eq!(
        error.to_string(),
        "permission denied on BIRD's control socket /run/bird/bird.ctl: anycastd's user needs BIRD's group, bird, \
         which owns the socket (SupplementaryGroups=bird in its unit)"
    );
}

/// A BIRD that is stopped (SIGSTOP) or stuck accepts nothing: once its backlog is full, a blocking connect would
/// wait forever.
#[test]
fn a_full_backlog_costs_the_deadline() {
    let dir = scratch("backlog");
    let socket = dir.join("bird.ctl");
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let listener = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None).expect("socket");
    let address = SocketAddrUnix::new(&socket).expect("address");
    rustix::net::bind(&listener, &address).expect("bind");
    rustix::net::listen(&listener, 0).expect("listen");
    let mut queued = Vec::new();
    for _ in 0..64 {
        let client = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None).expect("socket");
        match rustix::net::connect(&client, &address) {
            Ok(()) => queued.push(client),
            Err(Errno::AGAIN) => break,
            Err(errno) => panic!("connect: {errno}"),
        }
    }
    let started = Instant::now();
    let error = Connection::open(&socket, started + Duration::from_millis(200)).expect_err("a full backlog");
    assert_eq!(error, BirdError::Timeout { socket: socket.clone(), during: "connecting".into() });
    assert!(started.elapsed() >= Duration::from_millis(200) && started.elapsed() < Duration::from_secs(2));
    drop((queued, listener));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn versions_come_from_the_greetings_of_every_release() {
    use crate::bird::reply::tests::reply_of;
    for (fixture, expected) in [
        (include_str!("../fixtures/2.0.12/greeting.txt"), "2.0.12"),
        (include_str!("../fixtures/2.17.6/greeting.txt"), "2.17.6"),
        (include_str!("../fixtures/3.1.8/greeting.txt"), "3.1.8"),
    ] {
        assert_eq!(version(&reply_of(fixture)), Some(expected.to_string()));
    }
    assert_eq!(version(&reply_of("0001 BIRD  ready.\n")), None);
    assert_eq!(version(&reply_of("0013 BIRD 2.0.12 ready.\n")), None);
}
