//! The settings file: one JSON document in the OS config dir, shared by the window and the command
//! line.
//!
//! Reading never renames, rewrites or deletes anything: a file that cannot be used is reported and
//! the caller runs read-only on it. Every write is read-modify-write under an advisory lock on a
//! separate lock file (the settings file itself is replaced by rename), with the file's bytes read
//! once under that lock, so two writers never undo each other's changes.
//!
//! Every write also follows the admin policy (`policy::State::guard`): an edit that sets a locked
//! field to another value is refused; a value the file held from before a lock is replaced by the
//! locked one; a result that breaks a policy rule is refused. A write that would leave the file's
//! bytes as they are does not touch the file.

use super::merge::{merge, Conflict};
use super::{check, Error, Settings, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use ts_rs::TS;

/// The largest settings file read; the real one is about 1 KiB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// An editor that writes in place leaves the file truncated for a moment: a file that does not
/// parse is read once more after this pause before it is called broken.
const REREAD_PAUSE: Duration = Duration::from_millis(150);
/// How long a writer waits for another to finish (a write takes milliseconds).
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Settings as read from the file, and whether the file may be written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loaded {
    pub settings: Settings,
    /// What is wrong with the file, in words, when it is read-only.
    pub notice: Option<String>,
    /// Set when the file exists but cannot be used as it is: nothing writes it until it is fixed
    /// or explicitly replaced.
    pub read_only: Option<ReadOnly>,
    /// The file's bytes as read (None when there is no file), for telling later changes apart.
    #[serde(skip)]
    pub bytes: Option<Vec<u8>>,
}

/// Why the settings file may be read but not written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ReadOnly {
    pub path: PathBuf,
    #[serde(flatten)]
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Not valid settings JSON; `line` and `column` are 1-based, as editors count.
    Broken {
        line: usize,
        column: usize,
        problem: String,
    },
    TooLarge {
        bytes: u64,
    },
    Unreadable {
        problem: String,
    },
    /// Written by a newer SMTP Desk whose layout this one does not know.
    Newer {
        schema: u32,
    },
}

