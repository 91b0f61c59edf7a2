/** The Mail log screen: one row per recipient per attempt, newest first, page by page (Next / Prev, jump to a date), filtered by result, date range and address; a row's queue id opens the message; Export CSV. */

import "./log.css";
import { breakable, byId, formatDuration, make, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import { Lifetime } from "../../lifecycle";
import type { LogCursor, LogEntry, LogPage, LogQuery, LogResult } from "../../model";
import { senderText } from "../queue/format";
import { addDays, byDay, dayValue, formatMs, formatSize, formatTime, parseDay, RESULTS, resultWord, startOfDay, timeOfDay, type Go } from "./format";

/** Rows per page. */
export const PAGE_SIZE = 50;

/** Quiet after typing an address before the page is asked for. */
export const SEARCH_DELAY_MS = 250;

/** The row's columns; the rest of a row (server, TLS, size, time taken, Message-ID, the whole reply) opens under it. */
const COLUMNS = 7;

const MARKUP = `
<div class="journal log">
  <h1 id="log-heading" class="visually-hidden">Mail log</h1>
  <div class="journal-toolbar" role="search" aria-label="Filter the mail log">
    <label for="log-result">Result
      <select id="log-result">
        <option value="">All results</option>
        ${RESULTS.map((r) => `<option value="${r}">${resultWord(r)}</option>`).join("")}
      </select>
    </label>
    <label for="log-since">From
      <input type="date" id="log-since">
    </label>
    <label for="log-until">To
      <input type="date" id="log-until">
    </label>
    <label for="log-address">Address
      <input type="search" id="log-address" placeholder="sender or recipient" spellcheck="false" autocomplete="off">
    </label>
    <span class="spacer"></span>
    <button type="button" id="log-export">Export CSV…</button>
  </div>
  <p id="log-status" class="run-status" role="status"></p>
  <div class="journal-table-wrap">
    <table id="log-table" class="journal-table log-table" aria-describedby="log-range">
      <caption class="visually-hidden">The mail log, newest first, under a heading for each day; each row's button shows the rest of it</caption>
      <colgroup>
        <col class="col-toggle"><col class="col-time"><col class="col-queue"><col class="col-addr"><col class="col-addr"><col class="col-result"><col>
      </colgroup>
      <thead>
        <tr>
          <th scope="col"><span class="visually-hidden">Details</span></th><th scope="col">Time</th><th scope="col" class="num">Queue id</th>
          <th scope="col">From</th><th scope="col">To</th><th scope="col">Result</th><th scope="col">Server's reply</th>
        </tr>
      </thead>
      <tbody id="log-rows"></tbody>
    </table>
    <p id="log-empty" class="journal-empty" hidden>Nothing in the mail log yet.</p>
  </div>
  <nav class="journal-pager" aria-label="Mail log pages">
    <button type="button" id="log-newer" disabled>← Newer</button>
    <span id="log-range"></span>
    <button type="button" id="log-older" disabled>Older →</button>
    <span class="spacer"></span>
    <label for="log-jump" class="log-jump">Jump to date
      <input type="date" id="log-jump">
    </label>
  </nav>
</div>`;

export interface LogFilter {
  result?: LogResult | null;
  address?: string | null;
  /** Only today's rows (from local midnight). */
  today?: boolean;
}

export interface LogScreen {
  /** Reads the first page (again). */
  load(): Promise<void>;
  /** The window shows or hides the screen: hidden, a change only marks it stale. */
  setVisible(visible: boolean): void;
  /** Shows the rows matching this filter (the rest cleared), newest first. */
  filter(f: LogFilter): Promise<void>;
  destroy(): void;
}

export function mountLog(container: HTMLElement, ipc: Ipc, go: Go): LogScreen {
  container.innerHTML = MARKUP;
  return new Log(container, ipc, go);
}

type Position = { before: LogCursor | null; after: LogCursor | null };

class Log implements LogScreen {
  private readonly life = new Lifetime();
  private readonly rows: HTMLTableSectionElement;
  private readonly result: HTMLSelectElement;
  private readonly since: HTMLInputElement;
  private readonly until: HTMLInputElement;
  private readonly address: HTMLInputElement;
  private readonly jump: HTMLInputElement;
  private position: Position = { before: null, after: null };
  private page: LogPage | null = null;
  private visible = false;
  private stale = true;
  private request = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    go: Go,
  ) {
    this.rows = byId<HTMLTableSectionElement>(root, "log-rows");
    this.result = byId<HTMLSelectElement>(root, "log-result");
    this.since = byId<HTMLInputElement>(root, "log-since");
    this.until = byId<HTMLInputElement>(root, "log-until");
    this.address = byId<HTMLInputElement>(root, "log-address");
    this.jump = byId<HTMLInputElement>(root, "log-jump");
    const on = this.life.on.bind(this.life);
    for (const input of [this.result, this.since, this.until]) on(input, "change", () => void this.firstPage());
    on(this.address, "input", () => this.life.timeout("address", SEARCH_DELAY_MS, () => void this.firstPage()));
    on(this.address, "keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter") {
        e.preventDefault();
        void this.firstPage();
      }
    });
    on(this.jump, "change", () => void this.jumpTo());
    on(byId(root, "log-newer"), "click", () => void this.turn("newer"));
    on(byId(root, "log-older"), "click", () => void this.turn("older"));
    on(byId(root, "log-export"), "click", () => void this.exportCsv());
    on(this.rows, "click", (e) => {
      const target = e.target as HTMLElement;
      const link = target.closest<HTMLButtonElement>("button[data-go]");
      if (link?.dataset.go) return go(link.dataset.go);
      // The row's button, or a click anywhere on the row that is not selecting its text.
      const row = target.closest<HTMLTableRowElement>("tr[data-id]");
      if (row && (target.closest("button.log-toggle") || !window.getSelection()?.toString())) toggleDetail(row);
    });
    // Every commit to the outbox's database (mail log rows included) sends this.
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

  async filter(f: LogFilter): Promise<void> {
    this.result.value = f.result ?? "";
    this.address.value = f.address ?? "";
    this.since.value = f.today ? dayValue(Date.now()) : "";
    this.until.value = "";
    this.jump.value = "";
    await this.firstPage();
  }

  destroy(): void {
    this.life.dispose();
  }

  private query(): LogQuery {
    const address = this.address.value.trim();
    const since = parseDay(this.since.value);
    const until = parseDay(this.until.value);
    return {
      since,
      until: until === null ? null : addDays(until, 1),
      result: (this.result.value || null) as LogResult | null,
      address: address === "" ? null : address,
      before: this.position.before,
      after: this.position.after,
      limit: PAGE_SIZE,
    };
  }

  private async firstPage(): Promise<void> {
    this.position = { before: null, after: null };
    await this.reload();
  }

  /** Newest first from the end of the chosen day: the rows of that day and older. */
  private async jumpTo(): Promise<void> {
    const day = parseDay(this.jump.value);
    this.position = day === null ? { before: null, after: null } : { before: { at: addDays(day, 1), id: 0 }, after: null };
    await this.reload();
  }

  private async turn(way: "newer" | "older"): Promise<void> {
    const entries = this.page?.entries ?? [];
    const [newest, oldest] = [entries[0], entries[entries.length - 1]];
    if (!newest || !oldest) return this.firstPage();
    this.position =
      way === "older" ? { before: { at: oldest.at, id: oldest.id }, after: null } : { before: null, after: { at: newest.at, id: newest.id } };
    await this.reload();
  }

  private async reload(): Promise<void> {
    const mine = ++this.request;
    this.stale = false;
    try {
      const page = await this.ipc.logPage(this.query());
      if (mine !== this.request || this.life.disposed) return;
      if (page.entries.length === 0 && this.position.after !== null) return this.firstPage();
      this.render(page);
    } catch (e) {
      if (mine === this.request) this.say(`The mail log could not be read: ${toErrorReport(e).message}`);
    }
  }

  private render(page: LogPage): void {
    this.page = page;
    this.rows.replaceChildren(...logRows(page.entries));
    const filtered = this.result.value || this.address.value.trim() || this.since.value || this.until.value || this.jump.value;
    const empty = byId(this.root, "log-empty");
    empty.textContent = filtered ? "No rows match." : "Nothing in the mail log yet.";
    show(empty, page.entries.length === 0);
    byId<HTMLButtonElement>(this.root, "log-newer").disabled = !page.newer;
    byId<HTMLButtonElement>(this.root, "log-older").disabled = !page.older;
    const first = page.entries[0];
    const last = page.entries[page.entries.length - 1];
    byId(this.root, "log-range").textContent =
      first && last ? `${page.entries.length} row${page.entries.length === 1 ? "" : "s"}, ${span(last.at, first.at)}` : "";
  }

  private say(text: string): void {
    byId(this.root, "log-status").textContent = text;
  }

  private async exportCsv(): Promise<void> {
    const q = { ...this.query(), before: null, after: null };
    try {
      const done = await this.ipc.exportLogCsv(q);
      if (done) this.say(`Saved ${done.rows.toLocaleString("en")} row${done.rows === 1 ? "" : "s"} to ${done.path}.`);
    } catch (e) {
      this.say(`The mail log could not be exported: ${toErrorReport(e).message}`);
    }
  }
}

