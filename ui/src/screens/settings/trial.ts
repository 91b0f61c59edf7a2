/** Trying the settings form's values before they are saved: Validate and Send test email beside Save, the run's verdict, and Save offered after a pass. */

import { byId, formatDuration, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import type { Lifetime } from "../../lifecycle";
import type { ErrorReport, FormValues, Outcome, SendResult, Settings } from "../../model";
import { reportText } from "../../report-text";

/** A validation or test email of the form's values, under way. */
interface FormRun {
  id: number | null;
  kind: "validate" | "send";
  /** The settings tried, so a pass can be offered for saving only while the form still shows them. */
  settings: Settings;
}

/** What a trial needs of the form. */
export interface TrialForm {
  /** The values to try, or null (with the problem shown) when there are none to try. */
  values(): { settings: Settings; values: FormValues } | null;
  /** The core refused to try these values; true when the form has marked the fields it names. */
  refused(settings: Settings, err: ErrorReport): boolean;
  /** Whether Save should be offered for these (passed) settings. */
  canSave(settings: Settings): boolean;
  save(): void;
}

export class Trial {
  private run: FormRun | null = null;
  /** Run ends that arrived before the run's id did (Rust may emit before the page reads it). */
  private readonly earlyEnds = new Map<number, () => void>();

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    life: Lifetime,
    private readonly form: TrialForm,
  ) {
    const click = (id: string, handler: () => void) => life.on(byId(root, id), "click", handler);
    click("form-validate", () => void this.startRun("validate"));
    click("form-send-test", () => void this.startRun("send"));
    click("form-run-cancel", () => this.cancelRun());
    click("form-run-save", () => form.save());
    life.on(byId(root, "form-test-recipient"), "input", () => this.showRecipientError(null));
    life.subscribe(ipc.onValidationStep((e) => this.run?.id === e.run_id && this.runStatus(`Checking: ${e.step.title}…`)));
    life.subscribe(ipc.onValidationFinished((e) => this.endRun(e.run_id, () => this.showOutcome(e.outcome))));
    life.subscribe(ipc.onSendTestFinished((e) => this.endRun(e.run_id, () => ("result" in e ? this.showSent(e.result) : this.showRunError(e.error)))));
  }

  private async startRun(kind: FormRun["kind"]): Promise<void> {
    if (this.run) return;
    const tried = this.form.values();
    if (!tried) return;
    const { settings, values } = tried;
    const recipient = byId<HTMLInputElement>(this.root, "form-test-recipient").value.trim();
    if (kind === "send" && recipient === "") {
      this.showRecipientError("Enter the address to send the test email to, e.g. you@example.com.");
      return;
    }
    this.showRecipientError(null);
    const run: FormRun = { id: null, kind, settings };
    this.run = run;
    this.update();
    this.showRunResult("running", kind === "validate" ? "Validating these settings…" : "Sending a test email…", "");
    byId(this.root, "form-run-cancel").focus();
    try {
      const started = kind === "validate" ? await this.ipc.validateStart(recipient || null, values) : await this.ipc.sendTestStart(recipient, values);
      run.id = started.run_id;
      const early = this.earlyEnds.get(started.run_id);
      this.earlyEnds.delete(started.run_id);
      early?.();
    } catch (e) {
      this.run = null;
      this.showRunError(toErrorReport(e), settings);
    }
  }

  private cancelRun(): void {
    if (this.run?.id != null) void this.ipc.cancelRun(this.run.id).catch(() => undefined);
  }

  /** Handles a run's end now if it is ours, or keeps it until our run learns its id. */
  private endRun(runId: number, handle: () => void): void {
    if (this.run && this.run.id === runId) {
      handle();
    } else if (this.run && this.run.id === null) {
      this.earlyEnds.set(runId, handle);
      if (this.earlyEnds.size > 8) this.earlyEnds.delete(this.earlyEnds.keys().next().value as number);
    }
  }

  private runStatus(text: string): void {
    byId(this.root, "form-run-text").textContent = text;
  }

  private showOutcome(outcome: Outcome): void {
    const run = this.finishRun();
    const took = formatDuration(outcome.elapsed_ms);
    if (outcome.ok) {
      const warnings = outcome.warnings.length ? ` ${outcome.warnings.join(" ")}` : "";
      this.showRunResult("ok", `Validation passed in ${took}`, `Every step worked with these settings.${warnings}`, run);
    } else if (outcome.cancelled) {
      this.showRunResult("cancelled", `Validation cancelled after ${took}`, "");
    } else {
      const failed = outcome.steps.find((s) => s.status === "failed");
      const failure = outcome.failure ?? failed?.failure;
      this.showRunResult("failed", `Validation failed${failed ? ` at ${failed.title}` : ""}`, failure ? `${failure.message} ${failure.hint}` : "");
    }
  }

  private showSent(result: SendResult): void {
    const run = this.finishRun();
    const took = formatDuration(result.elapsed_ms);
    if (result.ok) this.showRunResult("ok", `Test email sent in ${took}`, `The server said: ${result.reply ?? ""}`, run);
    else if (result.failure?.category === "cancelled") this.showRunResult("cancelled", `Test email cancelled after ${took}`, "");
    else this.showRunResult("failed", "The test email was not sent", result.failure ? `${result.failure.message} ${result.failure.hint}` : (result.reply ?? ""));
  }

  /** A run refused before it started (bad values, keyring) or a test email that could not be sent. */
  private showRunError(err: ErrorReport, settings?: Settings): void {
    const tried = settings ?? this.finishRun()?.settings;
    if (err.field === "to" || err.field === "recipient" || err.kind === "invalid_recipient") {
      this.hideRunResult();
      this.showRecipientError(err.message);
      return;
    }
    if (tried && this.form.refused(tried, err)) {
      this.showRunResult("failed", "Not tried: correct the fields marked", "", null, false);
      return;
    }
    this.showRunResult("failed", "Not tried", reportText(err));
  }

  private finishRun(): FormRun | null {
    const run = this.run;
    this.run = null;
    this.update();
    return run;
  }

  private showRunResult(state: "running" | "ok" | "failed" | "cancelled", heading: string, text: string, passed: FormRun | null = null, focus = true): void {
    const box = byId(this.root, "form-run-result");
    box.className = `result form-run-result ${state}`;
    byId(this.root, "form-run-heading").textContent = heading;
    byId(this.root, "form-run-text").textContent = text;
    show(box, true);
    box.dataset.passed = passed ? JSON.stringify(passed.settings) : "";
    this.update();
    if (state !== "running" && focus) byId(this.root, "form-run-heading").focus();
  }

  private hideRunResult(): void {
    show(byId(this.root, "form-run-result"), false);
  }

  /** Validate and Send are off while a run is under way; after a pass, Save is offered while the form still shows what passed and differs from the file. */
  update(): void {
    const busy = this.run !== null;
    byId<HTMLButtonElement>(this.root, "form-validate").disabled = busy;
    byId<HTMLButtonElement>(this.root, "form-send-test").disabled = busy;
    show(byId(this.root, "form-run-cancel"), busy);
    const passed = byId(this.root, "form-run-result").dataset.passed;
    show(byId(this.root, "form-run-save"), !busy && !!passed && this.form.canSave(JSON.parse(passed) as Settings));
  }

  private showRecipientError(message: string | null): void {
    const input = byId<HTMLInputElement>(this.root, "form-test-recipient");
    const el = byId(this.root, "form-test-recipient-error");
    el.textContent = message ?? "";
    show(el, message !== null);
    if (message) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } else {
      input.removeAttribute("aria-invalid");
    }
  }
}
