//! The conversation with the server, line by line, in the style of swaks, with secrets redacted.
//!
//! Credentials are redacted twice: the AUTH code records a placeholder instead of what it sends,
//! and [`redact`] scrubs the password and its base64 forms from every line before a transcript
//! leaves this module's callers — in case a server echoes them back.

use base64::Engine as _;
use serde::Serialize;
use ts_rs::TS;

/// Who wrote a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent by SMTP Desk.
    Client,
    /// Received from the server.
    Server,
    /// A note from SMTP Desk: connecting, TLS negotiated, …
    Info,
}

/// One line of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct TranscriptLine {
    pub dir: Direction,
    /// Sent or received inside TLS.
    pub tls: bool,
    pub text: String,
}

/// The transcript of one run, growing as it goes.
#[derive(Debug, Default)]
pub(crate) struct Transcript {
    lines: Vec<TranscriptLine>,
    pub tls: bool,
}

/// A transcript line is cut here: an endless reply must not become an endless transcript.
const MAX_SHOWN: usize = 512;

impl Transcript {
    pub fn push(&mut self, dir: Direction, text: &str) {
        let mut text: String = text.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
        if text.len() > MAX_SHOWN {
            let mut cut = MAX_SHOWN;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(" [… cut]");
        }
        self.lines.push(TranscriptLine { dir, tls: self.tls, text });
    }

    pub fn info(&mut self, text: impl AsRef<str>) {
        self.push(Direction::Info, text.as_ref());
    }

    pub fn into_lines(self) -> Vec<TranscriptLine> {
        self.lines
    }
}

/// The strings that must never appear: the password, and how AUTH PLAIN and LOGIN encode it.
pub(crate) fn secret_forms(user: &str, password: &str) -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut forms =
        vec![password.to_string(), b64(password), b64(&format!("\0{user}\0{password}")), b64(&format!("{user}\0{user}\0{password}"))];
    // A password of a few characters would redact ordinary words; its base64 forms still go.
    if password.chars().count() < 4 {
        forms.remove(0);
    }
    forms.retain(|f| !f.is_empty());
    forms
}

/// Replaces every secret form in `text`.
pub(crate) fn redact_text(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "********");
        }
    }
    out
}

/// Scrubs every line.
pub(crate) fn redact(lines: &mut [TranscriptLine], secrets: &[String]) {
    for line in lines {
        line.text = redact_text(&line.text, secrets);
    }
}

/// Renders a transcript as swaks does: `===` notes, ` -> ` client, `<-  ` server, and `~>`/`<~`
/// for lines inside TLS.
pub fn render(lines: &[TranscriptLine]) -> String {
    let mut out = String::new();
    for l in lines {
        let prefix = match (l.dir, l.tls) {
            (Direction::Info, _) => "=== ",
            (Direction::Client, false) => " -> ",
            (Direction::Client, true) => " ~> ",
            (Direction::Server, false) => "<-  ",
            (Direction::Server, true) => "<~  ",
        };
        out.push_str(prefix);
        out.push_str(&l.text);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_and_auth_encodings() {
        let secrets = secret_forms("u", "s3cret!");
        let plain = base64::engine::general_purpose::STANDARD.encode("\0u\0s3cret!");
        let text = format!("AUTH PLAIN {plain} and s3cret! and {}", base64::engine::general_purpose::STANDARD.encode("s3cret!"));
        let out = redact_text(&text, &secrets);
        assert!(!out.contains("s3cret!") && !out.contains(&plain), "{out}");
    }

    #[test]
    fn renders_swaks_prefixes() {
        let mut t = Transcript::default();
        t.push(Direction::Server, "220 hi");
        t.tls = true;
        t.push(Direction::Client, "EHLO me");
        assert_eq!(render(&t.into_lines()), "<-  220 hi\n ~> EHLO me\n");
    }
}
