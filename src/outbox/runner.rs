//! The delivery agent's life: take the one-agent lock, listen for wakes, and run drain passes:
//! once (`deliver --once`: what is due, then exit) or until stopped (`deliver --daemon`: sleep
//! until the next deferred recipient is due or a wake arrives). Settings are read again before
//! each pass, so a change of mode or server applies without a restart. Connections that finished
//! their work are kept in a [`Pool`] for `limits.max_idle_secs` and closed by a timer that runs
//! only while one is kept.
//!
//! The window's agent (`Kind::Window`) defers to a running `deliver --daemon`: it wakes it, then
//! waits for the agent lock on a thread of its own (a blocking `flock`, no timer) and takes over
//! delivery as soon as the daemon exits, however it ends. The listener runs beside a daemon or the
//! window when the settings turn it on (and the admin policy doesn't turn it off), and is
//! restarted when its settings, a profile's login or the policy's say change.
//!
//! Profiles (issue 10): a pass delivers each profile with mail waiting in turn, each with its own
//! effective profile (`policy::State::effective`: Global, the profile's overrides, the policy's
//! locks) and its own password, claiming only its own messages. A profile that can't be used
//! (deleted, invalid, breaking the policy, in Direct mode) leaves its mail queued with the reason
//! noted on it and in the event log, and the other profiles go on. An invalid policy file stops
//! every profile: the reason is noted on the queued mail, an error event is recorded (at most once
//! per [`journal::REPEAT_EVERY`]), and nothing is sent or bounced until it is fixed. Mail queued
//! before profiles existed goes with the default profile of the day.
//!
//! Stopping: cancelling the token passed to [`run`] (SIGTERM, SIGINT, the window closing) stops
//! claiming; in-flight messages finish or go back to queued, connections are closed with QUIT
//! and the lock is released, all within the step timeout ([`deliver::Stop`]).
//!
//! Retention: the agent prunes the mail log and the event log when it starts and once a day
//! ([`crate::journal::retention`]).

use super::agent::{self, AgentLock, Kind};
use super::bounce::Budget;
use super::deliver::{self, Bounces, Stop, Summary};
use super::pool::Pool;
use super::store::Store;
use super::{now_millis, Error};
use crate::direct::dkim::{self, Signer};
use crate::journal::events as journal;
use crate::policy;
use crate::secrets::Password;
use crate::settings::{self, profiles, AuthMethod, Mode, Profile};
use crate::smtp::CancelToken;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What became of a `deliver` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Another agent (a daemon or the window) runs; it was woken instead. The window's agent
    /// returns this only when it was closed while waiting to take over.
    WokeRunningAgent,
    /// Passes ran; the totals.
    Delivered(Summary),
}

/// Something a pass wants the user to know (sending off, settings unusable).
pub type Notice = String;

/// A recipient that failed for good (a 5xx, or deferred past the maximum age) in a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: i64,
    pub recipient: String,
    /// The server's reply, or why it gave up.
    pub reply: String,
}

/// What the agent tells whoever hosts it (the CLI prints, the window shows notifications). A
/// closure `|text: &str| …` is a host that only takes notices.
pub trait Events: Send {
    /// Something the user should know (sending off, settings unusable, the listener's address).
    fn notice(&mut self, text: &str);
    /// Recipients that failed permanently in the pass just finished (at most [`FAILURES_TOLD`]
    /// of them; `total` counts all).
    fn failed(&mut self, failures: &[Failure], total: usize) {
        let _ = (failures, total);
    }
}

impl<F: FnMut(&str) + Send> Events for F {
    fn notice(&mut self, text: &str) {
        self(text)
    }
}

/// Most failures handed to [`Events::failed`] per pass: enough to summarise, bounded for a flood.
pub const FAILURES_TOLD: usize = 20;

/// One line about permanent failures: "2 messages failed: bob@x: 550 no such user".
pub fn describe_failures(failures: &[Failure], total: usize) -> String {
    let mut ids: Vec<i64> = failures.iter().map(|f| f.message).collect();
    ids.sort_unstable();
    ids.dedup();
    let messages = if total > failures.len() { ids.len().max(1) + (total - failures.len()) } else { ids.len() };
    let what = if messages == 1 { "1 message failed".to_string() } else { format!("{messages} messages failed") };
    let Some(first) = failures.first() else { return what };
    let others = total.saturating_sub(1);
    let more = match others {
        0 => String::new(),
        1 => " (and 1 more recipient)".to_string(),
        n => format!(" (and {n} more recipients)"),
    };
    format!("{what}: {}: {}{more}", first.recipient, first.reply)
}

