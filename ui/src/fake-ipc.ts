/** A scripted stand-in for the Rust core, for the unit tests: records every command and lets a test emit events. */

import type { OAuthSignInUrlEvent } from "./generated/window/OAuthSignInUrlEvent";
import type { Ipc, Unlisten } from "./ipc";
import {
  defaultSettings,
  type Dashboard,
  type EventPage,
  type EventQuery,
  type Exported,
  type JournalEvent,
  type JournalReport,
  type LogEntry,
  type LogPage,
  type LogQuery,
  type DeliveryService,
  type ErrorReport,
  type FormValues,
  type ImportDone,
  type LoadedSettings,
  type MessageDetail,
  type MessageSummary,
  type Overview,
  type Page,
  type PageQuery,
  type PasswordAction,
  type PasswordStatus,
  type Report,
  type SaveResult,
  type RunStarted,
  type SendResult,
  type SendTestFinishedEvent,
  type DetectFinishedEvent,
  type Detection,
  type Settings,
  type UiState,
  type ValidationFinishedEvent,
  type ValidationStepEvent,
} from "./model";

export interface Call {
  command: string;
  args?: unknown;
}

type Handler = (payload: never) => void;

export class FakeIpc implements Ipc {
  /** OAuth2: left out unless a test sets them (the screen then skips the sign-in row's calls). */
  oauthStatus?: Ipc["oauthStatus"];
  oauthSignIn?: Ipc["oauthSignIn"];
  oauthSignOut?: Ipc["oauthSignOut"];
  oauthPaste?: Ipc["oauthPaste"];
  oauthCancel?: Ipc["oauthCancel"];
  /** DKIM and the deliverability check: left out unless a test sets them. */
  dkimKey?: Ipc["dkimKey"];
  dkimGenerate?: Ipc["dkimGenerate"];
  dkimCheck?: Ipc["dkimCheck"];
  healthCheck?: Ipc["healthCheck"];
  readonly calls: Call[] = [];
  loaded: LoadedSettings = {
    settings: defaultSettings(),
    notice: null,
    read_only: null,
    machine_name: "desk.example.org",
    file: "/home/me/.config/smtp-desk/settings.json",
    report: { errors: [], warnings: [] },
    profile_names: ["global"],
    default_profile: "global",
    locks: [],
    policy_file: "/etc/smtp-desk/policy.json",
    policy_problem: null,
  };
  /** Set to make the next profile command fail with it. */
  profileProblem: ErrorReport | null = null;
  passwordReply: () => Promise<PasswordStatus> = async () => ({ saved: false });
  checkReply: (settings: Settings) => Promise<Report> = async () => ({ errors: [], warnings: [] });
  listenerPasswordReply: () => Promise<PasswordStatus> = async () => ({ saved: false });
  saveReply: (
    settings: Settings,
    password: PasswordAction,
    base: Settings,
    keepMine: string[],
    listenerPassword: PasswordAction,
  ) => Promise<SaveResult> = async (s, p, _b, _k, l) => ({
    password_saved: p.action === "keep" ? null : p.action === "set",
    listener_password_saved: l.action === "keep" ? null : l.action === "set",
    report: { errors: [], warnings: [] },
    settings: structuredClone(s),
  });
  /** What "Start from defaults" gives. */
  defaultsReply: () => Promise<LoadedSettings> = async () => ({
    ...this.loaded,
    settings: defaultSettings(),
    notice: "Started from defaults. The old settings file was kept as /home/me/.config/smtp-desk/settings.json.broken-1.",
    read_only: null,
  });
  uiState: UiState = { theme: "system", last_screen: "settings" };
  validateReply: () => Promise<RunStarted> = async () => ({ run_id: 1 });
  /** What "Find settings" finds for an address (arrives as the detect-finished event after detect_start answers). */
  detectReply: (address: string) => Promise<Detection> = async (address) => ({
    address,
    domain: address.split("@")[1] ?? "",
    best: null,
    candidates: [],
    sources: [],
    elapsed_ms: 1,
    deadline_ms: 4000,
    cancelled: false,
  });
  /** The answer to send_test_start; once it is given, sendReply's outcome arrives as the send-test-finished event. */
  sendStartReply: () => Promise<RunStarted> = async () => ({ run_id: 2 });
  sendReply: (to: string) => Promise<SendResult> = async () => ({
    ok: true,
    reply: "250 2.0.0 Ok: queued as 4F2A1",
    queue_id: "4F2A1",
    message_id: "<test.1@desk.example.org>",
    elapsed_ms: 420,
    transcript: [],
    failure: null,
    steps: [],
    warnings: [],
  });
  /** The queue the queue commands work on, any order. */
  queue: MessageSummary[] = [];
  mode: Overview["mode"] = "relay";
  private readonly handlers = new Map<string, Handler[]>();

