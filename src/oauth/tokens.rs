//! The tokens of a sign-in. The keyring holds, per profile entry (account `oauth:ENTRY`), only
//! what a refresh needs and what the window shows — `{"r": refresh token, "e": access expiry,
//! "u": signed-in user, "t": last refresh}` as compact JSON — so it stays under Windows Credential
//! Manager's 2,560-byte limit; access tokens (a Microsoft one alone can be 2 KB) live only in
//! this process's memory and are refreshed with a margin before they expire.

use super::flow::client;
use super::{Endpoints, Error};
use crate::secrets::{self, Password};
use oauth2::{RefreshToken, TokenResponse};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Windows Credential Manager's limit for one credential's secret.
pub const MAX_STORED_BYTES: usize = 2560;

/// An access token is refreshed when it has less than this left: a login started with it must
/// not meet its expiry half-way (a slow server, a queue of messages).
pub const MARGIN: Duration = Duration::from_secs(120);

/// One sign-in as kept in the keyring.
#[derive(Clone, Serialize, Deserialize)]
pub struct Stored {
    #[serde(rename = "r")]
    pub refresh_token: String,
    /// When the last access token expires (Unix seconds).
    #[serde(rename = "e", default)]
    pub expires: i64,
    #[serde(rename = "u", default)]
    pub user: String,
    /// When the tokens were last refreshed (Unix seconds).
    #[serde(rename = "t", default)]
    pub refreshed: i64,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stored {{ user: {:?}, expires: {}, refreshed: {} }}", self.user, self.expires, self.refreshed)
    }
}

/// Who is signed in on an entry, for `oauth status` and the window (no token in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub signed_in: bool,
    pub user: String,
    /// Unix seconds of the last refresh (0 if never).
    pub refreshed_at: i64,
    /// Unix seconds when the last access token expires(d).
    pub expires_at: i64,
}

struct Cached {
    entry: String,
    token: String,
    expires: SystemTime,
}

/// Access tokens by keyring entry.
static CACHE: Mutex<Vec<Cached>> = Mutex::new(Vec::new());
/// One refresh at a time: two logins at once must not both spend (and rotate) the refresh token.
static REFRESHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The keyring's record for `entry`, if signed in.
pub fn load(entry: &str) -> Result<Option<Stored>, Error> {
    let Some(text) = secrets::get_oauth(entry)? else { return Ok(None) };
    // A record that is not ours (hand-edited) counts as signed out: a new sign-in replaces it.
    Ok(serde_json::from_str(text.expose()).ok())
}

/// Saves `stored` as `entry`'s sign-in (replacing any).
pub fn save(entry: &str, stored: &Stored) -> Result<(), Error> {
    let text = serde_json::to_string(stored).expect("plain strings and numbers serialise");
    if text.len() > MAX_STORED_BYTES {
        return Err(Error::TooLarge(text.len()));
    }
    let pw = Password::new(text).map_err(|_| Error::Provider("the provider's refresh token contains a line break".into()))?;
    secrets::set_oauth(entry, &pw)?;
    Ok(())
}

/// Signs `entry` out: the keyring record and the cached access token go.
pub fn forget(entry: &str) -> Result<(), Error> {
    CACHE.lock().unwrap_or_else(|p| p.into_inner()).retain(|c| c.entry != entry);
    secrets::clear_oauth(entry)?;
    Ok(())
}

pub fn status(entry: &str) -> Result<Status, Error> {
    Ok(match load(entry)? {
        Some(s) => Status { signed_in: true, user: s.user, refreshed_at: s.refreshed, expires_at: s.expires },
        None => Status { signed_in: false, user: String::new(), refreshed_at: 0, expires_at: 0 },
    })
}

/// Keeps an access token just obtained (by a sign-in or a refresh) for this process.
pub(super) fn remember(entry: &str, token: &str, expires_in: Option<Duration>) {
    let expires = SystemTime::now() + expires_in.unwrap_or(Duration::from_secs(3600));
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    cache.retain(|c| c.entry != entry);
    cache.push(Cached { entry: entry.to_string(), token: token.to_string(), expires });
}

/// An access token for `entry`: the one in memory while it has more than [`MARGIN`] left,
/// else a fresh one from the refresh token in the keyring.
pub async fn access_token(ep: &Endpoints, entry: &str) -> Result<Password, Error> {
    let _turn = REFRESHING.lock().await;
    if let Some(token) = cached(entry) {
        return Ok(token);
    }
    refresh(ep, entry).await
}

fn cached(entry: &str) -> Option<Password> {
    let cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let c = cache.iter().find(|c| c.entry == entry)?;
    (c.expires > SystemTime::now() + MARGIN).then(|| Password::new(c.token.clone()).ok()).flatten()
}

/// A new access token in place of `old`, which the server refused: the server's clock or the
/// provider may disagree with the expiry we were told. `None` if `old` is not one this process
/// holds (nothing to refresh).
pub async fn renew(ep: &Endpoints, old: &str) -> Option<Result<Password, Error>> {
    let _turn = REFRESHING.lock().await;
    let entry = {
        let cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        let c = cache.iter().find(|c| c.token == old)?;
        c.entry.clone()
    };
    // Another login may have refreshed it meanwhile.
    if let Some(token) = cached(&entry).filter(|t| t.expose() != old) {
        return Some(Ok(token));
    }
    Some(refresh(ep, &entry).await)
}

async fn refresh(ep: &Endpoints, entry: &str) -> Result<Password, Error> {
    let e = entry.to_string();
    let stored = tokio::task::spawn_blocking(move || load(&e)).await.map_err(|e| Error::Flow(e.to_string()))??;
    let Some(mut stored) = stored else { return Err(Error::NotSignedIn) };
    let http = super::http_client()?;
    let answer = client(ep)?.exchange_refresh_token(&RefreshToken::new(stored.refresh_token.clone())).request_async(&http).await;
    let tokens = match answer {
        Ok(t) => t,
        Err(oauth2::RequestTokenError::ServerResponse(r)) if *r.error() == oauth2::basic::BasicErrorResponseType::InvalidGrant => {
            return Err(Error::SignInAgain(r.error_description().cloned().unwrap_or_else(|| "invalid_grant".into())));
        }
        Err(e) => return Err(super::flow::request_error(e)),
    };
    let access = tokens.access_token().secret().clone();
    remember(entry, &access, tokens.expires_in());
    stored.refreshed = now();
    stored.expires = now() + tokens.expires_in().unwrap_or(Duration::from_secs(3600)).as_secs() as i64;
    // Providers may rotate the refresh token (Microsoft does on every refresh): the old one may
    // stop working, so the new one is saved before the access token is used.
    if let Some(rotated) = tokens.refresh_token() {
        stored.refresh_token = rotated.secret().clone();
    }
    let e = entry.to_string();
    tokio::task::spawn_blocking(move || save(&e, &stored)).await.map_err(|e| Error::Flow(e.to_string()))??;
    Password::new(access).map_err(|_| Error::Provider("the access token contains a line break".into()))
}

/// Blocking form of [`access_token`] for threads outside a runtime (a job's keyring reader).
pub fn access_token_blocking(ep: &Endpoints, entry: &str) -> Result<Password, Error> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::Flow(e.to_string()))?;
    rt.block_on(access_token(ep, entry))
}
