//! A check's TLS keys (`ca_file`, `cert_file`, `key_file`) as the configuration writes them: the paths, checked at
//! their spans, and shared by the checks of one URL.
//!
//! Cabourotte's API with TLS demands a client certificate signed by its `cacert`, and its own certificate usually
//! comes from a private CA: anycastd needs both files to talk to it. The configuration keeps only the paths; the
//! files are read by `config/pem.rs`, at load time here and at every pass by the HTTP client.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::diagnostics::ConfigProblem;
use super::pem::{self, TlsProblem};
use super::{CabourotteUrl, Service};

/// How anycastd verifies a Cabourotte's certificate and proves who it is. The default (nothing set) verifies
/// against the public web PKI roots built into anycastd and presents no certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct TlsSettings {
    /// PEM CA certificates that replace the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// The client certificate presented when Cabourotte asks for one.
    pub client: Option<ClientCertificate>,
}

/// A client certificate chain and its key, each in a PEM file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct ClientCertificate {
    /// The certificate, then any intermediate CA certificates.
    pub cert_file: PathBuf,
    /// The certificate's private key, unencrypted.
    pub key_file: PathBuf,
}

impl TlsSettings {
    /// Whether any TLS key was given.
    pub(crate) fn is_set(&self) -> bool {
        self.ca_file.is_some() || self.client.is_some()
    }
}

/// One of a check's TLS keys, named after it (hence the common `File`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub(crate) enum TlsKey {
    /// `ca_file`
    CaFile,
    /// `cert_file`
    CertFile,
    /// `key_file`
    KeyFile,
}

impl TlsKey {
    /// Every TLS key, in the order docs/configuration.md lists them.
    pub(crate) const ALL: [TlsKey; 3] = [TlsKey::CaFile, TlsKey::CertFile, TlsKey::KeyFile];

    /// The key as written in the configuration.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TlsKey::CaFile => "ca_file",
            TlsKey::CertFile => "cert_file",
            TlsKey::KeyFile => "key_file",
        }
    }
}

impl fmt::Display for TlsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The TLS keys of one check as written, each with the span of its value.
#[derive(Default)]
pub(super) struct Written {
    ca_file: Option<(PathBuf, Range<usize>)>,
    cert_file: Option<(PathBuf, Range<usize>)>,
    key_file: Option<(PathBuf, Range<usize>)>,
}

impl Written {
    /// Records the path written for `key`.
    pub(super) fn set(&mut self, key: TlsKey, path: PathBuf, span: Range<usize>) {
        *self.slot(key) = Some((path, span));
    }

    fn slot(&mut self, key: TlsKey) -> &mut Option<(PathBuf, Range<usize>)> {
        match key {
            TlsKey::CaFile => &mut self.ca_file,
            TlsKey::CertFile => &mut self.cert_file,
            TlsKey::KeyFile => &mut self.key_file,
        }
    }

    fn get(&self, key: TlsKey) -> Option<&(PathBuf, Range<usize>)> {
        match key {
            TlsKey::CaFile => self.ca_file.as_ref(),
            TlsKey::CertFile => self.cert_file.as_ref(),
            TlsKey::KeyFile => self.key_file.as_ref(),
        }
    }

    fn span(&self, key: TlsKey) -> Option<Range<usize>> {
        self.get(key).map(|(_, span)| span.clone())
    }

    /// The settings, or the problem of a certificate without its key (or the reverse).
    fn settings(&self) -> Result<TlsSettings, Vec<ConfigProblem>> {
        let client = match (&self.cert_file, &self.key_file) {
            (Some((cert_file, _)), Some((key_file, _))) => {
                Some(ClientCertificate { cert_file: cert_file.clone(), key_file: key_file.clone() })
            }
            (Some((_, span)), None) => {
                return Err(vec![
                    ConfigProblem::new(span.clone(), "`cert_file` without `key_file`", "no key_file")
                        .help("a client certificate needs its key: add key_file = \"/path/to/client.key\""),
                ]);
            }
            (None, Some((_, span))) => {
                return Err(vec![
                    ConfigProblem::new(span.clone(), "`key_file` without `cert_file`", "no cert_file")
                        .help("a key needs its client certificate: add cert_file = \"/path/to/client.pem\""),
                ]);
            }
            (None, None) => None,
        };
        Ok(TlsSettings { ca_file: self.ca_file.as_ref().map(|(path, _)| path.clone()), client })
    }
}

