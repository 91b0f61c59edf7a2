//! SMTP replies (RFC 5321 §4.2) and the EHLO capability list (§4.1.1.1), read from the raw lines.
//!
//! lettre's parser drops EHLO keywords it does not know; the validation shows all of them. A
//! server chooses the size of its replies, so everything here is linear in the reply's length and
//! keeps at most [`MAX_KEYWORDS`] keywords and [`MAX_TOKENS`] parameters each for showing.

use super::conn::Error;
use super::redact::Redactor;
use super::sanitize::{cut_bytes, cut_chars, MAX_SHOWN_BYTES};
use std::collections::{HashMap, HashSet};

/// A whole reply (EHLO lists are the longest) of more lines than this is not SMTP.
pub(crate) const MAX_REPLY_LINES: usize = 200;
/// EHLO keywords kept for showing; real servers announce 10 to 20.
pub(crate) const MAX_KEYWORDS: usize = 100;
/// Parameters (AUTH mechanisms, …) kept per keyword for showing.
pub(crate) const MAX_TOKENS: usize = 64;

/// One complete reply: the code and the text of each line (without the code), already redacted
/// and cleaned of control characters where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// The reply as the server wrote it, on one line and cut at 512 bytes:
    /// `550 5.1.1 <x@y>: User unknown`.
    pub fn one_line(&self) -> String {
        let mut text = self.code.to_string();
        for l in self.lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
            if text.len() > MAX_SHOWN_BYTES {
                break;
            }
            text.push(' ');
            text.push_str(l);
        }
        cut_bytes(&text, MAX_SHOWN_BYTES).into_owned()
    }
}

/// How one reply line splits: `250-SIZE 1000` → (250, more follow, "SIZE 1000").
pub(crate) fn parse_line(line: &str) -> Option<(u16, bool, &str)> {
    let b = line.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&b[0]) {
        return None;
    }
    let code = line[..3].parse().ok()?;
    match b.get(3) {
        None => Some((code, false, "")),
        Some(b' ') => Some((code, false, &line[4..])),
        Some(b'-') => Some((code, true, &line[4..])),
        _ => None,
    }
}

/// Collects the lines of one (possibly multi-line) reply.
#[derive(Debug, Default)]
pub(crate) struct ReplyBuilder {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyBuilder {
    /// Takes the next raw line; returns the reply once its last line came. The text kept is
    /// redacted and cleaned; the code is read from the raw line (redaction must not touch it).
    pub fn feed(&mut self, raw: &str, redactor: &Redactor) -> Result<Option<Reply>, Error> {
        let Some((c, more, text)) = parse_line(raw) else {
            return Err(Error::NotSmtp(format!("'{}'", redactor.quote(raw))));
        };
        let code = *self.code.get_or_insert(c);
        if code != c {
            return Err(Error::NotSmtp(format!("a reply whose lines have different codes ({code} and {c})")));
        }
        // Not cut: the reader already bounds a line, and the capability parser needs it whole.
        self.lines.push(redactor.show(text, usize::MAX));
        if !more {
            return Ok(Some(Reply { code, lines: std::mem::take(&mut self.lines) }));
        }
        if self.lines.len() > MAX_REPLY_LINES {
            return Err(Error::NotSmtp(format!("a reply of more than {MAX_REPLY_LINES} lines")));
        }
        Ok(None)
    }
}

/// One announced keyword as shown: its first parameters and how many more there were.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Keyword {
    name: String,
    params: Vec<String>,
    not_shown: usize,
}

/// The extensions a server announced in its EHLO reply, in its order, parsed once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// The first [`MAX_KEYWORDS`] distinct keywords, upper-cased; a repeated keyword keeps its
    /// first parameters, except AUTH, whose mechanisms are merged.
    keywords: Vec<Keyword>,
    /// Distinct keywords beyond the cap.
    keywords_not_shown: usize,
    /// Every distinct keyword, and where it is shown (None past the cap), for [`Self::has`]: the
    /// cap is for showing, not for what works.
    names: HashMap<String, Option<usize>>,
    /// Every distinct SASL mechanism offered, upper-cased.
    mechanisms: HashSet<String>,
    size: Option<u64>,
}

