//! What must never be shown — the password and the forms AUTH PLAIN and LOGIN send it in — and
//! the one way server text becomes shown text: redact the raw text, then cut, then clean.
//!
//! Why redact first: cutting first can split an echoed credential so that half of it no longer
//! matches (and half of a base64 password is half the password); cleaning first turns a tab in a
//! password into `\t`, so the password no longer matches either.

use super::sanitize::{clean, cut_bytes, cut_chars, MAX_QUOTED_CHARS};
use super::sasl;
use std::borrow::Cow;

/// What a redacted secret is replaced with.
pub(crate) const MARK: &str = "********";

/// Forms shorter than this are replaced only where they stand as a token (see [`Redactor::new`]).
const MIN_ANYWHERE: usize = 4;

/// The credential forms to scrub from everything shown. Empty (scrubs nothing) until the
/// password is known.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    /// Longest first, so a form that contains another is replaced whole.
    forms: Vec<String>,
}

impl Redactor {
    /// The forms for `user` logging in with `password`: the password itself, the base64 of the
    /// password (LOGIN's second answer), of the user (LOGIN's first), and of the PLAIN responses
    /// `\0user\0password` and `user\0user\0password`; the password as cleaned text too, in case
    /// something shows it already cleaned. Base64 forms are kept without padding, so an echo with
    /// or without `=` matches.
    ///
    /// The rule for short forms: a form of 4 characters or more is replaced wherever it appears.
    /// A shorter one (a 1–3 character password, or the base64 of a 1–2 character one) appears
    /// inside ordinary words and codes all the time, so it is replaced only where it stands as a
    /// token — not preceded or followed by a letter or digit. That is exactly how a server echoes
    /// it (`535 bad password ab`, `\0user\0ab`, `YWI=`), so an echo is still caught.
    pub fn new(user: &str, password: &str) -> Self {
        let mut forms: Vec<String> = sasl::encoded_forms(user, password);
        forms.push(password.to_string());
        if let Cow::Owned(cleaned) = clean(password) {
            forms.push(cleaned);
        }
        forms.retain(|f| !f.is_empty());
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Self { forms }
    }

    /// Scrubs `form` too from now on: a secret only known mid-login (NTLM's authenticate message,
    /// which a server could echo back).
    pub fn also(&mut self, form: &str) {
        let form = form.trim_end_matches('=');
        if form.is_empty() || self.forms.iter().any(|f| f == form) {
            return;
        }
        self.forms.push(form.to_string());
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    /// `text` with every credential form replaced by [`MARK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for form in &self.forms {
            if !out.contains(form.as_str()) {
                continue;
            }
            let replaced = if form.chars().count() >= MIN_ANYWHERE { out.replace(form.as_str(), MARK) } else { replace_tokens(&out, form) };
            out = Cow::Owned(replaced);
        }
        out
    }

    /// Server text as shown on one line: redacted, cut to `max_bytes`, cleaned.
    pub fn show(&self, raw: &str, max_bytes: usize) -> String {
        clean(&cut_bytes(&self.redact(raw), max_bytes)).into_owned()
    }

    /// Text that is not SMTP, quoted in a message: redacted, cut to 120 characters, cleaned.
    pub fn quote(&self, raw: &str) -> String {
        clean(&cut_chars(&self.redact(raw), MAX_QUOTED_CHARS)).into_owned()
    }

    /// A finished message, summary or transcript line, scrubbed once more before it leaves the
    /// run: redacted and cleaned (both idempotent). Server text in it was already cleaned where
    /// it was read; this catches what came from elsewhere (an I/O or TLS library's error text)
    /// and secrets that became known only after a line was read.
    pub fn tidy(&self, text: &str) -> String {
        clean(&self.redact(text)).into_owned()
    }
}

/// Replaces `form` where it is not part of a longer word (letters and digits on either side).
fn replace_tokens(text: &str, form: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (i, _) in text.match_indices(form) {
        if i < last {
            continue;
        }
        let end = i + form.len();
        let before = text[..i].chars().next_back();
        let after = text[end..].chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
            out.push_str(&text[last..i]);
            out.push_str(MARK);
            last = end;
        }
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn redacts_password_and_auth_encodings() {
        let r = Redactor::new("u", "s3cret!");
        let plain = b64("\0u\0s3cret!");
        let text = format!("AUTH PLAIN {plain} and s3cret! and {}", b64("s3cret!"));
        let out = r.redact(&text);
        assert!(!out.contains("s3cret!") && !out.contains(&plain) && !out.contains(&b64("s3cret!")), "{out}");
    }

    #[test]
    fn short_passwords_are_redacted_as_tokens() {
        let r = Redactor::new("alice", "ab");
        assert_eq!(r.redact("535 wrong password ab for alice"), "535 wrong password ******** for alice");
        assert_eq!(r.redact("about a cab"), "about a cab", "inside words it stays");
        assert_eq!(r.redact("echo \0alice\0ab"), "echo \0alice\0********");
        assert_eq!(r.redact(&format!("334 {}", b64("ab"))), "334 ********=");
        assert_eq!(r.redact(&format!("535 {}", b64("\0alice\0ab"))), "535 ********");
    }

    #[test]
    fn a_password_with_a_tab_is_redacted_before_cleaning() {
        let r = Redactor::new("alice", "pa\tss-W0rd");
        let shown = r.show("535 echo: pa\tss-W0rd", 512);
        assert_eq!(shown, "535 echo: ********");
        assert_eq!(r.tidy("already cleaned: pa\\tss-W0rd"), "already cleaned: ********");
    }

    #[test]
    fn a_secret_across_the_cut_is_redacted_whole() {
        let r = Redactor::new("alice", "Secret-Password-1");
        let line = format!("535 {}{}", "x".repeat(500), b64("\0alice\0Secret-Password-1"));
        let shown = r.show(&line, 512);
        assert!(shown.ends_with("x******** [… cut]") || shown.ends_with("********"), "{shown}");
        let plain = b64("\0alice\0Secret-Password-1");
        assert!(!shown.contains(&plain[..8]), "{shown}");
    }
}
