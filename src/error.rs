//! The one shape every domain error takes on its way to a person: `{ kind, message, hint?, field? }`.

use serde::Serialize;

/// What the window (and `--json` output) receives for any failure.
///
/// Built from a domain error; never carries a secret because no domain error holds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// A stable machine-readable category, e.g. `invalid_settings`, `keyring_locked`.
    pub kind: String,
    /// What happened, in plain words.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The settings field the error is about, as a dotted key (`relay.port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For invalid settings: every problem found, not only the first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<crate::settings::Issue>,
}

impl ErrorReport {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self { kind: kind.into(), message: message.into(), hint: None, field: None, issues: Vec::new() }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}
