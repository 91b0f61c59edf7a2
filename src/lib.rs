//! SMTP Desk's core library: the settings model, its validation and storage, and the password in the OS keyring.
//!
//! Nothing here knows about Tauri or any window: the `smtp-desk` command, the desktop app and the
//! tests all call these functions with plain Rust values.

pub mod account;
pub mod contract;
pub mod detect;
pub mod direct;
pub mod dns;
pub mod error;
pub mod health;
pub mod journal;
pub mod log;
pub mod machine;
pub mod oauth;
pub mod outbox;
pub mod paths;
pub mod policy;
pub mod secrets;
pub mod settings;
pub mod smtp;
pub mod system;

pub use error::{ErrorKind, ErrorReport};
