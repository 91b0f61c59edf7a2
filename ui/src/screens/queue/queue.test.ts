/** Tests of the Queue screen over a fake core: the table, filter and search, pages, live counts and the sending-off banner, details, and the actions with their confirmation. */

import { beforeEach, describe, expect, it } from "vitest";
import { FakeIpc, queued, settle } from "../../fake-ipc";
import { formatAge, formatSize, lastReply, sendingOffText } from "./format";
import { mountQueue, PAGE_SIZE, SEARCH_DELAY_MS, type QueueScreen } from "./index";

let ipc: FakeIpc;
let screen: QueueScreen;
const NOW = 1_700_000_000 + 200 * 60;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id}`);
  return el as T;
};
const rowIds = () => [...document.querySelectorAll<HTMLTableRowElement>("#queue-rows tr")].map((r) => Number(r.dataset.id));
const row = (id: number) => document.querySelector<HTMLTableRowElement>(`#queue-rows tr[data-id="${id}"]`)!;
const check = (id: number) => {
  const box = row(id).querySelector<HTMLInputElement>("input[type=checkbox]")!;
  box.checked = true;
  box.dispatchEvent(new Event("change", { bubbles: true }));
};

async function mount(): Promise<void> {
  document.body.innerHTML = `<section id="screen"></section>`;
  screen = mountQueue($("screen"), ipc, { now: () => NOW });
  await screen.load();
  await settle();
}

beforeEach(() => {
  ipc = new FakeIpc();
  ipc.queue = [queued(1), queued(2, ["a@example.org", "b@example.org", "c@example.org"], "deferred"), queued(3)];
});

describe("the table", () => {
  it("lists newest first with every column, and the counts", async () => {
    await mount();
    expect(rowIds()).toEqual([3, 2, 1]);
    const cells = [...row(2).cells].map((c) => c.textContent);
    expect(cells).toEqual([
      "",
      "2",
      "cron@example.com",
      "a@example.org, b@example.org +1",
      "Report 2",
      "2.0 KB",
      "3 h",
      "1",
      "deferred",
      "451 4.3.0 try again later",
    ]);
    // Addresses wrap before their @ and dots only, never mid-word.
    expect(row(2).cells[2]!.innerHTML).toBe("cron<wbr>@example<wbr>.com");
    expect($("queue-counts").textContent).toBe("3 messages in the queue · recipients: 2 queued, 3 deferred");
    expect($("queue-range").textContent).toBe("Showing 3 of 3 messages, newest first");
    expect($("queue-off").hidden).toBe(true);
    expect(row(3).querySelector("input")!.getAttribute("aria-label")).toBe("Select message 3");
  });

  it("filters by state and searches by address (after a pause in typing)", async () => {
    await mount();
    const state = $<HTMLSelectElement>("queue-state-filter");
    state.value = "deferred";
    state.dispatchEvent(new Event("change"));
    await settle();
    expect(rowIds()).toEqual([2]);
    expect(ipc.callsOf("queue_page").at(-1)!.args).toEqual({ query: { state: "deferred", search: null, before: null, after: null, limit: PAGE_SIZE } });
    state.value = "";
    state.dispatchEvent(new Event("change"));
    const search = $<HTMLInputElement>("queue-search");
    search.value = "TO3@";
    search.dispatchEvent(new Event("input"));
    await new Promise((r) => setTimeout(r, SEARCH_DELAY_MS + 20));
    await settle();
    expect(rowIds()).toEqual([3]);
    search.value = "nobody";
    search.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    await settle();
    expect(rowIds()).toEqual([]);
    expect($("queue-empty").hidden).toBe(false);
    expect($("queue-empty").textContent).toBe("No messages match.");
  });

  it("pages older and newer", async () => {
    ipc.queue = Array.from({ length: 120 }, (_, i) => queued(i + 1));
    await mount();
    expect(rowIds()).toHaveLength(50);
    expect(rowIds()[0]).toBe(120);
    expect($<HTMLButtonElement>("queue-newer").disabled).toBe(true);
    $("queue-older").click();
    await settle();
    expect(ipc.callsOf("queue_page").at(-1)!.args).toMatchObject({ query: { before: 71, after: null } });
    expect(rowIds()[0]).toBe(70);
    $("queue-older").click();
    await settle();
    expect(rowIds()).toHaveLength(20);
    expect($<HTMLButtonElement>("queue-older").disabled).toBe(true);
    $("queue-newer").click();
    await settle();
    expect(ipc.callsOf("queue_page").at(-1)!.args).toMatchObject({ query: { before: null, after: 20 } });
    expect(rowIds()[0]).toBe(70);
  });
});

