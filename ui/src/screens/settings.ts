/** The Settings screen: the outgoing-mail form, its live validation and warnings, the password in the keyring, saving, reverting, and changes made outside the window. */

import { byId, make, show, srOnly } from "../dom";
import { toErrorReport, type Ipc, type Unlisten } from "../ipc";
import {
  fieldId,
  FIELD_KEYS,
  isKeyringProblem,
  type ErrorReport,
  type Issue,
  type LoadedSettings,
  type PasswordAction,
  type ReadOnly,
  type Report,
  type Security,
  type Settings,
} from "../model";
import { check, isSerialisable, portAfterSecurityChange, splitHostPort } from "../rules";

/** What people call each field, for messages and the error summary. */
const LABELS: Record<string, string> = {
  mode: "Mode",
  "relay.host": "Server",
  "relay.port": "Port",
  "relay.security": "Security",
  "relay.verify_certificates": "Verify certificates",
  "relay.ca_file": "Extra CA certificates",
  ehlo_name: "EHLO name",
  "auth.method": "Login",
  "auth.username": "Username",
  "auth.mechanism": "Mechanism",
  "sender.from_name": "From name",
  "sender.from_address": "From address",
  "sender.reply_to": "Reply-To",
  "limits.timeout_secs": "Timeout",
  "limits.connection_limit": "Connections",
  "limits.max_idle_secs": "Idle time",
  "limits.batch_size": "Batch size",
  password: "Password",
};

/** Fields that live in the relay-only sections (hidden unless the mode is Relay). */
const RELAY_ONLY = (key: string) => key.startsWith("relay.") || key.startsWith("auth.") || key === "ehlo_name" || key === "password";

/** Keys whose messages are shown under a control (every settings field plus the password). */
const MESSAGE_KEYS: readonly string[] = [...FIELD_KEYS, "password"];

/** "Server is required …" for messages that continue the field's name, "Server: '…' …" for the rest. */
export function describeIssue(field: string, message: string): string {
  const label = LABELS[field] ?? field;
  return /^(is|has|contains|must) /.test(message) ? `${label} ${message}` : `${label}: ${message}`;
}

interface FieldOptions {
  key: string;
  label: string;
  help?: string;
  /** The control's markup without id/name/aria-describedby, which are added here. */
  control: string;
  className?: string;
}

function field({ key, label, help, control, className }: FieldOptions): string {
  const id = fieldId(key);
  const helpId = help ? `${id}-help` : "";
  const tagEnd = (/^<\w+/.exec(control)?.[0] ?? "").length;
  const withIds = `${control.slice(0, tagEnd)} id="${id}" name="${key}"${helpId ? ` aria-describedby="${helpId}"` : ""}${control.slice(tagEnd)}`;
  return `
    <div class="field ${className ?? ""}" data-field="${key}">
      <label for="${id}">${label}</label>
      ${withIds}
      ${help ? `<p class="help" id="${helpId}">${help}</p>` : ""}
      <p class="field-message warning" id="${id}-warning" hidden></p>
      <p class="field-message error" id="${id}-error" hidden></p>
    </div>`;
}

function numberField(key: string, label: string, unit: string, min: number, max: number, help: string): string {
  return field({
    key,
    label: `${label} <span class="unit">(${unit})</span>`,
    help: `${help} ${min}–${max}.`,
    control: `<input type="number" inputmode="numeric" min="${min}" max="${max}" step="1" required>`,
    className: "field-number",
  });
}

const TEXT = `type="text" autocomplete="off" autocapitalize="off" spellcheck="false"`;

