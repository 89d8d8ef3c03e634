//! Whether the terminal can draw Unicode: the error reports' boxes and arrows need it.

/// Whether text for the user may hold box-drawing characters, from the environment as `var` reads it.
///
/// The locale decides, as for any C program: the first of `LC_ALL`, `LC_CTYPE` and `LANG` that is set and not empty
/// names the character set, and only a UTF-8 one can show `╭─`; none at all is the C locale, which is ASCII.
/// `TERM=dumb` (Emacs' shell, some CI logs) and `TERM=linux` (the kernel console's few glyphs) get ASCII whatever the
/// locale. miette's own guess looks at the locale only on a terminal and draws Unicode into every pipe, so under
/// `LANG=C` a report piped to a log showed boxes the reader's terminal could not render.
pub fn draws_unicode(var: impl Fn(&str) -> Option<String>) -> bool {
    if var("TERM").is_some_and(|term| term == "dumb" || term == "linux") {
        return false;
    }
    let charset = ["LC_ALL", "LC_CTYPE", "LANG"].into_iter().filter_map(&var).find(|value| !value.is_empty());
    charset.is_some_and(|locale| {
        let locale = locale.to_ascii_uppercase();
        locale.contains("UTF-8") || locale.contains("UTF8")
    })
}

/// [`draws_unicode`] for this process's environment.
pub fn environment_draws_unicode() -> bool {
    draws_unicode(|name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::draws_unicode;

    fn draws(vars: &[(&str, &str)]) -> bool {
        draws_unicode(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string()))
    }

    #[test]
    fn only_a_utf8_locale_on_a_capable_terminal_draws_unicode() {
        assert!(draws(&[("LANG", "C.UTF-8")]));
        assert!(draws(&[("LANG", "en_US.utf8"), ("TERM", "xterm-256color")]));
        assert!(draws(&[("LC_ALL", ""), ("LC_CTYPE", "de_DE.UTF-8"), ("LANG", "C")]));
        assert!(!draws(&[]));
        assert!(!draws(&[("LANG", "C")]));
        assert!(!draws(&[("LANG", "POSIX")]));
        assert!(!draws(&[("LC_ALL", "C"), ("LANG", "en_US.UTF-8")]));
        assert!(!draws(&[("LANG", "en_US.ISO-8859-1")]));
        assert!(!draws(&[("LANG", "C.UTF-8"), ("TERM", "dumb")]));
        assert!(!draws(&[("LANG", "C.UTF-8"), ("TERM", "linux")]));
    }
}
