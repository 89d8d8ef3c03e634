//! What miette is shown of the configuration file for one problem: only the lines its labels touch, one line of
//! context either side, each long line cut to a window around the label.
//!
//! Handing miette the whole file was wrong three ways. It scans the file from its start for every label, so reporting
//! N problems cost N times the file (10,000 errors took minutes). It pads to the label's column with a format width,
//! and a column past 65,535 panics ("Formatting argument out of range"). And it prints a 100,000-character line whole.
//! An [`Excerpt`] is small, found through a line index, and tells miette the real line numbers and columns, so the
//! report reads as before.
//!
//! The excerpt holds its own text: lines (or windows of lines) one after the other, each ending in `\n`. Label spans
//! are translated into that text by [`Excerpt::span`]. Lines that are not next to each other in the file belong to
//! different groups, and a read never crosses a group, so miette numbers every line right.

use std::ops::Range;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// A line longer than this many bytes is shown as a window of it.
const WIDTH: usize = 160;
/// How far before a label's start its window begins.
const LEAD: usize = 40;
/// A label spanning more lines than this is shown on its first line only.
const MOST_LINES: usize = 6;
/// Marks the side where a window cuts its line.
const CUT: &str = "…";

/// The start of every line of a text, to find the line of an offset by binary search.
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    /// Indexes `text` (one pass).
    pub(crate) fn new(text: &'t str) -> Self {
        let mut starts: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(at, _)| at + 1)).collect();
        if starts.len() > 1 && text.ends_with('\n') {
            starts.pop();
        }
        LineIndex { text, starts }
    }

    /// Where byte `offset` is, as an editor shows it: `line 3, column 7` (both from 1, columns in characters).
    pub(crate) fn place_of(&self, offset: usize) -> String {
        let line = self.line_of(offset);
        let start = self.starts[line];
        let column = self.text.get(start..offset.min(self.text.len())).map_or(0, |before| before.chars().count());
        format!("line {}, column {}", line + 1, column + 1)
    }

    /// The line (from 0) holding byte `offset`; the end of the text is on its last line.
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset).saturating_sub(1)
    }

    /// The bytes of line `line`, without its line break.
    fn bounds(&self, line: usize) -> Range<usize> {
        let start = self.starts[line];
        let end = self.starts.get(line + 1).map_or(self.text.trim_end_matches('\n').len().max(start), |next| next - 1);
        let end = if self.text[start..end].ends_with('\r') { end - 1 } else { end };
        start..end
    }

    fn line_count(&self) -> usize {
        self.starts.len()
    }
}

/// One line of the excerpt: a window of a line of the file.
#[derive(Clone, Debug)]
struct Shown {
    /// The line in the file, from 0.
    line: usize,
    /// Where the line starts in the file, to give miette the file's columns.
    line_start: usize,
    /// The bytes of the file shown.
    window: Range<usize>,
    /// Where it starts in the excerpt's text, after its leading cut mark if any.
    at: usize,
    /// Where its line ends in the excerpt's text (before `\n`), after its trailing cut mark if any.
    end: usize,
    /// Lines of one group follow each other in the file.
    group: usize,
}

/// The part of the file shown for one problem.
#[derive(Debug)]
pub(crate) struct Excerpt {
    name: String,
    text: String,
    shown: Vec<Shown>,
}

/// The lines one label wants shown, each with the byte where its window should start.
type Wanted = Vec<(usize, usize)>;

impl Excerpt {
    /// The excerpt of file `name` (indexed by `index`, `shown_text` being what may be printed of it, the same length)
    /// for labels at `spans`; returns it with each span translated into it.
    pub(crate) fn new(
        name: &str,
        index: &LineIndex<'_>,
        shown_text: &str,
        spans: &[Range<usize>],
    ) -> (Excerpt, Vec<Range<usize>>) {
        let spans: Vec<Range<usize>> = spans.iter().map(|span| clamp(index, span)).collect();
        let mut order: Vec<usize> = (0..spans.len()).collect();
        order.sort_by_key(|&i| (spans[i].start, spans[i].end));
        let mut groups: Vec<Wanted> = Vec::new();
        for &i in &order {
            let wanted = wanted_lines(index, &spans[i]);
            match groups.last_mut() {
                Some(last) if mergeable(index, last, &wanted) => merge(last, wanted),
                _ => groups.push(wanted),
            }
        }
        let mut excerpt = Excerpt { name: name.to_string(), text: String::new(), shown: Vec::new() };
        for (group, lines) in groups.into_iter().enumerate() {
            for (line, anchor) in lines {
                excerpt.push(index, shown_text, line, anchor, group);
            }
        }
        let translated = spans.iter().map(|span| excerpt.translate(index, span)).collect();
        (excerpt, translated)
    }

