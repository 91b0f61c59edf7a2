/** The Event log screen: what happened to the app (settings changed, validations and test emails, queue actions, agents and the listener, its own warnings), newest first, page by page, filtered by severity and category; a validation or test email opens with its steps and transcript. */

import "../log/log.css";
import { byId, make, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import { Lifetime } from "../../lifecycle";
import type { EventCategory, EventPage, EventQuery, JournalEvent, LogCursor, Outcome, Severity, Step, TranscriptLine } from "../../model";
import { formatTranscript, renderStep } from "../diagnose";
import { byDay, formatMs, SEVERITY_WORD, timeOfDay } from "../log/format";

export const PAGE_SIZE = 50;

const CATEGORY_WORD: Record<EventCategory, string> = {
  settings: "Settings",
  validation: "Validation",
  test_email: "Test email",
  queue: "Queue",
  agent: "Delivery agent",
  listener: "Listener",
  app: "App",
  certificate: "Certificate",
};

const MARKUP = `
<div class="journal events">
  <h1 id="events-heading" class="visually-hidden">Event log</h1>
  <div class="journal-toolbar" role="search" aria-label="Filter the event log">
    <label for="events-severity">Severity
      <select id="events-severity">
        <option value="">All</option>
        <option value="warning">Warnings and errors</option>
        <option value="error">Errors</option>
      </select>
    </label>
    <label for="events-category">Category
      <select id="events-category">
        <option value="">All categories</option>
        ${Object.entries(CATEGORY_WORD)
          .map(([k, v]) => `<option value="${k}">${v}</option>`)
          .join("")}
      </select>
    </label>
  </div>
  <p id="events-status" class="run-status" role="status"></p>
  <div class="journal-table-wrap">
    <table id="events-table" class="journal-table">
      <caption class="visually-hidden">The event log, newest first, under a heading for each day</caption>
      <thead>
        <tr><th scope="col">Time</th><th scope="col">Severity</th><th scope="col">Category</th><th scope="col">What happened</th></tr>
      </thead>
      <tbody id="events-rows"></tbody>
    </table>
    <p id="events-empty" class="journal-empty" hidden>No events yet.</p>
  </div>
  <nav class="journal-pager" aria-label="Event log pages">
    <button type="button" id="events-newer" disabled>← Newer</button>
    <button type="button" id="events-older" disabled>Older →</button>
  </nav>
  <section id="events-detail" class="journal-detail" aria-labelledby="events-detail-heading" tabindex="-1" hidden></section>
</div>`;

export interface EventsScreen {
  load(): Promise<void>;
  setVisible(visible: boolean): void;
  /** Shows events of this severity or worse (null: all), newest first. */
  filter(severity: Severity | null): Promise<void>;
  destroy(): void;
}

export function mountEvents(container: HTMLElement, ipc: Ipc): EventsScreen {
  container.innerHTML = MARKUP;
  return new Events(container, ipc);
}

type Position = { before: LogCursor | null; after: LogCursor | null };

class Events implements EventsScreen {
  private readonly life = new Lifetime();
  private readonly rows: HTMLTableSectionElement;
  private readonly severity: HTMLSelectElement;
  private readonly category: HTMLSelectElement;
  private readonly detail: HTMLElement;
  private position: Position = { before: null, after: null };
  private page: EventPage | null = null;
  /** The event whose detail is open (its button gets the focus back on Close). */
  private opener: number | null = null;
  private visible = false;
  private stale = true;
  private request = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
  ) {
    this.rows = byId<HTMLTableSectionElement>(root, "events-rows");
    this.severity = byId<HTMLSelectElement>(root, "events-severity");
    this.category = byId<HTMLSelectElement>(root, "events-category");
    this.detail = byId(root, "events-detail");
    const on = this.life.on.bind(this.life);
    on(this.severity, "change", () => void this.firstPage());
    on(this.category, "change", () => void this.firstPage());
    on(byId(root, "events-newer"), "click", () => void this.turn("newer"));
    on(byId(root, "events-older"), "click", () => void this.turn("older"));
    on(this.rows, "click", (e) => {
      const open = (e.target as HTMLElement).closest<HTMLButtonElement>("button[data-open]");
      const event = this.page?.events.find((ev) => String(ev.id) === open?.dataset.open);
      if (event) this.openDetail(event);
    });
    on(this.detail, "click", (e) => {
      if ((e.target as HTMLElement).id === "events-detail-close") this.closeDetail();
    });
    on(root, "keydown", (e) => {
      if ((e as KeyboardEvent).key === "Escape" && !this.detail.hidden) this.closeDetail();
    });
    this.life.subscribe(
      ipc.onQueueChanged(() => {
        if (this.visible) void this.reload();
        else this.stale = true;
      }),
    );
  }

  async load(): Promise<void> {
    await this.firstPage();
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.stale) void this.reload();
  }

  async filter(severity: Severity | null): Promise<void> {
    this.severity.value = severity === "info" ? "" : (severity ?? "");
    this.category.value = "";
    await this.firstPage();
  }

  destroy(): void {
    this.life.dispose();
  }

  private query(): EventQuery {
    return {
      since: null,
      until: null,
      severity: (this.severity.value || null) as Severity | null,
      category: (this.category.value || null) as EventCategory | null,
      before: this.position.before,
      after: this.position.after,
      limit: PAGE_SIZE,
    };
  }

  private async firstPage(): Promise<void> {
    this.position = { before: null, after: null };
    await this.reload();
  }

  private async turn(way: "newer" | "older"): Promise<void> {
    const events = this.page?.events ?? [];
    const [newest, oldest] = [events[0], events[events.length - 1]];
    if (!newest || !oldest) return this.firstPage();
    this.position =
      way === "older" ? { before: { at: oldest.at, id: oldest.id }, after: null } : { before: null, after: { at: newest.at, id: newest.id } };
    await this.reload();
  }

  private async reload(): Promise<void> {
    const mine = ++this.request;
    this.stale = false;
    try {
      const page = await this.ipc.eventsPage(this.query());
      if (mine !== this.request || this.life.disposed) return;
      if (page.events.length === 0 && this.position.after !== null) return this.firstPage();
      this.render(page);
    } catch (e) {
      if (mine === this.request) byId(this.root, "events-status").textContent = `The event log could not be read: ${toErrorReport(e).message}`;
    }
  }

  private render(page: EventPage): void {
    this.page = page;
    this.rows.replaceChildren(...byDay(page.events, 4, (e) => [eventRow(e)]));
    const empty = byId(this.root, "events-empty");
    empty.textContent = this.severity.value || this.category.value ? "No events match." : "No events yet.";
    show(empty, page.events.length === 0);
    byId<HTMLButtonElement>(this.root, "events-newer").disabled = !page.newer;
    byId<HTMLButtonElement>(this.root, "events-older").disabled = !page.older;
  }

  private openDetail(e: JournalEvent): void {
    this.opener = e.id;
    this.detail.replaceChildren(...eventDetail(e));
    show(this.detail, true);
    this.detail.focus();
  }

  private closeDetail(): void {
    show(this.detail, false);
    this.detail.replaceChildren();
    // Back to the row it was opened from, so the keyboard carries on where it was.
    this.rows.querySelector<HTMLButtonElement>(`button[data-open="${this.opener}"]`)?.focus();
  }
}

