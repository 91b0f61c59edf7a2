//! Diagnose commands: validation runs and test emails, each a run with an id whose result reaches
//! the page as events and which `run_cancel` stops. Both use the saved settings and the password
//! from the keyring, or the values on the settings form (`form`), which are never written.
//! Either way the profile runs as it would send: resolved, under the admin policy (a broken or
//! violated policy refuses with its message), with that profile's password.

use super::blocking;
use crate::commands::settings::PasswordAction;
use crate::delivery::Delivery;
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use smtp_desk::account;
use smtp_desk::journal::events::{self, Actor, Probe};
use smtp_desk::secrets::Password;
use smtp_desk::settings::{self, profiles, AuthMethod, Profile, Settings};
use smtp_desk::smtp::{self, Job, Outcome, Step};
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
    Result(Outcome),
    Error(ErrorReport),
}

#[derive(Serialize, TS)]
#[ts(export_to = "window/")]
pub struct Started {
    run_id: u64,
}

impl Started {
    pub(crate) fn new(run_id: u64) -> Self {
        Self { run_id }
    }
}

/// The settings form's current values, to validate or test-send before they are saved.
#[derive(Deserialize, TS)]
#[ts(export_to = "window/")]
pub struct FormValues {
    settings: Settings,
    password: PasswordAction,
    /// The profile the form edits (Global when absent): the one tried, with its password.
    #[serde(default)]
    #[ts(optional)]
    profile: Option<String>,
}

/// Profile `name` of `settings` (the default when `None`) as it would send, under the admin policy.
fn effective(settings: &Settings, name: Option<&str>) -> Result<Profile, ErrorReport> {
    smtp_desk::policy::load().effective(settings, name).map_err(|e| ErrorReport::from(&e))
}

/// A job for `profile` (profile `name` of `settings`) with its saved password. Global's password
/// is read while DNS, connect and TLS run; a named profile's (its own entry, or Global's while it
/// logs in as Global does) before.
fn with_saved_password(settings: &Settings, name: Option<&str>, profile: Profile) -> Result<Job, ErrorReport> {
    if profile.auth.method == AuthMethod::OAuth2 {
        // Each profile signs in on its own: no falling back to Global's sign-in.
        return Job::with_oauth_token(profile, &smtp_desk::oauth::entry_for(settings, name)?);
    }
    let entries = profiles::password_entries(settings, name).map_err(|e| ErrorReport::from(&e))?;
    if let [only] = entries.as_slice() {
        return Job::with_saved_password(profile, only);
    }
    if profile.auth.method != AuthMethod::Password {
        return Ok(Job::from_values(profile, None));
    }
    let password = account::password_for(settings, name)?;
    Ok(Job::from_values(profile, password))
}

/// The saved default profile and its password; the settings file is read off the async workers.
async fn saved_job(recipient: Option<String>) -> Result<Job, ErrorReport> {
    blocking(move || {
        let loaded = settings::load().map_err(|e| ErrorReport::from(&e))?.settings;
        let profile = effective(&loaded, None)?;
        smtp::check_validate(&profile, recipient.as_deref())?;
        with_saved_password(&loaded, None, profile)
    })
    .await
}

/// The job to run: the form's values when given (checked first: problems are `invalid_settings`
/// naming each field, as a save would report them) with the typed password, the saved one
/// (Keep) or none (Clear); else the saved settings.
async fn job_to_try(form: Option<FormValues>, recipient: Option<String>) -> Result<Job, ErrorReport> {
    let Some(FormValues { settings: values, password, profile: name }) = form else {
        return saved_job(recipient).await;
    };
    blocking(move || {
        let name = Some(name.unwrap_or_else(|| profiles::GLOBAL.to_string()));
        let report = settings::check(&crate::commands::settings::as_global(&values, name.as_deref())?);
        if !report.is_ok() {
            return Err(ErrorReport::from(&settings::Error::Invalid(report.errors)));
        }
        let profile = effective(&values, name.as_deref())?;
        smtp::check_validate(&profile, recipient.as_deref())?;
        Ok(match password {
            PasswordAction::Keep => with_saved_password(&values, name.as_deref(), profile)?,
            PasswordAction::Clear => Job::from_values(profile, None),
            PasswordAction::Set { value } => Job::from_values(profile, Some(Password::new(value).map_err(|e| ErrorReport::from(&e))?)),
        })
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
    let job = job_to_try(form, recipient.clone()).await?;
    let (run_id, cancel) = state.start_run();
    tauri::async_runtime::spawn(async move {
        let emitter = app.clone();
        let mut on_step = move |step: &Step| {
            let _ = emitter.emit("validation-step", StepEvent { run_id, step });
        };
        let outcome = smtp::validate(&job, recipient.as_deref(), &cancel, &mut on_step).await;
        app.state::<AppState>().end_run(run_id);
        recorded(&app, events::probe_finished(Probe::Validation, &outcome, recipient.as_deref(), Actor::Window));
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
    let job = job_to_try(form, Some(to.clone())).await?;
    let (run_id, cancel) = state.start_run();
    tauri::async_runtime::spawn(async move {
        let end = match smtp::send_test(&job, &to, &cancel, &mut |_| {}).await {
            Ok(result) => SendEnd::Result(result),
            Err(error) => SendEnd::Error(error),
        };
        app.state::<AppState>().end_run(run_id);
        recorded(
            &app,
            match &end {
                SendEnd::Result(r) => events::probe_finished(Probe::TestEmail, r, Some(&to), Actor::Window),
                SendEnd::Error(e) => events::probe_refused(Probe::TestEmail, e, Actor::Window),
            },
        );
        let _ = app.emit("send-test-finished", SendFinishedEvent { run_id, end });
    });
    Ok(Started { run_id })
}

/// Cancels a validation or a test email; a run that has already ended is left alone.
#[tauri::command]
pub fn run_cancel(run_id: u64, state: State<'_, AppState>) {
    state.cancel_run(run_id);
}

/// Records a run's outcome in the event log off the async workers; the page's event does not wait.
fn recorded(app: &AppHandle, e: events::NewEvent) {
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || app.state::<Delivery>().record(&e));
}
