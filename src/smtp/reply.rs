//! SMTP replies (RFC 5321 §4.2) and the EHLO capability list (§4.1.1.1), read from the raw lines.
//!
//! lettre's parser drops EHLO keywords it does not know; the validation shows all of them.

/// One complete reply: the code and the text of each line (without the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// The reply as the server wrote it, on one line: `550 5.1.1 <x@y>: User unknown`.
    pub fn one_line(&self) -> String {
        let text = self.lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            self.code.to_string()
        } else {
            format!("{} {text}", self.code)
        }
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

/// The extensions a server announced in its EHLO reply, in its order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// (KEYWORD upper-cased, parameters as sent).
    pub keywords: Vec<(String, String)>,
}

impl Capabilities {
    /// Reads the lines after the greeting line (the first line is the server's name).
    pub fn from_ehlo(reply: &Reply) -> Self {
        let keywords = reply
            .lines
            .iter()
            .skip(1)
            .filter_map(|l| {
                let l = l.trim();
                // Old servers announce `AUTH=LOGIN` beside `AUTH LOGIN`; treat both as AUTH.
                let (k, v) = l.split_once([' ', '=']).unwrap_or((l, ""));
                (!k.is_empty()).then(|| (k.to_ascii_uppercase(), v.trim().to_string()))
            })
            .collect();
        Self { keywords }
    }

    pub fn has(&self, keyword: &str) -> bool {
        self.keywords.iter().any(|(k, _)| k == keyword)
    }

    /// Every SASL mechanism offered, upper-cased, without duplicates.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, v) in self.keywords.iter().filter(|(k, _)| k == "AUTH") {
            for m in v.split_whitespace() {
                let m = m.to_ascii_uppercase();
                if !out.contains(&m) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// The SIZE limit in bytes, if announced (0 means no limit).
    pub fn size(&self) -> Option<u64> {
        self.keywords.iter().find(|(k, _)| k == "SIZE").and_then(|(_, v)| v.parse().ok())
    }

    /// A one-line list for the step summary: `STARTTLS, AUTH PLAIN LOGIN, SIZE 50 MiB, PIPELINING`.
    pub fn summary(&self) -> String {
        if self.keywords.is_empty() {
            return "no extensions".into();
        }
        self.keywords
            .iter()
            .map(|(k, v)| match (k.as_str(), self.size()) {
                ("SIZE", Some(n)) if n > 0 => format!("SIZE {}", human_size(n)),
                ("AUTH", _) => format!("AUTH {}", self.auth_mechanisms().join(" ")),
                _ if v.is_empty() => k.clone(),
                _ => format!("{k} {v}"),
            })
            .fold(Vec::<String>::new(), |mut acc, s| {
                if !acc.contains(&s) {
                    acc.push(s);
                }
                acc
            })
            .join(", ")
    }

    /// One detail row per keyword, SIZE explained.
    pub fn details(&self) -> Vec<(String, String)> {
        self.keywords
            .iter()
            .map(|(k, v)| match (k.as_str(), v.parse::<u64>()) {
                ("SIZE", Ok(0)) => (k.clone(), "0 (no limit announced)".into()),
                ("SIZE", Ok(n)) => (k.clone(), format!("{n} bytes ({})", human_size(n))),
                _ => (k.clone(), v.clone()),
            })
            .collect()
    }
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
        assert_eq!(caps.auth_mechanisms(), ["PLAIN", "LOGIN"]);
        assert_eq!(caps.size(), Some(52_428_800));
        assert_eq!(caps.summary(), "SIZE 50 MiB, PIPELINING, AUTH PLAIN LOGIN, STARTTLS");
    }

    #[test]
    fn finds_queue_ids() {
        assert_eq!(queue_id(&reply(250, &["2.0.0 Ok: queued as 4Xyz12"])).as_deref(), Some("4Xyz12"));
        assert_eq!(queue_id(&reply(250, &["OK id=1rAbc-000123-XY"])).as_deref(), Some("1rAbc-000123-XY"));
        assert_eq!(queue_id(&reply(250, &["OK"])), None);
    }
}
