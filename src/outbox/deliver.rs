//! The delivery agent: drains what is due to the profile's relay over at most
//! `limits.connection_limit` connections at once, `limits.batch_size` messages per connection.
//!
//! Shape: one drain pass runs exactly `connection_limit` worker tasks (the hard cap: each owns at
//! most one connection); each claims a few due messages at a time in a short transaction
//! ([`Store::claim`]), sends them over its connection (RSET between) and records every
//! recipient's result and the attempt right after each message, so a crash re-sends at most the
//! messages in flight. Every network step is bounded by `limits.timeout_secs` ([`relay`]), and no
//! lock or transaction is held across a network wait, so one hung server session delays only its
//! own messages.
//!
//! Why not lettre's transport: its pool caps only idle connections, not open ones, and one refused
//! RCPT aborts the whole message there; here a 5xx fails only that recipient and the others are
//! still delivered.
//!
//! Results: RCPT 2xx → DATA; 4xx → deferred; 5xx → failed with the server's reply; the DATA reply
//! applies to the accepted recipients; no reply after the whole message went out → deferred and
//! recorded as "may have been delivered". A connection, DNS or TLS failure defers what was claimed
//! and, for the rest of the pass, everything due (the server is down: no point trying each
//! message). Deferred recipients come back per [`super::retry`] until `limits.max_queue_age_hours`.

use super::claim::{Job, Outcome, RecipientResult, Tally};
use super::relay::{self, Connection, Envelope, Verdict};
use super::store::Store;
use super::{now_millis, Error};
use crate::secrets::Password;
use crate::settings::Profile;
use crate::smtp::CancelToken;
use std::sync::{Arc, Mutex};

/// Messages claimed at a time by one worker: small, so work spreads over the connections and a
/// crash re-sends little.
const CLAIM: usize = 8;

/// What a drain pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
    /// Connections that could not be opened (each defers what it had claimed).
    pub connect_failures: usize,
    /// The first reason a connection failed, for the user.
    pub connect_error: Option<String>,
    /// The most connections open at once (never more than `connection_limit`).
    pub peak_connections: usize,
}

struct Shared {
    store: Mutex<Store>,
    /// Set once a connection fails: the rest of the pass defers with this reason.
    down: Mutex<Option<String>>,
    summary: Mutex<Summary>,
    open: Mutex<usize>,
}

async fn blocking<T: Send + 'static>(
    shared: &Arc<Shared>,
    f: impl FnOnce(&mut Store) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut store)
    })
    .await
    .unwrap_or_else(|e| Err(Error::Storage { path: String::new(), message: format!("the store task failed: {e}") }))
}

/// Delivers everything due now, then returns. The store's storage errors end the pass early.
pub async fn drain(store: Store, profile: &Profile, password: Option<Password>, cancel: &CancelToken) -> (Store, Summary, Option<Error>) {
    let shared =
        Arc::new(Shared { store: Mutex::new(store), down: Mutex::new(None), summary: Mutex::new(Summary::default()), open: Mutex::new(0) });
    let workers = profile.limits.connection_limit.max(1) as usize;
    let password = password.map(Arc::new);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (shared, profile, password, cancel) = (shared.clone(), profile.clone(), password.clone(), cancel.clone());
        tasks.spawn(async move { worker(&shared, &profile, password.as_deref(), &cancel).await });
    }
    let mut error = None;
    while let Some(r) = tasks.join_next().await {
        if let Ok(Err(e)) = r {
            error.get_or_insert(e);
        }
    }
    let shared = Arc::try_unwrap(shared).unwrap_or_else(|_| unreachable!("every worker has finished"));
    let summary = shared.summary.into_inner().unwrap_or_else(|p| p.into_inner());
    (shared.store.into_inner().unwrap_or_else(|p| p.into_inner()), summary, error)
}

