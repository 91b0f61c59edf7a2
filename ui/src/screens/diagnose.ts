/** The Diagnose screen: step-by-step validation of the saved settings, its swaks-style transcript, and the test email; both runs can be cancelled. */

import { byId, formatDuration, make, show, srOnly } from "../dom";
import { toErrorReport, type Ipc } from "../ipc";
import { Lifetime } from "../lifecycle";
import type {
  ErrorReport,
  Failure,
  Outcome,
  SendResult,
  SendTestFinishedEvent,
  Step,
  StepStatus,
  TranscriptLine,
  ValidationFinishedEvent,
  ValidationStepEvent,
} from "../model";
import { reportText } from "../report-text";
import { runHealth } from "./settings/deliverability";

const MARKUP = `
<div class="diagnose">
  <h1 id="diagnose-heading" class="visually-hidden">Diagnose</h1>
  <form id="diagnose-form" class="section" novalidate aria-labelledby="diagnose-heading">
    <p class="intro">Checks the saved settings one step at a time: DNS, connection, greeting, EHLO, TLS,
      login and, with a test recipient, the envelope. Nothing is sent until you choose <em>Send test email</em>.</p>
    <p id="diagnose-unsaved" class="note note-warning" hidden><span class="icon" aria-hidden="true">⚠</span>
      You have unsaved changes. Validation and the test email use the saved settings.</p>
    <div class="field field-recipient">
      <label for="test-recipient">Test recipient <span class="unit">(optional for validation in Relay mode)</span></label>
      <input type="email" id="test-recipient" name="test-recipient" autocomplete="email" spellcheck="false"
        placeholder="you@example.com" aria-describedby="test-recipient-help">
      <p class="help" id="test-recipient-help">Checked with RCPT TO during validation, and where the test email goes.</p>
      <p class="field-message error" id="test-recipient-error" hidden></p>
    </div>
    <div class="actions">
      <button type="submit" id="validate" class="primary">Validate configuration</button>
      <button type="button" id="validate-cancel" disabled aria-keyshortcuts="Escape">Cancel</button>
      <span class="spacer"></span>
      <button type="button" id="send-test">Send test email</button>
      <button type="button" id="send-test-cancel" aria-keyshortcuts="Escape" hidden>Cancel sending</button>
    </div>
  </form>
  <p id="validate-status" class="run-status" role="status"></p>
  <div id="validate-result" class="result" hidden></div>
  <ol id="steps" class="steps" aria-label="Validation steps"></ol>
  <section id="diagnose-health" class="section deliverability" aria-labelledby="diagnose-health-heading" hidden>
    <h2 id="diagnose-health-heading" class="section-title">Deliverability</h2>
    <p id="diagnose-health-status" class="health-status" role="status"></p>
    <ul id="diagnose-health-lines" class="health-lines" aria-labelledby="diagnose-health-heading"></ul>
  </section>
  <details id="transcript" class="transcript" hidden>
    <summary>Transcript</summary>
    <pre id="transcript-text" tabindex="0"></pre>
  </details>
  <section id="send-result" class="result send-result" aria-labelledby="send-result-heading" hidden></section>
</div>`;

const STATUS_ICON: Record<StepStatus, string> = { ok: "✓", warning: "⚠", failed: "✕", skipped: "–" };
const STATUS_WORD: Record<StepStatus, string> = { ok: "Passed", warning: "Warning", failed: "Failed", skipped: "Skipped" };

/** The transcript as swaks prints it: `->` client, `<-` server, `~>`/`<~` inside TLS, `===` notes. */
export function formatTranscript(lines: TranscriptLine[]): string {
  const out: string[] = [];
  for (const line of lines) {
    const prefix =
      line.dir === "client" ? (line.tls ? "~> " : "-> ") : line.dir === "server" ? (line.tls ? "<~ " : "<- ") : "=== ";
    for (const part of line.text.replace(/\r?\n$/, "").split(/\r?\n/)) out.push(prefix + part);
  }
  return out.join("\n");
}

/** One step as a list item: icon, title, time, summary, failure with its hint, details. */
export function renderStep(step: Step): HTMLLIElement {
  const li = make("li", `step ${step.status}`);
  li.dataset.step = step.step;
  const head = make("div", "step-head");
  const icon = make("span", "step-icon", STATUS_ICON[step.status]);
  icon.setAttribute("aria-hidden", "true");
  head.append(icon, make("span", "step-title", step.title), srOnly(`: ${STATUS_WORD[step.status]}`));
  if (step.status !== "skipped") head.append(make("span", "step-time", formatDuration(step.duration_ms)));
  li.append(head);
  if (step.summary) li.append(make("p", "step-summary", step.summary));
  if (step.failure) li.append(renderFailure(step.failure));
  if (step.details.length) {
    const dl = make("dl", "step-details");
    for (const [label, value] of step.details) dl.append(make("dt", "", label), make("dd", "", value));
    li.append(dl);
  }
  return li;
}

