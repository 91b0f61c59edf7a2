//! The delivery agent: drains what is due of one profile to its relay over at most
//! `limits.connection_limit` connections at once, `limits.batch_size` messages per connection.
//! The runner calls it once per profile with due mail ([`super::runner`]); a drain claims only
//! its profile's messages ([`Store::claim`]) and records its name on every mail-log row.
//!
//! Shape: one drain pass runs exactly `connection_limit` worker tasks (the hard cap: each owns at
//! most one connection, taken from the [`Pool`] of kept ones or opened when it is empty). Due
//! messages are claimed a few dozen at a time ([`Store::claim`]) into a stock the workers share
//! and take one message at a time from, so a hung session holds only its own message. The
//! store belongs to one writer thread (`Writer`) that claims and records for all workers and
//! commits the results that arrive together in one transaction (group commit). A worker has at
//! most one message whose result is not yet committed while it sends the next, so a crash
//! re-sends at most the messages in flight: two per connection. Every network step is bounded by
//! `limits.timeout_secs` ([`relay`]), and no lock or transaction is held across a network wait,
//! so one hung server session delays only its own messages.
//!
//! Stopping (SIGTERM, the window closing): the `stop` token ends claiming; each worker finishes
//! the message it is sending, puts what it claimed but did not send back to where it was
//! (queued), and closes its connection. If a message is still not done a step timeout later, the
//! `abort` token cuts it off and it goes back to queued too (no attempt counted; a resend of a
//! message the server may have taken is allowed, a lost one is not).
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

use super::bounce::Budget;
use super::claim::{Attempt, Job, Outcome, RecipientResult, Recording, Tally};
use super::pool::Pool;
use super::relay::{self, Connection, Envelope};
use super::store::Store;
use super::{now_millis, Error};
use crate::direct::dkim::Signer;
use crate::journal::events::{self, CertificateSeen};
use crate::secrets::Password;
use crate::settings::Profile;
use crate::smtp::CancelToken;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Messages claimed at a time into the pass's shared stock, from which workers take one at a
/// time. Claimed but unsent messages are never duplicates after a crash (they are still `sending`
/// and go back to queued), so this doesn't widen that window.
const CLAIM: usize = 64;

/// Requests the writer takes at once into one transaction.
const GROUP: usize = 256;

/// What a drain pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
    /// Bounces queued for failed recipients (delivered in the same pass).
    pub bounces: usize,
    /// Connections that could not be opened (each defers what it had claimed).
    pub connect_failures: usize,
    /// The first reason a connection failed, for the user.
    pub connect_error: Option<String>,
    /// The most connections open at once (never more than `connection_limit`).
    pub peak_connections: usize,
    /// Messages put back to queued because the agent was stopped.
    pub put_back: usize,
}

/// How a pass is stopped: `stop` asks for a clean end (no new claims, in-flight messages finish);
/// `abort` cuts the network waits off (the agent fires it a step timeout after `stop`).
#[derive(Clone, Default)]
pub struct Stop {
    pub stop: CancelToken,
    pub abort: CancelToken,
}

/// The bounce settings for a pass, read from the profile and the store.
pub struct Bounces {
    pub budget: Option<Budget>,
}

/// Whose mail a drain carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whose {
    /// The profile as the queue holds it: `None` is mail queued before profiles existed.
    pub queued_as: Option<String>,
    /// The profile it is sent with (canonical name), for the mail log and bounces.
    pub name: String,
}

enum Request {
    Claim(usize, oneshot::Sender<Result<Vec<Job>, Error>>),
    /// One message's attempts (direct delivery: one per domain), recorded in one transaction so
    /// its failures make one bounce; the answer is their tallies summed.
    Record(Vec<Attempt>, oneshot::Sender<Result<Tally, Error>>),
    Unclaim(Vec<Job>, oneshot::Sender<Result<(), Error>>),
    /// The relay's certificate, for the event log (and so the dashboard); no answer.
    Certificate(CertificateSeen),
    /// Something for the event log (a message sent unsigned); no answer.
    Problem(events::NewEvent),
}

