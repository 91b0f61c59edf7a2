//! The test OAuth2 server (tests/servers/oauth_server.mjs: npm oauth2-mock-server plus the
//! device grant and the tests' switches) on a free loopback port, for the OAuth2 and window tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Who the test server's tokens are for (and the profiles' auth.username).
pub const USER: &str = "johndoe@example.com";

/// The test OAuth2 server on a free loopback port.
pub struct OAuthServer {
    child: Child,
    pub port: u16,
}

impl OAuthServer {
    pub fn start() -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/oauth_server.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node (scripts/setup.sh test installs it and oauth2-mock-server)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port =
            line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("the OAuth2 server did not start: {line:?}")).parse().unwrap();
        Self { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn post(&self, path: &str) -> serde_json::Value {
        let url = self.url(path);
        let r = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async { reqwest::Client::new().post(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() })
        });
        r.join().unwrap()
    }

    pub fn refreshes(&self) -> u64 {
        let url = self.url("/test/stats");
        let r = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async { reqwest::get(url).await.unwrap().json::<serde_json::Value>().await.unwrap() })
        });
        r.join().unwrap()["refreshes"].as_u64().unwrap()
    }

    /// `config set` pairs for a custom provider pointing here.
    pub fn settings(&self) -> Vec<String> {
        [
            ("auth.method", "oauth2".to_string()),
            ("auth.username", USER.to_string()),
            ("auth.oauth_provider", "custom".to_string()),
            ("auth.oauth_client_id", "smtp-desk-test".to_string()),
            ("auth.oauth_authorize_url", self.url("/authorize")),
            ("auth.oauth_token_url", self.url("/token")),
            ("auth.oauth_device_url", self.url("/device_authorization")),
            ("auth.oauth_scopes", "https://mail.google.com/".to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
