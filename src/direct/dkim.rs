//! DKIM (RFC 6376, RFC 8463): a key pair made by SMTP Desk per profile, the private half kept in
//! the OS keyring, the public half shown as the exact TXT record to publish; signing each message
//! at delivery; and checking that the published record matches.
//!
//! The private key lives only in the keyring entry `dkim:PROFILE:SELECTOR._domainkey.DOMAIN`
//! ([`crate::secrets::dkim_account`]): never in a file, a log, an error or the window. A changed
//! selector or domain names another entry, so it needs a new key (and a new DNS record) anyway.
//!
//! The RSA public key is published as a SubjectPublicKeyInfo (what `openssl rsa -pubout` and
//! every DKIM signer publishes; RFC 6376 erratum 3017): OpenDKIM reads no other form.

use crate::error::{ErrorKind, ErrorReport};
use crate::secrets::{self, Password};
use crate::settings::{profiles, DkimAlgorithm, Profile, Settings};
use base64::Engine;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
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

impl KeyInfo {
    /// The record value cut into character-strings of at most 255 bytes (RFC 1035 §3.3.14), for
    /// DNS panels and zone files that want a long TXT value given in pieces; joined they are
    /// [`KeyInfo::record_value`] again.
    pub fn record_strings(&self) -> Vec<String> {
        // The value is ASCII (tags and base64), so cutting at any byte is safe.
        self.record_value.as_bytes().chunks(255).map(|c| String::from_utf8_lossy(c).into_owned()).collect()
    }
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

/// One error type for DKIM keys and signing. No variant ever holds key material.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The profile can't be resolved (unknown name, a bad override).
    #[error("{0}")]
    Settings(String),
    /// Neither `dkim.domain` nor the From address names a domain to sign for.
    #[error("no DKIM signing domain for profile {profile}: dkim.domain and sender.from_address are both empty")]
    NoDomain { profile: String },
    /// No key in the keyring for this profile, selector and domain.
    #[error("no DKIM key is saved for profile {profile} (selector {selector}, domain {domain})")]
    NoKey { profile: String, selector: String, domain: String },
    /// `generate` without `replace` while a key exists.
    #[error("profile {profile} already has a DKIM key for {record_name}")]
    Exists { profile: String, record_name: String },
    /// The keyring could not be read or written (locked, missing, failed): its own words.
    #[error("the DKIM key could not be {doing} the keyring: {message}")]
    Keyring { doing: &'static str, kind: ErrorKind, message: String },
    /// The keyring entry holds something that is not a key SMTP Desk made.
    #[error("the DKIM key saved for profile {profile} can't be read ({why})")]
    BadKey { profile: String, why: String },
    /// Making a key or a signature failed (a message with no From, the crypto library).
    #[error("DKIM {0}")]
    Crypto(String),
}

/// `--profile NAME` as the CLI spells it, empty for Global.
fn profile_flag(profile: &str) -> String {
    if profiles::is_global(profile) {
        String::new()
    } else {
        format!(" --profile {profile}")
    }
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        let text = e.to_string();
        match e {
            Error::Settings(_) => ErrorReport::new(ErrorKind::UnknownProfile, text).hint("List the profiles with: smtp-desk profile list"),
            Error::NoDomain { profile } => {
                let mut r = ErrorReport::new(ErrorKind::DkimUnusable, text)
                    .hint(format!("Set the domain to sign for: smtp-desk config set dkim.domain example.com{}", profile_flag(profile)));
                r.field = Some("dkim.domain".into());
                r
            }
            Error::NoKey { profile, .. } => ErrorReport::new(ErrorKind::DkimNoKey, text)
                .hint(format!("Make one and publish its record: smtp-desk dkim generate{}", profile_flag(profile))),
            Error::Exists { profile, .. } => ErrorReport::new(ErrorKind::DkimKeyExists, text).hint(format!(
                "Keep it (smtp-desk dkim show{p}), or make a new one with smtp-desk dkim generate --replace{p}: mail signed before \
                 the new record is published fails DKIM",
                p = profile_flag(profile)
            )),
            Error::Keyring { kind, .. } => ErrorReport::new(*kind, text).hint(
                "SMTP Desk keeps the DKIM key only in the OS keyring: make sure it is running and unlocked (log in to the desktop, \
                 or unlock 'Login' in Passwords and Keys), then try again.",
            ),
            Error::BadKey { profile, .. } => ErrorReport::new(ErrorKind::DkimUnusable, text)
                .hint(format!("Make a new key and publish its record: smtp-desk dkim generate --replace{}", profile_flag(profile))),
            Error::Crypto(_) => ErrorReport::new(ErrorKind::DkimUnusable, text),
        }
    }
}

fn keyring(doing: &'static str) -> impl Fn(secrets::Error) -> Error {
    move |e| {
        let report = ErrorReport::from(&e);
        Error::Keyring { doing, kind: report.kind, message: e.to_string() }
    }
}

