//! The outgoing-mail settings: the model, its validation, the settings file, and edits by key.

pub mod fields;
mod keys;
mod merge;
mod model;
pub mod profiles;
mod store;
pub mod transfer;
mod validate;

pub use keys::{set_key, split_host_port, Key, KEYS};
pub use merge::{merge, Conflict};
pub use model::*;
pub use store::{
    load, load_from, modify, modify_with, parse, read_bytes, replace_broken, save_to, update, Loaded, ReadOnly, Reason, WriteOptions,
    Written, MAX_FILE_BYTES,
};
pub(crate) use validate::host_name_problem;
pub use validate::{check, is_loopback_host, Issue, Report};

use crate::error::{ErrorKind, ErrorReport};
use std::path::PathBuf;

/// Everything that can go wrong with settings.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the settings are not valid: {}", summary(.0))]
    Invalid(Vec<Issue>),
    #[error("unknown setting '{0}'")]
    UnknownKey(String),
    #[error("{key}: {message}")]
    BadValue { key: String, message: String },
    #[error("could not read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The file exists but cannot be used as it is; writing it would lose what is in it.
    #[error("{}", .0.message())]
    ReadOnly(Box<ReadOnly>),
    /// Fields changed both in this edit and in the file since the edit began.
    #[error("the settings file changed while you were editing: {} {} changed there too", conflict_fields(.0), if .0.len() == 1 { "was" } else { "were" })]
    Conflict(Vec<Conflict>),
    #[error("another SMTP Desk has been writing the settings for over {waited_secs} s (lock file {path})")]
    Locked { path: PathBuf, waited_secs: u64 },
    #[error("the settings directory {dir} may be written by other users (mode {mode:o}), so its settings cannot be trusted")]
    UnsafeDir { dir: PathBuf, mode: u32 },
    #[error("there is no home directory to keep the settings in")]
    NoConfigDir,
    #[error("there is no profile '{name}'")]
    UnknownProfile { name: String, known: Vec<String> },
    #[error("there is already a profile named '{0}'")]
    ProfileExists(String),
    #[error("profile name {name:?}: {problem}")]
    BadProfileName { name: String, problem: String },
    #[error("{key} is set for the whole machine, in Global only; a profile can't override it")]
    GlobalOnly { key: String },
    #[error(transparent)]
    Policy(#[from] crate::policy::Error),
}

fn conflict_fields(conflicts: &[Conflict]) -> String {
    conflicts.iter().map(|c| c.field.as_str()).collect::<Vec<_>>().join(", ")
}

fn summary(issues: &[Issue]) -> String {
    issues.iter().map(|i| format!("{}: {}", i.field, i.message)).collect::<Vec<_>>().join("; ")
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        match e {
            Error::Invalid(issues) => {
                let mut r = ErrorReport::new(ErrorKind::InvalidSettings, e.to_string())
                    .hint("Correct the fields marked, then save again. Nothing was saved.");
                r.field = issues.first().map(|i| i.field.clone());
                r.issues = issues.clone();
                r
            }
            Error::UnknownKey(_) => ErrorReport::new(ErrorKind::UnknownKey, e.to_string())
                .hint(format!("Known settings: {}", KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", "))),
            Error::BadValue { key, .. } => {
                let mut r = ErrorReport::new(ErrorKind::BadValue, e.to_string());
                r.field = Some(key.clone());
                r
            }
            Error::Io { path, .. } => ErrorReport::new(ErrorKind::SettingsIo, e.to_string())
                .hint(format!("Check that {} exists and that you may write to it.", path.parent().unwrap_or(path).display())),
            Error::ReadOnly(read_only) => ErrorReport::new(ErrorKind::SettingsReadOnly, e.to_string()).hint(read_only.hint()),
            Error::Conflict(conflicts) => {
                let mut r = ErrorReport::new(ErrorKind::SettingsConflict, e.to_string())
                    .hint("Reload to take the file's values, or keep yours and save again. Nothing was saved.");
                r.field = conflicts.first().map(|c| c.field.clone());
                r.issues = conflicts.iter().map(|c| Issue { field: c.field.clone(), message: store::conflict_message(c) }).collect();
                r
            }
            Error::Locked { .. } => ErrorReport::new(ErrorKind::SettingsLocked, e.to_string())
                .hint("Wait for the other program to finish (or end it), then try again. Nothing was saved."),
            Error::UnsafeDir { dir, .. } => ErrorReport::new(ErrorKind::SettingsUnsafeDir, e.to_string())
                .hint(format!("Make it private: chmod go-w '{}' (or chmod 700).", dir.display())),
            Error::NoConfigDir => ErrorReport::new(ErrorKind::NoConfigDir, e.to_string())
                .hint("Set HOME, or set SMTP_DESK_CONFIG_DIR to a private directory for the settings."),
            Error::UnknownProfile { known, .. } => ErrorReport::new(ErrorKind::UnknownProfile, e.to_string())
                .hint(format!("Profiles: {}. Create one with `smtp-desk profile create NAME`.", known.join(", "))),
            Error::ProfileExists(_) => ErrorReport::new(ErrorKind::ProfileExists, e.to_string())
                .hint("Choose another name, or rename or delete that profile first."),
            Error::BadProfileName { .. } => {
                let mut r = ErrorReport::new(ErrorKind::BadProfileName, e.to_string());
                r.field = Some("profile".into());
                r
            }
            Error::GlobalOnly { key } => {
                let mut r = ErrorReport::new(ErrorKind::GlobalOnlyField, e.to_string())
                    .hint("Set it in Global (`--profile global`); every profile uses it.");
                r.field = Some(key.clone());
                r
            }
            Error::Policy(p) => p.into(),
        }
    }
}
