//! The sign-in flows: authorization code + PKCE (S256) with a loopback redirect on
//! 127.0.0.1:0 (RFC 8252) and a paste-the-URL fallback, and the device-code flow (RFC 8628) for
//! a terminal without a browser. Both end by saving the refresh token in the keyring.

use super::tokens::{self, Stored};
use super::{Endpoints, Error};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, RedirectUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How long a sign-in waits for the browser or the device code's approval.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) type Client = BasicClient<EndpointSet, EndpointMaybeSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub(super) fn client(ep: &Endpoints) -> Result<Client, Error> {
    let bad = |field: &'static str| move |e: oauth2::url::ParseError| Error::Config { field, message: format!("is not a URL ({e})") };
    let mut c = BasicClient::new(ClientId::new(ep.client_id.clone()))
        .set_auth_uri(AuthUrl::new(ep.authorize.clone()).map_err(bad("auth.oauth_authorize_url"))?)
        .set_token_uri(TokenUrl::new(ep.token.clone()).map_err(bad("auth.oauth_token_url"))?)
        .set_device_authorization_url_option(
            ep.device.clone().map(DeviceAuthorizationUrl::new).transpose().map_err(bad("auth.oauth_device_url"))?,
        );
    if let Some(secret) = &ep.client_secret {
        // Google's installed-app secret goes in the body, as its token endpoint documents.
        c = c.set_client_secret(ClientSecret::new(secret.clone())).set_auth_type(oauth2::AuthType::RequestBody);
    }
    Ok(c)
}

/// A token endpoint's failure, without echoing anything it was sent.
pub(super) fn request_error<RE: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    e: oauth2::RequestTokenError<RE, T>,
) -> Error {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => Error::Provider(r.to_string()),
        oauth2::RequestTokenError::Request(e) => {
            let mut text = e.to_string();
            let mut src = e.source();
            while let Some(s) = src {
                text = format!("{text}: {s}");
                src = s.source();
            }
            Error::Network(text)
        }
        oauth2::RequestTokenError::Parse(e, _) => Error::Provider(format!("an answer that is not a token response ({e})")),
        oauth2::RequestTokenError::Other(s) => Error::Provider(s),
    }
}

fn scopes(ep: &Endpoints) -> impl Iterator<Item = Scope> + '_ {
    ep.scopes.iter().cloned().map(Scope::new)
}

/// What the user must do for a device-code sign-in.
#[derive(Debug, Clone)]
pub struct DevicePrompt {
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    pub expires_in: Duration,
}

/// Device-code sign-in (RFC 8628): `show` tells the user where to go and which code to enter,
/// then the token endpoint is polled at the provider's interval until approved (or refused,
/// or expired). Saves the refresh token for `entry` and returns who signed in.
pub async fn device(ep: &Endpoints, entry: &str, username: &str, show: impl FnOnce(&DevicePrompt)) -> Result<String, Error> {
    if ep.device.is_none() {
        return Err(Error::Config {
            field: "auth.oauth_device_url",
            message: "is not known for this provider (Google grants the Gmail scope only to the browser sign-in) — sign in with the browser instead"
                .into(),
        });
    }
    let http = super::http_client()?;
    let c = client(ep)?;
    let details: StandardDeviceAuthorizationResponse = c
        .exchange_device_code()
        .map_err(|e| Error::Flow(e.to_string()))?
        .add_scopes(scopes(ep))
        .request_async(&http)
        .await
        .map_err(request_error)?;
    show(&DevicePrompt {
        verification_uri: details.verification_uri().to_string(),
        verification_uri_complete: details.verification_uri_complete().map(|u| u.secret().to_string()),
        user_code: details.user_code().secret().to_string(),
        expires_in: details.expires_in(),
    });
    let wait = details.expires_in().min(SIGN_IN_TIMEOUT);
    let tokens =
        c.exchange_device_access_token(&details).request_async(&http, tokio::time::sleep, Some(wait)).await.map_err(|e| match e {
            oauth2::RequestTokenError::ServerResponse(r) => Error::Flow(format!("the provider answered: {r}")),
            other => request_error(other),
        })?;
    finish(entry, username, &tokens)
}

/// Where the browser sign-in stands: the URL to open, and the redirect URI it comes back to.
pub struct BrowserSignIn {
    pub url: String,
    listener: TcpListener,
    redirect: String,
    state: CsrfToken,
    verifier: oauth2::PkceCodeVerifier,
}

/// Starts a browser sign-in: a loopback listener on 127.0.0.1 with a port of the system's
/// choosing, and the authorization URL (PKCE S256, a random `state`) to open.
pub async fn browser_start(ep: &Endpoints) -> Result<BrowserSignIn, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| Error::Flow(format!("no loopback port for the redirect: {e}")))?;
    let port = listener.local_addr().map_err(|e| Error::Flow(e.to_string()))?.port();
    let redirect = format!("http://127.0.0.1:{port}/");
    let c = client(ep)?.set_redirect_uri(RedirectUrl::new(redirect.clone()).map_err(|e| Error::Flow(e.to_string()))?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = c.authorize_url(CsrfToken::new_random).add_scopes(scopes(ep)).set_pkce_challenge(challenge).url();
    Ok(BrowserSignIn { url: url.to_string(), listener, redirect, state, verifier })
}

