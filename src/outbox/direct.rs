//! Direct delivery (mode Direct): each claimed message goes straight to its recipients' own mail
//! servers, one recipient domain at a time. A domain is routed once per pass ([`mx::route`]: MX
//! by preference, implicit MX, null MX) with its MTA-STS policy ([`mta_sts`]); each MX host is
//! tried in order, each of its addresses (IPv6 and IPv4) in turn, until one takes the session.
//!
//! Results are per domain, never across domains: a 5xx RCPT fails that recipient, a 4xx defers
//! it, and a domain none of whose hosts answers defers only its own recipients (and, for the rest
//! of the pass, that domain's recipients of later messages). A permanent routing answer (null MX,
//! NXDOMAIN, an implicit MX without an address) fails them; a DNS failure that may pass defers.
//!
//! TLS: STARTTLS whenever offered, and a certificate that does not verify is used and noted in
//! the mail log's reply (opportunistic TLS, RFC 7435), unless the domain's MTA-STS policy says
//! `enforce`: then only the MX hosts it lists, only with STARTTLS and a certificate that verifies
//! for the MX name (else deferred with the reason). DANE is not done (docs/direct.md says why).
//!
//! Shape: the relay drain's writer and claiming ([`deliver::start_writer`], [`deliver::Desk`]);
//! `limits.connection_limit` workers, each with at most one connection open at a time (the cap,
//! overall and so also per destination domain: no separate per-domain limit is needed while the
//! two are the same number). A worker keeps its session after a message and takes a claimed
//! message to the same domain next, up to `limits.batch_size` messages a session; sessions are
//! never kept across passes (no pool: MX hosts drop idle clients quickly). A message's attempts
//! (one per domain) are recorded together, so its permanent failures make one bounce. Every
//! network step has the step timeout.

use super::bounce::Budget;
use super::claim::{Attempt, Job, Outcome, RecipientResult, Tally};
use super::deliver::{self, Desk, Stop, Summary, Whose};
use super::pool::Pool;
use super::relay::{Connection, Envelope, Trouble};
use super::store::Store;
use super::{now_millis, Error};
use crate::direct::dkim::Signer;
use crate::direct::mta_sts::{self, Found, Mode as StsMode};
use crate::direct::mx::{self, MxHost, RouteError};
use crate::journal::events::CertificateSeen;
use crate::settings::Profile;
use hickory_resolver::TokioResolver;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Messages claimed at a time into the pass's stock.
const CLAIM: usize = 32;

/// What the mail log names for an attempt that reached no host (and a bounce then names none).
pub(super) const NO_HOST: &str = "direct";

/// Where a domain's mail goes this pass, with the policy that applies.
struct Route {
    hosts: Result<Vec<MxHost>, RouteError>,
    policy: Found,
}

