//! The failures the probe's steps report, each with its hint: the words a person reads live here,
//! the decisions (which failure, when) in `probe/`.

use super::{Category, Failure, Place};
use crate::smtp::reply::Reply;

impl Place<'_> {
    /// The whole run passed its overall limit (`limit_factor` × the step timeout) during `step`.
    pub fn run_timeout(&self, what: &str, step: &str, limit_factor: u32) -> Failure {
        let secs = u64::from(self.timeout_secs);
        Failure::new(
            Category::Timeout,
            format!(
                "{what} was stopped at its overall time limit of {} s ({limit_factor} × the {secs} s timeout), during the step \
                 '{step}': {} answers, but too slowly.",
                secs * u64::from(limit_factor),
                self.host
            ),
            format!(
                "Each step may take up to the timeout ({secs} s) and the whole run {limit_factor} times that. The server (or a \
                 firewall or antivirus proxy in between) is very slow right now: try again later, or raise the timeout \
                 (limits.timeout_secs)."
            ),
        )
    }

    pub fn invalid_host_name(&self) -> Failure {
        Failure::new(
            Category::InvalidSettings,
            format!("'{}' is not a valid host name.", self.host),
            "Check the host setting: a name like smtp.example.com, or an IP address.",
        )
    }

    pub fn dns_timeout(&self) -> Failure {
        Failure::new(
            Category::Timeout,
            format!("No DNS answer for {} within {} s.", self.host, self.timeout_secs),
            "This machine's DNS server does not answer: check the network connection (VPN?), or enter the server's IP address as the host.",
        )
    }

    pub fn dns_lookup_failed(&self, e: &dyn std::fmt::Display) -> Failure {
        Failure::new(
            Category::DnsFailed,
            format!("Looking up {} failed: {e}.", self.host),
            "Check this machine's network and DNS settings, or try again in a moment.",
        )
    }

    pub fn network_unreachable(&self) -> Failure {
        Failure::new(
            Category::NetworkUnreachable,
            format!("{}:{} can't be reached from this machine: no route to it.", self.host, self.port),
            "Check this machine's network connection. If only an IPv6 address is listed, this network may have no IPv6.",
        )
    }

    pub fn starttls_not_offered(&self, offered: &str) -> Failure {
        Failure::new(
            Category::StarttlsNotOffered,
            format!("{}:{} does not offer STARTTLS (it offers: {offered}).", self.host, self.port),
            if self.port == 465 {
                "Port 465 is for implicit TLS: choose 'Implicit TLS'."
            } else {
                "Use the port your provider gives for STARTTLS (usually 587), or 'Implicit TLS' on 465. Choose \
                 'None' only on a network you trust: everything, the password too, would travel in plain text."
            },
        )
    }

    pub fn tls_handshake_failed(&self, e: &rustls::Error) -> Failure {
        Failure::new(
            Category::TlsHandshakeFailed,
            format!("The TLS handshake with {} failed: {e}.", self.host),
            "Check the security setting for this port (465: Implicit TLS, 587/25: STARTTLS); if it is right, the \
             server's TLS setup is broken: tell its administrator.",
        )
    }

    pub fn auth_not_offered(&self) -> Failure {
        Failure::new(
            Category::AuthNotOffered,
            format!("{}:{} does not offer login (AUTH).", self.host, self.port),
            "This port may be for server-to-server mail (25), which takes no login: use the submission port 587 \
             (STARTTLS) or 465 (implicit TLS). If the server relays for this machine without a login, set login to 'None'.",
        )
    }

    /// An address can't be written for this server: its local part is not ASCII and the server
    /// has no SMTPUTF8.
    pub fn non_ascii_address(&self, role: &str, e: &dyn std::fmt::Display) -> Failure {
        Failure::new(
            Category::NonAsciiAddress,
            format!("The {role} can't be given to {}: {e}. Nothing was sent.", self.host),
            format!(
                "Use an ASCII {role} address (letters a-z, digits and . _ + - before the @), or a server that supports \
                 SMTPUTF8 (international email addresses)."
            ),
        )
    }
}

