/** The settings form's DOM, built by small helpers: each field from the registry's label, help and range, with its message slots. */

import { FIELDS, fieldId, fieldInfo } from "../../model";
import { findSettingsMarkup } from "./detect";
import { oauthBlock } from "./oauth";
import { deliverabilitySection } from "./deliverability";
import { dkimCardMarkup } from "./dkim-card";

type Child = Node | string | null | false | undefined;
type Attrs = Record<string, string | boolean | undefined>;

/** An element with attributes (`true` sets an empty one, `false`/undefined none) and children. */
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === true) el.setAttribute(name, "");
    else if (typeof value === "string") el.setAttribute(name, value);
  }
  for (const child of children) if (child !== null && child !== false && child !== undefined) el.append(child);
  return el;
}

const TEXT: Attrs = { type: "text", autocomplete: "off", autocapitalize: "off", spellcheck: "false" };

function messageSlots(id: string): HTMLElement[] {
  return [
    h("p", { class: "field-message warning", id: `${id}-warning`, hidden: true }),
    h("p", { class: "field-message error", id: `${id}-error`, hidden: true }),
  ];
}

function unit(text: string): HTMLElement {
  return h("span", { class: "unit" }, `(${text})`);
}

function options(pairs: [string, string][]): HTMLOptionElement[] {
  return pairs.map(([value, text]) => h("option", { value }, text));
}

interface FieldOptions {
  /** Shown after the label, e.g. "optional" or the unit. */
  note?: string;
  className?: string;
  help?: string;
}

/** A labelled control for one settings key, with its help (from the registry) and message slots. */
function field(key: string, control: HTMLInputElement | HTMLSelectElement, opts: FieldOptions = {}): HTMLElement {
  const id = fieldId(key);
  const help = opts.help ?? fieldInfo(key)?.help ?? "";
  control.id = id;
  control.name = key;
  if (help) control.setAttribute("aria-describedby", `${id}-help`);
  return h(
    "div",
    { class: `field ${opts.className ?? ""}`.trim(), "data-field": key },
    h("label", { for: id }, fieldInfo(key)?.label ?? key, opts.note ? " " : null, opts.note ? unit(opts.note) : null),
    control,
    help ? h("p", { class: "help", id: `${id}-help` }, help) : null,
    ...messageSlots(id),
  );
}

function textField(key: string, attrs: Attrs = {}, opts: FieldOptions = {}): HTMLElement {
  return field(key, h("input", { ...TEXT, ...attrs }), opts);
}

/** A number field whose range and help come from the registry. */
function numberField(key: string, note: string, more = ""): HTMLElement {
  const info = fieldInfo(key);
  const [min, max] = info?.range ?? [0, 0];
  const input = h("input", { type: "number", inputmode: "numeric", min: String(min), max: String(max), step: "1", required: true });
  const help = `${info?.help ?? ""} ${min}\u2060–\u2060${max}.${more ? ` ${more}` : ""}`;
  return field(key, input, { note, className: "field-number", help });
}

function banner(id: string, className: string, attrs: Attrs, ...children: Child[]): HTMLElement {
  return h("div", { id, class: `banner ${className}`, role: "alert", hidden: true, ...attrs }, ...children);
}

function actions(...buttons: [string, string][]): HTMLElement {
  return h("div", { class: "banner-actions" }, ...buttons.map(([id, text]) => h("button", { type: "button", id }, text)));
}

function modeChoice(value: string, title: string, help: string): HTMLElement {
  return h(
    "label",
    { class: "choice", for: `mode-${value}` },
    h("input", { type: "radio", name: "mode", id: `mode-${value}`, value }),
    h("span", {}, h("span", { class: "choice-title" }, title), h("span", { class: "choice-help" }, help)),
  );
}

