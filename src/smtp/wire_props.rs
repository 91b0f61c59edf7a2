//! Property tests for everything a server's bytes go through before they are shown: the line
//! reader, the reply parser, the EHLO capability parser, redaction and cleaning. For any input:
//! no panic, bounded time, and nothing shown holds a control or bidi character or a secret.

use super::conn::{LineBuffer, LineTooLong, MAX_LINE};
use super::redact::{Redactor, MARK};
use super::reply::{parse_line, queue_id, Capabilities, Reply, ReplyBuilder};
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// Generous for a debug build on a busy machine; a quadratic parser blows far past it.
const PER_INPUT: Duration = Duration::from_millis(500);

/// Bytes that look like SMTP often enough to reach deep into the parsers.
fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"250-".to_vec()),
        Just(b"250 ".to_vec()),
        Just(b"334 ".to_vec()),
        Just(b"535-".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"AUTH ".to_vec()),
        Just(b"AUTH=".to_vec()),
        Just(b"SIZE ".to_vec()),
        Just(b"STARTTLS".to_vec()),
        Just(b" ".to_vec()),
        Just("\u{1b}[2K\u{202e}\u{7}".as_bytes().to_vec()),
        Just(b"queued as ".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
        "[A-Za-z0-9 =-]{0,20}".prop_map(String::into_bytes),
    ];
    proptest::collection::vec(piece, 0..120).prop_map(|v| v.concat())
}

/// EHLO lines built from a byte string (each byte picks a piece; cheap to generate, so many
/// long replies fit in the time budget): keywords, `=`, spaces, long tokens, odd characters.
fn ehlo_lines() -> impl Strategy<Value = Vec<String>> {
    const PIECES: [&str; 9] = ["AUTH", "auth=", "SIZE", " ", "=", "18446744073709551616", "é\u{202e}\u{0}", "PLAIN", "X-"];
    proptest::collection::vec(any::<u8>(), 0..4000).prop_map(|bytes| {
        let mut lines = vec![String::new()];
        for b in bytes {
            match b as usize % 16 {
                15 => lines.push(String::new()),
                i if i < PIECES.len() => lines.last_mut().expect("one line").push_str(PIECES[i]),
                _ => lines.last_mut().expect("one line").push_str(&format!("{b:02X}")),
            }
        }
        lines
    })
}

fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

/// Everything a reply is turned into for showing.
fn exercise(reply: &Reply) -> Vec<String> {
    let caps = Capabilities::from_ehlo(reply);
    let mut shown = vec![reply.one_line(), caps.summary(), caps.auth_summary()];
    shown.extend(caps.details().into_iter().flat_map(|(k, v)| [k, v]));
    shown.extend(queue_id(reply));
    let _ = (caps.has("STARTTLS"), caps.offers("PLAIN"), caps.size());
    shown
}

/// Feeds `bytes` in chunks of `chunk` through the reader and the reply parser, as the session does.
fn read_all(bytes: &[u8], chunk: usize, redactor: &Redactor) -> Vec<String> {
    let mut shown = Vec::new();
    let mut lines = LineBuffer::default();
    let mut reply = ReplyBuilder::default();
    for part in bytes.chunks(chunk.max(1)) {
        lines.extend(part);
        loop {
            match lines.next_line() {
                Ok(Some(line)) => {
                    assert!(line.len() <= MAX_LINE + 2048 + 2, "a line longer than the reader allows");
                    shown.push(redactor.show(&line, 512));
                    match reply.feed(&line, redactor) {
                        Ok(Some(r)) => shown.extend(exercise(&r)),
                        Ok(None) => {}
                        Err(e) => {
                            shown.push(e.to_string());
                            reply = ReplyBuilder::default();
                        }
                    }
                }
                Ok(None) => break,
                Err(LineTooLong(start)) => {
                    shown.push(redactor.quote(&start));
                    return shown;
                }
            }
        }
    }
    shown
}

proptest! {
    // Bounded so the whole suite runs in a few seconds inside `cargo test` (debug build).
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn parse_line_never_panics(line in "\\PC{0,64}|[0-9]{3}[ -]?.{0,20}") {
        if let Some((code, _, text)) = parse_line(&line) {
            prop_assert!((200..600).contains(&code));
            prop_assert!(line.ends_with(text));
        }
    }

    #[test]
    fn reader_and_parsers_are_safe_and_fast(bytes in wire_bytes(), chunk in 1usize..3000) {
        let redactor = Redactor::new("alice@example.com", "pa\tss");
        let started = Instant::now();
        let shown = read_all(&bytes, chunk, &redactor);
        prop_assert!(started.elapsed() < PER_INPUT, "took {:?} for {} bytes", started.elapsed(), bytes.len());
        for s in &shown {
            prop_assert!(!s.chars().any(is_unsafe), "unsafe character shown: {:?}", s);
            prop_assert!(!s.contains("pa\tss"), "secret shown: {:?}", s);
        }
    }

    #[test]
    fn ehlo_lines_of_any_shape(lines in ehlo_lines()) {
        let started = Instant::now();
        let shown = exercise(&Reply { code: 250, lines });
        prop_assert!(started.elapsed() < PER_INPUT);
        prop_assert!(shown.iter().all(|s| s.len() < 64 * 1024), "what is shown stays bounded");
    }

    #[test]
    fn a_secret_anywhere_in_a_line_is_redacted_even_across_the_cut(
        before in "[ -~]{0,600}",
        after in "[ -~]{0,100}",
        password in "[ -~\t]{8,24}",
    ) {
        let r = Redactor::new("bob", &password);
        for form in [password.clone(), super::sasl::plain("bob", &password), super::sasl::login_step(&password)] {
            let line = format!("535 {before}{form}{after}");
            for shown in [r.show(&line, 512), r.quote(&line), r.tidy(&line)] {
                let (head, tail) = form.split_at(form.len() / 2);
                for part in [head, tail] {
                    let cleaned = super::sanitize::clean(part);
                    prop_assert!(!shown.contains(part) && !shown.contains(cleaned.as_ref()), "{:?} of {:?} left in {:?}", part, form, shown);
                }
            }
        }
    }

    #[test]
    fn a_short_password_is_redacted_as_a_token(before in "[ -~]{0,60}", after in "[ -~]{0,60}", password in "[!-~]{1,3}") {
        let r = Redactor::new("bob", &password);
        let shown = r.show(&format!("535 {before} {password} {after}"), 512);
        prop_assert!(shown.contains(MARK), "{:?} not redacted in {:?}", password, shown);
    }
}

#[test]
fn the_reader_cuts_an_endless_line() {
    let mut lines = LineBuffer::default();
    lines.extend(&[b'a'; MAX_LINE + 10]);
    assert!(matches!(lines.next_line(), Err(LineTooLong(s)) if s.len() == 60));
}
