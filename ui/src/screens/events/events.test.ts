/** Tests of the Event log screen over a fake core: rows, filters, paging, and a validation opened with its steps and transcript. */

import { beforeEach, describe, expect, it } from "vitest";
import { FakeIpc, journalEvent, settle } from "../../fake-ipc";
import { mountEvents, PAGE_SIZE, type EventsScreen } from "./index";

let ipc: FakeIpc;
let screen: EventsScreen;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const rowIds = () => [...document.querySelectorAll<HTMLTableRowElement>("#events-rows tr")].map((r) => Number(r.dataset.id));

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
    expect(document.querySelector("#events-rows tr")!.textContent).toContain("Listener");
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
    detail.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(detail.hidden).toBe(true);
  });
});
