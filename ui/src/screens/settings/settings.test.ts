/** Tests of the Settings screen over a fake core: loading, live errors and warnings, saving (with the password action), and outside changes. */

import { beforeEach, describe, expect, it } from "vitest";
import { FakeIpc, settle } from "../../fake-ipc";
import { defaultSettings, type Issue, type Report, type Settings } from "../../model";
import { mountSettings, type SettingsScreen } from "./index";

/** Messages of the core's rules (src/settings/validate.rs) that these tests have the fake core give. */
const MESSAGES = {
  control: "contains a line break, tab or other control character — remove it (header injection guard)",
  hostRequired: "is required for relay mode — enter the SMTP server's name, e.g. smtp.example.com",
  badHost: (h: string) => `'${h}' may only contain letters, digits, dots and inner hyphens — enter a host name like smtp.example.com or an IP address`,
  fromRequired: "is required — enter the address mail is sent from, e.g. alerts@example.com",
  plaintextPassword: (h: string) => `a password would travel unencrypted to ${h} — choose STARTTLS or Implicit TLS`,
  anonymous:
    "Anonymous relay: the server must accept mail from this machine without a login. Fine for a local relay; elsewhere choose Password.",
  plaintext: "No encryption: messages (and anything in them) cross the network in plain text.",
  port465StartTls: "Port 465 expects implicit TLS, but STARTTLS is selected — choose 'Implicit TLS' or use port 587.",
  verifyOff: "Certificate checking is off: anyone on the path can pose as the server and read the password.",
} as const;

/** The fake core's verdict: a few of the core's rules, enough for the screen's behaviour (the rules are tested in Rust). */
function fakeCheck(s: Settings): Report {
  const p = s.profile;
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const relay = p.mode === "relay";
  if (/[\u0000-\u001f]/.test(p.sender.from_name)) errors.push({ field: "sender.from_name", message: MESSAGES.control });
  if (relay && p.relay.host === "") errors.push({ field: "relay.host", message: MESSAGES.hostRequired });
  else if (relay && /[^A-Za-z0-9.-]/.test(p.relay.host)) errors.push({ field: "relay.host", message: MESSAGES.badHost(p.relay.host) });
  if (p.mode !== "off" && p.sender.from_address === "") errors.push({ field: "sender.from_address", message: MESSAGES.fromRequired });
  if (relay && p.auth.method === "password" && p.relay.security === "none") {
    errors.push({ field: "relay.security", message: MESSAGES.plaintextPassword(p.relay.host) });
  }
  if (relay) {
    if (p.auth.method === "none") warnings.push({ field: "auth.method", message: MESSAGES.anonymous });
    if (p.relay.security === "none") warnings.push({ field: "relay.security", message: MESSAGES.plaintext });
    if (p.relay.port === 465 && p.relay.security === "start_tls") warnings.push({ field: "relay.port", message: MESSAGES.port465StartTls });
    if (!p.relay.verify_certificates && p.relay.security !== "none") {
      warnings.push({ field: "relay.verify_certificates", message: MESSAGES.verifyOff });
    }
  }
  return { errors, warnings };
}

let ipc: FakeIpc;
let screen: SettingsScreen;

function relaySettings(): Settings {
  const s = defaultSettings();
  s.profile.mode = "relay";
  s.profile.relay.host = "smtp.example.com";
  s.profile.auth = { ...s.profile.auth, method: "password", username: "me@example.com", mechanism: "auto" };
  s.profile.sender = { from_name: "Build Server", from_address: "alerts@example.com", reply_to: null };
  return s;
}

