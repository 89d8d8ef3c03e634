//! The PEM files of a check's TLS keys, read and checked as ureq's rustls backend will use them.
//!
//! Read when the configuration loads, so that a mistake is a diagnostic at its key, and again at every pass by the
//! HTTP client (`health/cabourotte/tls.rs`), so that a renewed certificate takes effect without a restart. ureq
//! silently drops a root it cannot parse and panics on a key that is not its certificate's: [`load`] refuses both
//! first, with the same rustls functions and crypto provider. No message quotes a key file's content.

use std::fmt;
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::tls::{ClientCertificate, TlsKey, TlsSettings};
use crate::bounded;

/// What is wrong with the file of one TLS key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TlsProblem {
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
pub(crate) struct TlsMaterial {
    /// The CA certificates of `ca_file`, when it is set.
    pub roots: Option<Vec<CertificateDer<'static>>>,
    /// The client certificate chain and its key, when they are set.
    pub client: Option<ClientIdentity>,
}

/// A client certificate chain and the key that belongs to its first certificate.
pub(crate) struct ClientIdentity {
    /// The certificate, then any intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// The key file as read: ureq takes a key as PEM (it does not export the kind a DER key needs), and its PEM
    /// reader picks the same first key as the check did.
    pub key_pem: KeyPem,
}

/// The bytes of a key file, zeroed when dropped (best effort: copies made by the TLS stack are its own).
pub(crate) struct KeyPem(Vec<u8>);

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
pub(crate) fn load(settings: &TlsSettings) -> Result<TlsMaterial, Vec<TlsProblem>> {
    let roots = settings.ca_file.as_deref().map(roots).transpose().map_err(|problem| vec![problem]);
    let client = settings.client.as_ref().map(client_identity).transpose();
    match (roots, client) {
        (Ok(roots), Ok(client)) => Ok(TlsMaterial { roots, client }),
        (roots, client) => Err(roots.err().into_iter().chain(client.err()).flatten().collect()),
    }
}

/// The crypto provider that ureq's rustls backend picks: the process default if one was installed (anycastd
/// installs none), else ring. Checking the key with another provider could pass a key that ureq then panics on.
pub(crate) fn crypto_provider() -> Arc<CryptoProvider> {
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
pub(crate) fn exposed_keys(config: &crate::config::Config) -> Vec<std::path::PathBuf> {
    let keys: std::collections::BTreeSet<&Path> = config
        .checks()
        .filter_map(|(_, check)| check.tls.client.as_ref().map(|client| client.key_file.as_path()))
        .collect();
    keys.into_iter()
        .filter(|key| std::fs::metadata(key).is_ok_and(|metadata| metadata.mode() & 0o004 != 0))
        .map(Path::to_path_buf)
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
