//! The outbox commands of `smtp-desk`: `sendmail` (also when the binary runs as `sendmail`,
//! `mailq` or `newaliases`, like msmtp-mta) and `queue`.

use clap::Subcommand;
use smtp_desk::error::ErrorReport;
use smtp_desk::journal::events::{self, Actor, QueueAction};
use smtp_desk::outbox::agent::Kind;
use smtp_desk::outbox::runner::{self, Finished};
use smtp_desk::outbox::sendmail::{self, Mode};
use smtp_desk::outbox::{self, exit, smtp_session, Error, Intake, MessageSummary, PageQuery, State, Store, MAX_MESSAGE_BYTES};
use smtp_desk::settings;
use smtp_desk::system;
use std::io::Write;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// Hand a message to the outbox, sendmail-compatible (reads standard input).
    #[command(disable_help_flag = true, after_help = SENDMAIL_HELP)]
    Sendmail {
        /// sendmail flags and recipients, e.g. -t -i, or -f FROM RCPT…
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// List and manage the messages waiting in the outbox.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Deliver the outbox to the relay: what is due now (--once), or keep running (--daemon).
    #[command(after_help = DELIVER_HELP, group = clap::ArgGroup::new("what").required(true))]
    Deliver {
        /// Deliver what is due, then exit (while a daemon runs: just wake it).
        #[arg(long, group = "what")]
        once: bool,
        /// Keep running: deliver as mail arrives and when deferred mail falls due.
        #[arg(long, group = "what")]
        daemon: bool,
        /// Install `deliver --daemon` as a systemd user service and start it (keeps delivering
        /// while no window is open).
        #[arg(long, group = "what")]
        install_service: bool,
        /// Stop and remove that service.
        #[arg(long, group = "what")]
        remove_service: bool,
        /// Show whether that service is installed, enabled and running.
        #[arg(long, group = "what")]
        service_status: bool,
        /// Print nothing (for runs started by sendmail).
        #[arg(long)]
        quiet: bool,
    },
}

const DELIVER_HELP: &str = "One agent runs at a time (a lock file in the data dir); sendmail and queue flush wake it,
or start a one-shot run when none is running.

SIGTERM or Ctrl-C stops it cleanly: nothing new is claimed, what is being sent finishes or goes
back to the queue, connections are closed, and it exits 0 within the step timeout.

Exit codes: 0 done (nothing failed to connect); 64 another daemon runs (--daemon);
75 a connection to the server failed (the mail is deferred and retried later) or the queue
could not be written; 69 no systemd for --install-service/--remove-service; 70 systemctl failed.";