/// Who signs: a profile's selector, domain and key type, and the keyring entry of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    profile: String,
    selector: String,
    domain: String,
    algorithm: DkimAlgorithm,
}

impl Identity {
    /// `profile`'s DKIM identity; `name` is its canonical name.
    fn of(name: &str, profile: &Profile) -> Result<Identity, Error> {
        let domain = match profile.dkim.domain.trim() {
            "" => profile.sender.from_address.trim().rsplit_once('@').map(|(_, d)| d.trim()).unwrap_or_default(),
            d => d,
        };
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() {
            return Err(Error::NoDomain { profile: name.to_string() });
        }
        Ok(Identity {
            profile: name.to_string(),
            selector: profile.dkim.selector.trim().to_string(),
            domain,
            algorithm: profile.dkim.algorithm,
        })
    }

    fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    fn account(&self) -> String {
        secrets::dkim_account(&self.profile, &self.selector, &self.domain)
    }

    fn no_key(&self) -> Error {
        Error::NoKey { profile: self.profile.clone(), selector: self.selector.clone(), domain: self.domain.clone() }
    }
}

/// The canonical name and resolved profile `name` (`None`: the default profile).
fn resolved(settings: &Settings, name: &str) -> Result<(String, Profile), Error> {
    let canonical = profiles::canonical(settings, Some(name)).map_err(|e| Error::Settings(e.to_string()))?.to_string();
    let profile = profiles::resolve(settings, Some(&canonical)).map_err(|e| Error::Settings(e.to_string()))?;
    Ok((canonical, profile))
}

/// A private key as the keyring holds it: `rsa2048:BASE64(PKCS#1 DER)` or
/// `ed25519:BASE64(PKCS#8 DER)`, in a [`Password`] so it never prints.
struct StoredKey {
    algorithm: DkimAlgorithm,
    der: Vec<u8>,
}

impl StoredKey {
    fn encode(&self) -> Password {
        let tag = match self.algorithm {
            DkimAlgorithm::Rsa2048 => "rsa2048",
            DkimAlgorithm::Ed25519 => "ed25519",
        };
        Password::new(format!("{tag}:{}", base64::engine::general_purpose::STANDARD.encode(&self.der))).expect("base64 has no line breaks")
    }

    fn decode(profile: &str, text: &Password) -> Result<StoredKey, Error> {
        let bad = |why: &str| Error::BadKey { profile: profile.to_string(), why: why.to_string() };
        let (tag, b64) = text.expose().split_once(':').ok_or_else(|| bad("not a key SMTP Desk made"))?;
        let algorithm = match tag {
            "rsa2048" => DkimAlgorithm::Rsa2048,
            "ed25519" => DkimAlgorithm::Ed25519,
            _ => return Err(bad("an unknown key type")),
        };
        let der = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| bad("not base64"))?;
        Ok(StoredKey { algorithm, der })
    }

    /// The public key as published in `p=`: SubjectPublicKeyInfo for RSA, the raw 32 bytes for
    /// Ed25519 (RFC 8463 §4.2).
    fn public_key(&self, profile: &str) -> Result<Vec<u8>, Error> {
        let bad = |why: String| Error::BadKey { profile: profile.to_string(), why };
        match self.algorithm {
            DkimAlgorithm::Rsa2048 => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                use rsa::pkcs8::EncodePublicKey;
                let key = rsa::RsaPrivateKey::from_pkcs1_der(&self.der).map_err(|e| bad(format!("RSA: {e}")))?;
                let spki = key.to_public_key().to_public_key_der().map_err(|e| bad(format!("RSA: {e}")))?;
                Ok(spki.as_bytes().to_vec())
            }
            DkimAlgorithm::Ed25519 => Ok(Ed25519Key::from_pkcs8_der(&self.der).map_err(|e| bad(format!("Ed25519: {e}")))?.public_key()),
        }
    }
}

fn record_value(algorithm: DkimAlgorithm, public_key: &[u8]) -> String {
    let k = match algorithm {
        DkimAlgorithm::Rsa2048 => "rsa",
        DkimAlgorithm::Ed25519 => "ed25519",
    };
    format!("v=DKIM1; k={k}; p={}", base64::engine::general_purpose::STANDARD.encode(public_key))
}

/// The key stored for `id`, if any (a keyring read: blocking).
fn stored(id: &Identity) -> Result<Option<StoredKey>, Error> {
    match secrets::get_dkim(&id.account()).map_err(keyring("read from"))? {
        Some(text) => StoredKey::decode(&id.profile, &text).map(Some),
        None => Ok(None),
    }
}

