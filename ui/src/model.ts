/**
 * The data the window exchanges with the Rust core. Every type and default value here comes from
 * ui/src/generated/, which is generated from the Rust types (scripts/gen-bindings.sh; see
 * generated/README.md): nothing that crosses IPC is written by hand in TypeScript.
 */

import { DEFAULT_SETTINGS } from "./generated/defaults";
import type { ErrorKind } from "./generated/ErrorKind";
import type { Settings } from "./generated/Settings";
import type { UiState } from "./generated/window/UiState";

export { SCHEMA_VERSION, USUAL_PORT } from "./generated/defaults";
export { FIELDS, type Field, type FieldKey } from "./generated/fields";
import { FIELDS, type Field, type FieldKey } from "./generated/fields";

// The settings model (src/settings/model.rs) and its validation report (src/settings/validate.rs).
export type { Auth } from "./generated/Auth";
export type { AuthMethod } from "./generated/AuthMethod";
export type { Issue } from "./generated/Issue";
export type { Limits } from "./generated/Limits";
export type { Mechanism } from "./generated/Mechanism";
export type { Mode } from "./generated/Mode";
export type { Profile } from "./generated/Profile";
export type { ReadOnly } from "./generated/ReadOnly";
export type { Relay } from "./generated/Relay";
export type { Report } from "./generated/Report";
export type { Security } from "./generated/Security";
export type { Sender } from "./generated/Sender";
export type { Settings } from "./generated/Settings";

// Every failure the core reports (src/error.rs).
export type { ErrorKind } from "./generated/ErrorKind";
export type { ErrorReport } from "./generated/ErrorReport";

// Validation and the test email (src/smtp/).
export type { Category } from "./generated/Category";
export type { Direction } from "./generated/Direction";
export type { Failure } from "./generated/Failure";
export type { Outcome } from "./generated/Outcome";
export type { SendResult } from "./generated/SendResult";
export type { Step } from "./generated/Step";
export type { StepKind } from "./generated/StepKind";
export type { StepStatus } from "./generated/StepStatus";
export type { TranscriptLine } from "./generated/TranscriptLine";

// Direct delivery: DKIM keys and the deliverability check.
export type { Dkim } from "./generated/Dkim";
export type { DkimAlgorithm } from "./generated/DkimAlgorithm";
export type { DkimKey } from "./generated/DkimKey";
export type { DkimPublished } from "./generated/DkimPublished";
export type { HealthCheck } from "./generated/HealthCheck";
export type { HealthLine } from "./generated/HealthLine";
export type { HealthReport } from "./generated/HealthReport";
export type { HealthStatus } from "./generated/HealthStatus";

// The queue (src/outbox/queue.rs).
export type { Attempt } from "./generated/Attempt";
export type { Counts } from "./generated/Counts";
export type { MessageDetail } from "./generated/MessageDetail";
export type { MessageSummary } from "./generated/MessageSummary";
export type { Overview } from "./generated/Overview";
export type { Page } from "./generated/Page";
export type { PageQuery } from "./generated/PageQuery";
export type { RecipientStatus } from "./generated/RecipientStatus";
export type { State as QueueState } from "./generated/State";

// The journal (src/journal/): the mail log, the event log, reports and the dashboard.
export type { Cursor as LogCursor } from "./generated/Cursor";
export type { Dashboard } from "./generated/Dashboard";
export type { Event as JournalEvent } from "./generated/Event";
export type { EventCategory } from "./generated/EventCategory";
export type { EventPage } from "./generated/EventPage";
export type { EventQuery } from "./generated/EventQuery";
export type { Hour } from "./generated/Hour";
export type { JournalReport } from "./generated/JournalReport";
export type { LogEntry } from "./generated/LogEntry";
export type { LogPage } from "./generated/LogPage";
export type { LogQuery } from "./generated/LogQuery";
export type { LogResult } from "./generated/LogResult";
export type { Problem } from "./generated/Problem";
export type { Reason } from "./generated/Reason";
export type { ServerStats } from "./generated/ServerStats";
export type { Severity } from "./generated/Severity";
export type { Top } from "./generated/Top";
export type { Totals } from "./generated/Totals";

// The window's own commands and events (src-tauri/src/).
export type { Exported } from "./generated/window/Exported";
export type { DeliveryService } from "./generated/window/DeliveryService";
export type { FinishedEvent } from "./generated/window/FinishedEvent";
export type { FormValues } from "./generated/window/FormValues";
export type { LoadedSettings } from "./generated/window/LoadedSettings";
export type { PasswordAction } from "./generated/window/PasswordAction";
export type { PasswordStatus } from "./generated/window/PasswordStatus";
export type { Saved } from "./generated/window/Saved";
export type { SendFinishedEvent } from "./generated/window/SendFinishedEvent";
export type { Screen } from "./generated/window/Screen";
export type { Started } from "./generated/window/Started";
export type { StepEvent } from "./generated/window/StepEvent";
export type { Theme } from "./generated/window/Theme";
export type { UiState } from "./generated/window/UiState";

// The names the screens used before the types were generated; aliases, so they can't drift.
export type { StepKind as StepName } from "./generated/StepKind";
export type { Saved as SaveResult } from "./generated/window/Saved";
export type { ImportDone } from "./generated/window/ImportDone";
export type { Started as ValidationStarted, Started as RunStarted } from "./generated/window/Started";
export type { SendFinishedEvent as SendTestFinishedEvent } from "./generated/window/SendFinishedEvent";
export type { DetectFinishedEvent } from "./generated/window/DetectFinishedEvent";
export type { Detection } from "./generated/Detection";
export type { DetectCandidate } from "./generated/DetectCandidate";
export type { StepEvent as ValidationStepEvent } from "./generated/window/StepEvent";
export type { FinishedEvent as ValidationFinishedEvent } from "./generated/window/FinishedEvent";

/** The kinds that mean the OS keyring failed (the password, not the settings, is the problem). */
const KEYRING_KINDS: readonly ErrorKind[] = ["keyring_unavailable", "keyring_locked", "keyring_failed"];

export function isKeyringProblem(kind: ErrorKind): boolean {
  return KEYRING_KINDS.includes(kind);
}

/** The settings as the Rust `Settings::default()` makes them: a fresh copy each call. */
export function defaultSettings(): Settings {
  return structuredClone(DEFAULT_SETTINGS) as Settings;
}

/** Every settings field by its dotted key, as used in errors, `smtp-desk config set`, and the form's `name`s. */
/** Every settings key, in the form's order (from the core's field registry). */
export const FIELD_KEYS: readonly FieldKey[] = FIELDS.map((f) => f.name);

/** The field with this key, as the core's registry describes it. */
export function fieldInfo(key: string): Field | undefined {
  return FIELDS.find((f) => f.name === key);
}

/** The element id of a field's control: the key with dots as hyphens (`relay.host` → `relay-host`). */
export function fieldId(key: string): string {
  return key.replace(/\./g, "-");
}

export const DEFAULT_UI_STATE: UiState = { theme: "system", last_screen: "settings" };