#[derive(Subcommand)]
pub enum QueueCommand {
    /// List messages, newest first (as the window does); page with --before / --after.
    #[command(after_help = LIST_JSON_HELP)]
    List {
        /// Only messages with a recipient in this state: queued, sending, sent, deferred, held, failed.
        #[arg(long, value_parser = parse_state)]
        state: Option<State>,
        /// Only messages whose sender or a recipient contains this text.
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// At most this many messages.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// The next (older) page: messages with ids below ID (the last id of the page before).
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
        /// The previous (newer) page: the messages just above ID (the first id of the page shown).
        #[arg(long, value_name = "ID")]
        after: Option<i64>,
        /// One JSON object per message per line (see below).
        #[arg(long)]
        json: bool,
    },
    /// Show one message: envelope, recipients' states and headers.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Keep messages from being sent until released.
    Hold {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Let held messages be sent again, at once.
    Release {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Delete messages (or every message with --all).
    Delete {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<i64>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Recipients per state.
    Counts {
        #[arg(long)]
        json: bool,
    },
    /// Ask for the queue to be delivered now (deferred mail too).
    Flush,
    /// Make deferred messages due now, and wake delivery.
    Retry {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        json: bool,
    },
}

const SENDMAIL_HELP: &str = "Flags (sendmail-compatible; values attached or separate: -fFROM or -f FROM):
  -t              also send to the To, Cc and Bcc headers (Bcc and Resent-Bcc are removed)
  -f, -r FROM     envelope sender; '<>' or '' is the null sender; a bare name (root) becomes
                  the profile's from address
  -F NAME         full name for an added From header
  -i, -oi         a line with only '.' does not end the message
  -bm             read a message from standard input (the default)
  -bp             list the queue (also: mailq)
  -bs             SMTP on standard input and output
  -q              flush the queue
  -B TYPE, -N DSN, -R RET, -V ENVID   kept with the message for delivery
  -bi, -I         newaliases: nothing to do, exit 0
  --profile NAME  send with this profile (smtp-desk profile list); without it, the default profile
  --              the rest are recipients
  accepted and ignored: -od* -oe* -om -o7 -o8 -oA* -O k=v -L -m -n -v -U -G -h -C -d -X -A*

Bare local recipients (root, www-data) go to the local_recipient setting
(smtp-desk config set local_recipient admin@example.com).

Exit codes (sysexits):
  0   queued: the message is on disk (fsynced) before the exit
  64  usage: unknown flag, missing value, no recipient given and no -t, unknown --profile
  65  data: unparseable or empty message, CR/LF in an address, -t found no recipient
  67  no user: a bare local recipient and local_recipient is not set
  73  can't create: the message is over the size limit (25 MiB)
  75  temporary failure: the queue could not be written; send again later
  77  not allowed: the admin policy allows only another sender domain
Nothing is stored when the exit code is not 0.

Run as 'sendmail' (a symlink to smtp-desk) it behaves as 'smtp-desk sendmail'; as 'mailq', as -bp.";

const LIST_JSON_HELP: &str = "Newest first, as the window shows it. The next (older) page: --before ID with the last id shown;
the previous (newer) page: --after ID with the first id shown.
--json prints one object per message per line (stable; fields are only ever added):
  {\"id\":1,\"state\":\"queued\",\"received_at\":1700000000,\"sender\":\"a@example.com\",\"size\":4096,
   \"subject\":\"…\",\"message_id\":\"<…>\",\"recipients\":[{\"address\":\"b@example.com\",\"state\":\"queued\",
   \"attempts\":0,\"last_reply\":null,\"next_try_at\":null}]}
states: queued, sending, sent, deferred, held, failed; a message's state is its least advanced
recipient's (sending, queued, deferred, held, failed, sent); times are seconds since the Unix epoch;
sender \"\" is the null sender.";

fn parse_state(s: &str) -> Result<State, String> {
    State::parse(s).ok_or_else(|| format!("'{s}' is not a state: queued, sending, sent, deferred, held or failed"))
}

/// Runs as sendmail when the binary is called `sendmail`, `mailq` or `newaliases`, or as
/// `smtp-desk sendmail …` (which bypasses clap: sendmail's `-h N` and attached values aren't clap's grammar).
pub fn run_by_name() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    let name =
        args.first().map(|a| std::path::Path::new(a).file_name().unwrap_or_default().to_string_lossy().into_owned()).unwrap_or_default();
    match name.as_str() {
        "sendmail" => Some(sendmail_main(&args[1..])),
        "mailq" => Some(sendmail_main(&[vec!["-bp".to_string()], args[1..].to_vec()].concat())),
        "newaliases" => Some(ExitCode::SUCCESS),
        _ if args.get(1).map(String::as_str) == Some("sendmail") => Some(sendmail_main(&args[2..])),
        _ => None,
    }
}

/// The subcommands as clap parsed them.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Sendmail { args } => sendmail_main(&args),
        Command::Queue(q) => queue_main(q),
        Command::Deliver { install_service: true, .. } => service_main(outbox::service::enable()),
        Command::Deliver { remove_service: true, .. } => service_main(outbox::service::disable()),
        Command::Deliver { service_status: true, .. } => service_main(Ok(outbox::service::status())),
        Command::Deliver { daemon, quiet, .. } => deliver_main(daemon, quiet),
    }
}

fn deliver_main(daemon: bool, quiet: bool) -> ExitCode {
    let kind = if daemon { Kind::Daemon } else { Kind::Once };
    // The system service also takes local users' mail on its socket while it runs.
    let submissions = if daemon && system::current() == system::Mode::System {
        match system_intake() {
            Ok(s) => Some(s),
            Err((code, message)) => {
                eprintln!("deliver: {message}");
                return ExitCode::from(code);
            }
        }
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let cancel = smtp_desk::smtp::CancelToken::new();
    let mut notice = |text: &str| {
        tracing::info!("deliver: {text}");
        if !quiet {
            eprintln!("deliver: {text}");
        }
    };
    // SIGTERM (systemd stopping the service) and Ctrl-C ask the agent to stop cleanly; a second
    // one ends the process at once (recipients left `sending` are queued again by the next run).
    let run = rt.block_on(async {
        let stop = cancel.clone();
        tokio::spawn(async move {
            let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else { return };
            for _ in 0..2 {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                if stop.is_cancelled() {
                    std::process::exit(i32::from(exit::TEMPFAIL));
                }
                stop.cancel();
            }
        });
        let server = submissions.map(|(socket, intake)| {
            notice(&format!("taking mail from local users on {}", socket.path().display()));
            tokio::spawn(socket.serve(intake, smtp_desk::paths::data_dir(), cancel.clone()))
        });
        let run = runner::run(&smtp_desk::paths::outbox_file(), kind, &cancel, &mut notice).await;
        // The runner is done (stopped, or another agent runs): stop taking mail too.
        cancel.cancel();
        if let Some(server) = server {
            let _ = server.await;
        }
        run
    });
    match run {
        Ok(Finished::WokeRunningAgent) => {
            if !quiet {
                eprintln!("deliver: another delivery agent is running; it was woken to deliver now");
            }
            ExitCode::SUCCESS
        }
        Ok(Finished::Delivered(s)) => {
            tracing::info!("deliver: {} sent, {} deferred, {} failed", s.sent, s.deferred, s.failed);
            if !quiet {
                eprintln!("deliver: {} sent, {} deferred, {} failed", s.sent, s.deferred, s.failed);
                if let Some(e) = &s.connect_error {
                    eprintln!("deliver: the server could not be reached: {e}; the mail is deferred and retried later");
                }
            }
            if s.connect_failures > 0 {
                ExitCode::from(exit::TEMPFAIL)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            let code = if matches!(e, Error::Usage(_)) { exit::USAGE } else { exit::TEMPFAIL };
            if quiet {
                tracing::warn!("deliver: {e}");
                ExitCode::from(code)
            } else {
                fail(&e, code)
            }
        }
    }
}

/// The system service's submission socket and the intake behind it: root only.
fn system_intake() -> Result<(system::submit::Socket, std::sync::Arc<Intake>), (u8, String)> {
    if !system::is_root() {
        return Err((exit::USAGE, "the system service runs as root (systemctl start smtp-desk)".into()));
    }
    let path = system::submit_socket();
    let socket = system::submit::Socket::bind(&path).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::AddrInUse { exit::USAGE } else { exit::TEMPFAIL };
        (code, format!("could not listen on {}: {e}", path.display()))
    })?;
    let store = Store::open_for_intake(&smtp_desk::paths::outbox_file()).map_err(|e| (exit::TEMPFAIL, e.to_string()))?;
    Ok((socket, std::sync::Arc::new(Intake::start(store))))
}

fn service_main(r: Result<outbox::service::Status, outbox::service::Error>) -> ExitCode {
    match r {
        Ok(s) => {
            let yes = |b: bool| if b { "yes" } else { "no" };
            println!("unit: {} (installed: {})", s.unit_path.display(), yes(s.installed));
            println!("enabled: {}", yes(s.enabled));
            println!("running: {}", yes(s.active));
            ExitCode::SUCCESS
        }
        Err(e) => {
            let report = ErrorReport::from(&e);
            eprintln!("deliver: {}", report.message);
            if let Some(h) = &report.hint {
                eprintln!("hint: {h}");
            }
            // sysexits: EX_UNAVAILABLE without systemd, EX_SOFTWARE when systemctl failed.
            ExitCode::from(if matches!(e, outbox::service::Error::NoSystemd(_)) { 69 } else { 70 })
        }
    }
}

fn fail(e: &Error, code: u8) -> ExitCode {
    let r = ErrorReport::from(e);
    eprintln!("sendmail: {}", r.message);
    if let Some(h) = r.hint {
        eprintln!("hint: {h}");
    }
    ExitCode::from(code)
}

pub fn sendmail_main(args: &[String]) -> ExitCode {
    let until_dashdash = args.iter().take_while(|a| *a != "--");
    if until_dashdash.clone().any(|a| a == "--help") {
        println!("smtp-desk sendmail: hand a message to the outbox.\n\nUsage: smtp-desk sendmail [FLAGS] [RECIPIENT…] < message\n\n{SENDMAIL_HELP}");
        return ExitCode::SUCCESS;
    }
    if system::current() == system::Mode::System && !system::is_root() {
        return user_sendmail(args);
    }
    match sendmail_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, e.exit_code()),
    }
}

