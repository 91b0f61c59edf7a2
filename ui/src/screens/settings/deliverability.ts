/** The Deliverability panel: "Check deliverability" runs the core's health check (saved settings) and lists each line with a status icon and word, its summary, hint, and the DNS record to publish with a Copy button. */

import "./deliverability.css";
import { byId, make, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import type { Lifetime } from "../../lifecycle";
import type { HealthCheck, HealthLine, HealthReport, HealthStatus } from "../../model";

type Child = Node | string | null | false | undefined;
type H = <K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string | boolean | undefined>, ...children: Child[]) => HTMLElementTagNameMap[K];

/** What each check is called on screen. */
export const CHECK_NAMES: Record<HealthCheck, string> = {
  ehlo_name: "EHLO name",
  public_ip: "Public IP address",
  reverse_dns: "Reverse DNS",
  spf: "SPF",
  dkim: "DKIM",
  dmarc: "DMARC",
  mx: "MX (replies and bounces)",
  mta_sts: "MTA-STS",
  tls_rpt: "TLS reporting",
  port25: "Outbound port 25",
  blocklist: "Blocklist",
};

/** Icon and word per verdict: the word is shown, so the status never rests on colour alone. */
export const STATUS_TEXT: Record<HealthStatus, [string, string]> = {
  ok: ["✓", "OK"],
  warning: ["⚠", "Warning"],
  failed: ["✕", "Failed"],
  unknown: ["?", "Unknown"],
};

/** The panel's markup (its section shows in Relay and Direct modes). */
export function deliverabilitySection(h: H): HTMLElement {
  return h(
    "section",
    { class: "section deliverability", id: "section-deliverability", "aria-labelledby": "health-heading", hidden: true },
    h("h2", { id: "health-heading", class: "section-title" }, "Deliverability"),
    h(
      "p",
      { class: "help", id: "health-help" },
      "Checks what receivers check before trusting mail from this machine and sender domain: EHLO name, reverse DNS, SPF, DKIM, DMARC, MX, MTA-STS, port 25 and blocklists. Uses the saved settings.",
    ),
    h(
      "div",
      { class: "field health-domain" },
      h("label", { for: "health-domain" }, "Sender domain ", h("span", { class: "unit" }, "(optional: the From address's domain)")),
      h("input", { type: "text", id: "health-domain", autocomplete: "off", autocapitalize: "off", spellcheck: "false", placeholder: "example.com", "aria-describedby": "health-help" }),
    ),
    h(
      "div",
      { class: "field health-ip" },
      h("label", { for: "health-ip" }, "Public IP address ", h("span", { class: "unit" }, "(optional: learned from DNS)")),
      h("input", { type: "text", id: "health-ip", autocomplete: "off", autocapitalize: "off", spellcheck: "false", placeholder: "203.0.113.7", "aria-describedby": "health-help" }),
    ),
    h("div", { class: "banner-actions" }, h("button", { type: "button", id: "health-run" }, "Check deliverability")),
    h("p", { id: "health-status", class: "health-status", role: "status" }),
    h("ul", { id: "health-lines", class: "health-lines", "aria-labelledby": "health-heading" }),
  );
}

/** A read-only record with a Copy button (a selected field when the clipboard is out of reach). */
export function copyableRecord(text: string, label: string): HTMLElement {
  const row = make("div", "record-row");
  const input = make("input");
  input.type = "text";
  input.readOnly = true;
  input.value = text;
  input.setAttribute("aria-label", label);
  input.spellcheck = false;
  const copy = make("button", "copy-button", "Copy");
  copy.type = "button";
  copy.setAttribute("aria-label", `Copy ${label.toLowerCase()}`);
  copy.addEventListener("click", () => {
    void (async () => {
      try {
        await navigator.clipboard.writeText(text);
        copy.textContent = "Copied";
      } catch {
        input.focus();
        input.select();
        copy.textContent = "Press Ctrl+C";
      }
    })();
  });
  row.append(input, copy);
  return row;
}

/** One line as a list item: status (icon + word), the check's name, summary, hint, record. */
export function healthItem(line: HealthLine): HTMLLIElement {
  const li = make("li", `health-line status-${line.status}`);
  li.dataset.check = line.check;
  li.dataset.status = line.status;
  const [icon, word] = STATUS_TEXT[line.status];
  const badge = make("span", "health-badge");
  const glyph = make("span", "icon", icon);
  glyph.setAttribute("aria-hidden", "true");
  badge.append(glyph, ` ${word}`);
  const head = make("p", "health-head");
  head.append(badge, " ", make("strong", "health-name", CHECK_NAMES[line.check] ?? line.check), ": ", make("span", "health-summary", line.summary));
  li.append(head);
  if (line.hint) li.append(make("p", "health-hint", line.hint));
  if (line.record) li.append(copyableRecord(line.record, `Record to publish for ${CHECK_NAMES[line.check] ?? line.check}`));
  return li;
}

/** Fills `list` and the `status` line from a report. */
export function renderHealth(list: HTMLElement, status: HTMLElement, report: HealthReport): void {
  list.replaceChildren(...report.lines.map(healthItem));
  const count = (s: HealthStatus) => report.lines.filter((l) => l.status === s).length;
  const ip = report.public_ip ? `, public IP ${report.public_ip}` : ", public IP unknown";
  status.textContent = `${report.domain} (EHLO ${report.ehlo_name}${ip}): ${count("ok")} OK, ${count("warning")} warning${count("warning") === 1 ? "" : "s"}, ${count("failed")} failed, ${count("unknown")} unknown.`;
}

/** Runs `ipc`'s check and shows it in `list` and `status` (or why it could not run). */
export async function runHealth(
  ipc: Ipc,
  profile: string | undefined,
  domain: string | undefined,
  list: HTMLElement,
  status: HTMLElement,
  ip?: string,
): Promise<void> {
  status.dataset.kind = "running";
  list.replaceChildren();
  if (!ipc.healthCheck) {
    status.textContent = "The deliverability check is not available here.";
    return;
  }
  status.textContent = "Checking deliverability…";
  try {
    renderHealth(list, status, await ipc.healthCheck(profile, domain, ip));
    status.dataset.kind = "done";
  } catch (e) {
    const err = toErrorReport(e);
    status.textContent = `The check could not run: ${err.message}${err.hint ? ` ${err.hint}` : ""}`;
    status.dataset.kind = "error";
  }
}

/** What the panel needs of the form. */
export interface DeliverabilityForm {
  profile(): string;
}

export class Deliverability {
  private running = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    life: Lifetime,
    private readonly form: DeliverabilityForm,
  ) {
    life.on(byId(root, "health-run"), "click", () => void this.run());
  }

  /** Runs the check (once at a time) and shows its lines, or why it could not run. */
  async run(): Promise<void> {
    if (this.running) return;
    const button = byId<HTMLButtonElement>(this.root, "health-run");
    this.running = true;
    button.disabled = true;
    const domain = byId<HTMLInputElement>(this.root, "health-domain").value.trim();
    const ip = byId<HTMLInputElement>(this.root, "health-ip").value.trim();
    try {
      await runHealth(this.ipc, this.form.profile(), domain || undefined, byId(this.root, "health-lines"), byId(this.root, "health-status"), ip || undefined);
    } finally {
      this.running = false;
      button.disabled = false;
    }
  }

  /** Shown in Relay and Direct modes. */
  showFor(mode: string): void {
    show(byId(this.root, "section-deliverability"), mode === "relay" || mode === "direct");
  }
}
