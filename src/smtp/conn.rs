//! The connection to the server: plain or TLS stream, bounded line reading, and every wait under
//! one deadline per step and the cancel token.

use super::redact::Redactor;
use super::reply::{Reply, ReplyBuilder};
use super::transcript::{Direction, Transcript};
use super::CancelToken;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers exceed it a little. A line
/// much longer than this is not SMTP (or is an endless line meant to hang the client).
pub(crate) const MAX_LINE: usize = 4096;

/// What went wrong on the wire. The probe turns it into a [`super::Failure`] with the step's context.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("cancelled")]
    Cancelled,
    #[error("no answer in time")]
    Timeout,
    #[error("the server closed the connection")]
    Closed,
    #[error("{0}")]
    NotSmtp(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Waits for `fut`, but no longer than `deadline` and not past a cancel.
pub(crate) async fn bounded<T>(cancel: &CancelToken, deadline: Instant, fut: impl Future<Output = T>) -> Result<T, Error> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Error::Cancelled),
        r = tokio::time::timeout_at(deadline, fut) => r.map_err(|_| Error::Timeout),
    }
}

/// The byte stream, before or after TLS.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The bytes received, split into lines; holds at most [`MAX_LINE`] bytes of an unfinished one.
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    /// How far `buf` is known to hold no line end, so each byte is searched once.
    scanned: usize,
}

/// An unfinished line grew past [`MAX_LINE`]; its first bytes, raw.
#[derive(Debug)]
pub(crate) struct LineTooLong(pub String);

impl LineBuffer {
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next complete line, without its line end, as raw text (invalid UTF-8 replaced):
    /// nothing is cleaned or redacted here.
    pub fn next_line(&mut self) -> Result<Option<String>, LineTooLong> {
        match self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let end = self.scanned + i;
                let text = String::from_utf8_lossy(&self.buf[..end]).trim_end_matches('\r').to_string();
                self.buf.drain(..=end);
                self.scanned = 0;
                Ok(Some(text))
            }
            None if self.buf.len() > MAX_LINE => Err(LineTooLong(String::from_utf8_lossy(&self.buf[..60]).into_owned())),
            None => {
                self.scanned = self.buf.len();
                Ok(None)
            }
        }
    }
}

/// An SMTP conversation in progress.
pub(crate) struct Session {
    pub stream: Stream,
    /// Bytes read but not yet consumed as a line.
    buf: LineBuffer,
    pub cancel: CancelToken,
    /// When the current step runs out of time.
    pub deadline: Instant,
}

impl Session {
    pub fn new(stream: Stream, cancel: CancelToken, deadline: Instant) -> Self {
        Self { stream, buf: LineBuffer::default(), cancel, deadline }
    }

    /// Whether the server sent more than we have read — before STARTTLS that is an injection
    /// attempt (CVE-2011-0411 class), so the caller refuses to upgrade.
    pub fn has_unread(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next raw line; `redactor` scrubs the quote of a line too long to be SMTP.
    async fn read_line(&mut self, redactor: &Redactor) -> Result<String, Error> {
        loop {
            match self.buf.next_line() {
                Ok(Some(line)) => return Ok(line),
                Ok(None) => {}
                Err(LineTooLong(start)) => {
                    return Err(Error::NotSmtp(format!("a reply line longer than {MAX_LINE} bytes, starting '{}'", redactor.quote(&start))))
                }
            }
            let mut chunk = [0u8; 2048];
            let n = bounded(&self.cancel, self.deadline, self.stream.read(&mut chunk)).await??;
            if n == 0 {
                return Err(Error::Closed);
            }
            self.buf.extend(&chunk[..n]);
        }
    }

    /// Reads one complete (possibly multi-line) reply, writing each line to the transcript. Every
    /// line is redacted and cleaned here, where it is read, with the transcript's redactor.
    pub async fn read_reply(&mut self, t: &mut Transcript) -> Result<Reply, Error> {
        let mut reply = ReplyBuilder::default();
        loop {
            let line = self.read_line(t.redactor()).await?;
            t.push(Direction::Server, &line);
            if let Some(r) = reply.feed(&line, t.redactor())? {
                return Ok(r);
            }
        }
    }

    /// Reads a reply whose 334 text is a SASL challenge: a 334 line is recorded as `334 {shown}`
    /// (NTLM's challenge names the server's domain and hosts, of no use to a reader); any other
    /// reply is recorded as read.
    pub async fn read_challenge(&mut self, t: &mut Transcript, shown: &str) -> Result<Reply, Error> {
        let mut reply = ReplyBuilder::default();
        loop {
            let line = self.read_line(t.redactor()).await?;
            if line.starts_with("334 ") {
                t.push(Direction::Server, &format!("334 {shown}"));
            } else {
                t.push(Direction::Server, &line);
            }
            if let Some(r) = reply.feed(&line, t.redactor())? {
                return Ok(r);
            }
        }
    }

    /// Sends one command line; `shown` is what the transcript records (a placeholder for secrets).
    pub async fn send(&mut self, t: &mut Transcript, line: &str, shown: &str) -> Result<(), Error> {
        t.push(Direction::Client, shown);
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write_all(&bytes).await
    }

    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let stream = &mut self.stream;
        bounded(&self.cancel, self.deadline, async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
        .await??;
        Ok(())
    }
}
