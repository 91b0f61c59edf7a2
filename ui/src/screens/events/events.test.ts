/** Tests of the Event log screen over a fake core: rows, filters, paging, and a validation opened with its steps and transcript. */

import { beforeEach, describe, expect, it } from "vitest";
import { FakeIpc, journalEvent, settle } from "../../fake-ipc";
import { formatDay, formatMs, formatTime } from "../log/format";
import { mountEvents, PAGE_SIZE, type EventsScreen } from "./index";

let ipc: FakeIpc;
let screen: EventsScreen;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const rowIds = () => [...document.querySelectorAll<HTMLTableRowElement>("#events-rows tr[data-id]")].map((r) => Number(r.dataset.id));

async function mount(): Promise<void> {
  document.body.innerHTML = `<section id="screen"></section>`;
  screen = mountEvents($("screen"), ipc);
  screen.setVisible(true);
  await settle();
}

beforeEach(() => {
  ipc = new FakeIpc();
  ipc.events = [journalEvent(1), journalEvent(2, "warning", "listener"), journalEvent(3, "error", "app"), journalEvent(4, "info", "settings")];
});

describe("the event log", () => {
  it("lists newest first and filters by severity and category", async () => {
    await mount();
    expect(rowIds()).toEqual([4, 3, 2, 1]);
    const sev = $<HTMLSelectElement>("events-severity");
    sev.value = "warning";
    sev.dispatchEvent(new Event("change"));
    await settle();
    expect(rowIds()).toEqual([3, 2]);
    const cat = $<HTMLSelectElement>("events-category");
    cat.value = "listener";
    cat.dispatchEvent(new Event("change"));
    await settle();
    expect(rowIds()).toEqual([2]);
    expect(document.querySelector("#events-rows tr[data-id]")!.textContent).toContain("Listener");
    await screen.filter("error");
    await settle();
    expect(rowIds()).toEqual([3]);
    expect(cat.value).toBe("");
  });

  it("pages", async () => {
    ipc.events = Array.from({ length: PAGE_SIZE + 2 }, (_, i) => journalEvent(i + 1));
    await mount();
    $("events-older").click();
    await settle();
    expect(rowIds()).toEqual([2, 1]);
    $("events-newer").click();
    await settle();
    expect(rowIds()).toHaveLength(PAGE_SIZE);
  });

  it("opens a validation with its steps and transcript", async () => {
    ipc.events = [
      {
        ...journalEvent(7, "error", "validation"),
        summary: "Validation failed at AUTH",
        detail: {
          ok: false,
          reply: null,
          queue_id: null,
          message_id: null,
          elapsed_ms: 300,
          warnings: [],
          failure: { kind: "auth_failed", message: "The server refused the login", hint: "Check the password" },
          steps: [{ step: "auth", title: "Login", status: "failed", duration_ms: 40, summary: "535 rejected", details: [], failure: null }],
          transcript: [
            { dir: "server", tls: false, text: "220 hi" },
            { dir: "client", tls: true, text: "AUTH PLAIN [redacted]" },
          ],
        },
      },
    ];
    await mount();
    const open = document.querySelector<HTMLButtonElement>("#events-rows button[data-open]")!;
    expect(open.textContent).toBe("Steps and transcript");
    open.click();
    const detail = $("events-detail");
    expect(detail.hidden).toBe(false);
    expect(detail.querySelector("h2")!.textContent).toBe("Validation failed at AUTH");
    expect(detail.querySelector(".failure-message")!.textContent).toBe("The server refused the login");
    expect(detail.querySelector("li.step.failed .step-title")!.textContent).toBe("Login");
    expect(detail.querySelector("pre")!.textContent).toBe("<- 220 hi\n~> AUTH PLAIN [redacted]");
    expect(document.activeElement).toBe(detail);
    detail.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(detail.hidden).toBe(true);
    expect(document.activeElement).toBe(open);
  });

  it("shows the time of day under a heading for each day", async () => {
    const day = new Date(2026, 2, 4, 12).getTime();
    ipc.events = [{ ...journalEvent(1), at: day - 86_400_000 }, { ...journalEvent(2), at: day }];
    await mount();
    const rows = [...document.querySelectorAll<HTMLTableRowElement>("#events-rows tr")];
    expect(rows.map((r) => (r.classList.contains("journal-day") ? r.textContent : r.dataset.id))).toEqual([
      formatDay(day),
      "2",
      formatDay(day - 86_400_000),
      "1",
    ]);
    expect(rows[1]!.querySelector("time")!.textContent).toBe(formatTime(day));
    expect(rows[1]!.querySelector("time")!.title).toBe(formatMs(day));
  });

  it("opens a settings change as a table of old and new values, and who made it", async () => {
    ipc.events = [
      {
        ...journalEvent(5, "info", "settings"),
        summary: "Settings changed from the window: Port 25 → 587, Password set",
        detail: {
          by: "window",
          changes: [
            { field: "relay.port", label: "Port", old: 25, new: 587 },
            { field: "password", label: "Password", old: null, new: "set" },
          ],
        },
      },
    ];
    await mount();
    const open = document.querySelector<HTMLButtonElement>("#events-rows button[data-open]")!;
    expect(open.textContent).toBe("Details");
    open.click();
    const detail = $("events-detail");
    const cells = [...detail.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((c) => c.textContent));
    expect(cells).toEqual([
      ["Port", "25", "587"],
      ["Password", "—", "set"],
    ]);
    expect(detail.querySelector("dl")!.textContent).toBe("ByThe window");
    expect(detail.querySelector("pre")).toBeNull();
  });

  it("opens a test email that did not start with its error and hint", async () => {
    ipc.events = [
      {
        ...journalEvent(6, "error", "test_email"),
        summary: "Test email not started: the sender address is missing",
        detail: { ok: false, by: "command_line", error: { kind: "invalid_settings", message: "The sender address is missing", hint: "Fill in From address" } },
      },
    ];
    await mount();
    document.querySelector<HTMLButtonElement>("#events-rows button[data-open]")!.click();
    const detail = $("events-detail");
    expect(detail.querySelector(".failure-message")!.textContent).toBe("The sender address is missing");
    expect(detail.querySelector(".hint")!.textContent).toBe("Fill in From address");
    expect(detail.querySelector("dl")!.textContent).toBe("ByThe command line");
  });
});
