/** The window's only door to the Rust core: every command it invokes and every event it listens to, typed, with failures turned into ErrorReports. */

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { OAuthState } from "./generated/window/OAuthState";
import type { OAuthSignInUrlEvent } from "./generated/window/OAuthSignInUrlEvent";
import type {
  Auth,
  Dashboard,
  EventPage,
  EventQuery,
  Exported,
  JournalReport,
  LogPage,
  LogQuery,
  DeliveryService,
  FormValues,
  ErrorReport,
  ImportDone,
  MessageDetail,
  Overview,
  Page,
  PageQuery,
  LoadedSettings,
  PasswordAction,
  PasswordStatus,
  Report,
  SaveResult,
  Settings,
  UiState,
  SendTestFinishedEvent,
  DetectFinishedEvent,
  DkimKey,
  HealthReport,
  ValidationFinishedEvent,
  RunStarted,
  ValidationStepEvent,
} from "./model";

export type Unlisten = () => void;

/** Everything the screens may ask of the core. Screens receive one of these, so tests can hand them a fake. */
export interface Ipc {
  loadSettings(): Promise<LoadedSettings>;
  /** Whether profile `profile`'s own password (Global's when absent) is saved in the keyring. */
  passwordStatus(profile?: string): Promise<PasswordStatus>;
  /** OAuth2 (optional: fakes may leave them out): who is signed in on `profile`, sign in with the form's `auth`, sign out. */
  oauthStatus?(profile?: string): Promise<OAuthState>;
  oauthSignIn?(profile: string | undefined, auth: Auth): Promise<OAuthState>;
  oauthSignOut?(profile?: string): Promise<OAuthState>;
  /** The waiting sign-in: the address the browser ended on (when it can't reach 127.0.0.1 itself), or stop it (oauthSignIn then fails "Sign-in cancelled."). */
  oauthPaste?(url: string): Promise<void>;
  oauthCancel?(): Promise<void>;
  /** A sign-in started: the provider's page it waits on, for the user to open by hand. */
  onOAuthSignInUrl?(handler: (event: OAuthSignInUrlEvent) => void): Promise<Unlisten>;
  checkSettings(settings: Settings): Promise<Report>;
  /**
   * Saves the fields that differ between `base` (the settings this form loaded) and `settings`,
   * onto the file as it is now. A field changed in the file meanwhile is refused as a
   * `settings_conflict`, unless it is listed in `keepMine`.
   */
  saveSettings(
    settings: Settings,
    base: Settings,
    password: PasswordAction,
    keepMine?: string[],
    listenerPassword?: PasswordAction,
    /** The profile the form edits: the passwords go to its keyring entries (Global when absent). */
    profile?: string,
  ): Promise<SaveResult>;
  /** Whether the SMTP listener's password of `profile` is saved in the keyring. */
  listenerPasswordStatus(profile?: string): Promise<PasswordStatus>;
  /** Adds a named profile inheriting everything (or starting with `copyOf`'s overrides); the settings as written. */
  profileCreate(name: string, copyOf: string | null): Promise<LoadedSettings>;
  /** Renames a named profile (its keyring entries move with it). */
  profileRename(name: string, newName: string): Promise<LoadedSettings>;
  /** Deletes a named profile and its keyring entries. */
  profileDelete(name: string): Promise<LoadedSettings>;
  /** Makes `name` the profile used when none is named. */
  profileSetDefault(name: string): Promise<LoadedSettings>;
  /** Asks where (a native dialog) and writes the whole configuration there, no secrets; the path, or null when cancelled. */
  settingsExport(): Promise<string | null>;
  /** Asks for a configuration file (a native dialog) and imports it, all or nothing; null when cancelled. */
  settingsImport(): Promise<ImportDone | null>;
  /** Where the systemd user service that delivers without the window stands (rejects with `service_unavailable` without systemd). */
  deliveryServiceStatus(): Promise<DeliveryService>;
  /** Turns that service on or off; its state afterwards. */
  setDeliveryService(enabled: boolean): Promise<DeliveryService>;
  /** Keeps an unusable settings file as a backup and starts from defaults. */
  startFromDefaults(): Promise<LoadedSettings>;
  /** Tells Rust whether closing the window would lose edits. */
  setDirty(dirty: boolean): Promise<void>;
  /** Closes the window for good (after the user chose to discard changes). */
  closeWindow(): Promise<void>;
  getUiState(): Promise<UiState>;
  setUiState(state: UiState): Promise<void>;
  /** The form is filled and usable (the launch benchmark stops its clock here). */
  uiReady(): Promise<void>;
  /** Starts a validation of the saved settings, or of the form's values when `form` is given (nothing is saved). */
  validateStart(recipient: string | null, form?: FormValues): Promise<RunStarted>;
  /** Starts sending a test email (of the form's values when `form` is given); the result comes as a send-test-finished event. */
  sendTestStart(to: string, form?: FormValues): Promise<RunStarted>;
  /** Starts "Find settings" for an email address; the result comes as a detect-finished event (cancelRun stops it). */
  detectStart(address: string): Promise<RunStarted>;
  onDetectFinished(handler: (event: DetectFinishedEvent) => void): Promise<Unlisten>;
  /** Cancels a validation or a test email by its run id. */
  cancelRun(runId: number): Promise<void>;
  /** The settings file changed outside this window (e.g. the CLI). */
  onSettingsChanged(handler: () => void): Promise<Unlisten>;
  /** Rust held back a window close because there are unsaved changes. */
  onCloseRequested(handler: () => void): Promise<Unlisten>;
  onValidationStep(handler: (event: ValidationStepEvent) => void): Promise<Unlisten>;
  onValidationFinished(handler: (event: ValidationFinishedEvent) => void): Promise<Unlisten>;
  onSendTestFinished(handler: (event: SendTestFinishedEvent) => void): Promise<Unlisten>;
  /** A page of the queue, newest first. */
  queuePage(query: PageQuery): Promise<Page>;
  /** One message: headers, recipients, every attempt. */
  queueShow(id: number): Promise<MessageDetail>;
  /** Counts, messages waiting, and the sending mode. */
  queueOverview(): Promise<Overview>;
  /** Makes deferred mail due now (these messages, or all with null) and wakes delivery; how many messages were made due. */
  queueFlush(ids: number[] | null): Promise<number>;
  /** Holds these messages; how many changed. */
  queueHold(ids: number[]): Promise<number>;
  /** Releases these messages (and wakes delivery); how many changed. */
  queueRelease(ids: number[]): Promise<number>;
  /** Deletes these messages, or all with null; how many were deleted. */
  queueDelete(ids: number[] | null): Promise<number>;
  /** The outbox changed (delivery results, new mail, the CLI): the new overview, at most four times a second. */
  onQueueChanged(handler: (overview: Overview) => void): Promise<Unlisten>;
  /** Mail failed for good while the window delivers: one summary line ("2 messages failed: bob@x: 550 …"), at most every few seconds. */
  onQueueFailed(handler: (summary: string) => void): Promise<Unlisten>;
  /** A page of the mail log, newest first. */
  logPage(query: LogQuery): Promise<LogPage>;
  /** A page of the event log, newest first. */
  eventsPage(query: EventQuery): Promise<EventPage>;
  /** The report over [from, to) (ms since the epoch). */
  report(from: number, to: number): Promise<JournalReport>;
  /** The dashboard's data, read in one go. */
  dashboard(): Promise<Dashboard>;
  /** Asks where to save (a native dialog) and writes the mail log rows the query matches as CSV; null when the user cancelled. */
  exportLogCsv(query: LogQuery): Promise<Exported | null>;
  /** DKIM (optional: fakes may leave them out): `profile`'s key as saved (null: none yet; never the private key). */
  dkimKey?(profile?: string): Promise<DkimKey | null>;
  /** Makes a new key with the saved selector, domain and key type; an existing one only when `replace`. */
  dkimGenerate?(profile: string | undefined, replace: boolean): Promise<DkimKey>;
  /** The key with `published` from DNS: matches, missing, different or unknown. */
  dkimCheck?(profile?: string): Promise<DkimKey>;
  /** The deliverability check of `profile` (saved settings) for `domain` (the From domain when absent). */
  healthCheck?(profile?: string, domain?: string, ip?: string): Promise<HealthReport>;
}

