//! Configuration errors as miette diagnostics that point at the offending part of the file.
//!
//! The problems keep their spans in the file; what miette renders is a [`Shown`] problem per problem, built once with
//! its own small [`Excerpt`] of the file (see `excerpt.rs` for why miette never sees the whole file).

use std::fmt;
use std::ops::Range;
use std::path::Path;

use miette::{Diagnostic, LabeledSpan, SourceCode};

use super::excerpt::{Excerpt, LineIndex};
use crate::escape::{self, escape};

/// One thing wrong in the configuration, with the span of the file it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// What is wrong, in one sentence.
    pub message: String,
    /// The byte range of the file it is about.
    pub span: Range<usize>,
    /// The short text shown under the span.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    /// A second place that matters (e.g. the first of two duplicates).
    pub related: Option<(Range<usize>, String)>,
}

impl ConfigProblem {
    /// A problem at `span` with a message and a label.
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>, label: impl Into<String>) -> Self {
        ConfigProblem { message: message.into(), span, label: label.into(), help: None, related: None }
    }

    /// Adds how to fix it.
    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a second labelled place.
    pub(crate) fn also_at(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.related = Some((span, label.into()));
        self
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigProblem {}

/// A problem as miette renders it: its labels translated into its own excerpt of the file.
#[derive(Debug)]
pub struct Shown {
    /// Where the problem is (`line 3, column 7`), for a one-line rendering.
    place: String,
    message: String,
    help: Option<String>,
    labels: Vec<LabeledSpan>,
    excerpt: Excerpt,
}

impl Shown {
    fn new(problem: &ConfigProblem, name: &str, index: &LineIndex<'_>, text: &str) -> Shown {
        let mut places = vec![(problem.span.clone(), problem.label.clone())];
        places.extend(problem.related.clone());
        let spans: Vec<Range<usize>> = places.iter().map(|(span, _)| span.clone()).collect();
        let (excerpt, spans) = Excerpt::new(name, index, text, &spans);
        let printable = |text: &str| escape(&without_passwords(text)).into_owned();
        let places = places.into_iter().map(|(span, label)| (span, printable(&label)));
        let labels = places
            .zip(spans)
            .enumerate()
            .map(|(i, ((_, label), span))| {
                if i == 0 {
                    LabeledSpan::new_primary_with_span(Some(label), span)
                } else {
                    LabeledSpan::new_with_span(Some(label), span)
                }
            })
            .collect();
        // A message quotes the value it is about, and a URL with a password may be where a prefix was expected.
        let message = printable(&problem.message);
        let help = problem.help.as_deref().map(printable);
        let place = index.place_of(problem.span.start);
        Shown { place, message, help, labels, excerpt }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Shown {}

impl Diagnostic for Shown {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.excerpt)
    }
}

/// `text` with the password of every `scheme://user:password@` replaced by as many `*` as it has bytes, so that the
/// excerpt of an error never shows one, while every byte offset (and so every span) stays where it was. The password
/// is taken to run from the first `:` after `://` to the last `@` before the end of its TOML string (or, outside a
/// string, of the word), so an unencoded `/` or `@` in it is masked too; masking a little more than a password is
/// harmless.
fn without_passwords(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for (scheme_end, _) in text.match_indices("://") {
        let line_start = text[..scheme_end].rfind('\n').map_or(0, |newline| newline + 1);
        let quote = text[line_start..scheme_end].chars().rev().find(|c| matches!(c, '"' | '\''));
        let rest = &text[scheme_end + 3..];
        let token = &rest[..string_end(rest, quote)];
        let at_sign = ["@", "\\u0040", "\\U00000040"].iter().filter_map(|at| token.rfind(at)).max();
        if let (Some(colon), Some(at_sign)) = (token.find(':'), at_sign)
            && colon < at_sign
        {
            let start = scheme_end + 3 + colon + 1;
            bytes[start..start + (at_sign - colon - 1)].fill(b'*');
        }
    }
    // Only whole characters were replaced, each byte by an ASCII `*`: the text is still UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

/// Where the string that `rest` is in ends: at its closing quote (a `\` escapes the next character of a `"` string),
/// at the end of the line, or outside any string at white space.
fn string_end(rest: &str, quote: Option<char>) -> usize {
    let mut escaped = false;
    for (at, c) in rest.char_indices() {
        let ends = match quote {
            _ if c == '\n' => true,
            Some('"') if escaped => false,
            Some('"') => c == '"',
            Some(_) => c == '\'',
            None => c.is_whitespace() || matches!(c, '"' | '\''),
        };
        if ends {
            return at;
        }
        escaped = c == '\\' && !escaped;
    }
    rest.len()
}

/// Why the configuration could not be used.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Unreadable {
        /// The path as given.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The file was read but is not a valid configuration; every problem found is listed.
    Invalid {
        /// The file, as named in messages.
        name: String,
        /// Every problem found, in file order.
        problems: Vec<ConfigProblem>,
        /// The same problems as rendered, each with its excerpt of the file.
        shown: Vec<Shown>,
    },
}

impl ConfigError {
    /// The file at `path` could not be read.
    pub(crate) fn unreadable(path: &Path, reason: &str) -> Self {
        let path = escape(&path.display().to_string()).into_owned();
        ConfigError::Unreadable { path, reason: escape(reason).into_owned() }
    }

    /// `text` from `origin` has `problems`. Each excerpt is found through one line index of the text, so the cost
    /// is the text's length once plus a small part of it per problem.
    /// What is shown is escaped (messages) or masked (the file's text, byte for byte): see `escape.rs`.
    pub(crate) fn invalid(origin: &str, text: &str, problems: Vec<ConfigProblem>) -> Self {
        let text = without_passwords(text);
        let text = escape::mask(&text);
        let name = escape(origin).into_owned();
        let index = LineIndex::new(&text);
        let shown = problems.iter().map(|problem| Shown::new(problem, &name, &index, &text)).collect();
        ConfigError::Invalid { name, problems, shown }
    }

    /// The error in one line, for a log line (the journal shows one line per entry): each problem at its place,
    /// with its help. `the configuration /etc/anycastd/config.toml has 1 error: line 3, column 1: unknown key ...`
    pub(crate) fn one_line(&self) -> String {
        match self {
            ConfigError::Unreadable { .. } => self.to_string(),
            ConfigError::Invalid { shown, .. } => {
                let problems: Vec<String> = shown
                    .iter()
                    .map(|problem| match &problem.help {
                        Some(help) => format!("{}: {} (help: {help})", problem.place, problem.message),
                        None => format!("{}: {}", problem.place, problem.message),
                    })
                    .collect();
                format!("{}: {}", self, problems.join("; "))
            }
        }
    }

    /// The problems found in the file (none when it could not be read).
    #[cfg(test)]
    pub(crate) fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::Unreadable { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Unreadable { path, reason } => write!(f, "cannot read the configuration {path}: {reason}"),
            ConfigError::Invalid { name, problems, .. } => {
                let count = problems.len();
                let plural = if count == 1 { "" } else { "s" };
                write!(f, "the configuration {name} has {count} error{plural}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Diagnostic for ConfigError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            ConfigError::Unreadable { .. } => {
                Some(Box::new("pass the file with --configuration PATH, or set ANYCASTD_CONFIG"))
            }
            ConfigError::Invalid { .. } => None,
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            ConfigError::Unreadable { .. } => None,
            ConfigError::Invalid { shown, .. } => Some(Box::new(shown.iter().map(|shown| shown as &dyn Diagnostic))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_passwords;

    #[test]
    fn passwords_are_masked_byte_for_byte_wherever_a_url_is() {
        for (text, masked) in [
            (r#"url = "https://anycast:s3cr3t@h:1""#, r#"url = "https://anycast:******@h:1""#),
            (r#"url = "http://u:p\"w@rd@h" x"#, r#"url = "http://u:*******@h" x"#),
            (r#"url = "http://u:pw\u0040h""#, r#"url = "http://u:**\u0040h""#),
            ("url = 'http://u:p\"é@h'", "url = 'http://u:****@h'"),
            ("# http://u:pw@h and \"http://u@h:80\"\n", "# http://u:**@h and \"http://u@h:80\"\n"),
        ] {
            assert_eq!(without_passwords(text), masked);
            assert_eq!(without_passwords(text).len(), text.len());
        }
    }
}