/** "2:03:09 PM to 2:05:00 PM" within a day (one time when they are the same), the full times across days. */
function span(from: number, to: number): string {
  if (from === to) return formatTime(from);
  return startOfDay(from) === startOfDay(to) ? `${formatTime(from)} to ${formatTime(to)}` : `${formatMs(from)} to ${formatMs(to)}`;
}

/** The page's rows, a day heading before each day's first, each row followed by its (hidden) detail. */
export function logRows(entries: LogEntry[]): HTMLTableRowElement[] {
  return byDay(entries, COLUMNS, (e) => [logRow(e), detailRow(e)]);
}

/** Shows or hides the detail under a row. */
function toggleDetail(row: HTMLTableRowElement): void {
  const button = row.querySelector<HTMLButtonElement>("button.log-toggle");
  const detail = row.nextElementSibling as HTMLTableRowElement | null;
  if (!button || !detail?.classList.contains("log-detail")) return;
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  detail.hidden = !open;
  row.classList.toggle("open", open);
}

function queueLink(e: LogEntry, text: string): HTMLElement {
  if (e.message === null) return make("span", "", "—");
  const b = make("button", "link-button", text);
  b.type = "button";
  b.dataset.go = `message:${e.message}`;
  b.setAttribute("aria-label", `Open message ${e.message} in the queue`);
  return b;
}

