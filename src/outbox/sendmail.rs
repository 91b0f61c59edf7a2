//! The sendmail command line as real callers use it (cron, git send-email, PHP, mutt, logwatch,
//! unattended-upgrades, mdadm, Symfony), and turning one invocation into a queued [`Submission`].
//!
//! The parser is written by hand on purpose: sendmail's flags are getopt-style single-dash
//! letters whose values may be attached (`-fFROM`, `-FCronDaemon`, `-odi`, `-oem`, `-B8BITMIME`,
//! `-q30m`) or separate (`-f FROM`), can be clustered (`-ti`), and `-o`/`-b` take a sub-letter.
//! clap cannot parse that grammar, and its `-h`/`--help` would collide with sendmail's `-h N`
//! (hop count). Options may follow recipients (GNU getopt permutes); `--` ends them.

use super::address;
use super::message::{self, Options as MessageOptions};
use super::store::{Dsn, Refusal, Submission};
use super::Error;
use crate::settings::Profile;

/// What sendmail is asked to do (`-b…`, `-q`, `-I`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `-bm` (the default): read a message from standard input and queue it.
    #[default]
    Deliver,
    /// `-bp` (and `mailq`): list the queue.
    ListQueue,
    /// `-bs`: speak SMTP on standard input and output.
    Smtp,
    /// `-q…`: flush the queue.
    Flush,
    /// `-bi`, `-I` (and `newaliases`): nothing to do; succeed.
    NewAliases,
}

/// One sendmail command line, understood.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    pub mode: Mode,
    /// `-t`: recipients also from the To, Cc and Bcc headers.
    pub recipients_from_headers: bool,
    /// `-f`/`-r`, as given (`Some("")` or `Some("<>")` is the null sender).
    pub sender: Option<String>,
    /// `-F`: the full name for an added From header.
    pub full_name: Option<String>,
    /// Whether a line holding only "." ends the message; `-i`/`-oi` turn this off.
    pub dot_ends_message: bool,
    /// `-B`, `-N`, `-R`, `-V`: kept with the message.
    pub dsn: Dsn,
    /// The recipient arguments, as given.
    pub recipients: Vec<String>,
    /// Flags accepted and ignored, for `-v`-style reporting.
    pub ignored: Vec<String>,
    /// `--profile NAME`: the profile the mail is sent with (else the default profile).
    pub profile: Option<String>,
}

