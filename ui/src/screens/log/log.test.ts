/** Tests of the Mail log screen over a fake core: rows newest first, paging, jump to a date, filters, links to the queue, export, and live refresh on changes only while shown. */

import { beforeEach, describe, expect, it } from "vitest";
import { FakeIpc, logEntry, settle } from "../../fake-ipc";
import { addDays, dayValue, formatDay, formatMs, formatTime, parseTarget, startOfDay } from "./format";
import { mountLog, PAGE_SIZE, SEARCH_DELAY_MS, type LogScreen } from "./index";

let ipc: FakeIpc;
let screen: LogScreen;
let followed: string[];

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const rowIds = () => [...document.querySelectorAll<HTMLTableRowElement>("#log-rows tr[data-id]")].map((r) => Number(r.dataset.id));
const change = (id: string, value: string) => {
  const el = $<HTMLInputElement>(id);
  el.value = value;
  el.dispatchEvent(new Event("change"));
};

async function mount(): Promise<void> {
  document.body.innerHTML = `<section id="screen"></section>`;
  followed = [];
  screen = mountLog($("screen"), ipc, (link) => followed.push(link));
  screen.setVisible(true);
  await settle();
}

beforeEach(() => {
  ipc = new FakeIpc();
  ipc.log = [logEntry(1, "received"), logEntry(2, "deferred"), logEntry(3, "sent"), logEntry(4, "bounced")];
});

