//! Diagnose commands: validation runs and test emails, each a run with an id whose result reaches
//! the page as events and which `run_cancel` stops. Both use the saved settings and the password
//! from the keyring, or the values on the settings form (`form`), which are never written.

use super::blocking;
use crate::commands::settings::PasswordAction;
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use smtp_desk::secrets::{self, Password, DEFAULT_PROFILE};
use smtp_desk::settings::{self, AuthMethod, Profile, Settings};
use smtp_desk::smtp::{self, Outcome, SendResult, Step};
use smtp_desk::ErrorReport;
use tauri::{AppHandle, Emitter, Manager, State};
use ts_rs::TS;

/// The payload of the `validation-step` event.
#[derive(Serialize, Clone, TS)]
#[ts(export_to = "window/")]
pub(crate) struct StepEvent<'a> {
    run_id: u64,
    step: &'a Step,
}

/// The payload of the `validation-finished` event.
#[derive(Serialize, Clone, TS)]
#[ts(export_to = "window/")]
pub(crate) struct FinishedEvent {
    run_id: u64,
    outcome: Outcome,
}

/// The payload of the `send-test-finished` event: the result, or the error that kept the test
/// email from being sent at all.
#[derive(Serialize, Clone, TS)]
#[ts(export_to = "window/")]
pub(crate) struct SendFinishedEvent {
    run_id: u64,
    #[serde(flatten)]
    end: SendEnd,
}

#[derive(Serialize, Clone, TS)]
#[ts(export_to = "window/")]
#[serde(rename_all = "snake_case")]
pub(crate) enum SendEnd {
    Result(SendResult),
    Error(ErrorReport),
}

#[derive(Serialize, TS)]
#[ts(export_to = "window/")]
pub struct Started {
    run_id: u64,
}

/// The settings form's current values, to validate or test-send before they are saved.
#[derive(Deserialize, TS)]
#[ts(export_to = "window/")]
pub struct FormValues {
    settings: Settings,
    password: PasswordAction,
}

/// The profile to try and its password: the form's values when given (checked first: problems are
/// `invalid_settings` naming each field, as a save would report them), else the saved ones.
async fn profile_to_try(form: Option<FormValues>, recipient: Option<String>) -> Result<(Profile, Option<Password>), ErrorReport> {
    let Some(FormValues { settings: values, password }) = form else {
        return saved_profile(recipient).await;
    };
    blocking(move || {
        let report = settings::check(&values);
        if !report.is_ok() {
            return Err(ErrorReport::from(&settings::Error::Invalid(report.errors)));
        }
        let profile = values.profile;
        smtp::check_ready(&profile, recipient.as_deref())?;
        let password = match (profile.auth.method, password) {
            (AuthMethod::None, _) | (AuthMethod::Password, PasswordAction::Clear) => None,
            (AuthMethod::Password, PasswordAction::Set { value }) => Some(Password::new(value).map_err(|e| ErrorReport::from(&e))?),
            (AuthMethod::Password, PasswordAction::Keep) => secrets::get(DEFAULT_PROFILE).map_err(|e| ErrorReport::from(&e))?,
        };
        Ok((profile, password))
    })
    .await
}

/// The saved profile and, if it logs in with a password, that password — read off the async
/// workers because keyring calls block.
async fn saved_profile(recipient: Option<String>) -> Result<(Profile, Option<Password>), ErrorReport> {
    blocking(move || {
        let profile = settings::load().map_err(|e| ErrorReport::from(&e))?.settings.profile;
        smtp::check_ready(&profile, recipient.as_deref())?;
        let password = match profile.auth.method {
            AuthMethod::Password => secrets::get(DEFAULT_PROFILE).map_err(|e| ErrorReport::from(&e))?,
            AuthMethod::None => None,
        };
        Ok((profile, password))
    })
    .await
}

#[tauri::command]
pub async fn validate_start(
    app: AppHandle,
    recipient: Option<String>,
    form: Option<FormValues>,
    state: State<'_, AppState>,
) -> Result<Started, ErrorReport> {
    let recipient = recipient.filter(|r| !r.trim().is_empty());
    let (profile, password) = profile_to_try(form, recipient.clone()).await?;
    let (run_id, cancel) = state.start_run();
    tauri::async_runtime::spawn(async move {
        let emitter = app.clone();
        let mut on_step = move |step: &Step| {
            let _ = emitter.emit("validation-step", StepEvent { run_id, step });
        };
        let outcome = smtp::validate(&profile, password.as_ref(), recipient.as_deref(), &cancel, &mut on_step).await;
        app.state::<AppState>().end_run(run_id);
        let _ = app.emit("validation-finished", FinishedEvent { run_id, outcome });
    });
    Ok(Started { run_id })
}

/// Starts a test email; its result comes as a `send-test-finished` event, so that it can be
/// cancelled while it waits on the server.
#[tauri::command]
pub async fn send_test_start(
    app: AppHandle,
    to: String,
    form: Option<FormValues>,
    state: State<'_, AppState>,
) -> Result<Started, ErrorReport> {
    let to = to.trim().to_string();
    let (profile, password) = profile_to_try(form, Some(to.clone())).await?;
    let (run_id, cancel) = state.start_run();
    tauri::async_runtime::spawn(async move {
        let end = match smtp::send_test(&profile, password.as_ref(), &to, &cancel).await {
            Ok(result) => SendEnd::Result(result),
            Err(error) => SendEnd::Error(error),
        };
        app.state::<AppState>().end_run(run_id);
        let _ = app.emit("send-test-finished", SendFinishedEvent { run_id, end });
    });
    Ok(Started { run_id })
}

/// Cancels a validation or a test email; a run that has already ended is left alone.
#[tauri::command]
pub fn run_cancel(run_id: u64, state: State<'_, AppState>) {
    state.cancel_run(run_id);
}
