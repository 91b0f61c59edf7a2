//! `smtp-desk man DIR` (hidden): writes the manual pages, rendered from this command's clap
//! definition, so the packages' man pages never drift from `--help`.

use clap::CommandFactory;
use std::path::Path;
use std::process::ExitCode;

/// Writes smtp-desk.1 and a page per subcommand (smtp-desk-config.1, ...) into `dir`; the
/// packaging (scripts/before-build.sh) compresses them into /usr/share/man/man1.
pub fn write(dir: &Path) -> ExitCode {
    let written = std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(crate::Cli::command(), dir));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smtp-desk man: can't write the manual pages to {}: {e}", dir.display());
            ExitCode::from(crate::EXIT_FAILURE)
        }
    }
}
