//! Step 6: AUTH — the password (waiting for the keyring if needed), the mechanism, the login.
//!
//! What is sent is never recorded: the transcript shows a placeholder for each credential, and
//! NTLM's three base64 messages (which carry the user, the domain and the NTLMv2 response) as
//! `<NTLM negotiate>`, `<NTLM challenge>` and `<NTLM authenticate, redacted>`. OAuth2's
//! XOAUTH2 / OAUTHBEARER responses carry the bearer token and show as `AUTH XOAUTH2 ********`;
//! the server's base64 JSON error continuation shows as a placeholder too.

use super::{redactor, Opener, Report, StepResult};
use crate::secrets::Password;
use crate::settings::{AuthMethod, Mechanism};
use crate::smtp::conn::Stream;
use crate::smtp::failure::hints;
use crate::smtp::failure::Failure;
use crate::smtp::reply::Reply;
use crate::smtp::StepStatus;
use crate::smtp::{ntlm, sasl};

/// The longest AUTH line with an initial response sent (RFC 5321's 512 with CRLF); a longer
/// response is sent on its own after the server's 334.
const MAX_INITIAL_LINE: usize = 510;

impl Opener<'_> {
    pub(super) async fn auth(&mut self) -> StepResult {
        let mut report = Report::default();
        let offered = self.caps.auth_summary();
        if self.profile.auth.method == AuthMethod::None {
            if !self.caps.offers_auth() {
                return report.done(StepStatus::Skipped, "No login configured.");
            }
            return report.done(StepStatus::Skipped, format!("No login configured (the server offers AUTH {offered})."));
        }
        let Some(password) = self.password().await? else {
            if self.profile.auth.method == AuthMethod::OAuth2 {
                return Err(hints::oauth_refresh_failed(&crate::oauth::Error::NotSignedIn).into());
            }
            return Err(hints::password_missing().into());
        };
        if self.profile.auth.method == AuthMethod::OAuth2 {
            return self.oauth(report, password).await;
        }
        let user = match self.begin_login(&mut report, &password, &offered) {
            Ok(user) => user,
            Err(f) => return Err(report.fail(f)),
        };
        let wanted = self.profile.auth.mechanism.candidates();
        let Some(mech) = wanted.iter().find(|m| self.caps.offers(m)).copied() else {
            let other = self.profile.auth.mechanism != Mechanism::Auto && Mechanism::Auto.candidates().iter().any(|m| self.caps.offers(m));
            return Err(report.fail(hints::no_common_mechanism(&offered, wanted, other)));
        };
        report.detail("mechanism", mech);
        let pw = password.expose();
        let r = match mech {
            "PLAIN" => {
                let line = format!("AUTH PLAIN {}", sasl::plain(&user, pw));
                self.cmd_shown(&line, "AUTH PLAIN ********", "logging in").await
            }
            "NTLM" => self.ntlm(&user, pw).await,
            _ => self.login(&user, pw).await,
        }
        .map_err(|f| report.fail(f))?;
        if r.code == 235 {
            return report.done(StepStatus::Ok, format!("Logged in as {user} with {mech}."));
        }
        Err(report.fail(hints::auth_rejected(&user, &r)))
    }

    /// What every login does first: from here on every line read is redacted as it is read (the
    /// keyring read may only now have finished); the step notes the user and what the server
    /// offers, and fails when the server offers no login at all. Gives the user name.
    fn begin_login(&mut self, report: &mut Report, secret: &Password, offered: &str) -> Result<String, Failure> {
        let user = self.profile.auth.username.clone();
        self.t.set_redactor(redactor(self.profile, Some(secret)));
        report.detail("user", user.clone());
        report.detail("offered", if offered.is_empty() { "(none)".into() } else { offered.to_string() });
        if !self.caps.offers_auth() {
            let plain = self.session.as_ref().is_some_and(|s| matches!(s.stream, Stream::Plain(_)));
            if plain && self.caps.has("STARTTLS") {
                return Err(hints::auth_only_after_starttls());
            }
            return Err(self.place().auth_not_offered());
        }
        Ok(user)
    }

    /// OAuth2: XOAUTH2 or OAUTHBEARER with the access token; on a refusal the token is refreshed
    /// once and the login tried again (the provider's expiry and the server's view of the token
    /// can disagree), then a refusal says to sign in again.
    async fn oauth(&mut self, mut report: Report, token: Password) -> StepResult {
        let offered = self.caps.auth_summary();
        let user = match self.begin_login(&mut report, &token, &offered) {
            Ok(user) => user,
            Err(f) => return Err(report.fail(f)),
        };
        let wanted = self.profile.auth.mechanism.oauth_candidates();
        let Some(mech) = wanted.iter().find(|m| self.caps.offers(m)).copied() else {
            return Err(report.fail(hints::no_common_mechanism(&offered, wanted, false)));
        };
        report.detail("mechanism", mech);
        let mut r = self.bearer(mech, &user, &token).await.map_err(|f| report.fail(f))?;
        if matches!(r.code, 334 | 535) {
            if let Ok(ep) = crate::oauth::endpoints(&self.profile.auth) {
                match crate::oauth::renew(&ep, token.expose()).await {
                    Some(Ok(fresh)) => {
                        self.t.redact_also(fresh.expose());
                        self.t.redact_also(&sasl::xoauth2(&user, fresh.expose()));
                        self.t.info("The server refused the access token; it was refreshed and the login is tried once more.");
                        r = self.bearer(mech, &user, &fresh).await.map_err(|f| report.fail(f))?;
                    }
                    Some(Err(e)) => return Err(report.fail(hints::oauth_refresh_failed(&e))),
                    None => {}
                }
            }
        }
        if r.code == 235 {
            return report.done(StepStatus::Ok, format!("Logged in as {user} with {mech} (OAuth2)."));
        }
        Err(report.fail(hints::oauth_rejected(&user, &r)))
    }

    /// One XOAUTH2 / OAUTHBEARER exchange: the initial response, and if the server answers 334
    /// with its error details, the dummy answer that lets it send the final reply.
    async fn bearer(&mut self, mech: &str, user: &str, token: &Password) -> Result<Reply, Failure> {
        let initial = match mech {
            "OAUTHBEARER" => sasl::oauthbearer(user, &self.host, self.profile.relay.port, token.expose()),
            _ => sasl::xoauth2(user, token.expose()),
        };
        self.t.redact_also(&initial);
        let shown = format!("AUTH {mech} ********");
        let r = if initial.len() + mech.len() + 7 <= MAX_INITIAL_LINE {
            let line = format!("AUTH {mech} {initial}");
            self.cmd_challenge(&line, &shown, "<OAuth2 error details, redacted>", "logging in").await?
        } else {
            // A JWT access token (Microsoft's, 1–2 KB) passes the 512-byte command line many
            // servers still keep to despite RFC 4954's 12,288: the response goes after a 334.
            let r = self.cmd(&format!("AUTH {mech}"), "logging in").await?;
            if r.code != 334 {
                return Ok(r);
            }
            self.cmd_challenge(&initial, "******** (bearer token, base64)", "<OAuth2 error details, redacted>", "logging in").await?
        };
        if r.code != 334 {
            return Ok(r);
        }
        let status = r.lines.first().and_then(|c| sasl::oauth_error_status(c));
        if let Some(status) = status {
            self.t.info(format!("The server refused the token (status {status})."));
        }
        self.cmd_shown(sasl::oauth_error_ack(mech), "(empty answer, as the protocol requires after an error)", "logging in").await
    }

    /// AUTH LOGIN: the user name, then the password, each answering a 334.
    async fn login(&mut self, user: &str, pw: &str) -> Result<Reply, Failure> {
        let r = self.cmd("AUTH LOGIN", "logging in").await?;
        if r.code != 334 {
            return Ok(r);
        }
        let r = self.cmd_shown(&sasl::login_step(user), "******** (user name, base64)", "logging in").await?;
        if r.code != 334 {
            return Ok(r);
        }
        self.cmd_shown(&sasl::login_step(pw), "******** (password, base64)", "logging in").await
    }

    /// AUTH NTLM ([MS-SMTPNTLM]): `AUTH NTLM`, 334; the negotiate message, 334 with the
    /// challenge; the authenticate message, 235 or 535. No initial response: Exchange answers the
    /// bare command with `334 NTLM supported` and not every server takes one.
    async fn ntlm(&mut self, user: &str, pw: &str) -> Result<Reply, Failure> {
        let r = self.cmd("AUTH NTLM", "logging in").await?;
        if r.code != 334 {
            return Ok(r);
        }
        let r = self.cmd_challenge(&ntlm::negotiate(), "<NTLM negotiate>", "<NTLM challenge>", "logging in").await?;
        if r.code != 334 {
            return Ok(r);
        }
        let challenge = r.lines.first().map(String::as_str).unwrap_or("");
        let answer = match ntlm::authenticate(challenge, user, pw) {
            Ok(answer) => answer,
            Err(e) => {
                // Cancels the exchange (RFC 4954) so the session stays usable for QUIT.
                let _ = self.cmd("*", "cancelling the login").await;
                return Err(hints::ntlm_bad_challenge(&e));
            }
        };
        // A server that echoes the answer back must not put it in the transcript.
        self.t.redact_also(&answer);
        self.cmd_shown(&answer, "<NTLM authenticate, redacted>", "logging in").await
    }
}
