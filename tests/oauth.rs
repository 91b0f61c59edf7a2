//! OAuth2 sign-in end to end: a real OAuth2 server (npm oauth2-mock-server, tests/servers/
//! oauth_server.mjs), the aiosmtpd test server accepting XOAUTH2/OAUTHBEARER only with a token
//! signed by that server's keys, and the real Secret Service (run inside scripts/session.sh).
//! Each test signs in its own named profile (its own keyring entry `oauth:NAME`) and signs out
//! at the end, so tests and other binaries never share an entry.

mod support;

use smtp_desk::oauth::{self, flow, tokens};
use smtp_desk::secrets;
use smtp_desk::settings::{AuthMethod, Mechanism, OAuthProvider, Profile, Security};
use smtp_desk::smtp::{self, CancelToken, Job};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use support::desk::Desk;
use support::oauth_server::OAuthServer;

use support::oauth_server::USER;

/// The aiosmtpd server taking OAuth2 logins checked against `oauth`'s JWKS; its events file.
fn smtp_server(oauth: &OAuthServer, dir: &Path) -> (support::Server, std::path::PathBuf) {
    let events = dir.join("events.jsonl");
    let server = support::Server::start(&["--oauth-jwks", &oauth.url("/jwks"), "--auth-plaintext", "--events", events.to_str().unwrap()]);
    (server, events)
}

fn oauth_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "oauth")
        .collect()
}

fn text(o: &std::process::Output) -> String {
    support::said(o)
}

/// Nothing shown may hold a token: JWTs start with `eyJ`, the refresh tokens are UUIDs we read
/// back from the keyring.
fn assert_no_token(shown: &str, refresh: &str) {
    assert!(!shown.contains("eyJ"), "an access token was shown:\n{shown}");
    assert!(!shown.contains(refresh), "the refresh token was shown:\n{shown}");
}

fn stored(entry: &str) -> tokens::Stored {
    tokens::load(entry).expect("the Secret Service is reachable (run inside scripts/session.sh)").expect("signed in")
}