/// Reads a sendmail command line (without the program name).
pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Invocation, Error> {
    let mut inv = Invocation { dot_ends_message: true, ..Invocation::default() };
    let mut args = args.iter().map(AsRef::as_ref);
    let mut options_done = false;
    while let Some(arg) = args.next() {
        if options_done || !arg.starts_with('-') || arg == "-" {
            inv.recipients.push(arg.to_string());
            continue;
        }
        if arg == "--" {
            options_done = true;
            continue;
        }
        // `smtp-desk --system sendmail …` chooses system mode before this parser runs.
        if arg == "--system" {
            continue;
        }
        // Our long options: sendmail has none, so they can't clash with a real caller's flags.
        if let Some(rest) = arg.strip_prefix("--profile") {
            let name = match rest.strip_prefix('=') {
                Some(v) => v.to_string(),
                None if rest.is_empty() => args.next().map(str::to_string).ok_or_else(|| Error::Usage("--profile needs a name".into()))?,
                None => return Err(Error::Usage(format!("unknown option '{arg}'"))),
            };
            if name.trim().is_empty() {
                return Err(Error::Usage("--profile needs a name".into()));
            }
            inv.profile = Some(name);
            continue;
        }
        for (at, flag) in arg.char_indices().skip(1) {
            let attached = &arg[at + flag.len_utf8()..];
            // A flag that takes a value consumes the rest of this argument, or the next one.
            let mut value = |name: char| -> Result<String, Error> {
                if !attached.is_empty() {
                    return Ok(attached.to_string());
                }
                args.next().map(str::to_string).ok_or_else(|| Error::Usage(format!("-{name} needs a value")))
            };
            match flag {
                't' => inv.recipients_from_headers = true,
                'i' => inv.dot_ends_message = false,
                'm' | 'n' | 'v' | 'U' | 'G' => inv.ignored.push(format!("-{flag}")),
                'I' => inv.mode = Mode::NewAliases,
                'f' | 'r' => {
                    inv.sender = Some(value(flag)?);
                    break;
                }
                'F' => {
                    let name = value(flag)?;
                    if name.contains(['\r', '\n']) {
                        return Err(Error::BadAddress { address: name, why: "(the -F full name) contains a line break".into() });
                    }
                    inv.full_name = Some(name);
                    break;
                }
                'B' => {
                    inv.dsn.body_type = Some(dsn_value(flag, value(flag)?)?);
                    break;
                }
                'N' => {
                    inv.dsn.notify = Some(dsn_value(flag, value(flag)?)?);
                    break;
                }
                'R' => {
                    inv.dsn.ret = Some(dsn_value(flag, value(flag)?)?);
                    break;
                }
                'V' => {
                    inv.dsn.envid = Some(dsn_value(flag, value(flag)?)?);
                    break;
                }
                'O' | 'L' | 'h' | 'C' | 'X' => {
                    let v = value(flag)?;
                    inv.ignored.push(format!("-{flag} {v}"));
                    break;
                }
                // Debug flags and -Ac/-Am take only an attached value, if any.
                'd' | 'A' => {
                    inv.ignored.push(format!("-{flag}{attached}"));
                    break;
                }
                'o' => {
                    let v = value(flag)?;
                    // -oi is the only -o option with an effect; the rest (-odi, -oem, -om, -o7,
                    // -o8, -oA…) are delivery-mode and error-reporting choices of the old
                    // sendmail that a queue which always queues has no use for.
                    if v == "i" {
                        inv.dot_ends_message = false;
                    } else {
                        inv.ignored.push(format!("-o{v}"));
                    }
                    break;
                }
                'b' => {
                    let v = value(flag)?;
                    inv.mode = match v.as_str() {
                        "m" => Mode::Deliver,
                        "p" => Mode::ListQueue,
                        "s" => Mode::Smtp,
                        "i" => Mode::NewAliases,
                        "d" | "D" => {
                            return Err(Error::Usage("-bd (run as a daemon) is not offered: use the SMTP listener in the settings".into()))
                        }
                        other => return Err(Error::Usage(format!("-b{other} is not supported (supported: -bm, -bp, -bs, -bi)"))),
                    };
                    break;
                }
                'q' => {
                    // -q, -q30m, -qRsite, -qIid: every form means "flush" here.
                    inv.mode = Mode::Flush;
                    if !attached.is_empty() {
                        inv.ignored.push(format!("-q{attached}"));
                    }
                    break;
                }
                other => return Err(Error::Usage(format!("unknown flag -{other} in '{arg}'"))),
            }
        }
    }
    Ok(inv)
}

fn dsn_value(flag: char, v: String) -> Result<String, Error> {
    if v.chars().any(char::is_control) {
        return Err(Error::Usage(format!("-{flag} contains a control character")));
    }
    Ok(v)
}

/// The profile intake records with a message, and the settings it supplies there (the From
/// address, where local mail goes).
#[derive(Debug, Clone)]
pub struct IntakeProfile {
    /// Canonical name (`global` for Global).
    pub name: String,
    pub profile: Profile,
}

impl IntakeProfile {
    /// The profile `requested` (the default when `None`) of `settings`. An unknown name is
    /// refused ([`Error::UnknownProfile`]). Intake never refuses mail over a settings problem: a
    /// profile whose overrides don't apply supplies Global's fields (delivery checks it again).
    pub fn choose(settings: &crate::settings::Settings, requested: Option<&str>) -> Result<IntakeProfile, Error> {
        use crate::settings::profiles;
        let name = profiles::canonical(settings, requested)
            .map_err(|_| Error::UnknownProfile { name: requested.unwrap_or_default().to_string(), known: profiles::names(settings) })?
            .to_string();
        let profile = profiles::resolve(settings, Some(&name)).unwrap_or_else(|e| {
            tracing::warn!("profile {name}: {e}; its Global fields are used at intake");
            settings.profile.clone()
        });
        Ok(IntakeProfile { name, profile })
    }