/**
 * Any rejection as an ErrorReport: Rust sends one; Tauri itself sends plain strings (unknown
 * command, bad arguments), and anything else that is not the core's becomes kind `ipc`.
 */
export function toErrorReport(e: unknown): ErrorReport {
  if (typeof e === "object" && e !== null && typeof (e as ErrorReport).message === "string") {
    const r = e as ErrorReport;
    // Built field by field: an Error's message is not an own enumerable property.
    // The core only sends ErrorKind names (the type is generated from its enum).
    const report: ErrorReport = { kind: typeof r.kind === "string" ? r.kind : "ipc", message: r.message };
    if (typeof r.hint === "string") report.hint = r.hint;
    if (typeof r.field === "string") report.field = r.field;
    if (Array.isArray(r.issues)) report.issues = r.issues;
    return report;
  }
  return { kind: "ipc", message: typeof e === "string" ? e : String(e) };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toErrorReport(e);
  }
}

/**
 * At start-up IPC requests queue behind one another while WebKit draws the first frame; calls
 * the form does not need to be usable (event subscriptions, the keyring status) wait until the
 * form is ready, so the ready signal is not stuck behind them.
 */
let markFormReady: () => void = () => undefined;
const formReady = new Promise<void>((resolve) => (markFormReady = resolve));

async function on<T>(event: string, handler: (payload: T) => void): Promise<Unlisten> {
  await formReady;
  const unlisten: UnlistenFn = await listen<T>(event, (e) => handler(e.payload));
  return unlisten;
}

/**
 * What Rust put in the page before it loaded (the window's initialization script): the settings
 * and the UI state, so the form fills without waiting for IPC replies, which WebKit delivers
 * only once the window's first frame is drawn. Used once; later loads ask Rust again.
 */
