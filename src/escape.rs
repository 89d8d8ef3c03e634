//! Text from outside anycastd (Cabourotte's messages, vtysh's output, files of the state directory, paths on the
//! command line), made safe to print on a terminal or in a log line.
//!
//! A control character in such text could end a log line and forge the next one (`\n`), or drive the terminal (ANSI
//! and OSC escapes start with ESC). The renderers pass every external string through [`escape`] as they write it:
//! control characters (C0, DEL, C1), the Unicode line and paragraph separators and the bidirectional overrides (which
//! reorder what is displayed) become visible escapes such as `\n` or `\u{1b}`. Backslashes are left as they are.
//! JSON output needs none of this: serde_json escapes control characters itself.

use std::borrow::Cow;

/// `text` with every unsafe character written as an escape; borrowed when there is none (the usual case).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` with every unsafe character replaced by as many `?` as it has bytes: for text whose byte offsets must stay
/// where they were (the excerpt of a configuration error, whose labels point into it). Line breaks (`\n`, `\r\n`)
/// and tabs are kept: they are the text's layout.
pub(crate) fn mask(text: &str) -> Cow<'_, str> {
    let kept =
        |c: char, next: Option<char>| !is_unsafe(c) || c == '\n' || c == '\t' || (c == '\r' && next == Some('\n'));
    let mut chars = text.chars().peekable();
    let mut out = String::new();
    let mut changed = false;
    while let Some(c) = chars.next() {
        if kept(c, chars.peek().copied()) {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
            changed = true;
        }
    }
    if changed { Cow::Owned(out) } else { Cow::Borrowed(text) }
}

/// Whether `c` must not reach a terminal or a log line as it is.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(
            escape("timeout\nanycastd apply: announced\u{1b}[2K\u{1b}]0;x\u{7}"),
            "timeout\\nanycastd apply: announced\\u{1b}[2K\\u{1b}]0;x\\u{7}"
        );
        assert_eq!(escape("a\r\tb\u{7f}\u{9b}c\u{202e}d\u{2028}"), "a\\r\\tb\\u{7f}\\u{9b}c\\u{202e}d\\u{2028}");
        assert!(matches!(escape("plain text, é, \\n stays"), Cow::Borrowed(_)));
    }

    #[test]
    fn masking_keeps_every_byte_offset() {
        let text = "a\u{1b}b\u{202e}c\td\re\r\n";
        assert_eq!(mask(text), "a?b???c\td?e\r\n");
        assert_eq!(mask(text).len(), text.len());
    }
}
