//! The admin policy: its file's problems listed, locks forced wherever settings are resolved and
//! written, its rules (TLS, relay hosts, sender domain), an invalid policy stopping sending but not
//! saving, and the CLI (`config set` on a locked field, `smtp-desk policy`).

mod support;

use smtp_desk::policy::{self, Policy, State};
use smtp_desk::settings::{self, profiles, Mode, Security, Settings};
use std::path::{Path, PathBuf};
use std::process::Output;

fn active(policy: Policy) -> State {
    State::Active { path: PathBuf::from("/etc/smtp-desk/policy.json"), policy: Policy { schema: 1, ..policy } }
}

fn relay(host: &str) -> Settings {
    let mut s = Settings::default();
    s.profile.mode = Mode::Relay;
    s.profile.relay.host = host.into();
    s.profile.sender.from_address = "alerts@corp.example".into();
    s
}

fn it(policy: Policy) -> Policy {
    Policy { reason: "Set by IT".into(), ..policy }
}

#[test]
fn every_problem_in_a_policy_file_is_listed() {
    let bad = br#"{"bogus": 1, "require_tls": "yes", "lock": {"nope": 1, "relay.port": "x"}, "allowed_relay_hosts": ["bad host!"], "sender_domain": "-"}"#;
    let problems = policy::parse(bad).unwrap_err();
    let all = problems.join("\n");
    for needle in [
        "schema: missing",
        "'bogus' is not a policy key",
        "require_tls",
        "'nope' is not a setting",
        "relay.port",
        "bad host!",
        "sender_domain",
    ] {
        assert!(all.contains(needle), "{needle} missing from:\n{all}");
    }
    assert!(problems.len() >= 7, "{problems:?}");
    let syntax = policy::parse(b"{\"schema\": 1,").unwrap_err();
    assert!(syntax[0].starts_with("line 1, column"), "{syntax:?}");
    // A lock that contradicts the policy's own rule could never be saved.
    let contradiction =
        policy::parse(br#"{"schema": 1, "require_certificate_verification": true, "lock": {"relay.verify_certificates": false}}"#);
    assert!(contradiction.unwrap_err().join(" ").contains("contradicts"));
    let ok =
        policy::parse(br#"{"schema": 1, "reason": "Set by IT", "require_tls": true, "allowed_relay_hosts": ["*.corp.example"]}"#).unwrap();
    assert!(ok.require_tls);

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(policy::load_from(&dir.path().join("none.json")), State::Absent);
    std::fs::write(dir.path().join("p.json"), bad).unwrap();
    assert!(matches!(policy::load_from(&dir.path().join("p.json")), State::Invalid { .. }));
}

#[test]
fn locks_are_forced_on_resolve_and_effective() {
    let state = active(it(Policy {
        require_certificate_verification: true,
        lock: [("limits.timeout_secs".to_string(), serde_json::json!(20))].into(),
        ..Policy::default()
    }));
    let mut s = relay("smtp.example.com");
    s.profile.relay.verify_certificates = false;
    profiles::create(&mut s, "alerts", None).unwrap();
    profiles::set_override(&mut s, "alerts", "limits.timeout_secs", serde_json::json!(5)).unwrap();
    for name in [None, Some("alerts")] {
        let p = state.effective(&s, name).unwrap();
        assert!(p.relay.verify_certificates, "{name:?}");
        assert_eq!(p.limits.timeout_secs, 20, "{name:?}");
    }
    let locks = state.locks();
    assert!(locks.iter().any(|l| l.field == "relay.verify_certificates" && l.reason.contains("Set by IT")), "{locks:?}");
    let mut enforced = s.clone();
    state.enforce(&mut enforced);
    assert!(enforced.profile.relay.verify_certificates);
    assert!(!enforced.profiles["alerts"].contains_key("limits.timeout_secs"), "the override of a locked field is dropped");
    // What the window shows beside the fields, before a save brings them in line.
    let report: Vec<String> = state.report(&s).into_iter().map(|i| i.field).collect();
    assert!(
        report.contains(&"relay.verify_certificates".to_string()) && report.contains(&"profiles.alerts.limits.timeout_secs".to_string()),
        "{report:?}"
    );
}

#[test]
fn require_tls_relay_hosts_and_sender_domain() {
    let tls = active(it(Policy { require_tls: true, ..Policy::default() }));
    let mut s = relay("smtp.example.com");
    s.profile.relay.security = Security::None;
    let e = tls.effective(&s, None).unwrap_err();
    assert!(e.to_string().contains("relay.security") && e.to_string().contains("Set by IT"), "{e}");
    s.profile.relay.security = Security::ImplicitTls;
    tls.effective(&s, None).unwrap();
    s.profile.mode = Mode::Direct;
    assert!(tls.effective(&s, None).unwrap_err().to_string().contains("mode"), "direct delivery can't promise TLS");

    let hosts = active(Policy { allowed_relay_hosts: vec!["*.corp.example".into(), "relay.partner.example".into()], ..Policy::default() });
    for ok in ["smtp.corp.example", "a.b.corp.example", "SMTP.Corp.Example.", "relay.partner.example"] {
        assert!(hosts.effective(&relay(ok), None).is_ok(), "{ok} is allowed");
    }
    for refused in ["evilcorp.example", "corp.example.evil.com", "corp.example", "partner.example", "x.relay.partner.example"] {
        let e = hosts.effective(&relay(refused), None).unwrap_err();
        assert!(e.to_string().contains("relay.host"), "{refused}: {e}");
    }
    let mut direct = relay("smtp.corp.example");
    direct.profile.mode = Mode::Direct;
    assert!(hosts.effective(&direct, None).is_err(), "direct delivery would bypass the allowed relays");

    let domain = active(Policy { sender_domain: Some("corp.example".into()), ..Policy::default() });
    domain.effective(&relay("smtp.corp.example"), None).unwrap();
    let mut other = relay("smtp.corp.example");
    other.profile.sender.from_address = "a@evilcorp.example".into();
    assert!(domain.effective(&other, None).unwrap_err().to_string().contains("sender.from_address"));
    assert!(domain.check_sender("cron@corp.example").is_ok());
    assert!(domain.check_sender("cron@corp.example.evil.com").is_err());
}

#[test]
fn an_invalid_policy_stops_sending_but_not_saving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let invalid = State::Invalid { path: "/etc/smtp-desk/policy.json".into(), problem: "line 1, column 2: oops".into() };
    let e = invalid.effective(&relay("smtp.corp.example"), None).unwrap_err();
    assert_eq!(smtp_desk::error::ErrorReport::from(&e).kind, "policy_invalid");
    let written = settings::modify_with(&path, Default::default(), &invalid, |s| {
        *s = relay("smtp.corp.example");
        Ok(())
    })
    .unwrap();
    assert!(written.policy_problem.as_deref().unwrap().contains("oops"), "the save says the policy is broken");
    assert_eq!(invalid.report(&written.settings)[0].field, "policy");
}

#[test]
fn a_write_that_sets_a_locked_field_is_refused_and_an_old_value_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let mut old = relay("smtp.corp.example");
    old.profile.relay.verify_certificates = false;
    profiles::create(&mut old, "alerts", None).unwrap();
    settings::modify_with(&path, Default::default(), &State::Absent, |s| {
        *s = old.clone();
        Ok(())
    })
    .unwrap();
    let state = active(it(Policy { require_certificate_verification: true, ..Policy::default() }));
    let before = std::fs::read(&path).unwrap();
    for (profile, field) in [("global", "relay.verify_certificates"), ("alerts", "profiles.alerts.relay.verify_certificates")] {
        let e = settings::modify_with(&path, Default::default(), &state, |s| {
            profiles::set_override(s, profile, "relay.verify_certificates", false.into())?;
            s.profile.limits.batch_size = 7;
            Ok(())
        });
        // In Global the file already holds false (from before the policy): setting it again is no
        // change of this edit, so it is replaced rather than refused.
        if profile == "global" {
            let w = e.unwrap();
            assert!(w.settings.profile.relay.verify_certificates, "the value from before the policy is replaced");
            continue;
        }
        let Err(settings::Error::Policy(policy::Error::Violated { issues, .. })) = e else { panic!("{profile}: {e:?}") };
        assert_eq!(issues[0].field, field);
        assert!(issues[0].message.contains("to true") && issues[0].message.contains("Set by IT"), "{issues:?}");
    }
    assert_ne!(std::fs::read(&path).unwrap(), before);
    let now = std::fs::read(&path).unwrap();
    let e = settings::modify_with(&path, Default::default(), &state, |s| {
        s.profile.relay.verify_certificates = false;
        Ok(())
    })
    .unwrap_err();
    assert!(e.to_string().contains("relay.verify_certificates"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), now, "nothing written");
    // A rule (not a lock) broken by the result refuses the write.
    let tls = active(Policy { require_tls: true, ..Policy::default() });
    let e = settings::modify_with(&path, Default::default(), &tls, |s| {
        s.profile.relay.security = Security::None;
        s.profile.relay.host = "127.0.0.1".into();
        Ok(())
    });
    assert!(matches!(e, Err(settings::Error::Policy(policy::Error::Violated { .. }))), "{e:?}");
    assert_eq!(std::fs::read(&path).unwrap(), now, "nothing written");
}