interface StartupData {
  loaded: LoadedSettings | null;
  /** Why the settings could not be loaded at all (e.g. an unsafe directory). */
  load_error?: ErrorReport | null;
  ui_state: UiState;
}
let startup = (globalThis as { __SMTP_DESK_STARTUP__?: StartupData }).__SMTP_DESK_STARTUP__;
let startupUiState = startup?.ui_state;

/** The real thing, over Tauri IPC. Argument names are the Rust parameter names. */
export const tauriIpc: Ipc = {
  loadSettings: () => {
    const loaded = startup?.loaded;
    const error = startup?.load_error;
    startup = undefined;
    if (error) return Promise.reject(toErrorReport(error));
    return loaded ? Promise.resolve(loaded) : call("load_settings");
  },
  passwordStatus: (profile) => formReady.then(() => call("password_status", { profile: profile ?? null })),
  checkSettings: (settings) => call("check_settings", { settings }),
  saveSettings: (settings, base, password, keepMine = [], listenerPassword = { action: "keep" }, profile) =>
    call("save_settings", { settings, base, password, keep_mine: keepMine, listener_password: listenerPassword, profile: profile ?? null }),
  listenerPasswordStatus: (profile) => formReady.then(() => call("listener_password_status", { profile: profile ?? null })),
  oauthStatus: (profile) => call("oauth_status", { profile: profile ?? null }),
  oauthSignIn: (profile, auth) => call("oauth_sign_in", { profile: profile ?? null, auth }),
  oauthSignOut: (profile) => call("oauth_sign_out", { profile: profile ?? null }),
  oauthPaste: (url) => call("oauth_paste", { url }),
  oauthCancel: () => call("oauth_cancel"),
  onOAuthSignInUrl: (handler) => on("oauth-sign-in-url", handler),
  profileCreate: (name, copyOf) => call("profile_create", { name, copy_of: copyOf }),
  profileRename: (name, newName) => call("profile_rename", { name, new_name: newName }),
  profileDelete: (name) => call("profile_delete", { name }),
  profileSetDefault: (name) => call("profile_set_default", { name }),
  settingsExport: () => call("settings_export"),
  settingsImport: () => call("settings_import"),
  deliveryServiceStatus: () => formReady.then(() => call("delivery_service_status")),
  setDeliveryService: (enabled) => call("delivery_service_set", { enabled }),
  startFromDefaults: () => call("start_from_defaults"),
  setDirty: (dirty) => call("set_dirty", { dirty }),
  closeWindow: () => call("close_window"),
  getUiState: () => {
    const state = startupUiState;
    startupUiState = undefined;
    return state ? Promise.resolve(state) : call("get_ui_state");
  },
  setUiState: (state) => call("set_ui_state", { state }),
  uiReady: () => {
    const sent = call<void>("ui_ready");
    markFormReady();
    return sent;
  },
  validateStart: (recipient, form) => call("validate_start", { recipient, form: form ?? null }),
  sendTestStart: (to, form) => call("send_test_start", { to, form: form ?? null }),
  // Tauri 2 matches a Rust parameter `run_id` to the key `runId` unless the command says
  // `rename_all = "snake_case"`; both are sent so either spelling on the Rust side works.
  cancelRun: (runId) => call("run_cancel", { runId, run_id: runId }),
  onSettingsChanged: (handler) => on<unknown>("settings-changed", () => handler()),
  onCloseRequested: (handler) => on<unknown>("close-requested", () => handler()),
  onValidationStep: (handler) => on("validation-step", handler),
  onValidationFinished: (handler) => on("validation-finished", handler),
  onSendTestFinished: (handler) => on("send-test-finished", handler),
  detectStart: (address) => call("detect_start", { address }),
  onDetectFinished: (handler) => on("detect-finished", handler),
  queuePage: (query) => call("queue_page", { query }),
  queueShow: (id) => call("queue_show", { id }),
  queueOverview: () => call("queue_overview"),
  queueFlush: (ids) => call("queue_flush", { ids }),
  queueHold: (ids) => call("queue_hold", { ids }),
  queueRelease: (ids) => call("queue_release", { ids }),
  queueDelete: (ids) => call("queue_delete", { ids }),
  onQueueChanged: (handler) => on("queue-changed", handler),
  onQueueFailed: (handler) => on("queue-failed", handler),
  logPage: (query) => call("log_page", { query }),
  eventsPage: (query) => call("events_page", { query }),
  report: (from, to) => call("report", { from, to }),
  dashboard: () => call("dashboard"),
  exportLogCsv: (query) => call("export_log_csv", { query }),
  dkimKey: (profile) => call("dkim_key", { profile: profile ?? null }),
  dkimGenerate: (profile, replace) => call("dkim_generate", { profile: profile ?? null, replace }),
  dkimCheck: (profile) => call("dkim_check", { profile: profile ?? null }),
  healthCheck: (profile, domain, ip) => call("health_check", { profile: profile ?? null, domain: domain ?? null, ip: ip ?? null }),
};
