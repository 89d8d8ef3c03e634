//! Reads Cabourotte's `GET /result` answer: a bare JSON array (older releases) or `{"result": [...]}` (newer).
//!
//! The answer is untrusted, so it is read as a stream and only what anycastd needs is kept: `name`, `success`,
//! `healthcheck-timestamp` and `message` of the checks asked for. Everything else (`summary` can be any JSON value,
//! nested as deep as it likes) is skipped without being built, so memory follows what is kept, not the answer's size.
//!
//! Nothing in it vanishes silently. An entry whose name can be read but whose fields cannot is a *failing* result that
//! names the field ("Cabourotte's result for dns is malformed: field "success" is a string, expected true or false").
//! An entry whose name cannot be read is described by its position, and a check with no result shows those
//! descriptions, since one of them may be its own.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The latest result of one check, as Cabourotte reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// The latest execution succeeded.
    pub success: bool,
    /// `"success"`, or the error text of the failure.
    pub message: String,
    /// When the latest execution ran (Unix seconds), if Cabourotte said.
    pub timestamp: Option<i64>,
}

/// What one Cabourotte answered: the result of each check asked for, and the entries that could not be read at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResultList {
    results: HashMap<String, CheckResult>,
    unreadable: Unreadable,
}

/// The entries of an answer whose name could not be read: how many, and the first few described.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unreadable {
    count: usize,
    described: Vec<String>,
}

impl Unreadable {
    /// How many entries are described by name; the rest are counted, so a reason stays one readable line.
    const DESCRIBED: usize = 3;

    fn add(&mut self, description: String) {
        self.count += 1;
        if self.described.len() < Self::DESCRIBED {
            self.described.push(description);
        }
    }

    /// Whether every entry could be read.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// `entry 2 has no field "name"; entry 5 is a number, expected an object (and 4 more)`.
impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.described.join("; "))?;
        match self.count - self.described.len() {
            0 => Ok(()),
            more => write!(f, " (and {more} more)"),
        }
    }
}

impl ResultList {
    /// A list holding exactly `results` (offline plans: `--assume`).
    pub fn from_results(results: impl IntoIterator<Item = (String, CheckResult)>) -> ResultList {
        ResultList { results: results.into_iter().collect(), unreadable: Unreadable::default() }
    }

    /// The result of check `name`, if the answer had one.
    pub fn get(&self, name: &str) -> Option<&CheckResult> {
        self.results.get(name)
    }

    /// The list with `result` as the latest of check `name`, if it is newer than the one there (or there is none).
    /// A push from Cabourotte's exporter may be newer than the last poll; an older one changes nothing.
    pub fn with_newer(mut self, name: &str, result: &CheckResult) -> ResultList {
        let newer = match self.results.get(name) {
            Some(polled) => result.timestamp > polled.timestamp,
            None => true,
        };
        if newer {
            self.results.insert(name.to_string(), result.clone());
        }
        self
    }

    /// Every check's result, by name.
    pub fn results(&self) -> impl Iterator<Item = (&str, &CheckResult)> {
        self.results.iter().map(|(name, result)| (name.as_str(), result))
    }

    /// How many checks have a result.
    pub fn checks_with_results(&self) -> usize {
        self.results.len()
    }

    /// The names of the checks that have a result, in no order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.results.keys().map(String::as_str)
    }

    /// The entries whose name could not be read.
    pub fn unreadable(&self) -> &Unreadable {
        &self.unreadable
    }

    /// Records `result` for check `name`, unless the list already holds a worse one for it. A check listed twice in
    /// one answer fails closed: a failure wins over a success, and of two successes the older one is kept (a missing
    /// timestamp counts as the oldest), so `max_age` judges the least fresh.
    fn keep_the_worse(&mut self, name: String, result: CheckResult) {
        match self.results.entry(name) {
            Entry::Vacant(slot) => {
                slot.insert(result);
            }
            Entry::Occupied(mut slot) => {
                let kept = slot.get();
                let worse = match (kept.success, result.success) {
                    (true, false) => true,
                    (true, true) => result.timestamp.unwrap_or(i64::MIN) < kept.timestamp.unwrap_or(i64::MIN),
                    (false, _) => false,
                };
                if worse {
                    slot.insert(result);
                }
            }
        }
    }
}

impl std::ops::Index<&str> for ResultList {
    type Output = CheckResult;