fn cli(config: &Path, policy: &Path, args: &[&str]) -> Output {
    support::cli_in(config, policy, args, None)
}

use support::said as text;

#[test]
fn cli_config_set_of_a_locked_field_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (config, policy_file) = (dir.path().join("config"), dir.path().join("policy.json"));
    let out = cli(
        &config,
        &policy_file,
        &["config", "set", "mode", "relay", "relay.host", "smtp.corp.example", "sender.from_address", "a@corp.example"],
    );
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(&policy_file, r#"{"schema": 1, "reason": "Set by IT", "require_certificate_verification": true}"#).unwrap();
    let before = std::fs::read(config.join("settings.json")).unwrap();
    let out = cli(&config, &policy_file, &["config", "set", "relay.verify_certificates", "false"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(&format!("relay.verify_certificates: is locked by the admin policy {} to true (Set by IT)", policy_file.display())),
        "{said}"
    );
    assert_eq!(std::fs::read(config.join("settings.json")).unwrap(), before, "the file is unchanged");

    // An invalid policy: saving works, and says the policy is broken.
    std::fs::write(&policy_file, "{").unwrap();
    let out = cli(&config, &policy_file, &["config", "set", "limits.batch_size", "50"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing is sent until it is fixed"), "{}", text(&out));
}

#[test]
fn cli_policy_shows_where_what_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let (config, policy_file) = (dir.path().join("config"), dir.path().join("policy.json"));
    let out = cli(&config, &policy_file, &["policy"]);
    assert!(out.status.success());
    assert!(text(&out).contains("absent") && text(&out).contains(&policy_file.display().to_string()), "{}", text(&out));

    std::fs::write(
        &policy_file,
        r#"{"schema": 1, "reason": "Set by IT", "require_certificate_verification": true, "require_tls": true,
            "allowed_relay_hosts": ["*.corp.example"], "sender_domain": "corp.example", "disable_listener": true,
            "lock": {"limits.timeout_secs": 20}}"#,
    )
    .unwrap();
    let out = cli(&config, &policy_file, &["policy"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for needle in [
        "active",
        "Set by IT",
        "relay.verify_certificates",
        "listener.enabled",
        "limits.timeout_secs",
        "require_tls",
        "*.corp.example",
        "@corp.example",
        "SMTP_DESK_POLICY",
    ] {
        assert!(said.contains(needle), "{needle}: {said}");
    }
    let out = cli(&config, &policy_file, &["policy", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "active");
    assert_eq!(v["env_var"], "SMTP_DESK_POLICY");
    assert_eq!(v["locks"].as_array().unwrap().len(), 3);

    std::fs::write(&policy_file, r#"{"schema": 1, "require_tls": "yes", "surprise": 1}"#).unwrap();
    let out = cli(&config, &policy_file, &["policy"]);
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out);
    assert!(said.contains("INVALID") && said.contains("require_tls") && said.contains("'surprise'"), "{said}");
    let out = cli(&config, &policy_file, &["policy", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "invalid");
    assert!(v["problem"].as_str().unwrap().contains("surprise"));
}
