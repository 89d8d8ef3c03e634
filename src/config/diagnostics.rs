//! Configuration errors as miette diagnostics that point at the offending part of the file.
//!
//! The problems keep their spans in the file; what miette renders is a [`Shown`] problem per problem, built once with
//! its own small [`Excerpt`] of the file (see `excerpt.rs` for why miette never sees the whole file).

use std::fmt;
use std::ops::Range;
use std::path::Path;

use miette::{Diagnostic, LabeledSpan, SourceCode};

use super::excerpt::{Excerpt, LineIndex};

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
    pub fn new(span: Range<usize>, message: impl Into<String>, label: impl Into<String>) -> Self {
        ConfigProblem { message: message.into(), span, label: label.into(), help: None, related: None }
    }

    /// Adds how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a second labelled place.
    pub fn also_at(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
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
        let labels = places
            .into_iter()
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
        Shown { message: problem.message.clone(), help: problem.help.clone(), labels, excerpt }
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
    pub fn unreadable(path: &Path, error: &std::io::Error) -> Self {
        ConfigError::Unreadable { path: path.display().to_string(), reason: error.to_string() }
    }

    /// `text` from `origin` has `problems`. Each excerpt is found through one line index of the text, so the cost
    /// is the text's length once plus a small part of it per problem.
    pub fn invalid(origin: &str, text: &str, problems: Vec<ConfigProblem>) -> Self {
        let index = LineIndex::new(text);
        let shown = problems.iter().map(|problem| Shown::new(problem, origin, &index, text)).collect();
        ConfigError::Invalid { name: origin.to_string(), problems, shown }
    }

    /// The problems found in the file (none when it could not be read).
    #[cfg(test)]
    pub fn problems(&self) -> &[ConfigProblem] {
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