    fn push(&mut self, index: &LineIndex<'_>, shown_text: &str, line: usize, anchor: usize, group: usize) {
        let bounds = index.bounds(line);
        let window = window(shown_text, &bounds, anchor);
        if window.start > bounds.start {
            self.text.push_str(CUT);
        }
        let at = self.text.len();
        self.text.push_str(&shown_text[window.clone()]);
        if window.end < bounds.end {
            self.text.push_str(CUT);
        }
        let end = self.text.len();
        self.text.push('\n');
        self.shown.push(Shown { line, line_start: bounds.start, window, at, end, group });
    }

    /// A span of the file as a span of the excerpt, cut to what is shown. The end is looked for from the showing of
    /// the start on, so that a label on a line shown twice stays within one window.
    fn translate(&self, index: &LineIndex<'_>, span: &Range<usize>) -> Range<usize> {
        let Some(first) = self.showing(index.line_of(span.start), span.start, 0) else { return 0..0 };
        let last = self.showing(index.line_of(span.end), span.end, first).unwrap_or(first);
        let start = self.position(first, span.start);
        start..self.position(last, span.end).max(start)
    }

    /// The shown line, from `from` on, that shows byte `offset` of file line `line`, or else the first showing it.
    fn showing(&self, line: usize, offset: usize, from: usize) -> Option<usize> {
        let mut showings = (from..self.shown.len()).filter(|&i| self.shown[i].line == line);
        let first = showings.clone().next();
        showings.find(|&i| self.shown[i].window.contains(&offset) || self.shown[i].window.end == offset).or(first)
    }

    /// Where byte `offset` of the file is in shown line `i`, kept within its window.
    fn position(&self, i: usize, offset: usize) -> usize {
        let shown = &self.shown[i];
        shown.at + (offset.clamp(shown.window.start, shown.window.end) - shown.window.start)
    }

    /// The shown line holding excerpt offset `at`.
    fn shown_at(&self, at: usize) -> usize {
        self.shown.partition_point(|shown| shown.end < at).min(self.shown.len().saturating_sub(1))
    }
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        if self.shown.is_empty() || span.offset() + span.len() > self.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let (first, last) = (self.shown_at(span.offset()), self.shown_at(span.offset() + span.len()));
        let group = self.shown[first].group;
        if self.shown[last].group != group {
            return Err(MietteError::OutOfBounds);
        }
        let mut top = first;
        while top > 0 && first - top < context_lines_before && self.shown[top - 1].group == group {
            top -= 1;
        }
        let mut bottom = last;
        while bottom + 1 < self.shown.len()
            && bottom - last < context_lines_after
            && self.shown[bottom + 1].group == group
        {
            bottom += 1;
        }
        let start = self.line_start(top);
        let end = self.shown[bottom].end + 1;
        let column = if context_lines_before == 0 {
            let shown = &self.shown[first];
            span.offset().saturating_sub(shown.at) + shown.window.start - shown.line_start
        } else {
            0
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            &self.text.as_bytes()[start..end],
            (start, end - start).into(),
            self.shown[top].line,
            column,
            bottom - top + 1,
        )))
    }
}

impl Excerpt {
    /// Where shown line `i` starts in the excerpt, its leading cut mark included.
    fn line_start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.shown[i - 1].end + 1 }
    }
}

