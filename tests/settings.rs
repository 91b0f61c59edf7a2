//! The settings model, its validation (including hostile input), the settings file, and the CLI's
//! `config` commands, run as a separate process the way scripts use it.

use smtp_desk::settings::{self, check, set_key, split_host_port, AuthMethod, Mode, Security, Settings};
use std::path::Path;
use std::process::Command;

fn relay() -> Settings {
    let mut s = Settings::default();
    let p = &mut s.profile;
    p.mode = Mode::Relay;
    p.relay.host = "smtp.example.com".into();
    p.auth.method = AuthMethod::Password;
    p.auth.username = "alerts@example.com".into();
    p.sender.from_address = "alerts@example.com".into();
    s
}

fn error_fields(s: &Settings) -> Vec<String> {
    check(s).errors.into_iter().map(|i| i.field).collect()
}

fn warning_fields(s: &Settings) -> Vec<String> {
    check(s).warnings.into_iter().map(|i| i.field).collect()
}

#[test]
fn defaults_are_valid_and_safe() {
    let s = Settings::default();
    assert!(check(&s).is_ok(), "{:?}", check(&s));
    assert_eq!(s.profile.mode, Mode::Off);
    assert!(s.profile.relay.verify_certificates, "certificate checking is on by default");
    assert_eq!(s.profile.relay.security, Security::StartTls);
    assert!(check(&relay()).is_ok(), "{:?}", check(&relay()));
}

#[test]
fn hostile_strings_are_rejected_in_every_text_field() {
    for bad in ["smtp.example.com\r\nRCPT TO:<x@evil>", "a\nb", "nul\0byte", "tab\there", "\u{7f}"] {
        type Edit<'a> = Box<dyn Fn(&mut Settings) + 'a>;
        let cases: Vec<(&str, Edit)> = vec![
            ("relay.host", Box::new(|s: &mut Settings| s.profile.relay.host = bad.into())),
            ("ehlo_name", Box::new(|s: &mut Settings| s.profile.ehlo_name = bad.into())),
            ("auth.username", Box::new(|s: &mut Settings| s.profile.auth.username = bad.into())),
            ("sender.from_name", Box::new(|s: &mut Settings| s.profile.sender.from_name = bad.into())),
            ("sender.from_address", Box::new(|s: &mut Settings| s.profile.sender.from_address = format!("a{bad}@example.com"))),
            ("sender.reply_to", Box::new(|s: &mut Settings| s.profile.sender.reply_to = Some(format!("{bad}@example.com")))),
        ];
        for (field, apply) in cases {
            let mut s = relay();
            apply(&mut s);
            let errors = check(&s).errors;
            let e = errors.iter().find(|i| i.field == field).unwrap_or_else(|| panic!("{field} accepted {bad:?}: {errors:?}"));
            assert!(e.message.contains("control character"), "{field}: {}", e.message);
        }
    }
}

#[test]
fn host_names_ips_and_idn() {
    for ok in
        ["smtp.example.com", "localhost", "127.0.0.1", "::1", "2001:db8::25", "smtp.bücher.example", "mail-1.example.co.uk", "example.com."]
    {
        let mut s = relay();
        s.profile.relay.host = ok.into();
        assert!(!error_fields(&s).contains(&"relay.host".to_string()), "{ok} rejected: {:?}", check(&s));
    }
    for bad in [
        "smtp.example.com:587",
        "-bad.example.com",
        "a..b",
        "under_score.example",
        "has space.example",
        " smtp.example.com",
        &"a".repeat(64),
        &format!("{}.com", "abc.".repeat(70)),
    ] {
        let mut s = relay();
        s.profile.relay.host = bad.to_string();
        assert!(error_fields(&s).contains(&"relay.host".to_string()), "{bad} accepted");
    }
    let mut s = relay();
    s.profile.relay.host.clear();
    let errors = check(&s).errors;
    assert!(errors.iter().any(|i| i.field == "relay.host" && i.message.contains("required")), "{errors:?}");
    s.profile.mode = Mode::Off;
    assert!(!error_fields(&s).contains(&"relay.host".to_string()), "host is only required in relay mode");
}

