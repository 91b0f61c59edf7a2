//! A real Postfix submission server with SASL logins (PLAIN, LOGIN, NTLM) for the AUTH tests:
//! its own instance (`master -c DIR -d`) in a temporary directory, on a free loopback port,
//! delivering everything to Postfix's `discard` transport.
//!
//! The SASL side is Cyrus SASL (Postfix's `smtpd_sasl_type = cyrus`, the `libntlm.so` plugin of
//! libsasl2-modules, passwords in a sasldb made with `saslpasswd2`). Dovecot SASL was the first
//! choice, but the Dovecot Debian ships (2.3.19) has no NTLM mechanism of its own: its auth
//! process stops with `Unknown authentication mechanism 'NTLM'`; it offers NTLM only through
//! Samba's winbind, which needs a Windows domain.
//!
//! Needs root (Postfix's master runs its daemons as the `postfix` user).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const MASTER: &str = "/usr/lib/postfix/sbin/master";
const POSTFIX: &str = "/usr/sbin/postfix";
const SASLPASSWD: &str = "/usr/sbin/saslpasswd2";

/// The realm a user name without `@domain` is looked up in.
pub const REALM: &str = "ntlm.test";

/// A running Postfix instance; stopped (master and its daemons) when dropped.
pub struct Postfix {
    master: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// Why this machine can't run the server, or `None` when it can.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("Postfix's master must run as root".into());
    }
    for program in [POSTFIX, MASTER, SASLPASSWD] {
        if !Path::new(program).exists() {
            return Some(format!("{program} is missing (scripts/setup.sh test installs postfix and sasl2-bin)"));
        }
    }
    if ntlm_plugin().is_none() {
        return Some("Cyrus SASL's NTLM plugin (libntlm.so of libsasl2-modules) is missing".into());
    }
    None
}

fn ntlm_plugin() -> Option<PathBuf> {
    let lib = std::fs::read_dir("/usr/lib").ok()?;
    lib.flatten().map(|e| e.path().join("sasl2/libntlm.so")).find(|p| p.exists())
}

impl Postfix {
    /// Starts an instance taking logins for `users` (name, password): a name with `@domain` is
    /// that user in that realm, any other is in [`REALM`].
    pub fn start(users: &[(&str, &str)]) -> Self {
        Self::start_offering(users, "PLAIN LOGIN NTLM")
    }

    /// Like [`Self::start`], offering only `mechanisms` (SASL names, space-separated).
    pub fn start_offering(users: &[(&str, &str)], mechanisms: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Postfix's daemons run as `postfix` and must reach the spool and the password file.
        chmod(d, 0o755);
        for sub in ["pf/sasl", "spool", "data"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        chown_postfix(&d.join("data"));
        let port = super::free_port();
        let root = d.display();
        std::fs::write(
            d.join("pf/main.cf"),
            format!(
                "compatibility_level = 3.6\n\
                 queue_directory = {root}/spool\n\
                 data_directory = {root}/data\n\
                 mail_owner = postfix\n\
                 setgid_group = postdrop\n\
                 myhostname = {REALM}\n\
                 mydestination =\n\
                 inet_interfaces = 127.0.0.1\n\
                 inet_protocols = ipv4\n\
                 mynetworks =\n\
                 alias_maps =\n\
                 alias_database =\n\
                 smtpd_sasl_auth_enable = yes\n\
                 smtpd_sasl_type = cyrus\n\
                 smtpd_sasl_path = smtpd\n\
                 smtpd_sasl_local_domain = {REALM}\n\
                 smtpd_relay_restrictions = permit_sasl_authenticated, reject\n\
                 smtpd_recipient_restrictions = permit_sasl_authenticated, reject\n\
                 default_transport = discard\n\
                 relay_transport = discard\n\
                 local_transport = discard\n\
                 maillog_file = {root}/postfix.log\n\
                 maillog_file_prefixes = {root}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("pf/master.cf"),
            format!(
                "127.0.0.1:{port} inet n - n - - smtpd\n\
                 pickup unix n - n 60 1 pickup\n\
                 cleanup unix n - n - 0 cleanup\n\
                 qmgr unix n - n 300 1 qmgr\n\
                 rewrite unix - - n - - trivial-rewrite\n\
                 bounce unix - - n - 0 bounce\n\
                 defer unix - - n - 0 bounce\n\
                 trace unix - - n - 0 bounce\n\
                 verify unix - - n - 1 verify\n\
                 proxymap unix - - n - - proxymap\n\
                 discard unix - - n - - discard\n\
                 error unix - - n - - error\n\
                 retry unix - - n - - error\n\
                 anvil unix - - n - 1 anvil\n\
                 scache unix - - n - 1 scache\n\
                 postlog unix-dgram n - n - 1 postlogd\n"
            ),
        )
        .unwrap();
        // Debian's Postfix reads smtpd.conf from $config_directory/sasl/ (cyrus_sasl_config_path
        // is not consulted there).
        let sasldb = d.join("pf/sasl/sasldb2");
        std::fs::write(
            d.join("pf/sasl/smtpd.conf"),
            format!("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: {mechanisms}\nsasldb_path: {}\n", sasldb.display()),
        )
        .unwrap();
        for (name, password) in users {
            let (user, realm) = name.split_once('@').unwrap_or((name, REALM));
            let mut child = Command::new(SASLPASSWD)
                .args(["-p", "-c", "-f"])
                .arg(&sasldb)
                .args(["-u", realm, user])
                .stdin(Stdio::piped())
                .spawn()
                .expect("run saslpasswd2");
            child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
            assert!(child.wait().unwrap().success(), "saslpasswd2 failed for {name}");
        }
        chown_postfix(&sasldb);
        // Creates the queue directories with their owners (the master would not start without).
        let check = Command::new(POSTFIX).arg("-c").arg(d.join("pf")).arg("check").output().expect("run postfix check");
        assert!(check.status.success(), "postfix check: {}", String::from_utf8_lossy(&check.stderr));
        let master = Command::new(MASTER)
            .arg("-c")
            .arg(d.join("pf"))
            .arg("-d")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start Postfix's master");
        let server = Self { master, port, dir };
        let up = super::wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(up, "Postfix did not listen on 127.0.0.1:{port}; its log:\n{}", server.log());
        server
    }

    /// Postfix's log so far (connections, SASL failures, each message's delivery).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postfix.log")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops the daemons it started.
        // SAFETY: signalling our own child by its id.
        unsafe { libc::kill(self.master.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.master.wait();
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown_postfix(path: &Path) {
    let ok = Command::new("chown").arg("postfix").arg(path).status().is_ok_and(|s| s.success());
    assert!(ok, "chown postfix {}", path.display());
}
