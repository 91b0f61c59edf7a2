/** Tests of the Mail log screen over a fake core: rows newest first, paging, jump to a date, filters, links to the queue, export, and live refresh on changes only while shown. */

import { beforeEach, describe, expect, it } from "vitest";
import { FakeIpc, logEntry, settle } from "../../fake-ipc";
import { addDays, dayValue, parseTarget } from "./format";
import { mountLog, PAGE_SIZE, SEARCH_DELAY_MS, type LogScreen } from "./index";

let ipc: FakeIpc;
let screen: LogScreen;
let followed: string[];

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const rowIds = () => [...document.querySelectorAll<HTMLTableRowElement>("#log-rows tr")].map((r) => Number(r.dataset.id));
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
  it("lists rows newest first with every column", async () => {
    await mount();
    expect(rowIds()).toEqual([4, 3, 2, 1]);
    const cells = [...document.querySelector<HTMLTableRowElement>('#log-rows tr[data-id="3"]')!.cells].map((c) => c.textContent);
    expect(cells.slice(1)).toEqual([
      "3",
      "cron@example.com",
      "to3@example.org",
      "Sent",
      "250 2.0.0 Ok",
      "smtp.example.com:587",
      "TLS 1.3",
      "2.0 KB",
      "120 ms",
      "<3@example.com>",
    ]);
    expect($("log-empty").hidden).toBe(true);
    expect($<HTMLButtonElement>("log-older").disabled).toBe(true);
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
    const link = document.querySelector<HTMLButtonElement>('#log-rows tr[data-id="2"] button[data-go]')!;
    expect(link.getAttribute("aria-label")).toBe("Open message 2 in the queue");
    link.click();
    expect(followed).toEqual(["message:2"]);
    expect(parseTarget("message:2")).toEqual({ screen: "queue", filter: "#2" });
    expect(parseTarget("queue:failed")).toEqual({ screen: "queue", filter: "failed" });
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
