//! The words of the plan's findings: warnings, prefix errors and failures to apply are data in `plan` (each with a
//! stable code for the JSON output); this is the one place that says them in English, for the text report, the JSON
//! report's message fields and the log lines.

use crate::config::{ConfigWarning, Vrf};
use crate::frr::{Advertisement, Held, Reach};
use std::path::Path;

use crate::plan::{AddressError, Failure, PassError, PrefixError, PrefixPlan, Unplaced, Warning};
use crate::state::streaks::CountsProblem;

/// A warning, in one sentence.
pub(crate) fn warning(warning: &Warning) -> String {
    match warning {
        Warning::Config(warning) => config_warning(*warning).to_string(),
        Warning::ExecProgram { service, check, problem } => format!(
            "service {}, exec check {}: {problem}; the check fails where its program cannot be run",
            crate::escape::escape(service),
            crate::escape::escape(check)
        ),
        Warning::KeyFileReadable { key_file } => format!(
            "the key_file {0} is readable by every user of this host, who can then present anycastd's client \
             certificate to Cabourotte: chmod o-r {0}",
            key_file.display()
        ),
        Warning::CountsReset(CountsProblem::Damaged { path, error }) => {
            format!("ignoring the damaged {} ({error}); counting from zero", path.display())
        }
        Warning::CountsReset(CountsProblem::Untrusted { why }) => format!(
            "not using the rise/fall counts: {why}; counting from zero, and `fall` cannot hold back a withdrawal"
        ),
        Warning::MissingRouteMap { prefix, route_map } => {
            format!("FRR has no route-map {route_map} (route_map): anycastd will not announce {prefix} without it")
        }
        Warning::MissingDrainRouteMap { prefix, route_map } => {
            format!("FRR has no route-map {route_map} (drain_route_map): draining {prefix} withdraws it instead")
        }
        Warning::NotInRib { prefix, vrf } => format!(
            "FRR has no route for {prefix} in the RIB of {} and `bgp network import-check` is on: it keeps the network \
             but does not advertise it; put the address on an interface (e.g. lo)",
            vrf.described()
        ),
        Warning::RibUnreadable { vrf, reason } => format!("cannot check FRR's RIB of {}: {reason}", vrf.described()),
        Warning::AdvertisementUnreadable { vtysh, reason } => {
            format!("cannot read what FRR sends its BGP neighbors through {}: {reason}", vtysh.display())
        }
        Warning::VtyshErrorButApplied { error } => {
            format!("vtysh reported an error, yet FRR now has every planned change: {error}")
        }
        Warning::BirdRefusedConfiguration { socket, message } => format!(
            "BIRD ({}) would not load its configuration: {message}; anycastd's file is written and what had to be \
             withdrawn was withdrawn by disabling its protocol, but nothing can be announced until BIRD loads its \
             configuration again (fix it, then `birdc configure`)",
            socket.display()
        ),
        Warning::MarkerAppeared => {
            "the maintenance marker appeared while this pass applied its changes (withdraw-all): \
                                    what it had just announced follows the marker now"
                .to_string()
        }
        Warning::RecordDamaged { why } => format!(
            "the record of managed prefixes is damaged ({why}): it is written anew, and what it knew of prefixes the \
             configuration no longer names is lost (they stay as they are in FRR)"
        ),
        Warning::RecordUntrusted { why, listed } => format!(
            "not acting on the record of managed prefixes: {why}; it lists {} prefixes the configuration no longer \
             names, which stay as they are in FRR: {}",
            listed.len(),
            listed.join(", ")
        ),
        Warning::RecordNotUpdated { error } => format!("cannot update the record of managed prefixes: {error}"),
        Warning::AddressRecordUnusable { why } => format!(
            "not acting on the record of the addresses anycastd added: {why}; no address it lists is removed, and no \
             address is added until it can be written"
        ),
        Warning::AddressRecordNotUpdated { why } => {
            format!("cannot update the record of the addresses anycastd added: {why}")
        }
        Warning::NoRouterId { vtysh, vrf } => format!(
            "FRR ({}) has no `bgp router-id` in {}, and anycastd puts service addresses on lo: bgpd may take one as \
             its router-ID, and a change of router-ID resets every session; set `bgp router-id` under `router bgp`",
            vtysh.display(),
            vrf.described()
        ),
    }
}

