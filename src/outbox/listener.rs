//! The optional SMTP listener: programs that can't run our `sendmail` as this user (root's cron,
//! daemons) hand mail in over SMTP on 127.0.0.1 and ::1, never on any other address.
//!
//! Each connection is served by [`super::smtp_session`] (the same dialogue as `sendmail -bs`) on
//! its own thread over a blocking socket with read and write timeouts; its messages go through
//! one shared [`Intake`], so concurrent sessions share commits (group commit, `synchronous=FULL`),
//! and a 250 is only written after the commit. Threads rather than async tasks because the
//! dialogue and the intake are synchronous, and at most [`Options::max_sessions`] run at once;
//! the accept loop is async so the agent (`deliver --daemon`, later the window) can stop it.
//! After an acceptance delivery is woken like `sendmail` does, at most every [`WAKE_EVERY`], so
//! a burst does not start a delivery run per message.
//!
//! Profiles: each profile may set a listener login of its own (`listener.username`, its password
//! in the keyring entry `listener:NAME`). A client that logs in with one sends with that
//! profile; a client that doesn't, with the default profile. A login is required only while
//! Global sets one (it guards the port for the whole machine); named profiles' logins are then
//! offered beside it. The admin policy's `disable_listener` keeps it from starting at all, and
//! its sender domain is checked at MAIL.

use super::intake::Intake;
use super::sendmail::IntakeProfile;
use super::smtp_session::{self, Config, LocalLogin, MAX_RECIPIENTS};
use super::store::Store;
use super::MAX_MESSAGE_BYTES;
use crate::error::{ErrorKind, ErrorReport};
use crate::journal::events;
use crate::secrets;
use crate::settings::{self, profiles};
use crate::smtp::CancelToken;
use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// How often at most a burst of acceptances wakes delivery.
pub const WAKE_EVERY: Duration = Duration::from_millis(200);
/// How long a client may be silent (Postfix's `smtpd_timeout` is 300 s).
pub const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Sessions served at once; more get a 421 and are closed.
pub const MAX_SESSIONS: usize = 64;
/// How long a stop waits for sessions in the middle of a commit.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Everything that can stop the listener from serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the SMTP listener is off in the settings")]
    Disabled,
    #[error("the admin policy {path} turns the SMTP listener off{}", if .reason.is_empty() { String::new() } else { format!(" ({})", .reason) })]
    DisabledByPolicy { path: String, reason: String },
    #[error("the SMTP listener only listens on loopback addresses (127.0.0.1, ::1); {0} is not one")]
    NotLoopback(IpAddr),
    #[error("could not listen on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error("the listener login '{0}' (profile {1}) is set, but no password for it is saved in the keyring")]
    NoPassword(String, String),
    #[error("the listener's password could not be read: {0}")]
    Keyring(#[from] secrets::Error),
    #[error("the settings can't be read: {0}")]
    Settings(String),
    #[error(transparent)]
    Outbox(#[from] super::Error),
}

impl Error {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Disabled => "Turn it on: smtp-desk config set listener.enabled true".into(),
            Error::DisabledByPolicy { .. } => {
                "Programs hand mail in with smtp-desk sendmail instead; ask whoever manages this machine if they need the listener.".into()
            }
            Error::NotLoopback(_) => {
                "Programs on other machines must use a mail server of their own; the listener is for this machine.".into()
            }
            Error::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
                "Another program (or another smtp-desk listen / deliver --daemon) uses that port: stop it, or choose another \
                 port with smtp-desk config set listener.port 2526"
                    .into()
            }
            Error::Bind { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                "Ports below 1024 need root: choose another with smtp-desk config set listener.port 2525".into()
            }
            Error::NoPassword(_, profile) if profile == profiles::GLOBAL => {
                "Save it with smtp-desk password set --listener, or ask for no login: smtp-desk config set listener.username ''".into()
            }
            Error::NoPassword(_, profile) => format!(
                "Save it with smtp-desk password set --listener --profile {profile}, or remove the profile's login: \
                 smtp-desk config set --profile {profile} listener.username ''"
            ),
            _ => return None,
        })
    }
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        match e {
            Error::Keyring(k) => ErrorReport::from(k),
            Error::Outbox(o) => ErrorReport::from(o),
            Error::Settings(_) => ErrorReport::new(ErrorKind::SettingsIo, e.to_string()),
            other => {
                let kind = if matches!(other, Error::NoPassword(..)) {
                    ErrorKind::ListenerPasswordMissing
                } else {
                    ErrorKind::ListenerUnavailable
                };
                let mut r = ErrorReport::new(kind, other.to_string());
                r.hint = other.hint();
                r.field = match other {
                    Error::Disabled | Error::DisabledByPolicy { .. } => Some("listener.enabled".into()),
                    Error::Bind { .. } => Some("listener.port".into()),
                    Error::NoPassword(..) => Some("listener.username".into()),
                    _ => None,
                };
                r
            }
        }
    }
}

