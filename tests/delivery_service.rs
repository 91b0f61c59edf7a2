//! `smtp-desk deliver --install-service / --remove-service / --service-status`: the systemd user
//! unit written to ~/.config/systemd/user and `systemctl --user` asked to enable or disable it,
//! and a clear error where systemd does not run. systemctl is a stand-in script on PATH that
//! logs its arguments (a test must not change the machine's own systemd).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-desk");

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    /// A home folder and a PATH whose systemctl runs `script` (sh) and logs its arguments.
    fn new(script: Option<&str>) -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        if let Some(script) = script {
            let path = dir.path().join("bin/systemctl");
            let log = dir.path().join("systemctl.log");
            std::fs::write(&path, format!("#!/bin/sh\necho \"$*\" >> '{}'\n{script}\n", log.display())).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Home { dir }
    }

    fn run(&self, flag: &str) -> Output {
        Command::new(BIN)
            .args(["deliver", flag])
            .env_clear()
            .env("HOME", self.dir.path())
            .env("PATH", self.dir.path().join("bin"))
            .env("SMTP_DESK_CONFIG_DIR", self.dir.path().join("config"))
            .env("SMTP_DESK_DATA_DIR", self.dir.path().join("data"))
            .output()
            .unwrap()
    }

    fn unit(&self) -> PathBuf {
        self.dir.path().join(".config/systemd/user/smtp-desk-deliver.service")
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("systemctl.log")).unwrap_or_default().lines().map(String::from).collect()
    }
}

/// A systemctl that works: enable/disable flip a marker that is-enabled and is-active report.
/// Shell built-ins and /bin only: PATH holds nothing but the stand-in.
const WORKING: &str = r#"marker="${0%/*}/enabled"
case "$2" in
  enable) : > "$marker" ;;
  disable) /bin/rm -f "$marker" ;;
  is-enabled|is-active) if [ -e "$marker" ]; then [ "$2" = is-enabled ] && echo enabled || echo active; else echo disabled; exit 1; fi ;;
esac
exit 0"#;

#[test]
fn install_writes_the_unit_and_enables_it_remove_undoes_it() {
    let home = Home::new(Some(WORKING));
    let o = home.run("--install-service");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let unit = std::fs::read_to_string(home.unit()).unwrap();
    assert!(unit.contains(&format!("\nExecStart={BIN} deliver --daemon\n")), "{unit}");
    assert!(unit.contains("Type=simple\n") && unit.contains("Restart=on-failure\n"), "{unit}");
    let calls = home.calls();
    assert!(calls.contains(&"--user daemon-reload".to_string()), "{calls:?}");
    assert!(calls.contains(&"--user enable --now smtp-desk-deliver.service".to_string()), "{calls:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("enabled: yes") && out.contains("running: yes"), "{out}");

    let o = home.run("--service-status");
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("installed: yes"));

    let o = home.run("--remove-service");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!home.unit().exists(), "the unit is removed");
    assert!(home.calls().contains(&"--user disable --now smtp-desk-deliver.service".to_string()));
    assert!(String::from_utf8_lossy(&o.stdout).contains("enabled: no"));
}

#[test]
fn without_systemd_install_says_so_and_writes_nothing() {
    // systemctl present but no user manager (a container, a session without systemd).
    let home = Home::new(Some("echo 'Failed to connect to bus: No medium found' >&2; exit 1"));
    let o = home.run("--install-service");
    assert_eq!(o.status.code(), Some(69), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("systemd does not run for this user") && err.contains("Failed to connect to bus"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert!(!home.unit().exists());

    // No systemctl at all.
    let home = Home::new(None);
    let o = home.run("--install-service");
    assert_eq!(o.status.code(), Some(69));
    assert!(String::from_utf8_lossy(&o.stderr).contains("systemctl is not installed"));
    assert!(!Path::new(&home.unit()).exists());
}

#[test]
fn a_failing_systemctl_is_reported_with_its_words() {
    let home = Home::new(Some(r#"[ "$2" = enable ] && { echo 'Unit file is masked.' >&2; exit 1; }; exit 0"#));
    let o = home.run("--install-service");
    assert_eq!(o.status.code(), Some(70));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("`systemctl --user enable --now smtp-desk-deliver.service` failed: Unit file is masked."), "{err}");
}