const MARKUP = `
<form id="settings-form" class="settings-form" novalidate aria-labelledby="settings-heading">
  <h1 id="settings-heading" class="visually-hidden">Settings</h1>
  <div id="load-notice" class="banner banner-error" role="alert" hidden>
    <p id="load-notice-text"></p>
    <div id="read-only-actions" class="banner-actions" hidden>
      <button type="button" id="start-from-defaults">Start from defaults</button>
      <label class="file-path" for="settings-file-path">The file
        <input type="text" id="settings-file-path" readonly spellcheck="false">
      </label>
      <button type="button" id="copy-settings-path">Copy path</button>
    </div>
  </div>
  <div id="conflict" class="banner banner-error" role="alert" tabindex="-1" hidden>
    <p>Not saved: the settings file changed while you were editing, and these fields were changed there too:</p>
    <ul id="conflict-list"></ul>
    <div class="banner-actions">
      <button type="button" id="conflict-reload">Reload from the file (discard my edits)</button>
      <button type="button" id="conflict-keep">Keep my values and save</button>
    </div>
  </div>
  <div id="external-change" class="banner banner-info" role="alert" hidden>
    <p>The settings file changed outside this window</p>
    <div class="banner-actions">
      <button type="button" id="external-change-reload">Reload (discard my edits)</button>
      <button type="button" id="external-change-keep">Keep editing</button>
    </div>
  </div>
  <div id="error-summary" class="error-summary" role="alert" tabindex="-1" hidden>
    <h2>Correct these before saving</h2>
    <ul id="error-summary-list"></ul>
  </div>

  <fieldset class="section" id="mode-fieldset" aria-describedby="mode-error">
    <legend>Mode</legend>
    <div class="choices">
      <label class="choice" for="mode-off">
        <input type="radio" name="mode" id="mode-off" value="off">
        <span><span class="choice-title">Off</span><span class="choice-help">Send nothing</span></span>
      </label>
      <label class="choice" for="mode-relay">
        <input type="radio" name="mode" id="mode-relay" value="relay">
        <span><span class="choice-title">Relay</span><span class="choice-help">Hand every message to one SMTP server</span></span>
      </label>
      <label class="choice" for="mode-direct">
        <input type="radio" name="mode" id="mode-direct" value="direct">
        <span><span class="choice-title">Direct delivery</span><span class="choice-help">Deliver to each recipient's mail servers</span></span>
      </label>
    </div>
    <p class="note" id="mode-note-off" hidden>Mail is not sent while the mode is Off. Sender and limits are kept for later.</p>
    <p class="note" id="mode-note-direct" hidden>Delivery straight to recipients' mail servers comes in a later version; sender and limits apply.</p>
    <p class="field-message error" id="mode-error" hidden></p>
  </fieldset>

  <fieldset class="section" id="section-connection" hidden>
    <legend>Connection <span id="connection-anonymous-warning" class="legend-warning" role="img"
      aria-label="Warning: anonymous relay, no login is used" title="Anonymous relay: no login is used" hidden>⚠</span></legend>
    <div class="grid grid-host">
      ${field({ key: "relay.host", label: "Server", help: "Host name or IP address. Pasting host:port fills the port too.", control: `<input ${TEXT} placeholder="smtp.example.com">` })}
      <div class="field field-port" data-field="relay.port">
        <label for="relay-port">Port</label>
        <input type="number" id="relay-port" name="relay.port" inputmode="numeric" min="1" max="65535" step="1" required>
      </div>
      <div class="grid-span">
        <p class="field-message warning" id="relay-port-warning" hidden></p>
        <p class="field-message error" id="relay-port-error" hidden></p>
      </div>
    </div>
    <div class="grid grid-2">
      ${field({
        key: "relay.security",
        label: "Security",
        control: `<select>
          <option value="start_tls">STARTTLS (usually port 587)</option>
          <option value="implicit_tls">Implicit TLS (usually port 465)</option>
          <option value="none">None — plain text (port 25)</option>
        </select>`,
      })}
      <div class="field field-check" data-field="relay.verify_certificates">
        <label class="check" for="relay-verify_certificates">
          <input type="checkbox" id="relay-verify_certificates" name="relay.verify_certificates" aria-describedby="relay-verify_certificates-help">
          Verify the server's certificate
        </label>
        <p class="help" id="relay-verify_certificates-help">Turn off only for a test server with a self-signed certificate.</p>
        <p class="field-message warning" id="relay-verify_certificates-warning" hidden></p>
        <p class="field-message error" id="relay-verify_certificates-error" hidden></p>
      </div>
    </div>
    ${field({ key: "relay.ca_file", label: "Extra CA certificates <span class=\"unit\">(optional)</span>", help: "Path to a PEM file of CA certificates to trust as well, e.g. a company CA.", control: `<input ${TEXT} placeholder="/etc/ssl/certs/company-ca.pem">` })}
    ${field({ key: "ehlo_name", label: "EHLO name <span class=\"unit\">(optional)</span>", help: "The name this machine gives the server. Leave empty to use this machine's name.", control: `<input ${TEXT}>` })}
  </fieldset>

  <fieldset class="section" id="section-auth" hidden>
    <legend>Authentication</legend>
    ${field({
      key: "auth.method",
      label: "Login",
      control: `<select>
        <option value="none">None — anonymous relay</option>
        <option value="password">Username and password</option>
      </select>`,
    })}
    <div id="auth-password-fields" class="grid grid-2" hidden>
      ${field({ key: "auth.username", label: "Username", help: "Often the full email address.", control: `<input ${TEXT} autocomplete="username">` })}
      <div class="field" data-field="password">
        <label for="password">Password</label>
        <input type="password" id="password" name="password" autocomplete="new-password" aria-describedby="password-state password-help">
        <p class="help" id="password-help">Kept only in the system keyring. Leave empty to keep the saved one.</p>
        <div class="password-row">
          <span id="password-state" class="password-state">Checking the keyring…</span>
          <button type="button" id="password-clear" class="link-button" hidden>Clear saved password</button>
        </div>
        <p class="field-message warning" id="password-warning" hidden></p>
        <p class="field-message error" id="password-error" hidden></p>
      </div>
      ${field({
        key: "auth.mechanism",
        label: "Mechanism",
        control: `<select>
          <option value="auto">Automatic (best the server offers)</option>
          <option value="plain">PLAIN</option>
          <option value="login">LOGIN</option>
        </select>`,
      })}
    </div>
  </fieldset>

  <fieldset class="section" id="section-sender">
    <legend>Sender</legend>
    <div class="grid grid-2">
      ${field({ key: "sender.from_name", label: "From name <span class=\"unit\">(optional)</span>", help: "Shown to recipients, e.g. Build Server.", control: `<input type="text" autocomplete="off" maxlength="400">` })}
      ${field({ key: "sender.from_address", label: "From address", help: "The address mail is sent from.", control: `<input ${TEXT} inputmode="email" placeholder="alerts@example.com">` })}
    </div>
    ${field({ key: "sender.reply_to", label: "Reply-To <span class=\"unit\">(optional)</span>", help: "Where replies go, if not to the From address.", control: `<input ${TEXT} inputmode="email">` })}
  </fieldset>

  <fieldset class="section" id="section-limits">
    <legend>Limits</legend>
    <div class="grid grid-4">
      ${numberField("limits.timeout_secs", "Timeout", "seconds", 1, 600, "Allowed for each network step;")}
      ${numberField("limits.connection_limit", "Connections", "at once", 1, 100, "Open to the server at once;")}
      ${numberField("limits.max_idle_secs", "Idle time", "seconds", 0, 3600, "An idle connection is kept open;")}
      ${numberField("limits.batch_size", "Batch size", "messages", 1, 10000, "Sent over one connection;")}
    </div>
  </fieldset>

  <div class="form-footer">
    <span id="save-status" class="save-status" role="status"></span>
    <span id="dirty-indicator" class="dirty-indicator" hidden>Unsaved changes</span>
    <button type="button" id="revert">Revert</button>
    <button type="submit" id="save" class="primary" aria-keyshortcuts="Control+S" title="Save (Ctrl+S)">Save</button>
  </div>
</form>`;

