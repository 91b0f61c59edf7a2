//! The settings file: one JSON document in the OS config dir, written atomically, shared by the
//! window and the command line.

use super::{check, Error, Settings, SCHEMA_VERSION};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Settings as loaded, with a notice when the file could not be used as it was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Loaded {
    pub settings: Settings,
    /// Set when the file was unreadable or corrupt: what happened and where the old file went.
    pub notice: Option<String>,
}

/// Loads the settings file from its usual place.
pub fn load() -> Loaded {
    load_from(&crate::paths::settings_file())
}

/// Loads settings from `path`. Never fails: a missing file gives defaults; a corrupt or unreadable
/// one is moved aside as a backup and the defaults are used, with a notice saying so.
pub fn load_from(path: &Path) -> Loaded {
    let text = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded { settings: Settings::default(), notice: None };
        }
        Err(e) => return set_aside(path, &format!("could not be read ({e})")),
    };
    match serde_json::from_slice::<Settings>(&text) {
        Ok(s) if s.schema > SCHEMA_VERSION => {
            set_aside(path, &format!("was written by a newer SMTP Desk (schema {}, this one knows {SCHEMA_VERSION})", s.schema))
        }
        Ok(mut s) => {
            s.schema = SCHEMA_VERSION;
            Loaded { settings: s, notice: None }
        }
        Err(e) => set_aside(path, &format!("is not valid settings JSON ({e})")),
    }
}

fn set_aside(path: &Path, why: &str) -> Loaded {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let backup = PathBuf::from(format!("{}.corrupt-{stamp}", path.display()));
    let kept = match fs::rename(path, &backup) {
        Ok(()) => format!("it was kept as {}", backup.display()),
        Err(e) => format!("it could not be moved aside either ({e}) and was left in place"),
    };
    tracing::warn!(path = %path.display(), "settings file unusable: {why}");
    Loaded {
        settings: Settings::default(),
        notice: Some(format!("The settings file {} {why}; {kept}. Default settings are shown.", path.display())),
    }
}

/// Validates and saves to the usual place.
pub fn save(settings: &Settings) -> Result<(), Error> {
    save_to(&crate::paths::settings_file(), settings)
}

/// Validates `settings` and writes them to `path` atomically: a temp file in the same
/// directory, flushed to disk, then renamed over the old file. Invalid settings are refused whole.
pub fn save_to(path: &Path, settings: &Settings) -> Result<(), Error> {
    let report = check(settings);
    if !report.is_ok() {
        return Err(Error::Invalid(report.errors));
    }
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let mut stored = settings.clone();
    stored.schema = SCHEMA_VERSION;
    let mut json = serde_json::to_vec_pretty(&stored).expect("settings always serialise");
    json.push(b'\n');

    let mut tmp = tempfile_in(dir).map_err(io)?;
    tmp.1.write_all(&json).and_then(|_| tmp.1.sync_all()).map_err(io)?;
    fs::rename(&tmp.0, path).map_err(|e| {
        let _ = fs::remove_file(&tmp.0);
        io(e)
    })?;
    Ok(())
}

/// A new private file beside the target, so the rename stays on one file system.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, fs::File)> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    for n in 0..100u32 {
        let p = dir.join(format!(".settings.json.{}.{n}.tmp", std::process::id()));
        match opts.open(&p) {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "no free temporary file name"))
}
