//! Fake BIRDs for the tests: a UNIX listener in a thread of the test that speaks (or breaks) the protocol.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The greeting of the fakes that speak the protocol.
pub(crate) const GREETING: &[u8] = b"0001 BIRD 2.0.12 ready.\n";

/// A fake BIRD in a fresh directory: `serve` gets the one connection it accepts and returns what it observed.
pub(crate) struct FakeBird<T> {
    dir: PathBuf,
    pub(crate) socket: PathBuf,
    server: Option<JoinHandle<T>>,
}

impl<T: Send + 'static> FakeBird<T> {
    pub(crate) fn start(name: &str, serve: impl FnOnce(UnixStream) -> T + Send + 'static) -> FakeBird<T> {
        let dir = scratch(name);
        let socket = dir.join("bird.ctl");
        let listener = UnixListener::bind(&socket).expect("bind");
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            serve(stream)
        });
        FakeBird { dir, socket, server: Some(server) }
    }

    /// What the server observed, once it is done.
    pub(crate) fn observed(mut self) -> T {
        self.server.take().expect("a server").join().expect("the server thread")
    }
}

impl FakeBird<Vec<String>> {
    /// A BIRD that greets, then answers each command with `answer(command)` until the client closes the
    /// connection; it observes the commands, in order.
    pub(crate) fn answering(name: &str, mut answer: impl FnMut(&str) -> String + Send + 'static) -> Self {
        FakeBird::start(name, move |mut stream| {
            stream.write_all(GREETING).expect("greeting");
            let mut commands = Vec::new();
            while let Some(command) = read_command(&mut stream) {
                let reply = answer(&command);
                commands.push(command);
                if stream.write_all(reply.as_bytes()).is_err() {
                    break;
                }
            }
            commands
        })
    }
}

impl<T> Drop for FakeBird<T> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory for one test.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anycastd-bird-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Reads one command line, as BIRD does; `None` once the client has closed the connection.
pub(crate) fn read_command(stream: &mut UnixStream) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8];
    loop {
        match stream.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => return Some(String::from_utf8_lossy(&line).into_owned()),
            Ok(1) => line.push(byte[0]),
            _ => return None,
        }
    }
}
