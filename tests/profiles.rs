//! Named profiles: inheritance and overrides, their validation (issues keyed per profile), merges
//! of concurrent edits, the `smtp-desk profile` commands and `--profile` end to end, the keyring
//! entries moving with a renamed or deleted profile (real Secret Service: run inside
//! scripts/session.sh), and `validate --profile` against a real server.

mod support;

use serde_json::json;
use smtp_desk::account;
use smtp_desk::secrets::{self, Password};
use smtp_desk::settings::{self, check, check_profile, profiles, set_key_in, unset_key, AuthMethod, Mode, Security, Settings};
use std::path::Path;
use std::process::Output;

fn relay() -> Settings {
    let mut s = Settings::default();
    let p = &mut s.profile;
    p.mode = Mode::Relay;
    p.relay.host = "smtp.example.com".into();
    p.sender.from_address = "alerts@example.com".into();
    p.sender.from_name = "Global".into();
    s
}

fn with_profile(name: &str) -> Settings {
    let mut s = relay();
    profiles::create(&mut s, name, None).unwrap();
    s
}

fn error_fields(r: &settings::Report) -> Vec<String> {
    r.errors.iter().map(|i| i.field.clone()).collect()
}

#[test]
fn a_named_profile_inherits_each_field_until_it_overrides_it() {
    let mut s = with_profile("alerts");
    assert_eq!(profiles::resolve(&s, Some("alerts")).unwrap(), s.profile, "a new profile inherits everything");

    set_key_in(&mut s, Some("alerts"), "sender.from_name", "Alerts").unwrap();
    set_key_in(&mut s, Some("alerts"), "relay.host", "alerts.example.com:2525").unwrap();
    assert_eq!(s.profile.sender.from_name, "Global", "Global is untouched");
    assert_eq!(s.profile.relay.port, 587);
    assert_eq!(
        s.profiles["alerts"],
        settings::Overrides::from([
            ("relay.host".into(), json!("alerts.example.com")),
            ("relay.port".into(), json!(2525)),
            ("sender.from_name".into(), json!("Alerts")),
        ]),
        "host:port overrides both, and only what was set is stored"
    );

    // Global changes reach the inherited fields, not the overridden ones.
    settings::set_key(&mut s, "sender.from_address", "ops@example.com").unwrap();
    settings::set_key(&mut s, "sender.from_name", "Ops").unwrap();
    settings::set_key(&mut s, "relay.host", "new.example.com:465").unwrap();
    let alerts = profiles::resolve(&s, Some("alerts")).unwrap();
    assert_eq!(alerts.sender.from_address, "ops@example.com", "inherited");
    assert_eq!(alerts.sender.from_name, "Alerts", "overridden");
    assert_eq!((alerts.relay.host.as_str(), alerts.relay.port), ("alerts.example.com", 2525));

    // An override equal to Global's value stays an override.
    set_key_in(&mut s, Some("alerts"), "relay.security", "start_tls").unwrap();
    settings::set_key(&mut s, "relay.security", "implicit_tls").unwrap();
    assert_eq!(profiles::resolve(&s, Some("alerts")).unwrap().relay.security, Security::StartTls);

    // Reset: inherits again, and follows Global from then on.
    unset_key(&mut s, "alerts", "sender.from_name").unwrap();
    assert_eq!(profiles::resolve(&s, Some("alerts")).unwrap().sender.from_name, "Ops");
    assert!(!s.profiles["alerts"].contains_key("sender.from_name"));

    // Optional text: empty is an override of "not set", not a reset.
    settings::set_key(&mut s, "sender.reply_to", "replies@example.com").unwrap();
    set_key_in(&mut s, Some("alerts"), "sender.reply_to", "").unwrap();
    assert_eq!(profiles::resolve(&s, Some("alerts")).unwrap().sender.reply_to, None);
    assert_eq!(s.profiles["alerts"]["sender.reply_to"], json!(null));

    // `None` and `global` are Global's fields, as `set_key`.
    set_key_in(&mut s, None, "limits.timeout_secs", "12").unwrap();
    set_key_in(&mut s, Some("GLOBAL"), "limits.batch_size", "7").unwrap();
    assert_eq!((s.profile.limits.timeout_secs, s.profile.limits.batch_size), (12, 7));
    assert_eq!(profiles::resolve(&s, Some("alerts")).unwrap().limits.timeout_secs, 12);
}