const $ = <T extends HTMLElement = HTMLInputElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id}`);
  return el as T;
};

/** Types a value as a script would: sets it and fires input (and change, when the field is left). */
function enter(id: string, value: string, leave = true): void {
  const el = $<HTMLInputElement | HTMLSelectElement>(id);
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  if (leave) el.dispatchEvent(new Event("change", { bubbles: true }));
}

async function mount(settings: Settings = relaySettings(), notice: string | null = null): Promise<void> {
  ipc.loaded = { ...ipc.loaded, settings, notice, report: fakeCheck(settings) };
  screen = mountSettings($("root"), ipc, { checkDelayMs: 0 });
  await screen.load();
  await settle();
}

async function clickSave(): Promise<void> {
  $<HTMLButtonElement>("save").click();
  await settle();
}

beforeEach(() => {
  screen?.destroy();
  document.body.innerHTML = '<div id="root"></div>';
  ipc = new FakeIpc();
  ipc.checkReply = async (s) => fakeCheck(s);
});

describe("loading", () => {
  it("fills every control from the settings", async () => {
    const s = relaySettings();
    s.profile.relay = { host: "mail.example.net", port: 465, security: "implicit_tls", verify_certificates: false, ca_file: "/etc/ca.pem" };
    s.profile.ehlo_name = "desk.example.net";
    s.profile.auth.mechanism = "login";
    s.profile.sender.reply_to = "ops@example.com";
    s.profile.limits = { timeout_secs: 45, connection_limit: 2, max_idle_secs: 0, batch_size: 250, max_queue_age_hours: 120 };
    await mount(s);

    expect($("mode-relay").checked).toBe(true);
    expect($("relay-host").value).toBe("mail.example.net");
    expect($("relay-port").value).toBe("465");
    expect($<HTMLSelectElement>("relay-security").value).toBe("implicit_tls");
    expect($("relay-verify_certificates").checked).toBe(false);
    expect($("relay-ca_file").value).toBe("/etc/ca.pem");
    expect($("ehlo_name").value).toBe("desk.example.net");
    expect($<HTMLSelectElement>("auth-method").value).toBe("password");
    expect($("auth-username").value).toBe("me@example.com");
    expect($<HTMLSelectElement>("auth-mechanism").value).toBe("login");
    expect($("sender-from_name").value).toBe("Build Server");
    expect($("sender-from_address").value).toBe("alerts@example.com");
    expect($("sender-reply_to").value).toBe("ops@example.com");
    expect($("limits-timeout_secs").value).toBe("45");
    expect($("limits-connection_limit").value).toBe("2");
    expect($("limits-max_idle_secs").value).toBe("0");
    expect($("limits-batch_size").value).toBe("250");
    expect($("ehlo_name").placeholder).toBe("this machine: desk.example.org");
    expect($("password").type).toBe("password");
    expect($("password").autocomplete).toBe("new-password");
    expect(screen.isDirty()).toBe(false);
    expect($("dirty-indicator").hidden).toBe(true);
    expect(ipc.callsOf("set_dirty")).toEqual([]);
  });

  it("shows the password state from the keyring", async () => {
    ipc.passwordReply = async () => ({ saved: true });
    await mount();
    expect($("password-state").textContent).toBe("Password saved in keyring ✓");
    expect($("password-clear").hidden).toBe(false);
  });

  it("explains a keyring that cannot be asked, without breaking the form", async () => {
    ipc.passwordReply = () =>
      Promise.reject({ kind: "keyring_locked", message: "The keyring is locked.", hint: "Unlock it and try again." });
    await mount();
    expect($("password-warning").hidden).toBe(false);
    expect($("password-warning").textContent).toContain("The keyring is locked. Unlock it and try again.");
    expect($("relay-host").value).toBe("smtp.example.com");
  });

  it("shows a notice without read-only actions when the file is fine", async () => {
    await mount(defaultSettings(), "Started from defaults. The old settings file was kept as x.broken-1.");
    expect($("load-notice").hidden).toBe(false);
    expect($("load-notice").getAttribute("role")).toBe("alert");
    expect($("load-notice").textContent).toContain("kept as x.broken-1");
    expect($("read-only-actions").hidden).toBe(true);
  });

  it("shows relay sections only in relay mode, and the note for direct delivery", async () => {
    await mount(defaultSettings());
    expect($("section-connection").hidden).toBe(true);
    expect($("section-auth").hidden).toBe(true);
    $("mode-direct").click();
    expect($("mode-note-direct").hidden).toBe(false);
    expect($("mode-note-direct").textContent).toBe(
      "Mail goes straight to each recipient's mail servers on port 25. Set this machine's public name (EHLO) and DKIM below, and check deliverability before the first mail goes out.",
    );
    $("mode-relay").click();
    expect($("section-connection").hidden).toBe(false);
    expect($("auth-password-fields").hidden).toBe(true);
    enter("auth-method", "password");
    expect($("auth-password-fields").hidden).toBe(false);
  });
});

describe("validation", () => {
  it("shows a field's error under it, marks it invalid, and blocks saving", async () => {
    await mount();
    enter("relay-host", "bad_host!");
    await settle();
    const error = $("relay-host-error");
    expect(error.hidden).toBe(false);
    expect(error.classList.contains("error")).toBe(true);
    expect(error.textContent).toContain(
      "'bad_host!' may only contain letters, digits, dots and inner hyphens — enter a host name like smtp.example.com or an IP address",
    );
    expect($("relay-host").getAttribute("aria-invalid")).toBe("true");
    expect($("relay-host").getAttribute("aria-describedby")).toContain("relay-host-error");

    await clickSave();
    expect(ipc.callsOf("save_settings")).toEqual([]);
    expect($("error-summary").hidden).toBe(false);
    expect($("error-summary").textContent).toContain("Server");
    expect($("save-status").textContent).toContain("Not saved");
  });

  it("shows every error after a save attempt, even in fields not visited", async () => {
    await mount(defaultSettings());
    $("mode-relay").click();
    expect($("relay-host-error").hidden).toBe(true);
    await clickSave();
    expect($("relay-host-error").textContent).toContain(MESSAGES.hostRequired);
    expect($("sender-from_address-error").textContent).toContain(MESSAGES.fromRequired);
    expect(ipc.callsOf("save_settings")).toEqual([]);
  });

  it("refuses a tab in a text field", async () => {
    await mount();
    enter("sender-from_name", "Build\tServer");
    await settle();
    expect($("sender-from_name-error").textContent).toContain(MESSAGES.control);
  });

  it("shows the warnings of a relay setup beside their fields", async () => {
    const s = relaySettings();
    s.profile.auth.method = "none";
    await mount(s);
    expect($("auth-method-warning").hidden).toBe(false);
    expect($("auth-method-warning").classList.contains("warning")).toBe(true);
    expect($("auth-method-warning").textContent).toContain(MESSAGES.anonymous);
    expect($("connection-anonymous-warning").hidden).toBe(false);
    expect($("connection-anonymous-warning").getAttribute("aria-label")).toMatch(/^Warning/);

    $("relay-verify_certificates").click();

    await settle();
    expect($("relay-verify_certificates-warning").textContent).toContain(MESSAGES.verifyOff);
    enter("relay-security", "none");
    await settle();
    expect($("relay-security-warning").textContent).toContain(MESSAGES.plaintext);
  });

  it("splits a pasted host:port and moves the port with the security mode", async () => {
    await mount();
    enter("relay-host", "mail.example.net:465", false);
    await settle();
    expect($("relay-host").value).toBe("mail.example.net");
    expect($("relay-port").value).toBe("465");
    expect($("relay-port-warning").textContent).toContain(MESSAGES.port465StartTls);

    enter("relay-security", "implicit_tls");

    await settle();
    expect($("relay-port").value).toBe("465");
    expect($("relay-port-warning").hidden).toBe(true);

    enter("relay-port", "465");

    await settle();
    enter("relay-security", "start_tls");
    await settle();
    expect($("relay-port").value).toBe("587");
    enter("relay-port", "2525");
    await settle();
    enter("relay-security", "implicit_tls");
    await settle();
    expect($("relay-port").value).toBe("2525");
  });

  it("does not split while typing, only when the field is left", async () => {
    await mount();
    const host = $("relay-host");
    host.value = "mail.example.net:5";
    host.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertText", data: "5" }));
    expect(host.value).toBe("mail.example.net:5");
    host.dispatchEvent(new Event("change", { bubbles: true }));
    expect(host.value).toBe("mail.example.net");
    expect($("relay-port").value).toBe("5");
  });

  it("refuses a password sent in plain text to a remote server", async () => {
    await mount();
    enter("relay-security", "none");
    await settle();
    expect($("relay-port").value).toBe("25");
    expect($("relay-security-error").textContent).toContain(
      "a password would travel unencrypted to smtp.example.com — choose STARTTLS or Implicit TLS",
    );
  });

  it("shows errors only Rust can find (e.g. a missing CA file)", async () => {
    const missing = "/nope.pem is not a readable file — choose an existing PEM file of CA certificates";
    ipc.checkReply = async (s) => ({
      errors: s.profile.relay.ca_file ? [{ field: "relay.ca_file", message: missing }] : [],
      warnings: [],
    });
    await mount();
    enter("relay-ca_file", "/nope.pem");
    await settle();
    expect(ipc.callsOf("check_settings").length).toBeGreaterThan(0);
    expect($("relay-ca_file-error").textContent).toContain(missing);
  });
});

describe("saving", () => {
  it("sends the settings and the new password, then clears the password and marks clean", async () => {
    await mount();
    enter("sender-from_address", "ops@example.com");
    enter("password", "s3cret pass");
    expect(screen.isDirty()).toBe(true);
    expect($("dirty-indicator").hidden).toBe(false);
    expect($("dirty-indicator").textContent).toBe("Unsaved changes");

    await clickSave();
    const expected = relaySettings();
    expected.profile.sender.from_address = "ops@example.com";
    expect(ipc.callsOf("save_settings")).toEqual([
      {
        command: "save_settings",
        args: { settings: expected, base: relaySettings(), password: { action: "set", value: "s3cret pass" }, keep_mine: [], listener_password: { action: "keep" }, profile: "global" },
      },
    ]);
    expect($("password").value).toBe("");
    expect($("save-status").textContent).toBe("Saved");
    expect($("save-status").getAttribute("role")).toBe("status");
    expect($("password-state").textContent).toBe("Password saved in keyring ✓");
    expect(screen.isDirty()).toBe(false);
    expect($("dirty-indicator").hidden).toBe(true);
    expect(ipc.callsOf("set_dirty").map((c) => (c.args as { dirty: boolean }).dirty)).toEqual([true, false]);
  });

  it("keeps the saved password when none is typed, and maps optional empties to null", async () => {
    await mount();
    enter("sender-reply_to", "x@example.com");
    enter("sender-reply_to", "");
    enter("sender-from_name", "Ops");
    await clickSave();
    const [call] = ipc.callsOf("save_settings");
    const args = call?.args as { settings: Settings; password: unknown };
    expect(args.password).toEqual({ action: "keep" });
    expect(args.settings.profile.sender).toEqual({ from_name: "Ops", from_address: "alerts@example.com", reply_to: null });
    expect(args.settings.profile.relay.ca_file).toBeNull();
  });

  it("keeps the password status it showed after a save that kept the password (the keyring is not asked)", async () => {
    ipc.passwordReply = async () => ({ saved: true });
    await mount();
    expect($("password-state").textContent).toBe("Password saved in keyring ✓");
    enter("sender-from_name", "Ops");
    await clickSave();
    expect($("save-status").textContent).toBe("Saved");
    expect($("password-state").textContent).toBe("Password saved in keyring ✓");
    expect(ipc.callsOf("password_status")).toHaveLength(1);
  });

  it("clears the saved password on request", async () => {
    ipc.passwordReply = async () => ({ saved: true });
    await mount();
    $("password-clear").click();
    expect(screen.isDirty()).toBe(true);
    expect($("password-state").textContent).toContain("will be removed");
    await clickSave();
    expect((ipc.callsOf("save_settings")[0]?.args as { password: unknown }).password).toEqual({ action: "clear" });
    expect($("password-state").textContent).toBe("No password saved");
  });

  it("disables Save while a save is in flight", async () => {
    let finish: () => void = () => {};
    ipc.saveReply = () =>
      new Promise((resolve) => {
        finish = () => resolve({ password_saved: false, listener_password_saved: null, report: { errors: [], warnings: [] }, settings: relaySettings() });
      });
    await mount();
    enter("sender-from_name", "Ops");
    $<HTMLButtonElement>("save").click();
    await settle();
    expect($<HTMLButtonElement>("save").disabled).toBe(true);
    finish();
    await settle();
    expect($<HTMLButtonElement>("save").disabled).toBe(false);
    expect($("save-status").textContent).toBe("Saved");
  });

  it("shows Rust's refusal on the fields it names", async () => {
    ipc.saveReply = () =>
      Promise.reject({
        kind: "invalid_settings",
        message: "the settings are not valid: relay.ca_file: /x.pem is not a readable file",
        hint: "Correct the fields marked, then save again. Nothing was saved.",
        field: "relay.ca_file",
        issues: [{ field: "relay.ca_file", message: "/x.pem is not a readable file — choose an existing PEM file of CA certificates" }],
      });
    await mount();
    enter("relay-ca_file", "/x.pem");
    await clickSave();
    expect($("relay-ca_file-error").textContent).toContain("/x.pem is not a readable file");
    expect($("relay-ca_file").getAttribute("aria-invalid")).toBe("true");
    expect($("save-status").textContent).toContain("Nothing was saved.");
    expect(screen.isDirty()).toBe(true);
  });

  it("reverts to the saved settings", async () => {
    await mount();
    enter("relay-host", "other.example.com");
    enter("password", "pw");
    $("revert").click();
    expect($("relay-host").value).toBe("smtp.example.com");
    expect($("password").value).toBe("");
    expect(screen.isDirty()).toBe(false);
  });
});

describe("changes outside the window", () => {
  it("reloads silently while the form is clean", async () => {
    await mount();
    const changed = relaySettings();
    changed.profile.relay.host = "changed.example.com";
    ipc.loaded = { ...ipc.loaded, settings: changed };
    ipc.emit("settings-changed");
    await settle();
    expect($("relay-host").value).toBe("changed.example.com");
    expect($("external-change").hidden).toBe(true);
    expect($("save-status").textContent).toBe("Settings reloaded (changed outside the window)");
  });

  it("asks before discarding edits", async () => {
    await mount();
    enter("sender-from_name", "My edit");
    const changed = relaySettings();
    changed.profile.relay.host = "changed.example.com";
    ipc.loaded = { ...ipc.loaded, settings: changed };
    ipc.emit("settings-changed");
    await settle();

    const banner = $("external-change");
    expect(banner.hidden).toBe(false);
    expect(banner.textContent).toContain("The settings file changed outside this window");
    expect($("sender-from_name").value).toBe("My edit");
    expect($("external-change-reload").textContent).toBe("Reload (discard my edits)");
    expect($("external-change-keep").textContent).toBe("Keep editing");

    $("external-change-reload").click();
    await settle();
    expect($("relay-host").value).toBe("changed.example.com");
    expect($("sender-from_name").value).toBe("Build Server");
    expect(banner.hidden).toBe(true);
    expect(screen.isDirty()).toBe(false);
  });

  it("keeps the edits when asked to", async () => {
    await mount();
    enter("sender-from_name", "My edit");
    const changed = relaySettings();
    changed.profile.relay.port = 2525;
    ipc.loaded = { ...ipc.loaded, settings: changed };
    ipc.emit("settings-changed");
    await settle();
    $("external-change-keep").click();
    expect($("external-change").hidden).toBe(true);
    expect($("sender-from_name").value).toBe("My edit");
  });

  it("ignores the echo of its own save", async () => {
    await mount();
    enter("sender-from_name", "Ops");
    await clickSave();
    const saved = (ipc.callsOf("save_settings")[0]?.args as { settings: Settings }).settings;
    ipc.loaded = { ...ipc.loaded, settings: saved };
    ipc.emit("settings-changed");
    await settle();
    expect($("save-status").textContent).toBe("Saved");
  });
});

describe("a settings file that cannot be used", () => {
  const path = "/home/me/.config/smtp-desk/settings.json";
  const broken = {
    path,
    kind: "broken" as const,
    line: 3,
    column: 14,
    problem: "unknown variant `warp`",
  };

  async function mountBroken(): Promise<void> {
    ipc.loaded = {
      ...ipc.loaded,
      settings: defaultSettings(),
      notice: `The settings file ${path} is not valid settings JSON: line 3, column 14: unknown variant \`warp\`.`,
      read_only: broken,
    };
    screen = mountSettings($("root"), ipc, { checkDelayMs: 0 });
    await screen.load();
    await settle();
  }

  it("says so, where, and offers to start from defaults or copy the path; saving is refused", async () => {
    await mountBroken();
    expect($("load-notice").hidden).toBe(false);
    expect($("load-notice-text").textContent).toContain("line 3, column 14");
    expect($("read-only-actions").hidden).toBe(false);
    expect($("start-from-defaults").hidden).toBe(false);
    expect($("settings-file-path").value).toBe(path);

    enter("sender-from_name", "Edited anyway");
    await clickSave();
    expect(ipc.callsOf("save_settings")).toEqual([]);
    expect($("save-status").textContent).toContain("cannot be used as it is");
  });

  it("starts from defaults on request, then saves normally", async () => {
    await mountBroken();
    $("start-from-defaults").click();
    await settle();
    expect(ipc.callsOf("start_from_defaults")).toHaveLength(1);
    expect($("read-only-actions").hidden).toBe(true);
    expect($("load-notice-text").textContent).toContain("settings.json.broken-1");
    enter("sender-from_name", "Fresh");
    await clickSave();
    expect(ipc.callsOf("save_settings")).toHaveLength(1);
    expect($("save-status").textContent).toBe("Saved");
  });

  it("leaves read-only mode when the file is fixed outside, even if it matches what is shown", async () => {
    await mountBroken();
    ipc.loaded = { ...ipc.loaded, settings: defaultSettings(), notice: null, read_only: null };
    ipc.emit("settings-changed");
    await settle();
    expect($("load-notice").hidden).toBe(true);
    enter("sender-from_name", "Now fine");
    await clickSave();
    expect(ipc.callsOf("save_settings")).toHaveLength(1);
  });
});