  private record(command: string, args?: unknown): void {
    this.calls.push(args === undefined ? { command } : { command, args });
  }

  /** The calls of one command, in order. */
  callsOf(command: string): Call[] {
    return this.calls.filter((c) => c.command === command);
  }

  /** Delivers an event to every listener, as Rust's emit would. */
  emit(event: string, payload?: unknown): void {
    for (const h of this.handlers.get(event) ?? []) h(payload as never);
  }

  private subscribe(event: string, handler: Handler): Promise<Unlisten> {
    const list = this.handlers.get(event) ?? [];
    list.push(handler);
    this.handlers.set(event, list);
    return Promise.resolve(() => {
      const current = this.handlers.get(event) ?? [];
      this.handlers.set(
        event,
        current.filter((h) => h !== handler),
      );
    });
  }

  async loadSettings(): Promise<LoadedSettings> {
    this.record("load_settings");
    return structuredClone(this.loaded);
  }
  passwordStatus(profile?: string): Promise<PasswordStatus> {
    this.record("password_status", profile === undefined ? undefined : { profile });
    return this.passwordReply();
  }
  checkSettings(settings: Settings): Promise<Report> {
    this.record("check_settings", { settings });
    return this.checkReply(settings);
  }
  saveSettings(
    settings: Settings,
    base: Settings,
    password: PasswordAction,
    keepMine: string[] = [],
    listenerPassword: PasswordAction = { action: "keep" },
    profile?: string,
  ): Promise<SaveResult> {
    this.record("save_settings", { settings, base, password, keep_mine: keepMine, listener_password: listenerPassword, profile });
    return this.saveReply(settings, password, base, keepMine, listenerPassword);
  }
  listenerPasswordStatus(profile?: string): Promise<PasswordStatus> {
    this.record("listener_password_status", profile === undefined ? undefined : { profile });
    return this.listenerPasswordReply();
  }
  /** The profile commands change `loaded` as the core changes the file, and answer with it. */
  private async profileChange(command: string, args: Record<string, unknown>, change: (s: Settings) => void): Promise<LoadedSettings> {
    this.record(command, args);
    if (this.profileProblem) throw this.profileProblem;
    const settings = structuredClone(this.loaded.settings);
    change(settings);
    const names = ["global", ...Object.keys(settings.profiles).sort()];
    this.loaded = { ...this.loaded, settings, profile_names: names, default_profile: settings.default_profile ?? "global" };
    return structuredClone(this.loaded);
  }
  profileCreate(name: string, copyOf: string | null): Promise<LoadedSettings> {
    return this.profileChange("profile_create", { name, copy_of: copyOf }, (s) => {
      s.profiles = { ...s.profiles, [name]: copyOf && copyOf !== "global" ? { ...s.profiles[copyOf] } : {} };
    });
  }
  profileRename(name: string, newName: string): Promise<LoadedSettings> {
    return this.profileChange("profile_rename", { name, new_name: newName }, (s) => {
      const own = s.profiles[name];
      delete s.profiles[name];
      s.profiles[newName] = own ?? {};
      if (s.default_profile === name) s.default_profile = newName;
    });
  }
  profileDelete(name: string): Promise<LoadedSettings> {
    return this.profileChange("profile_delete", { name }, (s) => {
      delete s.profiles[name];
      if (s.default_profile === name) s.default_profile = null;
    });
  }
  /** What Export… answers: the path written, or null (cancelled). */
  exportReply: () => Promise<string | null> = async () => "/home/me/smtp-desk-settings.json";
  /** What Import… answers: the settings file after the import (changed), an error, or null (cancelled). */
  importReply: () => Promise<ImportDone | null> = async () => null;
  settingsExport(): Promise<string | null> {
    this.record("settings_export");
    return this.exportReply();
  }
  settingsImport(): Promise<ImportDone | null> {
    this.record("settings_import");
    return this.importReply();
  }
  profileSetDefault(name: string): Promise<LoadedSettings> {
    return this.profileChange("profile_set_default", { name }, (s) => {
      s.default_profile = name === "global" ? null : name;
    });
  }
  /** The systemd user service as the fake has it; `serviceProblem` makes both service commands fail with it. */
  service: DeliveryService = { enabled: false, active: false };
  serviceProblem: ErrorReport | null = null;
  async deliveryServiceStatus(): Promise<DeliveryService> {
    this.record("delivery_service_status");
    if (this.serviceProblem) throw this.serviceProblem;
    return { ...this.service };
  }
  async setDeliveryService(enabled: boolean): Promise<DeliveryService> {
    this.record("delivery_service_set", { enabled });
    if (this.serviceProblem) throw this.serviceProblem;
    this.service = { enabled, active: enabled };
    return { ...this.service };
  }
  startFromDefaults(): Promise<LoadedSettings> {
    this.record("start_from_defaults");
    return this.defaultsReply();
  }
  async setDirty(dirty: boolean): Promise<void> {
    this.record("set_dirty", { dirty });
  }
  async closeWindow(): Promise<void> {
    this.record("close_window");
  }
  async getUiState(): Promise<UiState> {
    this.record("get_ui_state");
    return { ...this.uiState };
  }
  async setUiState(state: UiState): Promise<void> {
    this.record("set_ui_state", { state });
    this.uiState = { ...state };
  }
  async uiReady(): Promise<void> {
    this.record("ui_ready");
  }
  validateStart(recipient: string | null, form?: FormValues): Promise<RunStarted> {
    this.record("validate_start", form ? { recipient, form } : { recipient });
    return this.validateReply();
  }
  sendTestStart(to: string, form?: FormValues): Promise<RunStarted> {
    this.record("send_test_start", form ? { to, form } : { to });
    const started = this.sendStartReply();
    // As in Rust, the result may be emitted before the page has read the run id.
    started
      .then(({ run_id }) =>
        this.sendReply(to).then(
          (result) => this.emit("send-test-finished", { run_id, result }),
          (error: unknown) => this.emit("send-test-finished", { run_id, error }),
        ),
      )
      .catch(() => undefined);
    return started;
  }
  detectStart(address: string): Promise<RunStarted> {
    this.record("detect_start", { address });
    const started = Promise.resolve({ run_id: 7 });
    started
      .then(({ run_id }) =>
        this.detectReply(address).then(
          (result) => this.emit("detect-finished", { run_id, result }),
          (error: unknown) => this.emit("detect-finished", { run_id, error }),
        ),
      )
      .catch(() => undefined);
    return started;
  }
  onOAuthSignInUrl(handler: (event: OAuthSignInUrlEvent) => void): Promise<Unlisten> {
    return this.subscribe("oauth-sign-in-url", handler as Handler);
  }
  onDetectFinished(handler: (event: DetectFinishedEvent) => void): Promise<Unlisten> {
    return this.subscribe("detect-finished", handler as Handler);
  }
  async cancelRun(runId: number): Promise<void> {
    this.record("run_cancel", { run_id: runId });
  }
  onSettingsChanged(handler: () => void): Promise<Unlisten> {
    return this.subscribe("settings-changed", handler);
  }
  onCloseRequested(handler: () => void): Promise<Unlisten> {
    return this.subscribe("close-requested", handler);
  }
  onValidationStep(handler: (event: ValidationStepEvent) => void): Promise<Unlisten> {
    return this.subscribe("validation-step", handler as Handler);
  }
  onValidationFinished(handler: (event: ValidationFinishedEvent) => void): Promise<Unlisten> {
    return this.subscribe("validation-finished", handler as Handler);
  }
  onSendTestFinished(handler: (event: SendTestFinishedEvent) => void): Promise<Unlisten> {
    return this.subscribe("send-test-finished", handler as Handler);
  }
  async queuePage(query: PageQuery): Promise<Page> {
    this.record("queue_page", { query });
    const search = query.search?.toLowerCase();
    const all = this.queue
      .filter((m) => query.state === null || m.recipients.some((r) => r.state === query.state))
      .filter((m) => !search || m.sender.toLowerCase().includes(search) || m.recipients.some((r) => r.address.toLowerCase().includes(search)))
      .sort((a, b) => b.id - a.id);
    let start = 0;
    if (query.before !== null) start = all.findIndex((m) => m.id < (query.before as number));
    else if (query.after !== null) {
      const newer = all.filter((m) => m.id > (query.after as number));
      start = Math.max(0, newer.length - query.limit);
    }
    if (start < 0) start = all.length;
    const messages = all.slice(start, start + query.limit);
    return {
      messages: structuredClone(messages),
      older: start + query.limit < all.length,
      newer: start > 0,
      total: query.state !== null && !search ? all.length : null,
    };
  }
  async queueShow(id: number): Promise<MessageDetail> {
    this.record("queue_show", { id });
    const m = this.queue.find((q) => q.id === id);
    if (!m) throw { kind: "not_in_queue", message: `no message with id ${id} in the queue` };
    return {
      ...structuredClone(m),
      source: "sendmail",
      body_type: null,
      dsn_notify: null,
      dsn_ret: null,
      dsn_envid: null,
      headers: `From: ${m.sender}\nSubject: ${m.subject}\n`,
      attempts: m.recipients
        .filter((r) => r.last_reply)
        .map((r) => ({ recipient: r.address, at: m.received_at + 60, server: "smtp.example.com:587", result: r.state, reply: r.last_reply ?? "", duration_ms: 42 })),
    };
  }
  overviewNow(): Overview {
    const counts = { messages: this.queue.length, queued: 0, sending: 0, sent: 0, deferred: 0, held: 0, failed: 0 };
    for (const m of this.queue) for (const r of m.recipients) counts[r.state] += 1;
    const waiting = this.queue.filter((m) => m.recipients.some((r) => r.state === "queued" || r.state === "deferred")).length;
    return { counts, waiting, mode: this.mode };
  }
  async queueOverview(): Promise<Overview> {
    this.record("queue_overview");
    return this.overviewNow();
  }
  async queueFlush(ids: number[] | null): Promise<number> {
    this.record("queue_flush", { ids });
    return this.queue.filter((m) => (ids === null || ids.includes(m.id)) && m.recipients.some((r) => r.state === "deferred")).length;
  }
  private setStates(ids: number[], from: string[], to: MessageSummary["state"]): number {
    let n = 0;
    for (const m of this.queue.filter((q) => ids.includes(q.id))) {
      const rs = m.recipients.filter((r) => from.includes(r.state));
      for (const r of rs) r.state = to;
      if (rs.length) {
        m.state = to;
        n += 1;
      }
    }
    return n;
  }
  async queueHold(ids: number[]): Promise<number> {
    this.record("queue_hold", { ids });
    return this.setStates(ids, ["queued", "deferred"], "held");
  }
  async queueRelease(ids: number[]): Promise<number> {
    this.record("queue_release", { ids });
    return this.setStates(ids, ["held"], "queued");
  }
  async queueDelete(ids: number[] | null): Promise<number> {
    this.record("queue_delete", { ids });
    const before = this.queue.length;
    this.queue = ids === null ? [] : this.queue.filter((m) => !ids.includes(m.id));
    return before - this.queue.length;
  }
  onQueueChanged(handler: (overview: Overview) => void): Promise<Unlisten> {
    return this.subscribe("queue-changed", handler as Handler);
  }
  onQueueFailed(handler: (summary: string) => void): Promise<Unlisten> {
    return this.subscribe("queue-failed", handler as Handler);
  }
  /** The mail log the log commands read, any order. */
  log: LogEntry[] = [];
  /** The event log, any order. */
  events: JournalEvent[] = [];
  reportReply: (from: number, to: number) => Promise<JournalReport> = async (from, to) => emptyReport(from, to);
  dashboardReply: () => Promise<Dashboard> = async () => emptyDashboard();
  /** What the save dialog answers: a path, or null for Cancel. */
  exportPath: string | null = "/home/me/mail-log.csv";
  async logPage(query: LogQuery): Promise<LogPage> {
    this.record("log_page", { query });
    const address = query.address?.toLowerCase();
    const rows = this.log
      .filter((e) => query.since === null || e.at >= query.since)
      .filter((e) => query.until === null || e.at < query.until)
      .filter((e) => query.result === null || e.result === query.result)
      .filter((e) => !address || e.sender.toLowerCase() === address || e.recipient.toLowerCase() === address);
    const { page, older, newer } = keyset(rows, query);
    return { entries: structuredClone(page), older, newer };
  }
  async eventsPage(query: EventQuery): Promise<EventPage> {
    this.record("events_page", { query });
    const rank = { info: 0, warning: 1, error: 2 };
    const rows = this.events
      .filter((e) => query.since === null || e.at >= query.since)
      .filter((e) => query.until === null || e.at < query.until)
      .filter((e) => query.severity === null || rank[e.severity] >= rank[query.severity])
      .filter((e) => query.category === null || e.category === query.category);
    const { page, older, newer } = keyset(rows, query);
    return { events: structuredClone(page), older, newer };
  }
  report(from: number, to: number): Promise<JournalReport> {
    this.record("report", { from, to });
    return this.reportReply(from, to);
  }
  dashboard(): Promise<Dashboard> {
    this.record("dashboard");
    return this.dashboardReply();
  }
  async exportLogCsv(query: LogQuery): Promise<Exported | null> {
    this.record("export_log_csv", { query });
    if (this.exportPath === null) return null;
    const { entries } = await this.logPage({ ...query, before: null, after: null, limit: 1_000_000 });
    this.calls.pop();
    return { path: this.exportPath, rows: entries.length };
  }
}

