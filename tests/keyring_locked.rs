//! A locked keyring is explained, not hidden: the password commands fail with "locked" and how to
//! unlock. In its own test binary because locking the session keyring would disturb other tests.

use std::process::{Command, Stdio};

/// Unlocks the session keyring again however the test ends.
struct Relock;

impl Drop for Relock {
    fn drop(&mut self) {
        let password = std::env::var("SMTP_DESK_SESSION_KEYRING_PASSWORD").unwrap_or_default();
        let mut child = Command::new("gnome-keyring-daemon")
            .args(["--replace", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon");
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(password.as_bytes());
        let _ = child.wait();
        // The replacement daemon needs a moment to take the bus name. Each check is a new
        // process: this one's keyring connection may still be waiting on the unanswered prompt.
        for _ in 0..50 {
            if smtp_desk_cli(&["password", "clear"]).status.success() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the keyring could not be unlocked again");
    }
}

#[test]
fn locked_keyring_gives_an_error_that_says_how_to_unlock() {
    assert!(
        std::env::var_os("SMTP_DESK_SESSION_KEYRING_PASSWORD").is_some(),
        "run inside scripts/session.sh: this test locks and unlocks a throwaway keyring"
    );
    // An entry must exist: a search that finds nothing needs no unlocking.
    let mut set = Command::new(env!("CARGO_BIN_EXE_smtp-desk")).args(["password", "set"]).stdin(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut set.stdin.take().unwrap(), b"locked-test-password").unwrap();
    assert!(set.wait().unwrap().success(), "keyring reachable before locking");
    let _restore = Relock;
    let lock = Command::new("gdbus")
        .args(["call", "--session", "--dest", "org.freedesktop.secrets", "--object-path", "/org/freedesktop/secrets"])
        .args(["--method", "org.freedesktop.Secret.Service.Lock", "[objectpath '/org/freedesktop/secrets/collection/login']"])
        .output()
        .expect("gdbus");
    assert!(lock.status.success(), "{}", String::from_utf8_lossy(&lock.stderr));

    // Under Xvfb the keyring shows an unlock prompt nobody answers: the wait must end.
    let started = std::time::Instant::now();
    let out = smtp_desk_cli(&["password", "clear"]);
    assert!(started.elapsed().as_secs() < 5, "the CLI waited {:?}", started.elapsed());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("keyring is locked") && err.contains("Unlock"), "{err}");
    assert!(!err.contains("locked-test-password"));
}

fn smtp_desk_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smtp-desk")).args(args).env("SMTP_DESK_KEYRING_TIMEOUT_SECS", "2").output().unwrap()
}