#[test]
fn ports_limits_and_addresses() {
    let mut s = relay();
    s.profile.relay.port = 0;
    assert!(check(&s).errors.iter().any(|i| i.field == "relay.port" && i.message.contains("1 and 65535")));

    let mut s = relay();
    s.profile.limits.timeout_secs = 0;
    s.profile.limits.connection_limit = 101;
    s.profile.limits.batch_size = 0;
    s.profile.limits.max_idle_secs = 3601;
    let f = error_fields(&s);
    for field in ["limits.timeout_secs", "limits.connection_limit", "limits.batch_size", "limits.max_idle_secs"] {
        assert!(f.contains(&field.to_string()), "{field} not flagged: {f:?}");
    }

    for bad in [
        "plain",
        "@example.com",
        "a@",
        "A Name <a@example.com>",
        "a..b@example.com",
        "a@bad_domain",
        &format!("{}@example.com", "x".repeat(65)),
    ] {
        let mut s = relay();
        s.profile.sender.from_address = bad.to_string();
        assert!(error_fields(&s).contains(&"sender.from_address".to_string()), "{bad} accepted");
    }
    for ok in ["a@example.com", "first.last+tag@sub.example.org", "ü@bücher.example", "postmaster@[127.0.0.1]"] {
        let mut s = relay();
        s.profile.sender.from_address = ok.to_string();
        assert!(check(&s).is_ok(), "{ok} rejected: {:?}", check(&s));
    }
    let mut s = relay();
    s.profile.sender.from_address.clear();
    assert!(error_fields(&s).contains(&"sender.from_address".to_string()), "from address is required when sending");

    let mut s = relay();
    s.profile.auth.username.clear();
    assert!(error_fields(&s).contains(&"auth.username".to_string()));
    s.profile.auth.method = AuthMethod::None;
    assert!(!error_fields(&s).contains(&"auth.username".to_string()));
}

#[test]
fn password_over_plaintext_is_refused_except_on_loopback() {
    let mut s = relay();
    s.profile.relay.security = Security::None;
    s.profile.relay.port = 25;
    let errors = check(&s).errors;
    let e = errors.iter().find(|i| i.field == "relay.security").expect("plaintext password refused");
    assert!(e.message.contains("unencrypted") && e.message.contains("STARTTLS"), "{}", e.message);
    for local in ["localhost", "127.0.0.1", "::1"] {
        s.profile.relay.host = local.into();
        assert!(check(&s).is_ok(), "{local}: {:?}", check(&s));
    }
}

#[test]
fn warnings_do_not_block_and_name_their_field() {
    let mut s = relay();
    s.profile.auth.method = AuthMethod::None;
    s.profile.relay.port = 465;
    s.profile.relay.verify_certificates = false;
    let r = check(&s);
    assert!(r.is_ok(), "{r:?}");
    let w = warning_fields(&s);
    assert!(
        w.contains(&"auth.method".into()) && w.contains(&"relay.port".into()) && w.contains(&"relay.verify_certificates".into()),
        "{w:?}"
    );
    let port = r.warnings.iter().find(|i| i.field == "relay.port").unwrap();
    assert!(port.message.contains("465") && port.message.contains("Implicit TLS"), "{}", port.message);

    s.profile.relay.security = Security::ImplicitTls;
    s.profile.relay.port = 587;
    assert!(check(&s).warnings.iter().any(|i| i.field == "relay.port" && i.message.contains("587 expects STARTTLS")));
    s.profile.relay.port = 465;
    assert!(!warning_fields(&s).contains(&"relay.port".into()));

    s.profile.relay.security = Security::None;
    s.profile.relay.port = 25;
    assert!(warning_fields(&s).contains(&"relay.security".into()));
}

#[test]
fn host_port_paste_is_split() {
    assert_eq!(split_host_port("smtp.example.com:465"), ("smtp.example.com".into(), Some(465)));
    assert_eq!(split_host_port("[2001:db8::1]:587"), ("2001:db8::1".into(), Some(587)));
    assert_eq!(split_host_port("2001:db8::1"), ("2001:db8::1".into(), None));
    assert_eq!(split_host_port(" smtp.example.com "), ("smtp.example.com".into(), None));
    let mut s = Settings::default();
    set_key(&mut s, "relay.host", "mail.example.net:2525").unwrap();
    assert_eq!((s.profile.relay.host.as_str(), s.profile.relay.port), ("mail.example.net", 2525));
}