    /// Global's defaults, when the settings can't be read: the name asked for, or Global.
    pub fn fallback(requested: Option<&str>) -> IntakeProfile {
        let name = requested.map(str::to_string).unwrap_or_else(|| crate::settings::profiles::GLOBAL.to_string());
        IntakeProfile { name, profile: Profile::default() }
    }
}

/// Refuses `sender` when the admin policy allows only another sender domain.
pub fn check_sender(policy: &crate::policy::State, sender: &str) -> Result<(), Error> {
    policy.check_sender(sender).map_err(Error::Policy)
}

/// The envelope sender to queue: `-f`/`-r` (or `MAIL FROM`) if given, else the profile's from
/// address. A bare local name (cron passes `-f root`) can't be used with a server, so it
/// becomes the profile's from address, or `name@this-host` without one.
pub(crate) fn envelope_sender(given: Option<&str>, profile: &Profile) -> Result<String, Error> {
    let from = profile.sender.from_address.trim();
    let sender = match given {
        Some(text) => address::parse_sender(text)?,
        None if !from.is_empty() => return Ok(from.to_string()),
        None => local_user(),
    };
    if !sender.is_empty() && address::is_local(&sender) {
        return Ok(if from.is_empty() { format!("{sender}@{}", crate::machine::host_name()) } else { from.to_string() });
    }
    Ok(sender)
}

fn local_user() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "root".into())
}

/// What an intake gives to make a [`Submission`].
pub(crate) struct Envelope<'a> {
    pub sender: String,
    pub recipients: Vec<String>,
    pub recipients_from_headers: bool,
    pub full_name: Option<&'a str>,
    pub dsn: Dsn,
    pub source: &'a str,
}

/// Normalises `raw` and completes the envelope: header recipients added for `-t`, bare local
/// names sent to "local mail goes to", repeats removed. Refuses a message with no recipient.
pub(crate) fn submission(env: Envelope, raw: &[u8], chosen: &IntakeProfile, max_bytes: usize) -> Result<Submission, Error> {
    let profile = &chosen.profile;
    let from_address = if env.sender.is_empty() { profile.sender.from_address.trim().to_string() } else { env.sender.clone() };
    let from_address = if from_address.is_empty() { format!("{}@{}", local_user(), crate::machine::host_name()) } else { from_address };
    let domain = from_address.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_else(crate::machine::host_name);
    let opts = MessageOptions {
        recipients_from_headers: env.recipients_from_headers,
        from_address: &from_address,
        from_name: env.full_name.unwrap_or(&profile.sender.from_name),
        domain: &domain,
        max_bytes,
    };
    let n = message::normalise(raw, &opts)?;
    let local = profile.local_recipient.as_deref();
    let mut recipients = Vec::with_capacity(env.recipients.len() + n.header_recipients.len());
    for r in env.recipients.into_iter().chain(n.header_recipients) {
        recipients.push(address::resolve_recipient(r, local)?);
    }
    let recipients = address::dedupe(recipients);
    if recipients.is_empty() {
        return Err(Error::NoRecipient("the To, Cc and Bcc headers name no one, and no recipient was given on the command line".into()));
    }
    Ok(Submission {
        sender: env.sender,
        recipients,
        body: n.bytes,
        subject: n.subject,
        message_id: n.message_id,
        source: env.source.to_string(),
        options: env.dsn,
        profile: chosen.name.clone(),
    })
}

/// The `-bm` intake: the invocation and the message read from standard input, as a submission.
pub fn accept(inv: &Invocation, raw: &[u8], chosen: &IntakeProfile, max_bytes: usize) -> Result<Submission, Error> {
    accept_as(inv, raw, chosen, max_bytes, "sendmail")
}

