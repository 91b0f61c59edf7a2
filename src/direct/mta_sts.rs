//! MTA-STS (RFC 8461): whether a recipient domain asks for TLS with a verified certificate to
//! listed MX hosts. The `_mta-sts` TXT record (parsed by mail-auth) says a policy exists and its
//! id; the policy itself comes from `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` (our
//! resolver, the web roots plus `SMTP_DESK_EXTRA_CA`, no redirects: §3.3) and is cached in a
//! small JSON file beside the outbox for its `max_age`. A cached policy outlives a failed refresh
//! (§5.1: that is what keeps an attacker who blocks the fetch from turning TLS off).

use crate::dns::{self, Failure};
use hickory_resolver::TokioResolver;
use mail_auth::common::parse::TxtRecordParser;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most bytes read of a policy (RFC 8461 §3.3 suggests 64 KB).
const MAX_POLICY: usize = 64 * 1024;
/// The longest max_age honoured (RFC 8461 §3.2: up to 31557600 s, one year).
const MAX_AGE_CAP: u64 = 31_557_600;

/// What a policy asks of senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only the listed MX hosts, only with STARTTLS and a certificate that verifies for the name.
    Enforce,
    /// Deliver as without a policy; failures would be reported (TLS-RPT, not done here).
    Testing,
    /// The domain withdrew its policy.
    None,
}

/// A domain's MTA-STS policy (RFC 8461 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub mode: Mode,
    /// `mx:` patterns: a host name, or `*.domain` matching one leftmost label.
    pub mx: Vec<String>,
    pub max_age: u64,
}

/// Why a policy text is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the MTA-STS policy is not valid: {0}")]
    Invalid(String),
    #[error("the MTA-STS policy could not be fetched: {0}")]
    Fetch(String),
}

impl Policy {
    /// Parses a policy file: `key: value` lines (CRLF or LF), `version: STSv1`, `mode`, `max_age`,
    /// and `mx` (repeatable; required unless the mode is none). Unknown keys are ignored (§3.2).
    pub fn parse(text: &str) -> Result<Policy, Error> {
        let bad = |why: &str| Error::Invalid(why.to_string());
        let (mut version, mut mode, mut max_age, mut mx) = (None, None, None, Vec::new());
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else { return Err(bad(&format!("the line {line:?} is not 'key: value'"))) };
            let value = value.trim();
            match key.trim() {
                "version" => version = Some(value.to_string()),
                "mode" => {
                    mode = Some(match value {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        other => return Err(bad(&format!("mode '{other}' is none of enforce, testing, none"))),
                    })
                }
                "max_age" => max_age = Some(value.parse::<u64>().map_err(|_| bad(&format!("max_age '{value}' is not a number")))?),
                "mx" => mx.push(value.trim_end_matches('.').to_ascii_lowercase()),
                _ => {}
            }
        }
        if version.as_deref() != Some("STSv1") {
            return Err(bad("it has no 'version: STSv1' line"));
        }
        let mode = mode.ok_or_else(|| bad("it has no 'mode' line"))?;
        let max_age = max_age.ok_or_else(|| bad("it has no 'max_age' line"))?.min(MAX_AGE_CAP);
        if mx.is_empty() && mode != Mode::None {
            return Err(bad("it lists no 'mx' host"));
        }
        Ok(Policy { mode, mx, max_age })
    }

    /// Whether MX host `host` is one the policy lists (RFC 8461 §4.1: a wildcard stands for
    /// exactly one leftmost label).
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|p| match p.strip_prefix("*.") {
            Some(rest) => host.split_once('.').is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
            None => *p == host,
        })
    }
}

/// What the sender should do for a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No policy (none published, or none could be had and none is cached).
    NoPolicy,
    /// A policy, fresh or cached; `note` says what happened on the way (a failed refresh).
    Policy { policy: Policy, note: Option<String> },
}

/// A cached policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cached {
    id: String,
    policy: Policy,
    /// Unix seconds after which it is no longer used.
    expires: u64,
}

/// The policy cache: a JSON file (`mta-sts.json` in the outbox's data dir), domain → policy.
pub struct Cache {
    path: PathBuf,
    entries: BTreeMap<String, Cached>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Cache {
    /// The cache kept in `dir`; an unreadable file is an empty cache (it is only a cache).
    pub fn open(dir: &Path) -> Cache {
        let path = dir.join("mta-sts.json");
        let entries = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Cache { path, entries }
    }

    fn fresh(&self, domain: &str) -> Option<&Cached> {
        self.entries.get(domain).filter(|c| c.expires > now_secs())
    }

    fn put(&mut self, domain: &str, cached: Cached) {
        self.entries.insert(domain.to_string(), cached);
        self.entries.retain(|_, c| c.expires > now_secs());
        if let Err(e) = self.save() {
            tracing::warn!("the MTA-STS cache {} could not be written: {e}", self.path.display());
        }
    }

    /// Written whole to a temporary file, then renamed over the old one.
    fn save(&self) -> std::io::Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&self.entries).map_err(std::io::Error::other)?)?;
        std::fs::rename(&tmp, &self.path)
    }
}