function banners(): HTMLElement[] {
  return [
    banner(
      "import-problems",
      "banner-error",
      { tabindex: "-1" },
      h("p", { id: "import-problems-text" }),
      h("ul", { id: "import-problems-list" }),
    ),
    banner(
      "load-notice",
      "banner-error",
      {},
      h("p", { id: "load-notice-text" }),
      h(
        "div",
        { id: "read-only-actions", class: "banner-actions", hidden: true },
        h("button", { type: "button", id: "start-from-defaults" }, "Start from defaults"),
        h("label", { class: "file-path", for: "settings-file-path" }, "The file", h("input", { type: "text", id: "settings-file-path", readonly: true, spellcheck: "false" })),
        h("button", { type: "button", id: "copy-settings-path" }, "Copy path"),
      ),
    ),
    banner(
      "conflict",
      "banner-error",
      { tabindex: "-1" },
      h("p", {}, "Not saved: the settings file changed while you were editing, and these fields were changed there too:"),
      h("ul", { id: "conflict-list" }),
      actions(["conflict-reload", "Reload from the file (discard my edits)"], ["conflict-keep", "Keep my values and save"]),
    ),
    banner(
      "external-change",
      "banner-info",
      {},
      h("p", {}, "The settings file changed outside this window"),
      actions(["external-change-reload", "Reload (discard my edits)"], ["external-change-keep", "Keep editing"]),
    ),
    h(
      "div",
      { id: "error-summary", class: "error-summary", role: "alert", tabindex: "-1", hidden: true },
      h("h2", {}, "Correct these before saving"),
      h("ul", { id: "error-summary-list" }),
    ),
  ];
}

function modeSection(): HTMLElement {
  return h(
    "fieldset",
    { class: "section", id: "mode-fieldset", "aria-describedby": "mode-error" },
    h("legend", {}, "Mode"),
    h(
      "div",
      { class: "choices" },
      modeChoice("off", "Off", "Send nothing"),
      modeChoice("relay", "Relay", "Hand every message to one SMTP server"),
      modeChoice("direct", "Direct delivery", "Deliver to each recipient's mail servers"),
    ),
    h("p", { class: "note", id: "mode-note-off", hidden: true }, "Mail is not sent while the mode is Off. Sender and limits are kept for later."),
    h("p", { class: "note", id: "mode-note-direct", hidden: true }, "Mail goes straight to each recipient's mail servers on port 25. Set this machine's public name (EHLO) and DKIM below, and check deliverability before the first mail goes out."),
    h("p", { class: "field-message error", id: "mode-error", hidden: true }),
  );
}

function connectionSection(): HTMLElement {
  const [portMin, portMax] = fieldInfo("relay.port")?.range ?? [1, 65535];
  const verify = h("input", { type: "checkbox", id: "relay-verify_certificates", name: "relay.verify_certificates", "aria-describedby": "relay-verify_certificates-help" });
  return h(
    "fieldset",
    { class: "section", id: "section-connection", hidden: true },
    h(
      "legend",
      {},
      "Connection ",
      h(
        "span",
        { id: "connection-anonymous-warning", class: "legend-warning", role: "img", "aria-label": "Warning: anonymous relay, no login is used", title: "Anonymous relay: no login is used", hidden: true },
        "⚠",
      ),
    ),
    h(
      "div",
      { class: "grid grid-host" },
      textField("relay.host", { placeholder: "smtp.example.com" }),
      h(
        "div",
        { class: "field field-port", "data-field": "relay.port" },
        h("label", { for: "relay-port" }, fieldInfo("relay.port")?.label ?? "Port"),
        h("input", { type: "number", id: "relay-port", name: "relay.port", inputmode: "numeric", min: String(portMin), max: String(portMax), step: "1", required: true }),
      ),
      h("div", { class: "grid-span" }, ...messageSlots("relay-port")),
      h("div", { class: "grid-span" }, findSettingsMarkup()),
    ),
    h(
      "div",
      { class: "grid grid-2" },
      field(
        "relay.security",
        h("select", {}, ...options([["start_tls", "STARTTLS (usually port 587)"], ["implicit_tls", "Implicit TLS (usually port 465)"], ["none", "None — plain text (port 25)"]])),
      ),
      h(
        "div",
        { class: "field field-check", "data-field": "relay.verify_certificates" },
        h("label", { class: "check", for: "relay-verify_certificates" }, verify, " Verify the server's certificate"),
        h("p", { class: "help", id: "relay-verify_certificates-help" }, fieldInfo("relay.verify_certificates")?.help ?? ""),
        ...messageSlots("relay-verify_certificates"),
      ),
    ),
    textField("relay.ca_file", { placeholder: "/etc/ssl/certs/company-ca.pem" }, { note: "optional" }),
  );
}

