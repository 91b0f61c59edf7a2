//! Relay connections kept open between drain passes for `limits.max_idle_secs`, so the next wake
//! reuses one instead of connecting (and logging in) again.
//!
//! A kept connection is checked (NOOP) before it carries mail, counts toward `batch_size` with
//! the messages it already carried, and is closed (QUIT) when its idle time is up. The pool only
//! holds connections no worker holds, and a worker opens a new one only when the pool is empty,
//! so kept and busy connections together never exceed `limits.connection_limit`.

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
}

/// The idle connections of one agent.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<Vec<Kept>>,
    /// What the kept connections were opened with: a change of server or login empties the pool.
    key: Mutex<String>,
}

/// What makes two connections interchangeable.
fn key_of(profile: &Profile) -> String {
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

    /// Readies the pool for a pass with `profile`: connections opened with other settings are
    /// closed first.
    pub async fn begin(&self, profile: &Profile) {
        let key = key_of(profile);
        let stale = {
            let mut k = self.key.lock().unwrap_or_else(|p| p.into_inner());
            if *k == key {
                return;
            }
            *k = key;
            std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()))
        };
        for kept in stale {
            kept.conn.quit().await;
        }
    }

    pub(crate) fn take(&self) -> Option<Kept> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    pub(crate) fn put(&self, conn: Connection, used: usize) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(Kept { conn, used, since: Instant::now() });
    }

    /// How many connections rest in the pool.
    pub fn len(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the longest-resting connection's idle time is up; `None` with nothing kept (an idle
    /// agent without connections needs no timer).
    pub fn next_expiry(&self, max_idle: Duration) -> Option<Instant> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|k| k.since + max_idle).min()
    }

    /// Closes the connections idle for `max_idle` or longer.
    pub async fn close_expired(&self, max_idle: Duration) {
        let now = Instant::now();
        let expired: Vec<Kept> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let (old, keep) = std::mem::take(&mut *idle).into_iter().partition(|k| now.duration_since(k.since) >= max_idle);
            *idle = keep;
            old
        };
        for kept in expired {
            kept.conn.quit().await;
        }
    }

    /// Closes every kept connection (QUIT), as the agent stops.
    pub async fn close_all(&self) {
        let all = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for kept in all {
            kept.conn.quit().await;
        }
    }
}
