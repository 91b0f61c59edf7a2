//! The settings model: plain data, serialised as the settings file and sent to the window.
//!
//! Defaults are chosen so that an empty or partial file still loads (`#[serde(default)]`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use ts_rs::TS;

/// The version of the settings file layout this build writes. Schema 1 (before named profiles)
/// reads as schema 2 with none: it had only `profile`, which is still the Global profile.
pub const SCHEMA_VERSION: u32 = 2;

/// The whole settings file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub schema: u32,
    /// The Global profile: every named profile inherits each field it does not override.
    pub profile: Profile,
    /// Named profiles ("alerts", "marketing-site") by name: each holds only what it overrides.
    pub profiles: BTreeMap<String, Overrides>,
    /// The profile used when none is named; unset: Global.
    pub default_profile: Option<String>,
}

/// A named profile's own values, by dotted field key (`relay.host`), each in the JSON type the
/// Global field has. A key that is absent is inherited from Global.
pub type Overrides = BTreeMap<String, serde_json::Value>;

impl Default for Settings {
    fn default() -> Self {
        Self { schema: SCHEMA_VERSION, profile: Profile::default(), profiles: BTreeMap::new(), default_profile: None }
    }
}

/// How mail leaves this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    pub mode: Mode,
    pub relay: Relay,
    /// The name given in EHLO; empty means this machine's name.
    pub ehlo_name: String,
    pub auth: Auth,
    pub sender: Sender,
    /// Where mail for a bare local name (`root`, `www-data`: cron, daemons) goes, e.g. admin@example.com.
    /// Unset: such mail is refused at intake, since the relay could not deliver it.
    pub local_recipient: Option<String>,
    pub limits: Limits,
    pub listener: Listener,
    /// Reports to the sender of mail that could not be delivered.
    pub bounces: Bounces,
    /// How long the mail log and the event log keep their rows.
    pub logs: Logs,
    /// Where "Find settings" (autodetect) looks.
    pub detect: Detect,
    /// DKIM signing of the mail sent (Direct mode, or a relay that doesn't sign): docs/direct.md.
    pub dkim: Dkim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Send nothing.
    #[default]
    Off,
    /// Hand every message to one SMTP server.
    Relay,
    /// Deliver to each recipient's mail servers (MX).
    Direct,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub verify_certificates: bool,
    /// A PEM file of extra CA certificates to trust (e.g. a company CA).
    pub ca_file: Option<PathBuf>,
}

impl Default for Relay {
    fn default() -> Self {
        Self { host: String::new(), port: 587, security: Security::StartTls, verify_certificates: true, ca_file: None }
    }
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain connect, then STARTTLS; required, never silently skipped (RFC 3207).
    #[default]
    StartTls,
    /// TLS from the first byte (RFC 8314), usually port 465.
    ImplicitTls,
    /// No encryption at all.
    None,
}

impl Security {
    /// The port this security mode is normally used on.
    pub fn usual_port(self) -> u16 {
        match self {
            Security::StartTls => 587,
            Security::ImplicitTls => 465,
            Security::None => 25,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    pub method: AuthMethod,
    pub username: String,
    pub mechanism: Mechanism,
    /// OAuth2 only: whose sign-in (a preset's URLs and scopes, or the custom ones below).
    pub oauth_provider: OAuthProvider,
    /// OAuth2 only: the application's client id, as registered with the provider (docs/oauth.md).
    pub oauth_client_id: String,
    /// OAuth2 only: the "client secret" Google issues to desktop applications. Google says it is
    /// not a secret for installed apps (it ships inside them); empty for Microsoft and PKCE-only
    /// providers.
    pub oauth_client_secret: String,
    /// OAuth2: the authorization endpoint; empty = the preset's (required for `custom`).
    pub oauth_authorize_url: String,
    /// OAuth2: the token endpoint; empty = the preset's (required for `custom`).
    pub oauth_token_url: String,
    /// OAuth2: the device authorization endpoint (RFC 8628); empty = the preset's, if any.
    pub oauth_device_url: String,
    /// OAuth2: the scopes, space-separated; empty = the preset's (required for `custom`).
    pub oauth_scopes: String,
}

/// Whose OAuth2 sign-in a profile uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[serde(rename_all = "snake_case")]
pub enum OAuthProvider {
    #[default]
    Google,
    /// Microsoft 365 / Exchange Online (Entra ID).
    Microsoft,
    /// Any other OAuth2 authorization server: its URLs and scopes are set by hand.
    Custom,
}

/// How we prove who we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Anonymous: the server relays for us without a login.
    #[default]
    None,
    /// Username + password, the password kept in the OS keyring.
    Password,
    /// OAuth2 sign-in (XOAUTH2 or OAUTHBEARER): a refresh token in the OS keyring, access tokens
    /// only in memory (src/oauth/).
    #[serde(rename = "oauth2")]
    OAuth2,
}

/// The SASL mechanism for password login.
///
/// `Auto` takes NTLM only when the server offers neither PLAIN nor LOGIN: inside TLS those are
/// as safe and simpler, and NTLM's challenge and response can be attacked offline by whoever
/// sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// The best one the server offers: PLAIN, else LOGIN, else NTLM.
    #[default]
    Auto,
    Plain,
    Login,
    /// NTLM (NTLMv2 only), as on-premises Exchange offers it. The user name may be
    /// `DOMAIN\user`, `user@domain` or `user`.
    Ntlm,
    /// OAuth2 only: Google's and Microsoft's XOAUTH2.
    Xoauth2,
    /// OAuth2 only: OAUTHBEARER (RFC 7628).
    Oauthbearer,
}