fn info(id: &Identity, key: &StoredKey) -> Result<KeyInfo, Error> {
    Ok(KeyInfo {
        profile: id.profile.clone(),
        selector: id.selector.clone(),
        domain: id.domain.clone(),
        // The key's own type: the setting may have changed since it was made.
        algorithm: key.algorithm,
        record_name: id.record_name(),
        record_value: record_value(key.algorithm, &key.public_key(&id.profile)?),
        published: None,
    })
}

/// The headers signed (RFC 6376 §5.4.1): those a receiver shows or acts on, so a relay or list
/// that rewrites them breaks the signature rather than the reader's trust. mail-auth also signs
/// the absence of those a message lacks ("oversigning", §8.15): one added on the way (a second
/// From, a Reply-To) breaks the signature too.
const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "Sender",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

enum Key {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

/// Signs messages for one profile (its key read once per delivery pass).
pub struct Signer {
    key: Key,
    domain: String,
    selector: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Signer").field("domain", &self.domain).field("selector", &self.selector).finish_non_exhaustive()
    }
}

impl Signer {
    fn new(id: &Identity, key: StoredKey) -> Result<Signer, Error> {
        let bad = |e: mail_auth::Error| Error::BadKey { profile: id.profile.clone(), why: e.to_string() };
        let key = match key.algorithm {
            DkimAlgorithm::Rsa2048 => {
                let der = rustls::pki_types::PrivateKeyDer::Pkcs1(rustls::pki_types::PrivatePkcs1KeyDer::from(key.der));
                let k = RsaKey::<Sha256>::from_key_der(der).map_err(bad)?;
                Key::Rsa(
                    DkimSigner::from_key(k)
                        .domain(&id.domain)
                        .selector(&id.selector)
                        .headers(SIGNED_HEADERS.iter().copied())
                        .header_canonicalization(Canonicalization::Relaxed)
                        .body_canonicalization(Canonicalization::Relaxed),
                )
            }
            DkimAlgorithm::Ed25519 => {
                let k = Ed25519Key::from_pkcs8_der(&key.der).map_err(bad)?;
                Key::Ed25519(
                    DkimSigner::from_key(k)
                        .domain(&id.domain)
                        .selector(&id.selector)
                        .headers(SIGNED_HEADERS.iter().copied())
                        .header_canonicalization(Canonicalization::Relaxed)
                        .body_canonicalization(Canonicalization::Relaxed),
                )
            }
        };
        Ok(Signer { key, domain: id.domain.clone(), selector: id.selector.clone() })
    }

    /// The signing domain (`d=`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// `message` with a DKIM-Signature header in front.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        // RFC 6376 §5.4: From MUST be signed. mail-auth would sign its absence (see SIGNED_HEADERS).
        use mailparse::MailHeaderMap;
        let has_from = mailparse::parse_headers(message).is_ok_and(|(headers, _)| headers.get_first_header("From").is_some());
        if !has_from {
            return Err(Error::Crypto("signing failed: the message has no From header".into()));
        }
        let signature = match &self.key {
            Key::Rsa(s) => s.sign(message),
            Key::Ed25519(s) => s.sign(message),
        }
        .map_err(|e| Error::Crypto(format!("signing failed: {e}")))?;
        let header = signature.to_header();
        let mut out = Vec::with_capacity(header.len() + message.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(message);
        Ok(out)
    }
}

/// The signer of profile `name` when its settings turn DKIM on; `Ok(None)` when they don't.
/// `profile` is the profile as mail is sent with it (`policy::State::effective`). Reads the
/// keyring: call it on a blocking thread.
pub fn signer_for(settings: &Settings, name: &str, profile: &Profile) -> Result<Option<Signer>, Error> {
    if !profile.dkim.enabled {
        return Ok(None);
    }
    let name = profiles::canonical(settings, Some(name)).map_err(|e| Error::Settings(e.to_string()))?;
    let id = Identity::of(name, profile)?;
    let key = stored(&id)?.ok_or_else(|| id.no_key())?;
    Signer::new(&id, key).map(Some)
}

/// Profile `name`'s key as stored (no DNS asked: `published` is `None`); `Ok(None)` when it has
/// none yet.
pub fn key_info(settings: &Settings, name: &str) -> Result<Option<KeyInfo>, Error> {
    let (canonical, profile) = resolved(settings, name)?;
    let id = Identity::of(&canonical, &profile)?;
    match stored(&id)? {
        Some(key) => info(&id, &key).map(Some),
        None => Ok(None),
    }
}

/// Profile `name`'s key as stored, or [`Error::NoKey`] (which names `smtp-desk dkim generate`).
pub fn existing_key(settings: &Settings, name: &str) -> Result<KeyInfo, Error> {
    let (canonical, profile) = resolved(settings, name)?;
    let id = Identity::of(&canonical, &profile)?;
    let key = stored(&id)?.ok_or_else(|| id.no_key())?;
    info(&id, &key)
}

