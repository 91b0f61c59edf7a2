//! Mail from any local user into the system queue, with no setuid helper: the system service
//! listens on a Unix socket (`/run/smtp-desk/submit.sock`, mode 0666), a user's `sendmail`
//! streams the message there, and the service learns who sent it from the kernel
//! (`SO_PEERCRED`), queues it through the usual intake with the user recorded in the queue's
//! `source` ("sendmail (uid 1001 alice)"), and answers only after the commit.
//!
//! The exchange, one message per connection:
//! - client: one JSON line `{"args": [sendmail arguments], "size": N}`, then N bytes of message
//!   (already read as sendmail reads it: `-i` and the lone-dot rule applied by the client);
//! - service: one JSON line `{"ok": true, "id": ID}` once the message is committed (fsynced), or
//!   `{"ok": false, "exit": CODE, "message": …, "hint": …}` (a sysexits code, nothing queued).
//!
//! `sendmail` exits 0 only on `ok`; when no service listens, or it does not answer, it exits 75
//! (EX_TEMPFAIL), so cron and other callers keep the mail and try again.

use crate::error::ErrorReport;
use crate::outbox::sendmail::{self, IntakeProfile, Mode};
use crate::outbox::{self, Intake, MAX_MESSAGE_BYTES};
use crate::smtp::CancelToken;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// The longest request line (the sendmail arguments).
const MAX_REQUEST_LINE: usize = 64 * 1024;
/// How long a client may take to send its request line and its message.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `sendmail` waits for the service's answer (a commit is a few ms; a busy disk more).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    args: Vec<String>,
    size: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exit: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

/// Why a user's `sendmail` could not hand its message to the system service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the SMTP Desk system service is not running (nothing answers on {socket}: {source}); nothing was queued")]
    NotRunning { socket: PathBuf, source: std::io::Error },
    #[error("the SMTP Desk system service did not confirm the message ({0}); it may not have been queued")]
    Unconfirmed(String),
    #[error("{message}")]
    Refused { exit: u8, message: String, hint: Option<String> },
}

impl Error {
    /// The sysexits code `sendmail` exits with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotRunning { .. } | Error::Unconfirmed(_) => outbox::exit::TEMPFAIL,
            Error::Refused { exit, .. } => *exit,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Error::NotRunning { .. } => Some(
                "Send again later (cron and most programs retry on exit 75). The admin starts the service with: \
                 systemctl enable --now smtp-desk"
                    .into(),
            ),
            Error::Unconfirmed(_) => Some("Send again; if this repeats, see the service's log: journalctl -u smtp-desk".into()),
            Error::Refused { hint, .. } => hint.clone(),
        }
    }
}

/// Hands `raw` (read from standard input as `args` say) to the service at `socket`; returns the
/// queue id once the service has committed it.
pub fn hand_in(socket: &Path, args: &[String], raw: &[u8]) -> Result<i64, Error> {
    let stream =
        std::os::unix::net::UnixStream::connect(socket).map_err(|source| Error::NotRunning { socket: socket.to_path_buf(), source })?;
    let lost = |e: std::io::Error| Error::Unconfirmed(e.to_string());
    stream.set_write_timeout(Some(READ_TIMEOUT)).map_err(lost)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(lost)?;
    let mut request = serde_json::to_vec(&Request { args: args.to_vec(), size: raw.len() }).expect("serialisable");
    request.push(b'\n');
    let mut writer = std::io::BufWriter::new(&stream);
    writer.write_all(&request).and_then(|()| writer.write_all(raw)).and_then(|()| writer.flush()).map_err(lost)?;
    drop(writer);
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).map_err(lost)?;
    if line.is_empty() {
        return Err(Error::Unconfirmed("the connection closed without an answer".into()));
    }
    let answer: Answer = serde_json::from_str(&line).map_err(|e| Error::Unconfirmed(format!("an answer that could not be read: {e}")))?;
    match (answer.ok, answer.id) {
        (true, Some(id)) => Ok(id),
        (true, None) => Err(Error::Unconfirmed("an answer without a queue id".into())),
        (false, _) => Err(Error::Refused {
            exit: answer.exit.unwrap_or(outbox::exit::TEMPFAIL),
            message: answer.message.unwrap_or_else(|| "refused".into()),
            hint: answer.hint,
        }),
    }
}

/// The service's end of the socket: bound at `path` (its directory made 0755, the socket 0666 so
/// every local user may connect), removed when dropped.
pub struct Socket {
    listener: Option<std::os::unix::net::UnixListener>,
    path: PathBuf,
}