/** A newest-first keyset page over rows with (at, id), as the core's journal listing reads it. */
function keyset<T extends { at: number; id: number }>(
  rows: T[],
  q: { before: { at: number; id: number } | null; after: { at: number; id: number } | null; limit: number },
): { page: T[]; older: boolean; newer: boolean } {
  const cmp = (a: { at: number; id: number }, b: { at: number; id: number }) => b.at - a.at || b.id - a.id;
  const all = [...rows].sort(cmp);
  const limit = q.limit || 50;
  let start = 0;
  if (q.before) start = all.findIndex((r) => cmp(r, q.before!) > 0);
  else if (q.after) start = Math.max(0, all.filter((r) => cmp(r, q.after!) < 0).length - limit);
  if (start < 0) start = all.length;
  return { page: all.slice(start, start + limit), older: start + limit < all.length, newer: start > 0 };
}

const NO_TOTALS = {
  messages_received: 0,
  received: 0,
  delivered: 0,
  deferred: 0,
  bounced: 0,
  refused: 0,
  held: 0,
  bytes_received: 0,
  bytes_delivered: 0,
};

/** A report with nothing in it, over [from, to). */
export function emptyReport(from: number, to: number): JournalReport {
  return {
    from,
    to,
    kept_since: null,
    problems: [],
    totals: { ...NO_TOTALS },
    hours: [],
    top_senders: [],
    top_senders_by_size: [],
    top_recipients: [],
    top_recipients_by_size: [],
    deferral_reasons: [],
    bounce_reasons: [],
    refusal_reasons: [],
    servers: [],
    warnings: [],
  };
}

