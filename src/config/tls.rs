//! The TLS settings of a Cabourotte URL (`ca_file`, `cert_file`, `key_file`) and the certificates and key that their
//! files hold.
//!
//! Cabourotte's API with TLS demands a client certificate signed by its `cacert` (Go's `RequireAndVerifyClientCert`),
//! and its own certificate usually comes from a private CA: anycastd needs both files to talk to it. They are read
//! and checked when the configuration loads, so that a mistake is a diagnostic at its key, and read again by the HTTP
//! client at every pass (`health/cabourotte/tls.rs`), so that a renewed certificate takes effect without a restart.
//! Both go through [`load`].
//!
//! [`load`] runs the checks that ureq's rustls backend skips or turns into a panic: it silently drops a root
//! certificate that it cannot parse (a `ca_file` of damaged certificates would leave no root at all, and every
//! handshake would fail as "unknown issuer"), and it panics (`expect("valid client auth certificate")`) on a key
//! that does not belong to the client certificate. [`load`] calls the same rustls functions with the same crypto
//! provider, so what passes here cannot make ureq panic. The configuration keeps only the paths; no message quotes
//! any of a key file's content.

use std::collections::HashMap;
use std::fmt;
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::ops::Range;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};

use super::diagnostics::ConfigProblem;
use super::{CabourotteUrl, Service};
use crate::bounded;

/// How anycastd verifies a Cabourotte's certificate and proves who it is. The default (nothing set) verifies
/// against the public web PKI roots built into anycastd and presents no certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TlsSettings {
    /// PEM CA certificates that replace the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// The client certificate presented when Cabourotte asks for one.
    pub client: Option<ClientCertificate>,
}

/// A client certificate chain and its key, each in a PEM file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientCertificate {
    /// The certificate, then any intermediate CA certificates.
    pub cert_file: PathBuf,
    /// The certificate's private key, unencrypted.
    pub key_file: PathBuf,
}

impl TlsSettings {
    /// Whether any TLS key was given.
    pub fn is_set(&self) -> bool {
        self.ca_file.is_some() || self.client.is_some()
    }
}

/// One of a check's TLS keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsKey {
    /// `ca_file`
    CaFile,
    /// `cert_file`
    CertFile,
    /// `key_file`
    KeyFile,
}

impl TlsKey {
    /// Every TLS key, in the order docs/configuration.md lists them.
    pub const ALL: [TlsKey; 3] = [TlsKey::CaFile, TlsKey::CertFile, TlsKey::KeyFile];

    /// The key as written in the configuration.
    pub fn name(self) -> &'static str {
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

/// What is wrong with the file of one TLS key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsProblem {
    /// The key whose file it is.
    pub key: TlsKey,
    /// What is wrong, naming the key and the path.
    pub message: String,
    /// The short label under the key's value.
    pub label: &'static str,
    /// How to fix it.
    pub help: Option<String>,
    /// Another key that the problem is about too (the certificate of a key that does not match it).
    pub also: Option<TlsKey>,
}

impl TlsProblem {
    fn new(key: TlsKey, message: String, label: &'static str) -> TlsProblem {
        TlsProblem { key, message, label, help: None, also: None }
    }