/// A local user's sendmail in system mode: the spool is root's, so the message goes to the system
/// service's socket, which records who sent it; exit 0 only once the service has committed it.
fn user_sendmail(args: &[String]) -> ExitCode {
    let read = sendmail::parse(args).and_then(|inv| {
        if inv.mode == Mode::NewAliases {
            return Ok(None);
        }
        if inv.mode != Mode::Deliver {
            return Err(Error::Usage(
                "in system mode the queue is root's: list it (-bp, mailq) or flush it (-q) with sudo; -bs is not offered to users".into(),
            ));
        }
        sendmail::check_recipients_possible(&inv)?;
        sendmail::read_message(&mut std::io::stdin().lock(), inv.dot_ends_message, MAX_MESSAGE_BYTES).map(Some)
    });
    let raw = match read {
        Ok(Some(raw)) => raw,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => return fail(&e, e.exit_code()),
    };
    match system::submit::hand_in(&system::submit_socket(), args, &raw) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sendmail: {e}");
            if let Some(h) = e.hint() {
                eprintln!("hint: {h}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn sendmail_inner(args: &[String]) -> Result<(), Error> {
    let inv = sendmail::parse(args)?;
    match inv.mode {
        Mode::NewAliases => Ok(()),
        Mode::ListQueue => print_mailq(&Store::open_default()?),
        Mode::Flush => {
            let mut store = Store::open_default()?;
            store.record_flush_request()?;
            let n = store.retry_all_now()?;
            // `sendmail -q` is what cron runs every few minutes: only a flush that moved mail is
            // worth a line in the event log.
            if n > 0 {
                acted(&store, QueueAction::Flush, None, n);
            }
            outbox::wake_delivery(&store)?;
            Ok(())
        }
        Mode::Smtp => {
            let profile = load_profile(inv.profile.as_deref())?;
            let policy = smtp_desk::policy::load();
            let intake = Intake::start(Store::open_for_intake(&smtp_desk::paths::outbox_file())?);
            let mut input = std::io::BufReader::new(std::io::stdin());
            let mut output = std::io::BufWriter::new(std::io::stdout());
            let config = smtp_session::Config { policy: Some(&policy), ..smtp_session::Config::bs(&profile, MAX_MESSAGE_BYTES) };
            let outcome = smtp_session::serve(&mut input, &mut output, &intake, &config).map_err(Error::Input)?;
            drop(intake);
            if !outcome.accepted.is_empty() {
                outbox::wake_delivery_in(&smtp_desk::paths::data_dir());
            }
            Ok(())
        }
        Mode::Deliver => {
            let profile = load_profile(inv.profile.as_deref())?;
            // In system mode the queue records who handed mail in, root as much as a user.
            let source = if system::current() == system::Mode::System { system::submit::Peer::me().source() } else { "sendmail".into() };
            let mut raw = None;
            let accepted = sendmail::check_recipients_possible(&inv)
                .and_then(|()| sendmail::read_message(&mut std::io::stdin().lock(), inv.dot_ends_message, MAX_MESSAGE_BYTES))
                .and_then(|r| sendmail::accept_as(&inv, raw.insert(r), &profile, MAX_MESSAGE_BYTES, &source))
                .and_then(|s| sendmail::check_sender(&smtp_desk::policy::load(), &s.sender).map(|()| s));
            let submission = match accepted {
                Ok(s) => s,
                Err(e) => {
                    if sendmail::is_refusal(&e) {
                        // The mail log shows what was turned away (only here: the accepted path
                        // pays no extra commit).
                        let refusal = sendmail::refusal(&inv, raw.as_deref(), &profile, &e);
                        let logged =
                            Store::open_for_intake(&smtp_desk::paths::outbox_file()).and_then(|mut s| s.record_refusals(&[refusal]));
                        if let Err(le) = logged {
                            eprintln!("sendmail: warning: the refusal could not be written to the mail log: {le}");
                        }
                    }
                    return Err(e);
                }
            };
            let mut store = Store::open_for_intake(&smtp_desk::paths::outbox_file())?;
            store.insert(std::slice::from_ref(&submission))?;
            outbox::wake_delivery(&store)?;
            Ok(())
        }
    }
}

/// The profile the message is recorded with: `--profile NAME` (refused when there is no such
/// profile), else the default one.
fn load_profile(requested: Option<&str>) -> Result<sendmail::IntakeProfile, Error> {
    // Intake must not refuse mail over a settings problem: the profile only supplies the From
    // address and where local mail goes, and delivery re-reads the settings anyway.
    match settings::load() {
        Ok(loaded) => {
            if let Some(n) = &loaded.notice {
                eprintln!("sendmail: warning: {n}");
            }
            sendmail::IntakeProfile::choose(&loaded.settings, requested)
        }
        Err(e) => {
            eprintln!("sendmail: warning: {e}; using the default settings for this message");
            Ok(sendmail::IntakeProfile::fallback(requested))
        }
    }
}

/// The queue as `mailq` shows it (Postfix's layout); `!` after the id marks a held message.
fn print_mailq(store: &Store) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    let (mut total, mut count) = (0u64, 0usize);
    let mut before = None;
    loop {
        let page = store.page(&PageQuery { before, limit: 500, ..PageQuery::default() })?;
        for m in &page.messages {
            if count == 0 {
                let _ = writeln!(out, "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------");
            }
            count += 1;
            total += m.size;
            let mark = if m.state == State::Held { "!" } else { " " };
            // "Sun, 06 Nov 1994 08:49:37 GMT" laid out as mailq does: "Sun Nov  6 08:49:37".
            let http = httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(m.received_at.max(0) as u64));
            let p: Vec<&str> = http.split(' ').collect();
            let when = format!("{} {} {:>2} {}", p[0].trim_end_matches(','), p[2], p[1].trim_start_matches('0'), p[4]);
            let sender = if m.sender.is_empty() { "MAILER-DAEMON" } else { &m.sender };
            let _ = writeln!(out, "{:<10}{mark}{:>9} {:<20} {sender}", m.id, m.size, when);
            for r in &m.recipients {
                let _ = writeln!(out, "{:42}{} ({})", "", r.address, r.state);
                if let Some(reply) = &r.last_reply {
                    let _ = writeln!(out, "{:42}  {reply}", "");
                }
            }
            let _ = writeln!(out);
        }
        before = page.messages.last().map(|m| m.id);
        if !page.older || before.is_none() {
            break;
        }
    }
    if count == 0 {
        let _ = writeln!(out, "Mail queue is empty");
    } else {
        let _ = writeln!(out, "-- {} Kbytes in {count} Request{}.", total.div_ceil(1024), if count == 1 { "" } else { "s" });
    }
    Ok(())
}

