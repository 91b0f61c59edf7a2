//! A private SMTP Desk for the outbox's command-line tests: its own settings and data dirs, the
//! `smtp-desk` command pointed at them, and relay settings for a test server on loopback.

use serde_json::Value;
use smtp_desk::outbox::Store;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-desk");

pub struct Desk {
    pub config: tempfile::TempDir,
    pub data: tempfile::TempDir,
}

impl Desk {
    /// Relay mode to 127.0.0.1:`port`, no TLS, no login, a 5 s step timeout; `extra` adds
    /// `KEY VALUE` pairs to the same `config set`.
    pub fn relay(port: u16, extra: &[&str]) -> Desk {
        let d = Desk { config: tempfile::tempdir().unwrap(), data: tempfile::tempdir().unwrap() };
        let port = port.to_string();
        let mut args = vec!["config", "set", "mode", "relay", "relay.host", "127.0.0.1", "relay.port", &port, "relay.security", "none"];
        args.extend_from_slice(&[
            "sender.from_address",
            "me@example.com",
            "local_recipient",
            "admin@example.com",
            "limits.timeout_secs",
            "5",
        ]);
        args.extend_from_slice(extra);
        ok(&d.run(&args, b""));
        d
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("SMTP_DESK_CONFIG_DIR", self.config.path()).env("SMTP_DESK_DATA_DIR", self.data.path());
        c
    }

    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self.cmd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    /// The outbox's database file.
    pub fn path(&self) -> PathBuf {
        self.data.path().join("outbox.sqlite3")
    }

    pub fn store(&self) -> Store {
        Store::open(&self.path()).unwrap()
    }

    /// `queue list --json`, oldest first (the command lists newest first).
    pub fn list(&self) -> Vec<Value> {
        let o = self.run(&["queue", "list", "--json", "--limit", "100000"], b"");
        ok(&o);
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).rev().collect()
    }
}

/// Asserts the command succeeded, showing its stderr when it did not.
pub fn ok(o: &Output) {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
}
