//! Cabourotte as it is deployed: https with a private CA, demanding a client certificate signed by its `cacert` (the
//! fake Cabourotte with `--tls-client-ca`, certificates made at test time by `support::pki`), and the pre-flight
//! `check --cabourotte`. Each failure is asserted as the operator reads it: the plan's line of the check, the
//! configuration error, or the pre-flight's line.

use crate::support;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::anycastd::Run;
use support::cabourotte::{FakeCabourotte, Tls};
use support::env::{Env, SEED_CONFIG};
use support::pki::{Pki, Server};

/// Two services, every check at `{url}`; `{dns}` and `{ntp_v4}` are replaced by TLS keys of those checks.
const CONFIG: &str = r#"[services.dns]
prefixes.frrouting = [{ prefix = "203.0.113.53", vtysh = "{vtysh}" }]
checks.cabourotte = [{ name = "dns", url = "{url}"{dns} }]

[services.ntp]
prefixes.frrouting = [{ "prefix" = "203.0.113.123", "vrf" = "123", vtysh = "{vtysh}" }]
checks.cabourotte = [
    { "name" = "ntp_v6", url = "{url}" },
    { "name" = "ntp_v4", url = "{url}"{ntp_v4} },
]
"#;

const EVERY_NETWORK: [&str; 2] = ["123 203.0.113.123/32", "default 203.0.113.53/32"];

/// A world whose Cabourotte serves https with `server`'s certificate and demands a client certificate signed by
/// the private CA; every check healthy.
fn tls_env(server: Server) -> Env {
    let pki = Pki::get();
    let tls = Tls { cert: pki.server(server), key: pki.path("server.key"), client_ca: Some(pki.path("ca.pem")) };
    Env::with_cabourotte(FakeCabourotte::start_tls(&tls))
}

/// `, ca_file = "...", ...` for the PKI files named.
fn keys(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(key, file)| format!(", {key} = \"{}\"", Pki::get().path(file).display())).collect()
}

/// The private CA and the client certificate it signed.
fn trusted() -> String {
    keys(&[("ca_file", "ca.pem"), ("cert_file", "client.pem"), ("key_file", "client.key")])
}

/// Writes the config with `dns_keys` on the check `dns` and none elsewhere.
fn configure(env: &Env, dns_keys: &str) {
    env.config(&CONFIG.replace("{dns}", dns_keys).replace("{ntp_v4}", ""));
}

/// The output with the PKI's directory as `[PKI]`.
fn shown(text: &str) -> String {
    text.replace(&Pki::get().path("x").display().to_string().trim_end_matches('x').to_string(), "[PKI]/")
}