/** How this machine introduces itself (EHLO) and signs (DKIM): Relay and Direct modes. */
function signingSection(): HTMLElement {
  return h(
    "fieldset",
    { class: "section", id: "section-signing", hidden: true },
    h("legend", {}, "Identity and signing"),
    textField("ehlo_name", { placeholder: "mail.example.com" }, { note: "optional" }),
    switchField("dkim.enabled"),
    h(
      "div",
      { class: "grid grid-2", id: "dkim-fields" },
      textField("dkim.selector", { placeholder: "smtpdesk" }),
      field("dkim.algorithm", h("select", {}, ...options([["rsa2048", "RSA-2048 (checked everywhere)"], ["ed25519", "Ed25519 (short; not every receiver checks it)"]]))),
      textField("dkim.domain", { placeholder: "example.com" }, { note: "optional" }),
    ),
    dkimCardMarkup(h),
  );
}

/** A password kept in the keyring: typed to set, empty to keep, a button to clear the saved one. */
function passwordField(key = "password", text = "Password"): HTMLElement {
  const id = fieldId(key);
  return h(
    "div",
    { class: "field", "data-field": key },
    h("label", { for: id }, text),
    h("input", { type: "password", id, name: key, autocomplete: "new-password", "aria-describedby": `${id}-state ${id}-help` }),
    h("p", { class: "help", id: `${id}-help` }, "Kept only in the system keyring. Leave empty to keep the saved one."),
    h(
      "div",
      { class: "password-row" },
      h("span", { id: `${id}-state`, class: "password-state" }, "Checking the keyring…"),
      h("button", { type: "button", id: `${id}-clear`, class: "link-button", hidden: true }, "Clear saved password"),
    ),
    ...messageSlots(id),
  );
}

/** A switch for one settings key: a checkbox labelled from the registry, its help below. */
function switchField(key: string): HTMLElement {
  const id = fieldId(key);
  const box = h("input", { type: "checkbox", id, name: key, "aria-describedby": `${id}-help` });
  return h(
    "div",
    { class: "field field-switch", "data-field": key },
    h("label", { class: "check", for: id }, box, ` ${fieldInfo(key)?.label ?? key}`),
    h("p", { class: "help", id: `${id}-help` }, fieldInfo(key)?.help ?? ""),
    ...messageSlots(id),
  );
}

/** "Keep delivering when the window is closed": the systemd user service, not a settings-file field (no name, so the form ignores it). */
function deliveryServiceField(): HTMLElement {
  return h(
    "div",
    { class: "field field-switch", id: "delivery-service-field" },
    h(
      "label",
      { class: "check", for: "delivery-service" },
      h("input", { type: "checkbox", id: "delivery-service", role: "switch", disabled: true, "aria-describedby": "delivery-service-help delivery-service-state" }),
      " Keep delivering when the window is closed",
    ),
    h("p", { class: "help", id: "delivery-service-help" }, "Runs smtp-desk deliver --daemon as your systemd user service; it starts with your session. Takes effect at once, without Save."),
    h("p", { class: "help service-state", id: "delivery-service-state", role: "status" }, "Asking systemd…"),
    h("p", { class: "field-message error", id: "delivery-service-error", hidden: true }),
  );
}

/** Mail from this machine: where local users' mail goes, bounces, the loopback SMTP listener, and delivery without the window. */
function localSection(): HTMLElement {
  return h(
    "fieldset",
    { class: "section", id: "section-local" },
    h("legend", {}, "Mail from this machine"),
    textField("local_recipient", { inputmode: "email", placeholder: "you@example.com" }, { note: "optional" }),
    h("div", { class: "grid grid-2" }, switchField("bounces.send"), numberField("bounces.max_per_hour", "")),
    switchField("listener.enabled"),
    h(
      "div",
      { class: "grid grid-2", id: "listener-fields" },
      numberField("listener.port", ""),
      textField("listener.username", { autocomplete: "off" }, { note: "optional" }),
      passwordField("listener.password", "Listener password"),
    ),
    h("p", { class: "note", id: "listener-note", hidden: true }, "While this window is open it takes mail on this port; when it is closed, the delivery service below (or smtp-desk listen) does."),
    deliveryServiceField(),
  );
}

/** Logs: how long the mail log and the event log keep their rows. */
function logsSection(): HTMLElement {
  return h(
    "fieldset",
    { class: "section", id: "section-logs" },
    h("legend", {}, "Logs"),
    h(
      "div",
      { class: "grid grid-2" },
      numberField(
        "logs.retention_days",
        "days",
        "The delivery agent deletes them when it starts and once a day; the queue's messages are not touched. Reports reaching further back say so.",
      ),
    ),
  );
}