/// Makes a new key pair for profile `name` with its settings' algorithm, selector and domain, and
/// keeps the private key in the keyring. An existing key is kept unless `replace` (a new key
/// needs a new DNS record: mail signed in between fails DKIM): without it, [`Error::Exists`].
pub fn generate(settings: &Settings, name: &str, replace: bool) -> Result<KeyInfo, Error> {
    let (canonical, profile) = resolved(settings, name)?;
    let id = Identity::of(&canonical, &profile)?;
    if !replace && stored(&id)?.is_some() {
        return Err(Error::Exists { profile: id.profile.clone(), record_name: id.record_name() });
    }
    let pair = match id.algorithm {
        DkimAlgorithm::Rsa2048 => mail_auth::dkim::generate::DkimKeyPair::generate_rsa(2048),
        DkimAlgorithm::Ed25519 => mail_auth::dkim::generate::DkimKeyPair::generate_ed25519(),
    }
    .map_err(|e| Error::Crypto(format!("key generation failed: {e}")))?;
    let (der, _) = pair.into_inner();
    let key = StoredKey { algorithm: id.algorithm, der };
    let shown = info(&id, &key)?;
    secrets::set_dkim(&id.account(), &key.encode()).map_err(keyring("saved in"))?;
    tracing::info!(profile = id.profile.as_str(), record = shown.record_name.as_str(), "DKIM key made and saved in the keyring");
    Ok(shown)
}

/// Removes profile `name`'s key from the keyring (none there is not an error).
pub fn remove(settings: &Settings, name: &str) -> Result<(), Error> {
    let (canonical, profile) = resolved(settings, name)?;
    let id = Identity::of(&canonical, &profile)?;
    secrets::clear_dkim(&id.account()).map_err(keyring("removed from"))
}

/// Moves profile `old`'s key to the entry of its new name `new`, so a renamed profile keeps its
/// key and its published record. `settings` are from before the rename. No key: nothing to do.
pub fn follow_rename(settings: &Settings, old: &str, new: &str) -> Result<(), Error> {
    let (canonical, profile) = resolved(settings, old)?;
    let id = match Identity::of(&canonical, &profile) {
        Ok(id) => id,
        Err(Error::NoDomain { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(key) = secrets::get_dkim(&id.account()).map_err(keyring("read from"))? else { return Ok(()) };
    let moved = Identity { profile: new.to_string(), ..id.clone() };
    secrets::set_dkim(&moved.account(), &key).map_err(keyring("saved in"))?;
    secrets::clear_dkim(&id.account()).map_err(keyring("removed from"))
}

/// The `p=` tag of a DKIM record, whitespace removed (RFC 6376 §3.6.1: FWS may appear inside
/// the base64); `None` when there is none.
fn p_tag(record: &str) -> Option<String> {
    record.split(';').find_map(|tag| {
        let (name, value) = tag.split_once('=')?;
        (name.trim() == "p").then(|| value.chars().filter(|c| !c.is_whitespace()).collect())
    })
}

/// Looks up `info.record_name` and says whether it holds our key.
pub async fn check(resolver: &hickory_resolver::TokioResolver, info: &KeyInfo) -> Published {
    use mail_auth::common::parse::TxtRecordParser;
    let records = match crate::dns::txt(resolver, &info.record_name).await {
        Ok(r) => r,
        Err(f) if f.is_absent() => return Published::Missing,
        Err(f) => return Published::Unknown(f.to_string()),
    };
    let ours = p_tag(&info.record_value).unwrap_or_default();
    let ours_der = base64::engine::general_purpose::STANDARD.decode(&ours).unwrap_or_default();
    let keys: Vec<&String> = records.iter().filter(|r| p_tag(r).is_some()).collect();
    if keys.is_empty() {
        return match records.first() {
            None => Published::Missing,
            Some(r) => Published::Different(format!("a TXT record that is not a DKIM key: {r}")),
        };
    }
    if keys.len() > 1 {
        // RFC 6376 §3.6.2.2: more than one record gives undefined results.
        return Published::Different(format!("{} DKIM records at one name (receivers may use any): keep only ours", keys.len()));
    }
    let record = keys[0];
    let theirs = p_tag(record).unwrap_or_default();
    let same = theirs == ours || base64::engine::general_purpose::STANDARD.decode(&theirs).is_ok_and(|d| d == ours_der);
    if !same {
        return Published::Different(if theirs.is_empty() {
            format!("a revoked key (empty p=): {record}")
        } else {
            format!("another key: {record}")
        });
    }
    // Our key, but would a receiver read it (k= type, v=DKIM1)?
    match mail_auth::common::verify::DomainKey::parse(record.as_bytes()) {
        Ok(_) => Published::Matches,
        Err(e) => Published::Different(format!("our key, in a record receivers can't use ({e}): {record}")),
    }
}
