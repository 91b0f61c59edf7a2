//! The last resort: `smtp.D` and `mail.D` on 465 (implicit TLS) and 587 (STARTTLS), all at once.
//! Each probe connects, reads the greeting and says EHLO, then QUIT: it never logs in and never
//! sends a credential. Port 465 needs the TLS handshake to see the greeting; its certificate is
//! checked (system roots plus `SMTP_DESK_EXTRA_CA`) and a failure is reported, not fatal.
//!
//! Reuses the SMTP client's stream, bounded reads and TLS setup (`smtp::conn`, `smtp::tls`).

use super::{Candidate, Context, Source, SourceReport, Status, Trust, UsernameForm};
use crate::settings::Security;
use crate::smtp::conn::{bounded, Error as Wire, Session, Stream};
use crate::smtp::reply::Capabilities;
use crate::smtp::tls;
use crate::smtp::transcript::Transcript;
use std::net::SocketAddr;
use tokio::net::TcpStream;

pub(crate) async fn run(ctx: &Context) -> SourceReport {
    let mut report = SourceReport::new(Source::Probe);
    let d = &ctx.address.domain;
    let mut targets = Vec::new();
    for host in [format!("smtp.{d}"), format!("mail.{d}")] {
        for (port, security) in [(465, Security::ImplicitTls), (587, Security::StartTls)] {
            targets.push((host.clone(), port, security));
        }
    }
    let results = probe_all(ctx, &targets).await;
    for ((host, port, security), result) in targets.into_iter().zip(results) {
        match result {
            Ok(found) => {
                report.tried(format!("{host}:{port}"), found.said.clone());
                if security == Security::StartTls && !found.starttls {
                    report.tried(format!("{host}:{port}"), "no STARTTLS offered: not proposed (the password would travel in clear text)");
                    continue;
                }
                let (trust, note) = match &found.certificate_problem {
                    None => (Trust::Trusted, format!("answered: {}", found.said)),
                    Some(p) => (
                        Trust::Confirm,
                        format!("answered, but its certificate failed the check ({p}): confirm before a password goes there"),
                    ),
                };
                report.candidates.push(Candidate {
                    host,
                    port,
                    security,
                    username_form: UsernameForm::EmailAddress,
                    username: ctx.address.full.clone(),
                    source: Source::Probe,
                    trust,
                    note,
                });
            }
            Err(why) => report.tried(format!("{host}:{port}"), why),
        }
    }
    report.candidates.sort_by_key(|c| c.trust);
    report.finish(Status::Nothing, "no SMTP server answered on smtp/mail.D ports 465 and 587")
}

async fn probe_all(ctx: &Context, targets: &[(String, u16, Security)]) -> Vec<Result<Found, String>> {
    let mut set = tokio::task::JoinSet::new();
    for (i, (host, port, security)) in targets.iter().cloned().enumerate() {
        let resolver = ctx.resolver.clone();
        let cancel = ctx.cancel.clone();
        let deadline = ctx.deadline;
        let ca = ctx.options.extra_ca.clone();
        set.spawn(async move { (i, probe(&resolver, &cancel, deadline, ca.as_deref(), &host, port, security).await) });
    }
    let mut out: Vec<Result<Found, String>> = targets.iter().map(|_| Err("not run".to_string())).collect();
    while let Some(Ok((i, r))) = set.join_next().await {
        out[i] = r;
    }
    out
}

/// What a server that answered said.
struct Found {
    /// Greeting and capabilities in one line.
    said: String,
    starttls: bool,
    certificate_problem: Option<String>,
}

async fn probe(
    resolver: &hickory_resolver::TokioResolver,
    cancel: &tokio_util::sync::CancellationToken,
    deadline: tokio::time::Instant,
    extra_ca: Option<&std::path::Path>,
    host: &str,
    port: u16,
    security: Security,
) -> Result<Found, String> {
    let wire = |e: Wire| match e {
        Wire::Timeout => "timed out".to_string(),
        Wire::Cancelled => "cancelled".to_string(),
        other => other.to_string(),
    };
    let ips = match bounded(cancel, deadline, resolver.lookup_ip(format!("{host}."))).await.map_err(wire)? {
        Ok(found) => found.iter().collect::<Vec<_>>(),
        Err(e) => return Err(crate::dns::why(&e)),
    };
    let ip = *ips.first().ok_or("no address")?;
    let tcp = bounded(cancel, deadline, TcpStream::connect(SocketAddr::new(ip, port))).await.map_err(wire)?.map_err(|e| e.to_string())?;
    let mut certificate_problem = None;
    let stream = if security == Security::ImplicitTls {
        let setup = tls::setup(host, extra_ca).map_err(|f| f.message)?;
        let s = bounded(cancel, deadline, setup.connector.connect(setup.server_name.clone(), tcp))
            .await
            .map_err(wire)?
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        if let tls::Judgement::Rejected(e) = tls::judge(setup.verifier.verdict(), true) {
            certificate_problem = Some(e.to_string());
        }
        Stream::Tls(Box::new(s))
    } else {
        Stream::Plain(tcp)
    };
    let mut session = Session::new(stream, cancel.clone(), deadline);
    let mut t = Transcript::default();
    let greeting = session.read_reply(&mut t).await.map_err(wire)?;
    if greeting.code != 220 {
        return Err(format!("refused: {}", greeting.one_line()));
    }
    session.send(&mut t, "EHLO smtp-desk.invalid", "EHLO smtp-desk.invalid").await.map_err(wire)?;
    let ehlo = session.read_reply(&mut t).await.map_err(wire)?;
    let _ = session.send(&mut t, "QUIT", "QUIT").await;
    if ehlo.code != 250 {
        return Err(format!("EHLO refused: {}", ehlo.one_line()));
    }
    let caps = Capabilities::from_ehlo(&ehlo);
    let mut said = format!("{} ({}) — {}", greeting.one_line(), ip, caps.summary());
    if let Some(p) = &certificate_problem {
        said.push_str(&format!("; certificate: {p}"));
    }
    Ok(Found { said, starttls: caps.has("STARTTLS"), certificate_problem })
}