async fn worker(shared: &Arc<Shared>, profile: &Profile, password: Option<&Password>, cancel: &CancelToken) -> Result<(), Error> {
    let batch = profile.limits.batch_size.max(1) as usize;
    let max_age_ms = i64::from(profile.limits.max_queue_age_hours) * 3_600_000;
    let server = format!("{}:{}", profile.relay.host.trim(), profile.relay.port);
    let mut conn: Option<Connection> = None;
    let mut used = 0usize;
    let result = async {
        while !cancel.is_cancelled() {
            let want = CLAIM.min(batch - used.min(batch - 1));
            let jobs = blocking(shared, move |s| s.claim(want)).await?;
            if jobs.is_empty() {
                break;
            }
            let down = shared.down.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(why) = down {
                for job in jobs {
                    record_all(shared, job, &server, now_millis(), Outcome::Deferred, &why, max_age_ms).await?;
                }
                continue;
            }
            if conn.is_none() {
                let started = now_millis();
                match Connection::open(profile, password, cancel).await {
                    Ok(c) => {
                        let mut open = shared.open.lock().unwrap_or_else(|p| p.into_inner());
                        *open += 1;
                        let mut s = shared.summary.lock().unwrap_or_else(|p| p.into_inner());
                        s.peak_connections = s.peak_connections.max(*open);
                        conn = Some(c);
                        used = 0;
                    }
                    Err(relay::Trouble(why)) => {
                        {
                            let mut s = shared.summary.lock().unwrap_or_else(|p| p.into_inner());
                            s.connect_failures += 1;
                            s.connect_error.get_or_insert(why.clone());
                        }
                        shared.down.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(why.clone());
                        for job in jobs {
                            record_all(shared, job, &server, started, Outcome::Deferred, &why, max_age_ms).await?;
                        }
                        continue;
                    }
                }
            }
            let mut jobs = jobs.into_iter();
            while let Some(job) = jobs.next() {
                let Some(c) = conn.as_mut() else {
                    // The connection went away: the rest go back untried, for a new connection.
                    let rest: Vec<Job> = std::iter::once(job).chain(jobs.by_ref()).collect();
                    blocking(shared, move |s| rest.iter().try_for_each(|j| s.unclaim(j))).await?;
                    break;
                };
                let started = now_millis();
                let env = Envelope {
                    sender: &job.sender,
                    recipients: job.recipients.iter().map(|(_, a)| a.as_str()).collect(),
                    body: &job.body,
                    eight_bit: job.eight_bit,
                };
                let tx = c.send(&env).await;
                drop(env);
                used += 1;
                if !tx.usable {
                    conn = None;
                    *shared.open.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
                }
                let results = job
                    .recipients
                    .iter()
                    .zip(tx.results)
                    .map(|((position, address), (v, reply))| RecipientResult {
                        position: *position,
                        address: address.clone(),
                        outcome: match v {
                            Verdict::Sent => Outcome::Sent,
                            Verdict::Deferred => Outcome::Deferred,
                            Verdict::Failed => Outcome::Failed,
                        },
                        reply,
                    })
                    .collect();
                record(shared, job, &server, started, results, max_age_ms).await?;
            }
            if used >= batch {
                if let Some(c) = conn.take() {
                    c.quit().await;
                    *shared.open.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
                }
            }
        }
        Ok(())
    }
    .await;
    if let Some(c) = conn.take() {
        c.quit().await;
        *shared.open.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
    }
    result
}

async fn record_all(
    shared: &Arc<Shared>,
    job: Job,
    server: &str,
    started: i64,
    outcome: Outcome,
    why: &str,
    max_age_ms: i64,
) -> Result<(), Error> {
    let results = job
        .recipients
        .iter()
        .map(|(position, address)| RecipientResult { position: *position, address: address.clone(), outcome, reply: why.to_string() })
        .collect();
    record(shared, job, server, started, results, max_age_ms).await
}

async fn record(
    shared: &Arc<Shared>,
    job: Job,
    server: &str,
    started: i64,
    results: Vec<RecipientResult>,
    max_age_ms: i64,
) -> Result<(), Error> {
    let server = server.to_string();
    let tally: Tally = blocking(shared, move |s| s.record(&job, &server, started, &results, max_age_ms)).await?;
    let mut s = shared.summary.lock().unwrap_or_else(|p| p.into_inner());
    s.sent += tally.sent;
    s.deferred += tally.deferred;
    s.failed += tally.failed;
    Ok(())
}
