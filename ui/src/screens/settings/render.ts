/** Showing the form's state: which sections show, each field's messages and ARIA links, the error summary, the password line and the banners. */

import { byId, make, show, srOnly } from "../../dom";
import { FIELDS, fieldId, type Issue, type Mode, type Profile, type ReadOnly, type Settings } from "../../model";
import type { Lock } from "../../generated/Lock";
import type { JsonValue } from "../../generated/serde_json/JsonValue";
import { fieldScope, isGlobal, shownValue, valueAt } from "./scope";
import { describeIssue, label, LISTENER_PASSWORD, MESSAGE_KEYS, PASSWORD, shownIn } from "./fields";
import { usesListenerPassword, type PasswordState } from "./password";
import type { Shown } from "./verdict";

/** Shows messages in a field's message element (hidden when there are none), each after a decorative icon. */
export function fillMessage(el: HTMLElement, prefix: string, messages: string[]): void {
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
  el.replaceChildren(icon, srOnly(prefix), ` ${text}`);
  show(el, true);
}

export function renderSections(root: HTMLElement, settings: Settings): void {
  const mode = settings.profile.mode;
  show(byId(root, "section-connection"), shownIn("relay.host", mode));
  show(byId(root, "section-auth"), shownIn("auth.method", mode));
  const method = settings.profile.auth.method;
  // OAuth2 shares the user name and mechanism fields; the password stays hidden.
  show(byId(root, "auth-password-fields"), method === "password" || method === "oauth2");
  show(byId(root, "password").closest<HTMLElement>(".field") ?? byId(root, "password"), method === "password");
  show(byId(root, "auth-oauth-fields"), method === "oauth2");
  show(byId(root, "mode-note-off"), mode === "off");
  show(byId(root, "mode-note-direct"), mode === "direct");
  show(byId(root, "section-signing"), shownIn("dkim.enabled", mode));
  show(byId(root, "section-deliverability"), mode === "relay" || mode === "direct");
  // The listener's details and the bounce cap wait, disabled, until their switch is on.
  const listenerOn = settings.profile.listener.enabled;
  show(byId(root, "listener-note"), listenerOn);
  byId<HTMLInputElement>(root, "listener-port").disabled = !listenerOn;
  byId<HTMLInputElement>(root, "listener-username").disabled = !listenerOn;
  byId<HTMLInputElement>(root, "listener-password").disabled = !usesListenerPassword(settings);
  byId<HTMLInputElement>(root, "bounces-max_per_hour").disabled = !settings.profile.bounces.send;
}

export function renderMessages(root: HTMLElement, shown: Shown): void {
  for (const key of MESSAGE_KEYS) {
    const id = fieldId(key);
    const errors = shown.errors.filter((i) => i.field === key);
    const errorEl = root.querySelector<HTMLElement>(`#${id}-error`);
    const warningEl = root.querySelector<HTMLElement>(`#${id}-warning`);
    if (errorEl) fillMessage(errorEl, "Error:", errors.map((i) => describeIssue(key, i.message)));
    // The keyring's own trouble is shown in the password's warning slot (see renderPassword).
    const isPassword = key === PASSWORD || key === LISTENER_PASSWORD;
    if (warningEl && !isPassword) {
      fillMessage(warningEl, "Warning:", shown.warnings.filter((i) => i.field === key).map((i) => i.message));
    }
    const controlEl = key === "mode" ? byId(root, "mode-fieldset") : root.querySelector<HTMLElement>(`#${id}`);
    if (!controlEl) continue;
    if (errors.length) controlEl.setAttribute("aria-invalid", "true");
    else controlEl.removeAttribute("aria-invalid");
    const described = [
      root.querySelector(`#${id}-help`) ? `${id}-help` : "",
      isPassword ? `${id}-state` : "",
      root.querySelector(`#${id}-scope`)?.hasAttribute("hidden") === false ? `${id}-scope-text` : "",
      warningEl && !warningEl.hidden ? warningEl.id : "",
      errorEl && !errorEl.hidden ? errorEl.id : "",
    ].filter(Boolean);
    if (described.length) controlEl.setAttribute("aria-describedby", described.join(" "));
    else controlEl.removeAttribute("aria-describedby");
  }
  show(byId(root, "connection-anonymous-warning"), shown.warnings.some((w) => w.field === "auth.method"));
}

export function renderSummary(root: HTMLElement, errors: Issue[], mode: Mode): void {
  byId(root, "error-summary-list").replaceChildren(
    ...errors.map((issue) => {
      const li = make("li");
      const link = make("a", "", label(issue.field));
      link.href = `#${fieldId(issue.field)}`;
      link.dataset.field = issue.field;
      li.append(link, describeIssue(issue.field, issue.message).slice(label(issue.field).length));
      if (!shownIn(issue.field, mode)) li.append(" (a relay setting: choose Relay under Mode to change it)");
      return li;
    }),
  );
  show(byId(root, "error-summary"), errors.length > 0);
}

/** The line beside a password field (`id`: "password" or "listener-password") and its Clear button. */
export function renderPassword(root: HTMLElement, password: PasswordState, id = "password"): void {
  const state = byId(root, `${id}-state`);
  const clear = byId<HTMLButtonElement>(root, `${id}-clear`);
  state.textContent = password.statusText();
  state.classList.toggle("saved", password.showsSaved());
  show(clear, password.canClear());
  clear.textContent = password.clear ? "Keep saved password" : "Clear saved password";
  const problem = password.keyringProblem;
  fillMessage(byId(root, `${id}-warning`), "Warning:", problem ? [problem.hint ? `${problem.message} ${problem.hint}` : problem.message] : []);
}