describe("saving onto a file changed meanwhile", () => {
  it("sends what it loaded as the base and shows the merged result", async () => {
    await mount();
    enter("sender-from_name", "Window");
    // The file now also holds a change made by the CLI to another field.
    ipc.saveReply = async (s) => {
      const merged = structuredClone(s);
      merged.profile.limits.timeout_secs = 45;
      return { password_saved: false, listener_password_saved: null, report: { errors: [], warnings: [] }, settings: merged };
    };
    await clickSave();
    const args = ipc.callsOf("save_settings")[0]?.args as { base: Settings; settings: Settings };
    expect(args.base).toEqual(relaySettings());
    expect(args.settings.profile.sender.from_name).toBe("Window");
    expect($("limits-timeout_secs").value).toBe("45");
    expect(screen.isDirty()).toBe(false);

    // The next save starts from the merged file.
    enter("sender-from_name", "Again");
    ipc.saveReply = async (s) => ({ password_saved: false, listener_password_saved: null, report: { errors: [], warnings: [] }, settings: s });
    await clickSave();
    const second = ipc.callsOf("save_settings")[1]?.args as { base: Settings };
    expect(second.base.profile.limits.timeout_secs).toBe(45);
  });

  it("marks conflicting fields and lets the user keep theirs or reload", async () => {
    await mount();
    enter("relay-host", "window.example.com");
    ipc.saveReply = (_s, _p, _b, keepMine) =>
      keepMine.includes("relay.host")
        ? Promise.resolve({ password_saved: false, listener_password_saved: null, report: { errors: [], warnings: [] }, settings: _s })
        : Promise.reject({
            kind: "settings_conflict",
            message: "the settings file changed while you were editing: relay.host was changed there too",
            hint: "Reload to take the file's values, or keep yours and save again. Nothing was saved.",
            field: "relay.host",
            issues: [{ field: "relay.host", message: 'was changed in the file to "cli.example.com" since this edit began (yours: "window.example.com")' }],
          });
    await clickSave();
    const banner = $("conflict");
    expect(banner.hidden).toBe(false);
    expect($("conflict-list").textContent).toBe("Server");
    expect($("relay-host").getAttribute("aria-invalid")).toBe("true");
    expect($("relay-host-error").textContent).toContain("cli.example.com");
    expect(document.activeElement).toBe(banner);
    expect($("relay-host").value).toBe("window.example.com");

    $("conflict-keep").click();
    await settle();
    const calls = ipc.callsOf("save_settings");
    expect(calls).toHaveLength(2);
    expect((calls[1]?.args as { keep_mine: string[] }).keep_mine).toEqual(["relay.host"]);
    expect(banner.hidden).toBe(true);
    expect($("save-status").textContent).toBe("Saved");
  });

  it("reloads from the file after a conflict on request", async () => {
    await mount();
    enter("relay-host", "window.example.com");
    ipc.saveReply = () =>
      Promise.reject({ kind: "settings_conflict", message: "changed", issues: [{ field: "relay.host", message: "was changed" }] });
    await clickSave();
    const changed = relaySettings();
    changed.profile.relay.host = "cli.example.com";
    ipc.loaded = { ...ipc.loaded, settings: changed };
    $("conflict-reload").click();
    await settle();
    expect($("relay-host").value).toBe("cli.example.com");
    expect($("conflict").hidden).toBe(true);
    expect(screen.isDirty()).toBe(false);
  });
});

