//! Property tests: generated configurations, Cabourotte answers and running configs thrown at the parsers and at the
//! plan. Whatever the input: no panic, a bounded time, an error that names the place, no password or control
//! character in what is printed, and nothing announced that a passing check did not ask for.
//!
//! The case counts keep the whole property run to a few seconds on 2 cores; `PROPTEST_CASES` raises them.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::config::Config;
use crate::frr::RunningConfig;
use crate::health::cabourotte::{self, parse_result_list};
use crate::plan::{Action, FrrStates, Inputs, Intent, Plan};
use crate::render::{self, Painter, Tense};

/// Far more than any case takes: only a cost that grows the wrong way exceeds it.
const BOUNDED: Duration = Duration::from_secs(5);

/// The password of every generated URL: it must never be printed.
const PASSWORD: &str = "Pa55w0rd";

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Whether `text` holds a character that must not reach a terminal (line breaks are the text's own).
fn has_control(text: &str) -> bool {
    text.chars().any(|c| (c.is_control() && c != '\n') || c == '\u{202e}')
}

// ---- Configurations -------------------------------------------------------------------------------------------

/// A TOML basic string holding `text`, escaped as TOML wants.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn a_value() -> impl Strategy<Value = String> {
    let words = prop_oneof![
        Just("203.0.113.53".to_string()),
        Just("192.0.2.241/28".to_string()),
        Just("2001:db8::53".to_string()),
        Just("192.0.2.300".to_string()),
        Just("dns".to_string()),
        Just("blue".to_string()),
        Just("/usr/bin//vtysh".to_string()),
        Just("/usr/../vtysh".to_string()),
        Just(format!("https://anycast:{PASSWORD}@healthz.local:99999")),
        Just(format!("https://anycast:{PASSWORD}/x@healthz.local")),
        Just(format!("http://anycast:{PASSWORD}@127.0.0.1:9013/api/v1")),
        Just("0.0001ms".to_string()),
        Just("500ms".to_string()),
        Just("25h".to_string()),
        Just("keep".to_string()),
        "\\PC{0,12}",
        "[\\x00-\\x1f\\x7f\u{202e}a-z]{0,8}",
    ];
    let scalar = prop_oneof![
        words.prop_map(|word| toml_string(&word)),
        any::<i64>().prop_map(|n| n.to_string()),
        prop_oneof![
            Just(1e-10),
            Just(0.5),
            Just(1e300),
            Just(-2.0),
            any::<f64>().prop_filter("finite", |f| f.is_finite())
        ]
        .prop_map(|f| format!("{f:e}")),
        any::<bool>().prop_map(|b| b.to_string()),
    ];
    scalar.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((a_key(), inner), 0..4).prop_map(|pairs| {
                let fields: Vec<String> = pairs.into_iter().map(|(key, value)| format!("{key} = {value}")).collect();
                format!("{{ {} }}", fields.join(", "))
            }),
        ]
    })
}

fn a_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("prefix"),
        Just("vrf"),
        Just("vtysh"),
        Just("name"),
        Just("url"),
        Just("interval"),
        Just("max_age"),
        Just("prefixes.frrouting"),
        Just("checks.cabourotte"),
        Just("rise"),
        Just("fall"),
        Just("on_checker_error"),
        Just("on_change"),
        Just("on_change_timeout"),
        Just("intervall"),
    ]
    .prop_map(str::to_string)
}

fn a_config_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (a_key(), a_value()).prop_map(|(key, value)| format!("{key} = {value}")),
        2 => prop_oneof![Just("dns"), Just("ntp"), Just("a b"), Just("")].prop_map(|name| format!("[services.{}]", toml_string(name))),
        1 => Just("[[services.web.prefixes.frrouting]]".to_string()),
        1 => Just("[services]".to_string()),
        1 => "\\PC{0,30}",
        1 => (1usize..3000, a_value()).prop_map(|(n, value)| format!("prefixes.frrouting = [{}]", vec![value; n].join(", "))),
        1 => (60_000usize..70_000).prop_map(|n| format!("name = \"{}\" ]", "a".repeat(n))),
    ]
}

fn a_config() -> impl Strategy<Value = String> {
    prop::collection::vec(a_config_line(), 0..14).prop_map(|lines| lines.join("\n"))
}

/// The configuration error of `text` as the binary prints it (no colour).
fn rendered(error: &crate::config::ConfigError) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, error)
        .expect("a report renders");
    out
}

