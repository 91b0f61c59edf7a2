//! Why a validation or test email failed, as a category a script can test and a hint a person can act on.
//!
//! Every hint is written here or in [`hints`] beside it (the probe's step failures), so the window,
//! the CLI and the tests say the same thing.

pub(crate) mod hints;

use serde::Serialize;
use ts_rs::TS;

/// What kind of problem stopped the run. Serialised in snake_case (`dns_not_found`, …): stable
/// names the window and scripts may match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The settings can't be used for this (mode off, no host, bad address).
    InvalidSettings,
    /// The test email's recipient is not an email address.
    InvalidRecipient,
    /// The host name does not exist in DNS (NXDOMAIN or no A/AAAA record).
    DnsNotFound,
    /// DNS itself failed (no resolver configured, SERVFAIL, …).
    DnsFailed,
    /// Every address answered the connection with a reset (nothing listens on the port).
    ConnectionRefused,
    /// No route to the address (network down, IPv6 without IPv6 connectivity).
    NetworkUnreachable,
    /// No answer within the timeout.
    Timeout,
    /// The server speaks TLS from the first byte and we don't, or the reverse.
    TlsModeMismatch,
    /// The TLS handshake failed for another reason.
    TlsHandshakeFailed,
    /// The server offers only TLS versions older than 1.2.
    TlsVersionTooOld,
    /// STARTTLS is required by the settings but the server does not offer it.
    StarttlsNotOffered,
    /// The server offered STARTTLS but refused the command.
    StarttlsRefused,
    /// The certificate chain does not lead to a trusted CA.
    CertificateUntrusted,
    /// The certificate is signed by itself.
    CertificateSelfSigned,
    /// The certificate has expired or is not yet valid.
    CertificateExpired,
    /// The certificate is valid, but for other host names.
    CertificateWrongHost,
    /// The certificate is malformed, revoked or unusable for a server.
    CertificateInvalid,
    /// The custom CA file can't be read or holds no certificate.
    CaFileUnreadable,
    /// The server answered the connection with 421/554 (busy, blocked, …).
    ServerRefused,
    /// The server rejected EHLO and HELO.
    EhloRejected,
    /// Password login is configured but no password is saved.
    PasswordMissing,
    /// The password could not be read from the OS keyring (locked, no keyring service).
    KeyringFailed,
    /// OAuth2: not signed in, the sign-in was refused (sign in again), or no access token could be had.
    SignInFailed,
    /// The server offers no AUTH at all.
    AuthNotOffered,
    /// The server offers AUTH only inside TLS, and the connection is plain.
    AuthOnlyAfterStarttls,
    /// No SASL mechanism both sides support.
    NoCommonMechanism,
    /// The server rejected the user name or password (535).
    AuthRejected,
    /// The server wants a login before it takes mail, and none is configured (530).
    AuthRequired,
    /// MAIL FROM refused.
    SenderRefused,
    /// RCPT TO refused.
    RecipientRefused,
    /// An address has non-ASCII characters before the @ and the server does not offer SMTPUTF8;
    /// found before anything was sent.
    NonAsciiAddress,
    /// DATA or the message itself refused.
    MessageRefused,
    /// The server closed the connection.
    ConnectionClosed,
    /// What came back is not SMTP (another service on the port, or a broken server).
    NotSmtp,
    /// Any other network error.
    Network,
    /// The user cancelled.
    Cancelled,
}

impl std::fmt::Display for Category {
    /// The snake_case name, as in JSON.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => f.write_str(&s),
            _ => write!(f, "{self:?}"),
        }
    }
}

/// A failure: what happened and what to do about it. Never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Failure {
    pub category: Category,
    /// What happened, in plain words, with the server's own text where there is one.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl Failure {
    pub fn new(category: Category, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { category, message: message.into(), hint: hint.into() }
    }

    pub(crate) fn cancelled() -> Self {
        Self::new(Category::Cancelled, "Cancelled.", "Run it again when you are ready.")
    }
}