struct Shared {
    desk: Desk,
    resolver: Option<TokioResolver>,
    /// Why no resolver could be built: everything defers with it.
    no_resolver: Option<String>,
    http: Option<reqwest::Client>,
    sts_cache: tokio::sync::Mutex<mta_sts::Cache>,
    routes: Mutex<HashMap<String, Arc<OnceCell<Route>>>>,
    /// Domains none of whose hosts answered in this pass, with why.
    down: Mutex<HashMap<String, String>>,
    summary: Mutex<Summary>,
    ready: Mutex<VecDeque<Job>>,
    refill: tokio::sync::Mutex<()>,
    open: Mutex<usize>,
    signer: Option<Arc<Signer>>,
    signing_warned: AtomicBool,
    /// Certificates sent to the event log in this pass (one per MX host).
    certificates: Mutex<std::collections::HashSet<String>>,
    /// `SMTP_DESK_EXTRA_CA`, trusted for MX certificates too (a company or test CA).
    extra_ca: Option<PathBuf>,
    /// Relay connections other profiles keep: they count toward `connection_limit` too, and the
    /// oldest are closed to make room ([`Pool::make_room`]).
    pool: Arc<Pool>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Delivers everything due of one profile in Direct mode, then returns (as [`deliver::drain`]).
pub async fn drain(
    store: Store,
    whose: Whose,
    profile: &Profile,
    signer: Option<Arc<Signer>>,
    budget: Option<Budget>,
    stop: &Stop,
    pool: &Arc<Pool>,
) -> (Store, Summary, Option<Error>) {
    let dir = store.path().parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    let max_age_ms = i64::from(profile.limits.max_queue_age_hours) * 3_600_000;
    let (desk, writer) = deliver::start_writer(store, whose, NO_HOST.into(), max_age_ms, budget);
    let timeout = profile.limits.step_timeout();
    let (resolver, no_resolver) = match crate::dns::resolver_from_env(timeout, hickory_resolver::config::LookupIpStrategy::Ipv6AndIpv4) {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(format!("no DNS lookup is possible: {e}"))),
    };
    let http = resolver.as_ref().and_then(|r| match mta_sts::client(r, timeout) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!("no MTA-STS policies can be fetched: {e}");
            None
        }
    });
    let shared = Arc::new(Shared {
        desk,
        resolver,
        no_resolver,
        http,
        sts_cache: tokio::sync::Mutex::new(mta_sts::Cache::open(&dir)),
        routes: Mutex::new(HashMap::new()),
        down: Mutex::new(HashMap::new()),
        summary: Mutex::new(Summary::default()),
        ready: Mutex::new(VecDeque::new()),
        refill: tokio::sync::Mutex::new(()),
        open: Mutex::new(0),
        signer,
        signing_warned: AtomicBool::new(false),
        certificates: Mutex::new(Default::default()),
        extra_ca: std::env::var_os(crate::detect::ENV_EXTRA_CA).filter(|v| !v.is_empty()).map(PathBuf::from),
        pool: pool.clone(),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..profile.limits.connection_limit.max(1) {
        let (shared, profile, stop) = (shared.clone(), profile.clone(), stop.clone());
        tasks.spawn(async move { worker(&shared, &profile, &stop).await });
    }
    let mut error = None;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Err(e)) => {
                error.get_or_insert(e);
            }
            Err(e) => {
                error.get_or_insert(Error::Storage { path: String::new(), message: format!("a delivery worker failed: {e}") });
            }
            Ok(Ok(())) => {}
        }
    }
    let rest: Vec<Job> = lock(&shared.ready).drain(..).collect();
    if !rest.is_empty() {
        if stop.stop.is_cancelled() {
            lock(&shared.summary).put_back += rest.len();
        }
        if let Err(e) = shared.desk.unclaim(rest).await {
            error.get_or_insert(e);
        }
    }
    let shared = Arc::try_unwrap(shared).unwrap_or_else(|_| unreachable!("every worker has finished"));
    let summary = shared.summary.into_inner().unwrap_or_else(|p| p.into_inner());
    drop(shared.desk);
    let store = writer.await.expect("the queue writer does not panic");
    (store, summary, error)
}

/// The next claimed message, refilling the stock when it is empty; with `domain` (the one a
/// worker holds a connection to), a message with a recipient there first, so the connection
/// carries it too.
async fn next_job(shared: &Shared, domain: Option<&str>) -> Result<Option<Job>, Error> {
    if let Some(job) = take_ready(shared, domain) {
        return Ok(Some(job));
    }
    let _refilling = shared.refill.lock().await;
    if let Some(job) = take_ready(shared, domain) {
        return Ok(Some(job));
    }
    let jobs = shared.desk.claim(CLAIM).await?;
    lock(&shared.ready).extend(jobs);
    Ok(take_ready(shared, domain))
}

fn take_ready(shared: &Shared, domain: Option<&str>) -> Option<Job> {
    let mut ready = lock(&shared.ready);
    let to_domain = |j: &Job| j.recipients.iter().any(|(_, a)| domain_of(a).as_deref() == domain);
    match domain.and_then(|_| ready.iter().position(to_domain)) {
        Some(i) => ready.remove(i),
        None => ready.pop_front(),
    }
}

/// The recipient's domain as DNS writes it (lower case); `None` without one.
fn domain_of(address: &str) -> Option<String> {
    address.rsplit_once('@').map(|(_, d)| d.trim_end_matches('.').to_lowercase()).filter(|d| !d.is_empty())
}

