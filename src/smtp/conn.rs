//! The connection to the server: plain or TLS stream, bounded line reading, and every wait under
//! one deadline per step and the cancel token.

use super::reply::{parse_line, Reply};
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
/// A whole reply (EHLO lists are the longest) larger than this is not SMTP either.
const MAX_REPLY_LINES: usize = 200;

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

/// An SMTP conversation in progress.
pub(crate) struct Session {
    pub stream: Stream,
    /// Bytes read but not yet consumed as a line.
    buf: Vec<u8>,
    pub cancel: CancelToken,
    /// When the current step runs out of time.
    pub deadline: Instant,
}

impl Session {
    pub fn new(stream: Stream, cancel: CancelToken, deadline: Instant) -> Self {
        Self { stream, buf: Vec::with_capacity(1024), cancel, deadline }
    }

    /// Whether the server sent more than we have read — before STARTTLS that is an injection
    /// attempt (CVE-2011-0411 class), so the caller refuses to upgrade.
    pub fn has_unread(&self) -> bool {
        !self.buf.is_empty()
    }

    async fn read_line(&mut self) -> Result<String, Error> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=end).collect();
                let text = String::from_utf8_lossy(&raw);
                return Ok(text.trim_end_matches(['\r', '\n']).to_string());
            }
            if self.buf.len() > MAX_LINE {
                let start = String::from_utf8_lossy(&self.buf[..60]).into_owned();
                return Err(Error::NotSmtp(format!("a reply line longer than {MAX_LINE} bytes, starting '{}'", printable(&start))));
            }
            let mut chunk = [0u8; 2048];
            let n = bounded(&self.cancel, self.deadline, self.stream.read(&mut chunk)).await??;
            if n == 0 {
                return Err(Error::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads one complete (possibly multi-line) reply, writing each line to the transcript.
    pub async fn read_reply(&mut self, t: &mut Transcript) -> Result<Reply, Error> {
        let mut lines = Vec::new();
        let mut code = None;
        loop {
            let line = self.read_line().await?;
            t.push(Direction::Server, &line);
            let Some((c, more, text)) = parse_line(&line) else {
                return Err(Error::NotSmtp(format!("'{}'", printable(&line))));
            };
            if *code.get_or_insert(c) != c {
                return Err(Error::NotSmtp(format!("a reply whose lines have different codes ({} and {c})", code.unwrap_or(c))));
            }
            lines.push(text.to_string());
            if !more {
                return Ok(Reply { code: c, lines });
            }
            if lines.len() > MAX_REPLY_LINES {
                return Err(Error::NotSmtp(format!("a reply of more than {MAX_REPLY_LINES} lines")));
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

/// A server's text made safe to show: control characters replaced, cut at 120 characters.
pub(crate) fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(120).map(|c| if c.is_control() { '?' } else { c }).collect();
    if s.chars().count() > 120 {
        out.push('…');
    }
    out
}
