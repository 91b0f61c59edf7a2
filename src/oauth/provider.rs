//! The OAuth2 providers SMTP Desk knows: their endpoints and SMTP scopes, and a profile's
//! settings turned into the endpoints one sign-in uses (presets overridden by what is set).

use super::Error;
use crate::settings::{Auth, OAuthProvider};

/// Google: installed-app flow (its device flow does not grant the Gmail scope).
const GOOGLE_AUTHORIZE: &str = "https://accounts.google.com/o/oauth2/v2/auth";
const GOOGLE_TOKEN: &str = "https://oauth2.googleapis.com/token";
const GOOGLE_SCOPES: &str = "https://mail.google.com/";

/// Microsoft identity platform v2, `common` tenant (work/school and personal accounts).
const MS_AUTHORIZE: &str = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize";
const MS_TOKEN: &str = "https://login.microsoftonline.com/common/oauth2/v2.0/token";
const MS_DEVICE: &str = "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode";
const MS_SCOPES: &str = "https://outlook.office.com/SMTP.Send offline_access";

/// Where one sign-in goes, and for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub client_id: String,
    /// Google's installed-app "secret" (not confidential), if set.
    pub client_secret: Option<String>,
    pub authorize: String,
    pub token: String,
    /// The device authorization endpoint (RFC 8628), where the provider has one for SMTP.
    pub device: Option<String>,
    pub scopes: Vec<String>,
}

/// The preset's `(authorize, token, device, scopes)`.
pub fn preset(p: OAuthProvider) -> (&'static str, &'static str, &'static str, &'static str) {
    match p {
        OAuthProvider::Google => (GOOGLE_AUTHORIZE, GOOGLE_TOKEN, "", GOOGLE_SCOPES),
        OAuthProvider::Microsoft => (MS_AUTHORIZE, MS_TOKEN, MS_DEVICE, MS_SCOPES),
        OAuthProvider::Custom => ("", "", "", ""),
    }
}

/// The endpoints `auth` signs in with: each URL or the scopes as set, else the preset's.
pub fn endpoints(auth: &Auth) -> Result<Endpoints, Error> {
    let (authorize, token, device, scopes) = preset(auth.oauth_provider);
    let pick = |own: &str, preset: &str| if own.trim().is_empty() { preset.to_string() } else { own.trim().to_string() };
    let e = Endpoints {
        client_id: auth.oauth_client_id.trim().to_string(),
        client_secret: Some(auth.oauth_client_secret.trim().to_string()).filter(|s| !s.is_empty()),
        authorize: pick(&auth.oauth_authorize_url, authorize),
        token: pick(&auth.oauth_token_url, token),
        device: Some(pick(&auth.oauth_device_url, device)).filter(|s| !s.is_empty()),
        scopes: pick(&auth.oauth_scopes, scopes).split_whitespace().map(str::to_string).collect(),
    };
    if let Some((field, why)) = problems(auth).into_iter().next() {
        return Err(Error::Config { field, message: why });
    }
    Ok(e)
}

/// What is wrong with a profile's OAuth2 settings, as `(field, message)` for validation.
pub fn problems(auth: &Auth) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if auth.oauth_client_id.trim().is_empty() {
        out.push((
            "auth.oauth_client_id",
            "is required for OAuth2 — register SMTP Desk with the provider and enter its client id (docs/oauth.md)".to_string(),
        ));
    }
    let custom = auth.oauth_provider == OAuthProvider::Custom;
    for (field, value, required) in [
        ("auth.oauth_authorize_url", &auth.oauth_authorize_url, custom),
        ("auth.oauth_token_url", &auth.oauth_token_url, custom),
        ("auth.oauth_device_url", &auth.oauth_device_url, false),
    ] {
        let value = value.trim();
        if value.is_empty() {
            if required {
                out.push((field, "is required for a custom provider — enter the provider's endpoint URL".to_string()));
            }
        } else if let Err(why) = url_problem(value) {
            out.push((field, why));
        }
    }
    if custom && auth.oauth_scopes.trim().is_empty() {
        out.push(("auth.oauth_scopes", "is required for a custom provider — enter the scopes that allow sending mail".to_string()));
    }
    out
}

/// Endpoints must be https; plain http only to this machine (a local test or proxy), as for
/// the loopback redirect of RFC 8252.
fn url_problem(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("is not a URL ({e}) — enter the full https:// address"))?;
    match (url.scheme(), url.host_str()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some("127.0.0.1" | "localhost" | "[::1]")) => Ok(()),
        _ => Err("must be an https:// URL (plain http only to 127.0.0.1) — tokens must not cross the network unencrypted".to_string()),
    }
}