/// What went wrong for a service address on `interface`, and how to fix it.
pub(crate) fn address_error(error: &AddressError, interface: &str) -> String {
    let interface = crate::escape::escape(interface);
    match error {
        AddressError::HostUnreadable(why) => format!("cannot read the host's interfaces: {why}"),
        AddressError::NoInterface => {
            format!("the host has no interface {interface}: create it, or correct the prefix's `interface`")
        }
        AddressError::WrongVrf { found: Some(vrf) } => format!(
            "interface {interface} is in VRF {vrf}, not in the prefix's: name the VRF's device or an interface in it"
        ),
        AddressError::WrongVrf { found: None } => format!(
            "interface {interface} is in the default VRF, not in the prefix's: name the VRF's device or an interface \
             in it"
        ),
        AddressError::NotRecorded(why) => {
            format!("not added, since it could not be recorded as anycastd's: {why}")
        }
    }
}

/// Why an address the configuration names is not on its interface, for the prefix that needs it.
fn unplaced(why: &Unplaced, interface: &str) -> String {
    match why {
        Unplaced::Error(error) => address_error(error, interface),
        Unplaced::Failed(why) => why.clone(),
    }
}

/// What FRR sends of a prefix, as the end of its line (`advertised to 2 peers`), and as a line of its own when it
/// will not reach anybody although it is (or will be) announced, with why. `announced`: FRR has (or, in a plan, will
/// have) its network; `has_now`: it has it already, so a neighbor whose session and family are fine yet receives
/// nothing is filtering it (before the network exists, that is expected, and not said).
pub fn advertising(reach: &Reach, announced: bool, has_now: bool) -> (Option<String>, Option<String>) {
    let peers = reach.peers.len();
    let plural = if peers == 1 { "" } else { "s" };
    match &reach.status {
        Advertisement::Advertised => (Some(format!("advertised to {peers} peer{plural}")), None),
        Advertisement::Pending if announced => {
            (Some("advertisement pending: FRR sends its updates on its own timers".to_string()), None)
        }
        Advertisement::Pending => (Some(format!("withdrawal pending at {peers} peer{plural}")), None),
        Advertisement::Nowhere(_) if !announced => (None, None),
        Advertisement::Nowhere(held) => {
            let reasons: Vec<String> = held
                .iter()
                .filter(|held| has_now || !matches!(held, Held::Filtered { .. } | Held::BirdFiltered { .. }))
                .map(Held::sentence)
                .collect();
            match (held.is_empty(), reasons.is_empty()) {
                (true, _) => (None, Some("not advertised to any peer: its BGP instance has no neighbor".to_string())),
                (false, true) => (None, None),
                (false, false) => (None, Some(format!("not advertised to any peer: {}", reasons.join("; ")))),
            }
        }
    }
}

/// An error of the pass as a whole, in one sentence.
pub(crate) fn pass_error(error: &PassError) -> String {
    match error {
        PassError::WithdrawOnly { detail, .. } => format!("{detail}; this pass withdraws but announces nothing"),
        PassError::MarkerNotWritten { detail } => format!(
            "{detail}: withdrawing anyway, but without the maintenance marker the next apply or run pass may announce \
             the prefixes again; stop the timer or the loop, or make the state directory writable and run `anycastd \
             withdraw-all` again"
        ),
        PassError::MetricsNotWritten { detail } => detail.clone(),
    }
}

/// A warning about the configuration, in one sentence.
pub(crate) fn config_warning(warning: ConfigWarning) -> &'static str {
    match warning {
        ConfigWarning::NoServices => {
            "the configuration defines no services: anycastd manages no prefix and changes nothing in FRR; add a \
             [services.NAME] table with prefixes.frrouting and checks.cabourotte"
        }
    }
}