#[test]
fn set_key_types_values_and_names_bad_ones() {
    let mut s = Settings::default();
    set_key(&mut s, "mode", "relay").unwrap();
    set_key(&mut s, "relay.verify_certificates", "off").unwrap();
    set_key(&mut s, "limits.timeout_secs", "12").unwrap();
    set_key(&mut s, "sender.reply_to", "r@example.com").unwrap();
    assert_eq!(s.profile.mode, Mode::Relay);
    assert!(!s.profile.relay.verify_certificates);
    assert_eq!(s.profile.limits.timeout_secs, 12);
    set_key(&mut s, "sender.reply_to", "").unwrap();
    assert_eq!(s.profile.sender.reply_to, None, "empty clears an optional field");

    let before = s.clone();
    for (k, v) in
        [("mode", "sideways"), ("relay.port", "70000"), ("relay.port", "abc"), ("relay.verify_certificates", "maybe"), ("nope", "1")]
    {
        let e = set_key(&mut s, k, v).unwrap_err();
        assert!(e.to_string().contains(k), "{k}: {e}");
        assert_eq!(s, before, "a failed set leaves the settings untouched");
    }
}

#[test]
fn file_round_trip_is_atomic_and_refuses_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf/settings.json");
    assert_eq!(settings::load_from(&path).unwrap().settings, Settings::default(), "a missing file gives defaults");
    let s = relay();
    settings::save_to(&path, &s).unwrap();
    let loaded = settings::load_from(&path).unwrap();
    assert_eq!(loaded.settings, s);
    assert!(loaded.notice.is_none());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"schema\": 2"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let mut bad = s.clone();
    bad.profile.relay.port = 0;
    assert!(matches!(settings::save_to(&path, &bad), Err(settings::Error::Invalid(_))));
    assert_eq!(settings::load_from(&path).unwrap().settings, s, "a refused save leaves the file as it was");
    assert_eq!(names(path.parent().unwrap()), ["settings.json", "settings.json.lock"], "no temp files left behind");
}

fn cli(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
        .args(args)
        .env("SMTP_DESK_CONFIG_DIR", config)
        .env("SMTP_DESK_DATA_DIR", private_data())
        .output()
        .unwrap()
}

/// The CLI records settings changes in the event log, in the data dir: a throwaway one, never the
/// user's own.
fn private_data() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("smtp-desk-settings-test-data-{}", std::process::id()))
}