proptest! {
    #![proptest_config(cases(150))]

    #[test]
    fn any_configuration_is_accepted_or_refused_naming_each_place(text in a_config()) {
        let started = Instant::now();
        match Config::parse(&text, "t.toml") {
            Ok(config) => {
                for (_, check) in config.checks() {
                    prop_assert!(crate::config::INTERVAL.checked(check.interval.as_secs_f64()).is_ok());
                }
            }
            Err(error) => {
                let problems = error.problems();
                prop_assert!(!problems.is_empty());
                for problem in problems {
                    prop_assert!(!problem.message.is_empty());
                    prop_assert!(problem.span.end <= text.len() && problem.span.start <= problem.span.end);
                }
                let out = rendered(&error);
                prop_assert!(out.matches("╭─[t.toml:").count() >= problems.len(), "each problem names its place:\n{}", out);
                prop_assert!(!out.contains("Failed to read contents"), "{}", out);
                prop_assert!(!out.contains(PASSWORD), "a password was printed:\n{}", out);
                prop_assert!(!has_control(&out), "a control character was printed: {:?}", out);
                prop_assert!(out.lines().all(|line| line.chars().count() < 600), "a line was printed whole");
            }
        }
        prop_assert!(started.elapsed() < BOUNDED);
    }
}

// ---- Cabourotte answers ---------------------------------------------------------------------------------------

/// One generated entry, and whether it is a well-formed result.
#[derive(Clone, Debug)]
struct GeneratedEntry {
    json: String,
    name: Option<&'static str>,
    /// `Some(success)` when every field anycastd reads is well formed.
    valid: Option<bool>,
}

fn an_entry() -> impl Strategy<Value = GeneratedEntry> {
    let name = prop_oneof![Just(Some("dns")), Just(Some("ntp_v4")), Just(None)];
    let success = prop_oneof![
        3 => any::<bool>().prop_map(|b| (b.to_string(), Some(b))),
        1 => Just(("\"true\"".to_string(), None)),
        1 => Just(("1".to_string(), None)),
        1 => Just(("null".to_string(), None)),
        1 => Just((String::new(), None)),
    ];
    let timestamp = prop_oneof![
        3 => any::<i64>().prop_map(|n| (n.to_string(), true)),
        1 => Just((String::new(), true)),
        1 => Just(("null".to_string(), true)),
        1 => Just(("1764030000.5".to_string(), false)),
        1 => Just(("9223372036854775808".to_string(), false)),
        1 => Just(("1e30".to_string(), false)),
    ];
    let message = prop_oneof![
        3 => "\\PC{0,20}".prop_map(|m| (serde_json::Value::String(m).to_string(), true)),
        1 => Just(("\"timeout\\nanycastd apply: announced 198.18.0.0/15\\u001b[2K\"".to_string(), true)),
        1 => Just(("42".to_string(), false)),
        1 => Just((String::new(), true)),
    ];
    let depth = 0usize..140;
    (name, success, timestamp, message, depth).prop_map(
        |(name, (success, ok), (timestamp, ts_ok), (message, m_ok), depth)| {
            let mut fields = Vec::new();
            if let Some(name) = name {
                fields.push(format!("\"name\": \"{name}\""));
            }
            let summary =
                if depth == 0 { "null".to_string() } else { format!("{}{}", "[".repeat(depth), "]".repeat(depth)) };
            fields.push(format!("\"summary\": {summary}"));
            for (key, value) in [("success", &success), ("healthcheck-timestamp", &timestamp), ("message", &message)] {
                if !value.is_empty() {
                    fields.push(format!("\"{key}\": {value}"));
                }
            }
            let valid = ok.filter(|_| ts_ok && m_ok);
            GeneratedEntry { json: format!("{{{}}}", fields.join(", ")), name, valid }
        },
    )
}

fn a_body() -> impl Strategy<Value = (String, Vec<GeneratedEntry>, Option<usize>)> {
    (prop::collection::vec(an_entry(), 0..8), any::<bool>(), prop::option::weighted(0.2, any::<prop::sample::Index>()))
        .prop_map(|(entries, wrapped, cut)| {
            let list = format!("[{}]", entries.iter().map(|e| e.json.as_str()).collect::<Vec<_>>().join(", "));
            let body = if wrapped { format!("{{\"result\": {list}}}") } else { list };
            let cut = cut.map(|index| index.index(body.len().max(1)));
            (body, entries, cut)
        })
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn any_answer_is_read_failing_closed_or_refused_with_a_reason((body, entries, cut) in a_body()) {
        let started = Instant::now();
        let body = match cut {
            Some(at) if body.is_char_boundary(at) => body[..at].to_string(),
            _ => body,
        };
        match parse_result_list(&body, &|_| true) {
            Err(reason) => {
                prop_assert!(cut.is_some(), "a whole generated answer is a list: {}", reason);
                prop_assert!(reason.starts_with("unexpected answer, not a Cabourotte result list ("), "{}", reason);
            }
            Ok(list) => {
                let dns: Vec<&GeneratedEntry> = entries.iter().filter(|e| e.name == Some("dns")).collect();
                if cut.is_none() {
                    let expected = (!dns.is_empty()).then(|| dns.iter().all(|e| e.valid == Some(true)));
                    prop_assert_eq!(list.get("dns").map(|r| r.success), expected, "{}", body);
                }
                if let Some(result) = list.get("dns").filter(|r| !r.success) {
                    prop_assert!(!result.message.is_empty() || dns.iter().any(|e| e.valid == Some(false)));
                }
            }
        }
        prop_assert!(started.elapsed() < BOUNDED);
    }
}