fn queue_main(q: QueueCommand) -> ExitCode {
    match queue_inner(q) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e {
                Error::NotFound(_) => 2,
                Error::Storage { .. } => exit::TEMPFAIL,
                _ => 1,
            };
            fail(&e, code)
        }
    }
}

fn queue_inner(q: QueueCommand) -> Result<(), Error> {
    let mut store = Store::open_default()?;
    let changed = |verb: &str, n: usize, json: bool| {
        if json {
            println!("{}", serde_json::json!({ "changed": n }));
        } else {
            println!("{n} message(s) {verb}.");
        }
    };
    match q {
        QueueCommand::List { state, search, limit, before, after, json } => {
            let page = list(&store, PageQuery { state, search, before, after, limit: 0 }, limit)?;
            let mut out = std::io::stdout().lock();
            for m in &page {
                let _ =
                    if json { writeln!(out, "{}", serde_json::to_string(m).expect("serialisable")) } else { writeln!(out, "{}", line(m)) };
            }
        }
        QueueCommand::Show { id, json } => {
            let d = store.show(id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d).expect("serialisable"));
            } else {
                println!("{}", line(&d.summary));
                for r in &d.summary.recipients {
                    println!("  {} {} attempts={} {}", r.address, r.state, r.attempts, r.last_reply.as_deref().unwrap_or(""));
                }
                println!("\n{}", d.headers);
            }
        }
        QueueCommand::Hold { ids, json } => {
            let n = store.hold(&ids)?;
            acted(&store, QueueAction::Hold, Some(&ids), n);
            changed("held", n, json)
        }
        QueueCommand::Release { ids, json } => {
            let n = store.release(&ids)?;
            acted(&store, QueueAction::Release, Some(&ids), n);
            changed("released", n, json)
        }
        QueueCommand::Delete { ids, all, json } => {
            let n = if all { store.delete_all()? } else { store.delete(&ids)? };
            acted(&store, QueueAction::Delete, (!all).then_some(&ids[..]), n);
            changed("deleted", n, json)
        }
        QueueCommand::Counts { json } => {
            let c = store.counts()?;
            if json {
                println!("{}", serde_json::to_string(&c).expect("serialisable"));
            } else {
                println!(
                    "{} message(s); recipients: {} queued, {} sending, {} deferred, {} held, {} failed, {} sent",
                    c.messages, c.queued, c.sending, c.deferred, c.held, c.failed, c.sent
                );
            }
        }
        QueueCommand::Flush => {
            store.record_flush_request()?;
            let n = store.retry_all_now()?;
            acted(&store, QueueAction::Flush, None, n);
            let woke = outbox::wake_delivery(&store)?;
            // A running agent (the window) is woken even while sending is off: it sends nothing.
            let off = woke == outbox::WakeOutcome::SendingOff || crate_mode() == Some(smtp_desk::settings::Mode::Off);
            if off {
                let kept = store.overview(smtp_desk::settings::Mode::Off)?.waiting;
                let what = if kept == 1 { "1 message is kept".to_string() } else { format!("{kept} messages are kept") };
                eprintln!(
                    "Flush requested, but sending is off: {what}; turn sending on to deliver them (smtp-desk config set mode relay)."
                );
            } else if woke == outbox::WakeOutcome::NotStarted {
                eprintln!("Flush requested, but no delivery run could be started; the mail waits for the next one.");
            } else {
                eprintln!("Flush requested: delivery is running.");
            }
        }
        QueueCommand::Retry { ids, json } => {
            let n = store.retry_now(&ids)?;
            acted(&store, QueueAction::Retry, Some(&ids), n);
            outbox::wake_delivery(&store)?;
            changed("made due now", n, json);
        }
    }
    Ok(())
}