/// Why nothing is delivered while sending is off.
pub const HELD_WHILE_OFF: &str = "held while sending is off (set mode to relay to send)";

/// Longest sleep of a daemon with nothing due, so an edited settings file is seen eventually
/// even without a wake.
const IDLE_RECHECK: Duration = Duration::from_secs(300);

/// Runs the agent for the outbox at `path` (its directory holds the lock and the wake socket).
pub async fn run(path: &Path, kind: Kind, cancel: &CancelToken, events: &mut dyn Events) -> Result<Finished, Error> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let io = |e: std::io::Error| Error::Storage { path: dir.join(agent::LOCK_FILE).display().to_string(), message: e.to_string() };
    let _lock = match AgentLock::try_take(&dir, kind).map_err(io)? {
        Ok(lock) => lock,
        Err(busy) => {
            if kind == Kind::Daemon {
                return Err(Error::Usage("another delivery agent is running for this outbox (deliver --daemon or the window)".into()));
            }
            let woke = busy.holder != Some(Kind::Once) && agent::poke(&dir);
            if woke && kind == Kind::Once {
                return Ok(Finished::WokeRunningAgent);
            }
            if woke {
                events.notice("another delivery agent (deliver --daemon) runs; the window takes over delivery when it stops");
            }
            // A one-shot run finishing, or (the window) a daemon that may stop any time: wait for
            // the lock, then look again ourselves.
            match wait_for_lock(&dir, kind, cancel).await.map_err(io)? {
                Some(lock) => lock,
                None => return Ok(Finished::WokeRunningAgent),
            }
        }
    };
    let socket = agent::WakeSocket::bind(&dir).map_err(io)?;
    let (store, requeued) = Store::open_for_delivery(path)?;
    store.relax_sync_for_delivery()?;
    if requeued > 0 {
        events.notice(&format!("{requeued} recipient(s) left 'sending' by an interrupted run are queued again"));
    }
    if kind != Kind::Once {
        journal::record_or_log(&store, &journal::agent_started(kind));
    }
    // The listener runs beside a daemon or the window when the settings turn it on; it stops
    // with the agent (dropped at the end of this function).
    let mut listener = if kind == Kind::Once { None } else { Some(HostedListener::start(path, cancel, events).await) };
    // Retention: when the agent starts, then about once a day (a timer in the wait below).
    let store = prune_logs(store).await;
    let mut next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
    let mut store = Some(store);
    let mut total = Summary::default();
    let pool = Arc::new(Pool::new());
    let stop = Stop { stop: cancel.clone(), abort: CancelToken::new() };
    let watchdog = tokio::spawn(abort_after_grace(stop.clone()));
    let result = async {
        loop {
            let (s, summary, end) = pass(store.take().expect("the store"), &stop, &pool, events).await?;
            store = Some(s);
            add(&mut total, &summary);
            if cancel.is_cancelled() {
                break;
            }
            match kind {
                Kind::Once => {
                    // A bounce written at the end of the pass is due now too.
                    if (socket.drain() || summary.bounces > 0) && end.sending {
                        continue;
                    }
                    break;
                }
                Kind::Daemon | Kind::Window => {
                    socket.drain();
                    let next = end.next_due;
                    let wait = match next {
                        Some(at) => Duration::from_millis((at - now_millis()).clamp(0, IDLE_RECHECK.as_millis() as i64) as u64),
                        None => IDLE_RECHECK,
                    };
                    if wait.is_zero() {
                        continue;
                    }
                    // The window wakes its agent on every settings change: idle, it needs no timer.
                    let idle = kind == Kind::Window && next.is_none();
                    let until = tokio::time::Instant::now() + wait;
                    // Wait for a wake or the next due time; meanwhile close kept connections as
                    // their idle time runs out (no timer when none is kept).
                    loop {
                        let expiry = pool.next_expiry();
                        tokio::select! {
                            _ = socket.woken() => break,
                            _ = tokio::time::sleep_until(next_prune) => break,
                            _ = tokio::time::sleep_until(until), if !idle => break,
                            _ = async { tokio::time::sleep_until(expiry.expect("only polled with a kept connection")).await }, if expiry.is_some() => {
                                pool.close_expired().await;
                            }
                            _ = cancel.cancelled() => break,
                        }
                    }
                    if cancel.is_cancelled() {
                        break;
                    }
                    if tokio::time::Instant::now() >= next_prune {
                        store = Some(prune_logs(store.take().expect("the store")).await);
                        next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
                    }
                    // Every settings change wakes the window's agent (a daemon sees one on a wake
                    // or its idle recheck): a changed port or on/off applies now.
                    if let Some(l) = listener.as_mut() {
                        l.refresh(path, cancel, events).await;
                    }
                }
            }
        }
        Ok::<_, Error>(())
    }
    .await;
    pool.close_all().await;
    watchdog.abort();
    if let Some(l) = listener.take() {
        l.stop().await;
    }
    match &result {
        // The pass that failed recorded why; an agent that said it started says it is gone.
        Err(e) if kind != Kind::Once => journal::record_at(path, &journal::agent_failed(kind, &e.to_string())),
        _ => {}
    }
    result?;
    // A wake that raced with closing: its message is committed, so one more look.
    if socket.close() && !cancel.is_cancelled() {
        let (_, summary, _) = pass(store.take().expect("the store"), &stop, &pool, events).await?;
        add(&mut total, &summary);
        pool.close_all().await;
    }
    // A one-shot run per sendmail call would flood the log: only one that did something is kept.
    if kind != Kind::Once || total.sent + total.deferred + total.failed > 0 {
        let e = journal::agent_stopped(kind, &total);
        match store.as_ref() {
            Some(s) => journal::record_or_log(s, &e),
            None => journal::record_at(path, &e),
        }
    }
    Ok(Finished::Delivered(total))
}

