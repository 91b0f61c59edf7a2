/** "Find settings": asks for an email address, shows what each source found (or why not), and fills the Connection and Authentication fields on confirmation; a host outside the address's domain needs its own explicit confirmation. */

import { byId, make, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import type { Lifetime } from "../../lifecycle";
import type { DetectCandidate, Detection } from "../../model";
import { reportText } from "../../report-text";

const SECURITY_TEXT: Record<DetectCandidate["security"], string> = {
  start_tls: "STARTTLS",
  implicit_tls: "implicit TLS",
  none: "no encryption",
};

const STATUS_MARK: Record<Detection["sources"][number]["status"], string> = {
  found: "✓",
  nothing: "–",
  failed: "✗",
  timed_out: "⏱",
  cancelled: "·",
};

function button(id: string, text: string, extra: Record<string, string> = {}): HTMLButtonElement {
  const b = make("button", extra.class ?? "", text);
  b.type = "button";
  b.id = id;
  return b;
}

/** The button beside the server field and its dialog (inputs without `name`, so the form ignores them). */
export function findSettingsMarkup(): HTMLElement {
  const wrap = make("div", "field detect");
  wrap.append(button("detect-open", "Find settings…", { class: "secondary" }));
  const dialog = make("dialog");
  dialog.id = "detect-dialog";
  dialog.setAttribute("aria-labelledby", "detect-title");
  const title = make("h2", "", "Find settings from an email address");
  title.id = "detect-title";
  const label = make("label", "", "Email address");
  label.htmlFor = "detect-address";
  const input = make("input");
  input.id = "detect-address";
  input.type = "email";
  input.autocomplete = "off";
  input.placeholder = "you@example.com";
  const status = make("p", "help");
  status.id = "detect-status";
  status.setAttribute("role", "status");
  const sources = make("ul", "detect-sources");
  sources.id = "detect-sources";
  const best = make("p", "detect-best");
  best.id = "detect-best";
  const confirmRow = make("label", "detect-confirm");
  confirmRow.id = "detect-confirm-row";
  confirmRow.hidden = true;
  const confirm = make("input");
  confirm.type = "checkbox";
  confirm.id = "detect-confirm-host";
  const confirmText = make("span");
  confirmText.id = "detect-confirm-text";
  confirmRow.append(confirm, " ", confirmText);
  const actions = make("div", "dialog-actions");
  const use = button("detect-apply", "Use these settings", { class: "primary" });
  use.disabled = true;
  actions.append(button("detect-run", "Find"), button("detect-cancel", "Stop"), use, button("detect-close", "Close"));
  dialog.append(title, label, input, status, sources, best, confirmRow, actions);
  wrap.append(dialog);
  return wrap;
}

export interface FindHooks {
  /** The From address on the form, to start from. */
  fromAddress(): string;
  status(text: string, kind: "ok" | "error" | "info" | ""): void;
}

export class FindSettings {
  private runId: number | null = null;
  private running = false;
  private found: Detection | null = null;
  /** Results that arrived before their run's id did (Rust may emit first). */
  private readonly early = new Map<number, Detection | null>();

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    life: Lifetime,
    private readonly hooks: FindHooks,
  ) {
    const click = (id: string, handler: () => void) => life.on(byId(root, id), "click", handler);
    click("detect-open", () => this.open());
    click("detect-run", () => void this.run());
    click("detect-cancel", () => this.cancel());
    click("detect-close", () => this.close());
    click("detect-apply", () => this.apply());
    life.on(byId(root, "detect-confirm-host"), "change", () => this.updateApply());
    life.on(byId(root, "detect-address"), "keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter") {
        e.preventDefault();
        void this.run();
      }
    });
    life.subscribe(
      ipc.onDetectFinished((e) => {
        const result = "result" in e ? e.result : null;
        if ("error" in e) this.setStatus(`Not found: ${reportText(e.error)}`);
        if (this.runId === e.run_id) this.finish(result);
        else if (this.running) this.early.set(e.run_id, result);
      }),
    );
  }

  private el<T extends HTMLElement = HTMLElement>(id: string): T {
    return byId<T>(this.root, id);
  }

  private open(): void {
    const dialog = this.el<HTMLDialogElement>("detect-dialog");
    const address = this.el<HTMLInputElement>("detect-address");
    if (!address.value) address.value = this.hooks.fromAddress();
    if (!dialog.open) dialog.showModal?.() ?? dialog.setAttribute("open", "");
    address.focus();
  }

  private close(): void {
    this.cancel();
    const dialog = this.el<HTMLDialogElement>("detect-dialog");
    if (dialog.close) dialog.close();
    else dialog.removeAttribute("open");
  }

  private setStatus(text: string): void {
    this.el("detect-status").textContent = text;
  }

  private async run(): Promise<void> {
    if (this.running) return;
    const address = this.el<HTMLInputElement>("detect-address").value.trim();
    this.found = null;
    this.render();
    this.running = true;
    this.setStatus(`Looking for ${address}'s outgoing server…`);
    try {
      const { run_id } = await this.ipc.detectStart(address);
      this.runId = run_id;
      if (this.early.has(run_id)) this.finish(this.early.get(run_id) ?? null);
    } catch (e) {
      this.running = false;
      this.setStatus(reportText(toErrorReport(e)));
    }
  }

  private cancel(): void {
    if (this.running && this.runId !== null) void this.ipc.cancelRun(this.runId);
  }

  private finish(result: Detection | null): void {
    this.running = false;
    this.runId = null;
    this.early.clear();
    if (!result) return;
    this.found = result;
    if (result.cancelled) this.setStatus("Stopped.");
    else this.setStatus(result.best ? `Answered in ${result.elapsed_ms} ms.` : "No outgoing server found. Ask your provider for its SMTP server.");
    this.render();
  }

  /** Each source with its outcome, then the best candidate and, if it needs it, the confirmation. */
  private render(): void {
    const d = this.found;
    this.el("detect-sources").replaceChildren(
      ...(d?.sources ?? []).map((s) => {
        const li = make("li", `detect-source ${s.status}`);
        li.dataset.source = s.source;
        li.append(make("span", "mark", STATUS_MARK[s.status]), " ", make("strong", "", s.title), ": ", s.summary);
        return li;
      }),
    );
    const best = d?.best ?? null;
    this.el("detect-best").textContent = best
      ? `Best: ${best.host}:${best.port} (${SECURITY_TEXT[best.security]}), user name ${best.username}. ${best.note}.`
      : "";
    const needsConfirm = best?.trust === "confirm";
    show(this.el("detect-confirm-row"), needsConfirm);
    this.el<HTMLInputElement>("detect-confirm-host").checked = false;
    this.el("detect-confirm-text").textContent = best
      ? `${best.host} is outside ${d?.domain}: I checked it is my provider's server, and my password may go there.`
      : "";
    this.updateApply();
  }

  private updateApply(): void {
    const best = this.found?.best ?? null;
    const confirmed = best?.trust !== "confirm" || this.el<HTMLInputElement>("detect-confirm-host").checked;
    this.el<HTMLButtonElement>("detect-apply").disabled = !best || best.trust === "refused" || !confirmed;
  }

  /** Fills the form as if the user had typed it; the form's own checks and Save take it from there. */
  private apply(): void {
    const best = this.found?.best;
    if (!best) return;
    const set = (id: string, value: string) => {
      const control = this.el<HTMLInputElement | HTMLSelectElement>(id);
      control.value = value;
      control.dispatchEvent(new Event("input", { bubbles: true }));
      control.dispatchEvent(new Event("change", { bubbles: true }));
    };
    const relay = this.el<HTMLInputElement>("mode-relay");
    if (!relay.checked) {
      relay.checked = true;
      relay.dispatchEvent(new Event("change", { bubbles: true }));
    }
    set("relay-host", best.host);
    // Security first: changing it moves the port to its usual one, and an SRV port may not be.
    set("relay-security", best.security);
    set("relay-port", String(best.port));
    set("auth-method", "password");
    set("auth-username", best.username);
    if (!this.el<HTMLInputElement>("sender-from_address").value.trim()) set("sender-from_address", this.found?.address ?? "");
    this.close();
    this.hooks.status(`Filled in ${best.host}:${best.port} from ${best.source.replace("_", " ")}: enter the password, then Validate.`, "info");
  }
}