    fn index(&self, name: &str) -> &CheckResult {
        &self.results[name]
    }
}

/// Parses a `GET /result` answer in either shape, keeping only the checks for which `wanted` is true.
pub fn parse_result_list(body: &str, wanted: &dyn Fn(&str) -> bool) -> Result<ResultList, String> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let list = AnswerSeed { wanted }
        .deserialize(&mut deserializer)
        .and_then(|list| deserializer.end().map(|()| list))
        .map_err(|error| format!("unexpected answer, not a Cabourotte result list ({error}): {}", excerpt(body)))?;
    Ok(list)
}

/// The start of a body, on one line, for error messages.
pub fn excerpt(body: &str) -> String {
    let line: String = body.chars().take(80).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if body.chars().count() > 80 { format!("{}…", line.trim()) } else { line.trim().to_string() }
}

/// The whole answer: a list of entries, or an object whose `result` key holds one.
struct AnswerSeed<'w> {
    wanted: &'w dyn Fn(&str) -> bool,
}

impl<'de> DeserializeSeed<'de> for AnswerSeed<'_> {
    type Value = ResultList;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ResultList, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnswerSeed<'_> {
    type Value = ResultList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of results, or an object with a \"result\" list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ResultList, A::Error> {
        EntriesSeed { wanted: self.wanted }.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResultList, A::Error> {
        let mut list = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "result" {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if list.is_some() {
                return Err(A::Error::custom("the key \"result\" appears twice"));
            }
            list = Some(map.next_value_seed(EntriesSeed { wanted: self.wanted })?);
        }
        list.ok_or_else(|| A::Error::custom("an object without a \"result\" key"))
    }
}

/// The list of entries.
struct EntriesSeed<'w> {
    wanted: &'w dyn Fn(&str) -> bool,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = ResultList;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ResultList, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = ResultList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResultList, A::Error> {
        let mut list = ResultList::default();
        let mut position = 0;
        while let Some(entry) = seq.next_element::<RawEntry>()? {
            position += 1;
            match entry.read() {
                Ok((name, result)) if (self.wanted)(&name) => list.keep_the_worse(name, result),
                Ok(_) => {}
                Err(problem) => list.unreadable.add(format!("entry {position}{problem}")),
            }
        }
        Ok(list)
    }
}

/// One entry as found.
enum RawEntry {
    /// An object: the fields anycastd reads, each as whatever JSON value it was.
    Object(Fields),
    /// Anything else, and what it was.
    NotAnObject(Kind),
}

#[derive(Default)]
struct Fields {
    name: Option<Value>,
    success: Option<Value>,
    timestamp: Option<Value>,
    message: Option<Value>,
    /// A field given twice, which JSON parsers resolve differently: never guess which one Cabourotte meant.
    repeated: Option<&'static str>,
}

impl RawEntry {
    /// The check's name and result; a result whose fields are malformed is a failure saying which field is wrong.
    /// Without a readable name, the entry cannot be anyone's: the error describes it, to follow "entry N".
    fn read(self) -> Result<(String, CheckResult), String> {
        let fields = match self {
            RawEntry::Object(fields) => fields,
            RawEntry::NotAnObject(kind) => return Err(format!(" is {kind}, expected an object")),
        };
        let name = match &fields.name {
            Some(Value::String(name)) => name.clone(),
            Some(other) => return Err(format!(": field \"name\" is {}, expected a string", other.kind())),
            None => return Err(" has no field \"name\"".to_string()),
        };
        let result = fields.result().unwrap_or_else(|problem| CheckResult {
            success: false,
            message: format!("Cabourotte's result for {name} is malformed: {problem}"),
            timestamp: None,
        });
        Ok((name, result))
    }
}

impl Fields {
    fn result(&self) -> Result<CheckResult, String> {
        if let Some(field) = self.repeated {
            return Err(format!("field \"{field}\" appears twice"));
        }
        let success = match &self.success {
            Some(Value::Bool(success)) => *success,
            Some(other) => return Err(format!("field \"success\" is {}, expected true or false", other.kind())),
            None => return Err("field \"success\" is missing".to_string()),
        };
        let timestamp = match &self.timestamp {
            None | Some(Value::Null) => None,
            Some(Value::Integer(seconds)) => Some(*seconds),
            Some(other) => {
                return Err(format!(
                    "field \"healthcheck-timestamp\" is {}, expected whole Unix seconds",
                    other.kind()
                ));
            }
        };
        let message = match &self.message {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(message)) => message.clone(),
            Some(other) => return Err(format!("field \"message\" is {}, expected a string", other.kind())),
        };
        Ok(CheckResult { success, message, timestamp })
    }
}