/** A quiet dashboard: sending to a relay, nothing happened yet. */
export function emptyDashboard(): Dashboard {
  return {
    mode: "relay",
    server: "smtp.example.com:587",
    last_sent: null,
    last_failure: null,
    last_failure_hint: null,
    agent_running: true,
    listener_port: null,
    queue: { messages: 0, queued: 0, sending: 0, sent: 0, deferred: 0, held: 0, failed: 0 },
    oldest_waiting: null,
    today: { ...NO_TOTALS },
    today_hours: [],
    latest_events: [],
    problems: [],
  };
}

/** A mail log row for the tests. */
export function logEntry(id: number, result: LogEntry["result"] = "sent", at = 1_700_000_000_000 + id * 60_000): LogEntry {
  return {
    id,
    at,
    message: id,
    message_id: `<${id}@example.com>`,
    sender: "cron@example.com",
    recipient: `to${id}@example.org`,
    size: 2048,
    server: "smtp.example.com:587",
    tls: result === "sent" ? "TLS 1.3" : null,
    result,
    reply: result === "sent" ? "250 2.0.0 Ok" : result === "deferred" ? "451 4.3.0 try again later" : "550 5.1.1 no such user",
    duration_ms: 120,
  };
}

/** An event for the tests. */
export function journalEvent(id: number, severity: JournalEvent["severity"] = "info", category: JournalEvent["category"] = "queue"): JournalEvent {
  return { id, at: 1_700_000_000_000 + id * 60_000, severity, category, summary: `event ${id}`, detail: null };
}

/** A queued message for the tests: `id`, one recipient per address, all in `state`. */
export function queued(id: number, to: string[] = [`to${id}@example.org`], state: MessageSummary["state"] = "queued"): MessageSummary {
  return {
    id,
    state,
    received_at: 1_700_000_000 + id * 60,
    sender: "cron@example.com",
    size: 2048,
    subject: `Report ${id}`,
    message_id: `<${id}@example.com>`,
    recipients: to.map((address) => ({
      address,
      state,
      attempts: state === "queued" ? 0 : 1,
      last_reply: state === "deferred" ? "451 4.3.0 try again later" : null,
      next_try_at: null,
    })),
  };
}

/** Lets pending promises and zero-delay timers run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}
