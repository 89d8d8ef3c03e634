//! An operating system's error in words that read as part of anycastd's sentences.

use std::io;

/// `error` as the system says it, without Rust's ` (os error 111)` and with a lowercase initial, to read as part of
/// a sentence: `connection refused`, `operation not permitted`.
pub(crate) fn words(error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => text.as_str(),
    };
    let mut chars = text.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_error_number_goes_and_the_sentence_starts_in_lowercase() {
        assert_eq!(super::words(&std::io::Error::from_raw_os_error(libc::ECONNREFUSED)), "connection refused");
        assert_eq!(super::words(&std::io::Error::other("Odd (os error)")), "odd (os error)");
    }
}