/// [`accept`] with the queue's `source` given: the system service records who handed the mail in
/// ("sendmail (uid 1001 alice)").
pub fn accept_as(inv: &Invocation, raw: &[u8], chosen: &IntakeProfile, max_bytes: usize, source: &str) -> Result<Submission, Error> {
    let sender = envelope_sender(inv.sender.as_deref(), &chosen.profile)?;
    let mut recipients = Vec::new();
    for arg in &inv.recipients {
        recipients.extend(address::parse_list(arg, "the command line")?);
    }
    let env = Envelope {
        sender,
        recipients,
        recipients_from_headers: inv.recipients_from_headers,
        full_name: inv.full_name.as_deref(),
        dsn: inv.dsn.clone(),
        source,
    };
    submission(env, raw, chosen, max_bytes)
}

/// The Message-ID header of a message that could not be queued, for its 'refused' row in the
/// mail log ("" when it has none or its headers can't be read).
pub(crate) fn message_id_of(raw: &[u8]) -> String {
    let value = mailparse::parse_headers(raw).ok().and_then(|(h, _)| mailparse::MailHeaderMap::get_first_value(&h[..], "Message-ID"));
    value.map(|v| v.trim().chars().take(998).collect()).unwrap_or_default()
}

/// What a `sendmail` that refused a message leaves in the mail log: the sender and recipients
/// as far as they were read, the message's size and Message-ID if it was read, and the error.
/// Written only on refusal, so the accepted path pays nothing for it.
pub fn refusal(inv: &Invocation, raw: Option<&[u8]>, chosen: &IntakeProfile, error: &Error) -> Refusal {
    let profile = &chosen.profile;
    let sender = match inv.sender.as_deref() {
        Some(given) => envelope_sender(Some(given), profile).unwrap_or_else(|_| given.to_string()),
        None => envelope_sender(None, profile).unwrap_or_default(),
    };
    let mut recipients: Vec<String> = Vec::new();
    for arg in inv.recipients.iter().filter(|r| !r.trim().is_empty()) {
        match address::parse_list(arg, "the command line") {
            Ok(list) => recipients.extend(list),
            Err(_) => recipients.push(arg.trim().to_string()),
        }
    }
    if let Error::BadAddress { address, .. } | Error::LocalRecipientUnset(address) = error {
        if !recipients.contains(address) && address != &sender {
            recipients.push(address.clone());
        }
    }
    Refusal {
        sender,
        recipients,
        message_id: raw.map(message_id_of).unwrap_or_default(),
        size: match error {
            Error::TooBig { size, .. } => *size as u64,
            _ => raw.map_or(0, |r| r.len() as u64),
        },
        server: "sendmail".into(),
        reply: error.to_string(),
        profile: chosen.name.clone(),
    }
}

/// Whether `error` turns the message away (it goes to the mail log as 'refused'); a storage or
/// input failure is not a refusal: nothing was decided about the message.
pub fn is_refusal(error: &Error) -> bool {
    !matches!(error, Error::Storage { .. } | Error::Input(_) | Error::NotFound(_) | Error::UnknownProfile { .. })
}

/// Refuses an invocation that can name no recipient, before the message is read.
pub fn check_recipients_possible(inv: &Invocation) -> Result<(), Error> {
    if inv.mode == Mode::Deliver && !inv.recipients_from_headers && inv.recipients.iter().all(|r| r.trim().is_empty()) {
        return Err(Error::Usage(
            "no recipients: name them on the command line, or use -t to read them from the To, Cc and Bcc headers".into(),
        ));
    }
    Ok(())
}

/// Reads the message from `input`: to the end, or (without `-i`/`-oi`) to a line holding only ".".
pub fn read_message(input: &mut impl std::io::BufRead, dot_ends_message: bool, max_bytes: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    if !dot_ends_message {
        // One byte over the limit is enough to know it's too big, without reading gigabytes.
        input.take(max_bytes as u64 + 1).read_to_end(&mut out).map_err(Error::Input)?;
        return Ok(out);
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).map_err(Error::Input)? == 0 {
            break;
        }
        if line == b".\n" || line == b".\r\n" {
            break;
        }
        out.extend_from_slice(&line);
        if out.len() > max_bytes {
            break;
        }
    }
    Ok(out)
}

