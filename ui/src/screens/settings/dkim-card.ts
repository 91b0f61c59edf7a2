/** The DKIM card: the profile's key as saved (type, selector, domain), "Generate key" (asking before a key is replaced), the exact TXT record to publish with Copy buttons, and "Check DNS" (Matches / Missing / Different / Unknown). Only the public key reaches the window. */

import { byId, make, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import type { Lifetime } from "../../lifecycle";
import type { DkimKey, DkimPublished } from "../../model";
import { copyableRecord } from "./deliverability";

type Child = Node | string | null | false | undefined;
type H = <K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string | boolean | undefined>, ...children: Child[]) => HTMLElementTagNameMap[K];

export function dkimCardMarkup(h: H): HTMLElement {
  return h(
    "div",
    { id: "dkim-card", class: "card dkim-card", role: "group", "aria-labelledby": "dkim-card-heading" },
    h("h2", { id: "dkim-card-heading", class: "card-title" }, "DKIM key"),
    h("p", { id: "dkim-state", class: "help", role: "status" }, "Reading the key…"),
    h("div", { id: "dkim-record", hidden: true }, h("p", { class: "help" }, "Publish this TXT record in your domain's DNS:"), h("div", { id: "dkim-record-rows" })),
    h("p", { id: "dkim-published", class: "dkim-published", role: "status", hidden: true }),
    h(
      "div",
      { id: "dkim-confirm", class: "banner banner-warning", role: "alertdialog", "aria-labelledby": "dkim-confirm-text", hidden: true },
      h(
        "p",
        { id: "dkim-confirm-text" },
        "Replace the key? Mail signed with the new key fails DKIM until its new record is published, and the old record stops matching.",
      ),
      h(
        "div",
        { class: "banner-actions" },
        h("button", { type: "button", id: "dkim-confirm-replace", class: "danger" }, "Replace the key"),
        h("button", { type: "button", id: "dkim-confirm-keep" }, "Keep the current key"),
      ),
    ),
    h(
      "div",
      { class: "banner-actions" },
      h("button", { type: "button", id: "dkim-generate" }, "Generate key"),
      h("button", { type: "button", id: "dkim-check", disabled: true }, "Check DNS"),
    ),
    h("p", { class: "help" }, "The key uses the saved selector, domain and key type: save changes first."),
  );
}

/** Icon and words per DNS state (never colour alone). */
export function publishedText(p: DkimPublished): { icon: string; word: string; detail: string; kind: string } {
  switch (p.state) {
    case "matches":
      return { icon: "✓", word: "Matches", detail: "DNS publishes this key.", kind: "ok" };
    case "missing":
      return { icon: "✕", word: "Missing", detail: "No TXT record at that name yet: publish the record above (DNS changes can take a while).", kind: "failed" };
    case "different":
      return { icon: "⚠", word: "Different", detail: `DNS holds another value: ${p.detail}`, kind: "warning" };
    case "unknown":
      return { icon: "?", word: "Unknown", detail: `DNS did not answer: ${p.detail}`, kind: "unknown" };
  }
}

/** What the card needs of the form. */
export interface DkimForm {
  profile(): string;
}

export class DkimCard {
  private key: DkimKey | null = null;
  private busy = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    life: Lifetime,
    private readonly form: DkimForm,
  ) {
    life.on(byId(root, "dkim-generate"), "click", () => (this.key ? this.askReplace() : void this.generate(false)));
    life.on(byId(root, "dkim-confirm-replace"), "click", () => void this.generate(true));
    life.on(byId(root, "dkim-confirm-keep"), "click", () => this.closeConfirm());
    life.on(byId(root, "dkim-check"), "click", () => void this.check());
  }

  /** Reads the saved key of the form's profile. */
  async refresh(): Promise<void> {
    if (!this.ipc.dkimKey) return this.state("DKIM keys are not available here.");
    try {
      this.showKey(await this.ipc.dkimKey(this.form.profile()));
    } catch (e) {
      this.showKey(null, toErrorReport(e).message);
    }
  }

  private state(text: string): void {
    byId(this.root, "dkim-state").textContent = text;
  }

  /** Shows `key` (or none, with `problem` when reading it failed). */
  showKey(key: DkimKey | null, problem?: string): void {
    this.key = key;
    byId<HTMLButtonElement>(this.root, "dkim-check").disabled = !key;
    byId(this.root, "dkim-generate").textContent = key ? "Generate a new key…" : "Generate key";
    show(byId(this.root, "dkim-record"), !!key);
    if (!key) {
      this.state(problem ? `The key could not be read: ${problem}` : "No key yet: generate one, then publish its record.");
      byId(this.root, "dkim-record-rows").replaceChildren();
      this.showPublished(null);
      return;
    }
    const type = key.algorithm === "ed25519" ? "Ed25519" : "RSA-2048";
    this.state(`${type} key, selector ${key.selector}, signing domain ${key.domain}.`);
    byId(this.root, "dkim-record-rows").replaceChildren(
      labelled("Name", copyableRecord(key.record_name, "TXT record name")),
      labelled("Value", copyableRecord(key.record_value, "TXT record value")),
    );
    this.showPublished(key.published);
  }

  private showPublished(p: DkimPublished | null): void {
    const el = byId(this.root, "dkim-published");
    if (!p) {
      el.replaceChildren();
      show(el, false);
      return;
    }
    const t = publishedText(p);
    const icon = make("span", "icon", t.icon);
    icon.setAttribute("aria-hidden", "true");
    el.replaceChildren(icon, " ", make("strong", undefined, t.word), `: ${t.detail}`);
    el.dataset.kind = t.kind;
    el.dataset.state = p.state;
    show(el, true);
  }

  private askReplace(): void {
    show(byId(this.root, "dkim-confirm"), true);
    byId(this.root, "dkim-confirm-keep").focus();
  }

  private closeConfirm(): void {
    show(byId(this.root, "dkim-confirm"), false);
    byId(this.root, "dkim-generate").focus();
  }

  private async generate(replace: boolean): Promise<void> {
    show(byId(this.root, "dkim-confirm"), false);
    if (this.busy || !this.ipc.dkimGenerate) return;
    this.busy = true;
    this.state("Generating a key…");
    try {
      this.showKey(await this.ipc.dkimGenerate(this.form.profile(), replace));
    } catch (e) {
      const err = toErrorReport(e);
      this.state(`No key was made: ${err.message}${err.hint ? ` ${err.hint}` : ""}`);
    } finally {
      this.busy = false;
    }
  }

  private async check(): Promise<void> {
    if (this.busy || !this.ipc.dkimCheck) return;
    this.busy = true;
    const button = byId<HTMLButtonElement>(this.root, "dkim-check");
    button.disabled = true;
    const el = byId(this.root, "dkim-published");
    el.textContent = "Checking DNS…";
    show(el, true);
    try {
      this.showKey(await this.ipc.dkimCheck(this.form.profile()));
    } catch (e) {
      const err = toErrorReport(e);
      el.textContent = `The check could not run: ${err.message}`;
    } finally {
      this.busy = false;
      button.disabled = !this.key;
    }
  }
}

function labelled(text: string, row: HTMLElement): HTMLElement {
  const wrap = make("div", "record-field");
  wrap.append(make("span", "record-label", text), row);
  return wrap;
}