function renderFailure(failure: Failure | ErrorReport): HTMLDivElement {
  const box = make("div", "failure");
  box.append(make("p", "failure-message", failure.message));
  if (failure.hint) box.append(make("p", "hint", failure.hint));
  return box;
}

export interface DiagnoseScreen {
  /** Shows a note that the checks use the saved settings while the form has unsaved edits. */
  setSettingsDirty(dirty: boolean): void;
  destroy(): void;
}

/** Builds the screen into `container` and wires it to `ipc`. */
export function mountDiagnose(container: HTMLElement, ipc: Ipc): DiagnoseScreen {
  container.innerHTML = MARKUP;
  return new Diagnose(container, ipc);
}

type RunEvent = ValidationStepEvent | ValidationFinishedEvent | SendTestFinishedEvent;

/** A validation or a test email under way (one at a time). */
interface Run {
  kind: "validate" | "send";
  /** null until the start command answers; events that arrive before are held. */
  id: number | null;
  held: RunEvent[];
  cancelRequested: boolean;
  /** Direct mode: the deliverability check started beside the steps. */
  health?: boolean;
  /** The test email's recipient. */
  to?: string;
}

class Diagnose implements DiagnoseScreen {
  private readonly recipient: HTMLInputElement;
  private readonly validateButton: HTMLButtonElement;
  private readonly cancelButton: HTMLButtonElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly sendCancelButton: HTMLButtonElement;
  private readonly steps: HTMLOListElement;
  private run: Run | null = null;
  private readonly life = new Lifetime();

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
  ) {
    this.recipient = byId<HTMLInputElement>(root, "test-recipient");
    this.validateButton = byId<HTMLButtonElement>(root, "validate");
    this.cancelButton = byId<HTMLButtonElement>(root, "validate-cancel");
    this.sendButton = byId<HTMLButtonElement>(root, "send-test");
    this.sendCancelButton = byId<HTMLButtonElement>(root, "send-test-cancel");
    this.steps = byId<HTMLOListElement>(root, "steps");

    const on = this.life.on.bind(this.life);
    on(byId(root, "diagnose-form"), "submit", (e) => {
      e.preventDefault();
      void this.validate();
    });
    on(this.cancelButton, "click", () => this.cancel());
    on(this.sendButton, "click", () => void this.sendTest());
    on(this.sendCancelButton, "click", () => this.cancel());
    on(this.recipient, "input", () => this.showRecipientError(null));
    on(root, "keydown", (e) => {
      if (e.key === "Escape" && this.run && !this.run.cancelRequested) {
        e.preventDefault();
        this.cancel();
      }
    });
    this.life.subscribe(ipc.onValidationStep((e) => this.onEvent(e)));
    this.life.subscribe(ipc.onValidationFinished((e) => this.onEvent(e)));
    this.life.subscribe(ipc.onSendTestFinished((e) => this.onEvent(e)));
  }

  private updateButtons(): void {
    const run = this.run;
    const busy = run !== null;
    this.validateButton.disabled = busy;
    this.sendButton.disabled = busy;
    this.cancelButton.disabled = run?.kind !== "validate" || run.cancelRequested;
    show(this.sendCancelButton, run?.kind === "send");
    this.sendCancelButton.disabled = run?.kind !== "send" || run.cancelRequested;
    this.root.querySelector(".diagnose")?.setAttribute("aria-busy", String(busy));
  }

  /** Announces progress; shown while a validation is under way, else only read out (the result box says it). */
  private status(text: string): void {
    const el = byId(this.root, "validate-status");
    el.textContent = text;
    el.classList.toggle("visually-hidden", this.run?.kind !== "validate");
  }

  /** The recipient; undefined (with the error shown) when one is needed and none is given. */
  private readRecipient(required: boolean): string | null | undefined {
    const value = this.recipient.value.trim();
    if (value === "") {
      if (!required) return null;
      this.showRecipientError("Enter the address to send the test email to, e.g. you@example.com.");
      return undefined;
    }
    // Whether it is an address is the core's to say: a refused one comes back naming this field.
    this.showRecipientError(null);
    return value;
  }

  private showRecipientError(message: string | null): void {
    const el = byId(this.root, "test-recipient-error");
    el.replaceChildren();
    if (message) {
      const icon = make("span", "icon", "✕");
      icon.setAttribute("aria-hidden", "true");
      el.append(icon, srOnly("Error:"), ` ${message}`);
      this.recipient.setAttribute("aria-invalid", "true");
      this.recipient.setAttribute("aria-describedby", "test-recipient-help test-recipient-error");
      this.recipient.focus();
    } else {
      this.recipient.removeAttribute("aria-invalid");
      this.recipient.setAttribute("aria-describedby", "test-recipient-help");
    }
    show(el, message !== null);
  }

  // ---- validation ----

  async validate(): Promise<void> {
    if (this.run) return;
    const recipient = this.readRecipient(false);
    if (recipient === undefined) return;
    this.steps.replaceChildren();
    show(byId(this.root, "diagnose-health"), false);
    show(byId(this.root, "validate-result"), false);
    show(byId(this.root, "transcript"), false);
    const run: Run = { kind: "validate", id: null, held: [], cancelRequested: false };
    this.run = run;
    this.updateButtons();
    this.status("Validating…");
    try {
      const started = await this.ipc.validateStart(recipient);
      if (this.run !== run) return;
      run.id = started.run_id;
      for (const event of run.held.splice(0)) this.onEvent(event);
      if (run.cancelRequested && this.run === run) this.sendCancel(run);
    } catch (e) {
      if (this.run !== run) return;
      this.run = null;
      this.updateButtons();
      const err = toErrorReport(e);
      if (err.field === "to" || err.field === "recipient") {
        this.status("");
        this.showRecipientError(reportText(err));
        return;
      }
      this.status(`Validation could not start: ${err.message}`);
      const result = byId(this.root, "validate-result");
      result.className = "result failed";
      result.replaceChildren(make("h2", "", "Validation could not start"), renderFailure(err));
      show(result, true);
    }
  }

  private cancel(): void {
    const run = this.run;
    if (!run || run.cancelRequested) return;
    const focusWasOnCancel = document.activeElement === this.sendCancelButton;
    run.cancelRequested = true;
    this.updateButtons();
    // The disabled button can't keep the focus; the result box takes it when the run ends.
    if (focusWasOnCancel) byId(this.root, "send-result-heading").focus();
    this.status("Cancelling…");
    if (run.id !== null) this.sendCancel(run);
  }

  private sendCancel(run: Run): void {
    if (run.id === null) return;
    this.ipc.cancelRun(run.id).catch((e) => this.status(`Could not cancel: ${toErrorReport(e).message}`));
  }

  private onEvent(event: RunEvent): void {
    const run = this.run;
    if (!run) return;
    if (run.id === null) {
      run.held.push(event);
      return;
    }
    if (event.run_id !== run.id) return;
    if (run.kind === "send") {
      if ("result" in event) this.finishSend(run, event.result, null);
      else if ("error" in event) this.finishSend(run, null, toErrorReport(event.error));
    } else if ("outcome" in event) this.finish(event.outcome);
    else if ("step" in event) {
      this.showStep(event.step);
      // Direct mode (its first step finds the MX): the deliverability lines go beside the steps.
      if (event.step.step === "mx" && !run.health) {
        run.health = true;
        show(byId(this.root, "diagnose-health"), true);
        void runHealth(this.ipc, undefined, undefined, byId(this.root, "diagnose-health-lines"), byId(this.root, "diagnose-health-status"));
      }
    }
  }

  private showStep(step: Step): void {
    const li = renderStep(step);
    const existing = this.steps.querySelector<HTMLLIElement>(`li[data-step="${step.step}"]`);
    if (existing) existing.replaceWith(li);
    else this.steps.append(li);
    this.status(`${step.title}: ${STATUS_WORD[step.status].toLowerCase()}`);
  }

  private finish(outcome: Outcome): void {
    const focusWasOnCancel = document.activeElement === this.cancelButton;
    this.run = null;
    this.updateButtons();
    if (focusWasOnCancel) this.validateButton.focus();
    if (outcome.steps.length) this.steps.replaceChildren(...outcome.steps.map(renderStep));

    const result = byId(this.root, "validate-result");
    const time = formatDuration(outcome.elapsed_ms);
    let heading: string;
    if (outcome.cancelled) heading = `Validation cancelled after ${time}`;
    else if (outcome.ok) {
      heading = outcome.warnings.length
        ? `The settings work, with ${outcome.warnings.length} warning${outcome.warnings.length > 1 ? "s" : ""} (${time})`
        : `All checks passed (${time})`;
    } else heading = `Validation failed (${time})`;
    result.className = `result ${outcome.cancelled ? "cancelled" : outcome.ok ? "ok" : "failed"}`;
    result.replaceChildren(make("h2", "", heading));
    if (outcome.failure && !outcome.cancelled) result.append(renderFailure(outcome.failure));
    if (outcome.warnings.length) {
      const list = make("ul", "warnings");
      for (const w of outcome.warnings) {
        const li = make("li", "warning");
        const icon = make("span", "icon", "⚠");
        icon.setAttribute("aria-hidden", "true");
        li.append(icon, srOnly("Warning:"), ` ${w}`);
        list.append(li);
      }
      result.append(list);
    }
    show(result, true);
    this.status(outcome.failure && !outcome.cancelled ? `${heading}: ${outcome.failure.message}` : heading);

    byId(this.root, "transcript-text").textContent = formatTranscript(outcome.transcript);
    show(byId(this.root, "transcript"), outcome.transcript.length > 0);
  }

  // ---- test email ----

  async sendTest(): Promise<void> {
    if (this.run) return;
    const to = this.readRecipient(true);
    if (!to) return;
    const run: Run = { kind: "send", id: null, held: [], cancelRequested: false, to };
    this.run = run;
    this.updateButtons();
    const box = byId(this.root, "send-result");
    box.className = "result send-result";
    box.replaceChildren(this.sendHeading(`Sending a test email to ${to}…`));
    show(box, true);
    box.scrollIntoView({ block: "nearest" });
    // Keyboard users land on Cancel, which Enter or Escape then presses.
    this.sendCancelButton.focus();
    this.status(`Sending a test email to ${to}…`);
    try {
      const started = await this.ipc.sendTestStart(to);
      if (this.run !== run) return;
      run.id = started.run_id;
      for (const event of run.held.splice(0)) this.onEvent(event);
      if (run.cancelRequested && this.run === run) this.sendCancel(run);
    } catch (e) {
      if (this.run !== run) return;
      this.finishSend(run, null, toErrorReport(e));
    }
  }

  /** The result box's heading: it takes the focus when the result is shown, so it is focusable by script only. */
  private sendHeading(text: string): HTMLHeadingElement {
    const heading = make("h2", "", text);
    heading.id = "send-result-heading";
    heading.tabIndex = -1;
    return heading;
  }

  private finishSend(run: Run, result: SendResult | null, error: ErrorReport | null): void {
    this.run = null;
    this.updateButtons();
    const box = byId(this.root, "send-result");
    const recipientRefused = error?.field === "to" || error?.field === "recipient";
    if (result) {
      this.showSendResult(result, run.to ?? "");
    } else {
      const err: ErrorReport = error ?? { kind: "internal", message: "The test email failed." };
      box.className = "result send-result failed";
      box.replaceChildren(this.sendHeading("The test email was not sent"), renderFailure(err));
    }
    const heading = byId(this.root, "send-result-heading");
    this.status(heading.textContent ?? "");
    if (recipientRefused && error) {
      // The field to correct takes the focus.
      this.showRecipientError(error.message);
      return;
    }
    // The result sits below the step list, often out of view: bring it in (the least scroll that
    // shows it whole, so the steps above stay in sight) and move the focus to its heading, so
    // the outcome is seen and read out.
    box.scrollIntoView({ block: "nearest" });
    heading.focus();
  }

  private showSendResult(r: SendResult, to: string): void {
    const box = byId(this.root, "send-result");
    const cancelled = r.failure?.category === "cancelled";
    box.className = `result send-result ${r.ok ? "ok" : cancelled ? "cancelled" : "failed"}`;
    if (cancelled) {
      box.replaceChildren(this.sendHeading(`Test email cancelled after ${formatDuration(r.elapsed_ms)}`));
      box.append(make("p", "", "The connection was closed before the server confirmed the message."));
    } else {
      box.replaceChildren(this.sendHeading(r.ok ? `Test email accepted for ${to}` : "The test email was not accepted"));
      if (r.failure) box.append(renderFailure(r.failure));
    }
    const dl = make("dl", "send-details");
    const row = (label: string, value: string) => dl.append(make("dt", "", label), make("dd", "", value));
    if (r.reply) row("Server reply", r.reply);
    if (!cancelled) row("Queue ID", r.queue_id ?? "not given by the server");
    if (r.message_id) row("Message-ID", r.message_id);
    row("Time", formatDuration(r.elapsed_ms));
    box.append(dl);
    if (r.transcript.length) {
      const details = make("details", "transcript");
      details.append(make("summary", "", "Transcript"));
      const pre = make("pre", "", formatTranscript(r.transcript));
      pre.tabIndex = 0;
      details.append(pre);
      box.append(details);
    }
  }

  // ---- the outside ----

  setSettingsDirty(dirty: boolean): void {
    show(byId(this.root, "diagnose-unsaved"), dirty);
  }

  destroy(): void {
    this.life.dispose();
  }
}