/** Checks or unchecks a switch as a click would: sets it and fires change. */
function toggle(id: string, on: boolean): void {
  const box = $(id);
  box.checked = on;
  box.dispatchEvent(new Event("change", { bubbles: true }));
}

async function savedArgs(): Promise<{ settings: Settings; listener_password: unknown; password: unknown }> {
  await clickSave();
  const calls = ipc.callsOf("save_settings");
  return calls[calls.length - 1]?.args as { settings: Settings; listener_password: unknown; password: unknown };
}

describe("logs", () => {
  it("shows how long logs are kept, with the registry's label, range and what is pruned when, and saves a change", async () => {
    const s = relaySettings();
    s.profile.logs = { retention_days: 30 };
    await mount(s);
    const input = $("logs-retention_days");
    expect(input.value).toBe("30");
    expect([input.type, input.min, input.max]).toEqual(["number", "1", "3650"]);
    expect(document.querySelector('label[for="logs-retention_days"]')?.textContent).toBe("Keep logs for (days)");
    expect($("section-logs").querySelector("legend")?.textContent).toBe("Logs");
    expect(input.getAttribute("aria-describedby")).toContain("logs-retention_days-help");
    const help = $("logs-retention_days-help").textContent ?? "";
    expect(help).toContain("Mail-log and event-log entries older than this are deleted");
    expect(help).toContain("1\u2060–\u20603650");
    expect(help).toContain("when it starts and once a day");

    enter("logs-retention_days", "365");
    expect((await savedArgs()).settings.profile.logs).toEqual({ retention_days: 365 });
  });

  it("refuses a number of days the core cannot read, naming the field and its range", async () => {
    await mount();
    enter("logs-retention_days", "7.5");
    await clickSave();
    expect($("logs-retention_days-error").textContent).toContain("Keep logs for must be a whole number between 1 and 3650 days");
    expect($("logs-retention_days").getAttribute("aria-invalid")).toBe("true");
    expect(ipc.callsOf("save_settings")).toEqual([]);
  });
});