// ---- Running configs ------------------------------------------------------------------------------------------

fn a_running_config_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("router bgp 65536".to_string()),
        Just("router bgp 65537 vrf 123".to_string()),
        Just("router bgp 1.2.3".to_string()),
        Just(" address-family ipv4 unicast".to_string()),
        Just(" address-family ipv6 unicast".to_string()),
        Just(" address-family l2vpn evpn".to_string()),
        Just("  network 203.0.113.53/32".to_string()),
        Just("  network 2001:db8::123:7e11:713e/128".to_string()),
        Just(" network 203.0.113.123/32".to_string()),
        Just("  network 192.0.2.300/24".to_string()),
        Just(" no bgp network import-check".to_string()),
        Just(" exit-address-family".to_string()),
        Just("exit".to_string()),
        Just("!".to_string()),
        Just(String::new()),
        Just("   ".to_string()),
        Just("end".to_string()),
        "\\PC{0,30}",
        "[ \\x00-\\x1f]{0,4}\\PC{0,10}",
    ]
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn a_running_config_is_read_only_when_it_ends_with_its_end_line(lines in prop::collection::vec(a_running_config_line(), 0..30)) {
        let started = Instant::now();
        let text = lines.join("\n");
        let meaningful: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
        let complete = meaningful.last().is_some_and(|line| line.trim_end() == "end")
            && meaningful.iter().filter(|line| line.trim_end() == "end").count() == 1;
        let parsed = RunningConfig::parse(&text);
        prop_assert_eq!(parsed.is_ok(), complete, "{:?}", text);
        if let Err(error) = parsed {
            prop_assert!(error.to_string().starts_with("FRR's running config "));
        }
        prop_assert!(started.elapsed() < BOUNDED);
    }
}

// ---- Plans ----------------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(150))]

    #[test]
    fn a_plan_announces_only_what_every_check_of_its_service_passed(
        lines in prop::collection::vec(a_running_config_line(), 0..30),
        (body, _, _) in a_body(),
    ) {
        let started = Instant::now();
        let config = Config::parse(include_str!("../examples/config.toml"), "seed").expect("the seed is valid");
        let running = format!("{}\nend\n", lines.iter().filter(|l| l.trim_end() != "end").cloned().collect::<Vec<_>>().join("\n"));
        let running = RunningConfig::parse(&running).expect("ends with end");
        let results = parse_result_list(&body, &|_| true).expect("a whole answer");
        let inputs = Inputs {
            answers: cabourotte::answer_everywhere(&config, &results),
            frr: FrrStates::from([("/usr/bin/vtysh".into(), Ok(running))]),
            ..Inputs::default()
        };
        let plan = Plan::compute(&config, &inputs, Intent::Reconcile);
        for service in &plan.services {
            let healthy = service.health.as_ref().is_some_and(|health| health.is_healthy());
            for prefix in &service.prefixes {
                prop_assert!(prefix.action != Action::Announce || healthy, "{} announced while unhealthy", service.name);
            }
        }
        let every_service = config.services.iter().map(|service| service.name.clone()).collect();
        let pushed = Plan::compute(&config, &Inputs { pushed_services: Some(every_service), ..inputs }, Intent::Reconcile);
        prop_assert!(
            pushed.prefixes().all(|p| !matches!(p.action, Action::Announce | Action::Restore)),
            "a pass made by a push announced something"
        );
        let text = render::plan_text(&plan, Tense::Planned, Painter::new(false));
        prop_assert!(!has_control(&text), "{:?}", text);
        prop_assert!(serde_json::from_str::<serde_json::Value>(&render::plan_json(&plan, "plan", Tense::Planned)).is_ok());
        prop_assert!(started.elapsed() < BOUNDED);
    }
}