/// The HTTPS client for policy fetches: autodetect's setup (our resolver, `SMTP_DESK_EXTRA_CA`),
/// no redirects (RFC 8461 §3.3).
pub fn client(resolver: &TokioResolver, timeout: Duration) -> Result<reqwest::Client, Error> {
    let extra_ca = std::env::var_os(crate::detect::ENV_EXTRA_CA).filter(|v| !v.is_empty()).map(PathBuf::from);
    crate::detect::net::builder(timeout, extra_ca.as_deref(), resolver)
        .map_err(|e| Error::Fetch(e.to_string()))?
        .user_agent(concat!("smtp-desk/", env!("CARGO_PKG_VERSION"), " (MTA-STS)"))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Fetch(e.to_string()))
}

/// `domain`'s policy as RFC 8461 §5 has a sender find it: the TXT id, the cache when the id is
/// unchanged, else a fetch; the cached policy when the TXT or the fetch fails.
pub async fn lookup(resolver: &TokioResolver, http: &reqwest::Client, cache: &mut Cache, domain: &str) -> Found {
    let cached = cache.fresh(domain).cloned();
    let keep = |note: String| match &cached {
        Some(c) => Found::Policy { policy: c.policy.clone(), note: Some(format!("{note}; the cached policy is used")) },
        None => Found::NoPolicy,
    };
    let id = match dns::txt(resolver, &format!("_mta-sts.{domain}")).await {
        Ok(records) => {
            let ids: Vec<String> = records
                .iter()
                .filter(|r| r.trim_start().starts_with("v=STSv1"))
                .filter_map(|r| mail_auth::mta_sts::MtaSts::parse(r.as_bytes()).ok().map(|m| m.id))
                .collect();
            match ids.as_slice() {
                [id] => id.clone(),
                // None, or several: no valid record (§3.1).
                _ => return keep(format!("_mta-sts.{domain} has no single valid STSv1 record")),
            }
        }
        Err(f) if f.is_absent() => return keep(format!("_mta-sts.{domain} is not published")),
        Err(f @ (Failure::Timeout | Failure::Other(_))) => return keep(format!("looking up _mta-sts.{domain} failed: {f}")),
        Err(f) => return keep(f.to_string()),
    };
    if let Some(c) = cached.as_ref().filter(|c| c.id == id) {
        return Found::Policy { policy: c.policy.clone(), note: None };
    }
    match fetch(http, domain).await {
        Ok(policy) => {
            let expires = now_secs() + policy.max_age;
            cache.put(domain, Cached { id, policy: policy.clone(), expires });
            Found::Policy { policy, note: None }
        }
        Err(e) => keep(e.to_string()),
    }
}

/// GETs and parses `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`: a 200 with text/plain only.
pub async fn fetch(http: &reqwest::Client, domain: &str) -> Result<Policy, Error> {
    let url = format!("https://mta-sts.{domain}/.well-known/mta-sts.txt");
    let fail = |why: String| Error::Fetch(format!("{url}: {why}"));
    let mut resp = http.get(&url).send().await.map_err(|e| fail(describe(&e)))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(fail(format!("HTTP {}", resp.status().as_u16())));
    }
    let media = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if !media.starts_with("text/plain") {
        return Err(fail(format!("served as '{media}', not text/plain")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(describe(&e)))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_POLICY {
            return Err(fail(format!("larger than {} KB", MAX_POLICY / 1024)));
        }
    }
    Policy::parse(&String::from_utf8_lossy(&body))
}

/// reqwest's error with its causes in one line.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        text.push_str(&format!(": {c}"));
        cur = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_is_parsed_and_its_patterns_match_one_label() {
        let p =
            Policy::parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 86400\r\n").unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 86400);
        assert!(p.allows("mail.example.com") && p.allows("MX1.Example.NET."));
        assert!(!p.allows("a.b.example.net") && !p.allows("example.net") && !p.allows("other.example.com"));
        assert!(Policy::parse("version: STSv1\nmode: testing\nmax_age: 1\n").is_err());
        assert!(Policy::parse("mode: enforce\nmx: a.b\nmax_age: 1\n").is_err());
        assert!(Policy::parse("version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1\n").is_err());
        assert_eq!(Policy::parse("version: STSv1\nmode: none\nmax_age: 99999999999\n").unwrap().max_age, MAX_AGE_CAP);
    }
}
