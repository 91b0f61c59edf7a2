/** The data the window exchanges with the Rust core: settings, reports and diagnose results, shaped exactly as serde serialises them (see src/settings/model.rs). */

export const SCHEMA_VERSION = 1;

export type Mode = "off" | "relay" | "direct";
export type Security = "start_tls" | "implicit_tls" | "none";
export type AuthMethod = "none" | "password";
export type Mechanism = "auto" | "plain" | "login";

export interface Relay {
  host: string;
  port: number;
  security: Security;
  verify_certificates: boolean;
  /** A PEM file of extra CA certificates to trust; null when not set. */
  ca_file: string | null;
}

export interface Auth {
  method: AuthMethod;
  username: string;
  mechanism: Mechanism;
}

export interface Sender {
  from_name: string;
  from_address: string;
  reply_to: string | null;
}

export interface Limits {
  timeout_secs: number;
  connection_limit: number;
  max_idle_secs: number;
  batch_size: number;
}

export interface Profile {
  mode: Mode;
  relay: Relay;
  /** The name given in EHLO; "" means this machine's name. */
  ehlo_name: string;
  auth: Auth;
  sender: Sender;
  limits: Limits;
}

export interface Settings {
  schema: number;
  profile: Profile;
}

/** The settings as the Rust `Settings::default()` makes them. */
export function defaultSettings(): Settings {
  return {
    schema: SCHEMA_VERSION,
    profile: {
      mode: "off",
      relay: { host: "", port: 587, security: "start_tls", verify_certificates: true, ca_file: null },
      ehlo_name: "",
      auth: { method: "none", username: "", mechanism: "auto" },
      sender: { from_name: "", from_address: "", reply_to: null },
      limits: { timeout_secs: 30, connection_limit: 4, max_idle_secs: 60, batch_size: 100 },
    },
  };
}

/** The port each security mode is normally used on (`Security::usual_port`). */
export const USUAL_PORT: Record<Security, number> = { start_tls: 587, implicit_tls: 465, none: 25 };

/** A numeric limit: its accepted range and the unit named in messages (`model::ranges`). */
export interface LimitRange {
  min: number;
  max: number;
  unit: string;
}

export const LIMIT_RANGES: Record<keyof Limits, LimitRange> = {
  timeout_secs: { min: 1, max: 600, unit: "seconds" },
  connection_limit: { min: 1, max: 100, unit: "connections" },
  max_idle_secs: { min: 0, max: 3600, unit: "seconds" },
  batch_size: { min: 1, max: 10_000, unit: "messages" },
};

export const PORT_RANGE = { min: 1, max: 65_535 } as const;

/** Every settings field by its dotted key, as used in errors, `smtp-desk config set`, and the form's `name`s. */
export const FIELD_KEYS = [
  "mode",
  "relay.host",
  "relay.port",
  "relay.security",
  "relay.verify_certificates",
  "relay.ca_file",
  "ehlo_name",
  "auth.method",
  "auth.username",
  "auth.mechanism",
  "sender.from_name",
  "sender.from_address",
  "sender.reply_to",
  "limits.timeout_secs",
  "limits.connection_limit",
  "limits.max_idle_secs",
  "limits.batch_size",
] as const;

export type FieldKey = (typeof FIELD_KEYS)[number];

/** The element id of a field's control: the key with dots as hyphens (`relay.host` → `relay-host`). */
export function fieldId(key: string): string {
  return key.replace(/\./g, "-");
}

/** One problem with one field; `message` says what is wrong and what to do. */
export interface Issue {
  field: string;
  message: string;
}

/** Errors block saving; warnings are shown and never block. */
export interface Report {
  errors: Issue[];
  warnings: Issue[];
}

/** Every failure the Rust side reports: what happened, what to do, and which field it is about. */
export interface ErrorReport {
  kind: string;
  message: string;
  hint?: string;
  field?: string;
  issues?: Issue[];
}

export interface LoadedSettings {
  settings: Settings;
  /** Set when the settings file was unusable and was moved aside. */
  notice: string | null;
  machine_name: string;
  file: string;
}

export interface PasswordStatus {
  saved: boolean;
}

/** What saving does with the password in the keyring. */
export type PasswordAction = { action: "keep" } | { action: "set"; value: string } | { action: "clear" };

export interface SaveResult {
  password_saved: boolean;
  report: Report;
}

export type Theme = "system" | "light" | "dark";
export type Screen = "settings" | "diagnose";

/** The window's own state, kept by the Rust side between runs. */
export interface UiState {
  theme: Theme;
  last_screen: Screen;
}

export const DEFAULT_UI_STATE: UiState = { theme: "system", last_screen: "settings" };

// ---- Diagnose ----

export type StepName = "resolve" | "connect" | "banner" | "ehlo" | "tls" | "auth" | "envelope";
export type StepStatus = "ok" | "warning" | "failed" | "skipped";

export interface Failure {
  category: string;
  message: string;
  hint: string;
}

export interface Step {
  step: StepName;
  title: string;
  status: StepStatus;
  duration_ms: number;
  summary: string;
  /** Label and value pairs, e.g. ["Certificate issuer", "…"]. */
  details: [string, string][];
  failure?: Failure | null;
}

export interface TranscriptLine {
  dir: "client" | "server" | "info";
  /** Whether the line travelled inside TLS. */
  tls: boolean;
  text: string;
}

export interface Outcome {
  ok: boolean;
  cancelled: boolean;
  steps: Step[];
  failure?: Failure | null;
  warnings: string[];
  transcript: TranscriptLine[];
  elapsed_ms: number;
}

/** A validation or test email under way; its events and its cancel name this id. */
export interface RunStarted {
  run_id: number;
}

export interface ValidationStepEvent {
  run_id: number;
  step: Step;
}

export interface ValidationFinishedEvent {
  run_id: number;
  outcome: Outcome;
}

/** The end of a test email: what the server said, or why it could not be sent at all. */
export type SendTestFinishedEvent = { run_id: number } & ({ result: SendResult } | { error: ErrorReport });

export interface SendResult {
  ok: boolean;
  reply: string;
  queue_id: string | null;
  message_id: string;
  elapsed_ms: number;
  transcript: TranscriptLine[];
  failure?: Failure | null;
}