/// A session a worker keeps open after a message, for its next message to the same domain
/// (up to `limits.batch_size` messages), with what the mail log says of it.
struct Kept {
    domain: String,
    conn: Connection,
    used: usize,
    tls: Option<String>,
    server: String,
    /// The policy and certificate notes added to each reply.
    notes: Vec<String>,
}

impl Kept {
    /// Says goodbye (when the session still answers) and counts it closed.
    async fn close(self, shared: &Shared, usable: bool) {
        if usable {
            self.conn.quit().await;
        }
        *lock(&shared.open) -= 1;
    }
}

/// One worker: a message at a time, a domain at a time, at most one connection open (kept for
/// the next message when it goes to the same domain).
async fn worker(shared: &Arc<Shared>, profile: &Profile, stop: &Stop) -> Result<(), Error> {
    let mut kept: Option<Kept> = None;
    let result = deliver_each(shared, profile, stop, &mut kept).await;
    if let Some(k) = kept.take() {
        k.close(shared, true).await;
    }
    result
}

async fn deliver_each(shared: &Arc<Shared>, profile: &Profile, stop: &Stop, kept: &mut Option<Kept>) -> Result<(), Error> {
    while !stop.stop.is_cancelled() {
        let Some(job) = next_job(shared, kept.as_ref().map(|k| k.domain.as_str())).await? else { break };
        let signed = deliver::signed_or_noted(shared.signer.as_ref(), &job, &shared.desk, &shared.signing_warned).await;
        let body: &[u8] = signed.as_deref().unwrap_or(&job.body);
        let mut by_domain: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
        let mut no_domain = Vec::new();
        for (position, address) in &job.recipients {
            match domain_of(address) {
                Some(d) => by_domain.entry(d).or_default().push((*position, address.clone())),
                None => no_domain.push((*position, address.clone())),
            }
        }
        // The domain of the kept session first, while it is still open.
        let mut domains: Vec<(String, Vec<(i64, String)>)> = by_domain.into_iter().collect();
        if let Some(i) = kept.as_ref().and_then(|k| domains.iter().position(|(d, _)| *d == k.domain)) {
            let first = domains.remove(i);
            domains.insert(0, first);
        }
        // Every attempt of the message is recorded together: its failures make one bounce.
        let mut attempts = Vec::new();
        if !no_domain.is_empty() {
            let part = Job { recipients: no_domain, ..job.clone() };
            let results = deliver::all(&part, Outcome::Failed, "the address has no domain: direct delivery can't route it");
            attempts.push(Attempt { job: part, started: now_millis(), results, tls: None, server: None });
        }
        let mut left: Vec<(i64, String)> = Vec::new();
        for (domain, recipients) in domains {
            if stop.abort.is_cancelled() {
                left.extend(recipients);
                continue;
            }
            let started = now_millis();
            let part = Job { recipients, ..job.clone() };
            let (results, tls, server) = to_domain(shared, profile, &part, body, &domain, stop, kept).await;
            if stop.abort.is_cancelled() && results.iter().all(|r| r.outcome == Outcome::Deferred) {
                // Cut off: back to where it was, no attempt counted.
                left.extend(part.recipients);
                continue;
            }
            attempts.push(Attempt { job: part, started, results, tls, server });
        }
        if !left.is_empty() {
            lock(&shared.summary).put_back += 1;
            shared.desk.unclaim(vec![Job { recipients: left, ..job.clone() }]).await?;
        }
        if attempts.is_empty() {
            continue;
        }
        let t: Tally = shared.desk.record_message(attempts).await.map_err(|_| deliver::gone())??;
        let mut s = lock(&shared.summary);
        s.sent += t.sent;
        s.deferred += t.deferred;
        s.failed += t.failed;
        s.bounces += t.bounces;
    }
    Ok(())
}