fn copy(e: &Error, path: &str) -> Error {
    Error::Storage { path: path.to_string(), message: e.to_string() }
}

/// The one owner of the store during a pass: serves claims and records, committing every record
/// that waits together in one transaction.
struct Writer {
    store: Store,
    whose: Whose,
    server: String,
    max_age_ms: i64,
    budget: Option<Budget>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) -> Store {
        let path = self.store.path().display().to_string();
        let mut waiting = Vec::with_capacity(GROUP);
        while let Some(first) = rx.blocking_recv() {
            waiting.push(first);
            while waiting.len() < GROUP {
                match rx.try_recv() {
                    Ok(r) => waiting.push(r),
                    Err(_) => break,
                }
            }
            let mut attempts = Vec::new();
            let mut replies = Vec::new();
            for r in waiting.drain(..) {
                match r {
                    Request::Record(a, reply) => {
                        replies.push((a.len(), reply));
                        attempts.extend(a);
                    }
                    Request::Claim(n, reply) => {
                        let _ = reply.send(self.store.claim(n, self.whose.queued_as.as_deref()));
                    }
                    Request::Unclaim(jobs, reply) => {
                        let _ = reply.send(self.store.unclaim_all(&jobs));
                    }
                    Request::Certificate(seen) => events::record_certificate(&self.store, &seen),
                    Request::Problem(e) => events::record_or_log(&self.store, &e),
                }
            }
            if attempts.is_empty() {
                continue;
            }
            let how =
                Recording { server: &self.server, profile: &self.whose.name, max_age_ms: self.max_age_ms, bounces: self.budget.as_mut() };
            match self.store.record_all(&attempts, how) {
                Ok(tallies) => {
                    let mut tallies = tallies.into_iter();
                    for (n, reply) in replies {
                        let mut sum = Tally::default();
                        tallies.by_ref().take(n).for_each(|t| sum.add(&t));
                        let _ = reply.send(Ok(sum));
                    }
                }
                Err(e) => {
                    for (_, reply) in replies {
                        let _ = reply.send(Err(copy(&e, &path)));
                    }
                }
            }
        }
        self.store
    }
}

/// Starts the one owner of the store for a pass (on a blocking thread): `server` is what the
/// mail log names for attempts that don't name their own. The handle gives the store back once
/// every [`Desk`] is dropped. The direct drain ([`super::direct`]) shares it.
pub(super) fn start_writer(
    store: Store,
    whose: Whose,
    server: String,
    max_age_ms: i64,
    budget: Option<Budget>,
) -> (Desk, tokio::task::JoinHandle<Store>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = Writer { store, whose, server, max_age_ms, budget };
    (Desk { tx }, tokio::task::spawn_blocking(move || writer.run(rx)))
}

/// The workers' side of the writer.
#[derive(Clone)]
pub(super) struct Desk {
    tx: mpsc::UnboundedSender<Request>,
}

pub(super) fn gone() -> Error {
    Error::Storage { path: String::new(), message: "the queue writer stopped".into() }
}

