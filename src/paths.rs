//! Where SMTP Desk keeps its files: the OS config dir for settings (overridable for tests and
//! portable installs with `SMTP_DESK_CONFIG_DIR`), and the OS data dir for the outbox (`SMTP_DESK_DATA_DIR`).
//! In system mode ([`crate::system`]) both are machine-wide: `/etc/smtp-desk/` and `/var/spool/smtp-desk/`.

use crate::settings::Error;
use crate::system::{self, Mode};
use std::path::PathBuf;

/// The directory holding `settings.json`. Without a home directory there is no safe place for it:
/// a typed error, never the current directory (which may belong to someone else).
pub fn config_dir() -> Result<PathBuf, Error> {
    if system::current() == Mode::System {
        return Ok(system::settings_dir());
    }
    if let Some(dir) = std::env::var_os("SMTP_DESK_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "smtp-desk").map(|p| p.config_dir().to_path_buf()).ok_or(Error::NoConfigDir)
}

/// The settings file shared by the window and the command line.
pub fn settings_file() -> Result<PathBuf, Error> {
    Ok(config_dir()?.join("settings.json"))
}

/// The directory holding the outbox database: the OS local data dir (`~/.local/share/smtp-desk/` on
/// Linux), or `SMTP_DESK_DATA_DIR` (tests, portable installs); the spool in system mode.
pub fn data_dir() -> PathBuf {
    if system::current() == Mode::System {
        return system::spool_dir();
    }
    if let Some(dir) = std::env::var_os("SMTP_DESK_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "smtp-desk")
        .map(|p| p.data_local_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".smtp-desk"))
}

/// The outbox (queue) database.
pub fn outbox_file() -> PathBuf {
    data_dir().join("outbox.sqlite3")
}