#[test]
fn cli_config_set_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path();
    let out = cli(c, &["config", "set", "mode", "relay"]);
    assert_eq!(out.status.code(), Some(2), "relay mode without a host is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("relay.host: is required"));
    let out = cli(c, &["config", "set", "mode", "relay", "relay.host", "smtp.example.com:465", "sender.from_address", "a@example.com"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(c, &["config", "set", "relay.security", "implicit_tls"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(c, &["config", "show", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["settings"]["profile"]["relay"]["port"], 465);
    assert_eq!(v["settings"]["profile"]["relay"]["host"], "smtp.example.com");
    assert!(v["warnings"].as_array().unwrap().iter().any(|w| w["field"] == "auth.method"), "anonymous relay warned: {v}");

    let human = String::from_utf8(cli(c, &["config", "show"]).stdout).unwrap();
    assert!(human.contains("relay.host") && human.contains("smtp.example.com") && human.contains("warning: auth.method"), "{human}");

    let before = std::fs::read(c.join("settings.json")).unwrap();
    for (args, needle) in [
        (vec!["config", "set", "relay.port", "0"], "relay.port"),
        (vec!["config", "set", "sender.from_address", "not-an-address"], "sender.from_address"),
        (vec!["config", "set", "relay.host", "evil.example\r\nQUIT"], "relay.host"),
        (vec!["config", "set", "bogus", "1"], "unknown setting 'bogus'"),
        (vec!["config", "set", "auth.method", "password"], "auth.username"),
    ] {
        let out = cli(c, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(c.join("settings.json")).unwrap(), before, "refused edits change nothing");
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Unusable files, as an editor mid-write, a hand edit, or another version leave them.
const UNUSABLE: &[(&str, &str)] = &[
    ("{\n  \"schema\": 1,\n  \"profile\": {\n    \"mode\": \"rel", "EOF while parsing"),
    ("{\"schema\": 1, \"profile\": {\"mode\": \"warp\"}}", "unknown variant"),
    ("{\"schema\":1,\"unknown\":true}", "unknown field"),
    ("", "EOF while parsing"),
    ("\u{0}garbage", "expected value"),
];

#[test]
fn reading_an_unusable_file_changes_nothing_and_says_where() {
    for (content, what) in UNUSABLE {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, content).unwrap();
        let loaded = settings::load_from(&path).unwrap();
        assert_eq!(loaded.settings, Settings::default(), "{content:?}");
        let read_only = loaded.read_only.expect("an unusable file is read-only");
        let settings::Reason::Broken { line, column, problem } = &read_only.reason else { panic!("{read_only:?}") };
        assert!(*line >= 1 && *column >= 1 && problem.contains(what), "{content:?}: {read_only:?}");
        let notice = loaded.notice.unwrap();
        assert!(notice.contains(&format!("line {line}, column {column}")) && notice.contains("settings.json"), "{notice}");
        assert_eq!(std::fs::read(&path).unwrap(), content.as_bytes(), "the file is left byte for byte");
        assert_eq!(names(dir.path()), ["settings.json"], "nothing is renamed or created by a read");
    }
    // A truncated file names where it ends.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    std::fs::write(&path, UNUSABLE[0].0).unwrap();
    let r = settings::load_from(&path).unwrap().read_only.unwrap();
    assert!(matches!(r.reason, settings::Reason::Broken { line: 4, .. }), "{r:?}");
}

#[test]
fn a_newer_schema_is_read_only_and_never_moved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    for content in ["{\"schema\": 7, \"profile\": {\"mode\": \"relay\"}}", "{\"schema\": 7, \"future_field\": {}}"] {
        std::fs::write(&path, content).unwrap();
        let loaded = settings::load_from(&path).unwrap();
        let r = loaded.read_only.expect("read-only");
        assert_eq!(r.reason, settings::Reason::Newer { schema: 7 });
        assert!(r.message().contains("schema 7") && r.message().contains("knows schema 2"), "{}", r.message());
        let out = cli(dir.path(), &["config", "set", "limits.timeout_secs", "9"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("schema 7"), "{}", stderr(&out));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
        assert_eq!(names(dir.path()), ["settings.json", "settings.json.lock"]);
    }
    // What it can read of a newer file is shown.
    std::fs::write(&path, "{\"schema\": 7, \"profile\": {\"mode\": \"relay\"}}").unwrap();
    assert_eq!(settings::load_from(&path).unwrap().settings.profile.mode, Mode::Relay);
}

#[test]
fn cli_config_show_on_a_truncated_file_leaves_it_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let truncated = UNUSABLE[0].0;
    std::fs::write(&path, truncated).unwrap();
    for args in [&["config", "show"][..], &["config", "show", "--json"], &["validate"]] {
        let out = cli(dir.path(), args);
        assert!(stderr(&out).contains("line 4, column"), "{args:?}: {}", stderr(&out));
        assert_eq!(std::fs::read(&path).unwrap(), truncated.as_bytes(), "{args:?} left the file byte for byte");
        assert_eq!(names(dir.path()), ["settings.json"], "{args:?}: no .corrupt file appears");
    }
    let out = cli(dir.path(), &["config", "show", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["read_only"]["kind"], "broken");
    assert_eq!(v["read_only"]["line"], 4);
}

#[test]
fn a_file_caught_mid_write_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let mut s = relay();
    s.profile.relay.host = "after.example.com".into();
    let full = serde_json::to_string_pretty(&s).unwrap();
    // An editor writing in place: truncated first, the rest a moment later.
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    let writer = {
        let (path, full) = (path.clone(), full.clone());
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(40));
            std::fs::write(path, full).unwrap();
        })
    };
    let loaded = settings::load_from(&path).unwrap();
    writer.join().unwrap();
    assert_eq!(loaded.read_only, None, "{:?}", loaded.notice);
    assert_eq!(loaded.settings.profile.relay.host, "after.example.com");
}

#[test]
fn cli_refuses_to_write_a_broken_file_until_told_and_keeps_every_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let broken = "{\n  \"schema\": 1,\n  \"profile\": {\"mode\": \"warp\"}\n}\n";
    std::fs::write(&path, broken).unwrap();
    let out = cli(dir.path(), &["config", "set", "sender.from_name", "Desk"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(path.to_str().unwrap()) && err.contains("line 3, column") && err.contains("--replace-broken-file"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken, "a refused write changes nothing");

    let mut backups = Vec::new();
    for round in 0..2 {
        let out = cli(dir.path(), &["config", "set", "--replace-broken-file", "sender.from_name", "Desk"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let loaded = settings::load_from(&path).unwrap();
        assert_eq!(loaded.read_only, None);
        assert_eq!(loaded.settings.profile.sender.from_name, "Desk");
        backups = names(dir.path()).into_iter().filter(|n| n.starts_with("settings.json.broken-")).collect();
        assert_eq!(backups.len(), round + 1, "a second backup (even in the same second) never overwrites the first: {backups:?}");
        for b in &backups {
            assert_eq!(std::fs::read_to_string(dir.path().join(b)).unwrap(), broken, "{b} holds the broken file");
        }
        std::fs::write(&path, broken).unwrap();
    }
    assert_eq!(backups.len(), 2);
}

#[test]
fn a_form_save_keeps_changes_made_elsewhere_and_reports_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let base = relay();
    settings::save_to(&path, &base).unwrap();

    // The CLI changes one field while the window edits another.
    let out = cli(dir.path(), &["config", "set", "limits.timeout_secs", "45"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut mine = base.clone();
    mine.profile.sender.from_name = "Window".into();
    let written = settings::update(&path, &base, &mine, &[]).unwrap();
    let now = settings::load_from(&path).unwrap().settings;
    assert_eq!((now.profile.limits.timeout_secs, now.profile.sender.from_name.as_str()), (45, "Window"), "both changes kept");
    assert_eq!(written.settings, now);
    assert_eq!(written.bytes, std::fs::read(&path).unwrap());

    // Both change the same field to different values: refused, naming it, nothing written.
    let out = cli(dir.path(), &["config", "set", "relay.host", "cli.example.com", "relay.port", "2525"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = std::fs::read(&path).unwrap();
    let mut edit = now.clone();
    edit.profile.relay.host = "window.example.com".into();
    edit.profile.relay.port = 2525; // the same value on both sides is no conflict
    edit.profile.ehlo_name = "desk.example.com".into();
    let e = settings::update(&path, &now, &edit, &[]).unwrap_err();
    let settings::Error::Conflict(conflicts) = &e else { panic!("{e}") };
    assert_eq!(conflicts.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(), ["relay.host"]);
    assert_eq!((conflicts[0].theirs.as_str(), conflicts[0].mine.as_str()), (Some("cli.example.com"), Some("window.example.com")));
    let report = smtp_desk::ErrorReport::from(&e);
    assert_eq!(report.kind, "settings_conflict");
    assert_eq!(report.issues[0].field, "relay.host");
    assert!(report.issues[0].message.contains("cli.example.com"), "{report:?}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "a conflict writes nothing");

    // The user keeps theirs: saved, and the rest of the file is still merged.
    settings::update(&path, &now, &edit, &["relay.host".to_string()]).unwrap();
    let after = settings::load_from(&path).unwrap().settings;
    assert_eq!(after.profile.relay.host, "window.example.com");
    assert_eq!(after.profile.ehlo_name, "desk.example.com");
    assert_eq!(after.profile.limits.timeout_secs, 45);
}

#[test]
fn two_cli_processes_setting_different_keys_keep_every_change() {
    const RUNS: u32 = 50;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let started = std::time::Instant::now();
    let writers: Vec<_> = ["limits.timeout_secs", "limits.batch_size"]
        .into_iter()
        .map(|key| {
            let (config, path) = (dir.path().to_path_buf(), path.clone());
            std::thread::spawn(move || {
                for i in 1..=RUNS {
                    let out = cli(&config, &["config", "set", key, &i.to_string()]);
                    assert!(out.status.success(), "{key}={i}: {}", stderr(&out));
                    // Only this writer sets this key: right after its write the file must hold it.
                    let now = settings::load_from(&path).unwrap();
                    assert_eq!(now.read_only, None);
                    let doc = serde_json::to_value(now.settings.profile.limits).unwrap();
                    assert_eq!(doc[key.trim_start_matches("limits.")], i, "{key}: a write was lost");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let last = settings::load_from(&path).unwrap().settings.profile.limits;
    assert_eq!((last.timeout_secs, last.batch_size), (RUNS, RUNS), "both last values are in the file");
    eprintln!("2 × {RUNS} concurrent config set runs in {:?}, every change kept", started.elapsed());
}

#[test]
fn a_file_over_1_mib_is_read_only_and_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let big = format!("{{\"schema\": 1, \"profile\": {{\"ehlo_name\": \"{}\"}}}}", "a".repeat(2 * 1024 * 1024));
    std::fs::write(&path, &big).unwrap();
    let loaded = settings::load_from(&path).unwrap();
    assert_eq!(loaded.read_only.map(|r| r.reason), Some(settings::Reason::TooLarge { bytes: big.len() as u64 }));
    assert_eq!(loaded.bytes.map(|b| b.len() as u64), Some(settings::MAX_FILE_BYTES + 1), "at most 1 MiB + 1 byte is read");
    let out = cli(dir.path(), &["config", "set", "limits.timeout_secs", "9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("larger than"), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), big.len() as u64);
}

#[cfg(unix)]
#[test]
fn a_config_dir_other_users_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    settings::save_to(&dir.path().join("settings.json"), &relay()).unwrap();
    for mode in [0o770, 0o757, 0o1777] {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        let e = settings::load_from(&dir.path().join("settings.json")).unwrap_err();
        assert!(matches!(e, settings::Error::UnsafeDir { .. }), "{mode:o}: {e}");
        for args in [&["config", "show"][..], &["config", "set", "limits.timeout_secs", "9"]] {
            let out = cli(dir.path(), args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{mode:o} {args:?}: {err}");
            assert!(err.contains("other users") && err.contains(&format!("chmod go-w '{}'", dir.path().display())), "{err}");
        }
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(settings::load_from(&dir.path().join("settings.json")).is_ok());
}

/// A write that fails after the temp file exists (here: the file size limit) leaves no temp file.
#[cfg(unix)]
#[test]
fn a_failed_write_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("ulimit -f 0; trap '' XFSZ; exec '{}' config set limits.timeout_secs 9", env!("CARGO_BIN_EXE_smtp-desk"));
    let out = Command::new("sh")
        .args(["-c", &script])
        .env("SMTP_DESK_CONFIG_DIR", dir.path())
        .env("SMTP_DESK_DATA_DIR", private_data())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("File too large"), "{}", stderr(&out));
    assert_eq!(names(dir.path()), ["settings.json.lock"], "no temp file and no settings file");
}

/// Without a home directory there is no safe place for the settings: never the current directory.
#[cfg(target_os = "linux")]
#[test]
fn no_home_directory_is_an_error_not_the_current_directory() {
    // A user with no passwd entry and no HOME has no home directory at all; only root can be one.
    let root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    if !root || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: needs root and setpriv to run as a user without a home directory");
        return;
    }
    let cwd = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cwd.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    for args in [&["config", "path"][..], &["config", "set", "limits.timeout_secs", "9"]] {
        let out = Command::new("/usr/bin/setpriv")
            .args(["--reuid=54321", "--regid=54321", "--clear-groups", env!("CARGO_BIN_EXE_smtp-desk")])
            .args(args)
            .current_dir(cwd.path())
            .env_remove("HOME")
            .env_remove("SMTP_DESK_CONFIG_DIR")
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err} {}", String::from_utf8_lossy(&out.stdout));
        assert!(err.contains("no home directory") && err.contains("SMTP_DESK_CONFIG_DIR"), "{err}");
        assert!(names(cwd.path()).is_empty(), "nothing created in the current directory");
    }
}

mod parsing_fuzz {
    //! Settings-file parsing against arbitrary input: never a panic, and each input settles fast.
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    fn parse_quickly(bytes: &[u8]) {
        let started = Instant::now();
        let _ = settings::parse(bytes);
        assert!(started.elapsed() < Duration::from_millis(200), "{} bytes took {:?}", bytes.len(), started.elapsed());
    }

    /// A valid file, cut and spliced: what editors and crashes leave.
    fn valid_file() -> Vec<u8> {
        serde_json::to_vec_pretty(&relay()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            parse_quickly(&bytes);
        }

        #[test]
        fn mangled_valid_files(cut in 0usize..2000, insert in proptest::collection::vec(any::<u8>(), 0..16), at in 0usize..2000) {
            let mut bytes = valid_file();
            bytes.truncate(cut.min(bytes.len()));
            let at = at.min(bytes.len());
            bytes.splice(at..at, insert);
            parse_quickly(&bytes);
        }

        #[test]
        fn json_shaped_text(text in r#"[\[\]{}":,0-9a-z\\ .\-eE]{0,512}"#) {
            parse_quickly(text.as_bytes());
        }

        #[test]
        fn deep_nesting_and_huge_numbers(depth in 0usize..100_000, digits in 0usize..5000) {
            parse_quickly(format!("{}{}", "[".repeat(depth), "]".repeat(depth)).as_bytes());
            parse_quickly(format!("{{\"schema\": 1, \"profile\": {{\"relay\": {{\"port\": 1{}}}}}}}", "0".repeat(digits)).as_bytes());
            parse_quickly(format!("{{\"schema\": {}}}", "9".repeat(digits)).as_bytes());
        }
    }
}

/// The rules the window used to repeat in TypeScript (ui/src/rules.test.ts), now asked of the core
/// only: each limit's edges and message come from the field registry, and the EHLO name, From name
/// and Reply-To rules hold.
#[test]
fn limit_edges_ehlo_names_and_sender_fields() {
    for field in settings::fields::FIELDS.iter().filter(|f| f.name.starts_with("limits.")) {
        let (lo, hi) = field.range.unwrap();
        let set = |value: u32| {
            let mut s = relay();
            set_key(&mut s, field.name, &value.to_string()).unwrap();
            check(&s).errors.into_iter().find(|i| i.field == field.name).map(|i| i.message)
        };
        assert_eq!(set(lo), None, "{} refuses {lo}", field.name);
        assert_eq!(set(hi), None, "{} refuses {hi}", field.name);
        assert_eq!(set(hi + 1), Some(format!("must be between {lo} and {hi} {} (it is {})", field.unit, hi + 1)));
        if lo > 0 {
            assert!(set(lo - 1).is_some(), "{} accepts {}", field.name, lo - 1);
        }
    }

    for ok in ["", "mail.example.com", "[192.0.2.1]", "[IPv6:2001:db8::1]", "bücher.example"] {
        let mut s = relay();
        s.profile.ehlo_name = ok.into();
        assert!(check(&s).is_ok(), "EHLO name {ok:?} refused: {:?}", check(&s));
    }
    for bad in ["not a name", "-x.example", "a..b", "[999.1.1.1]"] {
        let mut s = relay();
        s.profile.ehlo_name = bad.into();
        assert!(error_fields(&s).contains(&"ehlo_name".to_string()), "EHLO name {bad:?} accepted");
    }

    let mut s = relay();
    s.profile.sender.from_name = "é".repeat(200);
    assert!(check(&s).is_ok(), "200 characters (not bytes) are allowed");
    s.profile.sender.from_name.push('x');
    assert!(error_fields(&s).contains(&"sender.from_name".to_string()));

    let mut s = relay();
    s.profile.sender.reply_to = Some("Reply <r@example.com>".into());
    assert!(error_fields(&s).contains(&"sender.reply_to".to_string()));
    s.profile.sender.reply_to = None;
    assert!(check(&s).is_ok());

    let mut s = relay();
    s.profile.relay.port = 465;
    let warning = check(&s).warnings.into_iter().find(|w| w.field == "relay.port").map(|w| w.message);
    assert_eq!(
        warning.as_deref(),
        Some("Port 465 expects implicit TLS, but STARTTLS is selected — choose 'Implicit TLS' or use port 587.")
    );
}