impl BrowserSignIn {
    /// Waits for the browser to come back to the loopback address — or for `pasted` to deliver
    /// the URL the browser ended on (when the browser runs on another machine and can't reach
    /// this one's loopback) — checks `state`, and trades the code for tokens.
    pub async fn finish(
        self,
        ep: &Endpoints,
        entry: &str,
        username: &str,
        pasted: Option<tokio::sync::mpsc::Receiver<String>>,
    ) -> Result<String, Error> {
        let back = tokio::time::timeout(SIGN_IN_TIMEOUT, wait_redirect(&self.listener, pasted))
            .await
            .map_err(|_| Error::Flow(format!("no answer from the browser within {} minutes", SIGN_IN_TIMEOUT.as_secs() / 60)))??;
        let code = code_from(&back, self.state.secret())?;
        let c = client(ep)?.set_redirect_uri(RedirectUrl::new(self.redirect.clone()).map_err(|e| Error::Flow(e.to_string()))?);
        let http = super::http_client()?;
        let tokens = c
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(self.verifier)
            .request_async(&http)
            .await
            .map_err(request_error)?;
        finish(entry, username, &tokens)
    }
}

/// Hands the URL to the desktop's browser; printing it stays the way that always works.
pub fn open_in_browser(url: &str) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let child = std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    // Reaped on its own thread: the window lives long, and xdg-open may wait for the browser.
    if let Ok(mut child) = child {
        std::thread::spawn(move || {
            let _ = child.wait();
        });
    }
}

/// The query of the first redirect request to the listener, or of a pasted URL.
async fn wait_redirect(listener: &TcpListener, mut pasted: Option<tokio::sync::mpsc::Receiver<String>>) -> Result<String, Error> {
    loop {
        let paste = async {
            match pasted.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            line = paste => match line {
                Some(url) if url.contains("code=") || url.contains("error=") => return Ok(url.trim().to_string()),
                Some(_) => continue,
                None => pasted = None,
            },
            conn = listener.accept() => {
                let Ok((mut sock, _)) = conn else { continue };
                let mut first = String::new();
                let mut reader = BufReader::new(&mut sock);
                if tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut first)).await.is_err() {
                    continue;
                }
                // "GET /?code=…&state=… HTTP/1.1"; anything else (a favicon) is answered and skipped.
                let target = first.split_whitespace().nth(1).unwrap_or("").to_string();
                let ours = target.contains("code=") || target.contains("error=");
                let body = if ours {
                    "<!doctype html><title>SMTP Desk</title><p>Sign-in received. You can close this tab and return to SMTP Desk.</p>"
                } else {
                    ""
                };
                let status = if ours { "200 OK" } else { "404 Not Found" };
                let reply = format!("HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                let _ = sock.write_all(reply.as_bytes()).await;
                if ours {
                    return Ok(format!("http://127.0.0.1{target}"));
                }
            }
        }
    }
}

/// The code in a redirect URL, once its `state` is ours.
fn code_from(url: &str, state: &str) -> Result<String, Error> {
    let url = reqwest::Url::parse(url).map_err(|_| Error::Flow("the pasted text is not the URL the browser ended on".into()))?;
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    if q.get("state").map(String::as_str) != Some(state) {
        return Err(Error::Flow("the answer's state does not match this sign-in (an old tab, or not ours); sign in again".into()));
    }
    if let Some(err) = q.get("error") {
        let why = q.get("error_description").cloned().unwrap_or_default();
        return Err(Error::Flow(format!("the provider refused the sign-in: {err} {why}").trim().to_string()));
    }
    q.get("code").cloned().ok_or_else(|| Error::Flow("the answer has no code".into()))
}

/// Saves a new sign-in: the refresh token, the access token's expiry and who it is.
fn finish(entry: &str, username: &str, tokens: &impl TokenResponse) -> Result<String, Error> {
    let Some(refresh) = tokens.refresh_token() else {
        return Err(Error::Provider(
            "no refresh token came back — the provider must grant offline access (Microsoft: the offline_access scope)".into(),
        ));
    };
    let access = tokens.access_token().secret();
    let user = if username.trim().is_empty() { user_in(access).unwrap_or_default() } else { username.trim().to_string() };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let expires_in = tokens.expires_in().unwrap_or(Duration::from_secs(3600));
    let stored =
        Stored { refresh_token: refresh.secret().clone(), expires: now + expires_in.as_secs() as i64, user: user.clone(), refreshed: now };
    tokens::save(entry, &stored)?;
    tokens::remember(entry, access, Some(expires_in));
    Ok(user)
}

/// Who a JWT access token (Microsoft's, most custom ones) was issued to, read for display only:
/// the signature is the SMTP server's to check.
fn user_in(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    ["email", "upn", "preferred_username", "unique_name", "sub"].iter().find_map(|k| claims.get(*k)?.as_str().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_with_another_state_is_refused() {
        assert!(code_from("http://127.0.0.1:5/?code=abc&state=theirs", "ours").is_err());
        assert_eq!(code_from("http://127.0.0.1:5/?code=abc&state=ours", "ours").unwrap(), "abc");
        let err = code_from("http://127.0.0.1:5/?error=access_denied&state=ours", "ours").unwrap_err();
        assert!(err.to_string().contains("access_denied"), "{err}");
    }
}