/// A span kept inside the text, on character boundaries; one over more than [`MOST_LINES`] lines is cut to the end
/// of its first line.
fn clamp(index: &LineIndex<'_>, span: &Range<usize>) -> Range<usize> {
    let floor = |mut at: usize| {
        at = at.min(index.text.len());
        while !index.text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let start = floor(span.start);
    let end = floor(span.end).max(start);
    let first = index.line_of(start);
    if index.line_of(end) - first >= MOST_LINES { start..index.bounds(first).end.max(start) } else { start..end }
}

/// The lines a label wants: its own and one either side, each with the byte its window should start near: the
/// label's column, except on the lines a label continues on.
fn wanted_lines(index: &LineIndex<'_>, span: &Range<usize>) -> Wanted {
    let first = index.line_of(span.start);
    let last = index.line_of(span.end);
    let anchor_column = span.start - index.bounds(first).start;
    let from = first.saturating_sub(1);
    let to = (last + 1).min(index.line_count() - 1);
    (from..=to)
        .map(|line| {
            let start = index.bounds(line).start;
            let continued = first < line && line <= last;
            (line, if continued { start } else { start + anchor_column })
        })
        .collect()
}

/// Whether two labels' lines can be shown as one group: they touch, and any long line they share has room for both.
fn mergeable(index: &LineIndex<'_>, group: &Wanted, next: &Wanted) -> bool {
    let (Some(&(last, _)), Some(&(first, _))) = (group.last(), next.first()) else { return false };
    if first > last + 1 {
        return false;
    }
    group.iter().all(|&(line, anchor)| {
        next.iter()
            .filter(|&&(other, _)| other == line)
            .all(|&(_, other)| index.bounds(line).len() <= WIDTH || anchor.abs_diff(other) + LEAD * 2 <= WIDTH)
    })
}

fn merge(group: &mut Wanted, next: Wanted) {
    for (line, anchor) in next {
        match group.iter_mut().find(|(shown, _)| *shown == line) {
            Some((_, kept)) => *kept = (*kept).min(anchor),
            None => group.push((line, anchor)),
        }
    }
}

/// The bytes of a line shown: all of it when short, else [`WIDTH`] bytes from a little before `anchor`.
fn window(text: &str, line: &Range<usize>, anchor: usize) -> Range<usize> {
    if line.len() <= WIDTH {
        return line.clone();
    }
    let anchor = anchor.clamp(line.start, line.end);
    let mut start = anchor.saturating_sub(LEAD).max(line.start).min(line.end.saturating_sub(WIDTH));
    let mut end = (start + WIDTH).min(line.end);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    /// The report of `text` as the binary prints it, without colour.
    fn report(text: &str) -> String {
        let error = Config::parse(text, "t.toml").expect_err("invalid");
        let mut out = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(400)
            .render_report(&mut out, &error)
            .expect("rendered");
        out
    }

    #[test]
    fn labels_far_apart_are_shown_apart_with_their_own_line_numbers() {
        let filler = "# filler\n".repeat(20);
        let text = format!(
            "[services.a]\nprefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [\"a\"]\n{filler}[services.b]\n\
             prefixes.frrouting = [\"203.0.113.53\"]\nchecks.cabourotte = [\"b\"]\n"
        );
        let out = report(&text);
        assert!(
            out.contains(
                "   ╭─[t.toml:2:23]\n 1 │ [services.a]\n 2 │ prefixes.frrouting = [\"203.0.113.53\"]\n   ·                       \
                 ───────┬──────\n   ·                              ╰── first defined here\n 3 │ checks.cabourotte = [\"a\"]\n   ╰────\n"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "    ╭─[t.toml:25:23]\n 24 │ [services.b]\n 25 │ prefixes.frrouting = [\"203.0.113.53\"]\n    ·                       \
                 ───────┬──────\n    ·                              ╰── defined again here\n 26 │ checks.cabourotte = [\"b\"]\n    ╰────\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn two_labels_far_apart_on_one_long_line_get_a_window_each() {
        let mut prefixes: Vec<String> = (0..100).map(|i| format!("\"10.0.0.{i}\"")).collect();
        prefixes.push("\"10.0.0.0\"".to_string());
        let text =
            format!("[services.a]\nprefixes.frrouting = [{}]\nchecks.cabourotte = [\"a\"]\n", prefixes.join(", "));
        let out = report(&text);
        assert!(
            out.contains("╭─[t.toml:2:23]\n 1 │ [services.a]\n 2 │ prefixes.frrouting = [\"10.0.0.0\", \"10.0.0.1\""),
            "{out}"
        );
        assert!(out.contains("╰── first defined here"), "{out}");
        assert!(out.contains("╭─[t.toml:2:1313]\n 1 │ [services.a]\n 2 │ …"), "{out}");
        assert!(out.contains("\"10.0.0.99\", \"10.0.0.0\"]\n"), "{out}");
        assert!(out.lines().all(|line| line.chars().count() < 250), "{out}");
    }

    #[test]
    fn a_label_over_many_lines_is_shown_on_its_first_line() {
        let lines: String = (0..50).map(|i| format!("  \"10.0.0.{i}\",\n")).collect();
        let text = format!("[services.a]\nprefixes = [\n{lines}]\nchecks.cabourotte = [\"a\"]\n");
        let out = report(&text);
        assert!(out.contains("╭─[t.toml:2:12]\n 1 │ [services.a]\n 2 │ prefixes = [\n   ·            ┬\n"), "{out}");
        assert!(!out.contains("10.0.0.1\""), "{out}");
    }

    #[test]
    fn windows_of_crlf_lines_and_errors_at_the_end_of_the_file() {
        let out = report("[services.a]\r\nprefixes.frrouting = [\"300.0.0.1\"]\r\nchecks.cabourotte = [\"a\"]\r\n");
        assert!(out.contains(" 2 │ prefixes.frrouting = [\"300.0.0.1\"]\n"), "{out}");
        let out = report("[services.a]\nprefixes.frrouting = [");
        assert!(out.contains("invalid TOML"), "{out}");
        assert!(out.contains(" 2 │ prefixes.frrouting = [\n"), "{out}");
    }
}
