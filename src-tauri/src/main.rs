//! SMTP Desk's window: starts Tauri, wires the commands, the settings-file watcher and the
//! window's own state. All mail logic lives in the `smtp-desk` core library.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
#[cfg(test)]
mod contract;
mod delivery;
mod startup;
mod state;
mod watcher;
mod window_state;

use tauri::{Emitter, Manager, WindowEvent};

fn main() {
    let started = std::time::Instant::now();
    smtp_desk::log::init("smtp-desk-app");
    tauri::Builder::default()
        .plugin(tauri_plugin_store::Builder::new().build())
        .plugin(tauri_plugin_notification::init())
        // Used by Rust only (the CSV export's save dialog); the page is granted none of it.
        .plugin(tauri_plugin_dialog::init())
        .manage(state::AppState::new(started))
        .manage(commands::oauth::PendingSignIn::default())
        .invoke_handler(tauri::generate_handler![
            commands::settings::load_settings,
            commands::settings::check_settings,
            commands::settings::save_settings,
            commands::settings::start_from_defaults,
            commands::settings::password_status,
            commands::settings::listener_password_status,
            commands::oauth::oauth_status,
            commands::oauth::oauth_sign_in,
            commands::oauth::oauth_sign_out,
            commands::oauth::oauth_paste,
            commands::oauth::oauth_cancel,
            commands::profiles::profile_create,
            commands::profiles::profile_rename,
            commands::profiles::profile_delete,
            commands::profiles::profile_set_default,
            commands::transfer::settings_export,
            commands::transfer::settings_import,
            commands::service::delivery_service_status,
            commands::service::delivery_service_set,
            commands::window::set_dirty,
            commands::window::close_window,
            commands::window::get_ui_state,
            commands::window::set_ui_state,
            commands::window::ui_ready,
            commands::diagnose::validate_start,
            commands::diagnose::send_test_start,
            commands::diagnose::run_cancel,
            commands::detect::detect_start,
            commands::dkim::dkim_key,
            commands::dkim::dkim_generate,
            commands::dkim::dkim_check,
            commands::dkim::dkim_remove,
            commands::health::health_check,
            commands::queue::queue_page,
            commands::queue::queue_show,
            commands::queue::queue_overview,
            commands::queue::queue_flush,
            commands::queue::queue_hold,
            commands::queue::queue_release,
            commands::queue::queue_delete,
            commands::journal::log_page,
            commands::journal::events_page,
            commands::journal::report,
            commands::journal::dashboard,
            commands::journal::export_log_csv,
        ])
        .setup(|app| {
            app.state::<state::AppState>().milestone("SETUP");
            let window = startup::open_main_window(app.handle())?;
            window_state::restore(app.handle(), &window);
            watcher::start(app.handle().clone());
            delivery::start(app.handle().clone());
            app.state::<state::AppState>().milestone("SETUP_DONE");
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let state = window.state::<state::AppState>();
                if state.is_dirty() {
                    // The page asks the user; it calls close_window if they choose to discard.
                    api.prevent_close();
                    let _ = window.emit_to(window.label(), "close-requested", ());
                } else {
                    window_state::save(window.app_handle(), window);
                }
            }
        })
        .build(tauri::generate_context!())
        .expect("SMTP Desk could not start its window")
        .run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                // Messages in flight are recorded before the process goes; a later agent picks up the rest.
                if let Some(delivery) = app.try_state::<delivery::Delivery>() {
                    delivery.stop();
                }
            }
        });
}
