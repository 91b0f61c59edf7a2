/** Tests of the window shell over a fake core: start-up ending in ui_ready, theme and screen memory, Ctrl+S, and the discard-changes dialog. */

import { beforeEach, describe, expect, it } from "vitest";
import { startApp } from "./app";
import { FakeIpc, queued, settle } from "./fake-ipc";

let ipc: FakeIpc;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id}`);
  return el as T;
};

beforeEach(() => {
  document.body.innerHTML = "";
  delete document.body.dataset.ready;
  ipc = new FakeIpc();
});

describe("start-up", () => {
  it("fills the form, restores theme and screen, then reports ready", async () => {
    ipc.uiState = { theme: "dark", last_screen: "diagnose" };
    await startApp(ipc);
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect($<HTMLSelectElement>("theme").value).toBe("dark");
    expect($("screen-diagnose").hidden).toBe(false);
    expect($("screen-settings").hidden).toBe(true);
    expect($("nav-diagnose").getAttribute("aria-current")).toBe("page");
    expect(document.body.dataset.ready).toBe("true");
    const order = ipc.calls.map((c) => c.command);
    expect(order).toContain("load_settings");
    expect(order.indexOf("ui_ready")).toBeGreaterThan(order.indexOf("load_settings"));
    expect(ipc.callsOf("ui_ready")).toHaveLength(1);
  });

  it("remembers the theme and the screen", async () => {
    await startApp(ipc);
    const theme = $<HTMLSelectElement>("theme");
    theme.value = "light";
    theme.dispatchEvent(new Event("change"));
    expect(document.documentElement.dataset.theme).toBe("light");
    $("nav-diagnose").click();
    await settle();
    expect(ipc.callsOf("set_ui_state").map((c) => c.args)).toEqual([
      { state: { theme: "light", last_screen: "settings" } },
      { state: { theme: "light", last_screen: "diagnose" } },
    ]);
  });
});

it("saves with Ctrl+S", async () => {
  await startApp(ipc);
  const name = $<HTMLInputElement>("sender-from_name");
  name.value = "Ops";
  name.dispatchEvent(new Event("input", { bubbles: true }));
  document.dispatchEvent(new KeyboardEvent("keydown", { key: "s", ctrlKey: true, bubbles: true }));
  await settle();
  expect(ipc.callsOf("save_settings")).toHaveLength(1);
  expect($("save-status").textContent).toBe("Saved");
});

it("reads the queue when its screen is first shown, and remembers it", async () => {
  await startApp(ipc);
  expect(ipc.callsOf("queue_page")).toEqual([]);
  $("nav-queue").click();
  await settle();
  expect($("screen-queue").hidden).toBe(false);
  expect($("screen-settings").hidden).toBe(true);
  expect($("nav-queue").getAttribute("aria-current")).toBe("page");
  expect(ipc.callsOf("queue_page")).toHaveLength(1);
  expect(ipc.callsOf("queue_overview")).toHaveLength(1);
  expect(ipc.uiState.last_screen).toBe("queue");
});

describe("closing with unsaved changes", () => {
  it("asks, and closes only when told to discard", async () => {
    await startApp(ipc);
    ipc.emit("close-requested");
    const dialog = $<HTMLDialogElement>("confirm-close");
    expect(dialog.open).toBe(true);
    expect(dialog.textContent).toContain("Discard unsaved changes?");

    $("confirm-close-cancel").click();
    expect(dialog.open).toBe(false);
    expect(ipc.callsOf("close_window")).toEqual([]);

    ipc.emit("close-requested");
    $("confirm-close-discard").click();
    await settle();
    expect(ipc.callsOf("close_window")).toHaveLength(1);
  });
});

describe("theme", () => {
  it("resolves system with matchMedia and colours by the resolved scheme", async () => {
    const { resolveScheme } = await import("./theme");
    const dark = { matchMedia: (q: string) => ({ matches: q === "(prefers-color-scheme: dark)" }) as MediaQueryList };
    const light = { matchMedia: () => ({ matches: false }) as unknown as MediaQueryList };
    expect(resolveScheme("system", dark)).toBe("dark");
    expect(resolveScheme("system", light)).toBe("light");
    expect(resolveScheme("light", dark)).toBe("light");
    expect(resolveScheme("dark", light)).toBe("dark");
  });
});

describe("the journal screens", () => {
  it("opens on the dashboard once sending is on, and on Settings while it is off", async () => {
    ipc.loaded.settings.profile.mode = "relay";
    ipc.uiState = { theme: "system", last_screen: "queue" };
    await startApp(ipc);
    await settle();
    expect($("screen-dashboard").hidden).toBe(false);
    expect($("nav-dashboard").getAttribute("aria-current")).toBe("page");
    expect(ipc.callsOf("dashboard")).toHaveLength(1);
    // The other journal screens are read only when first shown.
    expect(ipc.callsOf("log_page")).toEqual([]);
    expect(ipc.callsOf("report")).toEqual([]);

    document.body.innerHTML = "";
    ipc = new FakeIpc();
    await startApp(ipc);
    expect($("screen-settings").hidden).toBe(false);
    expect(ipc.callsOf("dashboard")).toEqual([]);
  });

  it("follows links to the queue (by state and by message), the log and the events", async () => {
    ipc.loaded.settings.profile.mode = "relay";
    ipc.queue = [queued(1), queued(2, ["x@example.org"], "failed")];
    const app = await startApp(ipc);
    await settle();
    app.go("queue:failed");
    await settle();
    expect($("screen-queue").hidden).toBe(false);
    expect($<HTMLSelectElement>("queue-state-filter").value).toBe("failed");
    expect([...document.querySelectorAll<HTMLTableRowElement>("#queue-rows tr")].map((r) => r.dataset.id)).toEqual(["2"]);
    app.go("message:1");
    await settle();
    expect($("queue-detail").hidden).toBe(false);
    expect($("queue-detail").textContent).toContain("Message 1");
    app.go("log:bounced");
    await settle();
    expect($("screen-log").hidden).toBe(false);
    expect($<HTMLSelectElement>("log-result").value).toBe("bounced");
    expect(ipc.callsOf("log_page").at(-1)?.args).toMatchObject({ query: { result: "bounced", since: null } });
    // The dashboard's "today so far" figures: that result, from today's local midnight.
    app.go("log:sent:today");
    await settle();
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    expect(ipc.callsOf("log_page").at(-1)?.args).toMatchObject({ query: { result: "sent", since: midnight.getTime(), until: null } });
    app.go("events:warning");
    await settle();
    expect($("screen-events").hidden).toBe(false);
    expect($<HTMLSelectElement>("events-severity").value).toBe("warning");
    app.go("settings");
    expect($("screen-settings").hidden).toBe(false);
  });
});
