//! One delivery agent at a time, and how to reach it: an advisory lock file (`deliver.lock`) in
//! the data dir, and a Unix datagram socket beside it (`deliver.sock`) that the agent reads while
//! it runs. Waking is one datagram; when nobody listens, a detached `smtp-desk deliver --once`
//! is started instead, so mail is never stranded.
//!
//! Why a datagram socket: a send either reaches a live agent or fails at once (no listener →
//! `ENOENT`/`ECONNREFUSED`), nothing blocks, nothing polls, and datagrams that arrive while the
//! agent is busy wait in its buffer (it only needs "there is something", so a full buffer loses
//! nothing that matters).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "deliver.lock";
pub const WAKE_SOCKET: &str = "deliver.sock";

/// What kind of agent holds the lock; written into the lock file so a second `--once` knows
/// whether to wait for it (another one-shot run) or just wake it (a daemon, the window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Once,
    Daemon,
    /// The window, while it is open: a daemon that sleeps without a timer when nothing is due
    /// (the window wakes it when the settings change), and that defers to a running daemon.
    Window,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Once => "once",
            Kind::Daemon => "daemon",
            Kind::Window => "window",
        }
    }
}

/// The held lock: dropping it (or the process dying, even by kill -9) releases it.
pub struct AgentLock {
    _file: File,
}

/// Someone else is delivering.
#[derive(Debug)]
pub struct Busy {
    pub holder: Option<Kind>,
}

fn open_lock(dir: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(dir.join(LOCK_FILE))
}

impl AgentLock {
    /// Takes the lock if free.
    pub fn try_take(dir: &Path, kind: Kind) -> std::io::Result<Result<AgentLock, Busy>> {
        let mut file = open_lock(dir)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0)?;
                file.rewind()?;
                write!(file, "{} {}", kind.as_str(), std::process::id())?;
                Ok(Ok(AgentLock { _file: file }))
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.split_whitespace().next() {
                    Some("once") => Some(Kind::Once),
                    Some("daemon") => Some(Kind::Daemon),
                    Some("window") => Some(Kind::Window),
                    _ => None,
                };
                Ok(Err(Busy { holder }))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Waits for the lock (another one-shot run finishing).
    pub fn take(dir: &Path, kind: Kind) -> std::io::Result<AgentLock> {
        let mut file = open_lock(dir)?;
        file.lock()?;
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{} {}", kind.as_str(), std::process::id())?;
        Ok(AgentLock { _file: file })
    }
}

/// Sends one wake datagram; true if an agent was listening.
pub fn poke(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        let Ok(s) = std::os::unix::net::UnixDatagram::unbound() else { return false };
        let _ = s.set_nonblocking(true);
        match s.send_to(b"wake", dir.join(WAKE_SOCKET)) {
            Ok(_) => true,
            // The agent's buffer is full of earlier wakes: it is alive and will look anyway.
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        false
    }
}

/// The `smtp-desk` command line program: this one, or the one beside it (the window app).
pub(crate) fn cli_program() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    if name == "smtp-desk" || name == "smtp-desk.exe" {
        return Some(exe);
    }
    let beside = exe.with_file_name(if cfg!(windows) { "smtp-desk.exe" } else { "smtp-desk" });
    beside.is_file().then_some(beside)
}

/// Starts `smtp-desk deliver --once` for the outbox in `dir`, detached: its own process group
/// (a terminal's Ctrl-C or hang-up goes to the caller's group, not to it), stdio on /dev/null,
/// not waited for.
///
/// Cheap on purpose: `sendmail`'s caller waits for it to exit, and this runs once per message
/// when no agent is running. Without a `pre_exec` hook the standard library uses `posix_spawn`
/// (a vfork-style clone: no copy of this process's memory map, and this process resumes as soon
/// as the child has exec'd), where `setsid` in `pre_exec` forced a full fork.
pub fn start_once(dir: &Path) -> std::io::Result<()> {
    let program = cli_program().ok_or_else(|| std::io::Error::other("the smtp-desk program was not found"))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(["deliver", "--once", "--quiet"])
        .env("SMTP_DESK_DATA_DIR", dir)
        // The run delivers in this process's mode (the window's is always desktop), whatever
        // the mode rules would pick for it on their own.
        .env(crate::system::MODE_ENV, crate::system::current().as_str())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    // The child is reparented when we exit; dropping the handle doesn't wait for it.
    cmd.spawn().map(drop)
}

/// The agent's end of the wake socket; removed when dropped.
#[cfg(unix)]
pub struct WakeSocket {
    socket: tokio::net::UnixDatagram,
    path: PathBuf,
}

#[cfg(unix)]
impl WakeSocket {
    /// Binds the socket; call with the lock held (a stale file from a crashed agent is replaced).
    pub fn bind(dir: &Path) -> std::io::Result<WakeSocket> {
        let path = dir.join(WAKE_SOCKET);
        let _ = std::fs::remove_file(&path);
        let socket = tokio::net::UnixDatagram::bind(&path)?;
        Ok(WakeSocket { socket, path })
    }

    /// Waits for a wake.
    pub async fn woken(&self) {
        let mut buf = [0u8; 16];
        let _ = self.socket.recv(&mut buf).await;
        self.drain();
    }

    /// Empties the buffer; true if any wake was waiting.
    pub fn drain(&self) -> bool {
        let mut buf = [0u8; 16];
        let mut any = false;
        while self.socket.try_recv(&mut buf).is_ok() {
            any = true;
        }
        any
    }

    /// Stops listening (new wakes fail and start a new agent); true if a wake came in meanwhile.
    pub fn close(self) -> bool {
        let _ = std::fs::remove_file(&self.path);
        self.drain()
    }
}