/// How often a running agent prunes the logs past their retention.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Deletes mail-log and event rows older than `logs.retention_days`, on a blocking thread (a
/// first prune of a large log takes a while; each batch is its own short transaction).
async fn prune_logs(store: Store) -> Store {
    let days =
        settings::load().map(|l| l.settings.profile.logs.retention_days).unwrap_or_else(|_| settings::Logs::default().retention_days);
    let task = tokio::task::spawn_blocking(move || {
        let r = crate::journal::retention::prune(&store, days.max(1));
        (store, r)
    });
    let (store, r) = task.await.expect("pruning does not panic");
    match r {
        Ok(p) if p.mail_log + p.events > 0 => {
            tracing::info!("pruned {} mail-log and {} event rows older than {days} days", p.mail_log, p.events)
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("the logs could not be pruned: {e}"),
    }
    store
}

/// Waits for the agent lock on a thread of its own (a blocking `flock`: the kernel wakes it when
/// the holder exits, even by kill -9; no timer). `None` when `cancel` comes first: the thread is
/// left waiting and lets the lock go at once if it ever gets it.
async fn wait_for_lock(dir: &Path, kind: Kind, cancel: &CancelToken) -> std::io::Result<Option<AgentLock>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let d = dir.to_path_buf();
    std::thread::Builder::new().name("agent-lock-wait".into()).spawn(move || {
        // A closed receiver (cancelled meanwhile) drops the lock again.
        let _ = tx.send(AgentLock::take(&d, kind));
    })?;
    tokio::select! {
        taken = rx => taken.map_err(|_| std::io::Error::other("the lock wait stopped"))?.map(Some),
        _ = cancel.cancelled() => Ok(None),
    }
}

/// What the hosted listener is started from: Global's listener settings, every profile's login,
/// and whether the admin policy turns it off. A change of any restarts it.
type ListenerSource = (crate::settings::Listener, Vec<(String, String)>, bool);

fn listener_source() -> Option<ListenerSource> {
    let settings = settings::load().ok()?.settings;
    let off = policy::load().policy().is_some_and(|p| p.disable_listener);
    Some((settings.profile.listener.clone(), profiles::listener_logins(&settings), off))
}

