//! Notices when the settings file changes outside the window (the CLI, an editor, config
//! management) and tells the page, which reloads or warns about its unsaved edits.

use crate::state::AppState;
use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use tauri::{AppHandle, Emitter, Manager};

/// Watches the settings directory (the file itself is replaced on every atomic save, so a watch
/// on the file would be lost after the first write).
pub fn start(app: AppHandle) {
    let Ok(file) = smtp_desk::paths::settings_file() else { return };
    let Some(dir) = file.parent().map(|d| d.to_path_buf()) else { return };
    // The directory must exist to be watched; private, as the first save would make it.
    let mut private_dir = std::fs::DirBuilder::new();
    private_dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut private_dir, 0o700);
    if let Err(e) = private_dir.create(&dir) {
        tracing::warn!("cannot watch {}: {e}", dir.display());
        return;
    }
    let handler_app = app.clone();
    let watched = file.clone();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        // Only changes to the content or the name count. notify also reports opens and reads,
        // and our own read below would then trigger the next event, forever.
        let changed = matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any)
        );
        if !changed || !event.paths.iter().any(|p| p == &watched) {
            return;
        }
        // A change of mode or server applies to delivery at once (this window's agent or a daemon).
        if let Some(delivery) = handler_app.try_state::<crate::delivery::Delivery>() {
            delivery.poke();
        }
        // Only compared with what the window last read or wrote; never changes the file.
        let content = smtp_desk::settings::read_bytes(&watched).ok().flatten();
        if handler_app.state::<AppState>().note_file(content) {
            let _ = handler_app.emit("settings-changed", ());
        }
    });
    match watcher {
        Ok(mut w) => match w.watch(&dir, RecursiveMode::NonRecursive) {
            // The watcher lives as long as the app: it is kept in managed state.
            Ok(()) => {
                app.manage(WatcherHandle(std::sync::Mutex::new(Box::new(w))));
            }
            Err(e) => tracing::warn!("cannot watch {}: {e}", dir.display()),
        },
        Err(e) => tracing::warn!("cannot watch the settings file: {e}"),
    }
}

struct WatcherHandle(#[allow(dead_code)] std::sync::Mutex<Box<dyn Watcher + Send>>);