/// What went wrong for a prefix in `vrf`, and how to fix it.
pub(crate) fn prefix_error(error: &PrefixError, vrf: &Vrf) -> String {
    match error {
        PrefixError::FrrUnavailable(reason) => format!("cannot read FRR's running config: {reason}"),
        PrefixError::BirdUnavailable(reason) => format!("cannot ask BIRD what it has: {reason}"),
        PrefixError::BirdNoTable(table) => format!(
            "BIRD has no table {table}: declare it in bird.conf (`ipv4 table {table};` or `ipv6 table {table};`) \
             before the include of anycastd's file, or correct `table`"
        ),
        PrefixError::NoBgpInstance => {
            let block = match vrf.name() {
                Some(name) => format!("router bgp <ASN> vrf {name}"),
                None => "router bgp <ASN>".to_string(),
            };
            format!(
                "FRR has no BGP instance in {}; anycastd never creates one: add `{block}` to FRR's configuration",
                vrf.described()
            )
        }
        PrefixError::AnnounceRefused(reason) => format!("not announced: {reason}"),
        PrefixError::VtyshNotConfigured(vtysh) => format!(
            "anycastd announced it through {}, which the configuration no longer names: not withdrawn (anycastd runs \
             only the vtysh its configuration names, or /usr/bin/vtysh); withdraw it by hand, then `anycastd forget` \
             it",
            vtysh.display()
        ),
        PrefixError::MovedToUnavailable(daemon) => format!(
            "the configuration now names it for {daemon}, which cannot be asked: not withdrawn here until it can (a wrong \
             path must not withdraw a service that passes its checks)"
        ),
        PrefixError::AddressMissing { interface, address, why } => format!(
            "not announced: its address {address} is not on {} ({})",
            crate::escape::escape(interface),
            unplaced(why, interface)
        ),
        PrefixError::MissingRouteMap(route_map) => format!(
            "FRR has no route-map {route_map} (its route_map): not announced without it; define `route-map \
             {route_map} permit 10` in FRR, or remove route_map from the configuration"
        ),
    }
}

/// An FRR whose running config could not be read, said once for all its prefixes: `/usr/bin/vtysh exited with 1:
/// ...`, or, when the reason does not name the vtysh, with it.
pub(crate) fn frr_unavailable(vtysh: &Path, reason: &str) -> String {
    if reason.starts_with(&vtysh.display().to_string()) {
        format!("cannot read FRR's running config: {reason}")
    } else {
        format!("cannot read FRR's running config through {}: {reason}", vtysh.display())
    }
}

/// What went wrong for `prefix`, where the report or the log has said once, above, what is wrong with its FRR
/// ([`frr_unavailable`]): only which FRR; anything else in full ([`prefix_error`]).
pub(crate) fn prefix_error_below(prefix: &PrefixPlan, error: &PrefixError) -> String {
    match error {
        PrefixError::FrrUnavailable(_) => {
            let vtysh = prefix.managed.vtysh().map(|vtysh| vtysh.display().to_string()).unwrap_or_default();
            format!("cannot read FRR's running config through {vtysh} (see above)")
        }
        other => prefix_error(other, &prefix.managed.vrf),
    }
}