impl Capabilities {
    /// Reads the lines after the greeting line (the first line is the server's name), in one pass.
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut caps = Self::default();
        for line in reply.lines.iter().skip(1) {
            let line = line.trim();
            // Old servers announce `AUTH=LOGIN` beside `AUTH LOGIN`; treat both as AUTH.
            let (k, v) = line.split_once([' ', '=']).unwrap_or((line, ""));
            if k.is_empty() {
                continue;
            }
            let name = k.to_ascii_uppercase();
            let is_auth = name == "AUTH";
            let shown = match caps.names.get(&name) {
                // A repeated keyword: its first announcement stands, but AUTH lines add up.
                Some(_) if !is_auth => continue,
                Some(&shown) => shown,
                None => {
                    if name == "SIZE" {
                        caps.size = v.trim().parse().ok();
                    }
                    let shown = (caps.keywords.len() < MAX_KEYWORDS).then_some(caps.keywords.len());
                    match shown {
                        Some(_) => caps.keywords.push(Keyword { name: name.clone(), params: Vec::new(), not_shown: 0 }),
                        None => caps.keywords_not_shown += 1,
                    }
                    caps.names.insert(name, shown);
                    shown
                }
            };
            for token in v.split_whitespace() {
                let token = if is_auth {
                    let m = token.to_ascii_uppercase();
                    if caps.mechanisms.contains(&m) {
                        continue;
                    }
                    caps.mechanisms.insert(m.clone());
                    m
                } else {
                    token.to_string()
                };
                match shown.map(|i| &mut caps.keywords[i]) {
                    Some(kw) if kw.params.len() < MAX_TOKENS => kw.params.push(token),
                    Some(kw) => kw.not_shown += 1,
                    // Past the keyword cap only AUTH's mechanisms still matter (for logging in).
                    None if is_auth => {}
                    None => break,
                }
            }
        }
        caps
    }

    pub fn has(&self, keyword: &str) -> bool {
        self.names.contains_key(keyword)
    }

    /// Whether the server offers the SASL mechanism `m` (upper case).
    pub fn offers(&self, m: &str) -> bool {
        self.mechanisms.contains(m)
    }

    /// Whether any SASL mechanism is offered.
    pub fn offers_auth(&self) -> bool {
        !self.mechanisms.is_empty()
    }

    /// The SASL mechanisms offered, upper-cased, without duplicates, in the server's order, for
    /// showing: `PLAIN LOGIN`, or the first [`MAX_TOKENS`] and `… N more not shown`.
    pub fn auth_summary(&self) -> String {
        self.keywords.iter().find(|k| k.name == "AUTH").map(|k| params_text(k, usize::MAX)).unwrap_or_default()
    }

    /// The SIZE limit in bytes, if announced (0 means no limit).
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// A one-line list for the step summary: `STARTTLS, AUTH PLAIN LOGIN, SIZE 50 MiB, PIPELINING`.
    pub fn summary(&self) -> String {
        if self.keywords.is_empty() {
            return "no extensions".into();
        }
        let mut parts: Vec<String> = self
            .keywords
            .iter()
            .map(|k| match (k.name.as_str(), self.size()) {
                ("SIZE", Some(n)) if n > 0 => format!("SIZE {}", human_size(n)),
                _ if k.params.is_empty() => k.name.clone(),
                // The summary is one line: long parameter lists are in the details.
                _ => format!("{} {}", k.name, params_text(k, 120)),
            })
            .collect();
        if self.keywords_not_shown > 0 {
            parts.push(format!("… {} more not shown", self.keywords_not_shown));
        }
        parts.join(", ")
    }

    /// One detail row per keyword, SIZE explained.
    pub fn details(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = self
            .keywords
            .iter()
            .map(|k| {
                let params = params_text(k, usize::MAX);
                match (k.name.as_str(), params.parse::<u64>()) {
                    ("SIZE", Ok(0)) => (k.name.clone(), "0 (no limit announced)".into()),
                    ("SIZE", Ok(n)) => (k.name.clone(), format!("{n} bytes ({})", human_size(n))),
                    _ => (k.name.clone(), cut_bytes(&params, MAX_SHOWN_BYTES).into_owned()),
                }
            })
            .collect();
        if self.keywords_not_shown > 0 {
            rows.push(("…".into(), format!("{} more keywords not shown", self.keywords_not_shown)));
        }
        rows
    }
}

/// A keyword's parameters as one string (at most `max_chars` of them), with the count of those cut.
fn params_text(k: &Keyword, max_chars: usize) -> String {
    let joined = k.params.join(" ");
    let mut text = cut_chars(&joined, max_chars).into_owned();
    if k.not_shown > 0 {
        text.push_str(&format!(" … {} more not shown", k.not_shown));
    }
    text
}

fn human_size(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB {
        format!("{:.0} MiB", n as f64 / MIB as f64)
    } else {
        format!("{} KiB", n / 1024)
    }
}