impl ReadOnly {
    /// What is wrong, naming the file and where in it.
    pub fn message(&self) -> String {
        let path = self.path.display();
        match &self.reason {
            Reason::Broken { line, column, problem } => {
                format!("The settings file {path} is not valid settings JSON: line {line}, column {column}: {problem}.")
            }
            Reason::TooLarge { bytes } => {
                format!("The settings file {path} is {bytes} bytes, larger than the {MAX_FILE_BYTES} bytes a settings file can be.")
            }
            Reason::Unreadable { problem } => format!("The settings file {path} could not be read: {problem}."),
            Reason::Newer { schema } => format!(
                "The settings file {path} was written by a newer SMTP Desk (settings schema {schema}; this one knows schema {SCHEMA_VERSION})."
            ),
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self.reason {
            Reason::Newer { .. } => "Use the newer SMTP Desk to change the settings. They are shown here but not saved.".into(),
            Reason::Unreadable { .. } => "Check the file's owner and permissions. Nothing is saved until it can be read.".into(),
            _ => "Fix the file in an editor, or start from defaults (the file is kept as a backup). Nothing is saved until then.".into(),
        }
    }
}

/// Loads the settings file from its usual place.
pub fn load() -> Result<Loaded, Error> {
    load_from(&crate::paths::settings_file()?)
}

/// Reads settings from `path` without changing anything on disk. A missing file gives defaults;
/// a file that cannot be used gives defaults (or, for a newer schema, what could be read) marked
/// read-only. Fails only when the directory itself is unsafe.
pub fn load_from(path: &Path) -> Result<Loaded, Error> {
    check_dir(dir_of(path))?;
    Ok(read_settled(path))
}

/// What a read made of the file's bytes.
enum Contents {
    Missing,
    Usable(Settings),
    ReadOnly { settings: Settings, reason: Reason },
}

/// Reads and parses the file, once more after a pause if it does not parse.
fn read_settled(path: &Path) -> Loaded {
    let mut read = read_once(path);
    if matches!(read.1, Contents::ReadOnly { reason: Reason::Broken { .. }, .. }) {
        std::thread::sleep(REREAD_PAUSE);
        read = read_once(path);
    }
    let (bytes, contents) = read;
    match contents {
        Contents::Missing => Loaded { settings: Settings::default(), notice: None, read_only: None, bytes },
        Contents::Usable(settings) => Loaded { settings, notice: None, read_only: None, bytes },
        Contents::ReadOnly { settings, reason } => {
            let read_only = ReadOnly { path: path.to_path_buf(), reason };
            tracing::warn!(path = %path.display(), "settings file is read-only: {}", read_only.message());
            Loaded { settings, notice: Some(format!("{} {}", read_only.message(), read_only.hint())), read_only: Some(read_only), bytes }
        }
    }
}

fn read_once(path: &Path) -> (Option<Vec<u8>>, Contents) {
    match read_bytes(path) {
        Ok(None) => (None, Contents::Missing),
        Ok(Some(bytes)) if bytes.len() as u64 > MAX_FILE_BYTES => {
            let size = fs::metadata(path).map(|m| m.len()).unwrap_or(bytes.len() as u64);
            (Some(bytes), Contents::ReadOnly { settings: Settings::default(), reason: Reason::TooLarge { bytes: size } })
        }
        Ok(Some(bytes)) => {
            let contents = match parse(&bytes) {
                Ok(settings) => Contents::Usable(settings),
                Err((settings, reason)) => Contents::ReadOnly { settings, reason },
            };
            (Some(bytes), contents)
        }
        Err(e) => (None, Contents::ReadOnly { settings: Settings::default(), reason: Reason::Unreadable { problem: e.to_string() } }),
    }
}

/// The file's bytes, at most [`MAX_FILE_BYTES`] + 1 of them (one more tells a file that is too
/// large); `None` when there is no file.
pub fn read_bytes(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Parses a settings file's bytes. On failure: the settings to run on (defaults, or for a newer
/// schema what this build could read) and why the file is read-only.
// Called once per read of a 1 KiB file: the size of the error is of no consequence.
#[allow(clippy::result_large_err)]
pub fn parse(bytes: &[u8]) -> Result<Settings, (Settings, Reason)> {
    /// Only the version, from a file whose other fields this build may not know.
    #[derive(Deserialize)]
    struct Version {
        schema: Option<u32>,
    }
    match serde_json::from_slice::<Settings>(bytes) {
        Ok(s) if s.schema > SCHEMA_VERSION => {
            let schema = s.schema;
            Err((Settings { schema: SCHEMA_VERSION, ..s }, Reason::Newer { schema }))
        }
        Ok(s) => Ok(Settings { schema: SCHEMA_VERSION, ..s }),
        Err(e) => {
            if let Ok(Version { schema: Some(schema) }) = serde_json::from_slice::<Version>(bytes) {
                if schema > SCHEMA_VERSION {
                    return Err((Settings::default(), Reason::Newer { schema }));
                }
            }
            Err((Settings::default(), broken(&e)))
        }
    }
}

fn broken(e: &serde_json::Error) -> Reason {
    // serde_json's text ends with " at line L column C", given separately here.
    let text = e.to_string();
    let problem = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    Reason::Broken { line: e.line(), column: e.column().max(1), problem }
}

/// How a write treats a file that is read-only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Keep the unusable file as a uniquely named backup and start from defaults.
    pub replace_broken_file: bool,
}

/// The file as a write left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub settings: Settings,
    /// What the file held just before this write, read under the same lock (defaults when there
    /// was no file or it was replaced): the event log's "old" values.
    pub previous: Settings,
    pub bytes: Vec<u8>,
    /// Where an unusable file was kept, when it was replaced.
    pub backup: Option<PathBuf>,
    /// Set when the admin policy file is invalid: the write went through without it (its locks
    /// are unknown) and nothing is sent until it is fixed. Callers show it as a warning.
    pub policy_problem: Option<String>,
}

/// Reads the file under the lock (bytes read once), lets `change` edit what it holds now,
/// applies the admin policy from its usual place, validates the result and writes it atomically.
/// Nothing is written if `change` fails, the result breaks the policy or is invalid, or the file
/// is read-only (unless `options` says to replace it).
pub fn modify(path: &Path, options: WriteOptions, change: impl FnOnce(&mut Settings) -> Result<(), Error>) -> Result<Written, Error> {
    modify_with(path, options, &crate::policy::load(), change)
}