/** The banner at the top: what is wrong with the file and, while it is read-only, what to do. */
export function renderNotice(root: HTMLElement, text: string, readOnly: ReadOnly | null): void {
  byId(root, "load-notice-text").textContent = text;
  show(byId(root, "load-notice"), text !== "");
  show(byId(root, "read-only-actions"), readOnly !== null);
  // A file that cannot be read at all cannot be replaced from here either.
  show(byId(root, "start-from-defaults"), readOnly !== null && readOnly.kind !== "unreadable");
  byId<HTMLInputElement>(root, "settings-file-path").value = readOnly?.path ?? "";
}

export function renderConflict(root: HTMLElement, fields: string[]): void {
  byId(root, "conflict-list").replaceChildren(...fields.map((f) => make("li", "", label(f))));
  show(byId(root, "conflict"), fields.length > 0);
}

/** What the form needs to mark each field's scope: the profile shown, its overrides, the locks and Global's values. */
export interface ScopeView {
  profile: string;
  overridden: ReadonlySet<string>;
  locks: readonly Lock[];
  global: Profile;
}

/** Marks each field inherited, overridden, Global-only or locked; disables the controls that can't be edited here. Runs after renderSections, whose switches it only adds to. */
export function renderScope(root: HTMLElement, view: ScopeView): void {
  for (const f of FIELDS) {
    const key = f.name;
    const id = fieldId(key);
    const slot = root.querySelector<HTMLElement>(`#${id}-scope`);
    if (!slot) continue;
    const scope = fieldScope(key, view.profile, view.overridden, view.locks);
    const controls = key === "mode" ? [...root.querySelectorAll<HTMLInputElement>('input[name="mode"]')] : [byId<HTMLInputElement>(root, id)];
    const fixed = scope === "inherited" || scope === "global_only" || scope === "locked";
    for (const c of controls) {
      if (fixed) c.disabled = true;
      else if (!SWITCHED.has(key)) c.disabled = false;
    }
    const text = byId(root, `${id}-scope-text`);
    const action = byId<HTMLButtonElement>(root, `${id}-scope-action`);
    const name = label(key);
    let words = "";
    let button = "";
    if (scope === "locked") words = view.locks.find((l) => l.field === key)?.reason ?? "Locked by the admin policy";
    else if (scope === "global_only") words = "Set in Global (for the whole machine)";
    else if (scope === "inherited") {
      words = `Inherited from Global: ${optionText(controls[0], valueAt(view.global, key))}`;
      button = "Override";
      action.setAttribute("aria-label", `Override: ${name}`);
    } else if (scope === "overridden") {
      words = "Overridden in this profile";
      button = "Reset to Global";
      action.setAttribute("aria-label", `Reset to Global: ${name}`);
    }
    text.textContent = words;
    action.textContent = button;
    show(action, button !== "");
    show(slot, words !== "");
    slot.dataset.scope = scope;
  }
}

/** A value as its control words it: a choice by its option's text ("STARTTLS (usually port 587)", not start_tls). */
function optionText(control: HTMLInputElement | HTMLSelectElement | undefined, value: JsonValue | undefined): string {
  if (control instanceof HTMLSelectElement) {
    const option = [...control.options].find((o) => o.value === value);
    if (option) return option.textContent ?? shownValue(value);
  }
  return shownValue(value);
}

/** The controls renderSections enables and disables by their switch. */
const SWITCHED = new Set(["listener.port", "listener.username", "bounces.max_per_hour"]);

/** The profile bar: each profile (Global first, the default marked) and which buttons apply to the one shown. */
export function renderProfiles(root: HTMLElement, names: readonly string[], defaultName: string, selected: string): void {
  let select = byId<HTMLSelectElement>(root, "profile-select");
  if (select.value !== selected && select.options.length > 0) {
    // WebKit fires "change" only when the choice differs from the last one the user made, which a
    // script setting the value does not move: after "Keep editing" put back the profile shown,
    // choosing the same other profile again would do nothing. A fresh select starts clean.
    const fresh = select.cloneNode(true) as HTMLSelectElement;
    const focused = root.ownerDocument.activeElement === select;
    select.replaceWith(fresh);
    select = fresh;
    if (focused) fresh.focus();
  }
  const text = (n: string) => `${isGlobal(n) ? "Global" : n}${n === defaultName ? " (default)" : ""}`;
  const wanted = names.map((n) => `${n}\u0000${text(n)}`).join("\u0001");
  if (select.dataset.options !== wanted) {
    select.replaceChildren(...names.map((n) => make("option", "", text(n))));
    names.forEach((n, i) => {
      const option = select.options[i];
      if (option) option.value = n;
    });
    select.dataset.options = wanted;
  }
  select.value = selected;
  byId<HTMLButtonElement>(root, "profile-rename").disabled = isGlobal(selected);
  byId<HTMLButtonElement>(root, "profile-delete").disabled = isGlobal(selected);
  byId<HTMLButtonElement>(root, "profile-default").disabled = selected === defaultName;
}

/** The banner saying the admin policy file can't be used and sending is stopped. */
export function renderPolicy(root: HTMLElement, problem: string | null, path: string): void {
  byId(root, "policy-invalid-text").textContent = problem
    ? `Sending is stopped: the admin policy file can't be used (${problem}). Nothing is sent until whoever manages this machine fixes or removes it.`
    : "";
  byId(root, "policy-invalid-path").textContent = path;
  show(byId(root, "policy-invalid"), problem !== null);
}
