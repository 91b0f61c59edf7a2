/** The Report screen: today, yesterday or a chosen range — problems first, totals, traffic per hour as a chart, top senders and recipients by count and size, reasons grouped, servers with their delays, warnings, and a note when the range reaches past the data kept. */

import "../log/log.css";
import "./report.css";
import { byId, formatDuration, make, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import { Lifetime } from "../../lifecycle";
import type { JournalReport, Reason, Top } from "../../model";
import { renderProblems } from "../dashboard/index";
import { trafficChart } from "../chart";
import { addDays, count, dayValue, formatMs, formatSize, parseDay, SEVERITY_WORD, startOfDay, totalsFacts, type Go } from "../log/format";

const MARKUP = `
<div class="journal report">
  <h1 id="report-heading" class="visually-hidden">Report</h1>
  <div class="journal-toolbar" role="group" aria-label="Which days">
    <fieldset class="report-range">
      <legend class="visually-hidden">Range</legend>
      <label><input type="radio" name="report-range" id="report-today" value="today" checked> Today</label>
      <label><input type="radio" name="report-range" id="report-yesterday" value="yesterday"> Yesterday</label>
      <label><input type="radio" name="report-range" id="report-custom" value="custom"> Chosen days</label>
    </fieldset>
    <label for="report-from">From
      <input type="date" id="report-from">
    </label>
    <label for="report-to">To
      <input type="date" id="report-to">
    </label>
  </div>
  <p id="report-status" class="run-status" role="status"></p>
  <h2 id="report-title" class="report-title"></h2>
  <p id="report-kept" class="note note-warning" hidden></p>
  <section id="report-problems" class="dash-problems" aria-labelledby="report-problems-heading" hidden></section>
  <section class="dash-card" aria-labelledby="report-totals-heading">
    <h3 id="report-totals-heading">Totals</h3>
    <dl id="report-totals" class="report-totals"></dl>
  </section>
  <section class="dash-card" aria-labelledby="report-chart-heading">
    <h3 id="report-chart-heading">Traffic</h3>
    <div id="report-chart"></div>
  </section>
  <div class="report-grid" id="report-tables"></div>
</div>`;

export interface ReportScreen {
  load(): Promise<void>;
  setVisible(visible: boolean): void;
  destroy(): void;
}

export interface ReportOptions {
  now?: () => number;
}

export function mountReport(container: HTMLElement, ipc: Ipc, go: Go, options: ReportOptions = {}): ReportScreen {
  container.innerHTML = MARKUP;
  return new ReportView(container, ipc, go, options.now ?? Date.now);
}

class ReportView implements ReportScreen {
  private readonly life = new Lifetime();
  private readonly from: HTMLInputElement;
  private readonly to: HTMLInputElement;
  private visible = false;
  private stale = true;
  private request = 0;
  private shown: JournalReport | null = null;
  /** The range chosen: today, yesterday or custom (the checked radio's value). */
  private which = "today";

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    go: Go,
    private readonly now: () => number,
  ) {
    this.from = byId<HTMLInputElement>(root, "report-from");
    this.to = byId<HTMLInputElement>(root, "report-to");
    const today = dayValue(now());
    this.from.value = today;
    this.to.value = today;
    const on = this.life.on.bind(this.life);
    for (const id of ["report-today", "report-yesterday", "report-custom"]) {
      const radio = byId<HTMLInputElement>(root, id);
      on(radio, "change", () => {
        if (!radio.checked) return;
        this.which = radio.value;
        void this.load();
      });
    }
    for (const input of [this.from, this.to]) {
      on(input, "change", () => {
        byId<HTMLInputElement>(root, "report-custom").checked = true;
        this.which = "custom";
        void this.load();
      });
    }
    on(root, "click", (e) => {
      const link = (e.target as HTMLElement).closest<HTMLButtonElement>("button[data-go]");
      if (link?.dataset.go) go(link.dataset.go);
    });
    // A range that is still going on (today) changes with new mail; a past one does not.
    this.life.subscribe(
      ipc.onQueueChanged(() => {
        const live = this.shown === null || this.shown.to > this.now() - 60_000;
        if (!live) return;
        if (this.visible) void this.load();
        else this.stale = true;
      }),
    );
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.stale) void this.load();
  }

  destroy(): void {
    this.life.dispose();
  }

  /** [from, to) in ms for the chosen range, or why not. */
  private range(): { from: number; to: number; title: string } | string {
    const now = this.now();
    const which = this.which;
    if (which === "today") return { from: startOfDay(now), to: addDays(now, 1), title: "Today" };
    if (which === "yesterday") return { from: addDays(now, -1), to: startOfDay(now), title: "Yesterday" };
    const from = parseDay(this.from.value);
    const to = parseDay(this.to.value);
    if (from === null || to === null) return "Choose both days of the range.";
    if (to < from) return "The range ends before it starts: choose a To day on or after the From day.";
    const last = new Date(to).toLocaleDateString();
    const title = from === to ? last : `${new Date(from).toLocaleDateString()} to ${last}`;
    return { from, to: addDays(to, 1), title };
  }

  async load(): Promise<void> {
    const mine = ++this.request;
    this.stale = false;
    const status = byId(this.root, "report-status");
    const range = this.range();
    if (typeof range === "string") {
      status.textContent = range;
      return;
    }
    try {
      const r = await this.ipc.report(range.from, range.to);
      if (mine !== this.request || this.life.disposed) return;
      status.textContent = "";
      this.render(r, range.title);
    } catch (e) {
      if (mine === this.request) status.textContent = `The report could not be made: ${toErrorReport(e).message}`;
    }
  }

  private render(r: JournalReport, title: string): void {
    this.shown = r;
    byId(this.root, "report-title").textContent = `${title}: ${count(r.totals.delivered)} sent, ${count(r.totals.bounced)} bounced, ${count(r.totals.deferred)} deferred`;
    const kept = byId(this.root, "report-kept");
    const said = r.problems.some((p) => /oldest mail kept/i.test(p.title));
    const past = r.kept_since !== null && r.kept_since > r.from && !said;
    kept.textContent = past ? `This range starts before the oldest data kept (${formatMs(r.kept_since as number)}): older mail is not counted.` : "";
    show(kept, past);
    renderProblems(byId(this.root, "report-problems"), r.problems, "report-problems-heading");

    const totals = byId(this.root, "report-totals");
    totals.replaceChildren();
    const add = (label: string, value: string) => {
      const div = make("div", "report-total");
      div.append(make("dt", "", label), make("dd", "", value));
      totals.append(div);
    };
    add("Messages received", count(r.totals.messages_received));
    for (const [label, n] of totalsFacts(r.totals)) add(label, count(n));
    add("Bytes received", formatSize(r.totals.bytes_received));
    add("Bytes sent", formatSize(r.totals.bytes_delivered));

    const perDay = r.hours.length > 1 && (r.hours[1]?.start ?? 0) - (r.hours[0]?.start ?? 0) > 3_600_000;
    byId(this.root, "report-chart-heading").textContent = perDay ? "Traffic per day" : "Traffic per hour";
    byId(this.root, "report-chart").replaceChildren(trafficChart(r.hours, { title: perDay ? "Traffic per day" : "Traffic per hour" }));

    byId(this.root, "report-tables").replaceChildren(
      tops("Top senders", "report-top-senders", r.top_senders, "count"),
      tops("Top senders by size", "report-top-senders-size", r.top_senders_by_size, "bytes"),
      tops("Top recipients", "report-top-recipients", r.top_recipients, "count"),
      tops("Top recipients by size", "report-top-recipients-size", r.top_recipients_by_size, "bytes"),
      reasons("Bounce reasons", "report-bounces", r.bounce_reasons),
      reasons("Deferral reasons", "report-deferrals", r.deferral_reasons),
      reasons("Refused at intake", "report-refusals", r.refusal_reasons),
      table(
        "Servers",
        "report-servers",
        ["Server", "Sent", "Average delay", "Longest delay"],
        r.servers.map((s) => [s.server, count(s.delivered), formatDuration(s.avg_delay_ms), formatDuration(s.max_delay_ms)]),
        "No mail was sent.",
      ),
      table(
        "Warnings and errors",
        "report-warnings",
        ["Time", "Severity", "What happened"],
        r.warnings.map((e) => [formatMs(e.at), SEVERITY_WORD[e.severity], e.summary]),
        "None.",
      ),
    );
  }
}

