//! The SASL responses SMTP Desk sends (PLAIN, RFC 4616; LOGIN, draft-murchison-sasl-login;
//! XOAUTH2; OAUTHBEARER, RFC 7628), and every encoded form of the credentials they produce, for
//! redaction.

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

/// `AUTH XOAUTH2` initial response (Google's and Microsoft's format):
/// base64 of `user=USER^Aauth=Bearer TOKEN^A^A`.
pub(crate) fn xoauth2(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

/// `AUTH OAUTHBEARER` initial response (RFC 7628 §3.1): the GS2 header with the user as
/// authorisation identity (`,` and `=` escaped as RFC 5801 says), then host, port and the bearer
/// token, each ended by ^A.
pub(crate) fn oauthbearer(user: &str, host: &str, port: u16, token: &str) -> String {
    let user = user.replace('=', "=3D").replace(',', "=2C");
    STANDARD.encode(format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"))
}

/// The answer to a server's 334 error continuation during an OAuth2 login: RFC 7628 §3.2.3's
/// single ^A for OAUTHBEARER; an empty line for XOAUTH2, as Google's XOAUTH2 documentation says.
/// The server then ends the exchange with its failure reply.
pub(crate) fn oauth_error_ack(mech: &str) -> &'static str {
    if mech == "OAUTHBEARER" {
        "AQ=="
    } else {
        ""
    }
}

/// The `status` of an OAuth2 error continuation (base64 JSON such as
/// `{"status":"invalid_token","schemes":"bearer","scope":"…"}`), if it is one.
pub(crate) fn oauth_error_status(challenge: &str) -> Option<String> {
    let json = STANDARD.decode(challenge.trim()).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let status = v.get("status")?;
    Some(status.as_str().map(str::to_string).unwrap_or_else(|| status.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_responses_have_the_documented_shape() {
        let x = STANDARD.decode(xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")).unwrap();
        assert_eq!(x, b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
        let o = STANDARD.decode(oauthbearer("a,b=c", "server.example.com", 587, "tok")).unwrap();
        assert_eq!(o, b"n,a=a=2Cb=3Dc,\x01host=server.example.com\x01port=587\x01auth=Bearer tok\x01\x01");
        let challenge = STANDARD.encode(r#"{"status":"invalid_token","schemes":"bearer","scope":"https://mail.google.com/"}"#);
        assert_eq!(oauth_error_status(&challenge).as_deref(), Some("invalid_token"));
        assert_eq!(oauth_error_status("not base64 json"), None);
    }
}
