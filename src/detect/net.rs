//! The resolver and the HTTPS client of one detection, from [`Options`]: the system's DNS or
//! `SMTP_DESK_DNS_SERVER`; the built-in web roots plus `SMTP_DESK_EXTRA_CA`; redirects followed
//! only to https:// (a redirect to plain HTTP stops there and is reported).

use super::{Error, Options};
use hickory_resolver::config::LookupIpStrategy;
use hickory_resolver::TokioResolver;
use std::net::SocketAddr;
use std::sync::Arc;

/// How much later than the overall deadline a single query or request gives up by itself.
const SLACK: std::time::Duration = std::time::Duration::from_secs(1);

/// The most bytes read from an autoconfig or ISPDB answer (real ones are a few KB).
pub(crate) const MAX_BODY: usize = 256 * 1024;

pub(crate) fn resolver(options: &Options) -> Result<TokioResolver, Error> {
    // The overall deadline bounds every query (a little later than it, so a source cut by the
    // deadline is reported as such, not as its own timeout).
    crate::dns::resolver(options.dns_server, options.deadline + SLACK, LookupIpStrategy::Ipv4thenIpv6)
        .map_err(|e| Error::Dns(e.to_string()))
}

/// reqwest asks this for host names, so autoconfig.D resolves through the same DNS as SRV and MX.
struct Dns(TokioResolver);

impl reqwest::dns::Resolve for Dns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.0.clone();
        Box::pin(async move {
            let found = resolver.lookup_ip(name.as_str()).await?;
            let addrs: Vec<SocketAddr> = found.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub(crate) fn client(options: &Options, resolver: &TokioResolver) -> Result<reqwest::Client, Error> {
    builder(options.deadline + SLACK, options.extra_ca.as_deref(), resolver)?
        .user_agent(concat!("smtp-desk/", env!("CARGO_PKG_VERSION"), " (autodetect)"))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 5 || attempt.url().scheme() != "https" {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(|e| Error::ExtraCa { path: "(none)".into(), why: e.to_string() })
}

/// An HTTPS client's common setup (also MTA-STS's, `direct::mta_sts`): names resolved by
/// `resolver`, the built-in web roots plus `extra_ca`, every request bounded by `timeout`.
pub(crate) fn builder(
    timeout: std::time::Duration,
    extra_ca: Option<&std::path::Path>,
    resolver: &TokioResolver,
) -> Result<reqwest::ClientBuilder, Error> {
    let mut builder = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).dns_resolver(Arc::new(Dns(resolver.clone())));
    if let Some(path) = extra_ca {
        let fail = |why: String| Error::ExtraCa { path: path.display().to_string(), why };
        let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| fail(e.to_string()))?;
        if certs.is_empty() {
            return Err(fail("it holds no certificate".into()));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// An HTTP GET's outcome in a user's words, with the body when it was 200 over HTTPS.
pub(crate) enum Fetched {
    Body(String),
    /// Why not: "HTTP 404", "redirected to plain HTTP (not followed)", "connection refused", …
    Not(String),
}

pub(crate) async fn get(http: &reqwest::Client, url: &str) -> Fetched {
    let resp = match http.get(url).send().await {
        Ok(r) => r,
        Err(e) => return Fetched::Not(describe(&e)),
    };
    let status = resp.status();
    if status.is_redirection() {
        let to = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("?").to_string();
        return Fetched::Not(format!("HTTP {} redirect to {to} not followed (only https:// is)", status.as_u16()));
    }
    if !status.is_success() {
        return Fetched::Not(format!("HTTP {}", status.as_u16()));
    }
    let mut resp = resp;
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_BODY {
                    return Fetched::Not(format!("the answer is larger than {} KB: not an autoconfig file", MAX_BODY / 1024));
                }
            }
            Ok(None) => break,
            Err(e) => return Fetched::Not(describe(&e)),
        }
    }
    Fetched::Body(String::from_utf8_lossy(&body).into_owned())
}

/// reqwest's error chain in one line (its top level says only "error sending request").
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut parts = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        // reqwest's and hyper's wrappers ("error sending request for url (…)", "client error
        // (Connect)") repeat the URL shown beside it and hide the cause.
        let wrapper = s.starts_with("error sending request") || s.starts_with("client error");
        if !wrapper && !parts.iter().any(|p: &String| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    let text = parts.join(": ");
    if text.contains("no record found") || text.contains("NXDomain") || text.contains("no records found") {
        format!("host name not found (NXDOMAIN): {}", e.url().and_then(|u| u.host_str()).unwrap_or("?"))
    } else {
        text
    }
}