#[test]
fn global_only_keys_bad_values_and_unknown_profiles_are_refused_and_nothing_changes() {
    let mut s = with_profile("alerts");
    let before = s.clone();
    for key in ["listener.port", "listener.enabled", "bounces.max_per_hour", "logs.retention_days"] {
        let e = set_key_in(&mut s, Some("alerts"), key, "1").unwrap_err();
        assert!(matches!(&e, settings::Error::GlobalOnly { key: k } if k == key), "{key}: {e}");
    }
    let e = set_key_in(&mut s, Some("alerts"), "relay.port", "70000").unwrap_err();
    assert!(matches!(&e, settings::Error::BadValue { key, .. } if key == "relay.port"), "{e}");
    let e = set_key_in(&mut s, Some("alerts"), "relay.verify_certificates", "maybe").unwrap_err();
    assert!(matches!(&e, settings::Error::BadValue { key, .. } if key == "relay.verify_certificates"), "{e}");
    assert!(matches!(set_key_in(&mut s, Some("alerts"), "no.such", "1"), Err(settings::Error::UnknownKey(_))));
    assert_eq!(s, before, "a refused set changes nothing");

    let e = set_key_in(&mut s, Some("ghost"), "mode", "relay").unwrap_err();
    match &e {
        settings::Error::UnknownProfile { name, known } => {
            assert_eq!(name, "ghost");
            assert_eq!(known, &["global", "alerts"]);
        }
        other => panic!("{other}"),
    }
    let report = smtp_desk::error::ErrorReport::from(&e);
    assert!(report.hint.unwrap().contains("global, alerts"));
    assert!(profiles::resolve(&s, Some("ghost")).is_err());
    assert!(unset_key(&mut s, "global", "mode").is_err(), "Global inherits from nothing");
    assert_eq!(s, before);
}

#[test]
fn check_reports_each_profile_as_resolved_keyed_by_profile() {
    let mut s = with_profile("alerts");
    profiles::create(&mut s, "mkt", None).unwrap();
    assert!(check(&s).is_ok(), "{:?}", check(&s));

    // An override that breaks the resolved profile is reported on that profile's key.
    set_key_in(&mut s, Some("alerts"), "relay.host", "bad host!").unwrap();
    // A combination: the profile logs in with a password over plain text to a remote host.
    set_key_in(&mut s, Some("mkt"), "auth.method", "password").unwrap();
    let r = check(&s);
    assert_eq!(error_fields(&r), ["profiles.alerts.relay.host", "profiles.mkt.auth.username"], "{r:?}");
    assert!(r.errors[1].message.contains("enter the account name"), "{r:?}");

    // The window's form for one profile: plain keys.
    assert_eq!(error_fields(&check_profile(&s, "alerts")), ["relay.host"]);
    assert!(check_profile(&s, "global").is_ok());
    assert_eq!(error_fields(&check_profile(&s, "ghost")), ["profile"]);

    // A Global problem every profile inherits is reported once, at Global.
    let mut s = with_profile("alerts");
    s.profile.sender.from_address = "not an address".into();
    assert_eq!(error_fields(&check(&s)), ["sender.from_address"]);
    let warnings: Vec<_> = check(&s).warnings.into_iter().map(|i| i.field).collect();
    assert_eq!(warnings, ["auth.method"], "inherited warnings are not repeated per profile");
    // ...unless the profile overrides it, or only the profile makes it a problem.
    s.profile.sender.from_address = "ok@example.com".into();
    s.profile.mode = Mode::Off;
    s.profile.relay.host = String::new();
    set_key_in(&mut s, Some("alerts"), "mode", "relay").unwrap();
    assert_eq!(error_fields(&check(&s)), ["profiles.alerts.relay.host"]);
    assert!(check(&s).errors[0].message.contains("is required"));
}