/// How the listener serves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen: loopback addresses only; anything else is refused by [`Listener::bind`].
    pub addresses: Vec<IpAddr>,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub max_bytes: usize,
    /// The logins taken (AUTH PLAIN / LOGIN), each with its profile.
    pub logins: Vec<LocalLogin>,
    /// A login is required before MAIL.
    pub login_required: bool,
    pub read_timeout: Duration,
    pub max_sessions: usize,
    pub max_recipients: usize,
}

impl Options {
    /// 127.0.0.1 and ::1 on `port`, the outbox's size limit, no login.
    pub fn loopback(port: u16) -> Options {
        Options {
            addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)],
            port,
            max_bytes: MAX_MESSAGE_BYTES,
            logins: Vec::new(),
            login_required: false,
            read_timeout: READ_TIMEOUT,
            max_sessions: MAX_SESSIONS,
            max_recipients: MAX_RECIPIENTS,
        }
    }

    /// The options the settings ask for, with each profile's login and its password read from
    /// the keyring (blocking D-Bus calls: run it off the async threads).
    pub fn from_settings(settings: &settings::Settings) -> Result<Options, Error> {
        let mut o = Options::loopback(settings.profile.listener.port);
        for (username, profile) in profiles::listener_logins(settings) {
            let username = username.trim().to_string();
            if username.is_empty() {
                continue;
            }
            let entry = profiles::password_entry(settings, Some(&profile)).map_err(|e| Error::Settings(e.to_string()))?;
            let password = secrets::get_listener_of(&entry)?.ok_or_else(|| Error::NoPassword(username.clone(), profile.clone()))?;
            let profile = IntakeProfile::choose(settings, Some(&profile)).map_err(|e| Error::Settings(e.to_string()))?;
            o.login_required |= profile.name == profiles::GLOBAL;
            o.logins.push(LocalLogin { username, password, profile });
        }
        Ok(o)
    }
}

/// The bound sockets, ready to serve.
pub struct Listener {
    sockets: Vec<tokio::net::TcpListener>,
    options: Options,
}