/// The TLS settings of each Cabourotte URL, as the first check that set them wrote them.
///
/// Checks that share a URL talk to one Cabourotte, over one connection setup: they share its TLS settings. A
/// check that sets none takes its URL's; two checks that set different ones are an error, since anycastd could
/// only guess which one is right.
#[derive(Default)]
pub(super) struct ByUrl {
    first: HashMap<CabourotteUrl, Defined>,
}

struct Defined {
    check: String,
    settings: TlsSettings,
    item: Range<usize>,
}

impl ByUrl {
    /// The TLS settings `written` by check `name` at `url`, whose table is at `item`; or every problem with them.
    /// The files are read and checked once per URL, at the first check that names them.
    pub(super) fn define(
        &mut self,
        url: &CabourotteUrl,
        name: &str,
        item: Range<usize>,
        written: &Written,
    ) -> Result<TlsSettings, Vec<ConfigProblem>> {
        let settings = written.settings()?;
        if !settings.is_set() {
            return Ok(settings);
        }
        if !url.is_https() {
            let (key, span) = TlsKey::ALL
                .into_iter()
                .find_map(|key| Some((key, written.span(key)?)))
                .unwrap_or((TlsKey::CaFile, 0..0));
            return Err(vec![
                ConfigProblem::new(span, format!("`{key}` is set but the url is http, not https"), "needs https").help(
                    "write the url with https:// (Cabourotte serves TLS when its http section sets cert, key \
                         and cacert), or remove the TLS keys",
                ),
            ]);
        }
        if let Some(first) = self.first.get(url) {
            if first.settings == settings {
                return Ok(settings);
            }
            return Err(vec![
                ConfigProblem::new(
                    item,
                    format!(
                        "check `{name}` sets other TLS settings than check `{}` for the same url {url}",
                        first.check
                    ),
                    "other TLS settings",
                )
                .also_at(first.item.clone(), "first set here")
                .help(
                    "checks that share a url share its TLS settings: give them the same ca_file, cert_file and \
                     key_file, or set them on one check only",
                ),
            ]);
        }
        self.first.insert(url.clone(), Defined { check: name.to_string(), settings: settings.clone(), item });
        pem::load(&settings)
            .map(|_| settings)
            .map_err(|problems| problems.into_iter().map(|problem| located(problem, written)).collect())
    }

    /// Gives every check that set no TLS settings those of its URL.
    pub(super) fn share(&self, services: &mut [Service]) {
        for check in services.iter_mut().flat_map(|service| service.checks.iter_mut()) {
            if let (false, Some(first)) = (check.tls.is_set(), self.first.get(&check.url)) {
                check.tls = first.settings.clone();
            }
        }
    }
}

