//! `smtp-desk detect ADDR`: find the outgoing server for an address (every source's outcome and
//! the best candidate), and with `--apply` put it into a profile through the same path as
//! `config set`.

use crate::{Outcome, EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILURE};
use smtp_desk::detect::{self, Candidate, Detection, Options, Status, Trust};
use smtp_desk::error::{ErrorKind, ErrorReport};
use std::time::Duration;

/// Nothing usable was found (every source failed or found nothing).
pub const EXIT_NOT_FOUND: u8 = 21;
/// The best candidate's host is outside the address's domain: not applied without `--confirm-host`.
pub const EXIT_NEEDS_CONFIRMATION: u8 = 22;

pub const DETECT_HELP: &str = "\
Sources, highest priority first, all asked at once: the built-in provider table (offline),
https://autoconfig.D/mail/config-v1.1.xml, https://D/.well-known/autoconfig/mail/config-v1.1.xml,
DNS SRV _submissions._tcp.D / _submission._tcp.D (RFC 6186), Mozilla's ISPDB, the MX host's provider,
then probes of smtp.D and mail.D on ports 465 and 587 (greeting and EHLO only: no password is sent).
Plain-HTTP answers are shown and flagged, never used. A host outside your domain (and not the
provider's own) is marked: confirm it before a password goes there.

Where it looks (environment):
  SMTP_DESK_DNS_SERVER=IP[:PORT]   ask this DNS server instead of the system's
  SMTP_DESK_EXTRA_CA=FILE.pem      trust these CA certificates too (HTTPS and the probes)
  SMTP_DESK_ISPDB_URL=URL          the ISPDB address (over the setting detect.ispdb_url,
                                   default https://autoconfig.thunderbird.net/v1.1/)

Exit codes:
  0   found; the best candidate is in your domain or the provider's (applied with --apply)
  1   the settings could not be read or written (--apply)
  2   bad input: not an address, a bad option or environment value, or settings refused
  20  cancelled (Ctrl-C)
  21  nothing found: every source failed or found nothing
  22  the best candidate is outside your domain: shown, not applied without --confirm-host";

#[derive(clap::Args)]
pub struct DetectArgs {
    /// The email address to find settings for.
    address: String,
    /// Machine-readable output (every source, every candidate).
    #[arg(long)]
    json: bool,
    /// The overall deadline in milliseconds (default 4000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(100..=60_000))]
    deadline: Option<u64>,
    /// The ISPDB address (overrides SMTP_DESK_ISPDB_URL).
    #[arg(long, value_name = "URL")]
    ispdb: Option<String>,
    /// Put the best candidate into the settings: mode relay, relay.host/port/security,
    /// auth.method password, auth.username (and sender.from_address if it is empty).
    #[arg(long)]
    apply: bool,
    /// With --apply: the profile to change (default: Global).
    #[arg(long, value_name = "NAME", requires = "apply")]
    profile: Option<String>,
    /// With --apply: also apply a host outside the address's domain (you checked it is right).
    #[arg(long, requires = "apply")]
    confirm_host: bool,
}

pub fn run(args: DetectArgs) -> Outcome {
    // The ISPDB address: --ispdb, else SMTP_DESK_ISPDB_URL, else the setting, else Mozilla's.
    let mut options = Options::default();
    if let Ok(loaded) = smtp_desk::settings::load() {
        options = options.with_settings(&loaded.settings);
    }
    let mut options = options.with_env().map_err(|e| (EXIT_BAD_INPUT, e.report()))?;
    if let Some(ms) = args.deadline {
        options.deadline = Duration::from_millis(ms);
    }
    if let Some(url) = args.ispdb {
        options.ispdb_url = url;
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let detection = runtime
        .block_on(async {
            let on_ctrl_c = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    on_ctrl_c.cancel();
                }
            });
            detect::detect(&args.address, &options, &cancel).await
        })
        .map_err(|e| (EXIT_BAD_INPUT, e.report()))?;
    if args.json {
        crate::output::print_json(&detection);
    } else {
        print(&detection);
    }
    if detection.cancelled {
        return Err((EXIT_CANCELLED, ErrorReport::new(ErrorKind::InvalidSettings, "Cancelled.")));
    }
    let Some(best) = &detection.best else {
        return Err((
            EXIT_NOT_FOUND,
            ErrorReport::new(ErrorKind::InvalidSettings, format!("No outgoing server found for {}.", detection.address))
                .hint("Ask your provider for its SMTP submission server, then: smtp-desk config set relay.host HOST relay.port PORT"),
        ));
    };
    if best.trust == Trust::Confirm && !(args.apply && args.confirm_host) {
        return Err((
            EXIT_NEEDS_CONFIRMATION,
            ErrorReport::new(
                ErrorKind::InvalidSettings,
                format!(
                    "{}:{} is outside {}: check it is your provider's before a password goes there.",
                    best.host, best.port, detection.domain
                ),
            )
            .hint("If it is right, run again with --apply --confirm-host."),
        ));
    }
    if args.apply {
        apply(best, &detection.address, args.profile.as_deref(), args.json)?;
    }
    Ok(())
}

