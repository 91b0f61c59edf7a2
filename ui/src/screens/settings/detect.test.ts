/** Tests of "Find settings" over a fake core: each source's outcome shown, the form filled on confirmation, and a host outside the address's domain needing its own explicit confirmation. */

import { beforeEach, describe, expect, it } from "vitest";
import { FakeIpc, settle } from "../../fake-ipc";
import { defaultSettings, type DetectCandidate, type Detection } from "../../model";
import { mountSettings, type SettingsScreen } from "./index";

let ipc: FakeIpc;
let screen: SettingsScreen;

const $ = <T extends HTMLElement = HTMLInputElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id}`);
  return el as T;
};

function candidate(over: Partial<DetectCandidate> = {}): DetectCandidate {
  return {
    host: "smtp.example.com",
    port: 2465,
    security: "implicit_tls",
    username_form: "email_address",
    username: "jo@example.com",
    source: "srv",
    trust: "trusted",
    note: "in your domain example.com",
    ...over,
  };
}

function detection(best: DetectCandidate | null): Detection {
  return {
    address: "jo@example.com",
    domain: "example.com",
    best,
    candidates: best ? [best] : [],
    sources: [
      { source: "autoconfig", title: "Domain autoconfig (autoconfig.D)", status: "nothing", summary: "HTTP 404", tried: [], elapsed_ms: 5 },
      { source: "srv", title: "DNS SRV records (RFC 6186)", status: "found", summary: "smtp.example.com:2465 (implicit TLS)", tried: [], elapsed_ms: 3 },
      { source: "probe", title: "Probe smtp.D / mail.D", status: "timed_out", summary: "no answer within the overall deadline (4000 ms)", tried: [], elapsed_ms: 4000 },
    ],
    elapsed_ms: 12,
    deadline_ms: 4000,
    cancelled: false,
  };
}

async function mount(): Promise<void> {
  const s = defaultSettings();
  ipc.loaded = { ...ipc.loaded, settings: s };
  screen = mountSettings($("root"), ipc, { checkDelayMs: 0 });
  await screen.load();
  await settle();
}

async function find(address: string): Promise<void> {
  $<HTMLButtonElement>("detect-open").click();
  $("detect-address").value = address;
  $<HTMLButtonElement>("detect-run").click();
  await settle();
}

beforeEach(() => {
  screen?.destroy();
  document.body.innerHTML = '<div id="root"></div>';
  ipc = new FakeIpc();
});

describe("Find settings", () => {
  it("shows every source's outcome and fills the form on confirmation", async () => {
    ipc.detectReply = async () => detection(candidate());
    await mount();
    await find("jo@example.com");

    expect(ipc.callsOf("detect_start")).toEqual([{ command: "detect_start", args: { address: "jo@example.com" } }]);
    const rows = [...document.querySelectorAll("#detect-sources li")].map((li) => li.textContent);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toContain("HTTP 404");
    expect(rows[2]).toContain("⏱");
    expect($("detect-best").textContent).toContain("smtp.example.com:2465");
    expect($("detect-confirm-row").hidden).toBe(true);
    // Nothing is filled until the user says so.
    expect($("relay-host").value).toBe("");

    $<HTMLButtonElement>("detect-apply").click();
    await settle();
    expect($("mode-relay").checked).toBe(true);
    expect($("relay-host").value).toBe("smtp.example.com");
    expect($<HTMLSelectElement>("relay-security").value).toBe("implicit_tls");
    expect($("relay-port").value).toBe("2465");
    expect($<HTMLSelectElement>("auth-method").value).toBe("password");
    expect($("auth-username").value).toBe("jo@example.com");
    expect($("sender-from_address").value).toBe("jo@example.com");
    expect(screen.isDirty()).toBe(true);
  });

  it("needs an explicit confirmation for a host outside the address's domain", async () => {
    ipc.detectReply = async () =>
      detection(candidate({ host: "smtp.hoster.net", source: "autoconfig", trust: "confirm", note: "smtp.hoster.net is outside example.com: the user must confirm before a password goes there" }));
    await mount();
    await find("jo@example.com");

    expect($("detect-confirm-row").hidden).toBe(false);
    expect($("detect-confirm-text").textContent).toContain("smtp.hoster.net is outside example.com");
    expect($<HTMLButtonElement>("detect-apply").disabled).toBe(true);
    $("detect-confirm-host").click();
    expect($<HTMLButtonElement>("detect-apply").disabled).toBe(false);
    $<HTMLButtonElement>("detect-apply").click();
    await settle();
    expect($("relay-host").value).toBe("smtp.hoster.net");
  });

  it("offers nothing to use when nothing was found, and says why", async () => {
    ipc.detectReply = async () => detection(null);
    await mount();
    await find("jo@example.com");
    expect($<HTMLButtonElement>("detect-apply").disabled).toBe(true);
    expect($("detect-status").textContent).toContain("No outgoing server found");
  });
});
