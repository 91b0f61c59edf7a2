//! Facts about this machine that settings default to: its host name for EHLO.

/// This machine's name as the OS reports it; the default EHLO name when none is set.
///
/// Only the cheap `gethostname` call: resolving the canonical name would put a DNS lookup on
/// the start-up path of every `smtp-desk` invocation.
pub fn host_name() -> String {
    let name = gethostname::gethostname().to_string_lossy().trim().to_string();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}
