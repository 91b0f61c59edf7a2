//! The settings model, its validation (including hostile input), the settings file, and the CLI's
//! `config` commands, run as a separate process the way scripts use it.

use smtp_desk::settings::{self, check, set_key, split_host_port, AuthMethod, Mode, Security, Settings};
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
    assert_eq!(settings::load_from(&path).settings, Settings::default(), "a missing file gives defaults");
    let s = relay();
    settings::save_to(&path, &s).unwrap();
    let loaded = settings::load_from(&path);
    assert_eq!(loaded.settings, s);
    assert!(loaded.notice.is_none());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"schema\": 1"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let mut bad = s.clone();
    bad.profile.relay.port = 0;
    assert!(matches!(settings::save_to(&path, &bad), Err(settings::Error::Invalid(_))));
    assert_eq!(settings::load_from(&path).settings, s, "a refused save leaves the file as it was");
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temp files left behind: {leftovers:?}");
}

#[test]
fn corrupt_file_is_kept_aside_and_defaults_load() {
    for content in
        ["{ not json", "{\"schema\": 1, \"profile\": {\"mode\": \"warp\"}}", "{\"schema\": 99}", "{\"schema\":1,\"unknown\":true}"]
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, content).unwrap();
        let loaded = settings::load_from(&path);
        assert_eq!(loaded.settings, Settings::default(), "{content}");
        let notice = loaded.notice.expect("the user is told");
        assert!(notice.contains("kept as") && notice.contains("Default settings"), "{notice}");
        assert!(!path.exists(), "the corrupt file was moved aside");
        let backups: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(backups.len(), 1);
        assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), content, "the backup holds the old content");
    }
}

fn cli(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smtp-desk")).args(args).env("SMTP_DESK_CONFIG_DIR", config).output().unwrap()
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

#[test]
fn cli_survives_a_corrupt_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("settings.json"), "\u{0}garbage").unwrap();
    let out = cli(dir.path(), &["config", "show"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("kept as"), "{}", String::from_utf8_lossy(&out.stderr));
}