/// [`modify`] under the policy `policy` (tests, and callers that loaded it already to report it).
pub fn modify_with(
    path: &Path,
    options: WriteOptions,
    policy: &crate::policy::State,
    change: impl FnOnce(&mut Settings) -> Result<(), Error>,
) -> Result<Written, Error> {
    let dir = dir_of(path);
    check_dir(dir)?;
    create_private_dir(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    check_dir(dir)?;
    let _lock = lock(path)?;
    let loaded = read_settled(path);
    let mut backup = None;
    let previous = loaded.settings.clone();
    let mut settings = match loaded.read_only {
        None => loaded.settings,
        Some(read_only) if options.replace_broken_file && !matches!(read_only.reason, Reason::Unreadable { .. }) => {
            backup = Some(keep_backup(path)?);
            Settings::default()
        }
        Some(read_only) => return Err(Error::ReadOnly(Box::new(read_only))),
    };
    let before = settings.clone();
    change(&mut settings)?;
    policy.guard(&before, &mut settings)?;
    let unchanged = if backup.is_none() { loaded.bytes.as_deref() } else { None };
    let bytes = write_locked(path, &settings, unchanged)?;
    let policy_problem = policy.ready().err().map(|e| e.to_string());
    Ok(Written { settings, previous, bytes, backup, policy_problem })
}

/// A form's save: the fields that differ between `base` (what the form read) and `edited` are
/// applied onto the file as it is now. See [`merge`] for conflicts and `keep_mine`.
pub fn update(path: &Path, base: &Settings, edited: &Settings, keep_mine: &[String]) -> Result<Written, Error> {
    modify(path, WriteOptions::default(), |current| {
        *current = merge(base, edited, current, keep_mine).map_err(Error::Conflict)?;
        Ok(())
    })
}

/// "Start from defaults": keeps the current (unusable) file as a backup and writes defaults.
pub fn replace_broken(path: &Path) -> Result<Written, Error> {
    modify(path, WriteOptions { replace_broken_file: true }, |s| {
        *s = Settings::default();
        Ok(())
    })
}

/// Writes `settings` whole, whatever the file holds now (still under the lock). For tests and
/// first-time set-up; editors use [`update`] or [`modify`].
pub fn save_to(path: &Path, settings: &Settings) -> Result<(), Error> {
    modify(path, WriteOptions::default(), |s| {
        *s = settings.clone();
        Ok(())
    })
    .map(|_| ())
}

/// Validates `settings` and writes them to `path` atomically: a private temp file in the same
/// directory, flushed, renamed over the old file, then the directory flushed so the rename itself
/// survives a crash. The temp file is removed on every error (it deletes itself when dropped).
/// When the file holds `current` and that is what would be written, it is left alone.
fn write_locked(path: &Path, settings: &Settings, current: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    let report = check(settings);
    if !report.is_ok() {
        return Err(Error::Invalid(report.errors));
    }
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let dir = dir_of(path);
    let stored = Settings { schema: SCHEMA_VERSION, ..settings.clone() };
    let mut json = serde_json::to_vec_pretty(&stored).expect("settings always serialise");
    json.push(b'\n');
    if current == Some(json.as_slice()) {
        return Ok(json);
    }
    // tempfile creates the file 0600 on Unix: settings are private even though they hold no secret.
    let mut tmp = tempfile::Builder::new().prefix(".settings.json.").suffix(".tmp").tempfile_in(dir).map_err(io)?;
    tmp.write_all(&json).and_then(|_| tmp.as_file().sync_all()).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    sync_dir(dir).map_err(io)?;
    Ok(json)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    // Windows has no directory handle to flush; NTFS journals the rename.
    Ok(())
}

/// Copies the file beside itself under a name no earlier backup has (`create_new`, never over one).
fn keep_backup(path: &Path) -> Result<PathBuf, Error> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut source = fs::File::open(path).map_err(io)?;
    for n in 0..1000u32 {
        let name = match n {
            0 => format!("{}.broken-{stamp}", path.display()),
            n => format!("{}.broken-{stamp}-{n}", path.display()),
        };
        let backup = PathBuf::from(name);
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&backup) {
            Ok(mut out) => {
                let copied = std::io::copy(&mut source, &mut out).and_then(|_| out.sync_all());
                if let Err(e) = copied {
                    drop(out);
                    let _ = fs::remove_file(&backup);
                    return Err(io(e));
                }
                return Ok(backup);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "no free backup name")))
}

/// An exclusive advisory lock on `settings.json.lock`, released when dropped. A separate file,
/// because the settings file is replaced on every write and a lock on it would be lost.
fn lock(path: &Path) -> Result<fs::File, Error> {
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let io = |source| Error::Io { path: lock_path.clone(), source };
    let mut opts = fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts.open(&lock_path).map_err(io)?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(fs::TryLockError::WouldBlock) => return Err(Error::Locked { path: lock_path, waited_secs: LOCK_WAIT.as_secs() }),
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
}

fn dir_of(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Refuses a directory other users may write to: they could swap the settings (and with them the
/// server the password is sent to). A directory that does not exist yet is fine.
#[cfg(unix)]
fn check_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    match fs::metadata(dir) {
        Ok(meta) if meta.permissions().mode() & 0o022 != 0 => {
            Err(Error::UnsafeDir { dir: dir.to_path_buf(), mode: meta.permissions().mode() & 0o7777 })
        }
        _ => Ok(()),
    }
}

#[cfg(not(unix))]
fn check_dir(_dir: &Path) -> Result<(), Error> {
    // The per-user config dir on Windows and macOS is private by default ACLs.
    Ok(())
}

/// The conflicts of a refused save, for the error's field list.
pub(super) fn conflict_message(c: &Conflict) -> String {
    format!("was changed in the file to {} since this edit began (yours: {})", c.theirs, c.mine)
}
