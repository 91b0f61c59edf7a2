//! `smtp-desk deliver --daemon` as a systemd user service ("keep delivering when the window is
//! closed"): the unit written to `~/.config/systemd/user/` and turned on with `systemctl --user
//! enable --now`, or turned off and removed. Plain functions for the CLI and the window alike.
//!
//! The packages also install the unit to `/usr/lib/systemd/user/`; the copy written here takes
//! precedence (systemd reads the user's directory first) and names the program actually running,
//! so a build outside the package works too.

use crate::error::{ErrorKind, ErrorReport};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The unit's name.
pub const UNIT_NAME: &str = "smtp-desk-deliver.service";

/// The unit as packaged (ExecStart names `/usr/bin/smtp-desk`).
pub const PACKAGED_UNIT: &str = include_str!("../../packaging/systemd/smtp-desk-deliver.service");

/// Why the service could not be turned on or off.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("systemd does not run for this user here ({0})")]
    NoSystemd(String),
    #[error("the smtp-desk program was not found beside this one")]
    NoProgram,
    #[error("could not write {path}: {message}")]
    Write { path: String, message: String },
    #[error("`systemctl --user {command}` failed: {output}")]
    Systemctl { command: String, output: String },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoSystemd(_) => ErrorKind::ServiceUnavailable,
            Error::NoProgram | Error::Write { .. } | Error::Systemctl { .. } => ErrorKind::ServiceFailed,
        }
    }

    fn hint(&self) -> String {
        match self {
            Error::NoSystemd(_) => {
                "Without systemd, start `smtp-desk deliver --daemon` from your session's autostart instead; mail sent meanwhile is delivered by a one-shot run anyway.".into()
            }
            Error::NoProgram => "Install SMTP Desk from its package, or run this from the folder that holds smtp-desk.".into(),
            Error::Write { .. } => "Check that your home folder is writable.".into(),
            Error::Systemctl { .. } => format!("See `systemctl --user status {UNIT_NAME}` and `journalctl --user -u {UNIT_NAME}`."),
        }
    }
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        let mut r = ErrorReport::new(e.kind(), e.to_string());
        r.hint = Some(e.hint());
        r
    }
}

/// Where the service stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// The user's unit file, written by [`enable`].
    pub unit_path: PathBuf,
    /// That file exists.
    pub installed: bool,
    /// `systemctl --user is-enabled` says enabled.
    pub enabled: bool,
    /// `systemctl --user is-active` says active.
    pub active: bool,
}

/// The user's systemd unit folder: `$XDG_CONFIG_HOME/systemd/user`, else `~/.config/systemd/user`.
pub fn unit_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| Path::new(x).is_absolute()) {
        return Some(PathBuf::from(x).join("systemd/user"));
    }
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".config/systemd/user"))
}

/// The unit for `program`: the packaged one with its ExecStart pointing at `program`.
pub fn unit_for(program: &Path) -> String {
    let exec = format!("ExecStart={} deliver --daemon", quote(&program.display().to_string()));
    PACKAGED_UNIT.lines().map(|l| if l.starts_with("ExecStart=") { exec.clone() } else { l.to_string() }).collect::<Vec<_>>().join("\n")
        + "\n"
}

/// systemd's quoting for a path with spaces or quotes in ExecStart.
fn quote(path: &str) -> String {
    if path.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\') {
        format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        path.to_string()
    }
}

fn systemctl(args: &[&str]) -> Result<std::process::Output, Error> {
    Command::new("systemctl").arg("--user").args(args).output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NoSystemd("systemctl is not installed".into()),
        _ => Error::NoSystemd(format!("systemctl could not be run: {e}")),
    })
}

fn run(args: &[&str]) -> Result<(), Error> {
    let o = systemctl(args)?;
    if o.status.success() {
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&o.stderr).trim().to_string();
    if output.is_empty() {
        output = format!("exit status {}", o.status.code().unwrap_or(-1));
    }
    Err(Error::Systemctl { command: args.join(" "), output })
}

/// Whether this user's systemd answers (a container or a non-systemd distribution has none);
/// the window asks before offering its switch.
pub fn require_systemd() -> Result<(), Error> {
    let o = systemctl(&["show-environment"])?;
    if o.status.success() {
        Ok(())
    } else {
        Err(Error::NoSystemd(String::from_utf8_lossy(&o.stderr).trim().to_string()))
    }
}

/// Writes the unit (for this `smtp-desk` program) and runs `systemctl --user enable --now`.
pub fn enable() -> Result<Status, Error> {
    require_systemd()?;
    let program = super::agent::cli_program().ok_or(Error::NoProgram)?;
    let dir = unit_dir().ok_or_else(|| Error::Write { path: "~/.config/systemd/user".into(), message: "HOME is not set".into() })?;
    let path = dir.join(UNIT_NAME);
    let write = |e: std::io::Error| Error::Write { path: path.display().to_string(), message: e.to_string() };
    std::fs::create_dir_all(&dir).map_err(write)?;
    // Atomic: systemd never reads half a unit.
    let tmp = dir.join(format!(".{UNIT_NAME}.tmp"));
    std::fs::write(&tmp, unit_for(&program)).map_err(write)?;
    std::fs::rename(&tmp, &path).map_err(write)?;
    run(&["daemon-reload"])?;
    run(&["enable", "--now", UNIT_NAME])?;
    Ok(status())
}

/// Runs `systemctl --user disable --now` and removes the unit written by [`enable`].
pub fn disable() -> Result<Status, Error> {
    require_systemd()?;
    let path = unit_dir().map(|d| d.join(UNIT_NAME));
    run(&["disable", "--now", UNIT_NAME])?;
    if let Some(path) = &path {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Write { path: path.display().to_string(), message: e.to_string() }),
        }
    }
    run(&["daemon-reload"])?;
    Ok(status())
}

/// Where the service stands now (without systemd: not enabled, not active).
pub fn status() -> Status {
    let unit_path = unit_dir().map(|d| d.join(UNIT_NAME)).unwrap_or_else(|| PathBuf::from(UNIT_NAME));
    let says = |verb: &str, word: &str| {
        systemctl(&[verb, UNIT_NAME]).is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().next().is_some_and(|l| l.trim() == word))
    };
    Status { installed: unit_path.is_file(), enabled: says("is-enabled", "enabled"), active: says("is-active", "active"), unit_path }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_the_daemon_of_the_given_program() {
        let unit = unit_for(Path::new("/opt/smtp desk/smtp-desk"));
        assert!(unit.contains("\nExecStart=\"/opt/smtp desk/smtp-desk\" deliver --daemon\n"), "{unit}");
        assert!(unit.contains("Type=simple") && unit.contains("Restart=on-failure") && unit.contains("WantedBy=default.target"));
        assert!(PACKAGED_UNIT.contains("ExecStart=/usr/bin/smtp-desk deliver --daemon"));
    }
}
