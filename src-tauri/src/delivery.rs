//! The window as the outbox's delivery agent while it is open (the core's runner, `Kind::Window`,
//! on a thread of its own; a running `deliver --daemon` keeps the job, is woken, and the window
//! takes over when it stops), the window's own queue connection, the `queue-changed` event that
//! keeps the queue screen live, and a desktop notification when mail fails for good (at most one
//! per [`NOTIFY_EVERY`], summarising; also sent to the page as `queue-failed`).
//!
//! Live without polling: the data dir is watched, and every commit to the outbox (this agent's
//! results, a daemon's, `sendmail`'s intake, the CLI's queue commands) writes its WAL file; that
//! event, throttled to one emit per [`THROTTLE`] with a trailing one for the last change, sends the
//! new overview. Nothing runs while nothing changes.

use smtp_desk::journal::events::{self, NewEvent};
use smtp_desk::outbox::runner::{self, Failure};
use smtp_desk::outbox::{self, agent::Kind, Store};
use smtp_desk::settings::{self, Mode};
use smtp_desk::smtp::CancelToken;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter, Manager};

/// At most one `queue-changed` per this long (a flush records hundreds of results a second).
const THROTTLE: Duration = Duration::from_millis(250);

/// At most one failure notification per this long; failures meanwhile are summarised in the next.
const NOTIFY_EVERY: Duration = Duration::from_secs(5);

/// How long closing the window waits for messages in flight to be recorded.
const STOP_WAIT: Duration = Duration::from_secs(3);

pub struct Delivery {
    path: PathBuf,
    store: Mutex<Option<Store>>,
    cancel: CancelToken,
    stopped: Mutex<Option<mpsc::Receiver<()>>>,
    throttle: Arc<Throttle>,
    alerts: Arc<Mutex<Alerts>>,
    /// The window's agent runs (delivering, or waiting on a running daemon, which then delivers).
    running: Arc<AtomicBool>,
    _watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

#[derive(Default)]
struct Throttle {
    last: Mutex<Option<Instant>>,
    scheduled: AtomicBool,
}

/// Permanent failures not yet shown, and when the last notification went out.
#[derive(Default)]
struct Alerts {
    pending: Vec<Failure>,
    total: usize,
    last: Option<Instant>,
    scheduled: bool,
}

/// What the window's agent tells the window.
struct WindowEvents {
    app: AppHandle,
}

impl runner::Events for WindowEvents {
    fn notice(&mut self, text: &str) {
        tracing::info!("deliver (window): {text}");
    }

    fn failed(&mut self, failures: &[Failure], total: usize) {
        let alerts = self.app.state::<Delivery>().alerts.clone();
        let mut a = alerts.lock().unwrap_or_else(|p| p.into_inner());
        let room = runner::FAILURES_TOLD.saturating_sub(a.pending.len());
        a.pending.extend(failures.iter().take(room).cloned());
        a.total += total;
        if a.scheduled {
            return;
        }
        let wait = a.last.map(|t| NOTIFY_EVERY.saturating_sub(t.elapsed())).unwrap_or_default();
        a.scheduled = true;
        drop(a);
        let app = self.app.clone();
        // Its own thread: a notification daemon that is slow or missing never holds up delivery.
        let spawned = std::thread::Builder::new().name("failure-notice".into()).spawn(move || {
            std::thread::sleep(wait);
            let (pending, total) = {
                let mut a = alerts.lock().unwrap_or_else(|p| p.into_inner());
                a.scheduled = false;
                a.last = Some(Instant::now());
                (std::mem::take(&mut a.pending), std::mem::take(&mut a.total))
            };
            notify_failed(&app, &pending, total);
        });
        if let Err(e) = spawned {
            tracing::warn!("no thread for the failure notification: {e}");
        }
    }
}

/// Shows the summary as a desktop notification and on the page. Without a notification daemon
/// (a bare X session) the plugin's error is only logged.
fn notify_failed(app: &AppHandle, failures: &[Failure], total: usize) {
    use tauri_plugin_notification::NotificationExt;
    let text = runner::describe_failures(failures, total);
    tracing::warn!("deliver (window): {text}");
    let _ = app.emit("queue-failed", &text);
    if let Err(e) = app.notification().builder().title("SMTP Desk: mail could not be delivered").body(&text).show() {
        tracing::info!("no desktop notification: {e}");
    }
}

/// The sending mode as saved; unreadable settings send nothing, as the agent does.
pub fn sending_mode() -> Mode {
    settings::load().map(|l| l.settings.profile.mode).unwrap_or(Mode::Off)
}

impl Delivery {
    /// Runs `f` on the window's connection to the outbox, opened on first use.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T, outbox::Error>) -> Result<T, outbox::Error> {
        let mut guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(Store::open(&self.path)?);
        }
        f(guard.as_mut().expect("opened above"))
    }

    /// The outbox database, for work that opens a connection of its own (a long export must not
    /// hold the window's while the queue screen waits).
    pub fn outbox_path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Records an event on the window's connection; a failure is only logged (never the caller's).
    pub fn record(&self, e: &NewEvent) {
        let recorded = self.with_store(|s| {
            events::record_or_log(s, e);
            Ok(())
        });
        if let Err(err) = recorded {
            tracing::warn!("could not open the event log ({err}): {}", e.summary);
        }
    }

    /// Wakes whichever agent runs (this window's or a daemon): the settings changed.
    pub fn poke(&self) {
        if let Some(dir) = self.path.parent() {
            outbox::agent::poke(dir);
        }
    }

    /// Whether a delivery agent runs: this window's, or a daemon it waits on.
    pub fn agent_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// Stops this window's agent, waiting a little for messages in flight to be recorded.
    pub fn stop(&self) {
        self.cancel.cancel();
        if let Some(rx) = self.stopped.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = rx.recv_timeout(STOP_WAIT);
        }
    }
}

