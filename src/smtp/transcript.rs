//! The conversation with the server, line by line, in the style of swaks, with secrets redacted.
//!
//! Credentials are kept out twice: the AUTH code records a placeholder instead of what it sends,
//! and every line pushed here goes through the run's [`Redactor`] — redacted on the raw text, then
//! cut and cleaned — in case a server echoes them back.

use super::redact::Redactor;
use super::sanitize::MAX_SHOWN_BYTES;
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
    /// What to scrub from every line, known once the password is.
    redactor: Redactor,
}

impl Transcript {
    /// Records a line: redacted, cut at 512 bytes (an endless reply must not become an endless
    /// transcript), cleaned of control and bidi characters.
    pub fn push(&mut self, dir: Direction, text: &str) {
        let text = self.redactor.show(text, MAX_SHOWN_BYTES);
        self.lines.push(TranscriptLine { dir, tls: self.tls, text });
    }

    pub fn info(&mut self, text: impl AsRef<str>) {
        self.push(Direction::Info, text.as_ref());
    }

    /// From now on, lines (and replies read with this transcript) are scrubbed of these credentials.
    pub fn set_redactor(&mut self, redactor: Redactor) {
        self.redactor = redactor;
    }

    /// Forgets the lines so far (a long delivery session keeps only its redactor).
    pub fn clear(&mut self) {
        self.lines.clear();
    }

    /// From now on, `form` is scrubbed too (see [`Redactor::also`]).
    pub fn redact_also(&mut self, form: &str) {
        self.redactor.also(form);
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The lines, scrubbed once more with the final redactor (the password may have become known
    /// after the first lines were read).
    pub fn into_lines(self) -> Vec<TranscriptLine> {
        let r = self.redactor;
        self.lines.into_iter().map(|l| TranscriptLine { text: r.tidy(&l.text), ..l }).collect()
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
    fn renders_swaks_prefixes() {
        let mut t = Transcript::default();
        t.push(Direction::Server, "220 hi");
        t.tls = true;
        t.push(Direction::Client, "EHLO me");
        assert_eq!(render(&t.into_lines()), "<-  220 hi\n ~> EHLO me\n");
    }
}