describe("live counts and sending off", () => {
  it("says mail waits while sending is off, and follows queue-changed events", async () => {
    ipc.mode = "off";
    await mount();
    expect($("queue-off").hidden).toBe(false);
    expect($("queue-off").textContent).toBe(
      "Sending is off: 3 messages are waiting; they will be sent when you turn sending on (Settings → Mode).",
    );
    // Delivery runs after sending is turned on: events carry the counts, the page follows.
    ipc.mode = "relay";
    ipc.queue[0]!.recipients[0]!.state = "sent";
    ipc.queue[0]!.state = "sent";
    ipc.emit("queue-changed", ipc.overviewNow());
    await settle();
    expect($("queue-off").hidden).toBe(true);
    expect($("queue-counts").textContent).toBe("3 messages in the queue · recipients: 1 queued, 3 deferred, 1 sent");
    expect(row(1).dataset.state).toBe("sent");
  });

  it("says when mail failed for good, pointing at the failed filter", async () => {
    await mount();
    ipc.emit("queue-failed", "2 messages failed: bob@example.org: 550 no such user");
    await settle();
    expect($("queue-status").textContent).toBe(
      "2 messages failed: bob@example.org: 550 no such user. Choose “failed” under State to see them.",
    );
  });

  it("words one waiting message in the singular", () => {
    const counts = { messages: 1, queued: 1, sending: 0, sent: 0, deferred: 0, held: 0, failed: 0 };
    expect(sendingOffText({ counts, waiting: 1, mode: "off" })).toMatch(/^Sending is off: 1 message is waiting;/);
    expect(sendingOffText({ counts, waiting: 1, mode: "relay" })).toBeNull();
  });
});

describe("actions", () => {
  it("holds and releases the selected messages", async () => {
    await mount();
    check(1);
    check(3);
    expect($("queue-flush").textContent).toBe("Flush 2 messages");
    $("queue-hold").click();
    await settle();
    expect(ipc.callsOf("queue_hold")[0]!.args).toEqual({ ids: [1, 3] });
    expect($("queue-status").textContent).toBe("Held 2 messages.");
    expect(row(1).dataset.state).toBe("held");
    expect(row(1).getAttribute("aria-selected")).toBe("false");
    expect($<HTMLButtonElement>("queue-release").disabled).toBe(true);
    check(1);
    check(3);
    $("queue-release").click();
    await settle();
    expect($("queue-status").textContent).toBe("Released 2 messages; they are sent next.");
    expect(row(3).dataset.state).toBe("queued");
  });

  it("asks before deleting, then says how many", async () => {
    await mount();
    check(1);
    check(2);
    $("queue-delete").click();
    const dialog = $<HTMLDialogElement>("queue-confirm");
    expect(dialog.open).toBe(true);
    expect($("queue-confirm-title").textContent).toBe("Delete 2 messages?");
    $("queue-confirm-cancel").click();
    expect(dialog.open).toBe(false);
    expect(ipc.callsOf("queue_delete")).toEqual([]);

    $("queue-delete").click();
    $("queue-confirm-delete").click();
    await settle();
    expect(ipc.callsOf("queue_delete")[0]!.args).toEqual({ ids: [1, 2] });
    expect($("queue-status").textContent).toBe("Deleted 2 messages.");
    expect(rowIds()).toEqual([3]);
    expect($("queue-counts").textContent).toMatch(/^1 message in the queue/);

    $("queue-delete-all").click();
    expect($("queue-confirm-title").textContent).toBe("Delete all 1 message in the queue?");
    $("queue-confirm-delete").click();
    await settle();
    expect(ipc.callsOf("queue_delete")[1]!.args).toEqual({ ids: null });
    expect($("queue-status").textContent).toBe("Deleted 1 message.");
  });

  it("flushes all, or the selected ones", async () => {
    await mount();
    $("queue-flush").click();
    await settle();
    expect(ipc.callsOf("queue_flush")[0]!.args).toEqual({ ids: null });
    expect($("queue-status").textContent).toBe("Flush requested: 1 message made due now; delivery is running.");
    check(3);
    $("queue-flush").click();
    await settle();
    expect(ipc.callsOf("queue_flush")[1]!.args).toEqual({ ids: [3] });
  });

  it("says a flush sends nothing while sending is off", async () => {
    ipc.mode = "off";
    await mount();
    $("queue-flush").click();
    await settle();
    const said = $("queue-status").textContent ?? "";
    expect(said).toContain("but sending is off: turn it on in Settings");
    expect(said).not.toContain("delivery is running");
  });

  it("shows a message's details with every attempt, retries it, and closes with Escape", async () => {
    await mount();
    row(2).querySelector<HTMLButtonElement>("button[data-open]")!.click();
    await settle();
    const detail = $("queue-detail");
    expect(detail.hidden).toBe(false);
    expect($("queue-detail-heading").textContent).toBe("Message 2: Report 2");
    expect(detail.textContent).toContain("451 4.3.0 try again later");
    expect(detail.textContent).toContain("smtp.example.com:587");
    expect(detail.querySelector("pre")!.textContent).toContain("Subject: Report 2");
    $("queue-detail-retry").click();
    await settle();
    expect(ipc.callsOf("queue_flush")[0]!.args).toEqual({ ids: [2] });
    expect($("queue-status").textContent).toBe("Message 2: retrying now.");
    detail.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(detail.hidden).toBe(true);
    expect(document.activeElement).toBe(row(2).querySelector("button[data-open]"));
  });
});

it("formats sizes, ages and the explaining reply", () => {
  expect([formatSize(512), formatSize(4200), formatSize(3 * 1024 * 1024)]).toEqual(["512 B", "4.1 KB", "3.0 MB"]);
  expect([formatAge(100, 130), formatAge(0, 600), formatAge(0, 7200), formatAge(0, 3 * 86400)]).toEqual(["just now", "10 min", "2 h", "3 d"]);
  const m = queued(1, ["a@x", "b@x"]);
  m.state = "failed";
  m.recipients[0]!.last_reply = "250 ok";
  m.recipients[1]!.state = "failed";
  m.recipients[1]!.last_reply = "550 no such user";
  expect(lastReply(m)).toBe("550 no such user");
});
