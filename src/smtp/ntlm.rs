//! AUTH NTLM's three messages ([MS-NLMP]; the SMTP exchange is [MS-SMTPNTLM]): the negotiate
//! message we send, the server's challenge we read, and the authenticate message with the
//! NTLMv2 response. NTLMv2 only: the LM and NTLMv1 responses (crackable from a captured
//! exchange) are never computed.
//!
//! The messages and the NTLMv2 arithmetic come from the `ntlmclient` crate: pure Rust on the
//! RustCrypto `hmac`/`md-5`/`md4` crates, only the NTLMSSP message codec and response functions,
//! and small. `sspi` (Devolutions) was the other candidate and is better maintained, but it is a
//! whole SSPI (Kerberos, CredSSP, ASN.1, RSA) whose current releases pin pre-release crates
//! exactly (`picky =7.0.0-rc.…`, `rsa =0.10.0-rc.…`), a large build and a dependency conflict
//! waiting to happen for three messages we need.
//!
//! The user name forms people write: `DOMAIN\user` (the domain goes into the message and the
//! NTLMv2 hash), `user@domain` (a UPN, sent whole as the user with no domain, as Windows does)
//! and a plain `user`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ntlmclient::{Credentials, Flags, Message, NegotiateMessage};

/// Why a server's challenge could not be answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("the challenge is not base64")]
    NotBase64,
    #[error("the challenge is not an NTLM challenge message ({0})")]
    NotChallenge(String),
    #[error("the NTLM answer could not be built ({0})")]
    Build(String),
}

/// What we ask for: Unicode strings (OEM accepted), NTLM with extended session security and
/// the server's target information, which NTLMv2 folds into its response.
fn wanted() -> Flags {
    Flags::NEGOTIATE_UNICODE
        | Flags::NEGOTIATE_OEM
        | Flags::REQUEST_TARGET
        | Flags::NEGOTIATE_NTLM
        | Flags::NEGOTIATE_ALWAYS_SIGN
        | Flags::NEGOTIATE_NTLM2_KEY
        | Flags::NEGOTIATE_TARGET_INFO
}

/// The user and domain NTLM sends for a user name as written.
pub(crate) fn split_user(username: &str) -> (String, String) {
    match username.split_once('\\') {
        Some((domain, user)) if !user.is_empty() => (user.to_string(), domain.to_string()),
        _ => (username.to_string(), String::new()),
    }
}

/// The negotiate (type 1) message, base64. It names neither the domain nor this machine: the
/// authenticate message carries the domain, and the workstation name is nobody's business.
pub(crate) fn negotiate() -> String {
    let msg = Message::Negotiate(NegotiateMessage {
        flags: wanted(),
        supplied_domain: String::new(),
        supplied_workstation: String::new(),
        os_version: Default::default(),
    });
    STANDARD.encode(msg.to_bytes().expect("a negotiate message without strings always encodes"))
}

/// The authenticate (type 3) message, base64, answering the server's base64 `challenge` for
/// `username` (any of the forms above) and `password`.
pub(crate) fn authenticate(challenge: &str, username: &str, password: &str) -> Result<String, Error> {
    let bytes = STANDARD.decode(challenge.trim()).map_err(|_| Error::NotBase64)?;
    let challenge = match Message::try_from(bytes.as_slice()) {
        Ok(Message::Challenge(c)) => c,
        Ok(other) => return Err(Error::NotChallenge(format!("message type {}", other.message_number()))),
        Err(e) => return Err(Error::NotChallenge(format!("{e:?}"))),
    };
    let target_info: Vec<u8> = challenge.target_information.iter().flat_map(|entry| entry.to_bytes()).collect();
    let (user, domain) = split_user(username);
    let creds = Credentials { username: user, password: password.to_string(), domain };
    let response = ntlmclient::respond_challenge_ntlm_v2(challenge.challenge, &target_info, ntlmclient::get_ntlm_time(), &creds);
    // Strings are encoded as the server chose (Unicode unless it took OEM only).
    let mut flags = (wanted() & challenge.flags) | Flags::NEGOTIATE_NTLM;
    if !flags.intersects(Flags::NEGOTIATE_UNICODE | Flags::NEGOTIATE_OEM) {
        flags |= Flags::NEGOTIATE_UNICODE;
    }
    if flags.contains(Flags::NEGOTIATE_UNICODE) {
        flags.remove(Flags::NEGOTIATE_OEM);
    }
    let msg = response.to_message(&creds, "", flags);
    let bytes = msg.to_bytes().map_err(|e| Error::Build(format!("{e:?}")))?;
    Ok(STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntlmclient::{AuthenticateMessage, ChallengeMessage, TargetInfoEntry, TargetInfoType};

    fn challenge(flags: Flags) -> String {
        let msg = Message::Challenge(ChallengeMessage {
            target_name: "CORP".into(),
            flags,
            challenge: *b"\x01\x23\x45\x67\x89\xab\xcd\xef",
            context: (0, 0),
            target_information: vec![
                TargetInfoEntry::from_string(TargetInfoType::NtDomain, "CORP"),
                TargetInfoEntry::from_string(TargetInfoType::Terminator, ""),
            ],
            os_version: Default::default(),
        });
        STANDARD.encode(msg.to_bytes().unwrap())
    }

    fn decode(b64: &str) -> AuthenticateMessage {
        match Message::try_from(STANDARD.decode(b64).unwrap().as_slice()).unwrap() {
            Message::Authenticate(a) => a,
            other => panic!("not an authenticate message: {other:?}"),
        }
    }

    #[test]
    fn user_name_forms() {
        assert_eq!(split_user("CORP\\alice"), ("alice".into(), "CORP".into()));
        assert_eq!(split_user("alice@corp.example"), ("alice@corp.example".into(), String::new()));
        assert_eq!(split_user("alice"), ("alice".into(), String::new()));
        assert_eq!(split_user("CORP\\"), ("CORP\\".into(), String::new()), "no user after the backslash: taken as written");
    }

    #[test]
    fn the_answer_is_ntlmv2_for_the_split_user() {
        let flags = Flags::NEGOTIATE_UNICODE | Flags::NEGOTIATE_NTLM | Flags::NEGOTIATE_TARGET_INFO;
        let answer = decode(&authenticate(&challenge(flags), "CORP\\alice", "pw").unwrap());
        assert_eq!((answer.user_name.as_str(), answer.domain_name.as_str()), ("alice", "CORP"));
        // An NTLMv1 response is exactly 24 bytes; NTLMv2's is the 16-byte proof and the blob.
        assert!(answer.ntlm_response.len() > 24, "{}", answer.ntlm_response.len());
        assert!(answer.flags.contains(Flags::NEGOTIATE_UNICODE));
    }

    #[test]
    fn a_challenge_that_is_not_one_is_an_error() {
        assert!(matches!(authenticate("not base64!", "alice", "pw"), Err(Error::NotBase64)));
        assert!(matches!(authenticate(&negotiate(), "alice", "pw"), Err(Error::NotChallenge(_))));
        assert!(matches!(authenticate(&STANDARD.encode("NTLMSSP\0"), "alice", "pw"), Err(Error::NotChallenge(_))));
    }
}