pub fn dns_settings_unreadable(e: &dyn std::fmt::Display) -> Failure {
    Failure::new(
        Category::DnsFailed,
        format!("This machine's DNS settings can't be read: {e}."),
        "Check /etc/resolv.conf (or the network settings), or enter the server's IP address as the host.",
    )
}

pub fn server_refused(r: &Reply) -> Failure {
    Failure::new(
        Category::ServerRefused,
        format!("The server refused the connection: {}", r.one_line()),
        "421 means the server is busy or limits connections: try again later. 554 means it refuses \
         this machine (often its IP address is on a blocklist, or it only takes mail from its own network): \
         read the server's text and ask the mail provider.",
    )
}

pub fn ehlo_rejected(name: &str, r: &Reply) -> Failure {
    Failure::new(
        Category::EhloRejected,
        format!("The server rejected the greeting 'EHLO {name}': {}", r.one_line()),
        "Some servers accept only a fully qualified EHLO name that resolves in DNS: set 'EHLO name' to this \
         machine's full name (e.g. host.example.com).",
    )
}

pub fn starttls_refused(r: &Reply) -> Failure {
    Failure::new(
        Category::StarttlsRefused,
        format!("The server offered STARTTLS but refused it: {}", r.one_line()),
        "The server's TLS setup is broken or overloaded: try again later, or try 'Implicit TLS' on port 465.",
    )
}

pub fn data_before_tls() -> Failure {
    Failure::new(
        Category::TlsHandshakeFailed,
        "The server sent data after its STARTTLS reply, before TLS began (a sign of a tampered connection).",
        "Don't use this network for mail until the cause is found; try another network.",
    )
}

pub fn tls_version_too_old(e: &rustls::Error) -> Failure {
    Failure::new(
        Category::TlsVersionTooOld,
        format!("The server and SMTP Desk have no TLS version in common: {e}."),
        "The server probably offers only TLS 1.0 or 1.1, which are no longer safe and not supported. Ask its \
         administrator to enable TLS 1.2 or 1.3.",
    )
}

pub fn password_missing() -> Failure {
    Failure::new(
        Category::PasswordMissing,
        "Password login is configured, but no password is saved.",
        "Save the password (in the window, or `smtp-desk password set`), then validate again.",
    )
}

pub fn auth_only_after_starttls() -> Failure {
    Failure::new(
        Category::AuthOnlyAfterStarttls,
        "The server offers login only after STARTTLS, and this connection is plain text.",
        "Choose 'STARTTLS' as security: the password must not travel unencrypted anyway.",
    )
}

/// No mechanism in `wanted` is offered; `other_offered` says whether 'Auto' would find one.
pub fn no_common_mechanism(offered: &str, wanted: &[&str], other_offered: bool) -> Failure {
    Failure::new(
        Category::NoCommonMechanism,
        format!("The server offers AUTH {offered}, but SMTP Desk would use {}.", wanted.join(" or ")),
        if other_offered {
            "Set the mechanism to 'Auto'."
        } else if wanted.iter().any(|m| m.starts_with("XOAUTH") || m.starts_with("OAUTH")) {
            "The server offers no OAuth2 login: check the server name (Gmail: smtp.gmail.com, Microsoft 365: \
             smtp.office365.com), or log in with a password."
        } else if offered.split_whitespace().any(|m| m == "XOAUTH2" || m == "OAUTHBEARER") {
            "SMTP Desk logs in with a password using PLAIN, LOGIN or NTLM. This server takes OAuth2: choose 'OAuth2 sign-in' \
             (auth.method oauth2, see docs/oauth.md), or ask the provider for an app password."
        } else {
            "SMTP Desk logs in with a password using PLAIN, LOGIN or NTLM, or with OAuth2 (XOAUTH2, OAUTHBEARER). Ask the \
             provider for an app password usable with them."
        },
    )
}

