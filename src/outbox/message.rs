//! A submitted message made ready to queue: CRLF line ends, Bcc removed, the missing Date,
//! Message-ID and From added, recipients read from the headers for `-t`, the size limit enforced.
//!
//! The message is otherwise kept byte for byte: headers are not re-encoded or re-folded, the
//! body is not touched. Like Postfix, a first line that is not a header makes the whole input
//! the body (`echo hi | sendmail root` works), and a non-header line inside the headers ends them.

use super::{address, Error};
use lettre::message::header::{self, Headers};
use lettre::message::{Mailbox, Mailboxes};

/// The largest message taken in, after normalisation: 25 MiB, what the big mail providers accept.
pub const MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

/// How to complete a message.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// `-t`: read recipients from To, Cc and Bcc (or the Resent- ones when present).
    pub recipients_from_headers: bool,
    /// The address an added From header names.
    pub from_address: &'a str,
    /// The display name an added From header gives (`-F`, else the profile's from name).
    pub from_name: &'a str,
    /// The domain of an added Message-ID.
    pub domain: &'a str,
    pub max_bytes: usize,
}

/// The message as it will be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised {
    /// Headers and body with CRLF line ends, ending in CRLF.
    pub bytes: Vec<u8>,
    /// The recipients found in the headers (only with `recipients_from_headers`), unresolved.
    pub header_recipients: Vec<String>,
    /// The Subject, decoded, for the queue listing.
    pub subject: String,
    /// The Message-ID, found or added.
    pub message_id: String,
    /// Which headers were added (`From`, `Date`, `Message-ID`), for tests and the log.
    pub added: Vec<&'static str>,
}

/// Makes `raw` ready to queue, or says why it can't be taken.
pub fn normalise(raw: &[u8], opts: &Options) -> Result<Normalised, Error> {
    if raw.len() > opts.max_bytes {
        return Err(Error::TooBig { size: raw.len(), limit: opts.max_bytes });
    }
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::Unparseable("it is empty: no headers and no body".into()));
    }
    if let Some(at) = raw.iter().position(|&b| b == 0) {
        return Err(Error::Unparseable(format!("it contains a NUL byte at offset {at}, which mail may not carry (RFC 5322 §2.2)")));
    }
    let text = crlf(raw);
    let mut lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    // An mbox "From " separator line is not a header; sendmail drops it too.
    if lines.first().is_some_and(|l| l.starts_with(b"From ")) {
        lines.remove(0);
    }

    let mut fields: Vec<Field> = Vec::new();
    let mut body_start = lines.len();
    let mut needs_separator = false;
    for (i, line) in lines.iter().enumerate() {
        let content = &line[..line.len() - 2];
        if content.is_empty() {
            body_start = i;
            break;
        }
        if (content[0] == b' ' || content[0] == b'\t') && !fields.is_empty() {
            fields.last_mut().expect("checked").lines.push(line);
            continue;
        }
        match field_name(content) {
            Some(name) => fields.push(Field { name: String::from_utf8_lossy(name).to_ascii_lowercase(), lines: vec![line] }),
            None => {
                body_start = i;
                needs_separator = true;
                break;
            }
        }
    }

    let mut header_recipients = Vec::new();
    if opts.recipients_from_headers {
        let resent = fields.iter().any(|f| matches!(f.name.as_str(), "resent-to" | "resent-cc" | "resent-bcc"));
        let wanted: &[&str] = if resent { &["resent-to", "resent-cc", "resent-bcc"] } else { &["to", "cc", "bcc"] };
        for f in fields.iter().filter(|f| wanted.contains(&f.name.as_str())) {
            header_recipients.extend(address::parse_list(&f.value(), &f.name)?);
        }
    }
    let has = |n: &str| fields.iter().any(|f| f.name == n);
    let subject = fields.iter().find(|f| f.name == "subject").map(|f| f.decoded()).unwrap_or_default();
    let mut message_id = fields.iter().find(|f| f.name == "message-id").map(|f| f.value().trim().to_string()).unwrap_or_default();

    let mut added = Vec::new();
    let mut extra = Headers::new();
    if !has("from") {
        let name = opts.from_name.trim();
        match opts.from_address.parse() {
            Ok(addr) => extra.set(header::From::from(Mailboxes::from(Mailbox::new((!name.is_empty()).then(|| name.to_string()), addr)))),
            Err(_) => {
                extra.insert_raw(header::HeaderValue::new(header::HeaderName::new_from_ascii_str("From"), opts.from_address.to_string()))
            }
        }
        added.push("From");
    }
    if !has("date") {
        extra.set(header::Date::now());
        added.push("Date");
    }
    if !has("message-id") {
        message_id = new_message_id(opts.domain);
        extra.set(header::MessageId::from(message_id.clone()));
        added.push("Message-ID");
    }

    let mut out = Vec::with_capacity(text.len() + 256);
    for f in fields.iter().filter(|f| f.name != "bcc" && f.name != "resent-bcc") {
        f.lines.iter().for_each(|l| out.extend_from_slice(l));
    }
    out.extend_from_slice(extra.to_string().as_bytes());
    if needs_separator || body_start == lines.len() {
        out.extend_from_slice(b"\r\n");
    }
    for l in &lines[body_start..] {
        out.extend_from_slice(l);
    }
    if out.len() > opts.max_bytes {
        return Err(Error::TooBig { size: out.len(), limit: opts.max_bytes });
    }
    Ok(Normalised { bytes: out, header_recipients, subject, message_id, added })
}

