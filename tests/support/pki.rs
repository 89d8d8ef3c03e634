//! Certificates for the TLS tests, made with the `openssl` CLI when a test first asks for them (once per test
//! process, in cargo's target/tmp): a private CA, a second CA that nobody trusts, and the server and client certificates of each case.
//! EC P-256 keys, which take milliseconds to make.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The certificates, in one directory.
pub struct Pki {
    dir: PathBuf,
}

/// A server certificate's validity and names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// Signed by the private CA for `127.0.0.1` and `localhost`, valid now.
    Good,
    /// Like `Good`, but it expired in February 2020.
    Expired,
    /// Like `Good`, but valid only from 2099.
    NotYetValid,
    /// Signed by the private CA for `cabourotte.test` only.
    Named,
}

impl Server {
    fn file(self) -> &'static str {
        match self {
            Server::Good => "server.pem",
            Server::Expired => "server-expired.pem",
            Server::NotYetValid => "server-future.pem",
            Server::Named => "server-named.pem",
        }
    }
}

static PKI: OnceLock<Pki> = OnceLock::new();

impl Pki {
    /// The certificates, made on first use.
    pub fn get() -> &'static Pki {
        PKI.get_or_init(|| {
            // One directory, made again by every test process: cargo runs test binaries one after the other.
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tls-pki");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("issued")).expect("create the PKI directory");
            let pki = Pki { dir };
            pki.make();
            pki
        })
    }

    /// A file of the PKI: `ca.pem`, `other-ca.pem`, `server.key`, `client.pem`, `client.key`,
    /// `client-other-ca.pem` (the client key, signed by the CA nobody trusts), `client-expired.pem`, `stray.key`
    /// (a key that belongs to no certificate), `client-encrypted.key` (the client key under a passphrase), `ca.der`
    /// (the CA in DER, not PEM).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The certificate file of a server case.
    pub fn server(&self, server: Server) -> PathBuf {
        self.path(server.file())
    }

    fn make(&self) {
        std::fs::write(self.path("index.txt"), "").expect("write the CA database");
        std::fs::write(self.path("ca.cnf"), self.ca_config()).expect("write the CA config");
        std::fs::write(self.path("req.cnf"), REQ_CONFIG).expect("write the request config");
        std::fs::write(self.path("ext.cnf"), EXTENSIONS).expect("write the extensions");
        for key in ["ca", "other-ca", "server", "client", "stray"] {
            self.openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &self.key(key),
            ]);
        }
        for (ca, name) in [("ca", "anycastd test CA"), ("other-ca", "a CA nobody trusts")] {
            let subject = format!("/CN={name}");
            let out = self.file(&format!("{ca}.pem"));
            let config = self.file("req.cnf");
            let key = self.key(ca);
            self.openssl(&[
                "req", "-x509", "-new", "-config", &config, "-key", &key, "-subj", &subject, "-days", "3650", "-out",
                &out,
            ]);
        }
        self.request("server", "/CN=cabourotte");
        self.request("client", "/CN=anycastd");
        let now = Validity::Days("3650");
        self.issue("ca", "server", "server", now, "server.pem");
        self.issue(
            "ca",
            "server",
            "server",
            Validity::Dates("20200101000000Z", "20200201000000Z"),
            "server-expired.pem",
        );
        self.issue(
            "ca",
            "server",
            "server",
            Validity::Dates("20990101000000Z", "21000101000000Z"),
            "server-future.pem",
        );
        self.issue("ca", "server", "named", now, "server-named.pem");
        self.issue("ca", "client", "client", now, "client.pem");
        self.issue("other-ca", "client", "client", now, "client-other-ca.pem");
        self.issue(
            "ca",
            "client",
            "client",
            Validity::Dates("20200101000000Z", "20200201000000Z"),
            "client-expired.pem",
        );
        let (key, encrypted) = (self.key("client"), self.file("client-encrypted.key"));
        self.openssl(&["pkey", "-in", &key, "-aes256", "-passout", "pass:s3cr3t", "-out", &encrypted]);
        let (ca, der) = (self.file("ca.pem"), self.file("ca.der"));
        self.openssl(&["x509", "-in", &ca, "-outform", "der", "-out", &der]);
    }

    fn request(&self, key: &str, subject: &str) {
        let (config, key_file, out) = (self.file("req.cnf"), self.key(key), self.file(&format!("{key}.csr")));
        self.openssl(&["req", "-new", "-config", &config, "-key", &key_file, "-subj", subject, "-out", &out]);
    }

    /// Signs the request of `key` with `ca`, with the extensions `section` of `ext.cnf`.
    fn issue(&self, ca: &str, key: &str, section: &str, validity: Validity, out: &str) {
        let (config, cert, keyfile) = (self.file("ca.cnf"), self.file(&format!("{ca}.pem")), self.key(ca));
        let (csr, ext, out) = (self.file(&format!("{key}.csr")), self.file("ext.cnf"), self.file(out));
        let mut args = vec!["ca", "-batch", "-notext", "-config", &config, "-cert", &cert, "-keyfile", &keyfile];
        args.extend(["-in", &csr, "-out", &out, "-extfile", &ext, "-extensions", section]);
        match validity {
            Validity::Days(days) => args.extend(["-days", days]),
            Validity::Dates(start, end) => args.extend(["-startdate", start, "-enddate", end]),
        }
        self.openssl(&args);
    }

    fn ca_config(&self) -> String {
        CA_CONFIG.replace("{dir}", &self.dir.display().to_string())
    }

    fn key(&self, name: &str) -> String {
        self.file(&format!("{name}.key"))
    }

    fn file(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn openssl(&self, args: &[&str]) {
        let output = Command::new("openssl").args(args).output().expect("run openssl (the TLS tests need its CLI)");
        assert!(output.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    }
}

#[derive(Clone, Copy)]
enum Validity {
    Days(&'static str),
    Dates(&'static str, &'static str),
}

const CA_CONFIG: &str = "[ca]
default_ca = test_ca

[test_ca]
database = {dir}/index.txt
new_certs_dir = {dir}/issued
rand_serial = yes
default_md = sha256
policy = any_name
unique_subject = no
email_in_dn = no

[any_name]
commonName = supplied
";

const REQ_CONFIG: &str = "[req]
distinguished_name = name
prompt = no
x509_extensions = ca

[name]
CN = unused

[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
";

const EXTENSIONS: &str = "[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost

[named]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:cabourotte.test

[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
";
