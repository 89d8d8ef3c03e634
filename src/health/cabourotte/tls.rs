//! https to Cabourotte: the HTTP client's TLS, built from a URL's settings, and a failed handshake in words.
//!
//! The files are read again for every pass (see `config/pem.rs`): a certificate renewed on disk is used at the next
//! pass, even by `anycastd run`, which read its configuration once. A file that went bad since the configuration
//! loaded makes the URL's checks "could not be asked", never a pass.
//!
//! rustls says what went wrong in its own terms (`invalid peer certificate: UnknownIssuer`, `received fatal alert:
//! CertificateRequired`); the operator needs to know which side's certificate is at fault and what to change, so
//! each cause that a Cabourotte deployment meets is put in words here.

use rustls::AlertDescription;
use rustls::CertificateError;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

use crate::clock::utc_timestamp;
use crate::config::{self, TlsSettings};

/// The TLS configuration of the HTTP client for a URL with `settings`, from the files as they are now.
pub fn client_config(settings: &TlsSettings) -> Result<TlsConfig, String> {
    let material = config::load_tls(settings)
        .map_err(|problems| problems.iter().map(|problem| problem.message.as_str()).collect::<Vec<_>>().join("; "))?;
    let mut builder = TlsConfig::builder();
    if let Some(roots) = &material.roots {
        builder = builder.root_certs(RootCerts::from(roots.iter().map(|der| Certificate::from_der(der).to_owned())));
    }
    if let Some(identity) = &material.client {
        let chain: Vec<_> = identity.chain.iter().map(|der| Certificate::from_der(der).to_owned()).collect();
        // Never fails: the same PEM reader found this key when the file was checked. No ureq error text is kept.
        let key =
            PrivateKey::from_pem(&identity.key_pem).map_err(|_| "the key_file holds no private key".to_string())?;
        builder = builder.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(builder.build())
}

/// Why the TLS connection to a Cabourotte with `settings` failed, when `error` is a TLS error.
pub fn explain(error: &ureq::Error, settings: &TlsSettings) -> Option<String> {
    let error = match error {
        ureq::Error::Rustls(error) => error,
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>()?,
        ureq::Error::Tls(message) => return Some(format!("TLS: {message}")),
        _ => return None,
    };
    Some(format!("TLS: {}", describe(error, settings)))
}

fn describe(error: &rustls::Error, settings: &TlsSettings) -> String {
    match error {
        rustls::Error::InvalidCertificate(error) => server_certificate(error, settings),
        rustls::Error::AlertReceived(alert) => alert_received(*alert, settings),
        rustls::Error::InvalidMessage(_) | rustls::Error::PeerSentOversizedRecord => {
            "Cabourotte does not answer TLS at this address; if its API is served without TLS, write the url with \
             http://"
                .to_string()
        }
        other => other.to_string(),
    }
}

/// What is wrong with Cabourotte's certificate, as anycastd verified it.
fn server_certificate(error: &CertificateError, settings: &TlsSettings) -> String {
    let now_and = |what: String, time: &rustls::pki_types::UnixTime| {
        format!("{what} (it is now {})", utc_timestamp(time.as_secs()))
    };
    match error {
        CertificateError::UnknownIssuer => match &settings.ca_file {
            Some(path) => format!(
                "Cabourotte's certificate is not signed by a CA of ca_file {} (unknown CA): give the CA that signed \
                 the `cert` of Cabourotte's http section",
                path.display()
            ),
            None => "Cabourotte's certificate is not signed by a CA of the public web PKI (unknown CA): for a \
                     private CA, set ca_file to the CA that signed the `cert` of Cabourotte's http section"
                .to_string(),
        },
        CertificateError::Expired => "Cabourotte's certificate has expired".to_string(),
        CertificateError::ExpiredContext { time, not_after } => {
            now_and(format!("Cabourotte's certificate expired at {}", utc_timestamp(not_after.as_secs())), time)
        }
        CertificateError::NotValidYet => {
            "Cabourotte's certificate is not valid yet: is this host's clock right?".to_string()
        }
        CertificateError::NotValidYetContext { time, not_before } => now_and(
            format!(
                "Cabourotte's certificate is not valid before {}: is this host's clock right?",
                utc_timestamp(not_before.as_secs())
            ),
            time,
        ),
        CertificateError::NotValidForName => {
            "Cabourotte's certificate is not issued for the url's host (name mismatch)".to_string()
        }
        CertificateError::NotValidForNameContext { expected, presented } => {
            let host = expected.to_str();
            let names: Vec<String> = presented.iter().map(|name| bare_name(name)).collect();
            let issued = match names.as_slice() {
                [] => "names no host in its subject alternative names".to_string(),
                names => format!("is issued for {}", names.join(", ")),
            };
            format!(
                "Cabourotte's certificate {issued}, not for {host} (name mismatch): write one of its names in the \
                 url (it must resolve to Cabourotte's address, e.g. through /etc/hosts), or reissue the certificate \
                 with {host} in its subject alternative names"
            )
        }
        CertificateError::BadSignature => "the signature on Cabourotte's certificate is invalid".to_string(),
        CertificateError::Revoked => "Cabourotte's certificate is revoked".to_string(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "Cabourotte's certificate is not meant for a TLS server (its extended key usage)".to_string()
        }
        CertificateError::BadEncoding => "Cabourotte's certificate cannot be read (bad encoding)".to_string(),
        other => format!("Cabourotte's certificate is refused ({other:?})"),
    }
}

/// `DnsName("cabourotte.test")` and `IpAddress(127.0.0.1)`, as webpki lists a certificate's names, without the
/// wrapping.
fn bare_name(presented: &str) -> String {
    let inner = presented.split_once('(').and_then(|(_, rest)| rest.strip_suffix(')')).unwrap_or(presented);
    inner.trim_matches('"').to_string()
}

/// What Cabourotte's TLS alert says about anycastd's client certificate (Go sends `certificate_required` when
/// none was presented under TLS 1.3, `bad_certificate` for one it does not accept; OpenSSL says `unknown_ca`).
fn alert_received(alert: AlertDescription, settings: &TlsSettings) -> String {
    let name = alert_name(alert);
    let Some(client) = &settings.client else {
        return match alert {
            AlertDescription::CertificateRequired | AlertDescription::BadCertificate => format!(
                "Cabourotte requires a client certificate ({name}): set cert_file and key_file to a certificate \
                 signed by the `cacert` of Cabourotte's http section"
            ),
            _ => format!("Cabourotte ended the TLS handshake ({name})"),
        };
    };
    let cert_file = client.cert_file.display();
    match alert {
        AlertDescription::CertificateExpired => {
            format!("Cabourotte refused the client certificate of cert_file {cert_file}: it has expired ({name})")
        }
        AlertDescription::CertificateRevoked => {
            format!("Cabourotte refused the client certificate of cert_file {cert_file}: it is revoked ({name})")
        }
        AlertDescription::CertificateRequired
        | AlertDescription::BadCertificate
        | AlertDescription::UnknownCA
        | AlertDescription::CertificateUnknown
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::AccessDenied => format!(
            "Cabourotte refused the client certificate of cert_file {cert_file} ({name}): it must be signed by the \
             `cacert` of Cabourotte's http section"
        ),
        _ => format!("Cabourotte ended the TLS handshake ({name})"),
    }
}

/// The alert's name as in the TLS specifications.
fn alert_name(alert: AlertDescription) -> String {
    let name = match alert {
        AlertDescription::CertificateRequired => "certificate_required",
        AlertDescription::BadCertificate => "bad_certificate",
        AlertDescription::UnknownCA => "unknown_ca",
        AlertDescription::CertificateExpired => "certificate_expired",
        AlertDescription::CertificateRevoked => "certificate_revoked",
        AlertDescription::CertificateUnknown => "certificate_unknown",
        AlertDescription::UnsupportedCertificate => "unsupported_certificate",
        AlertDescription::AccessDenied => "access_denied",
        AlertDescription::HandshakeFailure => "handshake_failure",
        AlertDescription::ProtocolVersion => "protocol_version",
        other => return format!("alert {other:?}"),
    };
    format!("alert {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webpki_names_lose_their_wrapping() {
        assert_eq!(bare_name("DnsName(\"cabourotte.test\")"), "cabourotte.test");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(bare_name("DirectoryName"), "DirectoryName");
    }
}