function logRow(e: LogEntry): HTMLTableRowElement {
  const tr = make("tr", "log-row");
  tr.dataset.id = String(e.id);
  tr.dataset.result = e.result;
  const toggle = make("button", "log-toggle");
  toggle.type = "button";
  const arrow = make("span", "log-arrow", "▸");
  arrow.setAttribute("aria-hidden", "true");
  toggle.append(arrow);
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", `log-detail-${e.id}`);
  toggle.setAttribute("aria-label", `Details: ${resultWord(e.result).toLowerCase()}, ${e.recipient}, ${formatTime(e.at)}`);
  const time = timeOfDay(e.at);
  const reply = make("span", "log-reply", e.reply);
  if (e.reply) reply.title = e.reply;
  const cells: [Node, string][] = [
    [toggle, "toggle"],
    [time, "time"],
    [queueLink(e, String(e.message)), "num"],
    [breakable(senderText(e.sender)), "addr"],
    [breakable(e.recipient), "addr"],
    [make("span", `journal-result ${e.result}`, resultWord(e.result)), "state"],
    [reply, "reply"],
  ];
  for (const [content, cls] of cells) {
    const td = make("td", cls);
    td.append(content);
    tr.append(td);
  }
  return tr;
}

/** The rest of a row: the whole reply, the server, TLS, size, how long it took, the Message-ID, the link to the queue. */
function detailRow(e: LogEntry): HTMLTableRowElement {
  const tr = make("tr", "log-detail");
  tr.id = `log-detail-${e.id}`;
  tr.hidden = true;
  const td = make("td");
  td.colSpan = COLUMNS;
  const facts = make("dl", "log-facts");
  const fact = (label: string, value: Node | string, cls = "") => {
    const dd = make("dd", cls);
    dd.append(value);
    facts.append(make("dt", "", label), dd);
  };
  fact("When", formatMs(e.at));
  if (e.reply) fact("Server's reply", e.reply, "log-full-reply");
  fact("Server", e.server || "—");
  fact("TLS", e.tls ?? (e.result === "received" || e.result === "refused" ? "—" : "None"));
  fact("Size", formatSize(e.size));
  if (e.result !== "received" && e.result !== "refused") fact("Took", formatDuration(e.duration_ms));
  fact("Message-ID", e.message_id || "—", "msgid");
  if (e.message !== null) fact("Queue", queueLink(e, `Open message ${e.message} in the queue`));
  td.append(facts);
  tr.append(td);
  return tr;
}