impl Listener {
    /// Binds every address of `options` (inside a tokio runtime). Refuses any address that is
    /// not loopback. ::1 is optional: a machine without IPv6 still gets 127.0.0.1.
    pub fn bind(options: Options) -> Result<Listener, Error> {
        if let Some(bad) = options.addresses.iter().find(|a| !a.is_loopback()) {
            return Err(Error::NotLoopback(*bad));
        }
        let mut sockets = Vec::new();
        let mut port = options.port;
        for (i, ip) in options.addresses.iter().enumerate() {
            let address = SocketAddr::new(*ip, port);
            let bound = std::net::TcpListener::bind(address)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .and_then(tokio::net::TcpListener::from_std);
            match bound {
                Ok(l) => {
                    // With port 0 the first address picks one; the others use the same.
                    port = l.local_addr().map(|a| a.port()).unwrap_or(port);
                    sockets.push(l);
                }
                Err(e)
                    if ip.is_ipv6()
                        && i > 0
                        && (e.kind() == std::io::ErrorKind::AddrNotAvailable || e.raw_os_error() == Some(libc::EAFNOSUPPORT)) =>
                {
                    tracing::info!("listener: no IPv6 loopback here ({e}); listening on IPv4 only");
                }
                Err(source) => return Err(Error::Bind { address, source }),
            }
        }
        if sockets.is_empty() {
            return Err(Error::NotLoopback(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        }
        Ok(Listener { sockets, options })
    }

    /// Where it listens.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().filter_map(|s| s.local_addr().ok()).collect()
    }

    /// Serves until `cancel`: accepted mail goes into the outbox at `store_path`.
    /// `profile` is what clients that don't log in send with; `policy`'s sender domain is checked at MAIL.
    pub async fn serve(
        self,
        store_path: &Path,
        profile: IntakeProfile,
        policy: crate::policy::State,
        cancel: &CancelToken,
    ) -> Result<(), Error> {
        let intake = Arc::new(Intake::start(Store::open(store_path)?));
        // The event log gets a connection of its own: the intake's belongs to its writer thread.
        let journal = Store::open(store_path).map_err(|e| tracing::warn!("listener: no event log: {e}")).ok();
        let addresses = self.local_addrs();
        if let Some(j) = &journal {
            events::record_or_log(j, &events::listener_started(&addresses));
        }
        let shared = Arc::new(Shared {
            journal: Mutex::new(journal),
            intake,
            profile,
            policy,
            options: self.options,
            waker: Waker::start(store_path),
            active: AtomicUsize::new(0),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        let first = &self.sockets[0];
        let second = self.sockets.get(1);
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => break,
                r = first.accept() => r,
                r = async { match second { Some(l) => l.accept().await, None => std::future::pending().await } } => r,
            };
            match accepted {
                Ok((stream, peer)) => start_session(&shared, stream, peer),
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!("listener: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        drop(self.sockets);
        // Sessions end now: a client mid-message gets no 250, so it keeps its copy.
        for s in shared.open.lock().unwrap_or_else(|p| p.into_inner()).values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while shared.active.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(j) = shared.journal.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            events::record_or_log(j, &events::listener_stopped(&addresses));
        }
        Ok(())
    }
}

/// Serves the listener the settings describe until `cancel`; the entry the CLI and the window
/// use. Fails when it is off, the port can't be bound or the login has no saved password.
pub async fn serve(store_path: &Path, settings: &settings::Settings, cancel: &CancelToken) -> Result<(), Error> {
    let listener = bind_from_settings(settings).await?;
    let profile = IntakeProfile::choose(settings, None).map_err(|e| Error::Settings(e.to_string()))?;
    listener.serve(store_path, profile, crate::policy::load(), cancel).await
}

/// Binds what the settings describe (reading the login's password on a blocking thread).
pub async fn bind_from_settings(settings: &settings::Settings) -> Result<Listener, Error> {
    if let crate::policy::State::Active { path, policy } = crate::policy::load() {
        if policy.disable_listener {
            return Err(Error::DisabledByPolicy { path: path.display().to_string(), reason: policy.reason });
        }
    }
    if !settings.profile.listener.enabled {
        return Err(Error::Disabled);
    }
    let s = settings.clone();
    let options = tokio::task::spawn_blocking(move || Options::from_settings(&s))
        .await
        .map_err(|e| Error::Settings(format!("reading the listener's password stopped: {e}")))??;
    Listener::bind(options)
}

/// The listener running beside a delivery agent; stopped when dropped.
pub struct Running {
    stop: CancelToken,
    pub addresses: Vec<SocketAddr>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops it and waits until its ports are closed and its sessions ended (so the same port can
    /// be bound again at once).
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the listener inside an agent (`deliver --daemon`, the window) when the settings turn it on. Not
/// enabled: `Ok(None)`. Runs as a task of the current tokio runtime until `cancel` or the drop
/// of the returned handle.
pub async fn start_if_enabled(store_path: &Path, cancel: &CancelToken) -> Result<Option<Running>, Error> {
    let settings = settings::load().map_err(|e| Error::Settings(e.to_string()))?.settings;
    if !settings.profile.listener.enabled {
        return Ok(None);
    }
    let listener = bind_from_settings(&settings).await?;
    let profile = IntakeProfile::choose(&settings, None).map_err(|e| Error::Settings(e.to_string()))?;
    let addresses = listener.local_addrs();
    let stop = cancel.child_token();
    let (path, token) = (store_path.to_path_buf(), stop.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = listener.serve(&path, profile, crate::policy::load(), &token).await {
            tracing::error!("listener: stopped: {e}");
            events::record_at(&path, &events::app_problem(events::Severity::Error, format!("The SMTP listener stopped: {e}")));
        }
    });
    Ok(Some(Running { stop, addresses, task: Some(task) }))
}

/// [`start_if_enabled`] for the delivery agent: a failure is told through `notice` and delivery
/// goes on without the listener.
pub async fn start_for_agent(store_path: &Path, cancel: &CancelToken, notice: &mut (dyn FnMut(&str) + Send)) -> Option<Running> {
    match start_if_enabled(store_path, cancel).await {
        Ok(Some(r)) => {
            let at: Vec<String> = r.addresses.iter().map(ToString::to_string).collect();
            notice(&format!("SMTP listener on {}", at.join(", ")));
            Some(r)
        }
        Ok(None) => None,
        Err(e) => {
            let hint = ErrorReport::from(&e).hint.map(|h| format!(" ({h})")).unwrap_or_default();
            let text = format!("the SMTP listener is not running: {e}{hint}");
            events::record_at(
                store_path,
                &events::app_problem(events::Severity::Error, format!("The SMTP listener could not start: {e}{hint}")),
            );
            notice(&text);
            None
        }
    }
}

/// What every session shares.
struct Shared {
    intake: Arc<Intake>,
    profile: IntakeProfile,
    policy: crate::policy::State,
    options: Options,
    waker: Waker,
    active: AtomicUsize,
    /// The open sessions' sockets, so a stop can end them.
    open: Mutex<HashMap<u64, TcpStream>>,
    /// Where starts, stops and refused logins are recorded (`None` if it could not be opened).
    journal: Mutex<Option<Store>>,
    next_id: AtomicU64,
}

fn start_session(shared: &Arc<Shared>, stream: tokio::net::TcpStream, peer: SocketAddr) {
    let stream = match stream.into_std().and_then(|s| s.set_nonblocking(false).map(|()| s)) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("listener: could not take a connection from {peer}: {e}");
            return;
        }
    };
    let timeout = Some(shared.options.read_timeout.max(Duration::from_millis(1)));
    let _ = stream.set_read_timeout(timeout);
    let _ = stream.set_write_timeout(timeout);
    let _ = stream.set_nodelay(true);
    if shared.active.fetch_add(1, Ordering::SeqCst) >= shared.options.max_sessions {
        shared.active.fetch_sub(1, Ordering::SeqCst);
        let _ = (&stream).write_all(b"421 4.3.2 Too many sessions at once, try again later\r\n");
        tracing::warn!("listener: {peer} refused: {} sessions already open", shared.options.max_sessions);
        return;
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    if let Ok(c) = stream.try_clone() {
        shared.open.lock().unwrap_or_else(|p| p.into_inner()).insert(id, c);
    }
    let s = shared.clone();
    let spawned = std::thread::Builder::new().name("smtp-session".into()).spawn(move || {
        session(&s, stream, peer);
        s.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        s.active.fetch_sub(1, Ordering::SeqCst);
    });
    if let Err(e) = spawned {
        tracing::warn!("listener: no thread for {peer}: {e}");
        if let Some(c) = shared.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&id) {
            let _ = (&c).write_all(b"421 4.3.2 Out of resources, try again later\r\n");
        }
        shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn session(shared: &Shared, stream: TcpStream, peer: SocketAddr) {
    let Ok(read_half) = stream.try_clone() else { return };
    let mut input = BufReader::with_capacity(16 * 1024, read_half);
    let mut output = BufWriter::new(stream);
    let waker = &shared.waker;
    let on_accept = |_id: i64| waker.wake();
    let config = Config {
        profile: &shared.profile,
        max_bytes: shared.options.max_bytes,
        source: "smtp listener",
        logins: &shared.options.logins,
        login_required: shared.options.login_required,
        policy: Some(&shared.policy),
        max_recipients: shared.options.max_recipients,
        on_accept: Some(&on_accept),
    };
    match smtp_session::serve(&mut input, &mut output, &shared.intake, &config) {
        Ok(o) => {
            if o.failed_logins > 0 {
                // Never the names or passwords tried: only that it happened, and from where.
                tracing::warn!("listener: {} failed login(s) from {peer}", o.failed_logins);
                let names: Vec<&str> = shared.options.logins.iter().map(|l| l.username.as_str()).collect();
                let expected = names.join(", ");
                if let Some(j) = shared.journal.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    events::record_unless_repeated(j, &events::listener_refused_login(peer, o.failed_logins, &expected));
                }
            }
            if o.timed_out {
                tracing::info!("listener: {peer} was silent too long; session closed");
            }
        }
        Err(e) => tracing::info!("listener: session with {peer} ended: {e}"),
    }
}

/// Wakes delivery on its own thread, at most every [`WAKE_EVERY`]: acceptances in between are
/// folded into the one wake already pending.
struct Waker {
    pending: mpsc::SyncSender<()>,
}

impl Waker {
    fn start(store_path: &Path) -> Waker {
        let dir: PathBuf = store_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        let (pending, wakes) = mpsc::sync_channel::<()>(1);
        let _ = std::thread::Builder::new().name("listener-wake".into()).spawn(move || {
            while wakes.recv().is_ok() {
                super::wake_delivery_in(&dir);
                std::thread::sleep(WAKE_EVERY);
            }
        });
        Waker { pending }
    }

    fn wake(&self) {
        let _ = self.pending.try_send(());
    }
}