/** Find settings: where it asks Mozilla's provider database (machine-wide). */
function findSection(): HTMLElement {
  return h(
    "fieldset",
    { class: "section", id: "section-detect" },
    h("legend", {}, "Find settings"),
    h("div", { class: "grid grid-2" }, textField("detect.ispdb_url", { inputmode: "url", placeholder: "https://autoconfig.thunderbird.net/v1.1/" })),
  );
}

function authSection(): HTMLElement {
  return h(
    "fieldset",
    { class: "section", id: "section-auth", hidden: true },
    h("legend", {}, "Authentication"),
    field("auth.method", h("select", {}, ...options([["none", "None — anonymous relay"], ["password", "Username and password"], ["oauth2", "Sign in with Google, Microsoft 365 … (OAuth2)"]]))),
    h(
      "div",
      { id: "auth-password-fields", class: "grid grid-2", hidden: true },
      textField("auth.username", { autocomplete: "username" }),
      passwordField(),
      field("auth.mechanism", h("select", {}, ...options([["auto", "Automatic (best the server offers)"], ["plain", "PLAIN"], ["login", "LOGIN"], ["ntlm", "NTLM (on-premises Exchange)"], ["xoauth2", "XOAUTH2 (OAuth2)"], ["oauthbearer", "OAUTHBEARER (OAuth2)"]]))),
    ),
    oauthBlock({ h, field, textField, options }),
  );
}

function senderSection(): HTMLElement {
  return h(
    "fieldset",
    { class: "section", id: "section-sender" },
    h("legend", {}, "Sender"),
    h(
      "div",
      { class: "grid grid-2" },
      field("sender.from_name", h("input", { type: "text", autocomplete: "off", maxlength: "400" }), { note: "optional" }),
      textField("sender.from_address", { inputmode: "email", placeholder: "alerts@example.com" }),
    ),
    textField("sender.reply_to", { inputmode: "email" }, { note: "optional" }),
  );
}

function limitsSection(): HTMLElement {
  return h(
    "fieldset",
    { class: "section", id: "section-limits" },
    h("legend", {}, "Limits"),
    h(
      "div",
      { class: "grid grid-4" },
      numberField("limits.timeout_secs", "seconds"),
      numberField("limits.connection_limit", "at once"),
      numberField("limits.max_idle_secs", "seconds"),
      numberField("limits.batch_size", "messages"),
      numberField("limits.max_queue_age_hours", "hours"),
    ),
  );
}

/** Trying the form's values before saving: the test recipient and the run's result (the buttons sit beside Save). */
function trySection(): HTMLElement {
  return h(
    "section",
    { class: "section try-section", id: "section-try", "aria-labelledby": "try-heading" },
    h("h2", { id: "try-heading", class: "section-title" }, "Try these settings"),
    h("p", { class: "help", id: "try-help" }, "Uses the values on this form and the password typed above (or the saved one). Nothing is saved."),
    h(
      "div",
      { class: "field try-recipient" },
      h("label", { for: "form-test-recipient" }, "Test recipient ", unit("for Send test email, and for Validate in Direct mode")),
      h("input", { ...TEXT, type: "email", id: "form-test-recipient", inputmode: "email", placeholder: "you@example.com", "aria-describedby": "try-help form-test-recipient-error" }),
      h("p", { class: "field-message error", id: "form-test-recipient-error", hidden: true }),
    ),
    h(
      "div",
      { id: "form-run-result", class: "result form-run-result", role: "status", hidden: true },
      h("h3", { id: "form-run-heading", tabindex: "-1" }),
      h("p", { id: "form-run-text" }),
      h(
        "div",
        { class: "banner-actions" },
        h("button", { type: "button", id: "form-run-save", class: "primary", hidden: true }, "Save these settings"),
      ),
    ),
  );
}

function footer(): HTMLElement {
  return h(
    "div",
    { class: "form-footer" },
    h("span", { id: "save-status", class: "save-status", role: "status" }),
    h("span", { id: "dirty-indicator", class: "dirty-indicator", hidden: true }, "Unsaved changes"),
    h("button", { type: "button", id: "form-validate" }, "Validate configuration"),
    h("button", { type: "button", id: "form-send-test" }, "Send test email"),
    h("button", { type: "button", id: "form-run-cancel", hidden: true }, "Cancel"),
    h("button", { type: "button", id: "revert" }, "Revert"),
    h("button", { type: "submit", id: "save", class: "primary", "aria-keyshortcuts": "Control+S", title: "Save (Ctrl+S)" }, "Save"),
  );
}

