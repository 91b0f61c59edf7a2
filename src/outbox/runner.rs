//! The delivery agent's life: take the one-agent lock, listen for wakes, and run drain passes:
//! once (`deliver --once`: what is due, then exit) or until stopped (`deliver --daemon`: sleep
//! until the next deferred recipient is due or a wake arrives). Settings are read again before
//! each pass, so a change of mode or server applies without a restart. Connections that finished
//! their work are kept in a [`Pool`] for `limits.max_idle_secs` and closed by a timer that runs
//! only while one is kept.
//!
//! Stopping: cancelling the token passed to [`run`] (SIGTERM, SIGINT, the window closing) stops
//! claiming; in-flight messages finish or go back to queued, connections are closed with QUIT
//! and the lock is released, all within the step timeout ([`deliver::Stop`]).

use super::agent::{self, AgentLock, Kind};
use super::bounce::Budget;
use super::deliver::{self, Bounces, Stop, Summary};
use super::pool::Pool;
use super::store::Store;
use super::{now_millis, Error};
use crate::secrets::{self, Password, DEFAULT_PROFILE};
use crate::settings::{self, AuthMethod, Mode, Profile};
use crate::smtp::CancelToken;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What became of a `deliver` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Another agent (a daemon or the window) runs; it was woken instead.
    WokeRunningAgent,
    /// Passes ran; the totals.
    Delivered(Summary),
}

/// Something a pass wants the user to know (sending off, settings unusable).
pub type Notice = String;

/// Why nothing is delivered while sending is off.
pub const HELD_WHILE_OFF: &str = "held while sending is off (set mode to relay to send)";
/// Why nothing is delivered in Direct mode yet.
pub const DIRECT_NOT_YET: &str =
    "not sent: direct delivery (to the recipients' mail servers) is not available yet; choose Relay mode and a server";

/// Longest sleep of a daemon with nothing due, so an edited settings file is seen eventually
/// even without a wake.
const IDLE_RECHECK: Duration = Duration::from_secs(300);

/// Runs the agent for the outbox at `path` (its directory holds the lock and the wake socket).
pub async fn run(path: &Path, kind: Kind, cancel: &CancelToken, notice: &mut (dyn FnMut(&str) + Send)) -> Result<Finished, Error> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let io = |e: std::io::Error| Error::Storage { path: dir.join(agent::LOCK_FILE).display().to_string(), message: e.to_string() };
    let _lock = match AgentLock::try_take(&dir, kind).map_err(io)? {
        Ok(lock) => lock,
        Err(busy) => {
            if kind == Kind::Daemon {
                return Err(Error::Usage("another delivery agent is running for this outbox (deliver --daemon or the window)".into()));
            }
            if busy.holder != Some(Kind::Once) && agent::poke(&dir) {
                return Ok(Finished::WokeRunningAgent);
            }
            // Another one-shot run is finishing: wait for it, then look again ourselves.
            let d = dir.clone();
            tokio::task::spawn_blocking(move || AgentLock::take(&d, kind))
                .await
                .map_err(|e| io(std::io::Error::other(e.to_string())))?
                .map_err(io)?
        }
    };
    let socket = agent::WakeSocket::bind(&dir).map_err(io)?;
    let (store, requeued) = Store::open_for_delivery(path)?;
    store.relax_sync_for_delivery()?;
    if requeued > 0 {
        notice(&format!("{requeued} recipient(s) left 'sending' by an interrupted run are queued again"));
    }
    // The listener runs beside a daemon when the settings turn it on; it stops with the daemon.
    let _listener = if kind == Kind::Daemon { super::listener::start_for_agent(path, cancel, notice).await } else { None };
    let mut store = Some(store);
    let mut total = Summary::default();
    let pool = Arc::new(Pool::new());
    let stop = Stop { stop: cancel.clone(), abort: CancelToken::new() };
    let watchdog = tokio::spawn(abort_after_grace(stop.clone()));
    let result = async {
        loop {
            let (s, summary, mode, max_idle) = pass(store.take().expect("the store"), &stop, &pool, notice).await?;
            store = Some(s);
            add(&mut total, &summary);
            if cancel.is_cancelled() {
                break;
            }
            match kind {
                Kind::Once => {
                    // A bounce written at the end of the pass is due now too.
                    if (socket.drain() || summary.bounces > 0) && mode == Mode::Relay {
                        continue;
                    }
                    break;
                }
                Kind::Daemon | Kind::Window => {
                    socket.drain();
                    let next = if mode == Mode::Relay { store.as_ref().expect("the store").next_due()? } else { None };
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
                        let expiry = pool.next_expiry(max_idle);
                        tokio::select! {
                            _ = socket.woken() => break,
                            _ = tokio::time::sleep_until(until), if !idle => break,
                            _ = async { tokio::time::sleep_until(expiry.expect("only polled with a kept connection")).await }, if expiry.is_some() => {
                                pool.close_expired(max_idle).await;
                            }
                            _ = cancel.cancelled() => break,
                        }
                    }
                    if cancel.is_cancelled() {
                        break;
                    }
                }
            }
        }
        Ok::<_, Error>(())
    }
    .await;
    pool.close_all().await;
    watchdog.abort();
    result?;
    // A wake that raced with closing: its message is committed, so one more look.
    if socket.close() && !cancel.is_cancelled() {
        let (_, summary, _, _) = pass(store.take().expect("the store"), &stop, &pool, notice).await?;
        add(&mut total, &summary);
        pool.close_all().await;
    }
    Ok(Finished::Delivered(total))
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