/// The plan's line of check `name`, without its indentation.
fn check_line(run: &Run, name: &str) -> String {
    let needle = format!("check {name}: ");
    let line = run.stdout.lines().find(|line| line.contains(&needle));
    shown(line.unwrap_or_else(|| panic!("no line for {name}:\n{}", run.stdout)).trim())
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

#[test]
fn a_private_ca_and_a_client_certificate_let_anycastd_announce() {
    let env = tls_env(Server::Good);
    configure(&env, &trusted());
    let run = env.anycastd(["apply"]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(check_line(&run, "dns"), "✓ check dns: success");
    assert_eq!(env.networks(), EVERY_NETWORK);
    assert_eq!(env.cabourotte.paths(), ["/result"], "one request answers the three checks of the url");
    assert_eq!(env.cabourotte.refused_handshakes(), Vec::<String>::new());
}

#[test]
fn the_tls_settings_of_one_check_serve_every_check_of_its_url() {
    let env = tls_env(Server::Good);
    // The keys are on the last check only; `dns`, the first one asked, must use them too.
    env.config(&CONFIG.replace("{dns}", "").replace("{ntp_v4}", &trusted()));
    let run = env.anycastd(["apply"]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(env.networks(), EVERY_NETWORK);

    let other = keys(&[("ca_file", "other-ca.pem"), ("cert_file", "client.pem"), ("key_file", "client.key")]);
    env.config(&CONFIG.replace("{dns}", &trusted()).replace("{ntp_v4}", &other));
    let run = env.anycastd(["check"]).run().code(1);
    run.stderr_has("× check `ntp_v4` sets other TLS settings than check `dns` for the same url https://[CABOUROTTE]");
    run.stderr_has("first set here");
}

#[test]
fn basic_auth_works_over_tls_and_a_wrong_password_is_named_but_never_printed() {
    let env = tls_env(Server::Good);
    env.cabourotte.require_basic_auth("anycast", "s3cr3t");
    let with_password = |password: &str| {
        let url = env.cabourotte.url().replace("https://", &format!("https://anycast:{password}@"));
        env.config(&CONFIG.replace("{url}", &url).replace("{dns}", &trusted()).replace("{ntp_v4}", ""));
    };
    with_password("s3cr3t");
    let run = env.anycastd(["apply"]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(env.networks(), EVERY_NETWORK);

    with_password("wr0ng");
    let run = env.anycastd(["plan"]).run().code(1);
    assert_eq!(
        check_line(&run, "dns"),
        "✗ check dns: Cabourotte at https://anycast:***@[CABOUROTTE] could not be asked: HTTP 401: Unauthorized \
         (check the credentials in the check's url)"
    );
    assert!(!run.stdout.contains("wr0ng") && !run.stderr.contains("wr0ng"));
}

#[test]
fn each_tls_failure_is_a_plan_line_that_names_its_cause_and_announces_nothing() {
    let without_client = keys(&[("ca_file", "ca.pem")]);
    let client = |cert: &str| keys(&[("ca_file", "ca.pem"), ("cert_file", cert), ("key_file", "client.key")]);
    let prefix = "✗ check dns: Cabourotte at https://[CABOUROTTE] could not be asked: TLS: ";
    for (server, dns_keys, reason) in [
        (
            Server::Good,
            keys(&[("ca_file", "other-ca.pem"), ("cert_file", "client.pem"), ("key_file", "client.key")]),
            "Cabourotte's certificate is not signed by a CA of ca_file [PKI]/other-ca.pem (unknown CA): give the CA \
             that signed the `cert` of Cabourotte's http section",
        ),
        (
            Server::Good,
            keys(&[("cert_file", "client.pem"), ("key_file", "client.key")]),
            "Cabourotte's certificate is not signed by a CA of the public web PKI (unknown CA): for a private CA, \
             set ca_file to the CA that signed the `cert` of Cabourotte's http section",
        ),
        (Server::Expired, trusted(), "Cabourotte's certificate expired at 2020-02-01T00:00:00Z (it is now 20"),
        (
            Server::NotYetValid,
            trusted(),
            "Cabourotte's certificate is not valid before 2099-01-01T00:00:00Z: is this host's clock right? (it is \
             now 20",
        ),
        (
            Server::Named,
            trusted(),
            "Cabourotte's certificate is issued for cabourotte.test, not for 127.0.0.1 (name mismatch): write one of \
             its names in the url (it must resolve to Cabourotte's address, e.g. through /etc/hosts), or reissue \
             the certificate with 127.0.0.1 in its subject alternative names",
        ),
        (
            Server::Good,
            without_client,
            "Cabourotte requires a client certificate (alert certificate_required): set cert_file and key_file to a \
             certificate signed by the `cacert` of Cabourotte's http section",
        ),
        (
            Server::Good,
            client("client-other-ca.pem"),
            "Cabourotte refused the client certificate of cert_file [PKI]/client-other-ca.pem (alert unknown_ca): it \
             must be signed by the `cacert` of Cabourotte's http section",
        ),
        (
            Server::Good,
            client("client-expired.pem"),
            "Cabourotte refused the client certificate of cert_file [PKI]/client-expired.pem: it has expired (alert \
             certificate_expired)",
        ),
    ] {
        let env = tls_env(server);
        configure(&env, &dns_keys);
        let run = env.anycastd(["plan"]).run();
        assert_eq!(run.code, 1, "{server:?} {dns_keys}: {}", run.stdout);
        let line = check_line(&run, "dns");
        assert!(line.starts_with(&format!("{prefix}{reason}")), "{server:?} {dns_keys}:\n{line}\nexpected: {reason}");
        run.stdout_has("Plan: 0 to announce, 0 to withdraw, 2 unchanged.");
    }
}

#[test]
fn a_tls_file_that_breaks_after_the_config_loaded_fails_the_pass_without_a_panic() {
    let env = tls_env(Server::Good);
    let dir = env.dir.join("tls");
    std::fs::create_dir_all(&dir).expect("create the TLS directory");
    let install = |name: &str, from: &str| std::fs::copy(Pki::get().path(from), dir.join(name)).map(|_| ());
    for name in ["ca.pem", "client.pem", "client.key"] {
        install(name, name).expect("copy a PKI file");
    }
    let own = |name: &str| dir.join(name).display().to_string();
    configure(
        &env,
        &format!(
            ", ca_file = \"{}\", cert_file = \"{}\", key_file = \"{}\"",
            own("ca.pem"),
            own("client.pem"),
            own("client.key")
        ),
    );
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), EVERY_NETWORK);

    // The configuration is unchanged (its cache is used); the key no longer belongs to the certificate. ureq
    // would panic on it: the pass must read and check the files again, and withdraw.
    install("client.key", "stray.key").expect("replace the key");
    let run = env.anycastd(["apply"]).run().code(1);
    assert_eq!(
        check_line(&run, "dns"),
        "✗ check dns: Cabourotte at https://[CABOUROTTE] could not be asked: the key in key_file \
         [DIR]/tls/client.key does not belong to the certificate in cert_file [DIR]/tls/client.pem"
    );
    run.stderr_lacks("panicked");
    assert_eq!(env.networks(), Vec::<String>::new(), "withdrawn: a check that cannot be asked never passes");

    // A renewed certificate and key take effect at the next pass, without touching the configuration.
    install("client.key", "client.key").expect("restore the key");
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), EVERY_NETWORK);
}