function tops(title: string, id: string, rows: Top[], by: "count" | "bytes"): HTMLElement {
  return table(
    title,
    id,
    ["Address", "Messages", "Size"],
    rows.map((t) => [t.address || "<> (bounce)", count(t.count), formatSize(t.bytes)]),
    "None.",
    by === "count" ? 1 : 2,
  );
}

function reasons(title: string, id: string, rows: Reason[]): HTMLElement {
  return table(title, id, ["Reply", "Times", "For example"], rows.map((r) => [r.reply, count(r.count), r.example]), "None.");
}

/** A titled table section; `num` columns right-aligned; `empty` said when there are no rows. */
function table(title: string, id: string, columns: string[], rows: string[][], empty: string, strong?: number): HTMLElement {
  const section = make("section", "dash-card report-table");
  const h = make("h3", "", title);
  h.id = `${id}-heading`;
  section.setAttribute("aria-labelledby", h.id);
  section.append(h);
  if (!rows.length) {
    section.append(make("p", "journal-muted", empty));
    return section;
  }
  const t = make("table", "journal-table");
  t.id = id;
  const head = make("tr");
  for (const c of columns) {
    const th = make("th", "", c);
    th.scope = "col";
    head.append(th);
  }
  const thead = make("thead");
  thead.append(head);
  const body = make("tbody");
  for (const r of rows) {
    const tr = make("tr");
    r.forEach((cell, i) => tr.append(make("td", i === 0 ? "addr" : i === strong ? "num strong" : "num", cell)));
    body.append(tr);
  }
  t.append(thead, body);
  section.append(t);
  return section;
}