/// The server's NTLM challenge could not be answered (not base64, not a challenge message).
pub fn ntlm_bad_challenge(e: &crate::smtp::ntlm::Error) -> Failure {
    Failure::new(
        Category::NotSmtp,
        format!("The server's NTLM challenge could not be answered: {e}."),
        "The server's NTLM support looks broken: set the mechanism to PLAIN or LOGIN if it offers them over TLS, or ask its \
         administrator.",
    )
}

pub fn auth_rejected(user: &str, r: &Reply) -> Failure {
    let hint = match r.code {
        534 | 538 => {
            "The server wants a stronger login: providers with two-factor login need an app password (create one in \
             the account's security settings) or OAuth2."
        }
        454 | 421 => "The server could not check the password right now (a temporary failure): try again in a few minutes.",
        504 => {
            "The server refused this mechanism although it offered it: set the mechanism to another one it offers (PLAIN, LOGIN or NTLM)."
        }
        _ => {
            "Check the user name (often the full email address) and the password, then save the password again. \
             Accounts with two-factor login need an app password."
        }
    };
    Failure::new(Category::AuthRejected, format!("The server rejected the login for {user}: {}", r.one_line()), hint)
}

pub fn bad_address_domain(role: &str, e: &dyn std::fmt::Display) -> Failure {
    Failure::new(
        Category::InvalidSettings,
        format!("The {role} can't be used: {e}. Nothing was sent."),
        format!("Check the spelling of the {role} address's domain (after the @)."),
    )
}

pub fn auth_required(r: &Reply) -> Failure {
    Failure::new(
        Category::AuthRequired,
        format!("The server wants a login before it takes mail: {}", r.one_line()),
        "Choose 'Password' login and enter the account's user name and password.",
    )
}

pub fn sender_refused(addr: &str, r: &Reply) -> Failure {
    Failure::new(
        Category::SenderRefused,
        format!("The server refused the sender {addr}: {}", r.one_line()),
        format!(
            "The server does not let this account send as {addr}. Use the address of the account you log in with, or \
             one your provider lets you send as; some servers also check that the sender's domain exists."
        ),
    )
}

pub fn recipient_refused(addr: &str, r: &Reply) -> Failure {
    Failure::new(
        Category::RecipientRefused,
        format!("The server refused the recipient {addr}: {}", r.one_line()),
        format!(
            "If the server's text says relaying is denied, it won't carry mail to other domains for you: log in with a \
             password, or use the relay your provider gives you. If it says the user is unknown, check {addr}."
        ),
    )
}

pub fn message_refused(r: &Reply) -> Failure {
    Failure::new(
        Category::MessageRefused,
        format!("The server refused the message: {}", r.one_line()),
        "Read the server's text: it may reject the content (spam filter), the size, or the sender's domain (SPF/DMARC).",
    )
}

/// An OAuth2 login the server refused (after one refresh and retry).
pub fn oauth_rejected(user: &str, r: &Reply) -> Failure {
    let hint = match r.code {
        454 | 421 => "The server could not check the token right now (a temporary failure): try again in a few minutes.".to_string(),
        _ => format!(
            "The server refused the token even after a refresh. {} Check too that the user name is the signed-in account and \
             that the account may send with SMTP AUTH (Microsoft 365: 'Authenticated SMTP' enabled for the mailbox).",
            crate::oauth::SIGN_IN_AGAIN
        ),
    };
    Failure::new(Category::AuthRejected, format!("The server rejected the OAuth2 login for {user}: {}", r.one_line()), hint)
}

/// No access token could be had for an OAuth2 login (not signed in, refused refresh, network).
pub fn oauth_refresh_failed(e: &crate::oauth::Error) -> Failure {
    let r = crate::error::ErrorReport::from(e);
    Failure::new(Category::SignInFailed, r.message, r.hint.unwrap_or_default())
}