describe("mail from this machine", () => {
  it("fills and saves the local recipient, bounces and the SMTP listener", async () => {
    const s = relaySettings();
    s.profile.local_recipient = "admin@example.com";
    s.profile.listener = { enabled: true, port: 2526, username: "cron" };
    s.profile.bounces = { send: false, max_per_hour: 30 };
    s.profile.logs = { retention_days: 30 };
    await mount(s);
    expect($("local_recipient").value).toBe("admin@example.com");
    expect($("listener-enabled").checked).toBe(true);
    expect($("listener-port").value).toBe("2526");
    expect($("listener-username").value).toBe("cron");
    expect($("bounces-send").checked).toBe(false);
    expect($("bounces-max_per_hour").value).toBe("30");

    // An unchanged form saves what it was given (nothing is lost from the file).
    enter("sender-from_name", "Ops");
    expect((await savedArgs()).settings.profile).toMatchObject({
      local_recipient: "admin@example.com",
      listener: { enabled: true, port: 2526, username: "cron" },
      bounces: { send: false, max_per_hour: 30 },
      logs: { retention_days: 30 },
    });

    enter("local_recipient", "");
    enter("listener-port", "2600");
    enter("listener-username", "daemons");
    toggle("bounces-send", true);
    enter("bounces-max_per_hour", "12");
    expect((await savedArgs()).settings.profile).toMatchObject({
      local_recipient: null,
      listener: { enabled: true, port: 2600, username: "daemons" },
      bounces: { send: true, max_per_hour: 12 },
    });
  });

  it("labels every new control from the registry, with its help linked", async () => {
    await mount();
    const labelOf = (id: string) => document.querySelector(`label[for="${id}"]`)?.textContent ?? "";
    expect(labelOf("local_recipient")).toContain("Local recipient");
    expect(labelOf("listener-enabled")).toContain("SMTP listener");
    expect(labelOf("listener-port")).toContain("Listener port");
    expect(labelOf("listener-username")).toContain("Listener login");
    expect(labelOf("listener-password")).toContain("Listener password");
    expect(labelOf("bounces-send")).toContain("Send bounces");
    expect(labelOf("bounces-max_per_hour")).toContain("Bounces an hour");
    expect($("listener-enabled").getAttribute("aria-describedby")).toBe("listener-enabled-help");
    expect($("listener-enabled-help").textContent).toContain("127.0.0.1 and ::1");
    expect($("listener-password").type).toBe("password");
    expect($("section-local").querySelector("legend")?.textContent).toBe("Mail from this machine");
  });

  it("disables the listener's port, login and password while it is off, and the bounce cap while bounces are off", async () => {
    const s = relaySettings();
    s.profile.listener = { enabled: false, port: 2525, username: "" };
    s.profile.bounces = { send: true, max_per_hour: 60 };
    await mount(s);
    expect($("listener-port").disabled).toBe(true);
    expect($("listener-username").disabled).toBe(true);
    expect($("listener-password").disabled).toBe(true);
    expect($("bounces-max_per_hour").disabled).toBe(false);

    toggle("listener-enabled", true);
    expect($("listener-port").disabled).toBe(false);
    expect($("listener-username").disabled).toBe(false);
    // No login asked: no password to give.
    expect($("listener-password").disabled).toBe(true);
    enter("listener-username", "cron");
    expect($("listener-password").disabled).toBe(false);

    toggle("bounces-send", false);
    expect($("bounces-max_per_hour").disabled).toBe(true);
    toggle("listener-enabled", false);
    expect($("listener-port").disabled).toBe(true);
    expect($("listener-password").disabled).toBe(true);
  });

  it("names the field in the core's errors for the new fields", async () => {
    ipc.checkReply = async (s) => {
      const r = fakeCheck(s);
      if (s.profile.local_recipient === "root") {
        r.errors.push({ field: "local_recipient", message: "'root' is not an address — enter a plain address like name@example.com" });
      }
      return r;
    };
    await mount();
    enter("local_recipient", "root");
    await settle();
    expect($("local_recipient-error").textContent).toContain("Local recipient: 'root' is not an address");
    expect($("local_recipient").getAttribute("aria-invalid")).toBe("true");
    // A port the core cannot even read is marked here, with the registry's range.
    toggle("listener-enabled", true);
    enter("listener-port", "70000");
    await clickSave();
    expect($("listener-port-error").textContent).toContain("Listener port must be a whole number between 1 and 65535");
    expect(ipc.callsOf("save_settings")).toEqual([]);
  });
});

