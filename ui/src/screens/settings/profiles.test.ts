/** Tests of the Settings screen's profiles over a fake core: the profile bar, inherited and overridden fields, switching without mixing values, the policy's locks and banner. */

import { beforeEach, describe, expect, it } from "vitest";
import { FakeIpc, settle } from "../../fake-ipc";
import { defaultSettings, type Settings } from "../../model";
import { mountSettings, type SettingsScreen } from "./index";

let ipc: FakeIpc;
let screen: SettingsScreen;

function settings(): Settings {
  const s = defaultSettings();
  s.profile.mode = "relay";
  s.profile.relay.host = "smtp.global.example";
  s.profile.auth = { ...s.profile.auth, method: "none", username: "", mechanism: "auto" };
  s.profile.sender = { from_name: "Global Name", from_address: "global@example.com", reply_to: null };
  s.profiles = { alerts: { "relay.host": "smtp.alerts.example" } };
  return s;
}

const $ = <T extends HTMLElement = HTMLInputElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id}`);
  return el as T;
};

function enter(id: string, value: string): void {
  const el = $<HTMLInputElement | HTMLSelectElement>(id);
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  el.dispatchEvent(new Event("change", { bubbles: true }));
}

async function choose(profile: string): Promise<void> {
  enter("profile-select", profile);
  await settle();
}

async function mount(s: Settings = settings(), more: Partial<FakeIpc["loaded"]> = {}): Promise<void> {
  ipc.loaded = { ...ipc.loaded, settings: s, profile_names: ["global", ...Object.keys(s.profiles)], ...more };
  screen = mountSettings($("root"), ipc, { checkDelayMs: 0 });
  await screen.load();
  await settle();
}

function lastSaved(): { settings: Settings; profile?: string } {
  const call = ipc.callsOf("save_settings").at(-1);
  if (!call) throw new Error("nothing saved");
  return call.args as { settings: Settings; profile?: string };
}

beforeEach(() => {
  screen?.destroy();
  document.body.innerHTML = '<div id="root"></div>';
  ipc = new FakeIpc();
});

describe("the profile bar", () => {
  it("lists Global first with the default marked; Rename and Delete only for a named profile", async () => {
    const s = settings();
    s.default_profile = "alerts";
    await mount(s, { default_profile: "alerts" });
    const options = [...$<HTMLSelectElement>("profile-select").options].map((o) => [o.value, o.textContent]);
    expect(options).toEqual([
      ["global", "Global"],
      ["alerts", "alerts (default)"],
    ]);
    expect($<HTMLButtonElement>("profile-rename").disabled).toBe(true);
    expect($<HTMLButtonElement>("profile-delete").disabled).toBe(true);
    await choose("alerts");
    expect($<HTMLButtonElement>("profile-rename").disabled).toBe(false);
    expect($<HTMLButtonElement>("profile-default").disabled).toBe(true);
  });

  it("creates a profile through the dialog and shows it, inheriting everything", async () => {
    await mount();
    $<HTMLButtonElement>("profile-new").click();
    await settle();
    expect($<HTMLDialogElement>("profile-dialog").open).toBe(true);
    $("profile-dialog-name").value = "marketing";
    $<HTMLButtonElement>("profile-dialog-ok").click();
    await settle();
    expect(ipc.callsOf("profile_create")).toEqual([{ command: "profile_create", args: { name: "marketing", copy_of: null } }]);
    expect($<HTMLDialogElement>("profile-dialog").open).toBe(false);
    expect($<HTMLSelectElement>("profile-select").value).toBe("marketing");
    expect($("relay-host").value).toBe("smtp.global.example");
    expect($("relay-host").disabled).toBe(true);
    expect($("relay-host-scope-text").textContent).toBe("Inherited from Global: smtp.global.example");
  });

  it("shows the core's refusal of a name in the dialog, which stays open", async () => {
    await mount();
    ipc.profileProblem = { kind: "bad_profile_name", message: "The profile name 'a b' may use only letters, digits, - and _." };
    $<HTMLButtonElement>("profile-new").click();
    await settle();
    $("profile-dialog-name").value = "a b";
    $<HTMLButtonElement>("profile-dialog-ok").click();
    await settle();
    expect($("profile-dialog-error").hidden).toBe(false);
    expect($("profile-dialog-error").textContent).toContain("may use only letters");
    expect($<HTMLDialogElement>("profile-dialog").open).toBe(true);
  });

  it("deletes only after confirming, then shows Global", async () => {
    await mount();
    await choose("alerts");
    $<HTMLButtonElement>("profile-delete").click();
    await settle();
    expect($("profile-dialog-title").textContent).toBe("Delete profile alerts?");
    $<HTMLButtonElement>("profile-dialog-cancel").click();
    await settle();
    expect(ipc.callsOf("profile_delete")).toEqual([]);
    $<HTMLButtonElement>("profile-delete").click();
    await settle();
    $<HTMLButtonElement>("profile-dialog-ok").click();
    await settle();
    expect(ipc.callsOf("profile_delete")).toEqual([{ command: "profile_delete", args: { name: "alerts" } }]);
    expect($<HTMLSelectElement>("profile-select").value).toBe("global");
    expect([...$<HTMLSelectElement>("profile-select").options].map((o) => o.value)).toEqual(["global"]);
  });
});

describe("a named profile's fields", () => {
  it("shows the resolved values: overridden ones with Reset to Global, inherited ones disabled with Global's value, Global-only ones read-only", async () => {
    await mount();
    await choose("alerts");
    expect($("relay-host").value).toBe("smtp.alerts.example");
    expect($("relay-host").disabled).toBe(false);
    expect($("relay-host-scope-action").textContent).toBe("Reset to Global");
    expect($("sender-from_address").value).toBe("global@example.com");
    expect($("sender-from_address").disabled).toBe(true);
    expect($("sender-from_address-scope-text").textContent).toBe("Inherited from Global: global@example.com");
    expect($("sender-from_address-scope-action").textContent).toBe("Override");
    expect($("sender-from_address-scope-action").getAttribute("aria-label")).toBe("Override: From address");
    expect($("sender-from_address").getAttribute("aria-describedby")).toContain("sender-from_address-scope-text");
    expect($("relay-security-scope-text").textContent).toBe("Inherited from Global: STARTTLS (usually port 587)");
    expect($("logs-retention_days").disabled).toBe(true);
    expect($("logs-retention_days-scope-text").textContent).toContain("Set in Global");
    expect($("logs-retention_days-scope-action").hidden).toBe(true);
  });

  it("Override makes a field the profile's own; the save sends only its overrides, Global untouched, with the profile named", async () => {
    await mount();
    await choose("alerts");
    $<HTMLButtonElement>("sender-from_address-scope-action").click();
    await settle();
    expect($("sender-from_address").disabled).toBe(false);
    expect(document.activeElement).toBe($("sender-from_address"));
    enter("sender-from_address", "alerts@example.com");
    await settle();
    expect($("dirty-indicator").hidden).toBe(false);
    $<HTMLButtonElement>("save").click();
    await settle();
    const saved = lastSaved();
    expect(saved.profile).toBe("alerts");
    expect(saved.settings.profiles.alerts).toEqual({ "relay.host": "smtp.alerts.example", "sender.from_address": "alerts@example.com" });
    expect(saved.settings.profile).toEqual(settings().profile);
  });

  it("Reset to Global shows Global's value again and drops the override", async () => {
    await mount();
    await choose("alerts");
    $<HTMLButtonElement>("relay-host-scope-action").click();
    await settle();
    expect($("relay-host").value).toBe("smtp.global.example");
    expect($("relay-host").disabled).toBe(true);
    expect($("relay-host-scope-text").textContent).toBe("Inherited from Global: smtp.global.example");
    $<HTMLButtonElement>("save").click();
    await settle();
    expect(lastSaved().settings.profiles.alerts).toEqual({});
  });

  it("the password status and the passwords saved are the shown profile's", async () => {
    await mount();
    await choose("alerts");
    expect(ipc.callsOf("password_status").at(-1)?.args).toEqual({ profile: "alerts" });
    expect(ipc.callsOf("listener_password_status").at(-1)?.args).toEqual({ profile: "alerts" });
  });
});

describe("switching profiles", () => {
  it("asks before discarding unsaved edits and never carries a value into another profile", async () => {
    await mount();
    enter("sender-from_name", "Unsaved Global edit");
    await settle();
    await choose("alerts");
    expect($<HTMLDialogElement>("profile-dialog").open).toBe(true);
    expect($("profile-dialog-title").textContent).toBe("Discard unsaved changes?");
    $<HTMLButtonElement>("profile-dialog-cancel").click();
    await settle();
    expect($<HTMLSelectElement>("profile-select").value).toBe("global");
    expect($("sender-from_name").value).toBe("Unsaved Global edit");

    await choose("alerts");
    $<HTMLButtonElement>("profile-dialog-ok").click();
    await settle();
    expect($<HTMLSelectElement>("profile-select").value).toBe("alerts");
    expect($("sender-from_name").value).toBe("Global Name");
    expect($("relay-host").value).toBe("smtp.alerts.example");
    expect($("dirty-indicator").hidden).toBe(true);

    await choose("global");
    expect($("relay-host").value).toBe("smtp.global.example");
    expect($("relay-host").disabled).toBe(false);
    expect($("relay-host-scope").hidden).toBe(true);
  });
});

describe("the admin policy", () => {
  const locks = [
    { field: "relay.host", value: "smtp.corp.example", reason: "Locked by the admin policy (Set by IT)" },
    { field: "relay.verify_certificates", value: true, reason: "The admin policy requires certificate checking (Set by IT)" },
  ];

  it("shows locked fields disabled, with the locked value and the reason linked to the control", async () => {
    const s = settings();
    s.profile.relay.verify_certificates = false;
    await mount(s, { locks });
    for (const profile of ["global", "alerts"]) {
      await choose(profile);
      expect($("relay-host").value).toBe("smtp.corp.example");
      expect($("relay-host").disabled).toBe(true);
      expect($("relay-host-scope-text").textContent).toContain("Locked by the admin policy (Set by IT)");
      expect($("relay-host-scope-action").hidden).toBe(true);
      expect($("relay-verify_certificates").checked).toBe(true);
      expect($("relay-verify_certificates").disabled).toBe(true);
      expect($("relay-verify_certificates").getAttribute("aria-describedby")).toContain("relay-verify_certificates-scope-text");
    }
  });

  it("says sending is stopped while the policy file is invalid, with the problem and the path", async () => {
    await mount(settings(), { policy_problem: "line 3: unknown field `lokc`", policy_file: "/etc/smtp-desk/policy.json" });
    expect($("policy-invalid").hidden).toBe(false);
    expect($("policy-invalid-text").textContent).toContain("Sending is stopped");
    expect($("policy-invalid-text").textContent).toContain("unknown field `lokc`");
    expect($("policy-invalid-path").textContent).toBe("/etc/smtp-desk/policy.json");
  });

  it("shows no banner for a usable policy", async () => {
    await mount(settings(), { locks });
    expect($("policy-invalid").hidden).toBe(true);
  });
});

describe("import and export", () => {
  it("Export… says where the settings went", async () => {
    await mount();
    $<HTMLButtonElement>("settings-export").click();
    await settle();
    expect(ipc.callsOf("settings_export")).toHaveLength(1);
    expect($("save-status").textContent).toBe("Settings exported to /home/me/smtp-desk-settings.json (no passwords)");
  });

  it("an import refused lists every problem and changes nothing on the form", async () => {
    await mount();
    ipc.importReply = async () => {
      throw {
        kind: "import_invalid",
        message: "/tmp/bad.json can't be imported (2 problems); nothing was changed",
        issues: [
          { field: "profile.relay.port", message: "must be between 1 and 65535" },
          { field: "profiles.a b", message: "is not a profile name" },
        ],
      };
    };
    $<HTMLButtonElement>("settings-import").click();
    await settle();
    expect($("import-problems").hidden).toBe(false);
    expect([...$("import-problems-list").children].map((li) => li.textContent)).toEqual([
      "profile.relay.port: must be between 1 and 65535",
      "profiles.a b: is not a profile name",
    ]);
    expect($("relay-host").value).toBe("smtp.global.example");
  });

  it("an import fills the form from the settings written, after asking about unsaved edits", async () => {
    await mount();
    const imported = settings();
    imported.profile.relay.host = "smtp.imported.example";
    ipc.importReply = async () => ({
      loaded: { ...ipc.loaded, settings: imported },
      changed: true,
      migrated_from: 1,
      file: "/tmp/site.json",
    });
    enter("sender-from_name", "unsaved");
    await settle();
    $<HTMLButtonElement>("settings-import").click();
    await settle();
    expect($("profile-dialog-title").textContent).toBe("Discard unsaved changes?");
    $<HTMLButtonElement>("profile-dialog-ok").click();
    await settle();
    expect($("relay-host").value).toBe("smtp.imported.example");
    expect($("sender-from_name").value).toBe("Global Name");
    expect($("save-status").textContent).toBe("Imported /tmp/site.json (migrated from schema 1)");
    expect($("dirty-indicator").hidden).toBe(true);
  });
});