/// One header field with its continuation lines, as received.
struct Field<'a> {
    name: String,
    lines: Vec<&'a [u8]>,
}

impl Field<'_> {
    /// The unfolded value after the colon.
    fn value(&self) -> String {
        let joined: Vec<u8> = self.lines.iter().flat_map(|l| l[..l.len() - 2].iter().copied()).collect();
        let text = String::from_utf8_lossy(&joined);
        text.split_once(':').map(|(_, v)| v.trim().to_string()).unwrap_or_default()
    }

    /// The value with RFC 2047 encoded words decoded, for display.
    fn decoded(&self) -> String {
        let raw: Vec<u8> = self.lines.concat();
        mailparse::parse_header(&raw).map(|(h, _)| h.get_value()).unwrap_or_else(|_| self.value())
    }
}

/// The name of a header field line (RFC 5322 §2.2: printable ASCII except ':', then ':').
fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    (!name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b))).then_some(name)
}

/// Every line end made CRLF: a bare LF (what Unix programs write) and a lone CR alike. A lone CR
/// left in place is what SMTP smuggling uses to hide a second message.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 2);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn new_message_id(domain: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let domain = if domain.is_empty() { "localhost" } else { domain };
    format!("<smtp-desk.{}.{}.{random:016x}@{domain}>", super::now_millis(), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(t: bool) -> Options<'static> {
        Options { recipients_from_headers: t, from_address: "me@example.com", from_name: "Me", domain: "example.com", max_bytes: 10_000 }
    }

    fn text(n: &Normalised) -> String {
        String::from_utf8(n.bytes.clone()).unwrap()
    }

    #[test]
    fn bare_lf_and_lone_cr_become_crlf() {
        let n = normalise(b"Subject: x\nFrom: a@b.c\nDate: x\nMessage-ID: <1@b>\n\nline1\rline2\nend", &opts(false)).unwrap();
        assert_eq!(text(&n), "Subject: x\r\nFrom: a@b.c\r\nDate: x\r\nMessage-ID: <1@b>\r\n\r\nline1\r\nline2\r\nend\r\n");
        assert!(n.added.is_empty());
    }

    #[test]
    fn missing_headers_are_added_after_the_others() {
        let n = normalise(b"Subject: hi\n\nbody\n", &opts(false)).unwrap();
        let t = text(&n);
        assert_eq!(n.added, ["From", "Date", "Message-ID"]);
        assert!(t.starts_with("Subject: hi\r\nFrom: Me <me@example.com>\r\nDate: "), "{t}");
        assert!(t.contains(&format!("Message-ID: {}\r\n", n.message_id)), "{t}");
        assert!(n.message_id.ends_with("@example.com>"));
        assert!(t.ends_with("\r\n\r\nbody\r\n"), "{t}");
    }

    #[test]
    fn bcc_is_removed_and_read_with_t() {
        let raw =
            b"To: a@example.com, B <b@example.com>\nCc: c@example.com\nBcc: hidden@example.com,\n  also@example.com\nSubject: s\n\nbody\n";
        let n = normalise(raw, &opts(true)).unwrap();
        assert_eq!(n.header_recipients, ["a@example.com", "b@example.com", "c@example.com", "hidden@example.com", "also@example.com"]);
        let t = text(&n);
        // No Bcc header line (the random Message-ID may hold the letters "bcc": look at names only).
        let names: Vec<String> =
            t.lines().take_while(|l| !l.is_empty()).filter_map(|l| l.split_once(':')).map(|(n, _)| n.to_ascii_lowercase()).collect();
        assert!(!names.iter().any(|n| n.contains("bcc")) && !t.contains("hidden") && !t.contains("also@"), "{t}");
        let n = normalise(raw, &opts(false)).unwrap();
        assert!(n.header_recipients.is_empty(), "headers are read only with -t");
        assert!(!text(&n).contains("hidden"));
    }

    #[test]
    fn resent_headers_win_when_present() {
        let raw = b"To: old@example.com\nResent-To: new@example.com\nResent-Bcc: secret@example.com\n\nb\n";
        let n = normalise(raw, &opts(true)).unwrap();
        assert_eq!(n.header_recipients, ["new@example.com", "secret@example.com"]);
        assert!(!text(&n).contains("secret"));
    }

    #[test]
    fn a_body_without_headers_gets_a_separator() {
        let n = normalise(b"just a line\nanother\n", &opts(false)).unwrap();
        let t = text(&n);
        assert!(t.ends_with("\r\n\r\njust a line\r\nanother\r\n"), "{t}");
        assert!(t.starts_with("From: Me <me@example.com>\r\n"), "{t}");
        let n = normalise(b"Subject: s\nnot a header line\n", &opts(false)).unwrap();
        assert!(text(&n).contains("\r\n\r\nnot a header line\r\n"));
        let n = normalise(b"Subject: only headers\n", &opts(false)).unwrap();
        assert!(text(&n).ends_with("\r\n\r\n"), "headers only still get their blank line");
    }

    #[test]
    fn refusals() {
        assert!(matches!(normalise(b"", &opts(false)), Err(Error::Unparseable(_))));
        assert!(matches!(normalise(b"\n\n", &opts(false)), Err(Error::Unparseable(_))));
        assert!(matches!(normalise(b"Subject: a\0b\n\nx", &opts(false)), Err(Error::Unparseable(_))));
        assert!(matches!(normalise(&vec![b'a'; 10_001], &opts(false)), Err(Error::TooBig { .. })));
        // Exactly at the limit before normalisation, over it after the added headers.
        assert!(matches!(normalise(&vec![b'a'; 9_990], &opts(false)), Err(Error::TooBig { .. })));
        assert!(matches!(normalise(b"To: <a@example.com\n\nx", &opts(true)), Err(Error::BadAddress { .. })));
    }

    #[test]
    fn mbox_from_line_is_dropped_and_subject_decoded() {
        let n = normalise(b"From me Mon Jan 1 00:00:00 2024\nSubject: =?UTF-8?B?SGVsbG8gw6k=?=\n\nb\n", &opts(false)).unwrap();
        assert_eq!(n.subject, "Hello é");
        assert!(text(&n).starts_with("Subject: "));
    }
}