/// Where the failure happened, for hints that name the server and port.
pub(crate) struct Place<'a> {
    pub host: &'a str,
    pub port: u16,
    pub timeout_secs: u32,
}

impl Place<'_> {
    pub fn dns_not_found(&self) -> Failure {
        Failure::new(
            Category::DnsNotFound,
            format!("The host name {} does not exist in DNS.", self.host),
            "Check the spelling of the server name (copy it from your provider's settings page); \
             if it is an internal name, check that this machine uses the company's DNS (VPN connected?).",
        )
    }

    pub fn timeout(&self, doing: &str) -> Failure {
        Failure::new(
            Category::Timeout,
            format!("No answer from {} port {} within {} s while {doing}.", self.host, self.port, self.timeout_secs),
            format!(
                "Something between here and the server drops the traffic: most often a firewall or the \
                 internet provider blocking outgoing port {port} (port 25 is blocked on many home and cloud networks). \
                 Try the submission ports 587 (STARTTLS) or 465 (implicit TLS), or ask the network administrator to open port {port}.",
                port = self.port
            ),
        )
    }

    /// A timeout after the connection was up: the server (or something in between) stopped answering.
    pub fn stalled(&self, doing: &str) -> Failure {
        Failure::new(
            Category::Timeout,
            format!("{} stopped answering for {} s while {doing}.", self.host, self.timeout_secs),
            format!(
                "The server accepted the connection but did not reply in time. It may be overloaded or slow on purpose \
                 (greeting delays against spam), or a firewall or antivirus proxy interferes with SMTP. Try again later, \
                 or raise the timeout (now {} s).",
                self.timeout_secs
            ),
        )
    }

    pub fn connection_refused(&self) -> Failure {
        Failure::new(
            Category::ConnectionRefused,
            format!("{} refused the connection on port {}: nothing is listening there.", self.host, self.port),
            "Check the port: 587 is usual for STARTTLS, 465 for implicit TLS, 25 for server-to-server mail. \
             If the port is right, the mail server is not running or a firewall rejects the connection.",
        )
    }

    pub fn closed(&self, doing: &str) -> Failure {
        Failure::new(
            Category::ConnectionClosed,
            format!("{} closed the connection while {doing}.", self.host),
            "The server hung up without an SMTP reply. This often means it rejects this machine's address \
             (blocklist, rate limit) or expects TLS from the first byte; check the security setting and try again later.",
        )
    }

    pub fn not_smtp(&self, what: &str) -> Failure {
        Failure::new(
            Category::NotSmtp,
            format!("{}:{} answered with something that is not SMTP: {what}", self.host, self.port),
            format!(
                "Another kind of service listens on port {} (a web server, SSH, a proxy), or it is not a mail server. \
                 Check the host and port in your provider's settings.",
                self.port
            ),
        )
    }

    /// The server speaks TLS at once; the settings wait for a plain greeting.
    pub fn expects_implicit_tls(&self) -> Failure {
        Failure::new(
            Category::TlsModeMismatch,
            format!(
                "{}:{} expects TLS from the first byte (implicit TLS), but the settings wait for a plain SMTP greeting.",
                self.host, self.port
            ),
            "Choose 'Implicit TLS' for this port, or keep STARTTLS and use port 587. (Other mail programs \
             report this as a timeout or 'wrong version number'.)",
        )
    }

    /// The settings start TLS at once; the server greets in plain text.
    pub fn expects_plain_start(&self, detail: &str) -> Failure {
        Failure::new(
            Category::TlsModeMismatch,
            format!("{}:{} talks plain SMTP first, but the settings start TLS at once (implicit TLS): {detail}.", self.host, self.port),
            "Choose 'STARTTLS' for this port (usual on 587 and 25), or use port 465 for implicit TLS. \
             (OpenSSL reports this as 'wrong version number', others as 'first record does not look like a TLS handshake'.)",
        )
    }

    pub fn network(&self, doing: &str, e: &std::io::Error) -> Failure {
        Failure::new(
            Category::Network,
            format!("Network error while {doing} {}:{}: {e}.", self.host, self.port),
            "Check this machine's network connection and try again.",
        )
    }
}
