//! Small validated values of the configuration. Once built, they are never re-checked downstream.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A network prefix with no host bits set: exactly what FRR will show in its running config.
///
/// FRR silently masks host bits (`network 192.0.2.241/28` is stored as `192.0.2.240/28`), so a prefix with host
/// bits could never be found in the running config and the diff would never converge. Such input is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Prefix(IpNet);

/// Why a text is not a [`Prefix`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefixError {
    /// Neither an address nor an address/length.
    NotAPrefix,
    /// A valid network but with host bits; carries the network that was probably meant.
    HostBitsSet(Prefix),
}

/// Reads a network written `address/length` (`203.0.113.53/32`), as FRR prints it and the configuration may: std's address parser and the length, a quarter of the
/// instructions of `IpNet`'s own parser, which was a tenth of a pass that changes nothing at 10,000 networks.
pub(crate) fn parse_net(text: &str) -> Option<IpNet> {
    let (address, length) = text.split_once('/')?;
    if length.is_empty() || !length.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let length: u8 = length.parse().ok()?;
    IpNet::new(address.parse().ok()?, length).ok()
}

impl Prefix {
    /// Parses `203.0.113.53`, `203.0.113.0/24` or `2001:db8::53`; a bare address means /32 or /128.
    pub(crate) fn parse(text: &str) -> Result<Prefix, PrefixError> {
        let net = if text.contains('/') { parse_net(text) } else { text.parse::<IpAddr>().ok().map(IpNet::from) };
        let net = net.ok_or(PrefixError::NotAPrefix)?;
        if net.trunc() == net { Ok(Prefix(net)) } else { Err(PrefixError::HostBitsSet(Prefix(net.trunc()))) }
    }

    /// Wraps a network read from FRR, which never has host bits.
    pub(crate) fn from_frr(net: IpNet) -> Prefix {
        Prefix(net.trunc())
    }

    /// The network itself.
    pub(crate) fn net(&self) -> &IpNet {
        &self.0
    }

    /// The address family whose `address-family` block holds this prefix.
    pub(crate) fn family(&self) -> AddressFamily {
        match self.0 {
            IpNet::V4(_) => AddressFamily::Ipv4,
            IpNet::V6(_) => AddressFamily::Ipv6,
        }
    }
}

/// Read back from the configuration cache, validated again.
impl TryFrom<String> for Prefix {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Prefix::parse(&text).map_err(|_| format!("`{text}` is not a valid prefix"))
    }
}

impl From<Prefix> for String {
    fn from(prefix: Prefix) -> String {
        prefix.to_string()
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An FRR address family that carries `network` statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddressFamily {
    /// `address-family ipv4 unicast`
    Ipv4,
    /// `address-family ipv6 unicast`
    Ipv6,
}

impl AddressFamily {
    /// The family of an `address-family ipv4|ipv6` line.
    pub(crate) fn from_afi(afi: &str) -> Option<AddressFamily> {
        match afi {
            "ipv4" => Some(AddressFamily::Ipv4),
            "ipv6" => Some(AddressFamily::Ipv6),
            _ => None,
        }
    }

    /// The short name used in output: `ipv4` or `ipv6`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            AddressFamily::Ipv4 => "ipv4",
            AddressFamily::Ipv6 => "ipv6",
        }
    }
}

/// The VRF of a BGP instance: the default one, or a named one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Vrf {
    /// The default VRF: `router bgp ASN`.
    Default,
    /// A named VRF: `router bgp ASN vrf NAME`. The name is safe to pass to vtysh.
    Named(String),
}

impl Vrf {
    /// The longest VRF name FRR accepts.
    pub(crate) const MAX_LEN: usize = 36;

    /// Validates a VRF name as FRR accepts it: letters, digits, `-`, `_`, `.`, at most 36 characters.
    /// `default` is FRR's own name for the default VRF.
    pub fn parse(name: &str) -> Option<Vrf> {
        let valid = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        match name {
            _ if !valid => None,
            "default" => Some(Vrf::Default),
            _ => Some(Vrf::Named(name.to_string())),
        }
    }

    /// The VRF in a sentence: "the default VRF" or "VRF blue".
    pub(crate) fn described(&self) -> String {
        match self {
            Vrf::Default => "the default VRF".to_string(),
            Vrf::Named(name) => format!("VRF {name}"),
        }
    }

    /// The name for JSON output: `None` for the default VRF.
    pub fn name(&self) -> Option<&str> {
        match self {
            Vrf::Default => None,
            Vrf::Named(name) => Some(name),
        }
    }
}

/// Read back from the configuration cache, validated again (`default` is the default VRF).
impl TryFrom<String> for Vrf {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Vrf::parse(&name).ok_or_else(|| format!("`{name}` is not a valid VRF name"))
    }
}

impl From<Vrf> for String {
    fn from(vrf: Vrf) -> String {
        vrf.name().unwrap_or("default").to_string()
    }
}

impl fmt::Display for Vrf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Vrf::Default => f.write_str("default VRF"),
            Vrf::Named(name) => write!(f, "VRF {name}"),
        }
    }
}

