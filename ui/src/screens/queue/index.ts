/** The Queue screen: the outbox page by page (newest first, filter by state, search by address), live counts, the sending-off banner, a message's details, and the actions (flush, retry, hold, release, delete with confirmation). */

import "./queue.css";
import { breakable, byId, make, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import { Lifetime } from "../../lifecycle";
import type { MessageDetail, MessageSummary, Overview, Page, PageQuery, QueueState } from "../../model";
import {
  attemptsOf,
  countsText,
  formatAge,
  formatSize,
  formatTime,
  lastReply,
  messages,
  recipientsText,
  senderText,
  sendingOffText,
} from "./format";

/** Messages per page. */
export const PAGE_SIZE = 50;

/** Quiet after typing in the search box before the page is asked for. */
export const SEARCH_DELAY_MS = 200;

const STATES: QueueState[] = ["queued", "sending", "deferred", "held", "failed", "sent"];

const MARKUP = `
<div class="queue">
  <h1 id="queue-heading" class="visually-hidden">Queue</h1>
  <p id="queue-off" class="note note-warning queue-off" role="status" hidden></p>
  <p id="queue-counts" class="queue-counts" aria-live="polite"></p>
  <div class="queue-toolbar">
    <label for="queue-state-filter">State
      <select id="queue-state-filter">
        <option value="">All states</option>
        ${STATES.map((s) => `<option value="${s}">${s.charAt(0).toUpperCase()}${s.slice(1)}</option>`).join("")}
      </select>
    </label>
    <label for="queue-search">Search by address
      <input type="search" id="queue-search" placeholder="Sender or recipient contains…" spellcheck="false" autocomplete="off">
    </label>
  </div>
  <div class="actions queue-actions">
    <button type="button" id="queue-flush" class="primary">Flush now</button>
    <button type="button" id="queue-hold" disabled>Hold</button>
    <button type="button" id="queue-release" disabled>Release</button>
    <button type="button" id="queue-delete" disabled>Delete…</button>
    <span class="spacer"></span>
    <button type="button" id="queue-delete-all">Delete all…</button>
  </div>
  <p id="queue-status" class="run-status" role="status"></p>
  <div class="queue-table-wrap">
    <table id="queue-table" class="queue-table" aria-describedby="queue-range">
      <caption class="visually-hidden">Messages in the queue, newest first</caption>
      <thead>
        <tr>
          <th scope="col"><input type="checkbox" id="queue-select-all" aria-label="Select every message on this page"></th>
          <th scope="col">Id</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Subject</th>
          <th scope="col">Size</th><th scope="col">Age</th><th scope="col">Attempts</th><th scope="col">State</th><th scope="col">Last reply</th>
        </tr>
      </thead>
      <tbody id="queue-rows"></tbody>
    </table>
    <p id="queue-empty" class="queue-empty" hidden>No messages.</p>
  </div>
  <nav class="queue-pager" aria-label="Queue pages">
    <button type="button" id="queue-newer" disabled>← Newer</button>
    <span id="queue-range"></span>
    <button type="button" id="queue-older" disabled>Older →</button>
  </nav>
  <section id="queue-detail" class="queue-detail" aria-labelledby="queue-detail-heading" tabindex="-1" hidden></section>
  <dialog id="queue-confirm" aria-labelledby="queue-confirm-title" aria-describedby="queue-confirm-text">
    <h2 id="queue-confirm-title"></h2>
    <p id="queue-confirm-text">They are removed from the queue and will not be sent. This can't be undone.</p>
    <div class="dialog-actions">
      <button type="button" id="queue-confirm-cancel" autofocus>Cancel</button>
      <button type="button" id="queue-confirm-delete" class="danger">Delete</button>
    </div>
  </dialog>
</div>`;

export interface QueueScreen {
  /** Reads the counts and the first page. */
  load(): Promise<void>;
  /** Shows the messages with a recipient in this state (null: all), from the newest (links from the dashboard). */
  filterState(state: QueueState | null): Promise<void>;
  /** Opens one message's details (links from the mail log). */
  openMessage(id: number): Promise<void>;
  destroy(): void;
}

export interface QueueOptions {
  /** The clock for ages, in seconds since the epoch (tests fix it). */
  now?: () => number;
}

/** Builds the screen into `container` and wires it to `ipc`. Call `load()` to fill it. */
export function mountQueue(container: HTMLElement, ipc: Ipc, options: QueueOptions = {}): QueueScreen {
  container.innerHTML = MARKUP;
  return new Queue(container, ipc, options.now ?? (() => Date.now() / 1000));
}

/** Where the page on screen starts: the newest, or before / after an id. */
type Cursor = Pick<PageQuery, "before" | "after">;

class Queue implements QueueScreen {
  private readonly life = new Lifetime();
  private readonly rows: HTMLTableSectionElement;
  private readonly stateFilter: HTMLSelectElement;
  private readonly search: HTMLInputElement;
  private readonly status: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly confirm: HTMLDialogElement;
  private cursor: Cursor = { before: null, after: null };
  private page: Page | null = null;
  private readonly selected = new Set<number>();
  private shownDetail: number | null = null;
  private overview: Overview | null = null;
  /** What the confirm dialog deletes: ids, or null for all. */
  private pendingDelete: number[] | null | undefined;
  /** Shown at least once: from then on, changes reload the page on screen. */
  private loaded = false;
  /** Each page request's number: an older reply that arrives late is dropped. */
  private request = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    private readonly now: () => number,
  ) {
    this.rows = byId<HTMLTableSectionElement>(root, "queue-rows");
    this.stateFilter = byId<HTMLSelectElement>(root, "queue-state-filter");
    this.search = byId<HTMLInputElement>(root, "queue-search");
    this.status = byId(root, "queue-status");
    this.detail = byId(root, "queue-detail");
    this.confirm = byId<HTMLDialogElement>(root, "queue-confirm");
    const on = this.life.on.bind(this.life);
    // A new filter shows other messages: what was selected is let go, so no action hits unseen mail.
    on(this.stateFilter, "change", () => void this.firstPage(true));
    on(this.search, "input", () => this.life.timeout("search", SEARCH_DELAY_MS, () => void this.firstPage(true)));
    on(this.search, "keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter") {
        e.preventDefault();
        void this.firstPage(true);
      }
    });
    on(byId(root, "queue-newer"), "click", () => void this.turn("newer"));
    on(byId(root, "queue-older"), "click", () => void this.turn("older"));
    on(byId(root, "queue-select-all"), "change", (e) => this.selectAll((e.target as HTMLInputElement).checked));
    on(byId(root, "queue-flush"), "click", () => void this.flush());
    on(byId(root, "queue-hold"), "click", () => void this.change("hold"));
    on(byId(root, "queue-release"), "click", () => void this.change("release"));
    on(byId(root, "queue-delete"), "click", () => this.askDelete([...this.selected]));
    on(byId(root, "queue-delete-all"), "click", () => this.askDelete(null));
    on(byId(root, "queue-confirm-cancel"), "click", () => this.confirm.close());
    on(byId(root, "queue-confirm-delete"), "click", () => void this.doDelete());
    on(this.rows, "change", (e) => this.rowToggled(e.target as HTMLInputElement));
    on(this.rows, "click", (e) => {
      const open = (e.target as HTMLElement).closest<HTMLButtonElement>("button[data-open]");
      if (open) void this.showDetail(Number(open.dataset.open));
    });
    on(this.detail, "click", (e) => {
      const t = e.target as HTMLElement;
      if (t.id === "queue-detail-close") this.closeDetail();
      if (t.id === "queue-detail-retry" && this.shownDetail !== null) void this.retry(this.shownDetail);
    });
    on(root, "keydown", (e) => {
      if ((e as KeyboardEvent).key === "Escape" && !this.detail.hidden && !this.confirm.open) this.closeDetail();
    });
    this.life.subscribe(
      ipc.onQueueChanged((overview) => {
        this.showOverview(overview);
        if (this.loaded) void this.reload();
      }),
    );
    // Permanent failures are told where the queue is shown too (the window also notifies the desktop).
    this.life.subscribe(ipc.onQueueFailed((summary) => this.say(`${summary}. Choose “failed” under State to see them.`)));
  }

  async load(): Promise<void> {
    this.loaded = true;
    await Promise.all([this.refreshOverview(), this.reload()]);
  }

  async filterState(state: QueueState | null): Promise<void> {
    this.stateFilter.value = state ?? "";
    this.search.value = "";
    this.loaded = true;
    await Promise.all([this.refreshOverview(), this.firstPage(true)]);
  }

  async openMessage(id: number): Promise<void> {
    await this.showDetail(id);
  }

  destroy(): void {
    this.life.dispose();
  }

  private query(cursor: Cursor): PageQuery {
    const search = this.search.value.trim();
    return {
      state: (this.stateFilter.value || null) as QueueState | null,
      search: search === "" ? null : search,
      before: cursor.before,
      after: cursor.after,
      limit: PAGE_SIZE,
    };
  }

  private async firstPage(unselect = false): Promise<void> {
    if (unselect) this.selected.clear();
    this.cursor = { before: null, after: null };
    await this.reload();
  }

  private async turn(way: "newer" | "older"): Promise<void> {
    const ids = this.page?.messages.map((m) => m.id) ?? [];
    const [newest, oldest] = [ids[0], ids[ids.length - 1]];
    if (newest === undefined || oldest === undefined) return this.firstPage();
    this.cursor = way === "older" ? { before: oldest, after: null } : { before: null, after: newest };
    await this.reload();
  }

  /** Asks again for the page on screen (after a change, or a queue-changed event). */
  private async reload(): Promise<void> {
    const mine = ++this.request;
    try {
      const page = await this.ipc.queuePage(this.query(this.cursor));
      if (mine !== this.request || this.life.disposed) return;
      // Turning back past the newest leaves the newest page, not an empty one.
      if (page.messages.length === 0 && this.cursor.after !== null) return this.firstPage();
      this.render(page);
    } catch (e) {
      if (mine === this.request) this.say(`The queue could not be read: ${toErrorReport(e).message}`);
    }
  }

  private async refreshOverview(): Promise<void> {
    try {
      this.showOverview(await this.ipc.queueOverview());
    } catch (e) {
      this.say(`The queue could not be read: ${toErrorReport(e).message}`);
    }
  }

  private showOverview(o: Overview): void {
    this.overview = o;
    byId(this.root, "queue-counts").textContent = countsText(o.counts);
    const off = byId(this.root, "queue-off");
    const text = sendingOffText(o);
    off.textContent = text ?? "";
    show(off, text !== null);
    this.showRange();
  }

  private render(page: Page): void {
    this.page = page;
    const onPage = new Set(page.messages.map((m) => m.id));
    for (const id of [...this.selected]) if (!onPage.has(id)) this.selected.delete(id);
    const now = this.now();
    this.rows.replaceChildren(...page.messages.map((m) => this.row(m, now)));
    show(byId(this.root, "queue-empty"), page.messages.length === 0);
    byId(this.root, "queue-empty").textContent =
      this.search.value.trim() || this.stateFilter.value ? "No messages match." : "No messages: the queue is empty.";
    byId<HTMLButtonElement>(this.root, "queue-newer").disabled = !page.newer;
    byId<HTMLButtonElement>(this.root, "queue-older").disabled = !page.older;
    this.showRange();
    this.selectionChanged();
    if (this.shownDetail !== null && onPage.has(this.shownDetail)) void this.showDetail(this.shownDetail, false);
  }

  /** "Showing 50 of 1,234 messages": the page's total, or with no filter the overview's count. */
  private showRange(): void {
    const page = this.page;
    const n = page?.messages.length ?? 0;
    const unfiltered = !this.stateFilter.value && !this.search.value.trim();
    const all = page?.total ?? (unfiltered ? this.overview?.counts.messages : undefined);
    const total = all === undefined ? "" : ` of ${messages(all)}`;
    byId(this.root, "queue-range").textContent = n === 0 ? "" : `Showing ${n}${total}, newest first`;
  }

  private row(m: MessageSummary, now: number): HTMLTableRowElement {
    const tr = make("tr");
    tr.dataset.id = String(m.id);
    tr.dataset.state = m.state;
    const selected = this.selected.has(m.id);
    tr.setAttribute("aria-selected", String(selected));
    const check = make("input");
    check.type = "checkbox";
    check.checked = selected;
    check.dataset.id = String(m.id);
    check.setAttribute("aria-label", `Select message ${m.id}`);
    const open = make("button", "link-button", String(m.id));
    open.type = "button";
    open.dataset.open = String(m.id);
    open.setAttribute("aria-label", `Details of message ${m.id}`);
    const state = make("span", `queue-state ${m.state}`, m.state);
    const cells: [Node | string, string][] = [
      [check, ""],
      [open, "num"],
      [breakable(senderText(m.sender)), "addr"],
      [breakable(recipientsText(m)), "addr"],
      [m.subject, "subject"],
      [formatSize(m.size), "num"],
      [formatAge(m.received_at, now), "num"],
      [String(attemptsOf(m)), "num"],
      [state, "state"],
      [lastReply(m), "reply"],
    ];
    for (const [content, cls] of cells) {
      const td = make("td", cls);
      td.append(content);
      tr.append(td);
    }
    const age = tr.cells[6];
    if (age) age.title = formatTime(m.received_at);
    return tr;
  }

  private rowToggled(box: HTMLInputElement): void {
    const id = Number(box.dataset.id);
    if (!box.dataset.id) return;
    if (box.checked) this.selected.add(id);
    else this.selected.delete(id);
    box.closest("tr")?.setAttribute("aria-selected", String(box.checked));
    this.selectionChanged();
  }

  private selectAll(on: boolean): void {
    for (const box of this.rows.querySelectorAll<HTMLInputElement>("input[type=checkbox]")) {
      box.checked = on;
      this.rowToggled(box);
    }
  }

  private selectionChanged(): void {
    const n = this.selected.size;
    const all = byId<HTMLInputElement>(this.root, "queue-select-all");
    const onPage = this.page?.messages.length ?? 0;
    all.checked = n > 0 && n === onPage;
    all.indeterminate = n > 0 && n < onPage;
    for (const id of ["queue-hold", "queue-release", "queue-delete"]) byId<HTMLButtonElement>(this.root, id).disabled = n === 0;
    byId(this.root, "queue-flush").textContent = n > 0 ? `Flush ${messages(n)}` : "Flush now";
    byId(this.root, "queue-delete").textContent = n > 0 ? `Delete ${messages(n)}…` : "Delete…";
  }

  private say(text: string): void {
    this.status.textContent = text;
  }

  private async flush(): Promise<void> {
    const ids = this.selected.size > 0 ? [...this.selected] : null;
    try {
      const n = await this.ipc.queueFlush(ids);
      const due = n > 0 ? `${messages(n)} made due now` : "Nothing was waiting for a retry";
      const next = this.overview?.mode === "off" ? "but sending is off: turn it on in Settings to send them." : "delivery is running.";
      this.say(`Flush requested: ${due}; ${next}`);
      this.selected.clear();
    } catch (e) {
      this.say(`Flush failed: ${toErrorReport(e).message}`);
    }
    await this.reload();
  }

  private async retry(id: number): Promise<void> {
    try {
      const n = await this.ipc.queueFlush([id]);
      this.say(n > 0 ? `Message ${id}: retrying now.` : `Message ${id} has nothing waiting for a retry.`);
    } catch (e) {
      this.say(`Retry failed: ${toErrorReport(e).message}`);
    }
    await this.reload();
  }

  private async change(action: "hold" | "release"): Promise<void> {
    const ids = [...this.selected];
    try {
      const n = action === "hold" ? await this.ipc.queueHold(ids) : await this.ipc.queueRelease(ids);
      this.say(action === "hold" ? `Held ${messages(n)}.` : `Released ${messages(n)}; they are sent next.`);
      // Done with them: the next action starts from a fresh selection.
      this.selected.clear();
    } catch (e) {
      this.say(`${action === "hold" ? "Hold" : "Release"} failed: ${toErrorReport(e).message}`);
    }
    await this.reload();
  }

  private askDelete(ids: number[] | null): void {
    if (ids !== null && ids.length === 0) return;
    this.pendingDelete = ids;
    const all = this.overview?.counts.messages;
    byId(this.root, "queue-confirm-title").textContent =
      ids === null ? `Delete all ${all === undefined ? "" : `${messages(all)} `}in the queue?` : `Delete ${messages(ids.length)}?`;
    if (!this.confirm.open) this.confirm.showModal();
    byId(this.root, "queue-confirm-cancel").focus();
  }

  private async doDelete(): Promise<void> {
    const ids = this.pendingDelete;
    this.confirm.close();
    if (ids === undefined) return;
    this.pendingDelete = undefined;
    try {
      const n = await this.ipc.queueDelete(ids);
      this.say(`Deleted ${messages(n)}.`);
      for (const id of ids ?? [...this.selected]) this.selected.delete(id);
      if (ids === null) this.selected.clear();
      if (this.shownDetail !== null && (ids === null || ids.includes(this.shownDetail))) this.closeDetail();
    } catch (e) {
      this.say(`Delete failed: ${toErrorReport(e).message}`);
    }
    await Promise.all([this.reload(), this.refreshOverview()]);
  }

  private closeDetail(): void {
    const id = this.shownDetail;
    this.shownDetail = null;
    show(this.detail, false);
    this.detail.replaceChildren();
    if (id !== null) this.rows.querySelector<HTMLButtonElement>(`button[data-open="${id}"]`)?.focus();
  }

  private async showDetail(id: number, focus = true): Promise<void> {
    let d: MessageDetail;
    try {
      d = await this.ipc.queueShow(id);
    } catch (e) {
      this.say(`Message ${id} could not be read: ${toErrorReport(e).message}`);
      return;
    }
    if (this.life.disposed) return;
    this.shownDetail = id;
    this.detail.replaceChildren(...detailContent(d));
    show(this.detail, true);
    if (focus) this.detail.focus();
  }
}