impl Desk {
    pub(super) async fn claim(&self, n: usize) -> Result<Vec<Job>, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Request::Claim(n, reply)).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    pub(super) fn record(&self, attempt: Attempt) -> oneshot::Receiver<Result<Tally, Error>> {
        self.record_message(vec![attempt])
    }

    /// Records the attempts of one message together (see [`Request::Record`]).
    pub(super) fn record_message(&self, attempts: Vec<Attempt>) -> oneshot::Receiver<Result<Tally, Error>> {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(Request::Record(attempts, reply));
        rx
    }

    pub(super) async fn unclaim(&self, jobs: Vec<Job>) -> Result<(), Error> {
        if jobs.is_empty() {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        self.tx.send(Request::Unclaim(jobs, reply)).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// A server's certificate for the event log (no answer waited for).
    pub(super) fn certificate(&self, seen: CertificateSeen) {
        let _ = self.tx.send(Request::Certificate(seen));
    }

    /// Something for the event log (no answer waited for).
    pub(super) fn problem(&self, event: events::NewEvent) {
        let _ = self.tx.send(Request::Problem(event));
    }
}

struct Shared {
    desk: Desk,
    pool: Arc<Pool>,
    /// The pool key of this drain's profile.
    key: String,
    /// Set once a connection fails: the rest of the pass defers with this reason.
    down: Mutex<Option<String>>,
    summary: Mutex<Summary>,
    open: Mutex<usize>,
    /// Claimed messages no worker has taken yet.
    ready: Mutex<std::collections::VecDeque<Job>>,
    /// Held while the stock is refilled, so workers that find it empty together claim once, not
    /// once each (which marked `connection_limit` × CLAIM messages `sending` at a pass's start).
    refill: tokio::sync::Mutex<()>,
    /// The relay's certificate went to the writer in this pass: once is enough (the event log
    /// keeps it once a day), not once per connection.
    certificate_noted: AtomicBool,
    /// Signs each message before it goes out (`dkim.enabled`).
    signer: Option<Arc<Signer>>,
    /// A message went out unsigned in this pass: the event log says so once per pass.
    unsigned_noted: AtomicBool,
}

impl Shared {
    fn ready(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<Job>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn summary(&self) -> std::sync::MutexGuard<'_, Summary> {
        self.summary.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn opened(&self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        *open += 1;
        let mut s = self.summary();
        s.peak_connections = s.peak_connections.max(*open + self.pool.len());
    }

    fn closed(&self) {
        *self.open.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
    }

    fn tally(&self, t: &Tally) {
        let mut s = self.summary();
        s.sent += t.sent;
        s.deferred += t.deferred;
        s.failed += t.failed;
        s.bounces += t.bounces;
    }
}

/// Delivers everything due now, then returns. Connections still good are left in `pool` for
/// the next pass (the caller closes them when their idle time is up). The store's storage errors
/// end the pass early.
// Each argument is one of the pass's separate inputs (the runner reads them per profile); a
// struct bundling them would only move the list.
#[allow(clippy::too_many_arguments)]
pub async fn drain(
    store: Store,
    whose: Whose,
    profile: &Profile,
    password: Option<Password>,
    signer: Option<Arc<Signer>>,
    bounces: Bounces,
    stop: &Stop,
    pool: &Arc<Pool>,
) -> (Store, Summary, Option<Error>) {
    let server = format!("{}:{}", profile.relay.host.trim(), profile.relay.port);
    let max_age_ms = i64::from(profile.limits.max_queue_age_hours) * 3_600_000;
    let (desk, writer) = start_writer(store, whose, server, max_age_ms, bounces.budget);
    let shared = Arc::new(Shared {
        desk,
        pool: pool.clone(),
        key: super::pool::key_of(profile),
        down: Mutex::new(None),
        summary: Mutex::new(Summary::default()),
        open: Mutex::new(0),
        ready: Mutex::new(Default::default()),
        refill: tokio::sync::Mutex::new(()),
        certificate_noted: AtomicBool::new(false),
        signer,
        unsigned_noted: AtomicBool::new(false),
    });
    let workers = profile.limits.connection_limit.max(1) as usize;
    let password = password.map(Arc::new);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (shared, profile, password, stop) = (shared.clone(), profile.clone(), password.clone(), stop.clone());
        tasks.spawn(async move { worker(&shared, &profile, password.as_deref(), &stop).await });
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
    // Stopped (or a worker failed) with messages claimed but not taken: back to where they were.
    let rest: Vec<Job> = shared.ready().drain(..).collect();
    if !rest.is_empty() {
        if stop.stop.is_cancelled() {
            shared.summary().put_back += rest.len();
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

/// The next claimed message: from the pass's shared stock, refilled by a claim when empty. Workers
/// take one message at a time, so a hung session holds only the message it is sending.
async fn next_job(shared: &Shared) -> Result<Option<Job>, Error> {
    if let Some(job) = shared.ready().pop_front() {
        return Ok(Some(job));
    }
    let _refilling = shared.refill.lock().await;
    // Another worker may have refilled the stock while this one waited for the lock.
    if let Some(job) = shared.ready().pop_front() {
        return Ok(Some(job));
    }
    let jobs = shared.desk.claim(CLAIM).await?;
    let mut ready = shared.ready();
    ready.extend(jobs);
    Ok(ready.pop_front())
}

/// One connection's worth of delivery: take a message, send, record, until nothing is due or the
/// pass stops.
async fn worker(shared: &Arc<Shared>, profile: &Profile, password: Option<&Password>, stop: &Stop) -> Result<(), Error> {
    let batch = profile.limits.batch_size.max(1) as usize;
    let mut conn: Option<(Connection, usize)> = None;
    let mut unconfirmed: Option<oneshot::Receiver<Result<Tally, Error>>> = None;
    let result = async {
        while !stop.stop.is_cancelled() {
            let Some(job) = next_job(shared).await? else { break };
            let down = shared.down.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(why) = down {
                let results = all(&job, Outcome::Deferred, &why);
                confirm(shared, &mut unconfirmed, Attempt { job, started: now_millis(), results, tls: None, server: None }).await?;
                continue;
            }
            let started = now_millis();
            if conn.is_none() {
                match connect(shared, profile, password, stop).await {
                    Ok(c) => conn = Some(c),
                    Err(relay::Trouble(why)) => {
                        if stop.abort.is_cancelled() {
                            shared.ready().push_front(job);
                            break;
                        }
                        {
                            let mut s = shared.summary();
                            s.connect_failures += 1;
                            s.connect_error.get_or_insert(why.clone());
                        }
                        shared.down.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(why.clone());
                        let results = all(&job, Outcome::Deferred, &why);
                        confirm(shared, &mut unconfirmed, Attempt { job, started, results, tls: None, server: None }).await?;
                        continue;
                    }
                }
            }
            let signed = signed(shared, &job).await;
            let Some((c, used)) = conn.as_mut() else { unreachable!("connected above") };
            let env = Envelope {
                sender: &job.sender,
                recipients: job.recipients.iter().map(|(_, a)| a.as_str()).collect(),
                body: signed.as_deref().unwrap_or(&job.body),
                eight_bit: job.eight_bit,
                dsn: &job.dsn,
            };
            let tls = c.tls();
            let tx = c.send(&env).await;
            drop(env);
            *used += 1;
            let worn = *used >= batch;
            if !tx.usable {
                conn = None;
                shared.closed();
            } else if worn {
                if let Some((c, _)) = conn.take() {
                    shared.closed();
                    c.quit().await;
                }
            }
            if stop.abort.is_cancelled() {
                // Cut off mid-message: back to queued, no attempt counted.
                shared.summary().put_back += 1;
                shared.ready().push_front(job);
                break;
            }
            let results = job
                .recipients
                .iter()
                .zip(tx.results)
                .map(|((position, address), (v, reply))| RecipientResult {
                    position: *position,
                    address: address.clone(),
                    outcome: v.into(),
                    reply,
                })
                .collect();
            confirm(shared, &mut unconfirmed, Attempt { job, started, results, tls, server: None }).await?;
        }
        Ok(())
    }
    .await;
    if let Some(rx) = unconfirmed.take() {
        let t = rx.await.map_err(|_| gone())?;
        if let Ok(t) = &t {
            shared.tally(t);
        }
        t?;
    }
    if let Some((c, used)) = conn.take() {
        shared.closed();
        if stop.stop.is_cancelled() || profile.limits.max_idle_secs == 0 {
            c.quit().await;
        } else {
            let idle = std::time::Duration::from_secs(u64::from(profile.limits.max_idle_secs));
            shared.pool.put(c, used, shared.key.clone(), idle);
        }
    }
    result
}

/// `job`'s message signed, when the profile signs; `None` sends it as queued. A signing error
/// (e.g. a message without From) sends that message unsigned, never holds or loses it, and the
/// event log says so once per pass. Signing runs on a blocking thread (RSA and hashing a large
/// message take a while) so other connections go on.
pub(crate) async fn sign(signer: Option<&Arc<Signer>>, job: &Job) -> Result<Option<Vec<u8>>, String> {
    let Some(signer) = signer else { return Ok(None) };
    let (signer, body) = (signer.clone(), job.body.clone());
    match tokio::task::spawn_blocking(move || signer.sign(&body)).await {
        Ok(Ok(signed)) => Ok(Some(signed)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("DKIM signing stopped: {e}")),
    }
}

async fn signed(shared: &Shared, job: &Job) -> Option<Vec<u8>> {
    signed_or_noted(shared.signer.as_ref(), job, &shared.desk, &shared.unsigned_noted).await
}

/// [`sign`], a failure sending the message unsigned with a warning in the event log once per
/// pass (`noted`); the relay and direct drains both.
pub(super) async fn signed_or_noted(signer: Option<&Arc<Signer>>, job: &Job, desk: &Desk, noted: &AtomicBool) -> Option<Vec<u8>> {
    match sign(signer, job).await {
        Ok(signed) => signed,
        Err(why) => {
            tracing::warn!(message = job.id, "sent unsigned: {why}");
            if !noted.swap(true, Ordering::Relaxed) {
                let text = format!("Message {} was sent without a DKIM signature: {why}", job.id);
                desk.problem(events::app_problem(events::Severity::Warning, text));
            }
            None
        }
    }
}

/// A connection: a kept one that still answers, or a new one.
async fn connect(
    shared: &Shared,
    profile: &Profile,
    password: Option<&Password>,
    stop: &Stop,
) -> Result<(Connection, usize), relay::Trouble> {
    let batch = profile.limits.batch_size.max(1) as usize;
    while let Some(mut kept) = shared.pool.take(&shared.key) {
        if kept.used < batch && kept.conn.check().await.is_ok() {
            shared.opened();
            return Ok((kept.conn, kept.used));
        }
        // Worn out, or the server dropped it while it rested: close it and try the next.
        kept.conn.quit().await;
    }
    // Kept connections of other profiles count toward the cap: the oldest make room. The new
    // connection is counted as open from here, so workers connecting at once all see it.
    let busy = {
        let mut open = shared.open.lock().unwrap_or_else(|p| p.into_inner());
        *open += 1;
        *open - 1
    };
    shared.pool.make_room(&shared.key, busy, profile.limits.connection_limit.max(1) as usize).await;
    let (c, cert) = Connection::open(profile, password, &stop.abort).await;
    if let Some(cert) = cert {
        if !shared.certificate_noted.swap(true, Ordering::Relaxed) {
            let seen = CertificateSeen {
                host: profile.relay.host.trim().to_string(),
                not_after: cert.not_after_ms,
                subject: cert.subject,
                issuer: cert.issuer,
            };
            shared.desk.certificate(seen);
        }
    }
    shared.closed();
    let c = c?;
    shared.opened();
    Ok((c, 0))
}

pub(super) fn all(job: &Job, outcome: Outcome, why: &str) -> Vec<RecipientResult> {
    job.recipients
        .iter()
        .map(|(position, address)| RecipientResult { position: *position, address: address.clone(), outcome, reply: why.to_string() })
        .collect()
}

/// Hands an attempt to the writer, then waits until the previous one is committed: at most one
/// sent message per worker is ever unrecorded while the next is being sent.
async fn confirm(
    shared: &Shared,
    unconfirmed: &mut Option<oneshot::Receiver<Result<Tally, Error>>>,
    attempt: Attempt,
) -> Result<(), Error> {
    let rx = shared.desk.record(attempt);
    if let Some(previous) = unconfirmed.replace(rx) {
        let t = previous.await.map_err(|_| gone())??;
        shared.tally(&t);
    }
    Ok(())
}
