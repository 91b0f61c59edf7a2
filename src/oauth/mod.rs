//! OAuth2 sign-in for SMTP (XOAUTH2 / OAUTHBEARER): the providers' endpoints, the sign-in flows
//! (authorization code + PKCE with a loopback redirect, device code), and the tokens — the
//! refresh token in the OS keyring only, access tokens only in memory, refreshed before a login.

pub mod flow;
pub mod provider;
pub mod tokens;

use crate::error::{ErrorKind, ErrorReport};
use crate::secrets;

pub use provider::{endpoints, Endpoints};
pub use tokens::{access_token, renew, status, Status};

/// Every network step of a sign-in or refresh gives up after this long.
pub const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{field} {message}")]
    Config { field: &'static str, message: String },
    #[error("this profile is not signed in")]
    NotSignedIn,
    /// The provider refused the refresh token (revoked, expired, password changed).
    #[error("the provider no longer accepts this sign-in ({0})")]
    SignInAgain(String),
    #[error("the provider refused the request: {0}")]
    Provider(String),
    #[error("the provider could not be reached: {0}")]
    Network(String),
    #[error("the sign-in did not finish: {0}")]
    Flow(String),
    #[error("the sign-in is too large for the keyring ({0} bytes; Windows Credential Manager takes 2,560)")]
    TooLarge(usize),
    #[error(transparent)]
    Keyring(#[from] secrets::Error),
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        match e {
            Error::Config { field, message } => {
                let mut r = ErrorReport::new(ErrorKind::InvalidSettings, format!("{field} {message}"));
                r.field = Some((*field).to_string());
                r
            }
            Error::Keyring(k) => ErrorReport::from(k),
            Error::NotSignedIn => ErrorReport::new(ErrorKind::OAuthNotSignedIn, "This profile is not signed in (OAuth2).")
                .hint("Sign in: `smtp-desk oauth login` (add --profile NAME for a named profile), or 'Sign in' in the window."),
            Error::SignInAgain(_) => ErrorReport::new(ErrorKind::OAuthSignInAgain, e.to_string()).hint(SIGN_IN_AGAIN),
            _ => ErrorReport::new(ErrorKind::OAuthFailed, e.to_string())
                .hint("Check the network and the OAuth2 settings (provider, client id, URLs), then try again."),
        }
    }
}

/// What to do when the provider or the server no longer takes the sign-in.
pub const SIGN_IN_AGAIN: &str = "Sign in again: `smtp-desk oauth login` (add --profile NAME for a named profile), or 'Sign in' in \
     the window. The sign-in was revoked, expired, or the account's password or permissions changed.";

/// The HTTP client for the provider: no redirects (a token endpoint never redirects, and a
/// redirect could carry the code elsewhere), a timeout on every request. Extra trusted CAs for a
/// custom provider behind a private CA come from `SMTP_DESK_OAUTH_CA_FILE` (PEM).
pub fn http_client() -> Result<reqwest::Client, Error> {
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(HTTP_TIMEOUT).connect_timeout(HTTP_TIMEOUT);
    if let Some(path) = std::env::var_os("SMTP_DESK_OAUTH_CA_FILE") {
        let pem = std::fs::read(&path).map_err(|e| Error::Network(format!("SMTP_DESK_OAUTH_CA_FILE {}: {e}", path.to_string_lossy())))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Network(format!("SMTP_DESK_OAUTH_CA_FILE: {e}")))? {
            b = b.add_root_certificate(cert);
        }
    }
    b.build().map_err(|e| Error::Network(e.to_string()))
}

/// The keyring entry of profile `name`'s sign-in: each profile signs in on its own (no
/// falling back to Global's, unlike a password: a token is one account's).
pub fn entry_for(settings: &crate::settings::Settings, name: Option<&str>) -> Result<String, ErrorReport> {
    crate::settings::profiles::password_entry(settings, name).map_err(|e| ErrorReport::from(&e))
}

/// An access token for profile `name` (resolved as `profile`), for the login of this delivery
/// pass; why not, as the event log says it (mail waits).
pub async fn token_for_delivery(
    settings: &crate::settings::Settings,
    name: &str,
    profile: &crate::settings::Profile,
) -> Result<secrets::Password, String> {
    let of = if settings.profiles.is_empty() { String::new() } else { format!(" of profile {name}") };
    let entry = entry_for(settings, Some(name)).map_err(|e| e.message)?;
    let ep = endpoints(&profile.auth).map_err(|e| e.to_string())?;
    match tokio::time::timeout(profile.limits.step_timeout(), access_token(&ep, &entry)).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => {
            let r = ErrorReport::from(&e);
            Err(format!("No OAuth2 access token{of}: {} {}; mail waits until there is one", r.message, r.hint.unwrap_or_default()))
        }
        Err(_) => Err(format!("The OAuth2 token refresh{of} did not finish in time during delivery; mail waits")),
    }
}