/// The queue id in a final DATA reply, where the server gives one: Postfix `queued as 4Xyz`,
/// Exim `OK id=1abc-…`, others `queued as <id>` / `Queued (<id>)`.
pub(crate) fn queue_id(reply: &Reply) -> Option<String> {
    let text = reply.one_line();
    let lower = text.to_ascii_lowercase();
    for marker in ["queued as ", "id="] {
        if let Some(i) = lower.find(marker) {
            let rest = &text[i + marker.len()..];
            let id: String = rest
                .trim_start_matches(['<', '('])
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | ')' | ',' | ';'))
                .collect();
            if !id.is_empty() {
                return Some(id);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, lines: &[&str]) -> Reply {
        Reply { code, lines: lines.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn parses_reply_lines() {
        assert_eq!(parse_line("250-SIZE 1000"), Some((250, true, "SIZE 1000")));
        assert_eq!(parse_line("220 ready"), Some((220, false, "ready")));
        assert_eq!(parse_line("354"), Some((354, false, "")));
        assert_eq!(parse_line("SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_line("HTTP/1.1 400"), None);
        assert_eq!(parse_line("220xready"), None);
    }

    #[test]
    fn reads_capabilities() {
        let caps = Capabilities::from_ehlo(&reply(
            250,
            &["mx.example", "SIZE 52428800", "pipelining", "AUTH PLAIN LOGIN", "AUTH=LOGIN", "STARTTLS"],
        ));
        assert!(caps.has("PIPELINING") && caps.has("STARTTLS"));
        assert_eq!(caps.auth_summary(), "PLAIN LOGIN");
        assert!(caps.offers("LOGIN") && !caps.offers("CRAM-MD5"));
        assert_eq!(caps.size(), Some(52_428_800));
        assert_eq!(caps.summary(), "SIZE 50 MiB, PIPELINING, AUTH PLAIN LOGIN, STARTTLS");
    }

    #[test]
    fn caps_keywords_and_mechanisms_for_showing_only() {
        let mut lines = vec!["mx.example".to_string()];
        lines.extend((0..150).map(|i| format!("X-KEY{i} a b")));
        lines.push("STARTTLS".into());
        lines.push(format!("AUTH {}", (0..100).map(|i| format!("M{i}")).collect::<Vec<_>>().join(" ")));
        lines.push("AUTH PLAIN M1 m2".into());
        let caps = Capabilities::from_ehlo(&Reply { code: 250, lines });
        assert!(caps.has("STARTTLS") && caps.has("X-KEY149"), "the cap is for showing only");
        assert!(caps.offers("PLAIN") && caps.offers("M99"));
        assert_eq!(caps.details().len(), MAX_KEYWORDS + 1);
        assert!(caps.summary().ends_with(", … 52 more not shown"), "{}", caps.summary());
        assert_eq!(caps.auth_summary(), "", "AUTH came after the cap: not shown, still usable");

        let caps = Capabilities::from_ehlo(&reply(250, &["mx", "AUTH A B a", "AUTH=C"]));
        assert_eq!(caps.auth_summary(), "A B C");
    }

    #[test]
    fn hostile_ehlo_is_parsed_in_linear_time() {
        // About 110,000 distinct mechanisms, inside the reader's line length and line count limits.
        let mut lines = vec!["mx.example".to_string()];
        let mut n = 0u32;
        for _ in 0..190 {
            let mut l = String::from("AUTH");
            while l.len() < 4080 {
                l.push_str(&format!(" {n:06X}"));
                n += 1;
            }
            lines.push(l);
        }
        let started = std::time::Instant::now();
        let caps = Capabilities::from_ehlo(&Reply { code: 250, lines });
        let (summary, details) = (caps.summary(), caps.details());
        let took = started.elapsed();
        assert!(caps.offers("000000") && caps.offers(&format!("{:06X}", n - 1)));
        assert!(summary.contains(&format!("… {} more not shown", n as usize - MAX_TOKENS)), "{summary}");
        assert!(summary.len() < 300 && details[0].1.len() < 600);
        assert!(took < std::time::Duration::from_secs(2), "took {took:?} for {n} mechanisms");
    }

    #[test]
    fn finds_queue_ids() {
        assert_eq!(queue_id(&reply(250, &["2.0.0 Ok: queued as 4Xyz12"])).as_deref(), Some("4Xyz12"));
        assert_eq!(queue_id(&reply(250, &["OK id=1rAbc-000123-XY"])).as_deref(), Some("1rAbc-000123-XY"));
        assert_eq!(queue_id(&reply(250, &["OK"])), None);
    }
}