/// One pass with the settings as they are now; also gives the idle time to keep connections.
async fn pass(
    store: Store,
    stop: &Stop,
    pool: &Arc<Pool>,
    notice: &mut (dyn FnMut(&str) + Send),
) -> Result<(Store, Summary, Mode, Duration), Error> {
    let profile = match settings::load() {
        Ok(loaded) => loaded.settings.profile,
        Err(e) => {
            notice(&format!("the settings can't be read ({e}); nothing was sent"));
            return Ok((store, Summary::default(), Mode::Off, Duration::ZERO));
        }
    };
    let max_idle = Duration::from_secs(u64::from(profile.limits.max_idle_secs));
    match profile.mode {
        Mode::Off => {
            let waiting = store.counts()?;
            if waiting.queued + waiting.deferred > 0 {
                notice(&format!("sending is off: {} recipient(s) {HELD_WHILE_OFF}", waiting.queued + waiting.deferred));
            }
            pool.close_all().await;
            return Ok((store, Summary::default(), Mode::Off, max_idle));
        }
        Mode::Direct => {
            store.note_queued(DIRECT_NOT_YET)?;
            notice(DIRECT_NOT_YET);
            pool.close_all().await;
            return Ok((store, Summary::default(), Mode::Direct, max_idle));
        }
        Mode::Relay => {}
    }
    if let Err(r) = crate::smtp::check_ready(&profile, None) {
        notice(&format!("nothing was sent: {}", r.message));
        return Ok((store, Summary::default(), Mode::Off, max_idle));
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
    let password = password(&profile).await;
    let (store, summary, error) = deliver::drain(store, &profile, password, bounces, stop, pool).await;
    if summary.put_back > 0 {
        notice(&format!("stopped: {} message(s) not sent yet are queued again", summary.put_back));
    }
    match error {
        Some(e) => Err(e),
        None => Ok((store, summary, Mode::Relay, max_idle)),
    }
}

/// The saved password, read on a blocking thread (the keyring's D-Bus calls) within the timeout.
/// Missing or unreadable: `None`, and the login step defers the mail with the reason.
async fn password(profile: &Profile) -> Option<Password> {
    if profile.auth.method != AuthMethod::Password {
        return None;
    }
    let read = tokio::task::spawn_blocking(|| secrets::get(DEFAULT_PROFILE));
    match tokio::time::timeout(profile.limits.step_timeout(), read).await {
        Ok(Ok(Ok(p))) => p,
        _ => None,
    }
}