use std::io::Read as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Invocation {
        parse(args).unwrap()
    }

    #[test]
    fn cronie() {
        let i = p(&["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"]);
        assert_eq!(i.full_name.as_deref(), Some("CronDaemon"));
        assert!(i.recipients_from_headers && !i.dot_ends_message);
        assert_eq!(i.sender.as_deref(), Some("root"));
        assert!(i.recipients.is_empty());
        assert_eq!(i.ignored, ["-odi", "-oem"]);
    }

    #[test]
    fn debian_cron() {
        let i = p(&["-i", "-FCronDaemon", "-B8BITMIME", "-oem", "user"]);
        assert_eq!(i.dsn.body_type.as_deref(), Some("8BITMIME"));
        assert_eq!(i.recipients, ["user"]);
        assert!(!i.dot_ends_message);
    }

    #[test]
    fn attached_and_separate_values() {
        assert_eq!(p(&["-t", "-fme@example.com"]).sender.as_deref(), Some("me@example.com"));
        assert_eq!(p(&["-f", "me@example.com", "-i", "a@example.com"]).recipients, ["a@example.com"]);
        assert_eq!(p(&["-r", "<>", "a@b.c"]).sender.as_deref(), Some("<>"));
        assert_eq!(p(&["-f", "", "a@b.c"]).sender.as_deref(), Some(""));
        let i = p(&["-N", "success,failure", "-Rhdrs", "-V", "env-1", "-B", "7BIT", "x@y.z"]);
        assert_eq!(
            i.dsn,
            Dsn {
                body_type: Some("7BIT".into()),
                notify: Some("success,failure".into()),
                ret: Some("hdrs".into()),
                envid: Some("env-1".into())
            }
        );
    }

    #[test]
    fn clusters_modes_and_dashdash() {
        let i = p(&["-ti"]);
        assert!(i.recipients_from_headers && !i.dot_ends_message);
        assert_eq!(p(&["-bp"]).mode, Mode::ListQueue);
        assert_eq!(p(&["-b", "s"]).mode, Mode::Smtp);
        assert_eq!(p(&["-q30m"]).mode, Mode::Flush);
        assert_eq!(p(&["-bi"]).mode, Mode::NewAliases);
        assert_eq!(p(&["-I"]).mode, Mode::NewAliases);
        assert_eq!(p(&["-bm", "a@b.c", "-oi"]).recipients, ["a@b.c"], "options after recipients still count");
        assert_eq!(p(&["--", "-odd@example.com"]).recipients, ["-odd@example.com"]);
    }

    #[test]
    fn accepted_and_ignored() {
        let args = [
            "-odb",
            "-oeq",
            "-om",
            "-o7",
            "-o8",
            "-oAaliases",
            "-O",
            "DeliveryMode=b",
            "-L",
            "tag",
            "-m",
            "-n",
            "-v",
            "-U",
            "-G",
            "-h",
            "5",
            "-C",
            "cf",
            "-d0.1",
            "-X",
            "log",
            "-Am",
            "a@b.c",
        ];
        let i = p(&args);
        assert_eq!(i.recipients, ["a@b.c"]);
        assert_eq!(i.mode, Mode::Deliver);
    }

    #[test]
    fn usage_errors() {
        for args in [&["-f"][..], &["-x"], &["-bd"], &["-bv", "a@b.c"], &["-F"]] {
            assert!(matches!(parse(args), Err(Error::Usage(_))), "{args:?}");
        }
        assert!(matches!(parse(&["-F", "a\nb"]), Err(Error::BadAddress { .. })));
    }

    #[test]
    fn dot_line_ends_the_message_unless_i() {
        let input = b"Subject: x\n\nbody\n.\nafter\n";
        assert_eq!(read_message(&mut &input[..], true, 1000).unwrap(), b"Subject: x\n\nbody\n");
        assert_eq!(read_message(&mut &input[..], false, 1000).unwrap(), input);
    }
}
