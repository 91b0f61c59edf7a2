//! Relay connections kept open between drain passes for `limits.max_idle_secs`, so the next wake
//! reuses one instead of connecting (and logging in) again.
//!
//! A kept connection is checked (NOOP) before it carries mail, counts toward `batch_size` with
//! the messages it already carried, and is closed (QUIT) when its idle time is up (each kept one
//! with the idle time of the profile it was opened for).
//!
//! Profiles: each kept connection carries the key of what it was opened with (server, security,
//! login: [`key_of`]); a pass for one profile takes only connections with its key and leaves the
//! others resting, so passes that alternate between profiles don't reconnect each time. Profiles
//! that share a server and login share connections.
//!
//! The cap: `limits.connection_limit` (of the profile being delivered) bounds every connection
//! the agent has open, busy and kept, of all profiles together. A worker opens a new connection
//! only when the pool holds none with its key, and first closes the oldest kept connection of
//! another profile while busy and kept ones would otherwise reach the limit
//! ([`Pool::make_room`]). Passes deliver one profile at a time, so busy connections are always
//! one profile's.

use super::relay::Connection;
use crate::settings::Profile;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A connection resting between messages.
pub(crate) struct Kept {
    pub conn: Connection,
    /// Messages it carried so far (a fresh connection after `batch_size`).
    pub used: usize,
    /// When it went idle.
    pub since: Instant,
    /// When its idle time is up.
    pub until: Instant,
    /// What it was opened with ([`key_of`]).
    pub key: String,
}

/// The idle connections of one agent.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<Vec<Kept>>,
}

/// What makes two connections interchangeable.
pub fn key_of(profile: &Profile) -> String {
    let r = &profile.relay;
    format!(
        "{}|{}|{:?}|{}|{:?}|{}|{:?}|{}|{:?}",
        r.host.trim(),
        r.port,
        r.security,
        r.verify_certificates,
        r.ca_file,
        profile.ehlo_name,
        profile.auth.method,
        profile.auth.username,
        profile.auth.mechanism
    )
}

impl Pool {
    pub fn new() -> Pool {
        Pool::default()
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Kept>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A kept connection opened with `key`, the most recently rested first.
    pub(crate) fn take(&self, key: &str) -> Option<Kept> {
        let mut idle = self.idle();
        let at = idle.iter().rposition(|k| k.key == key)?;
        Some(idle.remove(at))
    }

    pub(crate) fn put(&self, conn: Connection, used: usize, key: String, max_idle: Duration) {
        let since = Instant::now();
        self.idle().push(Kept { conn, used, since, until: since + max_idle, key });
    }

    /// Closes kept connections of other keys than `key`, the longest resting first, until `busy`
    /// plus those kept are under `limit` (or none of another key is left).
    pub(crate) async fn make_room(&self, key: &str, busy: usize, limit: usize) {
        loop {
            let evicted = {
                let mut idle = self.idle();
                if busy + idle.len() < limit {
                    return;
                }
                let Some(at) = idle.iter().enumerate().filter(|(_, k)| k.key != key).min_by_key(|(_, k)| k.since).map(|(i, _)| i) else {
                    return;
                };
                idle.remove(at)
            };
            evicted.conn.quit().await;
        }
    }

    /// How many connections rest in the pool.
    pub fn len(&self) -> usize {
        self.idle().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the first kept connection's idle time is up; `None` with nothing kept (an idle agent
    /// without connections needs no timer).
    pub fn next_expiry(&self) -> Option<Instant> {
        self.idle().iter().map(|k| k.until).min()
    }

    /// Closes the connections whose idle time is up.
    pub async fn close_expired(&self) {
        let now = Instant::now();
        let expired: Vec<Kept> = {
            let mut idle = self.idle();
            let (old, keep) = std::mem::take(&mut *idle).into_iter().partition(|k| k.until <= now);
            *idle = keep;
            old
        };
        for kept in expired {
            kept.conn.quit().await;
        }
    }

    /// Closes every kept connection (QUIT), as the agent stops.
    pub async fn close_all(&self) {
        let all = std::mem::take(&mut *self.idle());
        for kept in all {
            kept.conn.quit().await;
        }
    }
}
