//! `smtp-desk health`: the deliverability check (EHLO name, public IP, reverse DNS, SPF, DKIM,
//! DMARC, MX, MTA-STS, TLS-RPT, port 25, blocklists), one line each, or the report as JSON.

use crate::{Outcome, EXIT_BAD_INPUT, EXIT_FAILURE};
use smtp_desk::error::{ErrorKind, ErrorReport};
use smtp_desk::health::{self, Check, Options, Report, Status};
use std::time::Duration;

/// At least one line failed.
pub const EXIT_LINE_FAILED: u8 = 30;

pub const HEALTH_HELP: &str = "\
Checks whether receivers will trust mail sent from this machine for the sender domain (the
profile's From domain unless --domain): the EHLO name, the public IP, forward-confirmed reverse
DNS, SPF for that IP, the DKIM record of our selector, DMARC and alignment, MX, MTA-STS,
TLS-RPT, outgoing port 25 (a short connect to gmail.com's first MX) and the blocklists Spamhaus
ZEN, SpamCop and Barracuda. Each line is ok, warning, failed or unknown, with what to do and,
where publishing a DNS record is the fix, the record. docs/health.md explains each line.

The public IP: --ip, else the answer to myip.opendns.com asked of resolver1.opendns.com
(208.67.222.222), or of SMTP_DESK_DNS_SERVER when that is set.

Where it looks (environment):
  SMTP_DESK_DNS_SERVER=IP[:PORT]   ask this DNS server instead of the system's (every lookup,
                                   also the \"my address\" query)

Exit codes:
  0   no line failed (warnings and unknown lines may be shown)
  1   the settings could not be read
  2   bad input: a bad option, profile, domain or environment value, or no sender domain
  30  at least one line failed";

#[derive(clap::Args)]
pub struct HealthArgs {
    /// The sender domain to check (default: the profile's From address's domain).
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,
    /// The public IP mail leaves from (default: learned through DNS).
    #[arg(long, value_name = "IP")]
    ip: Option<std::net::IpAddr>,
    /// The profile whose EHLO name, From address and DKIM settings are checked (default: the default profile).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Each network step's limit in seconds (default 5).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=60))]
    timeout: Option<u64>,
    /// Machine-readable output (the whole report).
    #[arg(long)]
    json: bool,
}

pub fn run(args: HealthArgs) -> Outcome {
    let loaded = smtp_desk::settings::load().map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    let options = Options { domain: args.domain, ip: args.ip, timeout: Duration::from_secs(args.timeout.unwrap_or(5)) };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    let report = runtime.block_on(health::run(&loaded.settings, args.profile.as_deref(), &options)).map_err(|e| {
        let report = ErrorReport::new(ErrorKind::InvalidSettings, e.to_string());
        match e {
            health::Error::Dns(smtp_desk::dns::SetupError::System(_)) => (EXIT_FAILURE, report),
            health::Error::NoDomain => (EXIT_BAD_INPUT, report.hint("smtp-desk config set sender.from_address you@example.com")),
            _ => (EXIT_BAD_INPUT, report),
        }
    })?;
    if args.json {
        crate::output::print_json(&report);
    } else {
        print(&report);
    }
    if report.failed() {
        let failed = report.lines.iter().filter(|l| l.status == Status::Failed).count();
        return Err((EXIT_LINE_FAILED, ErrorReport::new(ErrorKind::InvalidSettings, format!("{failed} check(s) failed."))));
    }
    Ok(())
}

fn title(check: Check) -> &'static str {
    match check {
        Check::EhloName => "EHLO name",
        Check::PublicIp => "Public IP",
        Check::ReverseDns => "Reverse DNS",
        Check::Spf => "SPF",
        Check::Dkim => "DKIM",
        Check::Dmarc => "DMARC",
        Check::Mx => "MX",
        Check::MtaSts => "MTA-STS",
        Check::TlsRpt => "TLS-RPT",
        Check::Port25 => "Port 25",
        Check::Blocklist => "Blocklist",
    }
}

fn print(r: &Report) {
    println!("Deliverability of mail from {} (EHLO {}, IP {}):", r.domain, r.ehlo_name, r.public_ip.as_deref().unwrap_or("unknown"));
    for l in &r.lines {
        let mark = match l.status {
            Status::Ok => "✓",
            Status::Warning => "!",
            Status::Failed => "✗",
            Status::Unknown => "?",
        };
        println!("{mark} {:<12} {}", title(l.check), l.summary);
        if !l.hint.is_empty() {
            println!("{:>15}hint: {}", "", l.hint);
        }
        if let Some(record) = &l.record {
            println!("{:>15}publish: {record}", "");
        }
    }
}