#[test]
fn a_bad_tls_file_is_a_configuration_error_at_its_key() {
    let env = tls_env(Server::Good);
    let damaged = env.dir.join("damaged.pem");
    std::fs::write(&damaged, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").expect("write");
    let damaged = format!(", ca_file = \"{}\"", damaged.display());
    for (dns_keys, message) in [
        (
            keys(&[("cert_file", "client.pem"), ("key_file", "stray.key")]),
            "the key in key_file [PKI]/stray.key does not belong to the certificate in cert_file [PKI]/client.pem",
        ),
        (keys(&[("ca_file", "client.key")]), "ca_file [PKI]/client.key holds no certificate"),
        (keys(&[("ca_file", "ca.der")]), "ca_file [PKI]/ca.der holds no certificate"),
        (
            keys(&[("ca_file", "missing.pem")]),
            "cannot read ca_file [PKI]/missing.pem: No such file or directory (os error 2)",
        ),
        (
            damaged,
            "certificate 1 of ca_file [DIR]/damaged.pem is not an X.509 certificate that rustls can read (BadEncoding)",
        ),
        (
            keys(&[("cert_file", "client.pem"), ("key_file", "client.pem")]),
            "key_file [PKI]/client.pem holds no private key",
        ),
        (
            keys(&[("cert_file", "client.pem"), ("key_file", "client-encrypted.key")]),
            "key_file [PKI]/client-encrypted.key holds an encrypted key, and anycastd cannot ask for its passphrase",
        ),
        (keys(&[("cert_file", "client.pem")]), "`cert_file` without `key_file`"),
    ] {
        configure(&env, &dns_keys);
        let run = env.anycastd(["check"]).run();
        assert_eq!(run.code, 1, "{dns_keys}");
        let stderr = shown(&run.stderr);
        assert!(stderr.contains(&format!("× {message}\n")), "{dns_keys}: expected {message}\n{stderr}");
        for line in key_material() {
            assert!(!stderr.contains(&line), "no key material: {stderr}");
        }
    }
    configure(&env, &keys(&[("ca_file", "ca.der")]));
    let der = shown(&env.anycastd(["check"]).run().stderr);
    assert!(der.contains("a DER file converts with `openssl x509 -inform der -in FILE -out FILE.pem`"), "{der}");
}

/// The base64 lines of the PKI's key files.
fn key_material() -> Vec<String> {
    let key_files = ["client.key", "client-encrypted.key", "stray.key", "server.key"];
    let text: String =
        key_files.iter().map(|file| std::fs::read_to_string(Pki::get().path(file)).expect("a key")).collect();
    text.lines().filter(|line| !line.starts_with("-----") && line.len() > 16).map(str::to_string).collect()
}

/// A result of check `name`, `age` seconds old.
fn result(name: &str, success: bool, message: &str, age: i64) -> Value {
    json!({"name": name, "summary": "", "success": success, "healthcheck-timestamp": now() - age,
           "message": message, "message_labels": null, "duration": 3, "source": "configuration"})
}

/// The text with every `N s ago` as `[AGE] ago`, since a second may pass between the result and the check.
fn without_ages(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut words: Vec<&str> = line.split(' ').collect();
        for i in 1..words.len().saturating_sub(1) {
            if words[i] == "s" && words[i + 1].starts_with("ago") && words[i - 1].parse::<u64>().is_ok() {
                words[i - 1] = "[AGE]";
            }
        }
        out.push_str(&words.join(" ").replace("[AGE] s ago", "[AGE] ago"));
        out.push('\n');
    }
    out
}