#[test]
fn a_hand_edited_file_with_bad_profiles_loads_read_write_and_check_names_each_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let mut doc = serde_json::to_value(relay()).unwrap();
    doc["profiles"] = json!({
        "alerts": { "relay.port": "abc", "no.such": 1, "listener.port": 2600, "sender.from_name": "Alerts" },
        "bad name": {},
        "global": {},
    });
    doc["default_profile"] = json!("ghost");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

    let loaded = settings::load_from(&path).unwrap();
    assert!(loaded.read_only.is_none() && loaded.notice.is_none(), "{:?}", loaded.notice);
    let r = check(&loaded.settings);
    let fields = error_fields(&r);
    for f in [
        "profiles.alerts.relay.port",
        "profiles.alerts.no.such",
        "profiles.alerts.listener.port",
        "profiles.bad name",
        "profiles.global",
        "default_profile",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} missing from {r:#?}");
    }
    let message = |f: &str| r.errors.iter().find(|i| i.field == f).unwrap().message.clone();
    assert!(message("profiles.alerts.no.such").contains("smtp-desk config unset no.such --profile alerts"), "{r:#?}");
    assert!(message("profiles.alerts.relay.port").contains("smtp-desk config set relay.port VALUE --profile alerts"), "{r:#?}");
    assert!(message("profiles.alerts.listener.port").contains("Global only"), "{r:#?}");
    assert!(message("profiles.bad name").contains("smtp-desk profile rename 'bad name'"), "{r:#?}");
    assert!(message("default_profile").contains("smtp-desk profile default NAME"), "{r:#?}");
    // The good override of a profile with bad ones still shows in its form.
    assert_eq!(check_profile(&loaded.settings, "alerts").errors.len(), 3);

    // Each fix, through the same edits the CLI makes, makes it saveable again.
    let fixed = settings::modify(&path, settings::WriteOptions::default(), |s| {
        unset_key(s, "alerts", "relay.port")?;
        unset_key(s, "alerts", "no.such")?;
        unset_key(s, "alerts", "listener.port")?;
        profiles::rename(s, "bad name", "good-name")?;
        s.profiles.remove("global");
        profiles::set_default(s, "alerts")
    })
    .unwrap();
    assert!(check(&fixed.settings).is_ok(), "{:?}", check(&fixed.settings));
    assert_eq!(fixed.settings.profiles["alerts"], settings::Overrides::from([("sender.from_name".into(), json!("Alerts"))]));
}