export interface SettingsOptions {
  /** Milliseconds of quiet after an edit before Rust is asked to check the form (default 250). */
  checkDelayMs?: number;
}

/** The Settings screen as the rest of the window sees it. */
export interface SettingsScreen {
  /** Loads the settings and the password state and fills the form. */
  load(): Promise<void>;
  /** Saves if the form is valid; resolves true when saved. */
  save(): Promise<boolean>;
  isDirty(): boolean;
  /** Called whenever the form becomes dirty or clean. */
  onDirtyChange(listener: (dirty: boolean) => void): void;
  /** Stops listening to events and timers. */
  destroy(): void;
}

type StatusKind = "ok" | "error" | "info" | "";

/** Builds the screen into `container` and wires it to `ipc`. Call `load()` to fill it. */
export function mountSettings(container: HTMLElement, ipc: Ipc, options: SettingsOptions = {}): SettingsScreen {
  container.innerHTML = MARKUP;
  return new SettingsForm(container, ipc, options.checkDelayMs ?? 250);
}

/** The canonical form of settings, so two copies compare equal exactly when they mean the same. */
export function normalise(s: Settings): Settings {
  const p = s.profile;
  return {
    schema: s.schema,
    profile: {
      mode: p.mode,
      relay: {
        host: p.relay.host,
        port: p.relay.port,
        security: p.relay.security,
        verify_certificates: p.relay.verify_certificates,
        ca_file: p.relay.ca_file === "" ? null : p.relay.ca_file,
      },
      ehlo_name: p.ehlo_name,
      auth: { method: p.auth.method, username: p.auth.username, mechanism: p.auth.mechanism },
      local_recipient: p.local_recipient ?? null,
      sender: {
        from_name: p.sender.from_name,
        from_address: p.sender.from_address,
        reply_to: p.sender.reply_to === "" ? null : p.sender.reply_to,
      },
      limits: {
        timeout_secs: p.limits.timeout_secs,
        connection_limit: p.limits.connection_limit,
        max_idle_secs: p.limits.max_idle_secs,
        batch_size: p.limits.batch_size,
        max_queue_age_hours: p.limits.max_queue_age_hours,
      },
    },
  };
}

const sameSettings = (a: Settings, b: Settings) => JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));

