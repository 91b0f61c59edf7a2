/** Tests of the IPC contract with the Rust side, through Tauri's own mocks: command names, argument names, events, and error shapes. */

import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { afterEach, describe, expect, it } from "vitest";
import { tauriIpc, toErrorReport } from "./ipc";
import { defaultSettings } from "./model";

afterEach(() => clearMocks());

/** Records each command with its arguments, answering from `replies`. */
function record(replies: Record<string, unknown> = {}) {
  const calls: { cmd: string; args: unknown }[] = [];
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args });
      return replies[cmd] ?? null;
    },
    { shouldMockEvents: true },
  );
  return calls;
}

describe("queue commands", () => {
  it("uses the Rust command and argument names", async () => {
    const calls = record({ queue_delete: 3 });
    const query = { state: "held" as const, search: "a@", before: 9, after: null, limit: 50 };
    await tauriIpc.queuePage(query);
    await tauriIpc.queueShow(7);
    await tauriIpc.queueOverview();
    await tauriIpc.queueFlush(null);
    await tauriIpc.queueHold([1, 2]);
    await tauriIpc.queueRelease([2]);
    expect(await tauriIpc.queueDelete([1, 2, 3])).toBe(3);
    expect(calls).toEqual([
      { cmd: "queue_page", args: { query } },
      { cmd: "queue_show", args: { id: 7 } },
      { cmd: "queue_overview", args: {} },
      { cmd: "queue_flush", args: { ids: null } },
      { cmd: "queue_hold", args: { ids: [1, 2] } },
      { cmd: "queue_release", args: { ids: [2] } },
      { cmd: "queue_delete", args: { ids: [1, 2, 3] } },
    ]);
  });
});

describe("commands", () => {
  it("uses the Rust command and argument names; the keyring status waits for the ready form", async () => {
    const calls = record({ validate_start: { run_id: 4 } });
    const settings = defaultSettings();
    const status = tauriIpc.passwordStatus();
    await tauriIpc.loadSettings();
    await tauriIpc.checkSettings(settings);
    await tauriIpc.saveSettings(settings, settings, { action: "set", value: "pw" }, ["relay.host"]);
    await tauriIpc.startFromDefaults();
    await tauriIpc.setDirty(true);
    await tauriIpc.closeWindow();
    await tauriIpc.getUiState();
    await tauriIpc.setUiState({ theme: "dark", last_screen: "diagnose" });
    await tauriIpc.uiReady();
    await status;
    expect(await tauriIpc.validateStart(null)).toEqual({ run_id: 4 });
    await tauriIpc.cancelRun(4);
    await tauriIpc.sendTestStart("you@example.com");

    const strip = ({ cmd, args }: { cmd: string; args: unknown }) => ({
      cmd,
      args: args && typeof args === "object" && Object.keys(args).length ? args : undefined,
    });
    expect(calls.map(strip)).toEqual([
      { cmd: "load_settings", args: undefined },
      { cmd: "check_settings", args: { settings } },
      { cmd: "save_settings", args: { settings, base: settings, password: { action: "set", value: "pw" }, keep_mine: ["relay.host"], listener_password: { action: "keep" }, profile: null } },
      { cmd: "start_from_defaults", args: undefined },
      { cmd: "set_dirty", args: { dirty: true } },
      { cmd: "close_window", args: undefined },
      { cmd: "get_ui_state", args: undefined },
      { cmd: "set_ui_state", args: { state: { theme: "dark", last_screen: "diagnose" } } },
      { cmd: "ui_ready", args: undefined },
      { cmd: "password_status", args: { profile: null } },
      { cmd: "validate_start", args: { recipient: null, form: null } },
      { cmd: "run_cancel", args: { runId: 4, run_id: 4 } },
      { cmd: "send_test_start", args: { to: "you@example.com", form: null } },
    ]);
  });

  it("rejects with an ErrorReport whatever the failure looked like", async () => {
    mockIPC((cmd) => {
      if (cmd === "save_settings") throw { kind: "keyring_locked", message: "The keyring is locked.", hint: "Unlock it." };
      throw "command not_a_command not found";
    });
    await expect(tauriIpc.saveSettings(defaultSettings(), defaultSettings(), { action: "keep" })).rejects.toEqual({
      kind: "keyring_locked",
      message: "The keyring is locked.",
      hint: "Unlock it.",
    });
    await expect(tauriIpc.uiReady()).rejects.toEqual({ kind: "ipc", message: "command not_a_command not found" });
    expect(toErrorReport(new Error("boom"))).toEqual({ kind: "ipc", message: "boom" });
  });
});

describe("events", () => {
  it("delivers payloads to the screens' handlers", async () => {
    record();
    const steps: unknown[] = [];
    let changed = 0;
    await tauriIpc.onValidationStep((e) => steps.push(e));
    const unlisten = await tauriIpc.onSettingsChanged(() => changed++);
    await emit("validation-step", { run_id: 1, step: { step: "resolve" } });
    await emit("settings-changed");
    unlisten();
    await emit("settings-changed");
    expect(steps).toEqual([{ run_id: 1, step: { step: "resolve" } }]);
    expect(changed).toBe(1);
  });
});
