//! The log file both the `smtp-desk` command and the window write to: where it lives, how it
//! rotates, what goes in, and the tracing subscriber that writes it.
//!
//! One file a day, `smtp-desk.YYYY-MM-DD.log`, the newest 7 kept, in the OS log/state directory
//! ([`dir`]). Only SMTP Desk's own events go in, at the level `SMTP_DESK_LOG` names (default
//! `info`); other crates only at `warn`, because their debug output (D-Bus and SMTP traffic)
//! could carry the password. Our events never hold a secret or a settings value.
//!
//! The file is opened at the first event, so a command that logs nothing (`config show`) pays
//! only for registering the subscriber. Logging never fails a program: no directory, no log.

use std::path::PathBuf;
use std::sync::OnceLock;
use tracing::level_filters::LevelFilter;
use tracing_appender::rolling::{RollingFileAppender, RollingWriter, Rotation};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::writer::{MakeWriter, OptionalWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

/// How many daily files are kept.
pub const KEEP_FILES: usize = 7;

/// Where the log files go: `SMTP_DESK_LOG_DIR` if set; else `$XDG_STATE_HOME/smtp-desk` (Linux,
/// usually `~/.local/state/smtp-desk`), `~/Library/Logs/smtp-desk` (macOS),
/// `%LOCALAPPDATA%\smtp-desk\logs` (Windows). `None` without a home directory: never the
/// current directory.
pub fn dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SMTP_DESK_LOG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if cfg!(target_os = "macos") {
        directories::BaseDirs::new().map(|b| b.home_dir().join("Library/Logs/smtp-desk"))
    } else if cfg!(windows) {
        directories::BaseDirs::new().map(|b| b.data_local_dir().join("smtp-desk").join("logs"))
    } else {
        directories::ProjectDirs::from("", "", "smtp-desk").and_then(|p| p.state_dir().map(|d| d.to_path_buf()))
    }
}

/// Installs the subscriber writing the log file; `program` tags each line (`smtp-desk`,
/// `smtp-desk-app`), since the command and the window share the file. Call once, first thing.
pub fn init(program: &'static str) {
    let Some(dir) = dir() else { return };
    let level = std::env::var("SMTP_DESK_LOG").ok().and_then(|l| l.trim().parse::<LevelFilter>().ok()).unwrap_or(LevelFilter::INFO);
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("smtp_desk", level)
        .with_target("smtp_desk_app", level)
        .with_default(LevelFilter::WARN.min(level));
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_timer(Stamp(program))
        .with_writer(LazyFile { dir, file: OnceLock::new() })
        .with_filter(filter);
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
}

/// The rolling file, opened (and its directory made) at the first event.
struct LazyFile {
    dir: PathBuf,
    file: OnceLock<Option<RollingFileAppender>>,
}

impl LazyFile {
    fn open(&self) -> Option<RollingFileAppender> {
        let mut dirs = std::fs::DirBuilder::new();
        dirs.recursive(true);
        // Paths and host names are in it: only the user may read it.
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
        dirs.create(&self.dir).ok()?;
        RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix("smtp-desk")
            .filename_suffix("log")
            .max_log_files(KEEP_FILES)
            .build(&self.dir)
            .ok()
    }
}

impl<'a> MakeWriter<'a> for LazyFile {
    type Writer = OptionalWriter<RollingWriter<'a>>;

    fn make_writer(&'a self) -> Self::Writer {
        match self.file.get_or_init(|| self.open()) {
            Some(file) => OptionalWriter::some(file.make_writer()),
            None => OptionalWriter::none(),
        }
    }
}

/// The time, then which program and process wrote the line.
struct Stamp(&'static str);

impl FormatTime for Stamp {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        SystemTime.format_time(w)?;
        write!(w, " {}[{}]", self.0, std::process::id())
    }
}
