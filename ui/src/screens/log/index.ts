/** The Mail log screen: one row per recipient per attempt, newest first, page by page (Next / Prev, jump to a date), filtered by result, date range and address; a row's queue id opens the message; Export CSV. */

import "./log.css";
import { byId, formatDuration, make, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import { Lifetime } from "../../lifecycle";
import type { LogCursor, LogEntry, LogPage, LogQuery, LogResult } from "../../model";
import { senderText } from "../queue/format";
import { addDays, formatMs, formatSize, parseDay, RESULTS, resultWord, type Go } from "./format";

/** Rows per page. */
export const PAGE_SIZE = 50;

/** Quiet after typing an address before the page is asked for. */
export const SEARCH_DELAY_MS = 250;

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
    <label for="log-jump">Jump to date
      <input type="date" id="log-jump">
    </label>
    <span class="spacer"></span>
    <button type="button" id="log-export">Export CSV…</button>
  </div>
  <p id="log-status" class="run-status" role="status"></p>
  <div class="journal-table-wrap">
    <table id="log-table" class="journal-table" aria-describedby="log-range">
      <caption class="visually-hidden">The mail log, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Time</th><th scope="col">Queue id</th><th scope="col">From</th><th scope="col">To</th>
          <th scope="col">Result</th><th scope="col">Server's reply</th><th scope="col">Server</th><th scope="col">TLS</th>
          <th scope="col">Size</th><th scope="col">Took</th><th scope="col">Message-ID</th>
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
  </nav>
</div>`;

export interface LogFilter {
  result?: LogResult | null;
  address?: string | null;
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
      const link = (e.target as HTMLElement).closest<HTMLButtonElement>("button[data-go]");
      if (link?.dataset.go) go(link.dataset.go);
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
    this.since.value = "";
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
    this.rows.replaceChildren(...page.entries.map(logRow));
    const filtered = this.result.value || this.address.value.trim() || this.since.value || this.until.value || this.jump.value;
    const empty = byId(this.root, "log-empty");
    empty.textContent = filtered ? "No rows match." : "Nothing in the mail log yet.";
    show(empty, page.entries.length === 0);
    byId<HTMLButtonElement>(this.root, "log-newer").disabled = !page.newer;
    byId<HTMLButtonElement>(this.root, "log-older").disabled = !page.older;
    const first = page.entries[0];
    const last = page.entries[page.entries.length - 1];
    byId(this.root, "log-range").textContent =
      first && last ? `${page.entries.length} row${page.entries.length === 1 ? "" : "s"}, ${formatMs(last.at)} to ${formatMs(first.at)}, newest first` : "";
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

function logRow(e: LogEntry): HTMLTableRowElement {
  const tr = make("tr");
  tr.dataset.id = String(e.id);
  tr.dataset.result = e.result;
  const id = e.message === null ? make("span", "", "—") : make("button", "link-button", String(e.message));
  if (e.message !== null) {
    const b = id as HTMLButtonElement;
    b.type = "button";
    b.dataset.go = `message:${e.message}`;
    b.setAttribute("aria-label", `Open message ${e.message} in the queue`);
  }
  const cells: [HTMLElement | string, string][] = [
    [formatMs(e.at), "time"],
    [id, "num"],
    [senderText(e.sender), "addr"],
    [e.recipient, "addr"],
    [make("span", `journal-result ${e.result}`, resultWord(e.result)), "state"],
    [e.reply, "reply"],
    [e.server, "addr"],
    [e.tls ?? "", ""],
    [formatSize(e.size), "num"],
    [e.result === "received" || e.result === "refused" ? "" : formatDuration(e.duration_ms), "num"],
    [e.message_id, "msgid"],
  ];
  for (const [content, cls] of cells) {
    const td = make("td", cls);
    if (typeof content === "string") td.textContent = content;
    else td.append(content);
    tr.append(td);
  }
  return tr;
}