impl Socket {
    /// Binds `path`. A socket file nobody answers on (left by a crash) is replaced; one a running
    /// service answers on is not ([`std::io::ErrorKind::AddrInUse`]).
    pub fn bind(path: &Path) -> std::io::Result<Socket> {
        use std::os::unix::fs::PermissionsExt;
        if let Some(dir) = path.parent() {
            super::make_dir(dir, 0o755)?;
        }
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("another SMTP Desk service already takes mail on {}", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = std::os::unix::net::UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
        listener.set_nonblocking(true)?;
        Ok(Socket { listener: Some(listener), path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes mail until `cancel`: each connection on a task of its own, each message committed
    /// through `intake` before it is answered, and delivery woken (the agent's wake socket in `spool`).
    pub async fn serve(mut self, intake: Arc<Intake>, spool: PathBuf, cancel: CancelToken) -> std::io::Result<()> {
        let listener = tokio::net::UnixListener::from_std(self.listener.take().expect("served once"))?;
        loop {
            let stream = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!("submission socket: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let (intake, spool) = (intake.clone(), spool.clone());
            tokio::spawn(async move {
                if let Err(e) = serve_one(stream, intake, spool).await {
                    tracing::warn!("submission socket: a client went away: {e}");
                }
            });
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Who handed a message in, as the kernel says.
#[derive(Debug, Clone)]
pub struct Peer {
    pub uid: u32,
    pub name: String,
}

impl Peer {
    /// This process's user: root's `sendmail` writes the system queue itself and is recorded the same way.
    pub fn me() -> Peer {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        Peer { uid, name: super::user_name(uid).unwrap_or_else(|| uid.to_string()) }
    }

    /// The queue's `source` for this user's mail: "sendmail (uid 1001 alice)".
    pub fn source(&self) -> String {
        format!("sendmail (uid {} {})", self.uid, self.name)
    }
}

async fn serve_one(stream: tokio::net::UnixStream, intake: Arc<Intake>, spool: PathBuf) -> std::io::Result<()> {
    let cred = stream.peer_cred()?;
    let uid = cred.uid();
    let peer = Peer { uid, name: super::user_name(uid).unwrap_or_else(|| uid.to_string()) };
    let (read, mut write) = stream.into_split();
    let mut reader = tokio::io::BufReader::new(read);
    let request = tokio::time::timeout(READ_TIMEOUT, read_request(&mut reader)).await;
    let answer = match request {
        Err(_) => refusal_answer(&outbox::Error::Usage("the request did not arrive in time".into())),
        Ok(Err(e)) => refusal_answer(&e),
        Ok(Ok((args, raw))) => {
            let who = peer.clone();
            let outcome = tokio::task::spawn_blocking(move || accept(&args, &raw, &peer, &intake)).await;
            match outcome {
                Ok(Ok(id)) => {
                    tracing::info!(uid = who.uid, user = %who.name, message = id, "queued mail handed in by a local user");
                    outbox::wake_delivery_in(&spool);
                    Answer { ok: true, id: Some(id), ..Answer::default() }
                }
                Ok(Err(e)) => refusal_answer(&e),
                Err(e) => refusal_answer(&outbox::Error::Storage { path: String::new(), message: e.to_string() }),
            }
        }
    };
    let mut line = serde_json::to_vec(&answer).expect("serialisable");
    line.push(b'\n');
    write.write_all(&line).await?;
    write.shutdown().await
}

async fn read_request(reader: &mut tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>) -> Result<(Vec<String>, Vec<u8>), outbox::Error> {
    let mut line = Vec::new();
    let n = (&mut *reader).take(MAX_REQUEST_LINE as u64).read_until(b'\n', &mut line).await.map_err(outbox::Error::Input)?;
    if n == 0 || !line.ends_with(b"\n") {
        return Err(outbox::Error::Usage("the request line is missing or too long".into()));
    }
    let request: Request =
        serde_json::from_slice(&line).map_err(|e| outbox::Error::Usage(format!("a request that could not be read: {e}")))?;
    if request.size > MAX_MESSAGE_BYTES {
        return Err(outbox::Error::TooBig { size: request.size, limit: MAX_MESSAGE_BYTES });
    }
    let mut raw = vec![0; request.size];
    reader.read_exact(&mut raw).await.map_err(outbox::Error::Input)?;
    Ok((request.args, raw))
}

fn refusal_answer(e: &outbox::Error) -> Answer {
    let report = ErrorReport::from(e);
    Answer { ok: false, exit: Some(e.exit_code()), message: Some(report.message), hint: report.hint, ..Answer::default() }
}

/// Queues one user's message as `sendmail` would have (the same parsing, profile and policy
/// checks, refusals in the mail log), with the user as its source. Blocks for the commit.
pub fn accept(args: &[String], raw: &[u8], peer: &Peer, intake: &Intake) -> Result<i64, outbox::Error> {
    let mut inv = sendmail::parse(args)?;
    if inv.mode != Mode::Deliver {
        return Err(outbox::Error::Usage(
            "in system mode a user's sendmail only hands in mail; listing (-bp), flushing (-q) and -bs are root's (use sudo)".into(),
        ));
    }
    sendmail::check_recipients_possible(&inv)?;
    let chosen = intake_profile(inv.profile.as_deref())?;
    // Without -f the sender is the user who sent it (the profile's from address replaces a bare
    // name, as for `sendmail -f root`), not root, whose process takes the mail.
    if inv.sender.is_none() {
        inv.sender = Some(peer.name.clone());
    }
    let source = peer.source();
    let accepted = sendmail::accept_as(&inv, raw, &chosen, MAX_MESSAGE_BYTES, &source)
        .and_then(|s| sendmail::check_sender(&crate::policy::load(), &s.sender).map(|()| s));
    match accepted {
        Ok(submission) => intake.submit(submission),
        Err(e) => {
            if sendmail::is_refusal(&e) {
                let mut refusal = sendmail::refusal(&inv, Some(raw), &chosen, &e);
                refusal.server = source;
                if let Err(le) = intake.refuse(refusal) {
                    tracing::warn!("the refusal could not be written to the mail log: {le}");
                }
            }
            Err(e)
        }
    }
}

/// The profile a message is queued with; never refuses over unreadable settings (as `sendmail`).
fn intake_profile(requested: Option<&str>) -> Result<IntakeProfile, outbox::Error> {
    match crate::settings::load() {
        Ok(loaded) => IntakeProfile::choose(&loaded.settings, requested),
        Err(e) => {
            tracing::warn!("{e}; using the default settings for this message");
            Ok(IntakeProfile::fallback(requested))
        }
    }
}
