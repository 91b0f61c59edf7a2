//! A real DNS server for the tests: dnsmasq answering only from its arguments (no upstream, no
//! /etc/hosts), authoritative for `.test` (a name it doesn't hold is NXDOMAIN, as a real zone's
//! server says, not REFUSED).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// dnsmasq on 127.0.0.1 at a free port serving `records` (dnsmasq options such as
/// `--host-record=…`, `--mx-host=…`, `--txt-record=…`); returns it and its port.
pub fn dnsmasq(records: &[String]) -> (Killed, u16) {
    dnsmasq_on("127.0.0.1", None, records)
}

/// dnsmasq on `ip` at `port` (a free one when `None`).
pub fn dnsmasq_on(ip: &str, port: Option<u16>, records: &[String]) -> (Killed, u16) {
    for _ in 0..5 {
        let port = port.unwrap_or_else(|| std::net::UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap().port());
        let mut cmd = Command::new("dnsmasq");
        cmd.args(["--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces", "--local=/test/"])
            .arg(format!("--listen-address={ip}"))
            .arg(format!("--port={port}"))
            .args(records)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = Killed(cmd.spawn().expect("start dnsmasq (Debian package dnsmasq; scripts/setup.sh test installs it)"));
        // Up once the port is taken (then our own bind fails).
        if super::wait_until(Duration::from_secs(5), || std::net::UdpSocket::bind((ip, port)).is_err()) {
            return (child, port);
        }
    }
    panic!("dnsmasq did not start");
}