/// The route of `domain` for this pass: looked up by the first worker that needs it.
async fn route(shared: &Shared, domain: &str, timeout: std::time::Duration) -> Arc<OnceCell<Route>> {
    let cell = lock(&shared.routes).entry(domain.to_string()).or_default().clone();
    cell.get_or_init(|| async {
        let Some(resolver) = &shared.resolver else {
            return Route { hosts: Err(RouteError::Temporary(shared.no_resolver.clone().unwrap_or_default())), policy: Found::NoPolicy };
        };
        // The resolver bounds each query; this bounds a chain of them (CNAMEs, retries over TCP).
        let hosts = match tokio::time::timeout(timeout * 2, mx::route(resolver, domain)).await {
            Ok(r) => r,
            Err(_) => Err(RouteError::Temporary(format!("looking up the mail servers of {domain} took too long; will try again"))),
        };
        let policy = match (&hosts, &shared.http, mx::ascii_domain(domain)) {
            (Ok(_), Some(http), Ok(ascii)) => {
                let mut cache = shared.sts_cache.lock().await;
                match tokio::time::timeout(timeout * 3, mta_sts::lookup(resolver, http, &mut cache, &ascii)).await {
                    Ok(found) => found,
                    Err(_) => Found::NoPolicy,
                }
            }
            _ => Found::NoPolicy,
        };
        Route { hosts, policy }
    })
    .await;
    cell
}

type DomainResult = (Vec<RecipientResult>, Option<String>, Option<String>);

/// Delivers `job` (its recipients of `domain` only): the results, the TLS used and the host.
async fn to_domain(
    shared: &Shared,
    profile: &Profile,
    job: &Job,
    body: &[u8],
    domain: &str,
    stop: &Stop,
    kept: &mut Option<Kept>,
) -> DomainResult {
    let every = |outcome, why: &str| deliver::all(job, outcome, why);
    if let Some(k) = kept.take() {
        if k.domain == domain {
            return send_on(shared, profile, job, body, k, kept).await;
        }
        // One connection per worker: the kept one closes before another domain's opens.
        k.close(shared, true).await;
    }
    if let Some(why) = lock(&shared.down).get(domain).cloned() {
        return (every(Outcome::Deferred, &why), None, None);
    }
    let cell = route(shared, domain, profile.limits.step_timeout()).await;
    let route = cell.get().expect("initialised above");
    let hosts = match &route.hosts {
        Ok(h) => h.clone(),
        Err(RouteError::Permanent(why)) => return (every(Outcome::Failed, why), None, None),
        Err(RouteError::Temporary(why)) => return (every(Outcome::Deferred, why), None, None),
    };
    let (hosts, enforce, mut notes) = match &route.policy {
        Found::Policy { policy, note } if policy.mode == StsMode::Enforce => {
            let listed: Vec<MxHost> = hosts.iter().filter(|h| policy.allows(&h.name)).cloned().collect();
            if listed.is_empty() {
                let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
                let why = format!(
                    "not sent: the MTA-STS policy of {domain} (mode enforce) allows only mx {}, and none of its mail servers ({}) matches; will try again",
                    policy.mx.join(", "),
                    names.join(", ")
                );
                return (every(Outcome::Deferred, &why), None, None);
            }
            let mut notes = vec![format!("MTA-STS enforce: TLS with a verified certificate required by {domain}")];
            notes.extend(note.clone());
            (listed, true, notes)
        }
        Found::Policy { policy, note } if policy.mode == StsMode::Testing => {
            let mut notes = vec![format!("MTA-STS policy of {domain} is in testing mode: delivered as without one")];
            notes.extend(note.clone());
            (hosts, false, notes)
        }
        _ => (hosts, false, Vec::new()),
    };
    let resolver = shared.resolver.as_ref().expect("a route was found, so there is a resolver");
    let mut tried = Vec::new();
    for host in &hosts {
        let addrs = match tokio::time::timeout(profile.limits.step_timeout() * 2, mx::addresses(resolver, host)).await {
            Ok(Ok(a)) => a,
            Ok(Err(RouteError::Permanent(why))) => return (every(Outcome::Failed, &why), None, None),
            Ok(Err(RouteError::Temporary(why))) => {
                tried.push(why);
                continue;
            }
            Err(_) => {
                tried.push(format!("looking up {} took too long", host.name));
                continue;
            }
        };
        let host_profile = profile_for(shared, profile, host, enforce);
        for addr in addrs {
            if stop.abort.is_cancelled() {
                return (every(Outcome::Deferred, "delivery was stopped"), None, None);
            }
            let busy = {
                let mut open = lock(&shared.open);
                *open += 1;
                *open - 1
            };
            // No kept connection is ever this drain's: any key other than theirs makes room.
            shared.pool.make_room(NO_HOST, busy, profile.limits.connection_limit.max(1) as usize).await;
            let (opened, cert, warnings) = Connection::open_at(&host_profile, vec![addr], !enforce, &stop.abort).await;
            if let Some(cert) = cert {
                if lock(&shared.certificates).insert(host.name.clone()) {
                    let (subject, issuer) = (cert.subject, cert.issuer);
                    shared.desk.certificate(CertificateSeen { host: host.name.clone(), not_after: cert.not_after_ms, subject, issuer });
                }
            }
            let conn = match opened {
                Ok(c) => c,
                Err(Trouble(why)) => {
                    *lock(&shared.open) -= 1;
                    tried.push(format!("{} [{addr}]: {why}", host.name));
                    continue;
                }
            };
            {
                let open = *lock(&shared.open) + shared.pool.len();
                let mut s = lock(&shared.summary);
                s.peak_connections = s.peak_connections.max(open);
            }
            notes.extend(warnings);
            let tls = conn.tls();
            let server = format!("{}:{} [{addr}]", host.name, mx::SMTP_PORT);
            let k = Kept { domain: domain.to_string(), conn, used: 0, tls, server, notes };
            return send_on(shared, profile, job, body, k, kept).await;
        }
    }
    let why = if enforce {
        format!("not sent: no mail server of {domain} answered with STARTTLS and a certificate valid for its name, as its MTA-STS policy (enforce) requires: {}", tried.join("; "))
    } else {
        format!("no mail server of {domain} answered: {}", tried.join("; "))
    };
    {
        let mut s = lock(&shared.summary);
        s.connect_failures += 1;
        s.connect_error.get_or_insert(why.clone());
    }
    lock(&shared.down).insert(domain.to_string(), why.clone());
    (every(Outcome::Deferred, &why), None, None)
}

