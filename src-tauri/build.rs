//! Declares the app's own commands so Tauri generates a permission for each, granted in capabilities/.

const COMMANDS: &[&str] = &[
    "load_settings",
    "check_settings",
    "save_settings",
    "start_from_defaults",
    "password_status",
    "listener_password_status",
    "oauth_status",
    "oauth_sign_in",
    "oauth_sign_out",
    "oauth_paste",
    "oauth_cancel",
    "profile_create",
    "profile_rename",
    "profile_delete",
    "profile_set_default",
    "settings_export",
    "settings_import",
    "delivery_service_status",
    "delivery_service_set",
    "set_dirty",
    "close_window",
    "get_ui_state",
    "set_ui_state",
    "ui_ready",
    "validate_start",
    "send_test_start",
    "run_cancel",
    "detect_start",
    "queue_page",
    "queue_show",
    "queue_overview",
    "queue_flush",
    "queue_hold",
    "queue_release",
    "queue_delete",
    "log_page",
    "events_page",
    "report",
    "dashboard",
    "export_log_csv",
];

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)))
        .expect("failed to run tauri-build");
}
