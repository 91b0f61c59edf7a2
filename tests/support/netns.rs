//! Tests that bind ports 25, 53 or 443: each re-runs itself inside a network namespace of its own
//! (`unshare -rn`: root in a new user and network namespace, only loopback, no real network), and
//! the inner run does the work. Needs util-linux (unshare) and iproute2 (ip).

use std::process::Command;

/// Set in the inner run (inside the namespace).
pub const INSIDE: &str = "SMTP_DESK_TEST_IN_NETNS";

/// True in the inner run; outside, runs test `name` of this test binary in its own namespace
/// with `env` set, asserts that it ran and passed, and returns false.
pub fn inside(name: &str, env: &[(&str, &str)]) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["-rn", "--", "sh", "-c", r#"ip link set lo up && exec "$0" "$@""#])
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .envs(env.iter().copied())
        .output()
        .expect("run unshare (util-linux) and ip (iproute2): scripts/setup.sh test installs them");
    let said = super::said(&out);
    assert!(out.status.success() && said.contains("1 passed"), "{name} in its own network namespace failed:\n{said}");
    false
}
