//! Step 4: EHLO with the configured name (HELO as a fallback) and the capability list.

use super::{Opener, Report, StepResult};
use crate::smtp::failure::{hints, Failure};
use crate::smtp::reply::Capabilities;
use crate::smtp::StepStatus;

impl Opener<'_> {
    /// The EHLO name in its ASCII (punycode) form, and why it is not this machine's own name
    /// when the settings leave it empty and that name is not a valid host name.
    fn ehlo_name(&self) -> crate::machine::EhloName {
        crate::machine::ehlo_name_from_setting(&self.profile.ehlo_name, self.local_ip)
    }

    /// EHLO (falling back to HELO); returns whether only HELO worked.
    pub(super) async fn say_hello(&mut self) -> Result<bool, Failure> {
        let name = self.ehlo_name().name;
        let r = self.cmd(&format!("EHLO {name}"), "sending EHLO").await?;
        if r.code == 250 {
            self.caps = Capabilities::from_ehlo(&r);
            return Ok(false);
        }
        if r.code >= 500 {
            let helo = self.cmd(&format!("HELO {name}"), "sending HELO").await?;
            if helo.code == 250 {
                self.caps = Capabilities::default();
                return Ok(true);
            }
        }
        Err(hints::ehlo_rejected(&name, &r))
    }

    pub(super) async fn ehlo(&mut self) -> StepResult {
        let mut report = Report::default();
        let name = self.ehlo_name();
        report.detail("EHLO name", name.name.clone());
        if name.name != self.profile.ehlo_name.trim() && !self.profile.ehlo_name.trim().is_empty() {
            report.detail("EHLO name as set", self.profile.ehlo_name.trim().to_string());
        }
        if let Some(why) = name.fallback_reason {
            report.detail("EHLO name chosen", why.clone());
            report.warn(format!("EHLO name: {why}."));
        }
        let helo_only = self.say_hello().await.map_err(|f| report.fail(f))?;
        report.details.extend(self.caps.details());
        if helo_only {
            let w = "The server refused EHLO and accepted only HELO: no extensions (no STARTTLS, no AUTH).".to_string();
            report.warn(w.clone());
            return report.done(StepStatus::Warning, w);
        }
        let summary = self.caps.summary();
        report.done(StepStatus::Ok, summary)
    }
}