impl<'de> serde::Deserialize<'de> for RawEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawEntry, D::Error> {
        deserializer.deserialize_any(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = RawEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a result object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEntry, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<String>()? {
            let (slot, field) = match key.as_str() {
                "name" => (&mut fields.name, "name"),
                "success" => (&mut fields.success, "success"),
                "healthcheck-timestamp" => (&mut fields.timestamp, "healthcheck-timestamp"),
                "message" => (&mut fields.message, "message"),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value::<Value>()?;
            if slot.replace(value).is_some() {
                fields.repeated.get_or_insert(field);
            }
        }
        Ok(RawEntry::Object(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawEntry, A::Error> {
        ValueVisitor.visit_seq(seq).map(|value| RawEntry::NotAnObject(value.kind()))
    }

    fn visit_bool<E>(self, _: bool) -> Result<RawEntry, E> {
        Ok(RawEntry::NotAnObject(Kind::Bool))
    }

    fn visit_i64<E>(self, _: i64) -> Result<RawEntry, E> {
        Ok(RawEntry::NotAnObject(Kind::Number))
    }

    fn visit_u64<E>(self, _: u64) -> Result<RawEntry, E> {
        Ok(RawEntry::NotAnObject(Kind::Number))
    }

    fn visit_f64<E>(self, _: f64) -> Result<RawEntry, E> {
        Ok(RawEntry::NotAnObject(Kind::Number))
    }

    fn visit_str<E>(self, _: &str) -> Result<RawEntry, E> {
        Ok(RawEntry::NotAnObject(Kind::String))
    }

    fn visit_unit<E>(self) -> Result<RawEntry, E> {
        Ok(RawEntry::NotAnObject(Kind::Null))
    }
}

/// A field's value, reduced to what anycastd reads from it; lists and objects are skipped, not built.
enum Value {
    Null,
    Bool(bool),
    /// A whole number that fits Unix seconds.
    Integer(i64),
    /// Any other number: with a fraction, an exponent, or out of range.
    OtherNumber(Kind),
    String(String),
    List,
    Object,
}

/// What a JSON value is, in the words of an error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    Fraction,
    Decimal,
    OutOfRange,
    String,
    List,
    Object,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Null => "null",
            Kind::Bool => "true or false",
            Kind::Number => "a number",
            Kind::Fraction => "a number with a fraction",
            Kind::Decimal => "a number written with a decimal point or an exponent",
            Kind::OutOfRange => "a number out of range",
            Kind::String => "a string",
            Kind::List => "a list",
            Kind::Object => "an object",
        })
    }
}

impl Value {
    fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Integer(_) => Kind::Number,
            Value::OtherNumber(kind) => *kind,
            Value::String(_) => Kind::String,
            Value::List => Kind::List,
            Value::Object => Kind::Object,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Integer(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(i64::try_from(value).map_or(Value::OtherNumber(Kind::OutOfRange), Value::Integer))
    }

    /// serde_json reads a number with a fraction or an exponent, and a whole number beyond 64 bits, as a float.
    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        let kind = match () {
            _ if value.fract() != 0.0 => Kind::Fraction,
            _ if value.abs() >= 9.2e18 => Kind::OutOfRange,
            _ => Kind::Decimal,
        };
        Ok(Value::OtherNumber(kind))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    /// Skipped element by element: serde_json skips nested values without recursion, so no depth is too deep.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::List)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARE: &str = include_str!("../../../tests/fixtures/cabourotte-result-list.json");
    const WRAPPED: &str = include_str!("../../../tests/fixtures/cabourotte-result-list-wrapped.json");

    fn parse(body: &str) -> Result<ResultList, String> {
        parse_result_list(body, &|_| true)
    }

    fn result_of(entry: &str) -> CheckResult {
        parse(&format!("[{entry}]")).expect("a list")["dns"].clone()
    }

    #[test]
    fn both_list_shapes_parse_to_the_same_results() {
        let bare = parse(BARE).expect("bare array");
        assert_eq!(bare, parse(WRAPPED).expect("wrapped list"));
        assert_eq!(bare.checks_with_results(), 3);
        assert_eq!(
            bare["ntp_v4"],
            CheckResult {
                success: false,
                message: "Command failed: exit status 1, output: no server suitable for synchronization found".into(),
                timestamp: Some(1764030001),
            }
        );
        assert!(bare["ntp_v6"].success, "a summary that is an object does not matter");
    }

