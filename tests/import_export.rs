//! Configuration files: export → import round-trips byte for byte, a bad file changes nothing and
//! lists every problem, old schemas migrate, newer ones are refused, the admin policy refuses an
//! import that breaks it, and `--password-stdin` saves the password only with the settings (real
//! keyring, under scripts/session.sh).

mod support;

use smtp_desk::policy::State;
use smtp_desk::secrets::{self, Keyring, Password};
use smtp_desk::settings::{self, profiles, transfer, Mode, Settings};
use std::path::Path;
use std::process::Output;

fn cli(config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    support::cli_in(config, &config.join("no-policy.json"), args, stdin)
}

fn cli_with_policy(config: &Path, policy: &Path, args: &[&str]) -> Output {
    support::cli_in(config, policy, args, None)
}

use support::said as text;

/// A machine's settings: Global relays, two named profiles, one the default.
fn organised() -> Settings {
    let mut s = Settings::default();
    s.profile.mode = Mode::Relay;
    s.profile.relay.host = "smtp.corp.example".into();
    s.profile.sender.from_address = "server@corp.example".into();
    s.profile.limits.batch_size = 42;
    profiles::create(&mut s, "alerts", None).unwrap();
    profiles::set_override(&mut s, "alerts", "sender.from_address", "alerts@corp.example".into()).unwrap();
    profiles::create(&mut s, "marketing-site", None).unwrap();
    profiles::set_override(&mut s, "marketing-site", "relay.host", "mail.marketing.example".into()).unwrap();
    profiles::set_override(&mut s, "marketing-site", "relay.port", 465.into()).unwrap();
    profiles::set_override(&mut s, "marketing-site", "relay.security", "implicit_tls".into()).unwrap();
    profiles::set_default(&mut s, "alerts").unwrap();
    s
}

fn seeded(settings: &Settings) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    settings::modify_with(&dir.path().join("settings.json"), Default::default(), &State::Absent, |s| {
        *s = settings.clone();
        Ok(())
    })
    .unwrap();
    dir
}

