//! System mode's SMTP password: an encrypted systemd credential (`systemd-creds encrypt`) in
//! `/etc/smtp-desk/credentials/NAME.cred`, or, only where the admin asks for it, a root-only
//! 0600 file `/etc/smtp-desk/credentials/NAME`.
//!
//! Reading tries, in order: `$CREDENTIALS_DIRECTORY/NAME` (the system service, which systemd
//! gives the decrypted password through `LoadCredentialEncrypted=`), then decrypting the `.cred`
//! file with `systemd-creds decrypt` (root without systemd's help), then the 0600 file. NAME is
//! `smtp-password` for Global's password and `smtp-password-PROFILE` for a named profile's.
//! A password is never passed on a command line: it goes to `systemd-creds` on standard input.

use super::credentials_dir;
use crate::error::{ErrorKind, ErrorReport};
use crate::secrets::{Password, DEFAULT_PROFILE};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `systemd-creds` may take (it reads a key file; a TPM can be slow).
const CREDS_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("only root can read or change the system password ({0})")]
    NotRoot(PathBuf),
    #[error("the system password file {path} can be read by others (mode {mode:o})")]
    Exposed { path: PathBuf, mode: u32 },
    #[error("systemd-creds failed: {0}")]
    Creds(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(transparent)]
    Password(#[from] crate::secrets::Error),
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        match e {
            Error::NotRoot(_) => ErrorReport::new(ErrorKind::KeyringUnavailable, e.to_string())
                .hint("Run it as root (sudo), or let the system service (systemctl start smtp-desk) use the password."),
            Error::Exposed { path, .. } => ErrorReport::new(ErrorKind::KeyringFailed, e.to_string())
                .hint(format!("Make it root's only: chown root:root {0} && chmod 600 {0}", path.display())),
            Error::Creds(_) => ErrorReport::new(ErrorKind::KeyringFailed, e.to_string()).hint(
                "Check that systemd-creds works on this machine (systemd-creds setup makes the host key), \
                 then save the password again: smtp-desk password set --system",
            ),
            Error::Io { .. } => {
                ErrorReport::new(ErrorKind::KeyringFailed, e.to_string()).hint("Check the folder's owner and mode, then try again.")
            }
            Error::Password(p) => ErrorReport::from(p),
        }
    }
}

/// How the system password is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An encrypted systemd credential (`NAME.cred`).
    Encrypted,
    /// A root-only 0600 file holding the password as it is (`NAME`), at the admin's choice.
    PlainFile,
}

/// The credential name of a password entry (`secrets` naming: "default" is Global's).
pub fn name_of(entry: &str) -> String {
    if entry == DEFAULT_PROFILE {
        "smtp-password".to_string()
    } else {
        format!("smtp-password-{entry}")
    }
}

/// Where a password entry is kept, as `kind`.
pub fn path_of(entry: &str, kind: Kind) -> PathBuf {
    let name = name_of(entry);
    match kind {
        Kind::Encrypted => credentials_dir().join(format!("{name}.cred")),
        Kind::PlainFile => credentials_dir().join(name),
    }
}

/// Which form the entry's password is saved in, if any (looks at the files only). Only root can
/// look into the credentials folder: others get [`Error::NotRoot`], never a wrong "none".
pub fn saved_kind(entry: &str) -> Result<Option<Kind>, Error> {
    for kind in [Kind::Encrypted, Kind::PlainFile] {
        let path = path_of(entry, kind);
        if path.try_exists().map_err(|e| io(&path, e))? {
            return Ok(Some(kind));
        }
    }
    Ok(None)
}

/// The password saved for `entry`, from the first place that has it (see the module doc).
pub fn get(entry: &str) -> Result<Option<Password>, Error> {
    let name = name_of(entry);
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) {
        let given = Path::new(&dir).join(&name);
        if given.is_file() {
            return read_file(&given).map(Some);
        }
    }
    let encrypted = path_of(entry, Kind::Encrypted);
    if encrypted.exists() {
        if !super::is_root() {
            return Err(Error::NotRoot(encrypted));
        }
        let out = run_creds(&["decrypt", &format!("--name={name}")], &encrypted, None)?;
        let text = String::from_utf8(out).map_err(|_| Error::Creds("the credential is not UTF-8 text".into()))?;
        return Ok(Some(Password::new(text)?));
    }
    let plain = path_of(entry, Kind::PlainFile);
    if plain.exists() {
        if !super::is_root() {
            return Err(Error::NotRoot(plain));
        }
        let meta = std::fs::metadata(&plain).map_err(|e| io(&plain, e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 || meta.uid() != 0 {
            return Err(Error::Exposed { path: plain, mode });
        }
        return read_file(&plain).map(Some);
    }
    Ok(None)
}

/// Saves `password` for `entry` as `kind` (root only), replacing the other form if it was there,
/// so one place holds it. The file is written whole under a temporary name, then renamed.
pub fn set(entry: &str, password: &Password, kind: Kind) -> Result<PathBuf, Error> {
    let dir = credentials_dir();
    if !super::is_root() {
        return Err(Error::NotRoot(dir));
    }
    super::prepare_dirs().map_err(|e| io(&dir, e))?;
    let path = path_of(entry, kind);
    let temp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temp);
    match kind {
        Kind::Encrypted => {
            let name = name_of(entry);
            // Made 0600 before systemd-creds writes into it: the ciphertext is root's too.
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp).map_err(|e| io(&temp, e))?;
            if let Err(e) = run_creds(&["encrypt", &format!("--name={name}"), "-"], &temp, Some(password.expose().as_bytes())) {
                let _ = std::fs::remove_file(&temp);
                return Err(e);
            }
            std::fs::set_permissions(&temp, PermissionsExt::from_mode(0o600)).map_err(|e| io(&temp, e))?;
        }
        Kind::PlainFile => {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp).map_err(|e| io(&temp, e))?;
            f.write_all(password.expose().as_bytes()).and_then(|()| f.sync_all()).map_err(|e| io(&temp, e))?;
        }
    }
    std::fs::rename(&temp, &path).map_err(|e| io(&path, e))?;
    let other = match kind {
        Kind::Encrypted => Kind::PlainFile,
        Kind::PlainFile => Kind::Encrypted,
    };
    let other = path_of(entry, other);
    if other.exists() {
        std::fs::remove_file(&other).map_err(|e| io(&other, e))?;
    }
    Ok(path)
}

