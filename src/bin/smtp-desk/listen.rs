//! `smtp-desk listen`: the loopback SMTP listener in the foreground (for a systemd unit or a
//! script), taking mail into the outbox until stopped.

use crate::output;
use smtp_desk::error::ErrorReport;
use smtp_desk::outbox::listener;
use smtp_desk::settings;
use std::process::ExitCode;

pub const LISTEN_HELP: &str = "Listens on 127.0.0.1 and ::1 only, on listener.port (default 2525), and only while
listener.enabled is true:
  smtp-desk config set listener.enabled true listener.port 2525
With listener.username set, clients must log in (AUTH PLAIN or LOGIN) with that name and the
password saved by `smtp-desk password set --listener` (kept in the OS keyring).
A profile with a listener login of its own (smtp-desk config set --profile alerts listener.username
alerts-app; password set --listener --profile alerts) sends what that client hands in with that
profile; clients that don't log in send with the default profile.
`smtp-desk deliver --daemon` also runs the listener when it is enabled; run one or the other.

Exit codes: 0 stopped; 64 the listener is off (in the settings or by the admin policy), or a login
has no saved password;
75 the port can't be bound or the outbox can't be opened.";

pub fn run() -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let cancel = smtp_desk::smtp::CancelToken::new();
    let result = rt.block_on(async {
        let loaded = settings::load().map_err(|e| listener::Error::Settings(e.to_string()))?;
        if let Some(n) = &loaded.notice {
            eprintln!("listen: warning: {n}");
        }
        let l = listener::bind_from_settings(&loaded.settings).await?;
        let at: Vec<String> = l.local_addrs().iter().map(ToString::to_string).collect();
        // Scripts and tests wait for this line: the sockets are bound when it is printed.
        eprintln!("listen: SMTP on {}", at.join(", "));
        tracing::info!("listen: SMTP on {}", at.join(", "));
        // SIGTERM and Ctrl-C end the process as it is: a message is committed before its 250,
        // so a client that saw no 250 still holds its copy.
        let profile = smtp_desk::outbox::sendmail::IntakeProfile::choose(&loaded.settings, None)
            .map_err(|e| listener::Error::Settings(e.to_string()))?;
        l.serve(&smtp_desk::paths::outbox_file(), profile, smtp_desk::policy::load(), &cancel).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e {
                listener::Error::Disabled
                | listener::Error::DisabledByPolicy { .. }
                | listener::Error::NoPassword(..)
                | listener::Error::NotLoopback(_) => 64,
                listener::Error::Keyring(_) | listener::Error::Settings(_) => 1,
                _ => 75,
            };
            output::print_error(&ErrorReport::from(&e));
            ExitCode::from(code)
        }
    }
}