    fn help(mut self, help: impl Into<String>) -> TlsProblem {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The checked content of the files of [`TlsSettings`]: what the HTTP client is built from.
pub struct TlsMaterial {
    /// The CA certificates of `ca_file`, when it is set.
    pub roots: Option<Vec<CertificateDer<'static>>>,
    /// The client certificate chain and its key, when they are set.
    pub client: Option<ClientIdentity>,
}

/// A client certificate chain and the key that belongs to its first certificate.
pub struct ClientIdentity {
    /// The certificate, then any intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// The key file as read: ureq takes a key as PEM (it does not export the kind a DER key needs), and its PEM
    /// reader picks the same first key as the check did.
    pub key_pem: KeyPem,
}

/// The bytes of a key file, zeroed when dropped (best effort: copies made by the TLS stack are its own).
pub struct KeyPem(Vec<u8>);

impl std::ops::Deref for KeyPem {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for KeyPem {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&mut self.0);
    }
}

/// Reads and checks the files of `settings`: every problem found, or the material.
pub fn load(settings: &TlsSettings) -> Result<TlsMaterial, Vec<TlsProblem>> {
    let roots = settings.ca_file.as_deref().map(roots).transpose().map_err(|problem| vec![problem]);
    let client = settings.client.as_ref().map(client_identity).transpose();
    match (roots, client) {
        (Ok(roots), Ok(client)) => Ok(TlsMaterial { roots, client }),
        (roots, client) => Err(roots.err().into_iter().chain(client.err()).flatten().collect()),
    }
}

/// The crypto provider that ureq's rustls backend picks: the process default if one was installed (anycastd
/// installs none), else ring. Checking the key with another provider could pass a key that ureq then panics on.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

fn roots(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsProblem> {
    let key = TlsKey::CaFile;
    let certificates = certificates(key, path, &read(key, path)?)?;
    readable_as_x509(key, path, &certificates)?;
    Ok(certificates)
}

fn client_identity(client: &ClientCertificate) -> Result<ClientIdentity, Vec<TlsProblem>> {
    let (cert_path, key_path) = (&client.cert_file, &client.key_file);
    let chain = read(TlsKey::CertFile, cert_path)
        .and_then(|bytes| certificates(TlsKey::CertFile, cert_path, &bytes))
        .and_then(|chain| readable_as_x509(TlsKey::CertFile, cert_path, &chain).map(|()| chain));
    let key = read(TlsKey::KeyFile, key_path).map(KeyPem);
    let key = key.and_then(|pem| private_key(key_path, &pem).map(|key| (pem, key)));
    match (chain, key) {
        (Ok(chain), Ok((key_pem, key))) => {
            matching(client, &chain, key).map(|()| ClientIdentity { chain, key_pem }).map_err(|problem| vec![problem])
        }
        (chain, key) => Err(chain.err().into_iter().chain(key.err()).collect()),
    }
}

/// A warning for every `key_file` of `config` that every user of the host can read: whoever reads it can present
/// anycastd's client certificate to Cabourotte. Not an error (refusing the configuration would stop every pass,
/// withdrawals included, over a file mode), but said by `check`, `plan` and every pass until fixed.
pub fn exposed_keys(config: &crate::config::Config) -> Vec<String> {
    let keys: std::collections::BTreeSet<&Path> = config
        .checks()
        .filter_map(|(_, check)| check.tls.client.as_ref().map(|client| client.key_file.as_path()))
        .collect();
    keys.into_iter()
        .filter(|key| std::fs::metadata(key).is_ok_and(|metadata| metadata.mode() & 0o004 != 0))
        .map(|key| {
            format!(
                "the key_file {0} is readable by every user of this host, who can then present anycastd's client \
                 certificate to Cabourotte: chmod o-r {0}",
                key.display()
            )
        })
        .collect()
}

/// The whole file, bounded. Only a regular file is read: opening a FIFO does not wait for a writer
/// (`O_NONBLOCK`), and it is then refused.
fn read(key: TlsKey, path: &Path) -> Result<Vec<u8>, TlsProblem> {
    let unreadable = |reason: String, kind: Option<ErrorKind>| {
        let problem = TlsProblem::new(key, format!("cannot read {key} {}: {reason}", path.display()), "cannot read");
        match kind {
            Some(ErrorKind::PermissionDenied) => problem.help(
                "the user running anycastd must be able to read it; under the shipped systemd units, see \
                 \"TLS files under systemd\" in docs/operations.md",
            ),
            _ => problem,
        }
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|error| unreadable(error.to_string(), Some(error.kind())))?;
    let metadata = file.metadata().map_err(|error| unreadable(error.to_string(), Some(error.kind())))?;
    if !metadata.is_file() {
        return Err(unreadable("it is not a regular file".into(), None));
    }
    bounded::TLS_FILE.read_to_end(file).map_err(|reason| unreadable(reason, None))
}

/// Every certificate of a PEM file; at least one.
fn certificates(key: TlsKey, path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsProblem> {
    let certificates = CertificateDer::pem_slice_iter(bytes).collect::<Result<Vec<_>, _>>().map_err(|error| {
        TlsProblem::new(key, format!("{key} {} is not valid PEM: {}", path.display(), pem_error(&error)), "not PEM")
    })?;
    if certificates.is_empty() {
        let problem = TlsProblem::new(key, format!("{key} {} holds no certificate", path.display()), "no certificate");
        return Err(problem.help(
            "it must be PEM, with `-----BEGIN CERTIFICATE-----` blocks; a DER file converts with \
             `openssl x509 -inform der -in FILE -out FILE.pem`",
        ));
    }
    Ok(certificates)
}

/// Refuses a certificate that rustls cannot read: ureq would drop such a root without a word. Parsing it as a
/// trust anchor is the lightest parse rustls offers (subject, key and name constraints).
fn readable_as_x509(key: TlsKey, path: &Path, certificates: &[CertificateDer<'static>]) -> Result<(), TlsProblem> {
    for (index, certificate) in certificates.iter().enumerate() {
        if let Err(error) = RootCertStore::empty().add(certificate.clone()) {
            return Err(TlsProblem::new(
                key,
                format!(
                    "certificate {} of {key} {} is not an X.509 certificate that rustls can read ({})",
                    index + 1,
                    path.display(),
                    certificate_error(&error)
                ),
                "unreadable certificate",
            ));
        }
    }
    Ok(())
}

/// The key of a key file. A PEM error is not detailed: the file is a secret, and the details quote it.
fn private_key(path: &Path, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, TlsProblem> {
    let key = TlsKey::KeyFile;
    match PrivateKeyDer::from_pem_slice(bytes) {
        Ok(private_key) => Ok(private_key),
        Err(pem::Error::NoItemsFound) if encrypted(bytes) => Err(TlsProblem::new(
            key,
            format!("key_file {} holds an encrypted key, and anycastd cannot ask for its passphrase", path.display()),
            "encrypted key",
        )
        .help("decrypt it into a file that only anycastd's user can read: `openssl pkey -in KEY -out KEY.plain`")),
        Err(pem::Error::NoItemsFound) => Err(TlsProblem::new(
            key,
            format!("key_file {} holds no private key", path.display()),
            "no private key",
        )
        .help("it must be PEM, with a `-----BEGIN PRIVATE KEY-----` (or `RSA PRIVATE KEY`, `EC PRIVATE KEY`) block")),
        Err(_) => Err(TlsProblem::new(key, format!("key_file {} is not valid PEM", path.display()), "not PEM")),
    }
}

fn encrypted(bytes: &[u8]) -> bool {
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|window| window == needle);
    contains(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(b"Proc-Type: 4,ENCRYPTED")
}

/// The identity, if the key belongs to the chain's first certificate: what ureq asserts with `expect`.
fn matching(
    client: &ClientCertificate,
    chain: &[CertificateDer<'static>],
    key: PrivateKeyDer<'static>,
) -> Result<(), TlsProblem> {
    let (cert_path, key_path) = (client.cert_file.display(), client.key_file.display());
    match CertifiedKey::from_der(chain.to_vec(), key, &crypto_provider()) {
        Ok(_) => Ok(()),
        Err(rustls::Error::InconsistentKeys(_)) => Err(TlsProblem {
            also: Some(TlsKey::CertFile),
            ..TlsProblem::new(
                TlsKey::KeyFile,
                format!("the key in key_file {key_path} does not belong to the certificate in cert_file {cert_path}"),
                "not this certificate's key",
            )
            .help(
                "give the key that the certificate was issued for: `openssl x509 -noout -pubkey -in CERT` and \
                 `openssl pkey -pubout -in KEY` print the same public key",
            )
        }),
        Err(rustls::Error::InvalidCertificate(error)) => Err(TlsProblem::new(
            TlsKey::CertFile,
            format!("the first certificate of cert_file {cert_path} cannot be read ({error:?})"),
            "unreadable certificate",
        )),
        Err(error) => Err(TlsProblem::new(
            TlsKey::KeyFile,
            format!("rustls cannot use the key in key_file {key_path}: {error}"),
            "unusable key",
        )
        .help("anycastd takes RSA, ECDSA (P-256, P-384) and Ed25519 keys")),
    }
}

fn certificate_error(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(error) => format!("{error:?}"),
        other => other.to_string(),
    }
}

/// A PEM error in words, without quoting the file.
fn pem_error(error: &pem::Error) -> &'static str {
    match error {
        pem::Error::MissingSectionEnd { .. } => "a block has no `-----END` line",
        pem::Error::IllegalSectionStart { .. } => "a `-----BEGIN` line is malformed",
        pem::Error::Base64Decode(_) => "a block's base64 is damaged",
        _ => "it cannot be read as PEM",
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
        load(&settings)
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
        let path = std::ffi::CString::new(fifo.display().to_string()).expect("no NUL");
        // SAFETY: mkfifo reads a NUL-terminated path and touches no memory of ours.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
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