describe("the listener's password", () => {
  async function mountListener(saved: boolean): Promise<void> {
    ipc.listenerPasswordReply = async () => ({ saved });
    const s = relaySettings();
    s.profile.listener = { enabled: true, port: 2525, username: "cron" };
    await mount(s);
  }

  it("keeps the saved one when nothing is typed, and never shows it", async () => {
    await mountListener(true);
    expect(ipc.callsOf("listener_password_status")).toHaveLength(1);
    expect($("listener-password-state").textContent).toBe("Password saved in keyring ✓");
    expect($("listener-password").value).toBe("");
    enter("sender-from_name", "Ops");
    expect((await savedArgs()).listener_password).toEqual({ action: "keep" });
  });

  it("sets a typed one (and only the listener's), then empties the field", async () => {
    await mountListener(false);
    expect($("listener-password-state").textContent).toBe("No password saved");
    enter("listener-password", "local-Pa55");
    expect(screen.isDirty()).toBe(true);
    expect($("listener-password-state").textContent).toBe("The new password will be saved in the keyring");
    const args = await savedArgs();
    expect(args.listener_password).toEqual({ action: "set", value: "local-Pa55" });
    expect(args.password).toEqual({ action: "keep" });
    expect($("listener-password").value).toBe("");
    expect($("listener-password-state").textContent).toBe("Password saved in keyring ✓");
    expect(screen.isDirty()).toBe(false);
  });

  it("clears the saved one with its own button, and Keep undoes that", async () => {
    await mountListener(true);
    const clear = $<HTMLButtonElement>("listener-password-clear");
    expect(clear.hidden).toBe(false);
    clear.click();
    expect(clear.textContent).toBe("Keep saved password");
    expect(screen.isDirty()).toBe(true);
    clear.click();
    expect(screen.isDirty()).toBe(false);
    clear.click();
    const args = await savedArgs();
    expect(args.listener_password).toEqual({ action: "clear" });
    expect(args.password).toEqual({ action: "keep" });
    expect($("listener-password-state").textContent).toBe("No password saved");
  });

  it("does not save a typed password once the listener is turned off", async () => {
    await mountListener(false);
    enter("listener-password", "local-Pa55");
    toggle("listener-enabled", false);
    expect((await savedArgs()).listener_password).toEqual({ action: "keep" });
  });
});