/// A file's problem at the span of its key's value.
fn located(problem: TlsProblem, written: &Written) -> ConfigProblem {
    let mut located = ConfigProblem::new(written.span(problem.key).unwrap_or_default(), problem.message, problem.label);
    if let Some(help) = problem.help {
        located = located.help(help);
    }
    match problem.also.and_then(|key| written.span(key).map(|span| (key, span))) {
        Some((key, span)) => located.also_at(span, format!("the {key}")),
        None => located,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    /// A configuration whose check `dns` has `keys` (TOML inline-table keys) and whose check `ntp` shares its url.
    fn config(url: &str, dns_keys: &str, ntp_keys: &str) -> String {
        format!(
            "[services.dns]\nprefixes.frrouting = [\"203.0.113.53\"]\n\
             checks.cabourotte = [{{ name = \"dns\", url = \"{url}\"{dns_keys} }}]\n\n\
             [services.ntp]\nprefixes.frrouting = [\"203.0.113.123\"]\n\
             checks.cabourotte = [{{ name = \"ntp\", url = \"{url}\"{ntp_keys} }}]\n"
        )
    }

    /// Every problem of `text` as (message, the text under its span, the text under its second span).
    fn problems(text: &str) -> Vec<(String, String, Option<String>)> {
        let error = Config::parse(text, "t.toml").expect_err("invalid");
        error
            .problems()
            .iter()
            .map(|p| {
                let related = p.related.as_ref().map(|(span, _)| text[span.clone()].to_string());
                (p.message.clone(), text[p.span.clone()].to_string(), related)
            })
            .collect()
    }

    #[test]
    fn a_certificate_needs_its_key_and_the_reverse() {
        let url = "https://127.0.0.1:9013";
        assert_eq!(
            problems(&config(url, ", cert_file = \"/etc/c.pem\"", "")),
            [("`cert_file` without `key_file`".to_string(), "\"/etc/c.pem\"".to_string(), None)]
        );
        assert_eq!(
            problems(&config(url, ", key_file = \"/etc/c.key\"", "")),
            [("`key_file` without `cert_file`".to_string(), "\"/etc/c.key\"".to_string(), None)]
        );
    }

    #[test]
    fn tls_keys_need_an_https_url_and_absolute_paths() {
        assert_eq!(
            problems(&config("http://127.0.0.1:9013", ", ca_file = \"/etc/ca.pem\"", "")),
            [("`ca_file` is set but the url is http, not https".into(), "\"/etc/ca.pem\"".into(), None)]
        );
        assert_eq!(
            problems(&config("https://h", ", ca_file = \"ca.pem\"", "")),
            [("`ca_file` must be an absolute path".into(), "\"ca.pem\"".into(), None)]
        );
        assert_eq!(
            problems(&config("https://h", ", ca_file = 1", "")),
            [("`ca_file` must be a string: the path of a PEM file".into(), "1".into(), None)]
        );
    }

    #[test]
    fn a_missing_file_names_its_path_and_the_os_error() {
        let text = config("https://h", ", ca_file = \"/nonexistent/ca.pem\"", "");
        assert_eq!(
            problems(&text),
            [(
                "cannot read ca_file /nonexistent/ca.pem: No such file or directory (os error 2)".into(),
                "\"/nonexistent/ca.pem\"".into(),
                None
            )]
        );
    }

    #[test]
    fn only_regular_files_are_read_and_a_fifo_does_not_hang() {
        let dir = std::env::temp_dir().join(format!("anycastd-tls-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let fifo = dir.join("fifo");
        crate::bounded::make_fifo(&fifo);
        for path in [Path::new("/"), fifo.as_path()] {
            let text = config("https://h", &format!(", ca_file = \"{}\"", path.display()), "");
            assert_eq!(
                problems(&text)[0].0,
                format!("cannot read ca_file {}: it is not a regular file", path.display())
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn checks_of_one_url_share_its_tls_settings_and_may_not_differ() {
        let missing = ", ca_file = \"/nonexistent/ca.pem\"";
        let other = ", ca_file = \"/nonexistent/other.pem\"";
        let found = problems(&config("https://h", missing, other));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[1],
            (
                "check `ntp` sets other TLS settings than check `dns` for the same url https://h".into(),
                format!("{{ name = \"ntp\", url = \"https://h\"{other} }}"),
                Some(format!("{{ name = \"dns\", url = \"https://h\"{missing} }}")),
            )
        );
        let same = problems(&config("https://h", missing, missing));
        assert_eq!(same.len(), 1, "the files of one url are checked once: {same:?}");
    }

    #[test]
    fn a_check_without_tls_keys_takes_its_urls() {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls-ca.pem");
        let text = config("https://h", &format!(", ca_file = \"{fixture}\""), "");
        let text = format!(
            "{text}[services.web]\nprefixes.frrouting = [\"192.0.2.1\"]\n\
             checks.cabourotte = [{{ name = \"web\", url = \"https://other\" }}]\n"
        );
        let config = Config::parse(&text, "t").expect("valid");
        let ca_files: Vec<_> =
            config.checks().map(|(_, check)| (check.name.as_str(), check.tls.ca_file.as_deref())).collect();
        assert_eq!(
            ca_files,
            [("dns", Some(Path::new(fixture))), ("ntp", Some(Path::new(fixture))), ("web", None)],
            "ntp shares dns's url, web has a url of its own"
        );
    }

    #[test]
    fn a_file_without_a_certificate_or_a_key_is_refused_at_its_key() {
        let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/README.md");
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls-ca.pem");
        let text = config("https://h", &format!(", cert_file = \"{readme}\", key_file = \"{fixture}\""), "");
        let found: Vec<_> = problems(&text).into_iter().map(|(message, span, _)| (message, span)).collect();
        assert_eq!(
            found,
            [
                (format!("cert_file {readme} holds no certificate"), format!("\"{readme}\"")),
                (format!("key_file {fixture} holds no private key"), format!("\"{fixture}\"")),
            ]
        );
    }
}
