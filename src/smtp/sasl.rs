//! The SASL responses SMTP Desk sends (PLAIN, RFC 4616; LOGIN, draft-murchison-sasl-login), and
//! every encoded form of the credentials they produce, for redaction.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;

/// `AUTH PLAIN` initial response: base64 of `\0user\0password` (no authorisation identity).
pub(crate) fn plain(user: &str, password: &str) -> String {
    STANDARD.encode(format!("\0{user}\0{password}"))
}

/// `AUTH LOGIN` answers, each base64: the user name, then the password.
pub(crate) fn login_step(text: &str) -> String {
    STANDARD.encode(text)
}

/// The base64 forms a server could echo back: of the password, of the user name, and of both
/// PLAIN responses (without and with the user as authorisation identity). Without padding, so an
/// echo that keeps or drops the `=` matches either way.
pub(crate) fn encoded_forms(user: &str, password: &str) -> Vec<String> {
    [password.to_string(), user.to_string(), format!("\0{user}\0{password}"), format!("{user}\0{user}\0{password}")]
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| STANDARD_NO_PAD.encode(s))
        .collect()
}
