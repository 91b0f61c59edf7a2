//! `smtp-desk oauth login|status|logout`: a profile's OAuth2 sign-in (the refresh token in the
//! OS keyring; src/oauth/ does the work).

use crate::{Outcome, EXIT_BAD_INPUT, EXIT_FAILURE};
use clap::Subcommand;
use smtp_desk::error::{ErrorKind, ErrorReport};
use smtp_desk::oauth::{self, flow};
use smtp_desk::settings::{self, profiles, AuthMethod};

#[derive(Subcommand)]
pub enum OAuthCommand {
    /// Sign in. Over SSH or without a display, the device-code flow (a code to enter on any
    /// device's browser) where the provider has one; otherwise the system browser with a
    /// loopback redirect (paste the URL the browser ended on if it can't reach this machine).
    Login {
        /// The profile to sign in; default: Global.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Use the device-code flow (RFC 8628).
        #[arg(long, conflicts_with = "browser")]
        device: bool,
        /// Use the browser flow (authorization code + PKCE) even over SSH.
        #[arg(long)]
        browser: bool,
    },
    /// Who is signed in and when the token was last refreshed (no token is shown).
    Status {
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Sign out: the refresh token is removed from the keyring.
    Logout {
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
    },
}

pub fn run(command: OAuthCommand) -> Outcome {
    match command {
        OAuthCommand::Login { profile, device, browser } => login(profile.as_deref(), device, browser),
        OAuthCommand::Status { profile, json } => status(profile.as_deref(), json),
        OAuthCommand::Logout { profile } => logout(profile.as_deref()),
    }
}

/// The profile's settings and its keyring entry. A sign-in takes the profile as sending does,
/// under the admin policy (which may lock the provider or client id, and refuses while it is
/// invalid); status and sign-out only need the entry.
fn target(profile: Option<&str>, under_policy: bool) -> Result<(settings::Profile, String), (u8, ErrorReport)> {
    let path = crate::config::settings_path()?;
    let s = settings::load_from(&path).map_err(|e| (EXIT_FAILURE, ErrorReport::from(&e)))?.settings;
    let bad = |e: settings::Error| (crate::profile::code_of(&e), ErrorReport::from(&e));
    let name = profiles::canonical(&s, profile).map_err(bad)?.to_string();
    let resolved = if under_policy {
        smtp_desk::policy::load().effective(&s, Some(&name)).map_err(bad)?
    } else {
        profiles::resolve(&s, Some(&name)).map_err(bad)?
    };
    let entry = oauth::entry_for(&s, Some(&name)).map_err(|r| (EXIT_FAILURE, r))?;
    Ok((resolved, entry))
}

fn failed(e: oauth::Error) -> (u8, ErrorReport) {
    let code = if matches!(e, oauth::Error::Config { .. }) { EXIT_BAD_INPUT } else { EXIT_FAILURE };
    (code, ErrorReport::from(&e))
}

/// No browser here to open: a remote shell, or no graphical session.
fn headless() -> bool {
    if std::env::var_os("SSH_CONNECTION").is_some() || std::env::var_os("SSH_TTY").is_some() {
        return true;
    }
    cfg!(all(unix, not(target_os = "macos"))) && std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none()
}

fn login(profile: Option<&str>, device: bool, browser: bool) -> Outcome {
    let (p, entry) = target(profile, true)?;
    if p.auth.method != AuthMethod::OAuth2 {
        return Err((
            EXIT_BAD_INPUT,
            ErrorReport::new(ErrorKind::InvalidSettings, "This profile does not log in with OAuth2 (auth.method).")
                .hint("Set it first: `smtp-desk config set auth.method oauth2` and the provider and client id (docs/oauth.md)."),
        ));
    }
    let ep = oauth::endpoints(&p.auth).map_err(failed)?;
    let use_device = device || (!browser && headless() && ep.device.is_some());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| (EXIT_FAILURE, ErrorReport::new(ErrorKind::Input, e.to_string())))?;
    let user = if use_device {
        rt.block_on(flow::device(&ep, &entry, &p.auth.username, |prompt| {
            eprintln!("To sign in, open {} on any device and enter the code {}", prompt.verification_uri, prompt.user_code);
            if let Some(full) = &prompt.verification_uri_complete {
                eprintln!("(or open {full})");
            }
            eprintln!("Waiting for the sign-in (up to {} minutes)…", prompt.expires_in.min(flow::SIGN_IN_TIMEOUT).as_secs() / 60);
        }))
    } else {
        rt.block_on(async {
            let sign_in = flow::browser_start(&ep).await?;
            eprintln!("Open this address in a browser to sign in:\n{}\n", sign_in.url);
            eprintln!("If the browser runs on another machine and ends on a page that does not load, paste that page's address here.");
            if !headless() {
                flow::open_in_browser(&sign_in.url);
            }
            sign_in.finish(&ep, &entry, &p.auth.username, Some(pasted_lines())).await
        })
    }
    .map_err(failed)?;
    if user.is_empty() {
        eprintln!("Signed in. The refresh token is in the keyring.");
    } else {
        eprintln!("Signed in as {user}. The refresh token is in the keyring.");
    }
    Ok(())
}

/// Lines typed or pasted on standard input, for the paste-the-URL fallback.
fn pasted_lines() -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn when(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string())
        .unwrap_or_default()
}

fn status(profile: Option<&str>, json: bool) -> Outcome {
    let (_, entry) = target(profile, false)?;
    let s = oauth::status(&entry).map_err(failed)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s).expect("plain fields serialise"));
    } else if !s.signed_in {
        println!("Not signed in.");
    } else {
        let who = if s.user.is_empty() { String::new() } else { format!(" as {}", s.user) };
        println!("Signed in{who}, token refreshed at {}.", when(s.refreshed_at));
    }
    Ok(())
}

fn logout(profile: Option<&str>) -> Outcome {
    let (_, entry) = target(profile, false)?;
    oauth::tokens::forget(&entry).map_err(failed)?;
    eprintln!("Signed out: the refresh token was removed from the keyring.");
    Ok(())
}