    #[test]
    fn only_the_checks_asked_for_are_kept() {
        let list = parse_result_list(BARE, &|name| name == "dns").expect("a list");
        assert_eq!((list.checks_with_results(), list.get("dns").map(|r| r.success)), (1, Some(true)));
    }

    #[test]
    fn a_check_listed_twice_fails_if_either_entry_fails() {
        for body in [
            r#"[{"name": "dns", "success": false, "message": "timeout"}, {"name": "dns", "success": true}]"#,
            r#"[{"name": "dns", "success": true}, {"name": "dns", "success": false, "message": "timeout"}]"#,
        ] {
            let list = parse(body).expect("a list");
            assert_eq!(
                list["dns"],
                CheckResult { success: false, message: "timeout".into(), timestamp: None },
                "{body}"
            );
        }
    }

    #[test]
    fn a_malformed_entry_is_a_failing_result_naming_the_field() {
        let malformed = |problem: &str| CheckResult {
            success: false,
            message: format!("Cabourotte's result for dns is malformed: {problem}"),
            timestamp: None,
        };
        for (entry, problem) in [
            (r#"{"name": "dns", "success": "true"}"#, r#"field "success" is a string, expected true or false"#),
            (
                r#"{"name": "dns", "success": true, "healthcheck-timestamp": 1764030000.5}"#,
                r#"field "healthcheck-timestamp" is a number with a fraction, expected whole Unix seconds"#,
            ),
            (
                r#"{"name": "dns", "success": true, "healthcheck-timestamp": 9223372036854775808}"#,
                r#"field "healthcheck-timestamp" is a number out of range, expected whole Unix seconds"#,
            ),
            (
                r#"{"name": "dns", "success": true, "healthcheck-timestamp": 1e30}"#,
                r#"field "healthcheck-timestamp" is a number out of range, expected whole Unix seconds"#,
            ),
            (r#"{"name": "dns", "success": true, "message": 42}"#, r#"field "message" is a number, expected a string"#),
            (r#"{"name": "dns"}"#, r#"field "success" is missing"#),
            (r#"{"name": "dns", "success": false, "success": true}"#, r#"field "success" appears twice"#),
        ] {
            assert_eq!(result_of(entry), malformed(problem), "{entry}");
        }
    }

    #[test]
    fn a_null_message_or_timestamp_is_no_message_or_timestamp() {
        let entry = r#"{"name": "dns", "success": true, "message": null, "healthcheck-timestamp": null}"#;
        assert_eq!(result_of(entry), CheckResult { success: true, message: String::new(), timestamp: None });
    }

    #[test]
    fn entries_without_a_readable_name_are_described_by_position() {
        let list =
            parse(r#"[{"success": true}, {"name": 7}, 3, [1], {"name": "a", "success": true}, {}]"#).expect("a list");
        assert_eq!(list.checks_with_results(), 1);
        assert_eq!(
            list.unreadable().to_string(),
            r#"entry 1 has no field "name"; entry 2: field "name" is a number, expected a string; entry 3 is a number, expected an object (and 2 more)"#
        );
    }

    #[test]
    fn a_summary_nested_deeper_than_json_parsers_recurse_is_skipped() {
        let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
        let body = format!(r#"[{{"name": "dns", "summary": {deep}, "success": true, "message": "success"}}]"#);
        assert!(parse(&body).expect("a list")["dns"].success);
    }

    #[test]
    fn other_json_is_an_error_giving_the_reason_and_quoting_the_body() {
        assert_eq!(
            parse(r#"{"message": "not found"}"#),
            Err(r#"unexpected answer, not a Cabourotte result list (an object without a "result" key at line 1 column 24): {"message": "not found"}"#.into())
        );
        assert_eq!(
            parse("<html>"),
            Err("unexpected answer, not a Cabourotte result list (expected value at line 1 column 1): <html>".into())
        );
        assert!(
            parse(r#"{"result": [], "result": [{"name": "dns", "success": true}]}"#)
                .unwrap_err()
                .contains("appears twice")
        );
        assert!(parse("[] []").unwrap_err().contains("trailing characters"));
    }
}