/// Removes `entry`'s password in either form (root only). Whether one was there.
pub fn clear(entry: &str) -> Result<bool, Error> {
    if !super::is_root() {
        return Err(Error::NotRoot(credentials_dir()));
    }
    let mut removed = false;
    for kind in [Kind::Encrypted, Kind::PlainFile] {
        let path = path_of(entry, kind);
        match std::fs::remove_file(&path) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path, e)),
        }
    }
    Ok(removed)
}

fn read_file(path: &Path) -> Result<Password, Error> {
    let mut text = String::new();
    std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)).map_err(|e| io(path, e))?;
    Ok(Password::new(text)?)
}

fn io(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        return Error::NotRoot(path.to_path_buf());
    }
    Error::Io { path: path.to_path_buf(), message: e.to_string() }
}

/// Runs `systemd-creds ARGS… FILE` (`decrypt`: FILE is the input, the output is returned;
/// `encrypt … -`: `input` is the standard input, FILE the output), within [`CREDS_TIMEOUT`].
/// Its error output never holds the password (it is never on the command line).
fn run_creds(args: &[&str], file: &Path, input: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    let mut cmd = Command::new("systemd-creds");
    cmd.args(args).arg(file);
    if input.is_none() {
        cmd.arg("-");
    }
    let mut child = cmd
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Creds(format!("could not run systemd-creds: {e} (it comes with systemd 250 or newer)")))?;
    if let Some(bytes) = input {
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(bytes).map_err(|e| Error::Creds(e.to_string()))?;
    }
    let (mut stdout, mut stderr) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = String::new();
        let _ = stderr.read_to_string(&mut b);
        b
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(|e| Error::Creds(e.to_string()))? {
            Some(s) => break s,
            None if started.elapsed() > CREDS_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Creds(format!("it did not finish within {} s", CREDS_TIMEOUT.as_secs())));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let (out, err) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    if !status.success() {
        // "not located on encrypted media, using anyway" is a note, not the failure.
        let why: Vec<&str> = err.lines().filter(|l| !l.contains("using anyway")).collect();
        return Err(Error::Creds(format!("{} ({status})", why.join("; ").trim())));
    }
    Ok(out)
}

/// The system credential behind the [`crate::secrets::Keyring`] trait, so a settings save or an
/// import that carries a password (`account::save`, `config import --password-stdin`) keeps it
/// here in system mode, with the same all-or-nothing rollback as the keyring's. New passwords are
/// saved encrypted; the listener's password is not offered in system mode.
pub struct SystemKeyring;

impl SystemKeyring {
    fn map(e: Error) -> crate::secrets::Error {
        use crate::secrets::Error as S;
        match e {
            Error::Password(p) => p,
            Error::NotRoot(_) => S::Unavailable(e.to_string()),
            other => S::Platform(other.to_string()),
        }
    }

    fn no_listener() -> crate::secrets::Error {
        crate::secrets::Error::Unavailable("the SMTP listener's password is not offered in system mode".into())
    }
}

impl crate::secrets::Keyring for SystemKeyring {
    fn get(&self, profile: &str) -> Result<Option<Password>, crate::secrets::Error> {
        get(profile).map_err(Self::map)
    }
    fn set(&self, profile: &str, password: &Password) -> Result<(), crate::secrets::Error> {
        set(profile, password, Kind::Encrypted).map(|_| ()).map_err(Self::map)
    }
    fn clear(&self, profile: &str) -> Result<(), crate::secrets::Error> {
        clear(profile).map(|_| ()).map_err(Self::map)
    }
    fn get_listener(&self, _profile: &str) -> Result<Option<Password>, crate::secrets::Error> {
        Ok(None)
    }
    fn set_listener(&self, _profile: &str, _password: &Password) -> Result<(), crate::secrets::Error> {
        Err(Self::no_listener())
    }
    fn clear_listener(&self, _profile: &str) -> Result<(), crate::secrets::Error> {
        Ok(())
    }
}