#[test]
fn check_cabourotte_names_a_missing_check_and_the_name_it_probably_meant() {
    let env = tls_env(Server::Good);
    env.cabourotte.remove("ntp_v4").remove("ntp_v6").remove("dns");
    env.cabourotte
        .set_raw_result(result("dns", true, "success", 3))
        .set_raw_result(result("ntp_v4", true, "success", 2))
        .set_raw_result(result("ntp_v6", false, "no server suitable for synchronization found", 1))
        .set_raw_result(result("web", true, "success", 1));
    let config = CONFIG.replace("{dns}", &trusted()).replace("{ntp_v4}", "").replace("\"ntp_v4\"", "\"ntp-v4\"");
    env.config(&config.replace(
        "{ \"name\" = \"ntp_v6\", url = \"{url}\" },",
        "{ \"name\" = \"ntp_v6\", url = \"{url}\" },\n    { \"name\" = \"chrony\", url = \"{url}\" },",
    ));
    let run = env.anycastd(["check", "--cabourotte"]).run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = shown(&run.stdout);
    let preflight = &report[report.find("Cabourotte:\n").expect("a Cabourotte section")..];
    assert_eq!(
        without_ages(preflight),
        "Cabourotte:
  ✓ https://[CABOUROTTE]: answers GET /result over https (server verified with ca_file [PKI]/ca.pem, client certificate [PKI]/client.pem): 4 results
  ✗ check chrony at https://[CABOUROTTE]: not in Cabourotte's result list: Cabourotte has no check of that name, or it has not run yet (right after Cabourotte starts, wait one interval of the check); while it has no result, anycastd withdraws the service's prefixes. Cabourotte has results for `dns`, `ntp_v4`, `ntp_v6`, `web`
  ✓ check dns at https://[CABOUROTTE]: success, latest result [AGE] ago
  ✗ check ntp-v4 at https://[CABOUROTTE]: not in Cabourotte's result list; did you mean `ntp_v4`? Cabourotte has a result of that name, and no check of anycastd's configuration asks for it
  ⚠ check ntp_v6 at https://[CABOUROTTE]: failing, latest result [AGE] ago: no server suitable for synchronization found; while it fails, anycastd withdraws the service's prefixes
Cabourotte pre-flight: 2 errors, 1 warning.
"
    );
    assert_eq!(env.cabourotte.paths(), ["/result"], "one request per url, and nothing changed");
    assert_eq!(env.vtysh_calls(), Vec::<Vec<String>>::new(), "FRR is not asked without --frr");

    let json = env.anycastd(["check", "--cabourotte", "--format", "json"]).run().code(1);
    let report: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert!(report.get("frr").is_none());
    let typo = report["cabourotte"]
        .as_array()
        .and_then(|findings| findings.iter().find(|f| f["subject"] == "check ntp-v4 at https://[CABOUROTTE]"))
        .unwrap_or_else(|| panic!("no finding for ntp-v4: {report}"));
    assert_eq!((&typo["level"], &typo["code"]), (&"error".into(), &"check-result-missing".into()));
    assert!(typo["message"].as_str().is_some_and(|m| m.contains("did you mean `ntp_v4`?")), "{typo}");
}

/// Two characters swapped are one edit: the README's `dsn` gets `dns`.
#[test]
fn check_cabourotte_suggests_dns_for_dsn() {
    let env = Env::new();
    env.config(&SEED_CONFIG.replace("name = \"dns\"", "name = \"dsn\""));
    let run = env.anycastd(["check", "--cabourotte"]).run().code(1);
    run.stdout_has(
        "  ✗ check dsn at http://[CABOUROTTE]: not in Cabourotte's result list; did you mean `dns`? Cabourotte has a \
         result of that name, and no check of anycastd's configuration asks for it\n",
    );
    run.stdout_has("Cabourotte pre-flight: 1 error, 0 warnings.");
}

