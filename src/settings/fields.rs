//! The field registry: every setting's key, label, help, kind, accepted range and the modes that
//! show it, defined once. The CLI's key list and `config show`, validation's ranges and text
//! fields, and the window's labels and limits (through the generated `fields.ts`) all read it.

use super::Mode;
use serde::Serialize;
use ts_rs::TS;

/// What kind of value a field holds, and so how it is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "FieldKind")]
pub enum Kind {
    /// One of a fixed set of names.
    Choice,
    /// Free text.
    Text,
    /// Free text; empty means "not set".
    OptionalText,
    /// A whole number within [`Field::range`].
    Number,
    /// On or off.
    Switch,
}

/// One setting, as the CLI, validation and the window know it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Field {
    /// The dotted key (`config set KEY`, the form's field names, [`super::Issue::field`]).
    pub name: &'static str,
    /// What people call it, in messages and on the form.
    pub label: &'static str,
    /// One line of help shown under the control.
    pub help: &'static str,
    /// What `config set` accepts, for its help.
    pub takes: &'static str,
    pub kind: Kind,
    /// The accepted range of a number (inclusive).
    pub range: Option<(u32, u32)>,
    /// The unit a number is counted in, as messages name it.
    pub unit: &'static str,
    /// The modes in which the field matters (the window hides it in the others).
    pub modes: &'static [Mode],
    /// Whether a named profile may override it. Fields of the machine as a whole (the listener's
    /// port, how long logs are kept) are set in Global only.
    pub per_profile: bool,
}

/// Marks a field as the machine's: set in Global only, never overridden by a named profile.
const fn machine_wide(f: Field) -> Field {
    Field { per_profile: false, ..f }
}

const ALL: &[Mode] = &[Mode::Off, Mode::Relay, Mode::Direct];
const RELAY: &[Mode] = &[Mode::Relay];
/// The modes that send mail.
const SENDING: &[Mode] = &[Mode::Relay, Mode::Direct];

const fn field(
    name: &'static str,
    label: &'static str,
    kind: Kind,
    takes: &'static str,
    help: &'static str,
    modes: &'static [Mode],
) -> Field {
    Field { name, label, help, takes, kind, range: None, unit: "", modes, per_profile: true }
}

/// A numeric field; its range is written once and gives both the check and the CLI's help text.
macro_rules! number {
    ($name:literal, $label:literal, $min:literal ..= $max:literal, $unit:literal, $modes:expr, $help:literal) => {
        Field {
            name: $name,
            label: $label,
            help: $help,
            takes: concat!(stringify!($min), "-", stringify!($max)),
            kind: Kind::Number,
            range: Some(($min, $max)),
            unit: $unit,
            modes: $modes,
            per_profile: true,
        }
    };
}

