//! Configuration errors as miette diagnostics that point at the offending part of the file.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

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

impl Diagnostic for ConfigProblem {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let main = LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span.clone());
        let related =
            self.related.iter().map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), span.clone()));
        Some(Box::new(std::iter::once(main).chain(related)))
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
        /// The file's text, named by its path, for the diagnostics.
        source: NamedSource<String>,
        /// Every problem found, in file order.
        problems: Vec<ConfigProblem>,
    },
}

impl ConfigError {
    /// The file at `path` could not be read.
    pub fn unreadable(path: &Path, error: &std::io::Error) -> Self {
        ConfigError::Unreadable { path: path.display().to_string(), reason: error.to_string() }
    }

    /// `text` from `origin` has `problems`.
    pub fn invalid(origin: &str, text: &str, problems: Vec<ConfigProblem>) -> Self {
        ConfigError::Invalid { source: NamedSource::new(origin, text.to_string()), problems }
    }

    /// The problems found in the file (none when it could not be read).
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
            ConfigError::Invalid { source, problems } => {
                let count = problems.len();
                let plural = if count == 1 { "" } else { "s" };
                write!(f, "the configuration {} has {count} error{plural}", source.name())
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

    fn source_code(&self) -> Option<&dyn SourceCode> {
        match self {
            ConfigError::Unreadable { .. } => None,
            ConfigError::Invalid { source, .. } => Some(source),
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems().iter().map(|problem| problem as &dyn Diagnostic)))
    }
}