/// The listener a daemon or the window hosts, with the settings it was started with.
struct HostedListener {
    running: Option<super::listener::Running>,
    settings: Option<ListenerSource>,
}

impl HostedListener {
    async fn start(path: &Path, cancel: &CancelToken, events: &mut dyn Events) -> HostedListener {
        let settings = listener_source();
        let running = super::listener::start_for_agent(path, cancel, &mut |t: &str| events.notice(t)).await;
        HostedListener { running, settings }
    }

    /// Restarts the listener when its settings changed since it was started (or turns it off).
    async fn refresh(&mut self, path: &Path, cancel: &CancelToken, events: &mut dyn Events) {
        let now = listener_source();
        if now.is_none() || now == self.settings {
            return;
        }
        if let Some(r) = self.running.take() {
            // Its port must be free before the new one binds it.
            r.stop().await;
            events.notice("the SMTP listener's settings changed: restarting it");
        }
        *self = HostedListener::start(path, cancel, events).await;
    }

    async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// Fires `abort` a little under a step timeout after `stop`, so a stopped agent is gone within
/// the step timeout even when a server hangs.
async fn abort_after_grace(stop: Stop) {
    stop.stop.cancelled().await;
    let step = settings::load().map(|l| l.settings.profile.limits.step_timeout()).unwrap_or(Duration::from_secs(30));
    let grace = step.saturating_sub(Duration::from_secs(1)).max(Duration::from_millis(500));
    tokio::time::sleep(grace).await;
    stop.abort.cancel();
}

fn add(total: &mut Summary, s: &Summary) {
    total.sent += s.sent;
    total.deferred += s.deferred;
    total.failed += s.failed;
    total.bounces += s.bounces;
    total.put_back += s.put_back;
    total.connect_failures += s.connect_failures;
    total.peak_connections = total.peak_connections.max(s.peak_connections);
    if total.connect_error.is_none() {
        total.connect_error.clone_from(&s.connect_error);
    }
}

/// How a pass ended, for the agent's wait.
#[derive(Debug, Clone, Copy, Default)]
struct PassEnd {
    /// Some profile was delivered over a relay (not off, not blocked).
    sending: bool,
    /// When the next recipient of a profile that can be delivered falls due: mail of a blocked
    /// profile (off, unusable) waits for a wake or the idle recheck, never a busy loop.
    next_due: Option<i64>,
}

/// One pass with the settings and the admin policy as they are now: each profile with mail
/// waiting is delivered with its own effective profile, one after the other. A profile that
/// can't be used leaves its mail queued with the reason and doesn't stop the others; an invalid
/// policy stops them all.
async fn pass(mut store: Store, stop: &Stop, pool: &Arc<Pool>, events: &mut dyn Events) -> Result<(Store, Summary, PassEnd), Error> {
    let settings = match settings::load() {
        Ok(loaded) => loaded.settings,
        Err(e) => {
            let text = format!("the settings can't be read ({e}); nothing was sent");
            journal::record_unless_repeated(&store, &journal::app_problem(journal::Severity::Warning, capital(&text)));
            events.notice(&text);
            return Ok((store, Summary::default(), PassEnd::default()));
        }
    };
    let policy = policy::load();
    if let Err(e) = policy.ready() {
        // Never bounced: the mail is fine, the machine's policy is not.
        let text = format!("nothing was sent: {e}; the mail waits until the policy is fixed");
        store.note_queued(&capital(&text))?;
        journal::record_unless_repeated(&store, &journal::app_problem(journal::Severity::Error, capital(&text)));
        events.notice(&text);
        pool.close_all().await;
        return Ok((store, Summary::default(), PassEnd::default()));
    }
    let default = profiles::default_name(&settings).to_string();
    let mut total = Summary::default();
    let mut end = PassEnd::default();
    for queued_as in store.waiting_profiles()? {
        if stop.stop.is_cancelled() {
            break;
        }
        // Only deferred mail, not due yet: nothing to do for it now (no keyring read, no drain).
        if let Some(at) = store.next_due_of(queued_as.as_deref())?.filter(|at| *at > now_millis()) {
            end.next_due = Some(end.next_due.map_or(at, |n| n.min(at)));
            continue;
        }
        let name = queued_as.clone().unwrap_or_else(|| default.clone());
        let whose = deliver::Whose { queued_as, name };
        let (s, summary, next) = pass_profile(store, &settings, &policy, whose, stop, pool, events).await?;
        store = s;
        add(&mut total, &summary);
        if let Some(next) = next {
            end.sending = true;
            end.next_due = match (end.next_due, next) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    Ok((store, total, end))
}

/// One profile's part of a pass. `Some(next due)` when its mail went to its relay; `None` when
/// it is off or can't be used (its queued mail notes why).
async fn pass_profile(
    store: Store,
    settings: &settings::Settings,
    policy: &policy::State,
    whose: deliver::Whose,
    stop: &Stop,
    pool: &Arc<Pool>,
    events: &mut dyn Events,
) -> Result<(Store, Summary, Option<Option<i64>>), Error> {
    let queued_as = whose.queued_as.clone();
    let of = if settings.profiles.is_empty() { String::new() } else { format!(" (profile {})", whose.name) };
    let blocked = |store: Store, why: String| -> Result<(Store, Summary, Option<Option<i64>>), Error> {
        store.note_queued_of(queued_as.as_deref(), &why)?;
        Ok((store, Summary::default(), None))
    };
    let profile = match policy.effective(settings, Some(&whose.name)) {
        Ok(p) => p,
        Err(e) => {
            let text = format!("the profile {} can't be used: {e}; its mail waits", whose.name);
            journal::record_unless_repeated(&store, &journal::app_problem(journal::Severity::Warning, format!("Not sent: {text}")));
            events.notice(&format!("not sent: {text}"));
            return blocked(store, format!("Not sent: {text}"));
        }
    };
    match profile.mode {
        Mode::Off => {
            events.notice(&format!("sending is off{of}: its mail is {HELD_WHILE_OFF}"));
            return Ok((store, Summary::default(), None));
        }
        Mode::Direct | Mode::Relay => {}
    }
    if let Err(r) = if profile.mode == Mode::Relay { crate::smtp::check_ready(&profile, None) } else { Ok(()) } {
        let problem = journal::app_problem(journal::Severity::Warning, format!("Nothing was sent{of}: {}", r.message));
        journal::record_unless_repeated(&store, &problem);
        events.notice(&format!("nothing was sent{of}: {}", r.message));
        return Ok((store, Summary::default(), None));
    }
    let bounces = Bounces {
        budget: if profile.bounces.send {
            let recent = store.bounces_last_hour()?;
            let host = crate::machine::host_name();
            let from = profile.sender.from_address.trim();
            let from = if from.is_empty() { format!("MAILER-DAEMON@{host}") } else { from.to_string() };
            Some(Budget::new(profile.bounces.max_per_hour, &from, &host, recent))
        } else {
            None
        },
    };
    // Signing is what the user asked for: without the key, mail waits (the reason on it and in
    // the event log) rather than going out unsigned where the domain's DMARC may want it signed.
    let signer = match signer(settings, &whose.name, &profile).await {
        Ok(s) => s,
        Err(why) => {
            let text = format!("Not sent{of}: {why}");
            journal::record_unless_repeated(&store, &journal::app_problem(journal::Severity::Warning, text.clone()));
            events.notice(&format!("not sent{of}: {why}"));
            return blocked(store, text);
        }
    };
    let started = now_millis();
    let (store, summary, error) = if profile.mode == Mode::Direct {
        super::direct::drain(store, whose, &profile, signer, bounces.budget, stop, pool).await
    } else {
        let password = match password(settings, &whose.name, &profile).await {
            Ok(p) => p,
            Err(why) => {
                // The login step defers the mail with the reason; the log says why once in a while.
                journal::record_unless_repeated(&store, &journal::app_problem(journal::Severity::Warning, why));
                None
            }
        };
        deliver::drain(store, whose, &profile, password, signer, bounces, stop, pool).await
    };
    if summary.failed > 0 {
        match failed_since(&store, started) {
            Ok(failures) if !failures.is_empty() => {
                journal::record_or_log(&store, &journal::delivery_failed(&failures, summary.failed));
                events.failed(&failures, summary.failed)
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("could not read the failures of the pass: {e}"),
        }
    }
    if summary.put_back > 0 {
        events.notice(&format!("stopped: {} message(s) not sent yet are queued again", summary.put_back));
    }
    match error {
        Some(e) => {
            journal::record_unless_repeated(&store, &journal::app_problem(journal::Severity::Error, format!("Delivery failed: {e}")));
            Err(e)
        }
        None => {
            let next = store.next_due_of(queued_as.as_deref())?;
            Ok((store, summary, Some(next)))
        }
    }
}

/// The recipients that failed at or after `since` (this pass's), newest first, at most [`FAILURES_TOLD`].
fn failed_since(store: &Store, since: i64) -> Result<Vec<Failure>, Error> {
    let mut stmt = store
        .conn()
        .prepare_cached(
            "SELECT message, address, coalesce(last_reply, '') FROM recipient
             WHERE state = 'failed' AND updated_at >= ?1 ORDER BY updated_at DESC, message DESC LIMIT ?2",
        )
        .map_err(|e| store.storage(e))?;
    let rows = stmt
        .query_map(rusqlite::params![since, FAILURES_TOLD as i64], |r| {
            Ok(Failure { message: r.get(0)?, recipient: r.get(1)?, reply: r.get(2)? })
        })
        .map_err(|e| store.storage(e))?;
    rows.collect::<rusqlite::Result<_>>().map_err(|e| store.storage(e))
}

/// The password profile `name` logs in with (its own keyring entry, or Global's while it logs in
/// as Global does: [`crate::account::password_for`]), read on a blocking thread (the keyring's
/// D-Bus calls) within the step timeout. Missing or unreadable: why, for the event log (the
/// login step defers the mail with the reason).
async fn password(settings: &settings::Settings, name: &str, profile: &Profile) -> Result<Option<Password>, String> {
    if profile.auth.method == AuthMethod::OAuth2 {
        return crate::oauth::token_for_delivery(settings, name, profile).await.map(Some);
    }
    if profile.auth.method != AuthMethod::Password {
        return Ok(None);
    }
    let (s, n) = (settings.clone(), name.to_string());
    let read = tokio::task::spawn_blocking(move || crate::account::password_for(&s, Some(&n)));
    let of = if settings.profiles.is_empty() { String::new() } else { format!(" of profile {name}") };
    match tokio::time::timeout(profile.limits.step_timeout(), read).await {
        Ok(Ok(Ok(Some(p)))) => Ok(Some(p)),
        Ok(Ok(Ok(None))) => {
            Err(format!("No password is saved for the server's login{of}; mail waits until one is (smtp-desk password set)"))
        }
        Ok(Ok(Err(e))) => {
            Err(format!("The password{of} could not be read from the keyring during delivery: {}; mail waits until it can be", e.message))
        }
        Ok(Err(e)) => Err(format!("Reading the password stopped: {e}")),
        Err(_) => Err("The keyring did not answer in time during delivery; mail waits until it does".into()),
    }
}

/// Profile `name`'s DKIM signer when it signs (`dkim.enabled`), its key read from the keyring
/// once for the pass on a blocking thread within the step timeout. Missing or unreadable: why,
/// with the fix, for the queue and the event log.
async fn signer(settings: &settings::Settings, name: &str, profile: &Profile) -> Result<Option<Arc<Signer>>, String> {
    if !profile.dkim.enabled {
        return Ok(None);
    }
    let (s, n, p) = (settings.clone(), name.to_string(), profile.clone());
    let read = tokio::task::spawn_blocking(move || dkim::signer_for(&s, &n, &p));
    match tokio::time::timeout(profile.limits.step_timeout(), read).await {
        Ok(Ok(Ok(signer))) => Ok(signer.map(Arc::new)),
        Ok(Ok(Err(e))) => {
            let r = crate::error::ErrorReport::from(&e);
            Err(match r.hint {
                Some(h) => format!("DKIM signing is on but {}; mail waits. {h}", r.message),
                None => format!("DKIM signing is on but {}; mail waits", r.message),
            })
        }
        Ok(Err(e)) => Err(format!("reading the DKIM key stopped: {e}")),
        Err(_) => Err("the keyring did not answer in time for the DKIM key; mail waits until it does".into()),
    }
}

/// `text` with a capital first letter, as the event log's summaries read.
fn capital(text: &str) -> String {
    let mut c = text.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