/// The name of an FRR route-map that anycastd puts on a `network` line (`network P route-map NAME`). anycastd never
/// creates or edits one: the operator writes it in FRR, and anycastd only names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RouteMap(String);

impl RouteMap {
    /// The longest route-map name accepted: far more than anyone writes, short enough for every report.
    pub(crate) const MAX_LEN: usize = 64;

    /// Validates a route-map name: letters, digits, `-`, `_`, `.` and `:`, at most [`RouteMap::MAX_LEN`]
    /// characters. Nothing else, so that the name is one word on a vtysh line and cannot start a new one.
    pub(crate) fn parse(name: &str) -> Option<RouteMap> {
        let valid = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        valid.then(|| RouteMap(name.to_string()))
    }

    /// The name, as written in FRR.
    pub(crate) fn name(&self) -> &str {
        &self.0
    }
}

/// Read back from the configuration cache, validated again.
impl TryFrom<String> for RouteMap {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        RouteMap::parse(&name).ok_or_else(|| format!("`{name}` is not a valid route-map name"))
    }
}

impl From<RouteMap> for String {
    fn from(route_map: RouteMap) -> String {
        route_map.0
    }
}

impl fmt::Display for RouteMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The base URL of a Cabourotte API, http or https, with optional basic-auth credentials.
///
/// Credentials are kept apart from the URL so they are sent as a header and never printed.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct CabourotteUrl {
    base: String,
    credentials: Option<(String, String)>,
}

impl CabourotteUrl {
    /// Parses `scheme://[user[:password]@]host[:port][/path]`; the scheme must be http or https. No error quotes
    /// any part of the URL after `://`: it may hold a password, even where the URL is malformed.
    pub(crate) fn parse(text: &str) -> Result<CabourotteUrl, String> {
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("a URL cannot contain spaces or control characters".into());
        }
        let (scheme, rest) = text.split_once("://").ok_or("expected a URL such as `http://127.0.0.1:9013`")?;
        let scheme = scheme.to_ascii_lowercase();
        if !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
            return Err("the URL must start with http:// or https://".into());
        }
        if scheme != "http" && scheme != "https" {
            return Err(format!("unsupported scheme `{scheme}`: only http and https are supported"));
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if path.contains('@') {
            return Err("an `@` after the host: write a `/` of the user name or password as %2F".into());
        }
        if path.contains(['?', '#']) {
            return Err("the URL cannot have a query or a fragment".into());
        }
        let (credentials, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(split_userinfo(userinfo)), host_port),
            None => (None, authority),
        };
        check_host_port(host_port)?;
        let base = format!("{scheme}://{host_port}{}", path.trim_end_matches('/'));
        Ok(CabourotteUrl { base, credentials })
    }

    /// The URL of the result list: the base with `/result` appended.
    pub(crate) fn result_list(&self) -> String {
        format!("{}/result", self.base)
    }

    /// The same Cabourotte's URL under `/api/v1`, where Cabourotte 2.x serves its API; none when it is there
    /// already.
    pub(crate) fn under_api_v1(&self) -> Option<CabourotteUrl> {
        let base = (!self.base.ends_with("/api/v1")).then(|| format!("{}/api/v1", self.base))?;
        Some(CabourotteUrl { base, credentials: self.credentials.clone() })
    }

    /// Whether the URL is https.
    pub(crate) fn is_https(&self) -> bool {
        self.base.starts_with("https://")
    }

    /// The basic-auth user and password, if any.
    pub(crate) fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(user, password)| (user.as_str(), password.as_str()))
    }
}

/// Prints the URL with the password hidden, safe for logs and plans.
impl fmt::Display for CabourotteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.credentials, self.base.split_once("://")) {
            (Some((user, _)), Some((scheme, rest))) => write!(f, "{scheme}://{user}:***@{rest}"),
            _ => f.write_str(&self.base),
        }
    }
}

/// Like [`fmt::Display`]: a `{:?}` in a test failure or a panic message must not show the password either.
impl fmt::Debug for CabourotteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CabourotteUrl({self})")
    }
}

/// Read back from the configuration cache, validated again.
impl TryFrom<String> for CabourotteUrl {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        CabourotteUrl::parse(&text)
    }
}

/// Written into the configuration cache as the bare URL. A URL with credentials is never serialized: the password
/// would land in plain text in the state directory, so the configuration holding it is not cached at all.
impl Serialize for CabourotteUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.credentials {
            Some(_) => Err(serde::ser::Error::custom("a URL with credentials is never serialized")),
            None => serializer.serialize_str(&self.base),
        }
    }
}

fn split_userinfo(userinfo: &str) -> (String, String) {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    (percent_decode(user), percent_decode(password))
}

fn check_host_port(host_port: &str) -> Result<(), String> {
    let (host, port) = match host_port.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']').ok_or("unclosed `[` in the host")?;
            (host, after.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    if let Some(port) = port {
        port.parse::<u16>().map_err(|_| "the port must be a number from 0 to 65535".to_string())?;
    }
    Ok(())
}