/** Whether an event's detail is a run's outcome (a validation or a test email) with steps or a transcript. */
function outcomeOf(e: JournalEvent): Outcome | null {
  if (e.category !== "validation" && e.category !== "test_email") return null;
  const d = e.detail as Partial<Outcome> | null;
  return d && typeof d === "object" && (Array.isArray(d.steps) || Array.isArray(d.transcript)) ? (d as Outcome) : null;
}

function eventRow(e: JournalEvent): HTMLTableRowElement {
  const tr = make("tr");
  tr.dataset.id = String(e.id);
  tr.dataset.severity = e.severity;
  tr.dataset.category = e.category;
  const what = make("td", "reply");
  what.append(make("span", "", e.summary));
  if (e.detail !== null && e.detail !== undefined) {
    const open = make("button", "link-button journal-open", outcomeOf(e) ? "Steps and transcript" : "Details");
    open.type = "button";
    open.dataset.open = String(e.id);
    open.setAttribute("aria-label", `${open.textContent} of event ${e.id}`);
    what.append(" ", open);
  }
  tr.append(
    (() => {
      const td = make("td", "time");
      td.append(timeOfDay(e.at));
      return td;
    })(),
    (() => {
      const td = make("td", "state");
      td.append(make("span", `journal-severity ${e.severity}`, SEVERITY_WORD[e.severity]));
      return td;
    })(),
    make("td", "", CATEGORY_WORD[e.category] ?? e.category),
    what,
  );
  return tr;
}