impl Mechanism {
    /// The SASL names this setting may use, in order of preference.
    pub fn candidates(self) -> &'static [&'static str] {
        match self {
            Mechanism::Auto => &["PLAIN", "LOGIN", "NTLM"],
            Mechanism::Plain => &["PLAIN"],
            Mechanism::Login => &["LOGIN"],
            Mechanism::Ntlm => &["NTLM"],
            Mechanism::Xoauth2 => &["XOAUTH2"],
            Mechanism::Oauthbearer => &["OAUTHBEARER"],
        }
    }

    /// The SASL names an OAuth2 login may use, in order of preference: XOAUTH2 first, as every
    /// provider that offers OAUTHBEARER (Gmail) offers it too and Microsoft offers only it.
    pub fn oauth_candidates(self) -> &'static [&'static str] {
        match self {
            Mechanism::Oauthbearer => &["OAUTHBEARER"],
            Mechanism::Xoauth2 => &["XOAUTH2"],
            _ => &["XOAUTH2", "OAUTHBEARER"],
        }
    }

    /// Whether this mechanism sends a bearer token (OAuth2) rather than a password.
    pub fn is_oauth(self) -> bool {
        matches!(self, Mechanism::Xoauth2 | Mechanism::Oauthbearer)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Sender {
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
}

/// Bounces: a delivery status report (RFC 3464) to the envelope sender when a recipient fails
/// for good. Files from before these settings get the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Bounces {
    /// Send them at all.
    pub send: bool,
    /// At most this many an hour, so a storm of failures can't fill the disk; past it the
    /// failures are only logged.
    pub max_per_hour: u32,
}

impl Default for Bounces {
    fn default() -> Self {
        Self { send: true, max_per_hour: 20 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Seconds allowed for each network step.
    pub timeout_secs: u32,
    /// Connections open to the server at once.
    pub connection_limit: u32,
    /// Seconds an idle connection is kept open for the next message.
    pub max_idle_secs: u32,
    /// Messages sent over one connection before it is renewed.
    pub batch_size: u32,
    /// Hours a message may wait (deferred) before delivery gives up on it. Files from before
    /// this setting get the default.
    pub max_queue_age_hours: u32,
}

impl Limits {
    /// The time allowed for each network step (at least a second, whatever the file says).
    pub fn step_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.timeout_secs.max(1)))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self { timeout_secs: 30, connection_limit: 4, max_idle_secs: 60, batch_size: 100, max_queue_age_hours: 120 }
    }
}

/// The optional SMTP listener on loopback (127.0.0.1 and ::1), for programs that can't run our
/// `sendmail` as this user (root's cron, daemons). Its password is kept in the OS keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Listener {
    /// Off by default: nothing listens until it is turned on.
    pub enabled: bool,
    /// The TCP port on 127.0.0.1 and ::1.
    pub port: u16,
    /// The local login clients must give (AUTH PLAIN or LOGIN); empty: no login is asked.
    pub username: String,
}

impl Default for Listener {
    fn default() -> Self {
        Self { enabled: false, port: 2525, username: String::new() }
    }
}

/// The mail log and the event log. Files from before this setting get the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Logs {
    /// Rows older than this many days are deleted by the delivery agent (daily).
    pub retention_days: u32,
}

impl Default for Logs {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

/// Where "Find settings" (`smtp-desk detect`, src/detect/) looks. Files from before this setting
/// get the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Detect {
    /// The ISPDB base address (Mozilla's database of providers); the domain is appended.
    pub ispdb_url: String,
}

impl Default for Detect {
    fn default() -> Self {
        Self { ispdb_url: crate::detect::DEFAULT_ISPDB_URL.into() }
    }
}

/// DKIM signing (RFC 6376): the private key is made by SMTP Desk and kept in the OS keyring
/// (`smtp-desk dkim generate`); the public key is published at `SELECTOR._domainkey.DOMAIN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Dkim {
    /// Sign every message sent with this profile.
    pub enabled: bool,
    /// The selector: the DNS label the public key is published under (`SELECTOR._domainkey`).
    pub selector: String,
    pub algorithm: DkimAlgorithm,
    /// The signing domain (`d=`); empty: the From address's domain.
    pub domain: String,
}

impl Default for Dkim {
    fn default() -> Self {
        Self { enabled: false, selector: "smtpdesk".into(), algorithm: DkimAlgorithm::Rsa2048, domain: String::new() }
    }
}

/// The DKIM key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, TS)]
#[serde(rename_all = "snake_case")]
pub enum DkimAlgorithm {
    /// RSA-2048 with SHA-256: verified by every receiver.
    #[default]
    Rsa2048,
    /// Ed25519 with SHA-256 (RFC 8463): short keys, not yet verified by every receiver.
    Ed25519,
}