class SettingsForm implements SettingsScreen {
  private readonly form: HTMLFormElement;
  private readonly saveButton: HTMLButtonElement;
  private readonly passwordInput: HTMLInputElement;
  private baseline: Settings | null = null;
  /** The settings as last read from or written to the file: what the next save's changes are measured from. */
  private base: Settings | null = null;
  /** Set while the file cannot be used as it is; nothing is saved until it is fixed or replaced. */
  private readOnly: ReadOnly | null = null;
  /** The fields of the last refused save that were changed in the file too. */
  private conflictFields: string[] = [];
  private schema = 1;
  /** null while unknown (not asked yet, or the keyring could not be asked). */
  private passwordSaved: boolean | null = null;
  private keyringProblem: ErrorReport | null = null;
  private clearPassword = false;
  private dirty = false;
  private saving = false;
  /** After a save attempt every error is shown; before, only those of fields the user has left. */
  private submitted = false;
  private readonly touched = new Set<string>();
  /** Rust's verdict, valid only for the settings it was given. */
  private remote: { key: string; report: Report } | null = null;
  /** The errors Rust gave when it refused to save, valid only for the settings refused. */
  private refused: { key: string; errors: Issue[] } | null = null;
  private revealRemoteErrors = false;
  private lastSecurity: Security = "start_tls";
  private checkTimer: ReturnType<typeof setTimeout> | undefined;
  private checkSeq = 0;
  private readonly dirtyListeners: ((dirty: boolean) => void)[] = [];
  private readonly unlisteners: Unlisten[] = [];
  private destroyed = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    private readonly checkDelayMs: number,
  ) {
    this.form = byId<HTMLFormElement>(root, "settings-form");
    this.saveButton = byId<HTMLButtonElement>(root, "save");
    this.passwordInput = byId<HTMLInputElement>(root, "password");
    this.wire();
    void this.ipc
      .onSettingsChanged(() => void this.onExternalChange())
      .then((u) => (this.destroyed ? u() : this.unlisteners.push(u)))
      .catch(() => undefined);
  }

  // ---- reading and writing the form ----

  private control<T extends HTMLInputElement | HTMLSelectElement = HTMLInputElement>(key: string): T {
    return byId<T>(this.root, fieldId(key));
  }

  private text(key: string): string {
    return this.control(key).value;
  }

  private number(key: string): number {
    const raw = this.control(key).value.trim();
    return raw === "" ? Number.NaN : Number(raw);
  }

  private optional(key: string): string | null {
    const value = this.text(key);
    return value === "" ? null : value;
  }

  /** The settings as the form shows them now. */
  readForm(): Settings {
    const checked = this.form.querySelector<HTMLInputElement>('input[name="mode"]:checked');
    return normalise({
      schema: this.schema,
      profile: {
        mode: (checked?.value ?? "off") as Settings["profile"]["mode"],
        relay: {
          host: this.text("relay.host"),
          port: this.number("relay.port"),
          security: this.text("relay.security") as Security,
          verify_certificates: this.control("relay.verify_certificates").checked,
          ca_file: this.optional("relay.ca_file"),
        },
        ehlo_name: this.text("ehlo_name"),
        auth: {
          method: this.text("auth.method") as Settings["profile"]["auth"]["method"],
          username: this.text("auth.username"),
          mechanism: this.text("auth.mechanism") as Settings["profile"]["auth"]["mechanism"],
        },
        sender: {
          from_name: this.text("sender.from_name"),
          from_address: this.text("sender.from_address"),
          reply_to: this.optional("sender.reply_to"),
        },
        // Not on the form yet: carried over from the file, so a save never clears it.
        local_recipient: this.base?.profile.local_recipient ?? null,
        limits: {
          timeout_secs: this.number("limits.timeout_secs"),
          connection_limit: this.number("limits.connection_limit"),
          max_idle_secs: this.number("limits.max_idle_secs"),
          batch_size: this.number("limits.batch_size"),
          // No field on the form yet: keep what the file says.
          max_queue_age_hours: this.base?.profile.limits.max_queue_age_hours ?? 120,
        },
      },
    });
  }

  private fillForm(s: Settings): void {
    const p = s.profile;
    this.schema = s.schema;
    for (const radio of this.form.querySelectorAll<HTMLInputElement>('input[name="mode"]')) {
      radio.checked = radio.value === p.mode;
    }
    const set = (key: string, value: string | number | null) => {
      this.control(key).value = value === null ? "" : String(value);
    };
    set("relay.host", p.relay.host);
    set("relay.port", p.relay.port);
    set("relay.security", p.relay.security);
    this.control("relay.verify_certificates").checked = p.relay.verify_certificates;
    set("relay.ca_file", p.relay.ca_file);
    set("ehlo_name", p.ehlo_name);
    set("auth.method", p.auth.method);
    set("auth.username", p.auth.username);
    set("auth.mechanism", p.auth.mechanism);
    set("sender.from_name", p.sender.from_name);
    set("sender.from_address", p.sender.from_address);
    set("sender.reply_to", p.sender.reply_to);
    set("limits.timeout_secs", p.limits.timeout_secs);
    set("limits.connection_limit", p.limits.connection_limit);
    set("limits.max_idle_secs", p.limits.max_idle_secs);
    set("limits.batch_size", p.limits.batch_size);
    this.lastSecurity = p.relay.security;
  }

  private passwordAction(settings: Settings): PasswordAction {
    const typed = this.passwordInput.value;
    if (settings.profile.auth.method === "password" && typed !== "") return { action: "set", value: typed };
    if (this.clearPassword) return { action: "clear" };
    return { action: "keep" };
  }

  // ---- events ----

  private wire(): void {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.save();
    });
    this.form.addEventListener("input", (e) => this.onEdit(e, false));
    this.form.addEventListener("change", (e) => this.onEdit(e, true));
    this.form.addEventListener("focusout", (e) => {
      const target = e.target as HTMLInputElement;
      if (target.name === "relay.host") this.splitHost(true);
      if (target.name && target.type !== "radio") this.touch(target.name);
    });
    byId(this.root, "revert").addEventListener("click", () => this.revert());
    byId(this.root, "password-clear").addEventListener("click", () => {
      this.clearPassword = !this.clearPassword;
      this.afterEdit();
    });
    byId(this.root, "external-change-reload").addEventListener("click", () => void this.reloadFromDisk(true));
    byId(this.root, "conflict-reload").addEventListener("click", () => void this.reloadFromDisk(false));
    byId(this.root, "conflict-keep").addEventListener("click", () => void this.save(this.conflictFields));
    byId(this.root, "start-from-defaults").addEventListener("click", () => void this.startFromDefaults());
    byId(this.root, "copy-settings-path").addEventListener("click", () => void this.copyPath());
    byId(this.root, "external-change-keep").addEventListener("click", () => {
      show(byId(this.root, "external-change"), false);
      this.form.querySelector<HTMLElement>('input[name="mode"]:checked')?.focus();
    });
    byId(this.root, "error-summary-list").addEventListener("click", (e) => {
      const link = (e.target as HTMLElement).closest<HTMLAnchorElement>("a[data-field]");
      if (!link) return;
      e.preventDefault();
      this.focusField(link.dataset.field ?? "");
    });
  }

  private onEdit(e: Event, committed: boolean): void {
    const target = e.target as HTMLInputElement | HTMLSelectElement;
    const key = target.name;
    if (!key) return;
    if (key === "relay.host") {
      // A paste (or a scripted change) splits at once; typing splits when the field is left.
      const inputType = (e as InputEvent).inputType;
      const pasted = !inputType || inputType.startsWith("insertFrom");
      if (committed || pasted) this.splitHost(committed);
    }
    if (key === "relay.security" && committed) {
      const security = target.value as Security;
      const port = this.control("relay.port");
      const moved = portAfterSecurityChange(Number(port.value), this.lastSecurity, security);
      if (String(moved) !== port.value && port.value.trim() !== "") port.value = String(moved);
      this.lastSecurity = security;
    }
    if (committed || target.type === "radio" || target.type === "checkbox" || target.tagName === "SELECT") {
      this.touch(key);
    }
    this.afterEdit();
  }

  /** Moves the port out of a pasted `host:port` (or `[v6]:port`) into the Port field. */
  private splitHost(trim: boolean): void {
    const host = this.control("relay.host");
    const parts = splitHostPort(host.value);
    const bracketed = host.value.trim().startsWith("[");
    if (parts.port !== null) {
      host.value = parts.host;
      this.control("relay.port").value = String(parts.port);
      this.touch("relay.port");
    } else if (bracketed && parts.host !== host.value.trim()) {
      host.value = parts.host;
    } else if (trim && host.value.trim() !== host.value) {
      host.value = host.value.trim();
    } else {
      return;
    }
    this.afterEdit();
  }

  private touch(key: string): void {
    if (!this.touched.has(key)) {
      this.touched.add(key);
      this.render();
    }
  }

  private afterEdit(): void {
    this.setStatus("", "");
    this.render();
    this.scheduleCheck();
  }

  // ---- loading ----

  async load(): Promise<void> {
    // The keyring may be slow to answer (D-Bus); the form is usable before it does.
    void this.refreshPasswordStatus();
    try {
      this.apply(await this.ipc.loadSettings());
    } catch (e) {
      const err = toErrorReport(e);
      this.showNotice(`The settings could not be loaded: ${err.message}${err.hint ? ` ${err.hint}` : ""}`, null);
      this.render();
    }
  }

  private apply(loaded: LoadedSettings): void {
    this.control("ehlo_name").placeholder = loaded.machine_name ? `this machine: ${loaded.machine_name}` : "";
    this.fillForm(normalise(loaded.settings));
    this.baseline = this.readForm();
    this.base = loaded.settings;
    this.readOnly = loaded.read_only ?? null;
    this.showConflict([]);
    this.passwordInput.value = "";
    this.clearPassword = false;
    this.touched.clear();
    this.submitted = false;
    this.remote = null;
    this.refused = null;
    this.showNotice(loaded.notice ?? "", this.readOnly);
    show(byId(this.root, "external-change"), false);
    // Problems already in the file are shown straight away.
    for (const issue of check(this.baseline).errors) this.touched.add(issue.field);
    this.revealRemoteErrors = true;
    this.render();
    this.scheduleCheck(0);
  }

  /** The banner at the top: what is wrong with the file and, while it is read-only, what to do. */
  private showNotice(text: string, readOnly: ReadOnly | null): void {
    byId(this.root, "load-notice-text").textContent = text;
    show(byId(this.root, "load-notice"), text !== "");
    show(byId(this.root, "read-only-actions"), readOnly !== null);
    // A file that cannot be read at all cannot be replaced from here either.
    show(byId(this.root, "start-from-defaults"), readOnly !== null && readOnly.kind !== "unreadable");
    byId<HTMLInputElement>(this.root, "settings-file-path").value = readOnly?.path ?? "";
  }

  private showConflict(fields: string[]): void {
    this.conflictFields = fields;
    byId(this.root, "conflict-list").replaceChildren(...fields.map((f) => make("li", "", LABELS[f] ?? f)));
    show(byId(this.root, "conflict"), fields.length > 0);
  }

  private async startFromDefaults(): Promise<void> {
    try {
      this.apply(await this.ipc.startFromDefaults());
      this.setStatus("Started from defaults; the old file was kept as a backup", "info");
    } catch (e) {
      const err = toErrorReport(e);
      this.setStatus(`Could not start from defaults: ${err.message}${err.hint ? ` ${err.hint}` : ""}`, "error");
    }
  }

  private async copyPath(): Promise<void> {
    const input = byId<HTMLInputElement>(this.root, "settings-file-path");
    try {
      await navigator.clipboard.writeText(input.value);
      this.setStatus("Path copied", "info");
    } catch {
      // No clipboard access: the path is selected for Ctrl+C instead.
      input.focus();
      input.select();
      this.setStatus("Press Ctrl+C to copy the selected path", "info");
    }
  }

  private async refreshPasswordStatus(): Promise<void> {
    try {
      this.passwordSaved = (await this.ipc.passwordStatus()).saved;
      this.keyringProblem = null;
    } catch (e) {
      this.passwordSaved = null;
      this.keyringProblem = toErrorReport(e);
    }
    this.renderPassword();
  }

  private async onExternalChange(): Promise<void> {
    let loaded: LoadedSettings;
    try {
      loaded = await this.ipc.loadSettings();
    } catch {
      return;
    }
    void this.refreshPasswordStatus();
    // Our own save comes back as a change too; only a real difference matters.
    const readOnlyBefore = this.readOnly !== null;
    const readOnlyNow = (loaded.read_only ?? null) !== null;
    if (this.baseline && sameSettings(loaded.settings, this.baseline) && !readOnlyBefore && !readOnlyNow) return;
    if (this.dirty) {
      show(byId(this.root, "external-change"), true);
      return;
    }
    this.apply(loaded);
    this.setStatus("Settings reloaded (changed outside the window)", "info");
  }

  private async reloadFromDisk(announce: boolean): Promise<void> {
    try {
      this.apply(await this.ipc.loadSettings());
    } catch (e) {
      this.setStatus(`Could not reload: ${toErrorReport(e).message}`, "error");
      return;
    }
    void this.refreshPasswordStatus();
    if (announce) this.setStatus("Settings reloaded (changed outside the window)", "info");
    this.form.querySelector<HTMLInputElement>('input[name="mode"]:checked')?.focus();
  }

  // ---- checking ----

  private scheduleCheck(delay = this.checkDelayMs): void {
    clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(() => void this.runCheck(), delay);
  }

  private async runCheck(): Promise<void> {
    if (this.destroyed) return;
    const settings = this.readForm();
    // A number Rust cannot even read is already marked here; asking would only fail.
    if (!isSerialisable(settings)) return;
    const seq = ++this.checkSeq;
    try {
      const report = await this.ipc.checkSettings(settings);
      if (seq !== this.checkSeq || this.destroyed) return;
      this.remote = { key: JSON.stringify(settings), report };
      if (this.revealRemoteErrors) {
        for (const issue of report.errors) this.touched.add(issue.field);
        this.revealRemoteErrors = false;
      }
      this.render();
    } catch {
      // The local rules still apply; Rust has the last word on save.
    }
  }

  /** The local rules, with Rust's verdict folded in while it still describes what the form shows. */
  private currentReport(settings: Settings): Report {
    const key = JSON.stringify(settings);
    const local = check(settings);
    const remote = this.remote?.key === key ? this.remote.report : { errors: [], warnings: [] };
    const refused = this.refused?.key === key ? this.refused.errors : [];
    const errors: Issue[] = [];
    for (const e of [...refused, ...remote.errors, ...local.errors]) {
      if (!errors.some((r) => r.field === e.field)) errors.push(e);
    }
    const warnings: Issue[] = [...local.warnings];
    for (const w of remote.warnings) {
      if (!warnings.some((l) => l.field === w.field && l.message === w.message)) warnings.push(w);
    }
    return { errors, warnings };
  }

  // ---- showing ----

  private render(): void {
    const settings = this.readForm();
    const report = this.currentReport(settings);
    const mode = settings.profile.mode;
    const relay = mode === "relay";

    show(byId(this.root, "section-connection"), relay);
    show(byId(this.root, "section-auth"), relay);
    show(byId(this.root, "auth-password-fields"), settings.profile.auth.method === "password");
    show(byId(this.root, "mode-note-off"), mode === "off");
    show(byId(this.root, "mode-note-direct"), mode === "direct");

    const visibleErrors = report.errors.filter((i) => this.submitted || this.touched.has(i.field));
    for (const key of MESSAGE_KEYS) {
      const id = key === "mode" ? "mode" : fieldId(key);
      const errors = visibleErrors.filter((i) => i.field === key);
      const warnings = report.warnings.filter((i) => i.field === key);
      this.renderMessages(id, key, errors, warnings);
    }
    show(
      byId(this.root, "connection-anonymous-warning"),
      report.warnings.some((w) => w.field === "auth.method"),
    );
    this.renderSummary(this.submitted ? report.errors : [], relay);
    this.renderPassword();
    this.updateDirty(settings);
  }

  private renderMessages(id: string, key: string, errors: Issue[], warnings: Issue[]): void {
    const errorEl = this.root.querySelector<HTMLElement>(`#${id}-error`);
    const warningEl = this.root.querySelector<HTMLElement>(`#${id}-warning`);
    if (errorEl) fillMessage(errorEl, "Error:", errors.map((i) => describeIssue(key, i.message)));
    // The keyring's own trouble is shown in the password's warning slot (see renderPassword).
    if (warningEl && key !== "password") fillMessage(warningEl, "Warning:", warnings.map((i) => i.message));

    const controlEl = key === "mode" ? byId(this.root, "mode-fieldset") : this.root.querySelector<HTMLElement>(`#${id}`);
    if (!controlEl) return;
    if (errors.length) controlEl.setAttribute("aria-invalid", "true");
    else controlEl.removeAttribute("aria-invalid");
    const described = [
      this.root.querySelector(`#${id}-help`) ? `${id}-help` : "",
      key === "password" ? "password-state" : "",
      warningEl && !warningEl.hidden ? warningEl.id : "",
      errorEl && !errorEl.hidden ? errorEl.id : "",
    ].filter(Boolean);
    if (described.length) controlEl.setAttribute("aria-describedby", described.join(" "));
    else controlEl.removeAttribute("aria-describedby");
  }

  private renderSummary(errors: Issue[], relay: boolean): void {
    const summary = byId(this.root, "error-summary");
    const list = byId(this.root, "error-summary-list");
    list.replaceChildren(
      ...errors.map((issue) => {
        const li = make("li");
        const link = make("a", "", LABELS[issue.field] ?? issue.field);
        link.href = `#${fieldId(issue.field)}`;
        link.dataset.field = issue.field;
        const text = describeIssue(issue.field, issue.message).slice((LABELS[issue.field] ?? issue.field).length);
        li.append(link, text);
        if (!relay && RELAY_ONLY(issue.field)) li.append(" (a relay setting: choose Relay under Mode to change it)");
        return li;
      }),
    );
    show(summary, errors.length > 0);
  }

  private renderPassword(): void {
    const state = byId(this.root, "password-state");
    const clear = byId<HTMLButtonElement>(this.root, "password-clear");
    const typed = this.passwordInput.value !== "";
    let text: string;
    if (typed) text = "The new password will be saved in the keyring";
    else if (this.clearPassword) text = "The saved password will be removed when you save";
    else if (this.passwordSaved === true) text = "Password saved in keyring ✓";
    else if (this.passwordSaved === false) text = "No password saved";
    else if (this.keyringProblem) text = "The keyring could not be asked";
    else text = "Checking the keyring…";
    state.textContent = text;
    state.classList.toggle("saved", this.passwordSaved === true && !typed && !this.clearPassword);
    show(clear, this.passwordSaved === true && !typed);
    clear.textContent = this.clearPassword ? "Keep saved password" : "Clear saved password";

    const warning = byId(this.root, "password-warning");
    const problem = this.keyringProblem;
    fillMessage(warning, "Warning:", problem ? [problem.hint ? `${problem.message} ${problem.hint}` : problem.message] : []);
  }

  private updateDirty(settings: Settings): void {
    const passwordPending =
      this.clearPassword || (settings.profile.auth.method === "password" && this.passwordInput.value !== "");
    const dirty = this.baseline !== null && (!sameSettings(settings, this.baseline) || passwordPending);
    show(byId(this.root, "dirty-indicator"), dirty);
    if (dirty === this.dirty) return;
    this.dirty = dirty;
    this.ipc.setDirty(dirty).catch(() => undefined);
    for (const listener of this.dirtyListeners) listener(dirty);
  }

  private setStatus(text: string, kind: StatusKind): void {
    const status = byId(this.root, "save-status");
    if (status.textContent === text) return;
    status.textContent = text;
    status.dataset.kind = kind;
  }

  private focusField(key: string): void {
    const settings = this.readForm();
    if (RELAY_ONLY(key) && settings.profile.mode !== "relay") {
      byId(this.root, "mode-relay").focus();
      return;
    }
    const target =
      key === "mode"
        ? this.form.querySelector<HTMLElement>('input[name="mode"]:checked') ?? byId(this.root, "mode-off")
        : this.root.querySelector<HTMLElement>(`#${fieldId(key)}`);
    target?.focus();
  }

  // ---- saving ----

  async save(keepMine: string[] = []): Promise<boolean> {
    if (this.saving) return false;
    if (!this.baseline || !this.base) {
      this.setStatus("Not saved: the settings file was not loaded", "error");
      return false;
    }
    if (this.readOnly) {
      this.setStatus("Not saved: the settings file cannot be used as it is (see the message at the top)", "error");
      byId(this.root, "load-notice").scrollIntoView?.({ block: "nearest" });
      return false;
    }
    this.splitHost(true);
    const settings = this.readForm();
    this.submitted = true;
    this.render();
    if (check(settings).errors.length > 0) {
      this.setStatus("Not saved: correct the fields marked", "error");
      byId(this.root, "error-summary").focus();
      return false;
    }
    const key = JSON.stringify(settings);
    this.saving = true;
    this.saveButton.disabled = true;
    this.setStatus("Saving…", "info");
    try {
      const result = await this.ipc.saveSettings(settings, this.base, this.passwordAction(settings), keepMine);
      // The file now holds this form's changes merged with any made elsewhere meanwhile.
      this.base = result.settings;
      const unchangedSince = JSON.stringify(this.readForm()) === key;
      if (unchangedSince) this.fillForm(normalise(result.settings));
      this.baseline = normalise(result.settings);
      this.showConflict([]);
      this.passwordInput.value = "";
      this.clearPassword = false;
      if (result.password_saved !== null) {
        this.passwordSaved = result.password_saved;
        this.keyringProblem = null;
      }
      this.remote = { key: JSON.stringify(normalise(result.settings)), report: result.report };
      this.refused = null;
      // Edits made while the save was under way stay marked as they were.
      if (unchangedSince) {
        this.submitted = false;
        this.touched.clear();
      }
      this.render();
      this.setStatus("Saved", "ok");
      return true;
    } catch (e) {
      const err = toErrorReport(e);
      const issues = err.issues?.length ? err.issues : err.field ? [{ field: err.field, message: err.message }] : [];
      this.refused = { key, errors: issues };
      if (isKeyringProblem(err.kind)) this.keyringProblem = err;
      this.showConflict(err.kind === "settings_conflict" ? issues.map((i) => i.field) : []);
      this.render();
      this.setStatus(`Not saved: ${err.message}${err.hint ? ` ${err.hint}` : ""}`, "error");
      if (err.kind === "settings_conflict") byId(this.root, "conflict").focus();
      else if (issues.length) byId(this.root, "error-summary").focus();
      return false;
    } finally {
      this.saving = false;
      this.saveButton.disabled = false;
    }
  }

  private revert(): void {
    if (!this.baseline) return;
    this.fillForm(this.baseline);
    this.passwordInput.value = "";
    this.clearPassword = false;
    this.touched.clear();
    this.submitted = false;
    show(byId(this.root, "external-change"), false);
    this.render();
    this.setStatus("Changes reverted", "info");
    this.scheduleCheck(0);
  }

  // ---- the outside ----

  isDirty(): boolean {
    return this.dirty;
  }

  onDirtyChange(listener: (dirty: boolean) => void): void {
    this.dirtyListeners.push(listener);
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.checkTimer);
    for (const u of this.unlisteners.splice(0)) u();
  }
}

/** Shows messages in a field's message element (hidden when there are none), each after a decorative icon. */
function fillMessage(el: HTMLElement, label: string, messages: string[]): void {
  const text = messages.join(" ");
  if (el.dataset.text === text) return;
  el.dataset.text = text;
  if (!messages.length) {
    el.replaceChildren();
    show(el, false);
    return;
  }
  const icon = make("span", "icon", el.classList.contains("warning") ? "⚠" : "✕");
  icon.setAttribute("aria-hidden", "true");
  el.replaceChildren(icon, srOnly(label), ` ${text}`);
  show(el, true);
}
