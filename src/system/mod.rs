//! System mode, for servers without a desktop session: which mode a command runs in and why,
//! and the machine-wide places system mode keeps its files.
//!
//! Desktop mode (the default, and always the window's) keeps the settings in the user's config
//! dir, the queue in the user's data dir and the password in the OS keyring. System mode keeps
//! the settings in `/etc/smtp-desk/`, the queue in `/var/spool/smtp-desk/` (both root's), the
//! password as an encrypted systemd credential ([`credential`]), and takes mail from any local
//! user through the system service's socket ([`submit`]).
//!
//! The `smtp-desk` command chooses its mode once, at start ([`choose`]), by these rules, first
//! match wins:
//! 1. `--system` on the command line: system mode.
//! 2. `SMTP_DESK_MODE=system` or `SMTP_DESK_MODE=desktop`: that mode.
//! 3. `SMTP_DESK_CONFIG_DIR` set: desktop mode (it names the user's own settings).
//! 4. `/etc/smtp-desk/settings.json` exists and the user has no settings file of their own
//!    (`~/.config/smtp-desk/settings.json`): system mode.
//! 5. Otherwise desktop mode.
//!
//! Every machine-wide path lies under `SMTP_DESK_SYSTEM_ROOT` (default `/`), so a test or a
//! staged install can put `etc/`, `var/spool/` and `run/` in a directory of its own.

// Unix only: systemd credentials, a Unix socket and the peer's uid (SO_PEERCRED).
#[cfg(unix)]
pub mod credential;
#[cfg(unix)]
pub mod submit;

use std::path::PathBuf;
use std::sync::OnceLock;

/// The environment variable that chooses the mode (`system` or `desktop`).
pub const MODE_ENV: &str = "SMTP_DESK_MODE";
/// The environment variable that moves every machine-wide path under another root directory.
pub const ROOT_ENV: &str = "SMTP_DESK_SYSTEM_ROOT";

/// Where settings, queue and password live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The user's own settings, queue and OS keyring.
    Desktop,
    /// `/etc/smtp-desk/`, `/var/spool/smtp-desk/` and a systemd credential; run by the system service.
    System,
}

impl Mode {
    /// The mode's name, as `SMTP_DESK_MODE` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Desktop => "desktop",
            Mode::System => "system",
        }
    }
}

/// Why a mode was chosen (rule by rule, see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `--system` was given.
    Flag,
    /// `SMTP_DESK_MODE` said so.
    Env,
    /// `SMTP_DESK_CONFIG_DIR` names the user's own settings.
    ConfigDirSet,
    /// The system's settings exist and the user has none of their own.
    SystemSettingsOnly { system: PathBuf, own: PathBuf },
    /// The user has settings of their own.
    OwnSettings { own: PathBuf },
    /// There are no system settings.
    NoSystemSettings { system: PathBuf },
    /// Nothing chose: the library's default (the window).
    Default,
}

/// A mode and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub mode: Mode,
    pub reason: Reason,
}

impl Choice {
    /// One line for `smtp-desk mode`: "system mode: /etc/smtp-desk/settings.json exists and you have no settings of your own".
    pub fn describe(&self) -> String {
        let mode = match self.mode {
            Mode::Desktop => "desktop mode",
            Mode::System => "system mode",
        };
        let why = match &self.reason {
            Reason::Flag => "--system was given".to_string(),
            Reason::Env => format!("{MODE_ENV} is set to '{}'", std::env::var(MODE_ENV).unwrap_or_default()),
            Reason::ConfigDirSet => "SMTP_DESK_CONFIG_DIR names your own settings folder".to_string(),
            Reason::SystemSettingsOnly { system, own } => {
                format!("{} exists and you have no settings of your own ({})", system.display(), own.display())
            }
            Reason::OwnSettings { own } => format!("you have settings of your own ({})", own.display()),
            Reason::NoSystemSettings { system } => format!("there are no system settings ({})", system.display()),
            Reason::Default => "the default".to_string(),
        };
        format!("{mode}: {why}")
    }
}

static CHOSEN: OnceLock<Choice> = OnceLock::new();