#[test]
fn concurrent_edits_to_global_and_to_a_profile_both_survive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let mut start = with_profile("x");
    profiles::create(&mut start, "y", None).unwrap();
    settings::save_to(&path, &start).unwrap();

    // Two editors read the same file; one changes Global, the other profile x.
    let base = settings::load_from(&path).unwrap().settings;
    let mut global_edit = base.clone();
    set_key_in(&mut global_edit, None, "sender.from_name", "Changed Global").unwrap();
    let mut profile_edit = base.clone();
    set_key_in(&mut profile_edit, Some("x"), "relay.host", "x.example.com:2525").unwrap();
    settings::update(&path, &base, &global_edit, &[]).unwrap();
    let now = settings::update(&path, &base, &profile_edit, &[]).unwrap().settings;
    assert_eq!(now.profile.sender.from_name, "Changed Global");
    let x = profiles::resolve(&now, Some("x")).unwrap();
    assert_eq!((x.relay.host.as_str(), x.relay.port, x.sender.from_name.as_str()), ("x.example.com", 2525, "Changed Global"));

    // One deletes profile y while the other edits Global (and resets x's port): all of it stays.
    let base = now;
    let mut delete_edit = base.clone();
    profiles::delete(&mut delete_edit, "y").unwrap();
    let mut global_edit = base.clone();
    set_key_in(&mut global_edit, None, "limits.timeout_secs", "9").unwrap();
    unset_key(&mut global_edit, "x", "relay.port").unwrap();
    settings::update(&path, &base, &delete_edit, &[]).unwrap();
    let now = settings::update(&path, &base, &global_edit, &[]).unwrap().settings;
    assert!(!now.profiles.contains_key("y"), "the deletion survived: {:?}", now.profiles);
    assert_eq!(now.profile.limits.timeout_secs, 9);
    assert_eq!(now.profiles["x"], settings::Overrides::from([("relay.host".into(), json!("x.example.com"))]));

    // Both edit the same override of x to different values: a conflict named by profile and key.
    let base = now;
    let (mut a, mut b) = (base.clone(), base.clone());
    set_key_in(&mut a, Some("x"), "relay.host", "a.example.com").unwrap();
    set_key_in(&mut b, Some("x"), "relay.host", "b.example.com").unwrap();
    settings::update(&path, &base, &a, &[]).unwrap();
    match settings::update(&path, &base, &b, &[]) {
        Err(settings::Error::Conflict(c)) => assert_eq!(c[0].field, "profiles.x.relay.host"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_event_diff_names_profile_changes() {
    use smtp_desk::journal::events::{self, Actor, ProfileAction};
    let old = with_profile("alerts");
    let mut new = old.clone();
    set_key_in(&mut new, Some("alerts"), "relay.host", "a.example.com:2525").unwrap();
    profiles::create(&mut new, "mkt", None).unwrap();
    profiles::set_default(&mut new, "mkt").unwrap();
    let e = events::settings_changed(&old, &new, Actor::CommandLine).unwrap();
    let fields: Vec<_> = e.detail.as_ref().unwrap()["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["profiles.alerts.relay.host", "profiles.alerts.relay.port", "profiles.mkt", "default_profile"]);
    assert!(e.summary.contains("alerts: Server (inherited) → a.example.com"), "{}", e.summary);
    let gone = events::settings_changed(&new, &old, Actor::CommandLine).unwrap();
    assert!(gone.summary.contains("Profile mkt deleted") && gone.summary.contains("alerts: Port 2525 → (inherited)"), "{}", gone.summary);
    let e = events::profile_changed(&ProfileAction::Renamed { from: "a".into() }, "b", Actor::CommandLine);
    assert_eq!(e.detail.unwrap()["action"], "rename");
}

// ---- the command line -------------------------------------------------------------------------

fn cli_in(config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    support::cli_in(config, &config.join("policy.json"), args, stdin)
}

fn cli(config: &Path, args: &[&str]) -> Output {
    cli_in(config, args, None)
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stored(config: &Path) -> Settings {
    settings::load_from(&config.join("settings.json")).unwrap().settings
}

#[test]
fn cli_profile_commands_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path();
    ok(&cli(c, &["config", "set", "mode", "relay", "relay.host", "smtp.example.com", "sender.from_address", "a@example.com"]));
    ok(&cli(c, &["profile", "create", "alerts"]));
    ok(&cli(c, &["config", "set", "--profile", "alerts", "relay.host", "alerts.example.com:2525", "sender.from_name", "Alerts"]));
    ok(&cli(c, &["profile", "create", "mkt", "--copy-of", "alerts"]));
    ok(&cli(c, &["config", "unset", "sender.from_name", "--profile", "mkt"]));
    ok(&cli(c, &["profile", "default", "alerts"]));

    let list: serde_json::Value = serde_json::from_str(&ok(&cli(c, &["profile", "list", "--json"]))).unwrap();
    assert_eq!(
        list,
        json!([
            { "name": "global", "default": false, "mode": "relay", "relay_host": "smtp.example.com", "overrides": [] },
            { "name": "alerts", "default": true, "mode": "relay", "relay_host": "alerts.example.com",
              "overrides": ["relay.host", "relay.port", "sender.from_name"] },
            { "name": "mkt", "default": false, "mode": "relay", "relay_host": "alerts.example.com", "overrides": ["relay.host", "relay.port"] },
        ])
    );
    let text = ok(&cli(c, &["profile", "list"]));
    assert!(text.lines().any(|l| l.starts_with('*') && l.contains("alerts")), "{text}");

    let show: serde_json::Value = serde_json::from_str(&ok(&cli(c, &["profile", "show", "mkt", "--json"]))).unwrap();
    let field = |k: &str| show["fields"].as_array().unwrap().iter().find(|f| f["key"] == k).unwrap().clone();
    assert_eq!(field("relay.port"), json!({ "key": "relay.port", "value": 2525, "origin": "own" }));
    assert_eq!(field("sender.from_address"), json!({ "key": "sender.from_address", "value": "a@example.com", "origin": "inherited" }));
    assert_eq!(field("listener.port")["origin"], "global only");
    let text = ok(&cli(c, &["config", "show", "--profile", "alerts"]));
    assert!(text.lines().any(|l| l.starts_with("sender.from_name") && l.contains("Alerts") && l.contains("(own)")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("mode") && l.contains("(inherited)")), "{text}");

    // Refusals: exit 2, nothing changed, the message names the fix.
    let before = std::fs::read(c.join("settings.json")).unwrap();
    let o = cli(c, &["config", "set", "--profile", "ghost", "mode", "off"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no profile 'ghost'") && err.contains("global, alerts, mkt"), "{err}");
    for args in [
        &["config", "set", "--profile", "alerts", "listener.port", "2600"][..],
        &["profile", "create", "alerts"],
        &["profile", "create", "Bad Name"],
        &["profile", "rename", "alerts", "mkt"],
        &["profile", "delete", "global"],
        &["profile", "show", "ghost"],
        &["validate", "--profile", "ghost"],
        &["config", "show", "--profile", "ghost"],
        &["password", "status", "--profile", "ghost"],
    ] {
        let o = cli(c, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(std::fs::read(c.join("settings.json")).unwrap(), before, "refused commands wrote nothing");

    ok(&cli(c, &["profile", "rename", "alerts", "ops"]));
    let s = stored(c);
    assert_eq!(s.default_profile.as_deref(), Some("ops"), "the default follows the rename");
    assert_eq!(s.profiles["ops"]["sender.from_name"], "Alerts");
    ok(&cli(c, &["profile", "delete", "ops"]));
    let s = stored(c);
    assert_eq!(profiles::names(&s), ["global", "mkt"]);
    assert_eq!(s.default_profile, None, "deleting the default makes Global the default");

    let events = ok(&cli(c, &["events", "--json"]));
    for summary in
        ["Profile alerts created", "Profile mkt created as a copy of alerts", "Profile alerts renamed to ops", "Profile ops deleted"]
    {
        assert!(events.contains(summary), "{summary} not in {events}");
    }
    assert!(events.contains("profiles.alerts.relay.port"), "{events}");
}

// ---- the keyring (real Secret Service) --------------------------------------------------------

/// The keyring tests of this binary take turns: they share the process's keyring connection.
fn keyring_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

fn pw(text: &str) -> Password {
    Password::new(text).unwrap()
}

fn saved(entry: &str) -> (Option<String>, Option<String>) {
    let get = secrets::get(entry).expect("the Secret Service is reachable (run inside scripts/session.sh)");
    let listener = secrets::get_listener_of(entry).unwrap();
    (get.map(|p| p.expose().to_string()), listener.map(|p| p.expose().to_string()))
}

fn clear_all(names: &[&str]) {
    for n in names {
        secrets::clear(n).unwrap();
        secrets::clear_listener_of(n).unwrap();
    }
}

#[test]
fn renaming_and_deleting_a_profile_moves_and_removes_its_passwords() {
    let _turn = keyring_turn();
    let (a, b, other) = ("pt-rename-a", "pt-rename-b", "pt-rename-other");
    clear_all(&[a, b, other, "pt-rename-c"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let mut s = relay();
    profiles::create(&mut s, a, None).unwrap();
    profiles::create(&mut s, other, None).unwrap();
    settings::save_to(&path, &s).unwrap();
    secrets::set(a, &pw("A-server-1")).unwrap();
    secrets::set_listener_of(a, &pw("A-listener-1")).unwrap();
    secrets::set(other, &pw("Other-server-1")).unwrap();

    // Onto an existing name (or itself): nothing changes, in the file or the keyring.
    let file = std::fs::read(&path).unwrap();
    for onto in [other, a, "GLOBAL"] {
        let e = account::rename_profile(&path, a, onto).unwrap_err();
        assert!(e.kind == "profile_exists" || e.kind == "bad_profile_name", "{onto}: {e:?}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), file);
    assert_eq!(saved(a), (Some("A-server-1".into()), Some("A-listener-1".into())));
    assert_eq!(saved(other), (Some("Other-server-1".into()), None));

    account::rename_profile(&path, a, b).unwrap();
    assert_eq!(profiles::names(&settings::load_from(&path).unwrap().settings), ["global", b, other]);
    assert_eq!(saved(b), (Some("A-server-1".into()), Some("A-listener-1".into())), "both passwords moved");
    assert_eq!(saved(a), (None, None), "nothing left under the old name");

    // A stale entry under the new name (left by a profile of that name deleted while the keyring
    // was locked) must not become the renamed profile's password.
    let c = "pt-rename-c";
    secrets::clear_listener_of(b).unwrap();
    secrets::set_listener_of(c, &pw("Stale-listener")).unwrap();
    account::rename_profile(&path, b, c).unwrap();
    assert_eq!(saved(c), (Some("A-server-1".into()), None));
    account::rename_profile(&path, c, b).unwrap();

    // Global can't be deleted; its entries are untouched.
    let e = account::delete_profile(&path, "global").unwrap_err();
    assert_eq!(e.kind, "bad_profile_name", "{e:?}");
    assert!(e.message.contains("Global can't be deleted"), "{e:?}");

    account::delete_profile(&path, b).unwrap();
    assert_eq!(saved(b), (None, None), "both passwords removed");
    assert_eq!(saved(other), (Some("Other-server-1".into()), None), "another profile's password is untouched");
    assert_eq!(account::delete_profile(&path, b).unwrap_err().kind, "unknown_profile");
    clear_all(&[a, b, other, "pt-rename-c"]);
}

#[test]
fn a_profile_uses_its_own_password_and_global_s_only_for_the_same_login() {
    let _turn = keyring_turn();
    let name = "pt-own-password";
    clear_all(&[name]);
    let mut s = relay();
    s.profile.auth.method = AuthMethod::Password;
    s.profile.auth.username = "global-user".into();
    profiles::create(&mut s, name, None).unwrap();
    let global_had = secrets::get(secrets::DEFAULT_PROFILE).unwrap();
    secrets::set(secrets::DEFAULT_PROFILE, &pw("Global-Secret-77")).unwrap();

    assert_eq!(account::password_for(&s, Some(name)).unwrap().unwrap().expose(), "Global-Secret-77", "same server and login");
    set_key_in(&mut s, Some(name), "auth.username", "other-user").unwrap();
    assert!(account::password_for(&s, Some(name)).unwrap().is_none(), "Global's password never goes to another login");
    secrets::set(name, &pw("Own-Secret-78")).unwrap();
    assert_eq!(account::password_for(&s, Some(name)).unwrap().unwrap().expose(), "Own-Secret-78");

    // The CLI: set, status and clear by profile, each in the profile's own entry.
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path();
    settings::save_to(&c.join("settings.json"), &s).unwrap();
    ok(&cli_in(c, &["password", "set", "--profile", name], Some("Cli-Secret-79\n")));
    ok(&cli_in(c, &["password", "set", "--listener", "--profile", name], Some("Cli-Listener-80\n")));
    assert_eq!(saved(name), (Some("Cli-Secret-79".into()), Some("Cli-Listener-80".into())));
    assert_eq!(secrets::get(secrets::DEFAULT_PROFILE).unwrap().unwrap().expose(), "Global-Secret-77", "Global's is untouched");
    assert!(ok(&cli(c, &["password", "status", "--profile", name])).contains("password saved"));
    ok(&cli(c, &["password", "clear", "--profile", name]));
    ok(&cli(c, &["password", "clear", "--listener", "--profile", name]));
    assert_eq!(saved(name), (None, None));
    assert!(ok(&cli(c, &["password", "status", "--profile", name])).contains(&format!("password set --profile {name}")));
    let file = std::fs::read_to_string(c.join("settings.json")).unwrap();
    assert!(!file.contains("Cli-Secret") && !file.contains("Cli-Listener"), "{file}");

    // A form's save for a named profile puts the listener password in that profile's entry.
    let changes = account::PasswordChanges {
        password: account::PasswordChange::Keep,
        listener_password: account::PasswordChange::Set(pw("Form-Listener-81")),
    };
    let edit = account::Edit { base: &s, edited: &s, keep_mine: &[] };
    let global_listener = secrets::get_listener().unwrap();
    account::save_all(&c.join("settings.json"), name, edit, changes).unwrap();
    assert_eq!(saved(name).1.as_deref(), Some("Form-Listener-81"));
    assert_eq!(secrets::get_listener().unwrap(), global_listener, "Global's listener entry is untouched");

    clear_all(&[name]);
    match global_had {
        Some(p) => secrets::set(secrets::DEFAULT_PROFILE, &p).unwrap(),
        None => secrets::clear(secrets::DEFAULT_PROFILE).unwrap(),
    }
}

// ---- validate --profile against a real server ---------------------------------------------------

#[test]
fn validate_with_profile_uses_the_profile_s_port_and_the_policy() {
    let server = support::Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path();
    let dead = support::free_port();
    let mut s = Settings { profile: support::profile(dead, Security::None), ..Settings::default() };
    profiles::create(&mut s, "live", None).unwrap();
    set_key_in(&mut s, Some("live"), "relay.port", &server.port.to_string()).unwrap();
    settings::save_to(&c.join("settings.json"), &s).unwrap();

    let o = cli(c, &["validate", "--profile", "live", "--to", "rcpt@example.org"]);
    let out = ok(&o);
    assert!(out.contains("Validation passed"), "{out}");
    let o = cli(c, &["validate", "--to", "rcpt@example.org"]);
    assert!(!o.status.success(), "Global's port has no server: {}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&dead.to_string()) || o.status.code() != Some(0));

    // The default profile is used when none is named.
    ok(&cli(c, &["profile", "default", "live"]));
    ok(&cli(c, &["validate", "--to", "rcpt@example.org"]));
    // And `--set` tries a change to that profile without saving it.
    let o = cli(c, &["validate", "--profile", "live", "--set", "relay.port", &dead.to_string()]);
    assert!(!o.status.success());
    assert_eq!(stored(c).profiles["live"]["relay.port"], json!(server.port));

    // A test email goes to the profile's server.
    let out = ok(&cli(c, &["send-test", "--profile", "live", "--to", "rcpt@example.org"]));
    assert!(out.contains("Test email sent"), "{out}");
    assert_eq!(server.received().len(), 1);

    // An invalid admin policy refuses before anything is sent.
    std::fs::write(c.join("policy.json"), "{ not json").unwrap();
    let o = cli(c, &["validate", "--profile", "live"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
    assert!(err.contains("policy"), "{err}");
    // A valid policy the profile breaks refuses with the policy's message.
    std::fs::write(c.join("policy.json"), r#"{"schema": 1, "require_tls": true, "reason": "TLS only here"}"#).unwrap();
    let o = cli(c, &["validate", "--profile", "live"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(c, &["send-test", "--profile", "live", "--to", "rcpt@example.org"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(server.received().len(), 1, "nothing more was sent");
}