/// Notes a person's queue action in the event log (on the store the command already has).
fn acted(store: &Store, action: QueueAction, ids: Option<&[i64]>, n: usize) {
    events::record_or_log(store, &events::queue_action(action, ids, n, Actor::CommandLine));
}

/// The sending mode as saved, if the settings can be read.
fn crate_mode() -> Option<smtp_desk::settings::Mode> {
    smtp_desk::settings::load().ok().map(|l| l.settings.profile.mode)
}

/// Up to `limit` messages, newest first, from the window's keyset pages ([`Store::page`]), walked
/// page by page past its page size.
fn list(store: &Store, mut q: PageQuery, limit: usize) -> Result<Vec<MessageSummary>, Error> {
    const CHUNK: usize = 500;
    let mut got: Vec<MessageSummary> = Vec::new();
    let upward = q.after.is_some() && q.before.is_none();
    while got.len() < limit {
        q.limit = (limit - got.len()).min(CHUNK) as u32;
        let page = store.page(&q)?;
        let n = page.messages.len();
        if upward {
            // The next chunk lies above this one: it goes in front (newest first).
            q.after = page.messages.first().map(|m| m.id);
            let more = page.newer;
            got.splice(0..0, page.messages);
            if !more || n == 0 {
                break;
            }
        } else {
            q.before = page.messages.last().map(|m| m.id);
            got.extend(page.messages);
            if !page.older || n == 0 {
                break;
            }
        }
    }
    Ok(got)
}

fn line(m: &MessageSummary) -> String {
    let to: Vec<&str> = m.recipients.iter().take(3).map(|r| r.address.as_str()).collect();
    let more = m.recipients.len().saturating_sub(3);
    let more = if more > 0 { format!(" +{more}") } else { String::new() };
    let sender = if m.sender.is_empty() { "<>" } else { &m.sender };
    let profile = m.profile.as_deref().unwrap_or("(default)");
    format!("{:>6} {:<8} {:>8} [{profile}] {sender} -> {}{more}  {}", m.id, m.state, m.size, to.join(", "), m.subject)
}
