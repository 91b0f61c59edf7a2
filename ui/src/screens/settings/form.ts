/** The settings form's behaviour: edits and input help, asking the core for its verdict, loading, saving and outside changes. */

import { byId, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import { Lifetime } from "../../lifecycle";
import {
  fieldId,
  isKeyringProblem,
  type ErrorReport,
  type FormValues,
  type LoadedSettings,
  type ReadOnly,
  type Security,
  type Settings,
} from "../../model";
import { portAfterSecurityChange, splitHostPort } from "../../host-port";
import { FormFields, LISTENER_PASSWORD, normalise, sameSettings, shownIn, unreadableMessage, unreadableNumbers } from "./fields";
import { OAuthSignIn } from "./oauth";
import { PasswordState, usesListenerPassword, usesServerPassword } from "./password";
import { DeliveryServiceSwitch } from "./service";
import { renderConflict, renderMessages, renderNotice, renderPassword, renderPolicy, renderProfiles, renderScope, renderSections, renderSummary } from "./render";
import { compose, GLOBAL, isGlobal, overridesOf, perProfile, resolve, valueAt, withLocks, withValue } from "./scope";
import { ProfileDialog } from "./profiles";
import { TransferButtons } from "./transfer";
import { FindSettings } from "./detect";
import type { Lock } from "../../generated/Lock";
import { Trial } from "./trial";
import { DkimCard } from "./dkim-card";
import { Deliverability } from "./deliverability";
import { Verdict } from "./verdict";
import { reportText } from "../../report-text";

type StatusKind = "ok" | "error" | "info" | "";

export class SettingsForm {
  private readonly form: HTMLFormElement;
  private readonly saveButton: HTMLButtonElement;
  private readonly passwordInput: HTMLInputElement;
  private readonly listenerPasswordInput: HTMLInputElement;
  private readonly fields: FormFields;
  private readonly verdict = new Verdict();
  private readonly password = new PasswordState(usesServerPassword);
  private readonly listenerPassword = new PasswordState(usesListenerPassword);
  private readonly life = new Lifetime();
  private baseline: Settings | null = null;
  /** The settings as last read from or written to the file: what the next save's changes are measured from. */
  private base: Settings | null = null;
  /** Set while the file cannot be used as it is; nothing is saved until it is fixed or replaced. */
  private readOnly: ReadOnly | null = null;
  /** The fields of the last refused save that were changed in the file too. */
  private conflictFields: string[] = [];
  private dirty = false;
  private saving = false;
  private lastSecurity: Security = "start_tls";
  private checkSeq = 0;
  private readonly trial: Trial;
  private readonly dirtyListeners: ((dirty: boolean) => void)[] = [];
  private readonly service: DeliveryServiceSwitch;
  /** The profile the form shows and edits (`global` for Global). */
  private selected = GLOBAL;
  /** The keys the shown named profile overrides (its own values); the rest show Global's. */
  private overridden = new Set<string>();
  private locks: Lock[] = [];
  private profileNames: string[] = [GLOBAL];
  private defaultProfile = GLOBAL;
  private readonly profileDialog: ProfileDialog;
  private readonly oauth: OAuthSignIn;
  private readonly dkimCard: DkimCard;
  private readonly deliverability: Deliverability;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    private readonly checkDelayMs: number,
  ) {
    this.form = byId<HTMLFormElement>(root, "settings-form");
    this.saveButton = byId<HTMLButtonElement>(root, "save");
    this.passwordInput = byId<HTMLInputElement>(root, "password");
    this.listenerPasswordInput = byId<HTMLInputElement>(root, "listener-password");
    this.fields = new FormFields(root);
    this.service = new DeliveryServiceSwitch(root, ipc, this.life);
    this.profileDialog = new ProfileDialog(root, ipc, this.life, {
      names: () => this.profileNames,
      selected: () => this.selected,
      loaded: (loaded, show) => this.afterProfileChange(loaded, show),
      status: (text, kind) => this.setStatus(text, kind),
      dirty: () => this.dirty,
    });
    new TransferButtons(root, ipc, this.life, {
      dirty: () => this.dirty,
      confirmDiscard: () => this.profileDialog.confirmDiscard(),
      loaded: (loaded) => this.afterProfileChange(loaded, null),
      status: (text, kind) => this.setStatus(text, kind),
    });
    new FindSettings(root, ipc, this.life, {
      fromAddress: () => byId<HTMLInputElement>(root, "sender-from_address").value.trim(),
      status: (text, kind) => this.setStatus(text, kind),
    });
    this.oauth = new OAuthSignIn(root, ipc, this.life, {
      profile: () => this.selected,
      auth: () => this.fields.read().profile.auth,
    });
    this.dkimCard = new DkimCard(root, ipc, this.life, { profile: () => this.selected });
    this.deliverability = new Deliverability(root, ipc, this.life, { profile: () => this.selected });
    // Validate in Direct mode shows the deliverability lines beside its steps.
    this.life.on(byId(root, "form-validate"), "click", () => {
      if (this.fields.read().profile.mode === "direct") void this.deliverability.run();
    });
    this.wire();
    this.life.subscribe(this.ipc.onSettingsChanged(() => void this.onExternalChange()));
    this.trial = new Trial(root, ipc, this.life, {
      values: () => this.valuesToTry(),
      refused: (settings, err) => this.refusedToTry(settings, err),
      canSave: (settings) => this.dirty && sameSettings(settings, this.fields.read()),
      save: () => void this.save(),
    });
  }

  // ---- events ----

  private wire(): void {
    const on = this.life.on.bind(this.life);
    const click = (id: string, handler: () => void) => on(byId(this.root, id), "click", handler);
    on(this.form, "submit", (e) => {
      e.preventDefault();
      void this.save();
    });
    on(this.form, "input", (e) => this.onEdit(e, false));
    on(this.form, "change", (e) => this.onEdit(e, true));
    on(this.form, "focusout", (e) => {
      const target = e.target as HTMLInputElement;
      if (target.name === "relay.host") this.splitHost(true);
      if (target.name && target.type !== "radio") this.touch(target.name);
    });
    click("revert", () => this.revert());
    // Delegated: the profile select is replaced when a script sets its value (see renderProfiles).
    on(this.form, "change", (e) => {
      const target = e.target as HTMLSelectElement;
      if (target.id === "profile-select") void this.switchTo(target.value);
    });
    on(this.form, "click", (e) => {
      const button = (e.target as HTMLElement).closest<HTMLButtonElement>("button[data-scope-key]");
      if (button) this.toggleOverride(button.dataset.scopeKey ?? "");
    });
    click("password-clear", () => {
      this.password.clear = !this.password.clear;
      this.afterEdit();
    });
    click("listener-password-clear", () => {
      this.listenerPassword.clear = !this.listenerPassword.clear;
      this.afterEdit();
    });
    click("external-change-reload", () => void this.reloadFromDisk(true));
    click("conflict-reload", () => void this.reloadFromDisk(false));
    click("conflict-keep", () => void this.save(this.conflictFields));
    click("start-from-defaults", () => void this.startFromDefaults());
    click("copy-settings-path", () => void this.copyPath());
    click("external-change-keep", () => {
      show(byId(this.root, "external-change"), false);
      this.form.querySelector<HTMLElement>('input[name="mode"]:checked')?.focus();
    });
    on(byId(this.root, "error-summary-list"), "click", (e) => {
      const link = (e.target as HTMLElement).closest<HTMLAnchorElement>("a[data-field]");
      if (!link) return;
      e.preventDefault();
      this.focusField(link.dataset.field ?? "");
    });
  }

  private onEdit(e: Event, committed: boolean): void {
    const target = e.target as HTMLInputElement | HTMLSelectElement;
    const key = target.name;
    if (!key || target.id === "form-test-recipient" || target.id.startsWith("profile-")) return;
    if (key === "password") this.password.typed = this.passwordInput.value;
    if (key === LISTENER_PASSWORD) this.listenerPassword.typed = this.listenerPasswordInput.value;
    if (key === "relay.host") {
      // A paste (or a scripted change) splits at once; typing splits when the field is left.
      const inputType = (e as InputEvent).inputType;
      const pasted = !inputType || inputType.startsWith("insertFrom");
      if (committed || pasted) this.splitHost(committed);
    }
    if (key === "relay.security" && committed) {
      const security = target.value as Security;
      const port = this.fields.control("relay.port");
      const moved = portAfterSecurityChange(Number(port.value), this.lastSecurity, security);
      if (String(moved) !== port.value && port.value.trim() !== "" && this.editable("relay.port")) port.value = String(moved);
      this.lastSecurity = security;
    }
    if (committed || target.type === "radio" || target.type === "checkbox" || target.tagName === "SELECT") this.touch(key);
    if (key === "auth.method" && committed) void this.oauth.refresh();
    this.afterEdit();
  }

  /** Moves the port out of a pasted `host:port` (or `[v6]:port`) into the Port field. */
  private splitHost(trim: boolean): void {
    const host = this.fields.control("relay.host");
    const parts = splitHostPort(host.value);
    const bracketed = host.value.trim().startsWith("[");
    if (parts.port !== null) {
      host.value = parts.host;
      // The port typed with the host is this profile's own, like the host.
      if (!isGlobal(this.selected) && perProfile("relay.port") && !this.locked("relay.port")) this.overridden.add("relay.port");
      this.fields.control("relay.port").value = String(parts.port);
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
    if (this.verdict.touch(key)) this.render();
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
    void this.service.load();
    try {
      this.apply(await this.ipc.loadSettings());
    } catch (e) {
      const err = toErrorReport(e);
      renderNotice(this.root, `The settings could not be loaded: ${reportText(err)}`, null);
      this.render();
    }
  }

  private apply(loaded: LoadedSettings): void {
    this.fields.control("ehlo_name").placeholder = loaded.machine_name ? `this machine: ${loaded.machine_name}` : "";
    this.locks = loaded.locks ?? [];
    this.profileNames = loaded.profile_names ?? [GLOBAL];
    this.defaultProfile = loaded.default_profile ?? GLOBAL;
    // A profile deleted or renamed elsewhere: Global is shown instead.
    if (!this.profileNames.includes(this.selected)) this.selected = GLOBAL;
    renderPolicy(this.root, loaded.policy_problem ?? null, loaded.policy_file ?? "");
    this.base = loaded.settings;
    this.fillFrom(loaded.settings);
    void this.oauth.refresh();
    void this.dkimCard.refresh();
    this.baseline = this.read();
    this.readOnly = loaded.read_only ?? null;
    this.conflictFields = [];
    renderConflict(this.root, []);
    this.settlePasswords();
    // The core's report came with the settings (Global's): shown at once, no round trip.
    const report = isGlobal(this.selected) ? (loaded.report ?? null) : null;
    this.checkSeq++;
    this.verdict.reset(this.fields.read(), report);
    renderNotice(this.root, loaded.notice ?? "", this.readOnly);
    show(byId(this.root, "external-change"), false);
    this.render();
    if (!report) this.scheduleCheck(0);
  }

  /** Fills the form with profile `this.selected` of `settings` as it resolves, locks applied: never values of another profile. */
  private fillFrom(settings: Settings): void {
    const shown = withLocks(resolve(settings, this.selected), this.locks);
    this.overridden = new Set(Object.keys(overridesOf(settings, this.selected)).filter((k) => perProfile(k) && !this.locked(k)));
    this.fields.fill(normalise({ ...settings, profile: shown }));
    this.lastSecurity = shown.relay.security;
  }

  /** The whole settings the form stands for: the profile shown put back into what was loaded. */
  private read(): Settings {
    const view = this.fields.read();
    return normalise(compose(this.base ?? view, this.selected, view.profile, this.overridden));
  }

  private locked(key: string): boolean {
    return this.locks.some((l) => l.field === key);
  }

  /** Whether the shown profile's `key` can be changed here (not inherited, Global-only or locked). */
  private editable(key: string): boolean {
    if (this.locked(key)) return false;
    return isGlobal(this.selected) || (perProfile(key) && this.overridden.has(key));
  }

  /** Global's values as every profile inherits them (locks applied). */
  private globalProfile(): Settings["profile"] {
    return withLocks((this.base ?? this.fields.read()).profile, this.locks);
  }

  /** "Override" makes the field this profile's own (same value to start); "Reset to Global" inherits Global's again. */
  private toggleOverride(key: string): void {
    if (!key || isGlobal(this.selected) || !perProfile(key) || this.locked(key)) return;
    const view = this.fields.read();
    if (this.overridden.has(key)) {
      this.overridden.delete(key);
      const globalValue = valueAt(this.globalProfile(), key);
      if (globalValue !== undefined) this.fields.fill(normalise({ ...view, profile: withValue(view.profile, key, globalValue) }));
      this.touch(key);
      this.afterEdit();
      this.root.querySelector<HTMLElement>(`#${fieldId(key)}-scope-action`)?.focus();
      return;
    }
    this.overridden.add(key);
    this.afterEdit();
    const control = key === "mode" ? this.form.querySelector<HTMLElement>('input[name="mode"]:checked') : this.root.querySelector<HTMLElement>(`#${fieldId(key)}`);
    control?.focus();
  }

  /** Shows profile `name`, re-filled from the saved settings; unsaved edits are discarded only after asking. */
  private async switchTo(name: string): Promise<void> {
    if (name === this.selected) return;
    if (this.dirty && !(await this.profileDialog.confirmDiscard())) {
      renderProfiles(this.root, this.profileNames, this.defaultProfile, this.selected);
      byId(this.root, "profile-select").focus();
      return;
    }
    this.selected = name;
    this.showSelected();
    this.setStatus(`Editing ${isGlobal(name) ? "Global" : `profile ${name}`}`, "info");
  }

  /** Re-fills the form with the selected profile from the saved settings, its password state and verdict fresh. */
  private showSelected(): void {
    if (!this.base) return;
    this.fillFrom(this.base);
    this.baseline = this.read();
    this.settlePasswords();
    this.password.saved = null;
    this.listenerPassword.saved = null;
    this.conflictFields = [];
    renderConflict(this.root, []);
    this.checkSeq++;
    this.verdict.reset(this.fields.read(), null);
    this.render();
    this.scheduleCheck(0);
    void this.refreshPasswordStatus();
    void this.oauth.refresh();
  }

  /** After a profile was created, renamed, deleted or made the default: the file as written, showing `show` if given. */
  private afterProfileChange(loaded: LoadedSettings, showName: string | null): void {
    if (showName !== null) this.selected = showName;
    // A profile command discards unsaved edits (the user was asked): the form shows the file as written.
    this.apply(loaded);
    void this.refreshPasswordStatus();
  }

  private async startFromDefaults(): Promise<void> {
    try {
      this.apply(await this.ipc.startFromDefaults());
      this.setStatus("Started from defaults; the old file was kept as a backup", "info");
    } catch (e) {
      const err = toErrorReport(e);
      this.setStatus(`Could not start from defaults: ${reportText(err)}`, "error");
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

  /** After loading, saving or reverting: both password fields empty, nothing to set or clear. */
  private settlePasswords(): void {
    this.passwordInput.value = "";
    this.password.settle();
    this.listenerPasswordInput.value = "";
    this.listenerPassword.settle();
  }

  private async refreshPasswordStatus(): Promise<void> {
    const ask = async (state: PasswordState, status: () => Promise<{ saved: boolean }>, id: string) => {
      try {
        state.saved = (await status()).saved;
        state.keyringProblem = null;
      } catch (e) {
        state.saved = null;
        state.keyringProblem = toErrorReport(e);
      }
      renderPassword(this.root, state, id);
    };
    await Promise.all([
      ask(this.password, () => this.ipc.passwordStatus(this.selected), "password"),
      ask(this.listenerPassword, () => this.ipc.listenerPasswordStatus(this.selected), "listener-password"),
    ]);
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
    const readOnlyNow = (loaded.read_only ?? null) !== null;
    if (this.baseline && this.base && sameSettings(loaded.settings, this.base) && this.readOnly === null && !readOnlyNow) return;
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

  // ---- the core's verdict ----

  private scheduleCheck(delay = this.checkDelayMs): void {
    this.life.timeout("check", delay, () => void this.runCheck());
  }

  private async runCheck(): Promise<void> {
    const settings = this.fields.read();
    // A number the core cannot even read is marked here; asking would only fail.
    const unreadable = unreadableNumbers(settings);
    this.verdict.setLocal(unreadable.map((field) => ({ field, message: unreadableMessage(field) })));
    if (unreadable.length) return this.render();
    const seq = ++this.checkSeq;
    const asked = performance.now();
    try {
      const report = await this.ipc.checkSettings(settings);
      if (seq !== this.checkSeq || this.life.disposed) return;
      this.verdict.accept(settings, report);
      this.render();
      // The verdict's round trip, for scripts/bench-app.sh and the window tests.
      this.form.dataset.checkMs = (performance.now() - asked).toFixed(1);
    } catch {
      // The last verdict stays; the core has the last word on save.
    }
  }

  // ---- showing ----

  private render(): void {
    const settings = this.fields.read();
    const shown = this.verdict.shown(settings);
    renderSections(this.root, settings);
    renderScope(this.root, { profile: this.selected, overridden: this.overridden, locks: this.locks, global: this.globalProfile() });
    renderProfiles(this.root, this.profileNames, this.defaultProfile, this.selected);
    renderMessages(this.root, shown);
    renderSummary(this.root, shown.summary, settings.profile.mode);
    renderPassword(this.root, this.password);
    renderPassword(this.root, this.listenerPassword, "listener-password");
    this.updateDirty(this.read());
    this.trial?.update();
  }

  private updateDirty(settings: Settings): void {
    const dirty = this.baseline !== null && (!sameSettings(settings, this.baseline) || this.password.pending(settings) || this.listenerPassword.pending(settings));
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
    const settings = this.fields.read();
    if (!shownIn(key, settings.profile.mode)) {
      byId(this.root, "mode-relay").focus();
      return;
    }
    const target =
      key === "mode"
        ? (this.form.querySelector<HTMLElement>('input[name="mode"]:checked') ?? byId(this.root, "mode-off"))
        : this.root.querySelector<HTMLElement>(`#${fieldId(key)}`);
    target?.focus();
  }

  /** Shows every error, with the summary focused; false when there are none to show. */
  private showErrors(settings: Settings): boolean {
    this.verdict.submitted = true;
    this.render();
    if (!this.verdict.blocks(settings)) return false;
    byId(this.root, "error-summary").focus();
    return true;
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
    const settings = this.fields.read();
    const whole = this.read();
    // The core's verdict on exactly these values first (a round trip of about a millisecond): its
    // errors refuse here, with every one shown; the save itself checks again.
    if (!this.verdict.isCurrent(settings)) await this.runCheck();
    if (this.showErrors(settings)) {
      this.setStatus("Not saved: correct the fields marked", "error");
      return false;
    }
    const key = JSON.stringify(whole);
    this.saving = true;
    this.saveButton.disabled = true;
    this.setStatus("Saving…", "info");
    try {
      const result = await this.ipc.saveSettings(
        whole,
        this.base,
        this.password.action(settings),
        keepMine,
        this.listenerPassword.action(settings),
        this.selected,
      );
      // The file now holds this form's changes merged with any made elsewhere meanwhile.
      this.base = result.settings;
      const unchangedSince = JSON.stringify(this.read()) === key;
      if (unchangedSince) this.fillFrom(result.settings);
      this.baseline = normalise(compose(result.settings, this.selected, withLocks(resolve(result.settings, this.selected), this.locks), new Set(Object.keys(overridesOf(result.settings, this.selected)).filter((k) => perProfile(k) && !this.locked(k)))));
      this.conflictFields = [];
      renderConflict(this.root, []);
      this.settlePasswords();
      if (result.password_saved !== null) {
        this.password.saved = result.password_saved;
        this.password.keyringProblem = null;
      }
      if (result.listener_password_saved !== null) {
        this.listenerPassword.saved = result.listener_password_saved;
        this.listenerPassword.keyringProblem = null;
      }
      if (isGlobal(this.selected)) this.verdict.accept(normalise(result.settings), result.report);
      else this.scheduleCheck(0);
      // Edits made while the save was under way stay marked as they were.
      if (unchangedSince) this.verdict.untouchAll();
      this.render();
      this.setStatus("Saved", "ok");
      return true;
    } catch (e) {
      const err = toErrorReport(e);
      const issues = this.refuse(settings, err);
      if (isKeyringProblem(err.kind)) this.password.keyringProblem = err;
      this.conflictFields = err.kind === "settings_conflict" ? issues.map((i) => i.field) : [];
      renderConflict(this.root, this.conflictFields);
      this.render();
      this.setStatus(`Not saved: ${reportText(err)}`, "error");
      if (err.kind === "settings_conflict") byId(this.root, "conflict").focus();
      else if (issues.length) byId(this.root, "error-summary").focus();
      return false;
    } finally {
      this.saving = false;
      this.saveButton.disabled = false;
    }
  }

  /** Marks the fields the core refused these settings for; returns its issues. */
  private refuse(settings: Settings, err: ErrorReport): { field: string; message: string }[] {
    const raw = err.issues?.length ? err.issues : err.field ? [{ field: err.field, message: err.message }] : [];
    // A named profile's fields come back as profiles.NAME.KEY: the form shows them by KEY.
    const prefix = `profiles.${this.selected}.`;
    const issues = raw.map((i) => (i.field.startsWith(prefix) ? { ...i, field: i.field.slice(prefix.length) } : i));
    this.verdict.refuse(settings, issues);
    return issues;
  }

  private revert(): void {
    if (!this.baseline || !this.base) return;
    this.fillFrom(this.baseline);
    this.settlePasswords();
    this.verdict.untouchAll();
    show(byId(this.root, "external-change"), false);
    this.render();
    this.setStatus("Changes reverted", "info");
    this.scheduleCheck(0);
  }

  // ---- trying the form's values (trial.ts) ----

  /** The values a run tries, or null (with the problem shown) when the core can't be asked about them. */
  private valuesToTry(): { settings: Settings; values: FormValues } | null {
    this.splitHost(true);
    const settings = this.fields.read();
    if (unreadableNumbers(settings).length) {
      this.showErrors(settings);
      return null;
    }
    return { settings, values: { settings: this.read(), password: this.password.action(settings), profile: this.selected } };
  }

  /** The core refused to try these values: their fields are marked as a save's would be. */
  private refusedToTry(settings: Settings, err: ErrorReport): boolean {
    if (!err.issues?.length && !err.field) {
      if (isKeyringProblem(err.kind)) this.password.keyringProblem = err;
      return false;
    }
    this.refuse(settings, err);
    this.showErrors(settings);
    return true;
  }

  // ---- the outside ----

  /** The profile the form shows (`global` for Global). */
  profile(): string {
    return this.selected;
  }

  isDirty(): boolean {
    return this.dirty;
  }

  onDirtyChange(listener: (dirty: boolean) => void): void {
    this.dirtyListeners.push(listener);
  }

  destroy(): void {
    this.life.dispose();
  }
}
