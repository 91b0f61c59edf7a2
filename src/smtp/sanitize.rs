//! Server-provided text made safe to show: control and bidi characters escaped, lengths cut.
//!
//! A server (or whatever answers on its port) chooses every byte of its replies and certificate
//! fields. Shown raw, `ESC [ 2K` redraws a terminal line (a failed step drawn as passed), OSC 52
//! sets the clipboard, and a right-to-left override reorders what a person reads. So every string
//! the server provides is cleaned where it is read, and no later printer has to remember to.
//!
//! Order matters for secrets: redaction ([`super::redact`]) runs on the raw text first, then the
//! cut, then this cleaning — a password with a tab in it, or one straddling a cut, is still seen whole.

use std::borrow::Cow;
use std::fmt::Write as _;

/// How much of one transcript line (or one reply shown on one line) is kept, in bytes of the
/// server's text. RFC 5321 §4.5.3.1.5 allows 512 octets per reply line.
pub(crate) const MAX_SHOWN_BYTES: usize = 512;
/// How much of something that is not SMTP at all is quoted in a message.
pub(crate) const MAX_QUOTED_CHARS: usize = 120;
/// Appended where [`cut_bytes`] cut.
const CUT_MARK: &str = " [… cut]";

/// Whether `c` must not reach a terminal or a text view as itself.
fn needs_escape(c: char) -> bool {
    matches!(c,
        // C0 controls (ESC, BEL, CR, TAB, …), DEL, C1 controls (CSI U+009B, OSC U+009D, …).
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Bidi: embeddings and overrides, isolates, the LRM/RLM/ALM marks.
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}'
        // Line and paragraph separators: a line break to some terminals and every text view.
        | '\u{2028}' | '\u{2029}')
}

/// `s` with every control and bidi character shown as an escape: `\x1b`, `\t`, `\u{202e}`.
///
/// Idempotent: the escapes are plain ASCII, so cleaning clean text changes nothing. Backslashes
/// are left as they are (a server may write `\x1b` as text; that is harmless to show).
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` cut to at most `max` bytes (on a character boundary), marked where it was cut.
pub(crate) fn cut_bytes(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{CUT_MARK}", &s[..end]))
}

/// `s` cut to at most `max` characters, with `…` where it was cut.
pub(crate) fn cut_chars(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((end, _)) => Cow::Owned(format!("{}…", &s[..end])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_bidi() {
        let hostile = "220 mail.example \x1b[2K\r\x1b[32m✓ TLS trusted\x1b[0m \x1b]52;c;aGk=\x07 \u{202e}txt.exe\u{9b}";
        let shown = clean(hostile);
        assert_eq!(shown, "220 mail.example \\x1b[2K\\r\\x1b[32m✓ TLS trusted\\x1b[0m \\x1b]52;c;aGk=\\x07 \\u{202e}txt.exe\\u{9b}");
        assert!(!shown.chars().any(needs_escape));
        assert_eq!(clean(&shown), shown, "idempotent");
        assert!(matches!(clean("250 ok ✓ ünïcode"), Cow::Borrowed(_)));
        assert_eq!(clean("a\tb\u{7f}\u{0}\u{61c}\u{2066}"), "a\\tb\\x7f\\x00\\u{61c}\\u{2066}");
    }

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(cut_bytes("abc", 3), "abc");
        assert_eq!(cut_bytes("aé", 2), "a [… cut]");
        assert_eq!(cut_chars("ééé", 2), "éé…");
        assert_eq!(cut_chars("éé", 2), "éé");
    }
}