/// Why FRR does not match a prefix's plan after applying it.
pub(crate) fn failure(failure: &Failure) -> String {
    let route_map =
        |line: &Option<String>| line.as_ref().map_or("no route-map".to_string(), |name| format!("route-map {name}"));
    let (what, vtysh_error) = match failure {
        Failure::Unverified { reason } => return format!("cannot read FRR's running config after applying: {reason}"),
        Failure::BirdAbsent { bird_error } => ("BIRD does not have the prefix after applying".to_string(), bird_error),
        Failure::BirdStillPresent { bird_error } => {
            ("BIRD still has the prefix after applying".to_string(), bird_error)
        }
        Failure::BirdWrongMark { draining, bird_error } => {
            let (has, wanted) = if *draining { ("without", "with") } else { ("with", "without") };
            (format!("BIRD has the prefix {has} the drain mark after applying, not {wanted}"), bird_error)
        }
        Failure::Absent { vtysh_error } => ("FRR does not have the network after applying".to_string(), vtysh_error),
        Failure::StillPresent { vtysh_error } => ("FRR still has the network after applying".to_string(), vtysh_error),
        Failure::WrongRouteMap { found, wanted, vtysh_error } => (
            format!("FRR has the network with {} after applying, not {}", route_map(found), route_map(wanted)),
            vtysh_error,
        ),
    };
    match (vtysh_error, failure) {
        (
            Some(error),
            Failure::BirdAbsent { .. } | Failure::BirdStillPresent { .. } | Failure::BirdWrongMark { .. },
        ) => {
            format!("{what}: BIRD would not load anycastd's file: {error}; fix the configuration BIRD includes it from")
        }
        (Some(error), _) => format!("{what}: {error}"),
        (None, _) => what,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{Prefix, RouteMap};

    fn prefix() -> Prefix {
        Prefix::parse("203.0.113.53/32").expect("a valid prefix")
    }

    fn route_map(name: &str) -> RouteMap {
        RouteMap::parse(name).expect("a valid route-map")
    }

    #[test]
    fn an_unreadable_frr_is_named_once_by_its_vtysh() {
        let vtysh = std::path::Path::new("/usr/bin/vtysh");
        assert_eq!(
            frr_unavailable(vtysh, "/usr/bin/vtysh exited with 1: Exiting."),
            "cannot read FRR's running config: /usr/bin/vtysh exited with 1: Exiting."
        );
        assert_eq!(
            frr_unavailable(vtysh, "vtysh output was cut short"),
            "cannot read FRR's running config through /usr/bin/vtysh: vtysh output was cut short"
        );
    }

    /// Every warning, worded as before warnings were data, with its code: the codes are what scripts match, so they
    /// must never change, and no two kinds may share one.
    #[test]
    fn every_warning_has_its_own_stable_code_and_its_words() {
        let vrf = Vrf::Named("123".into());
        let cases = [
            (Warning::Config(ConfigWarning::NoServices), "no-services", "the configuration defines no services: "),
            (
                Warning::KeyFileReadable { key_file: "/etc/k.pem".into() },
                "key-file-readable",
                "the key_file /etc/k.pem is readable by every user of this host, who can then present anycastd's \
                 client certificate to Cabourotte: chmod o-r /etc/k.pem",
            ),
            (
                Warning::MissingRouteMap { prefix: prefix(), route_map: route_map("OUT") },
                "missing-route-map",
                "FRR has no route-map OUT (route_map): anycastd will not announce 203.0.113.53/32 without it",
            ),
            (
                Warning::MissingDrainRouteMap { prefix: prefix(), route_map: route_map("DRAIN") },
                "missing-drain-route-map",
                "FRR has no route-map DRAIN (drain_route_map): draining 203.0.113.53/32 withdraws it instead",
            ),
            (
                Warning::NotInRib { prefix: prefix(), vrf: vrf.clone() },
                "not-in-rib",
                "FRR has no route for 203.0.113.53/32 in the RIB of VRF 123 and `bgp network import-check` is on: ",
            ),
            (
                Warning::RibUnreadable { vrf, reason: "timeout".into() },
                "rib-unreadable",
                "cannot check FRR's RIB of VRF 123: timeout",
            ),
            (
                Warning::AdvertisementUnreadable { vtysh: "/usr/bin/vtysh".into(), reason: "timeout".into() },
                "advertisement-unreadable",
                "cannot read what FRR sends its BGP neighbors through /usr/bin/vtysh: timeout",
            ),
            (
                Warning::VtyshErrorButApplied { error: "% Unknown command".into() },
                "vtysh-error-but-applied",
                "vtysh reported an error, yet FRR now has every planned change: % Unknown command",
            ),
            (
                Warning::BirdRefusedConfiguration { socket: "/run/bird/bird.ctl".into(), message: "8002 x".into() },
                "bird-refused-configuration",
                "BIRD (/run/bird/bird.ctl) would not load its configuration: 8002 x; anycastd's file is written and what \
                 had to be withdrawn was withdrawn by disabling its protocol, but nothing can be announced until BIRD \
                 loads its configuration again (fix it, then `birdc configure`)",
            ),
            (
                Warning::MarkerAppeared,
                "marker-appeared-while-applying",
                "the maintenance marker appeared while this pass applied its changes (withdraw-all): what it had just \
                 announced follows the marker now",
            ),
            (
                Warning::CountsReset(CountsProblem::Damaged { path: "/s/counts.json".into(), error: "EOF".into() }),
                "counts-reset",
                "ignoring the damaged /s/counts.json (EOF); counting from zero",
            ),
            (
                Warning::CountsReset(CountsProblem::Untrusted { why: "it belongs to uid 997".into() }),
                "counts-reset",
                "not using the rise/fall counts: it belongs to uid 997; counting from zero, and `fall` cannot hold \
                 back a withdrawal",
            ),
            (
                Warning::RecordDamaged { why: "bad JSON".into() },
                "record-damaged",
                "the record of managed prefixes is damaged (bad JSON): it is written anew",
            ),
            (
                Warning::RecordUntrusted { why: "not ours".into(), listed: vec!["a".into(), "b".into()] },
                "record-untrusted",
                "not acting on the record of managed prefixes: not ours; it lists 2 prefixes the configuration no \
                 longer names, which stay as they are in FRR: a, b",
            ),
            (
                Warning::RecordNotUpdated { error: "disk full".into() },
                "record-not-updated",
                "cannot update the record of managed prefixes: disk full",
            ),
        ];
        let mut kinds = std::collections::BTreeMap::new();
        for (warning, code, start) in &cases {
            assert_eq!(warning.code(), *code);
            let kind = std::mem::discriminant(warning);
            assert_eq!(*kinds.entry(*code).or_insert(kind), kind, "{code} for two kinds");
            assert!(super::warning(warning).starts_with(start), "{:?}", super::warning(warning));
        }
    }

    #[test]
    fn every_pass_error_has_its_own_stable_code_and_its_words() {
        use crate::plan::HoldProblem;
        let refused = |cause| PassError::withdraw_only(cause, "why");
        let cases = [
            (refused(HoldProblem::StateDir), "state-dir-unusable", "why; this pass withdraws but announces nothing"),
            (refused(HoldProblem::Lock), "lock-not-taken", "why; this pass withdraws"),
            (refused(HoldProblem::Counts), "counts-not-kept", "why; this pass withdraws"),
            (refused(HoldProblem::Record), "record-not-kept", "why; this pass withdraws"),
            (refused(HoldProblem::Marker), "marker-unreadable", "why; this pass withdraws"),
            (refused(HoldProblem::Configuration), "config-invalid", "why; this pass withdraws"),
            (
                PassError::MarkerNotWritten { detail: "read-only".into() },
                "marker-not-written",
                "read-only: withdrawing anyway, but without the maintenance marker the next apply or run pass may \
                 announce the prefixes again",
            ),
            (PassError::MetricsNotWritten { detail: "disk full".into() }, "metrics-not-written", "disk full"),
        ];
        let mut codes = std::collections::BTreeSet::new();
        for (error, code, start) in &cases {
            assert_eq!(error.code(), *code);
            assert!(codes.insert(*code), "{code} twice");
            assert!(pass_error(error).starts_with(start), "{:?}", pass_error(error));
        }
    }

    #[test]
    fn prefix_errors_have_codes_and_say_what_to_do() {
        let default = Vrf::Default;
        let cases = [
            (
                PrefixError::FrrUnavailable("refused".into()),
                "frr-unavailable",
                "cannot read FRR's running config: refused",
            ),
            (
                PrefixError::NoBgpInstance,
                "no-bgp-instance",
                "FRR has no BGP instance in the default VRF; anycastd never creates one: add `router bgp <ASN>` to \
                 FRR's configuration",
            ),
            (PrefixError::AnnounceRefused("no lock".into()), "announce-refused", "not announced: no lock"),
            (
                PrefixError::MissingRouteMap(route_map("OUT")),
                "missing-route-map",
                "FRR has no route-map OUT (its route_map): not announced without it; define `route-map OUT permit 10` \
                 in FRR, or remove route_map from the configuration",
            ),
            (
                PrefixError::VtyshNotConfigured(PathBuf::from("/opt/vtysh")),
                "vtysh-not-configured",
                "anycastd announced it through /opt/vtysh, which the configuration no longer names: not withdrawn \
                 (anycastd runs only the vtysh its configuration names, or /usr/bin/vtysh); withdraw it by hand, then \
                 `anycastd forget` it",
            ),
            (
                PrefixError::MovedToUnavailable("BIRD at /run/bird2.ctl".into()),
                "moved-to-unavailable",
                "the configuration now names it for BIRD at /run/bird2.ctl, which cannot be asked: not withdrawn here \
                 until it can (a wrong path must not withdraw a service that passes its checks)",
            ),
        ];
        for (error, code, words) in &cases {
            assert_eq!((error.code(), prefix_error(error, &default).as_str()), (*code, *words));
        }
        let named = prefix_error(&PrefixError::NoBgpInstance, &Vrf::Named("123".into()));
        assert!(named.contains("`router bgp <ASN> vrf 123`"), "{named}");
    }

    #[test]
    fn failures_have_codes_and_quote_vtysh() {
        let error = Some("% Unknown command".to_string());
        let cases = [
            (
                Failure::Absent { vtysh_error: error.clone() },
                "absent-after-applying",
                "FRR does not have the network after applying: % Unknown command",
            ),
            (
                Failure::StillPresent { vtysh_error: None },
                "present-after-applying",
                "FRR still has the network after applying",
            ),
            (
                Failure::WrongRouteMap { found: None, wanted: Some("OUT".into()), vtysh_error: None },
                "wrong-route-map-after-applying",
                "FRR has the network with no route-map after applying, not route-map OUT",
            ),
            (
                Failure::Unverified { reason: "timeout".into() },
                "unverified-after-applying",
                "cannot read FRR's running config after applying: timeout",
            ),
        ];
        for (failed, code, words) in &cases {
            assert_eq!((failed.code(), failure(failed).as_str()), (*code, *words));
        }
    }
}