#[test]
fn check_cabourotte_says_why_a_url_cannot_be_asked() {
    let env = tls_env(Server::Good);
    configure(&env, &keys(&[("ca_file", "ca.pem")]));
    let run = env.anycastd(["check", "--cabourotte"]).run().code(1);
    run.stdout_has(
        "  ✗ https://[CABOUROTTE]: cannot be asked: TLS: Cabourotte requires a client certificate (alert \
             certificate_required)",
    );
    run.stdout_has("Cabourotte pre-flight: 1 error, 0 warnings.");
}

#[test]
fn check_all_runs_both_preflights() {
    let env = Env::new();
    let startup = env.dir.join("frr.conf").display().to_string();
    let run = env.anycastd(["check", "--all", "--frr-conf", &startup]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run.stdout_has("FRR pre-flight: 0 errors");
    run.stdout_has("  ✓ http://[CABOUROTTE]: answers GET /result over http: 3 results");
    run.stdout_has("Cabourotte pre-flight: 0 errors, 0 warnings.");
}

/// A push secret that every user can read is refused; a client key that every user can read was accepted without a
/// word. It is still accepted (refusing the configuration would stop every withdrawal over a file mode), but `check`,
/// `plan` and every pass say so, with the fix.
#[test]
fn a_key_file_every_user_can_read_is_warned_about() {
    let env = tls_env(Server::Good);
    let key = env.dir.join("client.key");
    std::fs::copy(Pki::get().path("client.key"), &key).expect("copy the client key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod 0644");
    let dns_keys =
        format!("{}, key_file = \"{}\"", keys(&[("ca_file", "ca.pem"), ("cert_file", "client.pem")]), key.display());
    configure(&env, &dns_keys);
    let warning = "the key_file [DIR]/client.key is readable by every user of this host, who can then present \
                   anycastd's client certificate to Cabourotte: chmod o-r [DIR]/client.key";
    let checked = env.anycastd(["check"]).run().success();
    checked.stdout_has(&format!("Warning: {warning}\n"));
    let applied = env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks(), EVERY_NETWORK, "still announced: the key works");
    applied.stderr_has(&format!("anycastd apply: warning: {warning}\n"));
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod 0600");
    let quiet = env.anycastd(["apply"]).run();
    quiet.stderr_lacks("readable by every user");
}

/// Cabourotte 2.x serves its API only under `/api/v1`, and anycastd's default url is the root of releases before
/// 2.0: every check then answers 404. anycastd asks `/api/v1/result` once more, and the hint gives the url that works,
/// with the configured scheme, host and port.
#[test]
fn a_404_at_the_root_of_a_cabourotte_2_names_the_api_v1_url_to_use() {
    let env = Env::new();
    env.cabourotte.only_api_v1();
    // The output shows the fake Cabourotte's 127.0.0.1:PORT as [CABOUROTTE].
    let hint =
        r#"HTTP 404: not found (Cabourotte 2.x serves its API under /api/v1: use url = "http://[CABOUROTTE]/api/v1")"#;
    let plan = env.anycastd(["plan"]).run().code(1);
    let line = plan.stdout.lines().find(|line| line.contains("check dns: ")).unwrap_or_default().trim().to_string();
    assert_eq!(
        line,
        format!("✗ check dns: Cabourotte at http://[CABOUROTTE] could not be asked: {hint}"),
        "{}",
        plan.stdout
    );
    assert_eq!(env.cabourotte.paths(), ["/result", "/api/v1/result"], "one request more, after the 404");

    let checked = env.anycastd(["check", "--cabourotte"]).run().code(1);
    checked.stdout_has(&format!("  ✗ http://[CABOUROTTE]: cannot be asked: {hint}\n"));

    // The url the hint gives works.
    env.config(&SEED_CONFIG.replace("{url}", "{url}/api/v1"));
    env.anycastd(["apply"]).run().success();
    assert_eq!(env.networks().len(), 4, "every check passes at /api/v1");

    // A 404 there too (the result API disabled) keeps the question, and a url already under /api/v1 is not asked
    // again.
    env.cabourotte.force_answer(404, r#"{"message": "not found"}"#);
    let before = env.cabourotte.request_count();
    let disabled = env.anycastd(["plan"]).run().code(1);
    disabled.stdout_has("check dns: Cabourotte at http://[CABOUROTTE]/api/v1 could not be asked: HTTP 404: not found (is Cabourotte's result API enabled at this url?)");
    assert_eq!(env.cabourotte.request_count(), before + 1);
}
