//! Step 6: AUTH — the password (waiting for the keyring if needed), the mechanism, the login.

use super::{redactor, Opener, Report, StepResult};
use crate::settings::{AuthMethod, Mechanism};
use crate::smtp::conn::Stream;
use crate::smtp::failure::hints;
use crate::smtp::sasl;
use crate::smtp::StepStatus;

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
            return Err(hints::password_missing().into());
        };
        let user = self.profile.auth.username.clone();
        // From here on every line read is redacted as it is read (the keyring read may only now
        // have finished).
        self.t.set_redactor(redactor(self.profile, Some(&password)));
        report.detail("user", user.clone());
        report.detail("offered", if offered.is_empty() { "(none)".into() } else { offered.clone() });
        if !self.caps.offers_auth() {
            let plain = self.session.as_ref().is_some_and(|s| matches!(s.stream, Stream::Plain(_)));
            if plain && self.caps.has("STARTTLS") {
                return Err(report.fail(hints::auth_only_after_starttls()));
            }
            return Err(report.fail(self.place().auth_not_offered()));
        }
        let wanted = self.profile.auth.mechanism.candidates();
        let Some(mech) = wanted.iter().find(|m| self.caps.offers(m)).copied() else {
            let other = self.profile.auth.mechanism != Mechanism::Auto && (self.caps.offers("PLAIN") || self.caps.offers("LOGIN"));
            return Err(report.fail(hints::no_common_mechanism(&offered, wanted, other)));
        };
        report.detail("mechanism", mech);
        let pw = password.expose();
        let r = if mech == "PLAIN" {
            let line = format!("AUTH PLAIN {}", sasl::plain(&user, pw));
            self.cmd_shown(&line, "AUTH PLAIN ********", "logging in").await.map_err(|f| report.fail(f))?
        } else {
            let r = self.cmd("AUTH LOGIN", "logging in").await.map_err(|f| report.fail(f))?;
            if r.code != 334 {
                r
            } else {
                let r = self
                    .cmd_shown(&sasl::login_step(&user), "******** (user name, base64)", "logging in")
                    .await
                    .map_err(|f| report.fail(f))?;
                if r.code != 334 {
                    r
                } else {
                    self.cmd_shown(&sasl::login_step(pw), "******** (password, base64)", "logging in").await.map_err(|f| report.fail(f))?
                }
            }
        };
        if r.code == 235 {
            return report.done(StepStatus::Ok, format!("Logged in as {user} with {mech}."));
        }
        Err(report.fail(hints::auth_rejected(&user, &r)))
    }
}