/// The device flow from the command line stores a refresh token (never the access token) in the
/// keyring; validate passes with XOAUTH2 and with OAUTHBEARER, send-test delivers; no output
/// holds a token; sign-out removes the entry.
#[test]
fn device_login_then_validate_with_xoauth2_and_oauthbearer() {
    let oauth = OAuthServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (server, events) = smtp_server(&oauth, dir.path());
    let desk = Desk::relay(server.port, &[]);
    let profile = "oauth-test-device-cli";
    let entry = profile;
    let ok = |o: &std::process::Output, what: &str| {
        assert!(o.status.success(), "{what}: {:?}\n{}", o.status, text(o));
        text(o)
    };
    ok(&desk.run(&["profile", "create", profile], b""), "profile create");
    let mut set = vec!["config".to_string(), "set".into(), "--profile".into(), profile.into()];
    set.extend(oauth.settings());
    ok(&desk.run(&set.iter().map(String::as_str).collect::<Vec<_>>(), b""), "config set");

    let login = ok(&desk.run(&["oauth", "login", "--profile", profile, "--device"], b""), "oauth login --device");
    assert!(login.contains("WDJB-MJHT") && login.contains(&oauth.url("/device")), "the code and where to enter it:\n{login}");
    assert!(login.contains(&format!("Signed in as {USER}")), "{login}");

    let record = secrets::get_oauth(entry).unwrap().expect("a keyring entry oauth:NAME");
    let s = stored(entry);
    assert!(!s.refresh_token.is_empty() && s.user == USER, "{s:?}");
    assert!(!record.expose().contains("eyJ"), "the access token must not be stored: {} bytes", record.expose().len());
    assert!(record.expose().len() < tokens::MAX_STORED_BYTES);

    let status = ok(&desk.run(&["oauth", "status", "--profile", profile, "--json"], b""), "oauth status");
    assert!(status.contains("\"signed_in\": true") && status.contains(USER), "{status}");
    assert_no_token(&status, &s.refresh_token);

    let validated = ok(&desk.run(&["validate", "--profile", profile, "--transcript"], b""), "validate (XOAUTH2)");
    assert!(validated.contains("with XOAUTH2") && validated.contains("******** (bearer token, base64)"), "{validated}");
    // The refresh of a new process rotated the refresh token (the server issues a new one each time).
    let rotated = stored(entry);
    assert_ne!(rotated.refresh_token, s.refresh_token, "the rotated refresh token was saved");
    assert_no_token(&validated, &rotated.refresh_token);

    ok(&desk.run(&["config", "set", "--profile", profile, "auth.mechanism", "oauthbearer"], b""), "config set mechanism");
    let validated = ok(&desk.run(&["validate", "--profile", profile, "--transcript"], b""), "validate (OAUTHBEARER)");
    assert!(validated.contains("with OAUTHBEARER") && validated.contains("-> AUTH OAUTHBEARER"), "{validated}");
    let sent = ok(&desk.run(&["send-test", "--profile", profile, "--to", "friend@example.org", "--transcript"], b""), "send-test");
    assert!(sent.contains("queued as"), "{sent}");
    assert_no_token(&format!("{validated}{sent}"), &stored(entry).refresh_token);

    let seen: Vec<(String, String)> = oauth_events(&events)
        .iter()
        .map(|e| (e["arg"].as_str().unwrap().to_string(), e["options"][1].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(seen, [("XOAUTH2", "ok"), ("OAUTHBEARER", "ok"), ("OAUTHBEARER", "ok")].map(|(a, b)| (a.to_string(), b.to_string())));

    ok(&desk.run(&["oauth", "logout", "--profile", profile], b""), "oauth logout");
    assert!(secrets::get_oauth(entry).unwrap().is_none());
    let status = ok(&desk.run(&["oauth", "status", "--profile", profile], b""), "oauth status");
    assert!(status.contains("Not signed in"), "{status}");
}

fn profile(oauth: &OAuthServer, port: u16) -> Profile {
    let mut p = support::profile(port, Security::None);
    p.limits.timeout_secs = 5;
    p.auth.method = AuthMethod::OAuth2;
    p.auth.username = USER.into();
    p.auth.mechanism = Mechanism::Auto;
    p.auth.oauth_provider = OAuthProvider::Custom;
    p.auth.oauth_client_id = "smtp-desk-test".into();
    p.auth.oauth_authorize_url = oauth.url("/authorize");
    p.auth.oauth_token_url = oauth.url("/token");
    p.auth.oauth_device_url = oauth.url("/device_authorization");
    p.auth.oauth_scopes = "https://mail.google.com/".into();
    p
}

async fn validate(p: &Profile, entry: &str) -> smtp::Outcome {
    let job = Job::with_oauth_token(p.clone(), entry).unwrap();
    smtp::validate(&job, None, &CancelToken::new(), &mut |_| {}).await
}

async fn sign_in(p: &Profile, entry: &str) {
    let ep = oauth::endpoints(&p.auth).unwrap();
    flow::device(&ep, entry, &p.auth.username, |_| {}).await.unwrap();
}

fn shown(o: &smtp::Outcome) -> String {
    serde_json::to_string(o).unwrap()
}

/// An access token about to expire (inside the refresh margin) is not used: the next login
/// refreshes first and passes without the server refusing anything.
#[tokio::test(flavor = "multi_thread")]
async fn an_expiring_access_token_is_refreshed_before_the_login() {
    let oauth = OAuthServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (server, events) = smtp_server(&oauth, dir.path());
    let entry = "oauth-test-expiring";
    let p = profile(&oauth, server.port);
    // Tokens live 3 s: always inside the 120 s margin, so each login must refresh.
    oauth.post("/test/ttl?s=3");
    sign_in(&p, entry).await;
    let before = oauth.refreshes();
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let o = validate(&p, entry).await;
    assert!(o.ok, "{:?}", o.failure);
    assert_eq!(oauth.refreshes(), before + 1, "one refresh before the login");
    let text = shown(&o);
    assert!(!text.contains("tried once more"), "the server had to refuse an expired token first:\n{text}");
    assert_eq!(oauth_events(&events).iter().filter(|e| e["options"][1] == "refused").count(), 0);
    assert_no_token(&text, &stored(entry).refresh_token);
    tokens::forget(entry).unwrap();
}

/// A provider whose `expires_in` is wrong: the token we hold looks fresh but the server refuses
/// it. The refusal (the base64 JSON 334 continuation, answered as the protocol requires) is
/// redacted, the token is refreshed once and the login passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_is_refreshed_once_and_the_login_retried() {
    let oauth = OAuthServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (server, events) = smtp_server(&oauth, dir.path());
    let entry = "oauth-test-refused-once";
    let p = profile(&oauth, server.port);
    oauth.post("/test/ttl?s=1&claim=3600");
    sign_in(&p, entry).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let o = validate(&p, entry).await;
    assert!(o.ok, "{:?}", o.failure);
    let text = shown(&o);
    assert!(text.contains("<OAuth2 error details, redacted>") && text.contains("tried once more"), "{text}");
    let verdicts: Vec<_> = oauth_events(&events).iter().map(|e| e["options"][1].as_str().unwrap().to_string()).collect();
    assert_eq!(verdicts, ["refused", "ok"]);
    assert_no_token(&text, &stored(entry).refresh_token);
    tokens::forget(entry).unwrap();
}

/// A revoked sign-in: the provider refuses the refresh token; the login step fails with the
/// "sign in again" hint, from the command line too, and nothing shows a token.
#[test]
fn a_revoked_sign_in_says_sign_in_again() {
    let oauth = OAuthServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (server, _events) = smtp_server(&oauth, dir.path());
    let desk = Desk::relay(server.port, &[]);
    let profile = "oauth-test-revoked";
    assert!(desk.run(&["profile", "create", profile], b"").status.success());
    let mut set = vec!["config".to_string(), "set".into(), "--profile".into(), profile.into()];
    set.extend(oauth.settings());
    assert!(desk.run(&set.iter().map(String::as_str).collect::<Vec<_>>(), b"").status.success());
    let login = desk.run(&["oauth", "login", "--profile", profile, "--device"], b"");
    assert!(login.status.success(), "{}", text(&login));
    let refresh = stored(profile).refresh_token;
    oauth.post("/test/refuse-refresh");
    let out = desk.run(&["validate", "--profile", profile, "--transcript"], b"");
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("Sign in again") && said.contains("smtp-desk oauth login"), "{said}");
    assert_no_token(&said, &refresh);
    assert!(desk.run(&["oauth", "logout", "--profile", profile], b"").status.success());
}