/** The detail panel: a run's steps (as the Diagnose screen draws them) and its transcript, or the detail as JSON. */
function eventDetail(e: JournalEvent): HTMLElement[] {
  const head = make("div", "journal-detail-head");
  const h = make("h2", "", e.summary);
  h.id = "events-detail-heading";
  const close = make("button", "", "Close");
  close.type = "button";
  close.id = "events-detail-close";
  close.setAttribute("aria-keyshortcuts", "Escape");
  head.append(h, close);
  const when = make("p", "journal-muted", `${formatMs(e.at)} · ${CATEGORY_WORD[e.category] ?? e.category} · ${SEVERITY_WORD[e.severity]}`);
  const out: HTMLElement[] = [head, when];
  const outcome = outcomeOf(e);
  if (outcome) {
    if (outcome.failure) {
      const f = make("div", "failure");
      f.append(make("p", "failure-message", outcome.failure.message));
      if (outcome.failure.hint) f.append(make("p", "hint", outcome.failure.hint));
      out.push(f);
    }
    if (outcome.steps?.length) {
      const steps = make("ol", "steps");
      steps.setAttribute("aria-label", "Steps");
      steps.append(...outcome.steps.map((s: Step) => renderStep(s)));
      out.push(steps);
    }
    if (outcome.transcript?.length) {
      out.push(make("h3", "", "Transcript"));
      const pre = make("pre", "", formatTranscript(outcome.transcript as TranscriptLine[]));
      pre.tabIndex = 0;
      pre.setAttribute("aria-label", "Transcript");
      out.push(pre);
    }
  } else out.push(...plainDetail(e.detail));
  return out;
}

/** Who did it, as the core records it (`by`). */
const BY_WORD: Record<string, string> = { window: "The window", command_line: "The command line" };

type Change = { field: string; label?: string; old: unknown; new: unknown };

/** A value as the event log shows it: text as is, nothing as "—", the rest as JSON. */
function shown(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Any other detail: a settings change as a table of old → new, a run that did not start as its error, a flat record as a list, the rest as JSON. */
function plainDetail(detail: unknown): HTMLElement[] {
  const out: HTMLElement[] = [];
  const d = (detail && typeof detail === "object" && !Array.isArray(detail) ? detail : null) as Record<string, unknown> | null;
  if (!d) {
    out.push(json(detail));
    return out;
  }
  const rest: [string, unknown][] = [];
  for (const [key, value] of Object.entries(d)) {
    if (key === "changes" && Array.isArray(value)) out.push(changesTable(value as Change[]));
    else if (key === "error" && value && typeof value === "object" && typeof (value as { message?: unknown }).message === "string") {
      const err = value as { message: string; hint?: string | null };
      const f = make("div", "failure");
      f.append(make("p", "failure-message", err.message));
      if (err.hint) f.append(make("p", "hint", err.hint));
      out.unshift(f);
    } else if (key !== "ok") rest.push([key, value]);
  }
  if (rest.length) {
    const dl = make("dl", "log-facts");
    for (const [key, value] of rest) {
      const dd = make("dd");
      if (value && typeof value === "object") dd.append(json(value));
      else dd.textContent = key === "by" && typeof value === "string" ? (BY_WORD[value] ?? value) : shown(value);
      dl.append(make("dt", "", key === "by" ? "By" : key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase())), dd);
    }
    out.push(dl);
  }
  return out;
}

function changesTable(changes: Change[]): HTMLElement {
  const table = make("table", "journal-table");
  const caption = make("caption", "visually-hidden", "Settings changed, old and new values");
  const head = make("thead");
  const hr = make("tr");
  for (const h of ["Setting", "Before", "After"]) {
    const th = make("th", "", h);
    th.scope = "col";
    hr.append(th);
  }
  head.append(hr);
  const body = make("tbody");
  for (const c of changes) {
    const tr = make("tr");
    const th = make("th", "", c.label ?? c.field);
    th.scope = "row";
    tr.append(th, make("td", "", shown(c.old)), make("td", "", shown(c.new)));
    body.append(tr);
  }
  table.append(caption, head, body);
  return table;
}

function json(value: unknown): HTMLElement {
  const pre = make("pre", "", JSON.stringify(value, null, 2));
  pre.tabIndex = 0;
  pre.setAttribute("aria-label", "Details");
  return pre;
}
