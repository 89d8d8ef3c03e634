//! The HTTP listener of `anycastd run`: Cabourotte's HTTP exporter pushes each check result to `POST /push`,
//! Prometheus scrapes `GET /metrics`, a supervisor asks `GET /healthz`.
//!
//! A push is answered before anything is reconciled (Cabourotte pushes from one goroutine, so a slow answer delays
//! its other results), and left in the [`mailbox`], which wakes the loop; the loop may then withdraw at once.
//! Whoever can reach the port can only ever cause a withdrawal: a pushed success announces nothing until the next
//! poll of Cabourotte confirms it. Still, a push must carry the shared secret ([`secret`]), on every address unless
//! `--allow-unauthenticated-loopback`.
//!
//! The server ([`server`], over [`http`]) is bounded in connections, time and memory, in a thread of its own per
//! listening socket: nothing a client does can stop or delay a pass. [`routes`] is what it serves.

pub mod http;
pub mod mailbox;
pub mod routes;
pub mod secret;
pub mod server;

use std::net::{SocketAddr, TcpListener};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::observe::log::{Event, Logging};
use routes::Routes;
use server::Limits;

/// What wakes the loop of `run` between its polls.
#[derive(Debug)]
pub enum Wake {
    /// SIGINT or SIGTERM (its name): stop.
    Stop(&'static str),
    /// SIGHUP: read the configuration (and the push secret) again.
    Reload,
    /// Results pushed by Cabourotte's exporter wait in the [`mailbox::Mailbox`].
    Pushed,
}

/// What `/metrics` and `/healthz` answer: set by the loop after every pass.
#[derive(Debug, Default)]
pub struct Status {
    /// The metrics text of the last pass (the same as the metrics file's), shared with the responses that send it.
    pub metrics: Option<Arc<str>>,
    /// When the last pass ended, and whether it had no error.
    pub last_pass: Option<(Instant, bool)>,
    /// How old the last pass may be before `/healthz` says the loop is stuck.
    pub patience: Duration,
}

/// The status shared between the loop and the listener.
pub type SharedStatus = Arc<Mutex<Status>>;

/// How long the listener waits before serving again after a bug made it stop.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// Starts serving `routes` on `address` in a thread of its own, logging its errors with `logging`.
pub fn start(address: SocketAddr, routes: Routes, logging: Logging) -> Result<(), String> {
    let cannot = |error: std::io::Error| format!("cannot listen on {address}: {error}");
    let listener = TcpListener::bind(address).map_err(cannot)?;
    listener.set_nonblocking(true).map_err(cannot)?;
    std::thread::Builder::new()
        .name("listener".into())
        .spawn(move || serve_for_ever(&listener, &routes, address, logging))
        .map_err(|error| format!("cannot start the listener on {address}: {error}"))?;
    Ok(())
}

/// Serves until the process ends. The server never returns; should a bug make it panic, it serves again after
/// [`RESTART_PAUSE`], so that pushes and metrics come back without a restart of `run`.
fn serve_for_ever(listener: &TcpListener, routes: &Routes, address: SocketAddr, logging: Logging) {
    let log = |what: String| logging.write(&[Event::warning("run", format!("listener {address}: {what}"))]);
    loop {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
            server::serve(listener, routes, Limits::DEFAULT, &log);
        }));
        log("stopped by a bug; serving again in 1 s".into());
        std::thread::sleep(RESTART_PAUSE);
    }
}