describe("the mail log", () => {
  it("lists rows newest first: time of day, queue id, from, to, result and reply, the rest in the row's detail", async () => {
    await mount();
    expect(rowIds()).toEqual([4, 3, 2, 1]);
    const row = document.querySelector<HTMLTableRowElement>('#log-rows tr[data-id="3"]')!;
    const cells = [...row.cells].map((c) => c.textContent);
    expect(cells.slice(2)).toEqual(["3", "cron@example.com", "to3@example.org", "Sent", "250 2.0.0 Ok"]);
    // The time of day only (the day is the group's heading), the full time in its title.
    const time = row.querySelector("time")!;
    expect(time.textContent).toBe(formatTime(logEntry(3).at));
    expect(time.textContent).not.toContain(String(new Date(logEntry(3).at).getFullYear()));
    expect(time.title).toBe(formatMs(logEntry(3).at));
    expect(time.dateTime).toBe(new Date(logEntry(3).at).toISOString());
    // Addresses may wrap before the @ and dots only.
    expect(row.cells[4]!.innerHTML).toBe("to3<wbr>@example<wbr>.org");
    // The reply is one line (cut by CSS), whole in its title.
    expect(row.querySelector<HTMLElement>(".log-reply")!.title).toBe("250 2.0.0 Ok");
    expect($("log-table").querySelectorAll("thead th")).toHaveLength(row.cells.length);
    expect($("log-empty").hidden).toBe(true);
    expect($<HTMLButtonElement>("log-older").disabled).toBe(true);
  });

  it("opens and closes a row's detail with its button (keyboard) or a click on the row", async () => {
    await mount();
    const row = document.querySelector<HTMLTableRowElement>('#log-rows tr[data-id="3"]')!;
    const toggle = row.querySelector<HTMLButtonElement>("button.log-toggle")!;
    const detail = $("log-detail-3") as HTMLTableRowElement;
    expect(row.nextElementSibling).toBe(detail);
    expect(toggle.getAttribute("aria-controls")).toBe("log-detail-3");
    expect(toggle.getAttribute("aria-label")).toContain("to3@example.org");
    expect([toggle.getAttribute("aria-expanded"), detail.hidden]).toEqual(["false", true]);
    toggle.click();
    expect([toggle.getAttribute("aria-expanded"), detail.hidden]).toEqual(["true", false]);
    const facts = Object.fromEntries(
      [...detail.querySelectorAll("dt")].map((dt) => [dt.textContent, (dt.nextElementSibling as HTMLElement).textContent]),
    );
    expect(facts).toMatchObject({
      "Server's reply": "250 2.0.0 Ok",
      Server: "smtp.example.com:587",
      TLS: "TLS 1.3",
      Size: "2.0 KB",
      Took: "120 ms",
      "Message-ID": "<3@example.com>",
      When: formatMs(logEntry(3).at),
    });
    detail.querySelector<HTMLButtonElement>("button[data-go]")!.click();
    expect(followed).toEqual(["message:3"]);
    row.cells[3]!.click();
    expect([toggle.getAttribute("aria-expanded"), detail.hidden]).toEqual(["false", true]);
    // The queue link in the row goes to the queue without opening the detail.
    row.querySelector<HTMLButtonElement>("td.num button[data-go]")!.click();
    expect(detail.hidden).toBe(true);
    expect(followed).toEqual(["message:3", "message:3"]);
    // A received row took no time and has no TLS of its own.
    $("log-detail-1").hidden = false;
    const received = [...$("log-detail-1").querySelectorAll("dt")].map((dt) => dt.textContent);
    expect(received).not.toContain("Took");
  });

  it("heads each day's rows with the day", async () => {
    const day = new Date(2026, 2, 4, 12).getTime();
    ipc.log = [logEntry(1, "sent", day - 86_400_000), logEntry(2, "sent", day - 60_000), logEntry(3, "sent", day)];
    await mount();
    const order = [...document.querySelectorAll<HTMLTableRowElement>("#log-rows tr:not(.log-detail)")].map((tr) =>
      tr.classList.contains("journal-day") ? tr.textContent : tr.dataset.id,
    );
    expect(order).toEqual([formatDay(day), "3", "2", formatDay(day - 86_400_000), "1"]);
    expect(document.querySelector<HTMLTableCellElement>("#log-rows tr.journal-day th")!.colSpan).toBe(7);
    expect($("log-range").textContent).toBe(`3 rows, ${formatMs(day - 86_400_000)} to ${formatMs(day)}`);
    ipc.log = [logEntry(2, "sent", day - 60_000), logEntry(3, "sent", day)];
    await screen.load();
    expect($("log-range").textContent).toBe(`2 rows, ${formatTime(day - 60_000)} to ${formatTime(day)}`);
    ipc.log = [logEntry(3, "sent", day)];
    await screen.load();
    expect($("log-range").textContent).toBe(`1 row, ${formatTime(day)}`);
  });

  it("filters today's rows of a result for the dashboard's figures", async () => {
    await mount();
    await screen.filter({ result: "sent", today: true });
    const q = ipc.callsOf("log_page").at(-1)?.args as { query: { since: number; until: number | null; result: string } };
    expect(q.query).toMatchObject({ result: "sent", since: startOfDay(Date.now()), until: null });
    expect($<HTMLInputElement>("log-since").value).toBe(dayValue(Date.now()));
    await screen.filter({ result: "bounced" });
    expect($<HTMLInputElement>("log-since").value).toBe("");
    expect(parseTarget("log:sent:today")).toEqual({ screen: "log", filter: "sent", today: true });
    expect(parseTarget("log:sent")).toEqual({ screen: "log", filter: "sent", today: false });
  });

  it("filters by result, address and date range", async () => {
    await mount();
    change("log-result", "deferred");
    await settle();
    expect(rowIds()).toEqual([2]);
    expect(ipc.callsOf("log_page").at(-1)?.args).toMatchObject({ query: { result: "deferred", before: null } });
    change("log-result", "");
    const address = $<HTMLInputElement>("log-address");
    address.value = "TO4@example.org";
    address.dispatchEvent(new Event("input"));
    await new Promise((r) => setTimeout(r, SEARCH_DELAY_MS + 20));
    await settle();
    expect(rowIds()).toEqual([4]);
    address.value = "";
    change("log-since", dayValue(Date.now()));
    await settle();
    expect(rowIds()).toEqual([]);
    expect($("log-empty").textContent).toBe("No rows match.");
    const q = ipc.callsOf("log_page").at(-1)?.args as { query: { since: number; until: number | null } };
    expect(q.query.until).toBeNull();
    expect(new Date(q.query.since).getHours()).toBe(0);
  });

  it("pages older and newer, and jumps to a date", async () => {
    ipc.log = Array.from({ length: PAGE_SIZE + 5 }, (_, i) => logEntry(i + 1));
    await mount();
    expect(rowIds()[0]).toBe(PAGE_SIZE + 5);
    $("log-older").click();
    await settle();
    expect(rowIds()).toEqual([5, 4, 3, 2, 1]);
    expect($<HTMLButtonElement>("log-newer").disabled).toBe(false);
    $("log-newer").click();
    await settle();
    expect(rowIds()).toHaveLength(PAGE_SIZE);
    expect(rowIds()[0]).toBe(PAGE_SIZE + 5);
    // The day of entry 3: rows from the end of that day back.
    change("log-jump", dayValue(logEntry(3).at));
    await settle();
    const q = ipc.callsOf("log_page").at(-1)?.args as { query: { before: { at: number; id: number } } };
    expect(q.query.before).toEqual({ at: addDays(logEntry(3).at, 1), id: 0 });
  });

  it("opens a row's message in the queue", async () => {
    await mount();
    const link = document.querySelector<HTMLButtonElement>('#log-rows tr[data-id="2"] td.num button[data-go]')!;
    expect(link.getAttribute("aria-label")).toBe("Open message 2 in the queue");
    link.click();
    expect(followed).toEqual(["message:2"]);
    expect(parseTarget("message:2")).toEqual({ screen: "queue", filter: "#2", today: false });
    expect(parseTarget("queue:failed")).toEqual({ screen: "queue", filter: "failed", today: false });
    expect(parseTarget("nowhere")).toBeNull();
  });

  it("exports what the filter shows, and says where", async () => {
    await mount();
    change("log-result", "sent");
    await settle();
    $("log-export").click();
    await settle();
    expect(ipc.callsOf("export_log_csv")[0]?.args).toMatchObject({ query: { result: "sent", before: null, after: null } });
    expect($("log-status").textContent).toBe("Saved 1 row to /home/me/mail-log.csv.");
    ipc.exportPath = null;
    $("log-status").textContent = "";
    $("log-export").click();
    await settle();
    expect($("log-status").textContent).toBe("");
  });

  it("reloads on changes while shown, and only once shown again when hidden", async () => {
    await mount();
    const reads = () => ipc.callsOf("log_page").length;
    const before = reads();
    ipc.log.push(logEntry(5));
    ipc.emit("queue-changed", ipc.overviewNow());
    await settle();
    expect(reads()).toBe(before + 1);
    expect(rowIds()[0]).toBe(5);
    screen.setVisible(false);
    ipc.emit("queue-changed", ipc.overviewNow());
    ipc.emit("queue-changed", ipc.overviewNow());
    await settle();
    expect(reads()).toBe(before + 1);
    screen.setVisible(true);
    await settle();
    expect(reads()).toBe(before + 2);
  });
});