/** The details panel's content. */
function detailContent(d: MessageDetail): HTMLElement[] {
  const head = make("div", "queue-detail-head");
  const h = make("h2", "", `Message ${d.id}: ${d.subject || "(no subject)"}`);
  h.id = "queue-detail-heading";
  const retry = make("button", "", "Retry now");
  retry.type = "button";
  retry.id = "queue-detail-retry";
  const close = make("button", "", "Close");
  close.type = "button";
  close.id = "queue-detail-close";
  close.setAttribute("aria-keyshortcuts", "Escape");
  head.append(h, retry, close);

  const facts = make("dl");
  const fact = (label: string, value: string) => facts.append(make("dt", "", label), make("dd", "", value));
  fact("From", senderText(d.sender));
  fact("State", d.state);
  fact("Size", `${formatSize(d.size)} (${d.size.toLocaleString("en")} bytes)`);
  fact("Received", formatTime(d.received_at));
  fact("Message-ID", d.message_id);
  fact("Handed in by", d.source);

  const recipients = table(
    "Recipients",
    ["Address", "State", "Attempts", "Last reply", "Next try"],
    d.recipients.map((r) => [r.address, r.state, String(r.attempts), r.last_reply ?? "", r.next_try_at ? formatTime(r.next_try_at) : ""]),
  );
  const attempts = d.attempts.length
    ? table(
        "Attempts",
        ["When", "Recipient", "Server", "Result", "Server's reply", "Took"],
        d.attempts.map((a) => [formatTime(a.at), a.recipient, a.server, a.result, a.reply, `${a.duration_ms}\u00a0ms`]),
      )
    : [make("h3", "", "Attempts"), make("p", "", "Not tried yet.")];
  const headers = make("pre", "", d.headers);
  headers.tabIndex = 0;
  headers.setAttribute("aria-label", "Headers");
  return [head, facts, ...recipients, ...attempts, make("h3", "", "Headers"), headers];
}

function table(title: string, columns: string[], rows: string[][]): HTMLElement[] {
  const t = make("table", "queue-table");
  const caption = make("caption", "visually-hidden", title);
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
    for (const cell of r) tr.append(make("td", "", cell));
    body.append(tr);
  }
  t.append(caption, thead, body);
  return [make("h3", "", title), t];
}
