/** Tests of Direct mode on the Settings screen over a fake core: the identity and DKIM fields, the DKIM card (generate, confirm before replacing, Check DNS) and the Deliverability panel's lines. */

import { beforeEach, describe, expect, it } from "vitest";
import { FakeIpc, settle } from "../../fake-ipc";
import { defaultSettings, type DkimKey, type HealthReport, type Settings } from "../../model";
import { mountSettings, type SettingsScreen } from "./index";
import { publishedText } from "./dkim-card";

let ipc: FakeIpc;
let screen: SettingsScreen;

const $ = <T extends HTMLElement = HTMLInputElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id}`);
  return el as T;
};

function directSettings(): Settings {
  const s = defaultSettings();
  s.profile.mode = "direct";
  s.profile.ehlo_name = "desk.example.com";
  s.profile.sender = { from_name: "", from_address: "alerts@example.com", reply_to: null };
  s.profile.dkim = { enabled: true, selector: "desk2026", algorithm: "ed25519", domain: "example.com" };
  return s;
}

const KEY: DkimKey = {
  profile: "global",
  selector: "desk2026",
  domain: "example.com",
  algorithm: "ed25519",
  record_name: "desk2026._domainkey.example.com",
  record_value: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
  published: null,
};

const REPORT: HealthReport = {
  domain: "example.com",
  ehlo_name: "desk.example.com",
  public_ip: "192.0.2.7",
  lines: [
    { check: "ehlo_name", status: "ok", summary: "desk.example.com resolves to 192.0.2.7.", hint: "", record: null },
    { check: "spf", status: "failed", summary: "No SPF record.", hint: "Publish this record.", record: 'example.com. TXT "v=spf1 ip4:192.0.2.7 -all"' },
    { check: "blocklist", status: "unknown", summary: "Spamhaus ZEN refused the query.", hint: "", record: null },
    { check: "dmarc", status: "warning", summary: "DMARC policy is none.", hint: "Raise it to quarantine.", record: null },
  ],
};

async function mount(settings: Settings = directSettings()): Promise<void> {
  ipc.loaded = { ...ipc.loaded, settings };
  screen = mountSettings($("root"), ipc, { checkDelayMs: 0 });
  await screen.load();
  await settle();
}

beforeEach(() => {
  screen?.destroy();
  document.body.innerHTML = '<div id="root"></div>';
  ipc = new FakeIpc();
});

describe("Direct mode fields", () => {
  it("shows the EHLO name and DKIM fields in Direct and Relay, not Off, and carries them through a save", async () => {
    await mount();
    expect($("section-signing").hidden).toBe(false);
    expect($("section-deliverability").hidden).toBe(false);
    expect($("section-connection").hidden).toBe(true);
    expect($("ehlo_name").value).toBe("desk.example.com");
    expect($("dkim-enabled").checked).toBe(true);
    expect($("dkim-selector").value).toBe("desk2026");
    expect($<HTMLSelectElement>("dkim-algorithm").value).toBe("ed25519");
    expect($("dkim-domain").value).toBe("example.com");
    // Labels come from the registry.
    expect(document.querySelector('label[for="dkim-selector"]')?.textContent).toContain("DKIM selector");
    const selector = $("dkim-selector");
    selector.value = "next";
    selector.dispatchEvent(new Event("input", { bubbles: true }));
    await settle();
    $<HTMLButtonElement>("save").click();
    await settle();
    const saved = ipc.callsOf("save_settings")[0]?.args as { settings: Settings };
    expect(saved.settings.profile.dkim).toEqual({ enabled: true, selector: "next", algorithm: "ed25519", domain: "example.com" });
    $("mode-off").click();
    expect($("section-signing").hidden).toBe(true);
    expect($("section-deliverability").hidden).toBe(true);
    $("mode-relay").click();
    expect($("section-signing").hidden).toBe(false);
    expect($("section-deliverability").hidden).toBe(false);
  });
});

describe("the DKIM card", () => {
  it("generates a key when there is none and shows the record to publish with Copy buttons", async () => {
    ipc.dkimKey = async () => null;
    const asked: boolean[] = [];
    ipc.dkimGenerate = async (_p, replace) => {
      asked.push(replace);
      return KEY;
    };
    await mount();
    expect($("dkim-state").textContent).toContain("No key yet");
    expect($<HTMLButtonElement>("dkim-check").disabled).toBe(true);
    $("dkim-generate").click();
    await settle();
    expect(asked).toEqual([false]);
    expect($("dkim-state").textContent).toBe("Ed25519 key, selector desk2026, signing domain example.com.");
    const fields = [...$("dkim-record-rows").querySelectorAll("input")].map((i) => i.value);
    expect(fields).toEqual([KEY.record_name, KEY.record_value]);
    expect($("dkim-record-rows").querySelectorAll("button.copy-button")).toHaveLength(2);
    expect($("dkim-record").textContent).not.toContain("PRIVATE");
  });

  it("asks before replacing a key, and keeps it when told to", async () => {
    ipc.dkimKey = async () => KEY;
    const asked: boolean[] = [];
    ipc.dkimGenerate = async (_p, replace) => {
      asked.push(replace);
      return { ...KEY, record_value: "v=DKIM1; k=ed25519; p=NEW" };
    };
    await mount();
    $("dkim-generate").click();
    await settle();
    expect($("dkim-confirm").hidden).toBe(false);
    expect(asked).toEqual([]);
    $("dkim-confirm-keep").click();
    expect($("dkim-confirm").hidden).toBe(true);
    expect(asked).toEqual([]);
    $("dkim-generate").click();
    $("dkim-confirm-replace").click();
    await settle();
    expect(asked).toEqual([true]);
    expect([...$("dkim-record-rows").querySelectorAll("input")][1]?.value).toBe("v=DKIM1; k=ed25519; p=NEW");
  });

  it("says whether DNS publishes the key, in words, and shows the core's error text", async () => {
    ipc.dkimKey = async () => KEY;
    ipc.dkimCheck = async () => ({ ...KEY, published: { state: "missing" } });
    await mount();
    $("dkim-check").click();
    await settle();
    expect($("dkim-published").textContent).toContain("Missing");
    expect($("dkim-published").dataset.state).toBe("missing");
    expect(publishedText({ state: "different", detail: "v=DKIM1; p=OLD" }).word).toBe("Different");
    expect(publishedText({ state: "unknown", detail: "timeout" }).detail).toContain("timeout");
    expect(publishedText({ state: "matches" }).word).toBe("Matches");

    ipc.dkimKey = () => Promise.reject({ kind: "internal", message: "DKIM: DKIM is not built yet" });
    screen.destroy();
    document.body.innerHTML = '<div id="root"></div>';
    await mount();
    expect($("dkim-state").textContent).toBe("The key could not be read: DKIM: DKIM is not built yet");
  });
});

describe("the Deliverability panel", () => {
  it("lists each line with its status in words, hint and record with a Copy button", async () => {
    const domains: (string | undefined)[] = [];
    const ips: (string | undefined)[] = [];
    ipc.healthCheck = async (_p, domain, ip) => {
      domains.push(domain);
      ips.push(ip);
      return REPORT;
    };
    await mount();
    $("health-run").click();
    await settle();
    expect(domains).toEqual([undefined]);
    const items = [...$("health-lines").querySelectorAll("li")];
    expect(items.map((li) => li.dataset.check)).toEqual(["ehlo_name", "spf", "blocklist", "dmarc"]);
    expect(items.map((li) => li.querySelector(".health-badge")?.textContent)).toEqual(["✓ OK", "✕ Failed", "? Unknown", "⚠ Warning"]);
    // The icon is decorative: the word carries the status.
    expect(items[0]?.querySelector(".icon")?.getAttribute("aria-hidden")).toBe("true");
    expect(items[1]?.textContent).toContain("Publish this record.");
    expect(items[1]?.querySelector("input")?.value).toBe('example.com. TXT "v=spf1 ip4:192.0.2.7 -all"');
    expect(items[1]?.querySelector("button")?.textContent).toBe("Copy");
    expect($("health-status").textContent).toBe("example.com (EHLO desk.example.com, public IP 192.0.2.7): 1 OK, 1 warning, 1 failed, 1 unknown.");
    $("health-domain").value = "other.example";
    $("health-ip").value = " 198.51.100.4 ";
    $("health-run").click();
    await settle();
    expect(domains).toEqual([undefined, "other.example"]);
    expect(ips).toEqual([undefined, "198.51.100.4"]);
  });

  it("says why the check could not run", async () => {
    ipc.healthCheck = () => Promise.reject({ kind: "invalid_settings", message: "Nothing to check.", hint: "Enter the From address." });
    await mount();
    $("health-run").click();
    await settle();
    expect($("health-status").textContent).toBe("The check could not run: Nothing to check. Enter the From address.");
    expect($<HTMLButtonElement>("health-run").disabled).toBe(false);
  });

  it("runs beside a validation in Direct mode, not in Relay mode", async () => {
    let runs = 0;
    ipc.healthCheck = async () => {
      runs++;
      return REPORT;
    };
    await mount();
    $("form-test-recipient").value = "someone@example.net";
    $("form-validate").click();
    await settle();
    expect(runs).toBe(1);
    expect($("health-lines").querySelectorAll("li")).toHaveLength(4);
    const relay = defaultSettings();
    relay.profile.mode = "relay";
    relay.profile.relay.host = "smtp.example.com";
    relay.profile.sender.from_address = "a@example.com";
    screen.destroy();
    document.body.innerHTML = '<div id="root"></div>';
    await mount(relay);
    $("form-validate").click();
    await settle();
    expect(runs).toBe(1);
  });
});