/// Chooses this process's mode by the rules in the module doc and remembers it; later calls
/// return the first choice. `flag` is whether `--system` was given. With `--system` the choice is
/// also put into `SMTP_DESK_MODE`, so the delivery runs this process starts agree.
pub fn choose(flag: bool) -> &'static Choice {
    CHOSEN.get_or_init(|| {
        if flag {
            std::env::set_var(MODE_ENV, "system");
            return Choice { mode: Mode::System, reason: Reason::Flag };
        }
        detect()
    })
}

/// The rules of the module doc, without remembering (what `choose` would pick now).
pub fn detect() -> Choice {
    match std::env::var(MODE_ENV).ok().as_deref().map(str::trim) {
        Some("system") => return Choice { mode: Mode::System, reason: Reason::Env },
        Some("desktop") => return Choice { mode: Mode::Desktop, reason: Reason::Env },
        Some(other) if !other.is_empty() => tracing::warn!("{MODE_ENV}={other:?} is neither 'system' nor 'desktop'; ignored"),
        _ => {}
    }
    if std::env::var_os("SMTP_DESK_CONFIG_DIR").is_some_and(|d| !d.is_empty()) {
        return Choice { mode: Mode::Desktop, reason: Reason::ConfigDirSet };
    }
    let system = settings_dir().join("settings.json");
    if !system.exists() {
        return Choice { mode: Mode::Desktop, reason: Reason::NoSystemSettings { system } };
    }
    match own_settings_file() {
        Some(own) if own.exists() => Choice { mode: Mode::Desktop, reason: Reason::OwnSettings { own } },
        own => Choice { mode: Mode::System, reason: Reason::SystemSettingsOnly { system, own: own.unwrap_or_default() } },
    }
}

/// The mode chosen for this process; desktop when nothing chose (the window, the library's users).
pub fn current() -> Mode {
    CHOSEN.get().map_or(Mode::Desktop, |c| c.mode)
}

/// The choice made for this process (desktop by default).
pub fn choice() -> Choice {
    CHOSEN.get().cloned().unwrap_or(Choice { mode: Mode::Desktop, reason: Reason::Default })
}

/// The user's own settings file in desktop mode (the OS config dir), if there is a home.
fn own_settings_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "smtp-desk").map(|p| p.config_dir().join("settings.json"))
}

/// The directory every machine-wide path lies under: `SMTP_DESK_SYSTEM_ROOT`, default `/`.
pub fn root() -> PathBuf {
    std::env::var_os(ROOT_ENV).filter(|d| !d.is_empty()).map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

/// `/etc/smtp-desk`: the system settings (root-owned; readable, so anyone can see the mode).
pub fn settings_dir() -> PathBuf {
    root().join("etc/smtp-desk")
}

/// `/etc/smtp-desk/credentials`: the password, root only.
pub fn credentials_dir() -> PathBuf {
    settings_dir().join("credentials")
}

/// `/var/spool/smtp-desk`: the system queue, root only.
pub fn spool_dir() -> PathBuf {
    root().join("var/spool/smtp-desk")
}

/// `/run/smtp-desk`: the submission socket's directory (systemd's `RuntimeDirectory=`).
pub fn run_dir() -> PathBuf {
    root().join("run/smtp-desk")
}

/// `/run/smtp-desk/submit.sock`: where any local user's `sendmail` hands mail to the system service.
pub fn submit_socket() -> PathBuf {
    run_dir().join("submit.sock")
}

/// Whether this process runs as root (system mode's files are root's).
#[cfg(unix)]
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
pub fn is_root() -> bool {
    false
}

/// Makes system mode's directories with their modes (settings 0755, credentials and spool 0700),
/// when run as root; what exists is left as it is. Without root nothing is made.
pub fn prepare_dirs() -> std::io::Result<()> {
    if !is_root() {
        return Ok(());
    }
    #[cfg(unix)]
    for (dir, mode) in [(settings_dir(), 0o755), (credentials_dir(), 0o700), (spool_dir(), 0o700)] {
        make_dir(&dir, mode)?;
    }
    Ok(())
}

#[cfg(unix)]
pub(crate) fn make_dir(dir: &std::path::Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::DirBuilder::new().mode(mode).create(dir)?;
    // The umask may have taken bits away from a 0755 directory.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(mode))
}

/// The name of the user with `uid`, if the user database knows it.
#[cfg(unix)]
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to a live local of the right size; getpwuid_r writes only into them.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`.
    Some(unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }.to_string_lossy().into_owned())
}
