//! What the listener of `run` serves: `POST /push` (Cabourotte's HTTP exporter), `GET /metrics` (Prometheus) and
//! `GET /healthz` (a supervisor); `HEAD` is answered like `GET`.
//!
//! A push is judged on its head first: without the secret it gets `401` at once and its body is never read. With
//! it, the body (at most 1 MiB) must be a Cabourotte result list; the results of configured checks go to the
//! [`Mailbox`], and the answer (`200`) does not wait for the loop.

use std::sync::{Arc, PoisonError};

use super::SharedStatus;
use super::http::{Head, Response};
use super::mailbox::Mailbox;
use super::secret::Secret;
use super::server::{Next, Service};
use crate::health::cabourotte::parse_result_list;

/// What one listening socket serves.
pub struct Routes {
    /// `POST /push`, when this socket takes pushes.
    pub push: Option<Push>,
    /// `GET /metrics` and `GET /healthz`, when this socket serves them.
    pub status: Option<SharedStatus>,
}

/// `POST /push`: who may push, and where pushes go.
pub struct Push {
    /// Where accepted results wait for the loop.
    pub mailbox: Arc<Mailbox>,
    /// The secret a push must carry (`None`: only loopback clients may push, with `loopback_without_secret`).
    pub secret: Option<Arc<Secret>>,
    /// `--allow-unauthenticated-loopback`: a push from a loopback address needs no secret. Any local user can then
    /// withdraw every service.
    pub loopback_without_secret: bool,
}

impl Service for Routes {
    fn head(&self, head: &Head) -> Next {
        let get = matches!(head.method.as_str(), "GET" | "HEAD");
        let answer = match (head.path.as_str(), &self.push, &self.status) {
            ("/push", Some(push), _) if head.method == "POST" => match push.authorized(head) {
                true => return Next::ReadBody,
                false => Response::message(401, "a push must carry the shared secret: Authorization: Bearer SECRET")
                    .with_header("WWW-Authenticate", "Bearer"),
            },
            ("/push", Some(_), _) => Response::message(405, "use POST").with_header("Allow", "POST"),
            ("/metrics", _, Some(status)) if get => metrics(status),
            ("/healthz", _, Some(status)) if get => healthz(status),
            ("/metrics" | "/healthz", _, Some(_)) => {
                Response::message(405, "use GET or HEAD").with_header("Allow", "GET, HEAD")
            }
            _ => Response::message(404, "not found"),
        };
        Next::Answer(answer)
    }

    fn body(&self, _: &Head, body: &[u8]) -> Response {
        match &self.push {
            Some(push) => push.accept(body),
            None => Response::message(404, "not found"),
        }
    }
}

impl Push {
    /// Whether the head carries the secret, or comes from a loopback address that needs none.
    fn authorized(&self, head: &Head) -> bool {
        if self.loopback_without_secret && head.peer.ip().to_canonical().is_loopback() {
            return true;
        }
        match (&self.secret, bearer(head)) {
            (Some(secret), Some(token)) => secret.matches(token),
            _ => false,
        }
    }

    /// An authorized push's body: a result list, whose configured checks' results are left for the loop.
    fn accept(&self, body: &[u8]) -> Response {
        let Ok(text) = std::str::from_utf8(body) else {
            return Response::message(400, "the body is not UTF-8 text");
        };
        let checks = self.mailbox.checks();
        match parse_result_list(text, &|name| checks.contains(name)) {
            Ok(list) => {
                self.mailbox.post(list.results().map(|(name, result)| (name.to_string(), result.clone())));
                Response::message(200, "accepted")
            }
            Err(reason) => Response::message(400, &format!("not a Cabourotte result list: {reason}")),
        }
    }
}

/// The token of `Authorization: Bearer TOKEN`, if the head has exactly one such header. The scheme is
/// case-insensitive (RFC 7235): `bearer` and `BEARER` are `Bearer`.
fn bearer(head: &Head) -> Option<&[u8]> {
    let value = head.header("authorization").ok()??.trim_ascii();
    let split = value.iter().position(|byte| *byte == b' ' || *byte == b'\t')?;
    let (scheme, token) = value.split_at(split);
    scheme.eq_ignore_ascii_case(b"bearer").then(|| token.trim_ascii())
}

