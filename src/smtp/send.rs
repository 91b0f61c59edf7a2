//! "Send test email": a short message saying when, from which host and with which profile it was
//! sent, carried through the same steps as a validation, plus DATA.

use super::probe::{self, Goal};
use super::reply::queue_id;
use super::{check_validate, CancelToken, Job, Outcome, Step};
use crate::error::{ErrorKind, ErrorReport};
use crate::secrets::DEFAULT_PROFILE;
use crate::settings::{Profile, Security};
use lettre::message::header::{ContentType, Date};
use lettre::message::Mailbox;
use lettre::Message;
use std::hash::{BuildHasher, Hasher};

/// Sends the test email to `to` and reports the server's final reply, calling `on_step` as each
/// step finishes.
///
/// Bad input (unusable settings, `to` not an address) is an `Err` naming the field; everything
/// that happens on the network is in the [`Outcome`], with the same categories as a validation.
/// The same time limits as a validation apply (each step the timeout, the whole run
/// [`super::RUN_LIMIT_FACTOR`] × the timeout), and `cancel` stops it within moments, mid-step.
pub async fn send_test(job: &Job, to: &str, cancel: &CancelToken, on_step: &mut (dyn FnMut(&Step) + Send)) -> Result<Outcome, ErrorReport> {
    let started = std::time::Instant::now();
    let to = to.trim();
    let profile = job.profile();
    check_validate(profile, Some(to))?;
    let (message, message_id) = compose(profile, to)?;
    let run = probe::run(job, Goal::Send { to, message: &message }, cancel, on_step).await;
    let ok = run.failure.is_none();
    let reply = run.last_reply.as_ref().map(|r| r.one_line()).unwrap_or_default();
    let queue_id = if ok { run.last_reply.as_ref().and_then(queue_id) } else { None };
    Ok(Outcome { reply: Some(reply), queue_id, message_id: Some(message_id), ..Outcome::finished(run, Some(started)) })
}

/// The message as CRLF text, and its Message-ID.
fn compose(profile: &Profile, to: &str) -> Result<(Vec<u8>, String), ErrorReport> {
    let bad = |field: &str, what: String| {
        let mut r = ErrorReport::new(ErrorKind::InvalidSettings, what).hint("Correct the address, then try again.");
        r.field = Some(field.into());
        r
    };
    let from_address =
        profile.sender.from_address.parse().map_err(|e| bad("sender.from_address", format!("The from address can't be used: {e}")))?;
    let from_name = profile.sender.from_name.trim();
    let from = Mailbox::new((!from_name.is_empty()).then(|| from_name.to_string()), from_address);
    let to_box: Mailbox = to.parse().map_err(|e| bad("to", format!("'{to}' is not an email address: {e}")))?;

    let host = crate::machine::host_name();
    let domain = profile.sender.from_address.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    let message_id =
        format!("<smtp-desk.{}.{:016x}@{domain}>", unix_millis(), std::collections::hash_map::RandomState::new().build_hasher().finish());
    let now = std::time::SystemTime::now();
    // The body shows the Date header's own text, so the two always agree.
    let mut headers = lettre::message::header::Headers::new();
    headers.set(Date::new(now));
    let date = headers.get_raw("Date").unwrap_or_default().to_string();
    let security = match profile.relay.security {
        Security::StartTls => "STARTTLS",
        Security::ImplicitTls => "implicit TLS",
        Security::None => "no encryption",
    };
    let server = if profile.mode == crate::settings::Mode::Direct {
        "the recipient's mail server (direct delivery)".to_string()
    } else {
        format!("{}:{} ({security})", profile.relay.host, profile.relay.port)
    };
    let body = format!(
        "This is a test email from SMTP Desk: the outgoing mail settings work.\r\n\
         \r\n\
         Sent:         {date}\r\n\
         Sending host: {host}\r\n\
         Profile:      {DEFAULT_PROFILE}\r\n\
         Server:       {server}\r\n",
    );
    let mut builder = Message::builder()
        .from(from)
        .to(to_box)
        .subject("SMTP Desk test email")
        .date(now)
        .message_id(Some(message_id.clone()))
        .user_agent(format!("SMTP Desk {}", env!("CARGO_PKG_VERSION")))
        .header(ContentType::TEXT_PLAIN);
    if let Some(reply_to) = profile.sender.reply_to.as_deref().filter(|r| !r.trim().is_empty()) {
        if let Ok(mb) = reply_to.parse::<Mailbox>() {
            builder = builder.reply_to(mb);
        }
    }
    let message =
        builder.body(body).map_err(|e| ErrorReport::new(ErrorKind::InvalidSettings, format!("The test email can't be built: {e}")))?;
    Ok((message.formatted(), message_id))
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}
