//! What one `smtp-desk sendmail` costs the machine, seen with strace: one fsync per message (the
//! WAL commit; no second one for the directory, no checkpoint on close), no D-Bus or keyring
//! connection, and the one-shot delivery agent started without a full fork. These are what keep a
//! durable `sendmail` under 5 ms (scripts/bench-outbox.sh measures the time itself).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-desk");
const RUNS: usize = 12;

fn message(i: usize) -> Vec<u8> {
    let mut m = format!("From: cron@example.com\nTo: root\nSubject: cost {i}\n\n").into_bytes();
    while m.len() < 4096 {
        m.extend_from_slice(b"a line of a 4 KB message, as a script or cron would write it......\n");
    }
    m
}

/// Runs `smtp-desk sendmail -t -i` under strace (this process only, not the agent it starts) and
/// returns the trace.
fn traced_sendmail(config: &Path, data: &Path, trace: &Path, i: usize) -> String {
    let mut child = Command::new("strace")
        .args(["-qq", "-e", "trace=fsync,fdatasync,sync_file_range,syncfs,connect,clone,clone3,fork,vfork", "-o"])
        .arg(trace)
        .args([BIN, "sendmail", "-t", "-i"])
        .env("SMTP_DESK_CONFIG_DIR", config)
        .env("SMTP_DESK_DATA_DIR", data)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace (install it: scripts/setup.sh test)");
    child.stdin.take().unwrap().write_all(&message(i)).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "sendmail failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(trace).unwrap()
}

#[test]
fn a_queued_message_costs_one_fsync_no_dbus_and_no_fork() {
    let probe = Command::new("strace").args(["-qq", "-o", "/dev/null", "true"]).output();
    match probe {
        Err(e) => panic!("strace is needed for this test ({e}): scripts/setup.sh test installs it"),
        Ok(o) if !o.status.success() => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "\n{bar}\nSKIPPED a_queued_message_costs_one_fsync_no_dbus_and_no_fork: strace can't trace here ({}).\n{bar}\n",
                String::from_utf8_lossy(&o.stderr).trim(),
                bar = "#".repeat(100)
            );
            return;
        }
        Ok(_) => {}
    }
    let (config, data, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let set = Command::new(BIN)
        .args(["config", "set", "sender.from_address", "cron@example.com", "local_recipient", "admin@example.com"])
        .env("SMTP_DESK_CONFIG_DIR", config.path())
        .output()
        .unwrap();
    assert!(set.status.success());
    // The first message creates the queue (and syncs its directory once); the rest are the steady state.
    traced_sendmail(config.path(), data.path(), &work.path().join("first"), 0);
    let mut fsyncs = Vec::new();
    for i in 1..=RUNS {
        let trace = traced_sendmail(config.path(), data.path(), &work.path().join(format!("t{i}")), i);
        let syncs =
            trace.lines().filter(|l| ["fsync(", "fdatasync(", "sync_file_range(", "syncfs("].iter().any(|s| l.starts_with(s))).count();
        assert!(syncs >= 1, "run {i}: nothing was synced: the message is not durable\n{trace}");
        assert!(!trace.lines().any(|l| l.starts_with("connect(")), "run {i}: sendmail connected somewhere (D-Bus? keyring?):\n{trace}");
        // posix_spawn clones with CLONE_VM|CLONE_VFORK; a fork copies the whole process.
        for l in trace.lines().filter(|l| l.starts_with("clone") || l.starts_with("fork") || l.starts_with("vfork")) {
            assert!(l.starts_with("vfork") || l.contains("CLONE_VFORK"), "run {i}: the agent was started with a full fork: {l}");
        }
        fsyncs.push(syncs);
    }
    let single = fsyncs.iter().filter(|&&n| n == 1).count();
    let _ = writeln!(std::io::stderr().lock(), "sendmail fsyncs per message over {RUNS} runs: {fsyncs:?}");
    // A run that folds the WAL into the database (Store::open_for_intake) syncs the WAL and the
    // database once more; that is about one message in 18 (and the next one syncs the new WAL header), never most of them.
    assert!(single >= RUNS * 2 / 3, "most messages must cost exactly one fsync: {fsyncs:?}");
    assert!(fsyncs.iter().all(|&n| n <= 4), "{fsyncs:?}");
    let counts = Command::new(BIN)
        .args(["queue", "counts", "--json"])
        .env("SMTP_DESK_CONFIG_DIR", config.path())
        .env("SMTP_DESK_DATA_DIR", data.path())
        .output()
        .unwrap();
    let counts: serde_json::Value = serde_json::from_slice(&counts.stdout).unwrap();
    assert_eq!(counts["messages"], (RUNS + 1) as u64);
}