/// The metrics text of the last pass.
fn metrics(status: &SharedStatus) -> Response {
    let metrics = status.lock().unwrap_or_else(PoisonError::into_inner).metrics.clone();
    match metrics {
        Some(text) => Response { content_type: "text/plain; version=0.0.4", ..Response::text(200, text) },
        None => Response::text(503, "no pass has ended yet\n"),
    }
}

/// Healthy while passes end without errors and recently.
fn healthz(status: &SharedStatus) -> Response {
    let status = status.lock().unwrap_or_else(PoisonError::into_inner);
    match status.last_pass {
        Some((ended, true)) if ended.elapsed() <= status.patience => Response::text(200, "ok\n"),
        Some((ended, true)) => {
            Response::text(503, format!("the last pass ended {} s ago\n", ended.elapsed().as_secs()))
        }
        Some((_, false)) => Response::text(503, "the last pass had errors\n"),
        None => Response::text(503, "no pass has ended yet\n"),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::mpsc;

    use super::*;

    fn head(peer: [u8; 4], authorization: &[&str]) -> Head {
        let headers = authorization.iter().map(|value| ("authorization".to_string(), value.as_bytes().to_vec()));
        Head {
            method: "POST".into(),
            path: "/push".into(),
            headers: headers.collect(),
            peer: SocketAddr::from((peer, 40000)),
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_the_token_exact() {
        for value in ["Bearer s3cr3t", "bearer s3cr3t", "BEARER   s3cr3t ", "Bearer\ts3cr3t"] {
            assert_eq!(bearer(&head([10, 0, 0, 1], &[value])), Some(&b"s3cr3t"[..]), "{value}");
        }
        for value in ["Basic s3cr3t", "Bearers3cr3t", "s3cr3t", "Bearer"] {
            assert_eq!(bearer(&head([10, 0, 0, 1], &[value])), None, "{value}");
        }
        assert_eq!(bearer(&head([10, 0, 0, 1], &["Bearer a", "Bearer b"])), None, "two Authorization headers");
    }

    fn push(secret: bool, loopback_without_secret: bool) -> Push {
        // A directory per call: tests run in parallel, and one must not read another's secret half-written.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("anycastd-routes-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join("secret");
        std::fs::write(&path, "s3cr3t\n").expect("write");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
        let secret = secret.then(|| Arc::new(Secret::read(&path).expect("a secret")));
        let mailbox = Arc::new(Mailbox::new(["dns".to_string()].into(), mpsc::channel().0));
        Push { mailbox, secret, loopback_without_secret }
    }

    #[test]
    fn loopback_needs_the_secret_unless_allowed() {
        let loopback = head([127, 0, 0, 1], &[]);
        let remote = head([192, 0, 2, 1], &[]);
        assert!(!push(true, false).authorized(&loopback), "the secret is required on loopback by default");
        assert!(push(true, true).authorized(&loopback));
        assert!(push(false, true).authorized(&loopback));
        assert!(!push(true, true).authorized(&remote), "the flag is about loopback only");
        assert!(push(true, false).authorized(&head([192, 0, 2, 1], &["bearer s3cr3t"])));
        assert!(!push(false, true).authorized(&head([192, 0, 2, 1], &["Bearer s3cr3t"])));
        let mapped = Head { peer: "[::ffff:127.0.0.1]:40000".parse().expect("address"), ..head([0; 4], &[]) };
        assert!(push(false, true).authorized(&mapped), "an IPv4-mapped loopback address is loopback");
    }

    #[test]
    fn a_push_body_is_a_result_list_of_configured_checks() {
        let push = push(true, false);
        let answer = push.accept(br#"[{"name":"dns","success":false,"healthcheck-timestamp":5,"message":"down"}]"#);
        assert_eq!((answer.status, &*answer.body), (200, r#"{"message":"accepted"}"#));
        assert_eq!(push.mailbox.take().get("dns").map(|result| result.success), Some(false));
        assert_eq!(push.accept(b"not json").status, 400);
        assert_eq!(push.accept(b"\xff").status, 400);
        assert_eq!(push.accept(br#"[{"name":"other","success":false}]"#).status, 200);
        assert!(push.mailbox.take().is_empty(), "a check the configuration lacks is dropped");
    }
}
