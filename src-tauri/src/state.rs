//! What the window process remembers between commands: unsaved edits, the settings file's last
//! known content (to tell our own writes from the CLI's), and running validations and test emails.

use smtp_desk::smtp::CancelToken;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

pub struct AppState {
    pub started: Instant,
    dirty: AtomicBool,
    /// The settings file's bytes as this window last read or wrote them.
    known_file: Mutex<Option<Vec<u8>>>,
    next_run: AtomicU64,
    /// The cancel token of each validation or test email still running, by run id.
    runs: Mutex<HashMap<u64, CancelToken>>,
}

impl AppState {
    pub fn new(started: Instant) -> Self {
        Self { started, dirty: AtomicBool::new(false), known_file: Mutex::new(None), next_run: AtomicU64::new(1), runs: Mutex::default() }
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::SeqCst)
    }

    pub fn set_dirty(&self, dirty: bool) {
        self.dirty.store(dirty, Ordering::SeqCst)
    }

    /// Records the file's current content; returns true if it differs from what we knew.
    pub fn note_file(&self, content: Option<Vec<u8>>) -> bool {
        let mut known = self.known_file.lock().unwrap_or_else(|p| p.into_inner());
        let changed = *known != content;
        *known = content;
        changed
    }

    /// With SMTP_DESK_REPORT_READY set, prints how far start-up has got (for scripts/bench-app.sh).
    pub fn milestone(&self, what: &str) {
        if std::env::var_os("SMTP_DESK_REPORT_READY").is_some() {
            println!("SMTP_DESK_{what} {:.1} ms", self.started.elapsed().as_secs_f64() * 1000.0);
        }
    }

    /// A new run's id and the token that cancels it.
    pub fn start_run(&self) -> (u64, CancelToken) {
        let id = self.next_run.fetch_add(1, Ordering::SeqCst);
        let cancel = CancelToken::new();
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).insert(id, cancel.clone());
        (id, cancel)
    }

    pub fn end_run(&self, id: u64) {
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    pub fn cancel_run(&self, id: u64) {
        if let Some(token) = self.runs.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            token.cancel();
        }
    }
}