/// `json`: standard output holds only the JSON, so the note goes to standard error.
fn apply(best: &Candidate, address: &str, profile: Option<&str>, json: bool) -> Outcome {
    let security = match best.security {
        smtp_desk::settings::Security::StartTls => "start_tls",
        smtp_desk::settings::Security::ImplicitTls => "implicit_tls",
        smtp_desk::settings::Security::None => "none",
    };
    let mut pairs: Vec<String> = [
        ("mode", "relay".to_string()),
        ("relay.host", best.host.clone()),
        ("relay.port", best.port.to_string()),
        ("relay.security", security.to_string()),
        ("auth.method", "password".to_string()),
        ("auth.username", best.username.clone()),
    ]
    .into_iter()
    .flat_map(|(k, v)| [k.to_string(), v])
    .collect();
    let loaded = smtp_desk::settings::load().map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    let current = smtp_desk::settings::profiles::resolve(&loaded.settings, profile).map_err(|e| (EXIT_BAD_INPUT, (&e).into()))?;
    if current.sender.from_address.trim().is_empty() {
        pairs.extend(["sender.from_address".to_string(), address.to_string()]);
    }
    crate::config::set(&pairs, false, profile)?;
    let note = format!(
        "Applied {}:{} ({security}) to {}. Next: smtp-desk password set, then smtp-desk validate.",
        best.host,
        best.port,
        profile.unwrap_or("Global")
    );
    if json {
        eprintln!("{note}");
    } else {
        println!("{note}");
    }
    Ok(())
}

fn print(d: &Detection) {
    println!("Finding the outgoing server for {} (domain {}), deadline {} ms:", d.address, d.domain, d.deadline_ms);
    for s in &d.sources {
        let mark = match s.status {
            Status::Found => "✓",
            Status::Nothing => "-",
            Status::Failed => "✗",
            Status::TimedOut => "⏱",
            Status::Cancelled => "·",
        };
        println!("{mark} {:<34} {:>6} ms  {}", s.title, s.elapsed_ms, s.summary);
        for (what, result) in &s.tried {
            println!("{:>44}  {what}: {result}", "");
        }
    }
    println!();
    match &d.best {
        Some(c) => {
            println!(
                "Best: {}:{} ({}), user name {} ({}), from {}",
                c.host,
                c.port,
                detect::security_name(c.security),
                c.username,
                c.username_form.placeholder(),
                c.source.title()
            );
            match c.trust {
                Trust::Trusted => println!("      {}", c.note),
                _ => println!("  !   {}", c.note),
            }
        }
        None => println!("Best: none found."),
    }
    for c in d.candidates.iter().filter(|c| c.trust == Trust::Refused) {
        println!("Flagged, not used: {}:{} from {}: {}", c.host, c.port, c.source.title(), c.note);
    }
    println!("Answered in {} ms.", d.elapsed_ms);
}