/// Sends `job` over the session `k`, which stays open in `kept` while it is usable and has
/// carried fewer than `limits.batch_size` messages; else it is closed.
async fn send_on(shared: &Shared, profile: &Profile, job: &Job, body: &[u8], mut k: Kept, kept: &mut Option<Kept>) -> DomainResult {
    let env = Envelope {
        sender: &job.sender,
        recipients: job.recipients.iter().map(|(_, a)| a.as_str()).collect(),
        body,
        eight_bit: job.eight_bit,
        dsn: &job.dsn,
    };
    let tx = k.conn.send(&env).await;
    k.used += 1;
    let results = job
        .recipients
        .iter()
        .zip(tx.results)
        .map(|((position, address), (v, reply))| RecipientResult {
            position: *position,
            address: address.clone(),
            outcome: v.into(),
            reply: if k.notes.is_empty() { reply } else { format!("{reply} ({})", k.notes.join("; ")) },
        })
        .collect();
    let (tls, server) = (k.tls.clone(), Some(k.server.clone()));
    if tx.usable && k.used < profile.limits.batch_size.max(1) as usize {
        *kept = Some(k);
    } else {
        k.close(shared, tx.usable).await;
    }
    (results, tls, server)
}

/// The settings one MX session opens with: port 25, STARTTLS (opportunistic unless `enforce`),
/// no login, the profile's EHLO name and timeouts; the MX name is what TLS checks.
fn profile_for(shared: &Shared, profile: &Profile, host: &MxHost, enforce: bool) -> Profile {
    let mut p = mx::session_profile(profile, &host.name, enforce);
    if p.relay.ca_file.is_none() {
        p.relay.ca_file = shared.extra_ca.clone();
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_grouped_by_their_domain() {
        assert_eq!(domain_of("a@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(domain_of("\"x@y\"@b.test.").as_deref(), Some("b.test"));
        assert_eq!(domain_of("root"), None);
    }
}