/// Decodes `%XX` escapes in URL credentials; malformed escapes (`%+5`, `%4`) are kept as they are.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_percent_escapes_are_decoded() {
        assert_eq!(percent_decode("s%2Fcr%40t"), "s/cr@t");
        assert_eq!(percent_decode("a%+5b%4"), "a%+5b%4", "`%+5` is not an escape, whatever from_str_radix thinks");
    }

    #[test]
    fn bare_addresses_are_host_prefixes() {
        assert_eq!(Prefix::parse("203.0.113.53").map(|p| p.to_string()), Ok("203.0.113.53/32".into()));
        assert_eq!(Prefix::parse("2001:db8::b19:bad:53").map(|p| p.to_string()), Ok("2001:db8::b19:bad:53/128".into()));
    }

    #[test]
    fn host_bits_are_rejected_with_the_meant_network() {
        let meant = Prefix::parse("192.0.2.240/28").expect("valid");
        assert_eq!(Prefix::parse("192.0.2.241/28"), Err(PrefixError::HostBitsSet(meant)));
        assert_eq!(Prefix::parse("192.0.2.300"), Err(PrefixError::NotAPrefix));
    }

    #[test]
    fn vrf_names_follow_frr_rules() {
        assert_eq!(Vrf::parse("123"), Some(Vrf::Named("123".into())));
        assert_eq!(Vrf::parse("EDGE-1.a_b"), Some(Vrf::Named("EDGE-1.a_b".into())));
        assert_eq!(Vrf::parse("default"), Some(Vrf::Default));
        assert_eq!(Vrf::parse("a b"), None);
        assert_eq!(Vrf::parse("x\nrouter bgp 1"), None);
        assert_eq!(Vrf::parse(""), None);
        assert_eq!(Vrf::parse(&"v".repeat(37)), None);
    }

    #[test]
    fn route_map_names_are_one_safe_word() {
        assert_eq!(RouteMap::parse("ANYCAST-DRAIN").map(|r| r.to_string()), Some("ANYCAST-DRAIN".into()));
        assert!(RouteMap::parse("rm_v6.out:1").is_some());
        assert_eq!(RouteMap::parse("A B"), None);
        assert_eq!(RouteMap::parse("A\nno router bgp"), None);
        assert_eq!(RouteMap::parse(""), None);
        assert_eq!(RouteMap::parse(&"r".repeat(65)), None);
    }

    #[test]
    fn urls_keep_credentials_apart_and_hide_them() {
        let url = CabourotteUrl::parse("https://anycast:s%40cret@healthz.local:9013/api/v1/").expect("valid");
        assert_eq!(url.result_list(), "https://healthz.local:9013/api/v1/result");
        assert_eq!(url.credentials(), Some(("anycast", "s@cret")));
        assert_eq!(url.to_string(), "https://anycast:***@healthz.local:9013/api/v1");
        assert_eq!(format!("{url:?}"), "CabourotteUrl(https://anycast:***@healthz.local:9013/api/v1)");
    }

    #[test]
    fn the_api_v1_url_keeps_scheme_host_port_path_and_credentials() {
        let root = CabourotteUrl::parse("https://anycast:s3cret@healthz.local:9013/").expect("valid");
        let api_v1 = root.under_api_v1().expect("not under /api/v1 yet");
        assert_eq!(api_v1.to_string(), "https://anycast:***@healthz.local:9013/api/v1");
        assert_eq!(api_v1.credentials(), Some(("anycast", "s3cret")));
        assert_eq!(api_v1.under_api_v1(), None, "already there");
        let proxied = CabourotteUrl::parse("http://[::1]:8080/cabourotte").expect("valid");
        assert_eq!(
            proxied.under_api_v1().map(|url| url.result_list()),
            Some("http://[::1]:8080/cabourotte/api/v1/result".into())
        );
    }

    #[test]
    fn urls_serialize_without_credentials_or_not_at_all() {
        let plain = CabourotteUrl::parse("http://127.0.0.1:9013/api/").expect("valid");
        assert_eq!(serde_json::to_string(&plain).expect("serialized"), r#""http://127.0.0.1:9013/api""#);
        assert_eq!(serde_json::from_str::<CabourotteUrl>(r#""http://127.0.0.1:9013/api""#).expect("read"), plain);
        assert!(serde_json::from_str::<CabourotteUrl>(r#""ftp://host""#).is_err(), "validated again when read");
        let secret = CabourotteUrl::parse("http://anycast:s3cr3t@127.0.0.1:9013").expect("valid");
        let refused = serde_json::to_string(&secret).expect_err("never serialized");
        assert!(!refused.to_string().contains("s3cr3t"), "{refused}");
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        assert!(CabourotteUrl::parse("http://[::1]:9013").is_ok());
        assert!(CabourotteUrl::parse("ftp://host").unwrap_err().contains("only http and https"));
        assert!(CabourotteUrl::parse("http://").unwrap_err().contains("no host"));
        assert_eq!(CabourotteUrl::parse("http://host:99999"), Err("the port must be a number from 0 to 65535".into()));
        assert_eq!(
            CabourotteUrl::parse("u:s3cr3t@host://x"),
            Err("the URL must start with http:// or https://".into())
        );
        assert!(CabourotteUrl::parse("127.0.0.1:9013").is_err());
    }
}