/// The browser flow from the command line: the authorization URL carries PKCE S256 and a state;
/// the provider's redirect reaches the loopback listener on 127.0.0.1 and the sign-in is saved.
#[test]
fn browser_login_with_pkce_and_a_loopback_redirect() {
    let oauth = OAuthServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (server, _events) = smtp_server(&oauth, dir.path());
    let desk = Desk::relay(server.port, &[]);
    let profile = "oauth-test-browser";
    assert!(desk.run(&["profile", "create", profile], b"").status.success());
    let mut set = vec!["config".to_string(), "set".into(), "--profile".into(), profile.into()];
    set.extend(oauth.settings());
    assert!(desk.run(&set.iter().map(String::as_str).collect::<Vec<_>>(), b"").status.success());
    // SSH_CONNECTION: no browser is started; the test plays the browser.
    let mut child = desk
        .cmd()
        .args(["oauth", "login", "--profile", profile, "--browser"])
        .env("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut url = String::new();
    while !url.starts_with("http") {
        url.clear();
        assert!(err.read_line(&mut url).unwrap() > 0, "no URL printed");
        url = url.trim().to_string();
    }
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("state=") && url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
        "{url}"
    );
    let page = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() })
    })
    .join()
    .unwrap();
    assert!(page.contains("Sign-in received"), "{page}");
    let out = child.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert!(out.status.success(), "{rest}");
    assert!(rest.contains(&format!("Signed in as {USER}")), "{rest}");
    assert!(!stored(profile).refresh_token.is_empty());
    assert!(desk.run(&["oauth", "logout", "--profile", profile], b"").status.success());
}

/// A sign-in takes the profile as sending does, under the admin policy: while the policy file is
/// invalid it is refused, says why, and nothing reaches the keyring.
#[test]
fn an_invalid_policy_refuses_the_sign_in() {
    let oauth = OAuthServer::start();
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::relay(support::free_port(), &[]);
    let profile = "oauth-test-policy";
    assert!(desk.run(&["profile", "create", profile], b"").status.success());
    let mut set = vec!["config".to_string(), "set".into(), "--profile".into(), profile.into()];
    set.extend(oauth.settings());
    assert!(desk.run(&set.iter().map(String::as_str).collect::<Vec<_>>(), b"").status.success());
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, "{ \"schema\": 1, \"lokc\": {} }").unwrap();
    let out = desk.cmd().env("SMTP_DESK_POLICY", &policy).args(["oauth", "login", "--profile", profile, "--device"]).output().unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("admin policy") && said.contains("lokc"), "{said}");
    assert!(smtp_desk::secrets::get_oauth(profile).unwrap().is_none(), "nothing saved");
}
