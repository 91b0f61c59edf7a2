//! `smtp-desk mode`: which mode (desktop or system) this command runs in, why, and where that
//! mode keeps settings, queue and password. Also chooses the mode at start ([`choose`]).

use crate::Outcome;
use smtp_desk::system::{self, credential, Mode};

#[derive(clap::Args)]
pub struct ModeArgs {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub const MODE_HELP: &str = "The mode is chosen by these rules, first match wins:
  1. --system on the command line: system mode
  2. SMTP_DESK_MODE=system or SMTP_DESK_MODE=desktop: that mode
  3. SMTP_DESK_CONFIG_DIR is set: desktop mode (it names your own settings)
  4. /etc/smtp-desk/settings.json exists and you have no ~/.config/smtp-desk/settings.json: system mode
  5. otherwise: desktop mode
The window always runs in desktop mode. SMTP_DESK_SYSTEM_ROOT=DIR puts system mode's /etc, /var/spool
and /run paths under DIR (a staged install, tests).";

/// Chooses this process's mode (`--system` anywhere before a `--`, else the rules) and, as root in
/// system mode, makes its directories with the right owners and modes.
pub fn choose() {
    let flag = std::env::args().skip(1).take_while(|a| a != "--").any(|a| a == "--system");
    if system::choose(flag).mode == Mode::System {
        if let Err(e) = system::prepare_dirs() {
            eprintln!("warning: system mode's folders could not be made: {e}");
        }
    }
}

pub fn run(args: ModeArgs) -> Outcome {
    let choice = system::choice();
    let settings = smtp_desk::paths::settings_file().map(|p| p.display().to_string()).unwrap_or_else(|e| format!("({e})"));
    let queue = smtp_desk::paths::outbox_file().display().to_string();
    let (password, socket) = match choice.mode {
        Mode::Desktop => ("the OS keyring (Secret Service, Keychain, Credential Manager)".to_string(), None),
        Mode::System => {
            let password = match credential::saved_kind(smtp_desk::secrets::DEFAULT_PROFILE) {
                Ok(Some(credential::Kind::Encrypted)) => format!(
                    "an encrypted systemd credential, {}",
                    credential::path_of(smtp_desk::secrets::DEFAULT_PROFILE, credential::Kind::Encrypted).display()
                ),
                Ok(Some(credential::Kind::PlainFile)) => format!(
                    "a root-only file (not encrypted), {}",
                    credential::path_of(smtp_desk::secrets::DEFAULT_PROFILE, credential::Kind::PlainFile).display()
                ),
                Ok(None) => "none saved yet (smtp-desk password set --system)".to_string(),
                Err(_) => format!("kept in {}, which only root can look into", system::credentials_dir().display()),
            };
            let path = system::submit_socket();
            let running = std::os::unix::net::UnixStream::connect(&path).is_ok();
            (password, Some((path, running)))
        }
    };
    if args.json {
        let mode = choice.mode.as_str();
        println!(
            "{}",
            serde_json::json!({
                "mode": mode,
                "why": choice.describe(),
                "settings": settings,
                "queue": queue,
                "password": password,
                "submit_socket": socket.as_ref().map(|(p, _)| p.display().to_string()),
                "service_running": socket.as_ref().map(|(_, r)| *r),
            })
        );
        return Ok(());
    }
    println!("{}", choice.describe());
    println!("settings: {settings}");
    println!("queue:    {queue}");
    println!("password: {password}");
    if let Some((path, running)) = socket {
        let state = if running { "the system service is taking mail" } else { "the system service is not running" };
        println!("mail from local users: {} ({state})", path.display());
    }
    Ok(())
}