describe("keep delivering when the window is closed", () => {
  it("shows the service's state and turns it on and off at once, without Save", async () => {
    ipc.service = { enabled: true, active: true };
    await mount();
    const box = $("delivery-service");
    expect(box.checked).toBe(true);
    expect(box.disabled).toBe(false);
    expect(box.getAttribute("role")).toBe("switch");
    expect(document.querySelector('label[for="delivery-service"]')?.textContent).toContain("Keep delivering when the window is closed");
    expect($("delivery-service-state").textContent).toContain("On");

    toggle("delivery-service", false);
    await settle();
    expect(ipc.callsOf("delivery_service_set")).toEqual([{ command: "delivery_service_set", args: { enabled: false } }]);
    expect(box.checked).toBe(false);
    expect($("delivery-service-state").textContent).toContain("Off");
    expect(screen.isDirty()).toBe(false);
    expect(ipc.callsOf("save_settings")).toEqual([]);
  });

  it("without systemd, says what to do instead and stays disabled", async () => {
    ipc.serviceProblem = {
      kind: "service_unavailable",
      message: "systemd does not run for this user here (systemctl is not installed)",
      hint: "Without systemd, start `smtp-desk deliver --daemon` from your session's autostart instead.",
    };
    await mount();
    const box = $("delivery-service");
    expect(box.disabled).toBe(true);
    expect(box.checked).toBe(false);
    expect($("delivery-service-error").hidden).toBe(false);
    expect($("delivery-service-error").textContent).toBe(
      "Needs systemd's user manager; run “smtp-desk deliver --daemon” from your session's autostart instead.",
    );
    expect(box.getAttribute("aria-describedby")).toContain("delivery-service-error");
  });

  it("shows a failed turn with systemctl's words and the switch back where it was", async () => {
    await mount();
    ipc.setDeliveryService = async () => {
      throw { kind: "service_failed", message: "`systemctl --user enable --now smtp-desk-deliver.service` failed: Unit file is masked." };
    };
    toggle("delivery-service", true);
    await settle();
    expect($("delivery-service").checked).toBe(false);
    expect($("delivery-service").disabled).toBe(false);
    expect($("delivery-service-error").textContent).toContain("Unit file is masked.");
  });
});

