//! The outgoing-mail settings: the model, its validation, the settings file, and edits by key.

mod keys;
mod model;
mod store;
mod validate;

pub use keys::{set_key, split_host_port, Key, KEYS};
pub use model::*;
pub use store::{load, load_from, save, save_to, Loaded};
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
        }
    }
}
