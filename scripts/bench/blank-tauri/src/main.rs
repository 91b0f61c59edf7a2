//! A blank Tauri 2 window: its page calls `ready` once the DOM is loaded, which prints
//! `BLANK_READY <ms> ms` (time since main started), the counterpart of SMTP Desk's `ui_ready`.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::time::Instant;

struct Started(Instant);

#[tauri::command]
fn ready(started: tauri::State<'_, Started>) {
    println!("BLANK_READY {:.1} ms", started.0.elapsed().as_secs_f64() * 1000.0);
}

fn main() {
    let started = Instant::now();
    tauri::Builder::default()
        .manage(Started(started))
        .invoke_handler(tauri::generate_handler![ready])
        .run(tauri::generate_context!())
        .expect("the blank app could not start");
}