#[test]
fn export_then_import_into_a_fresh_machine_is_byte_for_byte_identical_and_idempotent() {
    let source = seeded(&organised());
    let file = source.path().join("site.json");
    let out = cli(source.path(), &["config", "export", "--output", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = cli(source.path(), &["config", "export"], None);
    assert_eq!(stdout.stdout, std::fs::read(&file).unwrap(), "stdout and --output agree");
    let exported = String::from_utf8(stdout.stdout).unwrap();
    assert!(exported.contains("\"schema\": 2") && !exported.to_lowercase().contains("password\""), "{exported}");

    let fresh = tempfile::tempdir().unwrap();
    let out = cli(fresh.path(), &["config", "import", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("changed:"), "{}", text(&out));
    let a = std::fs::read(source.path().join("settings.json")).unwrap();
    let b = std::fs::read(fresh.path().join("settings.json")).unwrap();
    assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b.clone()).unwrap());

    let mtime = std::fs::metadata(fresh.path().join("settings.json")).unwrap().modified().unwrap();
    let again = cli(fresh.path(), &["config", "import", file.to_str().unwrap()], None);
    assert!(again.status.success(), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("unchanged:"), "{}", text(&again));
    assert_eq!(std::fs::read(fresh.path().join("settings.json")).unwrap(), b);
    assert_eq!(std::fs::metadata(fresh.path().join("settings.json")).unwrap().modified().unwrap(), mtime, "the file is not even rewritten");

    // The import was recorded, naming the file.
    let events = cli(fresh.path(), &["events", "--json"], None);
    assert!(String::from_utf8_lossy(&events.stdout).contains("site.json"), "{}", text(&events));
}

#[test]
fn one_profile_exports_and_imports_alone() {
    let source = seeded(&organised());
    let file = source.path().join("marketing.json");
    let out = cli(source.path(), &["config", "export", "--profile", "marketing-site", "--output", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let mut other = Settings::default();
    other.profile.mode = Mode::Relay;
    other.profile.relay.host = "smtp.elsewhere.example".into();
    other.profile.sender.from_address = "x@elsewhere.example".into();
    profiles::create(&mut other, "local-only", None).unwrap();
    let target = seeded(&other);
    let out = cli(target.path(), &["config", "import", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    let now = settings::load_from(&target.path().join("settings.json")).unwrap().settings;
    assert_eq!(now.profile, other.profile, "Global untouched");
    assert!(now.profiles.contains_key("local-only"), "other profiles untouched");
    assert_eq!(now.profiles["marketing-site"], organised().profiles["marketing-site"]);

    // --profile picks one profile out of a whole export.
    let whole = source.path().join("whole.json");
    assert!(cli(source.path(), &["config", "export", "--output", whole.to_str().unwrap()], None).status.success());
    let target = seeded(&other);
    let out = cli(target.path(), &["config", "import", whole.to_str().unwrap(), "--profile", "alerts"], None);
    assert!(out.status.success(), "{}", text(&out));
    let now = settings::load_from(&target.path().join("settings.json")).unwrap().settings;
    assert_eq!(now.profiles.keys().collect::<Vec<_>>(), ["alerts", "local-only"]);
    let out = cli(target.path(), &["config", "import", file.to_str().unwrap(), "--profile", "alerts"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("holds only profile 'marketing-site'"), "{}", text(&out));
}

#[test]
fn a_bad_file_changes_nothing_and_lists_every_problem() {
    let target = seeded(&organised());
    let before = std::fs::read(target.path().join("settings.json")).unwrap();
    let file = target.path().join("bad.json");
    std::fs::write(
        &file,
        r#"{"schema": 2, "extra": true,
            "profile": {"mode": "relay", "relay": {"host": "smtp.corp.example", "port": "587", "securty": "none"},
                        "sender": {"from_address": "a@corp.example"}, "limits": {"timeout_secs": 99999}},
            "profiles": {"bad name": {}, "alerts": {"relay.host": "x..y", "listener.port": 25}},
            "default_profile": "nope"}"#,
    )
    .unwrap();
    let out = cli(target.path(), &["config", "import", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    for (path, fix) in [
        ("extra", "remove it"),
        ("profile.relay.port", "use 1-65535"),
        ("profile.relay.securty", "is not a setting"),
        ("profile.limits.timeout_secs", "between 1 and 600"),
        ("profiles.bad name", "letters, digits"),
        ("profiles.alerts.relay.host", "host name"),
        ("profiles.alerts.listener.port", "Global only"),
        ("default_profile", "name one of"),
    ] {
        let line = said.lines().find(|l| l.trim_start().starts_with(&format!("{path}:")));
        assert!(line.is_some_and(|l| l.contains(fix)), "{path} / {fix} missing:\n{said}");
    }
    assert!(said.contains("nothing was changed"), "{said}");
    assert_eq!(std::fs::read(target.path().join("settings.json")).unwrap(), before, "nothing changed");

    // Not JSON at all, and a dry run of the bad file: the same refusal, nothing written.
    std::fs::write(&file, "{\"schema\": 2,").unwrap();
    let out = cli(target.path(), &["config", "import", file.to_str().unwrap(), "--dry-run"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("line 1"), "{}", text(&out));
    assert_eq!(std::fs::read(target.path().join("settings.json")).unwrap(), before);
}

#[test]
fn a_schema_1_file_is_migrated_and_a_newer_one_refused() {
    let fresh = tempfile::tempdir().unwrap();
    let old = fresh.path().join("old.json");
    std::fs::write(&old, r#"{"schema": 1, "profile": {"mode": "relay", "relay": {"host": "smtp.old.example", "port": 25, "security": "start_tls"}, "sender": {"from_address": "a@old.example"}}}"#).unwrap();
    let out = cli(fresh.path(), &["config", "import", old.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("schema-1"), "{}", text(&out));
    let s = settings::load_from(&fresh.path().join("settings.json")).unwrap().settings;
    assert_eq!(s.schema, settings::SCHEMA_VERSION);
    assert_eq!((s.profile.relay.host.as_str(), s.profile.relay.port), ("smtp.old.example", 25));
    let written = std::fs::read_to_string(fresh.path().join("settings.json")).unwrap();
    assert!(written.contains("\"schema\": 2"), "{written}");
    // Schema 1 had no named profiles.
    std::fs::write(&old, r#"{"schema": 1, "profiles": {}}"#).unwrap();
    assert!(text(&cli(fresh.path(), &["config", "import", old.to_str().unwrap()], None)).contains("profiles: is not part of a schema-1"));

    let newer = fresh.path().join("newer.json");
    std::fs::write(&newer, r#"{"schema": 3, "profile": {"mode": "relay"}, "tomorrow": 1}"#).unwrap();
    let before = std::fs::read(fresh.path().join("settings.json")).unwrap();
    let out = cli(fresh.path(), &["config", "import", newer.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("schema: 3 is newer than this SMTP Desk reads (schema 2)"), "{}", text(&out));
    assert_eq!(std::fs::read(fresh.path().join("settings.json")).unwrap(), before);
}

#[test]
fn an_import_that_breaks_the_policy_is_refused() {
    let source = seeded(&{
        let mut s = organised();
        s.profile.relay.verify_certificates = false;
        s
    });
    let file = source.path().join("weak.json");
    assert!(cli(source.path(), &["config", "export", "--output", file.to_str().unwrap()], None).status.success());
    let target = seeded(&organised());
    let before = std::fs::read(target.path().join("settings.json")).unwrap();
    let policy = target.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"schema": 1, "reason": "Set by IT", "require_certificate_verification": true, "allowed_relay_hosts": ["*.corp.example"]}"#,
    )
    .unwrap();
    let out = cli_with_policy(target.path(), &policy, &["config", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("profile.relay.verify_certificates: is locked by the admin policy") && said.contains("(Set by IT)"), "{said}");
    assert!(said.contains("profiles.marketing-site.relay.host: the admin policy allows only"), "{said}");
    assert_eq!(std::fs::read(target.path().join("settings.json")).unwrap(), before);
}

/// A keyring in memory that can be told to fail, for the order of keyring and file writes.
#[derive(Default)]
struct Memory {
    entries: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    refuse_set: bool,
}

impl Keyring for Memory {
    fn get(&self, profile: &str) -> Result<Option<Password>, secrets::Error> {
        Ok(self.entries.lock().unwrap().get(profile).map(|p| Password::new(p.clone()).unwrap()))
    }
    fn set(&self, profile: &str, password: &Password) -> Result<(), secrets::Error> {
        if self.refuse_set {
            return Err(secrets::Error::Locked("test keyring refuses".into()));
        }
        self.entries.lock().unwrap().insert(profile.into(), password.expose().into());
        Ok(())
    }
    fn clear(&self, profile: &str) -> Result<(), secrets::Error> {
        self.entries.lock().unwrap().remove(profile);
        Ok(())
    }
}

#[test]
fn the_password_is_saved_with_the_settings_or_not_at_all() {
    let source = seeded(&organised());
    let file = source.path().join("alerts.json");
    std::fs::write(&file, transfer::export(&organised(), Some("alerts")).unwrap()).unwrap();
    let target = seeded(&Settings::default());
    let path = target.path().join("settings.json");
    let before = std::fs::read(&path).unwrap();
    let pw = Password::new("Import-Secret-1").unwrap();

    let refusing = Memory { refuse_set: true, ..Memory::default() };
    let e = transfer::import(&refusing, &path, &file, None, Some(&pw), &State::Absent).unwrap_err();
    assert!(e.to_string().contains("nothing was changed"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "a keyring failure leaves the file alone");

    // The file write fails (the policy refuses it under the lock) after the password was saved:
    // the keyring is put back.
    let keyring = Memory::default();
    keyring.set("alerts", &Password::new("old-one").unwrap()).unwrap();
    let strict = State::Active {
        path: "/etc/smtp-desk/policy.json".into(),
        policy: smtp_desk::policy::Policy { schema: 1, sender_domain: Some("other.example".into()), ..Default::default() },
    };
    assert!(transfer::import(&keyring, &path, &file, None, Some(&pw), &strict).is_err());
    assert_eq!(keyring.get("alerts").unwrap().unwrap().expose(), "old-one");

    let imported = transfer::import(&keyring, &path, &file, None, Some(&pw), &State::Absent).unwrap();
    assert_eq!((imported.password_saved, imported.password_profile.as_str()), (Some(true), "alerts"));
    assert_eq!(keyring.get("alerts").unwrap().unwrap().expose(), "Import-Secret-1");
    let again = transfer::import(&keyring, &path, &file, None, Some(&pw), &State::Absent).unwrap();
    assert!(!again.changed(), "the same file and password again change nothing");
    assert!(!std::fs::read_to_string(&path).unwrap().contains("Import-Secret-1"));
}

/// Under scripts/session.sh: the real Secret Service.
#[test]
fn cli_import_with_password_stdin_uses_the_real_keyring() {
    let profile = format!("imptest-{}", std::process::id());
    let mut s = organised();
    profiles::create(&mut s, &profile, None).unwrap();
    profiles::set_override(&mut s, &profile, "auth.method", "password".into()).unwrap();
    profiles::set_override(&mut s, &profile, "auth.username", "robot".into()).unwrap();
    let source = seeded(&s);
    let file = source.path().join("p.json");
    assert!(cli(source.path(), &["config", "export", "--profile", &profile, "--output", file.to_str().unwrap()], None).status.success());
    let target = tempfile::tempdir().unwrap();
    let secret = "Vault-Secret-42";
    let out = cli(target.path(), &["config", "import", file.to_str().unwrap(), "--password-stdin"], Some(&format!("{secret}\n")));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(secrets::get(&profile).expect("the Secret Service is reachable (run inside scripts/session.sh)").unwrap().expose(), secret);
    let again = cli(target.path(), &["config", "import", file.to_str().unwrap(), "--password-stdin"], Some(&format!("{secret}\n")));
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("unchanged:"), "{}", text(&again));
    let everything = format!("{}{}{}", text(&out), text(&again), std::fs::read_to_string(target.path().join("settings.json")).unwrap());
    assert!(!everything.contains(secret), "the password leaked");
    secrets::clear(&profile).unwrap();
}