/// Opens the outbox, starts the agent and the watcher. Called once at start-up, off the main thread.
pub fn start(app: AppHandle) {
    let path = smtp_desk::paths::outbox_file();
    let (done, stopped) = mpsc::channel();
    let cancel = CancelToken::new();
    app.manage(Delivery {
        path: path.clone(),
        store: Mutex::new(None),
        cancel: cancel.clone(),
        stopped: Mutex::new(Some(stopped)),
        throttle: Arc::default(),
        alerts: Arc::default(),
        running: Arc::new(AtomicBool::new(true)),
        _watcher: Mutex::new(None),
    });
    std::thread::spawn(move || {
        // Opening creates the data dir and the database, which the watcher needs.
        let opened = app.state::<Delivery>().with_store(|_| Ok(()));
        if let Err(e) = opened {
            tracing::warn!("the outbox could not be opened: {e}");
        }
        watch(&app);
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                app.state::<Delivery>().running.store(false, Ordering::SeqCst);
                return tracing::warn!("no runtime for delivery: {e}");
            }
        };
        let mut events = WindowEvents { app: app.clone() };
        match rt.block_on(runner::run(&path, Kind::Window, &cancel, &mut events)) {
            Ok(runner::Finished::WokeRunningAgent) => tracing::info!("the window closed while another delivery agent ran"),
            Ok(runner::Finished::Delivered(s)) => {
                tracing::info!("deliver (window): {} sent, {} deferred, {} failed", s.sent, s.deferred, s.failed)
            }
            Err(e) => tracing::warn!("deliver (window): {e}"),
        }
        app.state::<Delivery>().running.store(false, Ordering::SeqCst);
        let _ = done.send(());
    });
}

fn watch(app: &AppHandle) {
    use notify::event::{EventKind, ModifyKind};
    use notify::{RecursiveMode, Watcher};
    let state = app.state::<Delivery>();
    let Some(dir) = state.path.parent().map(PathBuf::from) else { return };
    let Some(name) = state.path.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let handler_app = app.clone();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        // Writes only: reads (ours included) must not trigger the next read, forever. The -shm
        // file changes on reads too; the database and its WAL only on commits.
        let written =
            matches!(event.kind, EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any));
        let ours = event
            .paths
            .iter()
            .any(|p| p.file_name().map(|f| f.to_string_lossy()).is_some_and(|f| f.starts_with(name.as_str()) && !f.ends_with("-shm")));
        if written && ours {
            changed(&handler_app);
        }
    });
    match watcher {
        Ok(mut w) => match w.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => *state._watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(w),
            Err(e) => tracing::warn!("cannot watch {}: {e}", dir.display()),
        },
        Err(e) => tracing::warn!("cannot watch the outbox: {e}"),
    }
}

/// The outbox changed: emit the overview now, or once the throttle allows (one pending at most).
fn changed(app: &AppHandle) {
    let throttle = app.state::<Delivery>().throttle.clone();
    if throttle.scheduled.swap(true, Ordering::SeqCst) {
        return;
    }
    let since = throttle.last.lock().unwrap_or_else(|p| p.into_inner()).map(|t| t.elapsed());
    let wait = since.map(|s| THROTTLE.saturating_sub(s)).unwrap_or_default();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(wait).await;
        // Cleared before reading: a change during the read schedules the next emit.
        throttle.scheduled.store(false, Ordering::SeqCst);
        *throttle.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let reader = app.clone();
        let overview =
            tauri::async_runtime::spawn_blocking(move || reader.state::<Delivery>().with_store(|s| s.overview(sending_mode()))).await;
        match overview {
            Ok(Ok(o)) => {
                let _ = app.emit("queue-changed", o);
            }
            Ok(Err(e)) => tracing::warn!("queue overview: {e}"),
            Err(e) => tracing::warn!("queue overview task: {e}"),
        }
    });
}