/** The admin policy file can't be used: nothing is sent until it is fixed. */
function policyBanner(): HTMLElement {
  return banner(
    "policy-invalid",
    "banner-error",
    {},
    h("p", { id: "policy-invalid-text" }),
    h("p", {}, "File: ", h("code", { id: "policy-invalid-path" })),
  );
}

/** The profile being edited, and creating, renaming, deleting and choosing the default one. */
function profileBar(): HTMLElement {
  return h(
    "div",
    { class: "profile-bar", id: "profile-bar", role: "group", "aria-label": "Profiles" },
    h("label", { for: "profile-select" }, "Profile"),
    h("select", { id: "profile-select", "aria-describedby": "profile-help" }, h("option", { value: "global" }, "Global (default)")),
    h("button", { type: "button", id: "profile-new" }, "New…"),
    h("button", { type: "button", id: "profile-rename", disabled: true }, "Rename…"),
    h("button", { type: "button", id: "profile-delete", disabled: true }, "Delete"),
    h("button", { type: "button", id: "profile-default" }, "Make default"),
    h(
      "div",
      { class: "profile-bar-row" },
      h("p", { class: "help", id: "profile-help" }, "A named profile inherits every field from Global unless it overrides it."),
      h("button", { type: "button", id: "settings-export", title: "Write every profile to a JSON file (no passwords)" }, "Export…"),
      h("button", { type: "button", id: "settings-import", title: "Replace the settings with a JSON file, all or nothing" }, "Import…"),
    ),
  );
}

/** Asking for a profile's name (New…, Rename…) or confirming a deletion. No <form> of its own: it sits inside the settings form. */
function profileDialog(): HTMLElement {
  return h(
    "dialog",
    { id: "profile-dialog", "aria-labelledby": "profile-dialog-title", "aria-describedby": "profile-dialog-text" },
    h("h2", { id: "profile-dialog-title" }, "New profile"),
    h("p", { id: "profile-dialog-text" }),
    h(
      "div",
      { class: "field", id: "profile-dialog-name-field" },
      h("label", { for: "profile-dialog-name" }, "Name"),
      h("input", { ...TEXT, id: "profile-dialog-name", maxlength: "40", "aria-describedby": "profile-dialog-name-help profile-dialog-error" }),
      h("p", { class: "help", id: "profile-dialog-name-help" }, "Letters, digits, - and _ (e.g. marketing-site)."),
    ),
    h(
      "div",
      { class: "field", id: "profile-dialog-copy-field" },
      h("label", { for: "profile-dialog-copy" }, "Start from"),
      h("select", { id: "profile-dialog-copy" }, h("option", { value: "" }, "Nothing: inherit every field from Global")),
    ),
    h("p", { class: "field-message error", id: "profile-dialog-error", role: "alert", hidden: true }),
    h(
      "div",
      { class: "banner-actions" },
      h("button", { type: "button", id: "profile-dialog-cancel" }, "Cancel"),
      h("button", { type: "button", id: "profile-dialog-ok", class: "primary" }, "Create"),
    ),
  );
}

/** Under each field: whether a named profile inherits or overrides it, or why it is locked, and the button that changes it. */
function addScopeSlots(form: HTMLFormElement): void {
  for (const f of FIELDS) {
    const container = f.name === "mode" ? form.querySelector("#mode-fieldset") : form.querySelector(`[data-field="${f.name}"]`);
    if (!container) continue;
    const id = fieldId(f.name);
    container.append(
      h(
        "div",
        { class: "scope", id: `${id}-scope`, hidden: true },
        h("span", { class: "scope-text", id: `${id}-scope-text` }),
        h("button", { type: "button", class: "link-button scope-action", id: `${id}-scope-action`, "data-scope-key": f.name, hidden: true }),
      ),
    );
  }
}

/** The whole form, ready to be placed in the screen's container. */
export function buildSettingsForm(): HTMLFormElement {
  const form = h(
    "form",
    { id: "settings-form", class: "settings-form", novalidate: true, "aria-labelledby": "settings-heading" },
    h("h1", { id: "settings-heading", class: "visually-hidden" }, "Settings"),
    policyBanner(),
    profileBar(),
    ...banners(),
    modeSection(),
    connectionSection(),
    authSection(),
    signingSection(),
    senderSection(),
    limitsSection(),
    localSection(),
    logsSection(),
    findSection(),
    trySection(),
    deliverabilitySection(h),
    footer(),
    profileDialog(),
  );
  addScopeSlots(form);
  return form;
}