describe("trying the form's values", () => {
  const passed = {
    ok: true,
    cancelled: false,
    steps: [],
    warnings: [],
    transcript: [],
    elapsed_ms: 120,
  };

  it("validates the unsaved values with the typed password, writes nothing, then offers Save", async () => {
    await mount();
    enter("relay-port", "2525");
    enter("password", "typed secret");
    await settle();
    $("form-validate").click();
    await settle();
    const [call] = ipc.callsOf("validate_start");
    expect(call?.args).toEqual({
      recipient: null,
      form: { settings: expect.objectContaining({ profile: expect.objectContaining({ relay: expect.objectContaining({ port: 2525 }) }) }), password: { action: "set", value: "typed secret" }, profile: "global" },
    });
    expect(ipc.callsOf("save_settings")).toEqual([]);
    expect($("form-run-cancel").hidden).toBe(false);
    expect($<HTMLButtonElement>("form-validate").disabled).toBe(true);

    ipc.emit("validation-finished", { run_id: 1, outcome: passed });
    await settle();
    expect($("form-run-heading").textContent).toBe("Validation passed in 120 ms");
    expect(document.activeElement).toBe($("form-run-heading"));
    expect($("form-run-save").hidden).toBe(false);
    expect(ipc.callsOf("save_settings")).toEqual([]);

    $("form-run-save").click();
    await settle();
    expect(ipc.callsOf("save_settings")).toHaveLength(1);
    expect($("save-status").textContent).toBe("Saved");
    expect($("form-run-save").hidden).toBe(true);
  });

  it("does not offer to save values changed since the run passed", async () => {
    await mount();
    enter("relay-port", "2525");
    await settle();
    $("form-validate").click();
    await settle();
    enter("relay-port", "2526");
    ipc.emit("validation-finished", { run_id: 1, outcome: passed });
    await settle();
    expect($("form-run-save").hidden).toBe(true);
  });

  it("handles a run's end that arrives before its id", async () => {
    await mount();
    ipc.validateReply = async () => {
      ipc.emit("validation-finished", { run_id: 7, outcome: passed });
      return { run_id: 7 };
    };
    $("form-validate").click();
    await settle();
    expect($("form-run-heading").textContent).toBe("Validation passed in 120 ms");
  });

  it("marks the fields the core refuses the values for", async () => {
    await mount();
    ipc.validateReply = () =>
      Promise.reject({
        kind: "invalid_settings",
        message: "the settings are not valid",
        field: "relay.ca_file",
        issues: [{ field: "relay.ca_file", message: "/x.pem is not a readable file — choose an existing PEM file of CA certificates" }],
      });
    $("form-validate").click();
    await settle();
    expect($("form-run-heading").textContent).toBe("Not tried: correct the fields marked");
    expect($("relay-ca_file-error").textContent).toContain("/x.pem is not a readable file");
    expect(ipc.callsOf("save_settings")).toEqual([]);
  });

  it("needs a recipient to send a test email, then sends the form's values", async () => {
    await mount();
    $("form-send-test").click();
    await settle();
    expect(ipc.callsOf("send_test_start")).toEqual([]);
    expect($("form-test-recipient-error").hidden).toBe(false);
    expect(document.activeElement).toBe($("form-test-recipient"));

    $<HTMLInputElement>("form-test-recipient").value = "you@example.com";
    $("form-send-test").click();
    await settle();
    const [call] = ipc.callsOf("send_test_start");
    expect((call?.args as { to: string; form: { password: unknown } }).form.password).toEqual({ action: "keep" });
    expect($("form-run-heading").textContent).toBe("Test email sent in 420 ms");
  });
});
