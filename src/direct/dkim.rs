//! DKIM (RFC 6376, RFC 8463): a key pair made by SMTP Desk per profile, the private half kept in
//! the OS keyring, the public half shown as the exact TXT record to publish; signing each message
//! at delivery; and checking that the published record matches.

use crate::settings::{DkimAlgorithm, Profile, Settings};
use serde::Serialize;
use ts_rs::TS;

/// A profile's DKIM key as the user sees it: where to publish it and whether it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(rename = "DkimKey")]
pub struct KeyInfo {
    /// The profile whose key this is ("global" for Global).
    pub profile: String,
    pub selector: String,
    /// The signing domain (`d=`).
    pub domain: String,
    pub algorithm: DkimAlgorithm,
    /// The TXT record's name: `SELECTOR._domainkey.DOMAIN`.
    pub record_name: String,
    /// The TXT record's value: `v=DKIM1; k=rsa; p=…`.
    pub record_value: String,
    /// What DNS holds at `record_name`, when it was checked.
    pub published: Option<Published>,
}

/// What DNS holds for our selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
#[ts(rename = "DkimPublished")]
pub enum Published {
    /// The record is there and its key is ours.
    Matches,
    /// No TXT record at that name.
    Missing,
    /// A record is there with another key (or unreadable): what it holds.
    Different(String),
    /// DNS did not answer: why.
    Unknown(String),
}

/// One error type for DKIM keys and signing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("DKIM is not built yet")]
    NotBuilt,
}

/// Signs messages for one profile (its key read once per delivery pass).
pub struct Signer {
    _private: (),
}

impl Signer {
    /// `message` with a DKIM-Signature header in front.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let _ = message;
        Err(Error::NotBuilt)
    }
}

/// The signer of profile `name` when its settings turn DKIM on; `Ok(None)` when they don't.
pub fn signer_for(settings: &Settings, name: &str, profile: &Profile) -> Result<Option<Signer>, Error> {
    let _ = (settings, name);
    if !profile.dkim.enabled {
        return Ok(None);
    }
    Err(Error::NotBuilt)
}

/// Profile `name`'s key as stored (no DNS asked: `published` is `None`); `Ok(None)` when it has
/// none yet.
pub fn key_info(settings: &Settings, name: &str) -> Result<Option<KeyInfo>, Error> {
    let _ = (settings, name);
    Err(Error::NotBuilt)
}

/// Makes a new key pair for profile `name` with its settings' algorithm, selector and domain, and
/// keeps the private key in the keyring. An existing key is kept unless `replace` (a new key
/// needs a new DNS record: mail signed in between fails DKIM).
pub fn generate(settings: &Settings, name: &str, replace: bool) -> Result<KeyInfo, Error> {
    let _ = (settings, name, replace);
    Err(Error::NotBuilt)
}

/// Removes profile `name`'s key from the keyring.
pub fn remove(settings: &Settings, name: &str) -> Result<(), Error> {
    let _ = (settings, name);
    Err(Error::NotBuilt)
}

/// Looks up `info.record_name` and says whether it holds our key.
pub async fn check(resolver: &hickory_resolver::TokioResolver, info: &KeyInfo) -> Published {
    let _ = (resolver, info);
    Published::Unknown("DKIM is not built yet".into())
}