/// Every setting, in the order the form and `config show` list them.
pub const FIELDS: &[Field] = &[
    field("mode", "Mode", Kind::Choice, "off | relay | direct", "", ALL),
    field(
        "relay.host",
        "Server",
        Kind::Text,
        "host name or IP; host:port sets the port too",
        "Host name or IP address. Pasting host:port fills the port too.",
        RELAY,
    ),
    number!("relay.port", "Port", 1..=65535, "", RELAY, ""),
    field("relay.security", "Security", Kind::Choice, "start_tls | implicit_tls | none", "", RELAY),
    field(
        "relay.verify_certificates",
        "Verify certificates",
        Kind::Switch,
        "true | false",
        "Turn off only for a test server with a self-signed certificate.",
        RELAY,
    ),
    field(
        "relay.ca_file",
        "Extra CA certificates",
        Kind::OptionalText,
        "path to a PEM file, or empty to clear",
        "Path to a PEM file of CA certificates to trust as well, e.g. a company CA.",
        RELAY,
    ),
    field(
        "ehlo_name",
        "EHLO name",
        Kind::Text,
        "host name, or empty for this machine's name",
        "The name this machine gives the server: in Direct mode its public name (whose reverse DNS matches). Empty: this machine's name.",
        SENDING,
    ),
    field("auth.method", "Login", Kind::Choice, "none | password | oauth2", "", RELAY),
    field("auth.username", "Username", Kind::Text, "login name", "Often the full email address.", RELAY),
    field("auth.mechanism", "Mechanism", Kind::Choice, "auto | plain | login | ntlm | xoauth2 | oauthbearer", "", RELAY),
    field(
        "auth.oauth_provider",
        "Sign-in provider",
        Kind::Choice,
        "google | microsoft | custom",
        "Whose OAuth2 sign-in the account uses.",
        RELAY,
    ),
    field(
        "auth.oauth_client_id",
        "Client id",
        Kind::Text,
        "the application's client id",
        "The client id of SMTP Desk's registration with the provider (see docs/oauth.md).",
        RELAY,
    ),
    field(
        "auth.oauth_client_secret",
        "Client secret",
        Kind::Text,
        "Google's desktop-app client secret, or empty",
        "Google issues one to desktop apps and says it is not confidential; empty for Microsoft.",
        RELAY,
    ),
    field("auth.oauth_authorize_url", "Authorization URL", Kind::Text, "https URL, or empty for the preset", "", RELAY),
    field("auth.oauth_token_url", "Token URL", Kind::Text, "https URL, or empty for the preset", "", RELAY),
    field("auth.oauth_device_url", "Device authorization URL", Kind::Text, "https URL, or empty for the preset", "", RELAY),
    field("auth.oauth_scopes", "Scopes", Kind::Text, "space-separated scopes, or empty for the preset", "", RELAY),
    field("sender.from_name", "From name", Kind::Text, "display name", "Shown to recipients, e.g. Build Server.", ALL),
    field("sender.from_address", "From address", Kind::Text, "name@example.com", "The address mail is sent from.", ALL),
    field(
        "sender.reply_to",
        "Reply-To",
        Kind::OptionalText,
        "name@example.com, or empty to clear",
        "Where replies go, if not to the From address.",
        ALL,
    ),
    field(
        "local_recipient",
        "Local recipient",
        Kind::OptionalText,
        "name@example.com for mail to root, cron and other local users, or empty to clear",
        "Where mail for root, cron and other local users goes.",
        ALL,
    ),
    number!("limits.timeout_secs", "Timeout", 1..=600, "seconds", ALL, "Allowed for each network step;"),
    number!("limits.connection_limit", "Connections", 1..=100, "connections", ALL, "Open to the server at once;"),
    number!("limits.max_idle_secs", "Idle time", 0..=3600, "seconds", ALL, "An idle connection is kept open;"),
    number!("limits.batch_size", "Batch size", 1..=10000, "messages", ALL, "Sent over one connection;"),
    number!(
        "limits.max_queue_age_hours",
        "Give up after",
        1..=8760,
        "hours",
        ALL,
        "Mail that still cannot be delivered fails after this long;"
    ),
    field(
        "dkim.enabled",
        "DKIM signing",
        Kind::Switch,
        "true | false",
        "Sign each message so receivers can tell it is really from your domain (publish the key first).",
        SENDING,
    ),
    field(
        "dkim.selector",
        "DKIM selector",
        Kind::Text,
        "a DNS label such as smtpdesk or 2026a",
        "The key is published at SELECTOR._domainkey.DOMAIN.",
        SENDING,
    ),
    field("dkim.algorithm", "DKIM key type", Kind::Choice, "rsa2048 | ed25519", "RSA-2048 is checked by every receiver.", SENDING),
    field(
        "dkim.domain",
        "DKIM domain",
        Kind::Text,
        "domain, or empty for the From address's",
        "The domain that signs. Empty: the From address's domain.",
        SENDING,
    ),
    machine_wide(field(
        "listener.enabled",
        "SMTP listener",
        Kind::Switch,
        "true | false",
        "Take mail over SMTP on 127.0.0.1 and ::1 (for root's cron and daemons). Off by default.",
        ALL,
    )),
    machine_wide(number!("listener.port", "Listener port", 1..=65535, "", ALL, "Loopback only; 2525 unless something else uses it.")),
    field(
        "listener.username",
        "Listener login",
        Kind::Text,
        "local login name, or empty for none",
        "A login clients must give (its password is kept in the keyring). Empty: no login asked.",
        ALL,
    ),
    field(
        "bounces.send",
        "Send bounces",
        Kind::Switch,
        "true | false",
        "Tell the sender when a message can't be delivered (never for a bounce or a null sender).",
        ALL,
    ),
    machine_wide(number!("bounces.max_per_hour", "Bounces an hour", 1..=10000, "bounces", ALL, "At most this many are sent;")),
    machine_wide(number!(
        "logs.retention_days",
        "Keep logs for",
        1..=3650,
        "days",
        ALL,
        "Mail-log and event-log entries older than this are deleted;"
    )),
    machine_wide(field(
        "detect.ispdb_url",
        "ISPDB address",
        Kind::Text,
        "an https:// URL ending in /",
        "Where Find settings asks Mozilla's database of providers (the domain is appended).",
        ALL,
    )),
];

/// The field with this key, if there is one.
pub fn find(name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.name == name)
}

/// The value of each field in `profile`, by key (`None` for a key the profile lacks).
pub fn value_of<'a>(doc: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    name.split('.').try_fold(doc, |node, part| node.get(part))
}
