//! The message as it travels after DATA (RFC 5321 §4.5.2, §2.3.8): CRLF line ends and
//! dot-stuffing, on bytes, so 8-bit bodies (Latin-1, raw 8BITMIME) pass unchanged.
//!
//! Pure functions: the test email and the outbox's delivery both use them.

/// `message` with every bare LF turned into CRLF. A CR not followed by LF is left as it is (it is
/// part of the content, and turning it into a line end would change the message).
pub fn normalize_line_ends(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32);
    let mut previous = None;
    for &byte in message {
        if byte == b'\n' && previous != Some(b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
        previous = Some(byte);
    }
    out
}

/// `message` (CRLF lines) with a '.' added before every line that starts with '.', so no line of
/// the content can end the data early.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut line_start = true;
    for (i, &byte) in message.iter().enumerate() {
        if line_start && byte == b'.' {
            out.push(b'.');
        }
        out.push(byte);
        line_start = byte == b'\n' && i > 0 && message[i - 1] == b'\r';
    }
    out
}

/// What is written after the server's 354: the message with CRLF line ends, dot-stuffed, ending
/// with a line break and the terminating `.` line (CRLF.CRLF).
pub fn data_payload(message: &[u8]) -> Vec<u8> {
    let mut out = dot_stuff(&normalize_line_ends(message));
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The lines of a CRLF-normalised message, for the transcript (not stuffed: what the user wrote).
pub(crate) fn lines(message: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = message.strip_suffix(b"\r\n").unwrap_or(message);
    let empty = body.is_empty();
    body.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).filter(move |_| !empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Latin-1 "Grüße" and bytes that are valid in no UTF-8 text: not UTF-8, so the old lossy
    /// conversion turned them into U+FFFD.
    const EIGHT_BIT: &[u8] = b"Subject: test\r\n\r\nGr\xfc\xdfe \xff\xfe end\r\n";

    #[test]
    fn eight_bit_bodies_pass_byte_for_byte() {
        let wire = data_payload(EIGHT_BIT);
        assert_eq!(wire, [EIGHT_BIT, b".\r\n"].concat());
    }

    #[test]
    fn bare_lf_becomes_crlf_and_existing_crlf_is_kept() {
        assert_eq!(normalize_line_ends(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(normalize_line_ends(b"\n\n"), b"\r\n\r\n");
        assert_eq!(normalize_line_ends(b"\xe9\n"), b"\xe9\r\n", "8-bit bytes before a bare LF");
    }

    #[test]
    fn a_lone_cr_is_content() {
        assert_eq!(normalize_line_ends(b"a\rb\n"), b"a\rb\r\n");
    }

    #[test]
    fn lines_starting_with_a_dot_are_stuffed() {
        assert_eq!(dot_stuff(b".hidden\r\nok\r\n.\r\n..two\r\n"), b"..hidden\r\nok\r\n..\r\n...two\r\n");
        assert_eq!(dot_stuff(b"a.b\r\n"), b"a.b\r\n", "a dot inside a line stays single");
        assert_eq!(dot_stuff(b"\xff\r\n.\xfe\r\n"), b"\xff\r\n..\xfe\r\n", "8-bit lines");
    }

    #[test]
    fn a_dot_after_a_bare_lf_is_stuffed_once_normalised() {
        assert_eq!(data_payload(b"one\n.\ntwo"), b"one\r\n..\r\ntwo\r\n.\r\n");
    }

    #[test]
    fn ends_with_crlf_dot_crlf() {
        assert_eq!(data_payload(b"body"), b"body\r\n.\r\n", "a missing final line break is added");
        assert_eq!(data_payload(b"body\r\n"), b"body\r\n.\r\n");
        assert_eq!(data_payload(b"body\r\n\r\n"), b"body\r\n\r\n.\r\n", "trailing empty lines are kept");
        assert_eq!(data_payload(b""), b".\r\n");
    }

    #[test]
    fn transcript_lines_are_the_unstuffed_lines() {
        let got: Vec<&[u8]> = lines(b"a\r\n.b\r\n\xff\r\n").collect();
        assert_eq!(got, [&b"a"[..], b".b", b"\xff"]);
        assert_eq!(lines(b"").count(), 0);
    }
}
