/** Tests of the Authentication section's OAuth2 block over a fake core: its fields shown only for OAuth2, who is signed in, Sign in with the form's values, Sign out. */

import { beforeEach, describe, expect, it } from "vitest";
import { FakeIpc, settle } from "../../fake-ipc";
import { defaultSettings, type Auth, type Settings } from "../../model";
import type { OAuthState } from "../../generated/window/OAuthState";
import { mountSettings, type SettingsScreen } from "./index";

let ipc: FakeIpc;
let screen: SettingsScreen;
let signedIn: OAuthState;
let signInWith: Auth | null;

const $ = <T extends HTMLElement = HTMLInputElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id}`);
  return el as T;
};

function oauthSettings(): Settings {
  const s = defaultSettings();
  s.profile.mode = "relay";
  s.profile.relay.host = "smtp.office365.com";
  s.profile.auth = { ...s.profile.auth, method: "oauth2", username: "me@example.com", oauth_provider: "microsoft", oauth_client_id: "client-1" };
  s.profile.sender = { from_name: "", from_address: "me@example.com", reply_to: null };
  return s;
}

async function mount(settings: Settings): Promise<void> {
  ipc.loaded = { ...ipc.loaded, settings, notice: null, report: { errors: [], warnings: [] } };
  screen = mountSettings($("root"), ipc, { checkDelayMs: 0 });
  await screen.load();
  await settle();
}

beforeEach(() => {
  screen?.destroy();
  document.body.innerHTML = '<div id="root"></div>';
  ipc = new FakeIpc();
  signedIn = { signed_in: false, user: "", refreshed_at: 0 };
  signInWith = null;
  ipc.oauthStatus = async () => signedIn;
  ipc.oauthSignIn = async (_profile, auth) => {
    signInWith = auth;
    signedIn = { signed_in: true, user: "me@example.com", refreshed_at: 1_800_000_000 };
    return signedIn;
  };
  ipc.oauthSignOut = async () => {
    signedIn = { signed_in: false, user: "", refreshed_at: 0 };
    return signedIn;
  };
});

describe("OAuth2 sign-in", () => {
  it("shows the provider fields instead of the password, and who is signed in", async () => {
    signedIn = { signed_in: true, user: "me@example.com", refreshed_at: 1_800_000_000 };
    await mount(oauthSettings());
    expect($("auth-oauth-fields").hidden).toBe(false);
    expect($("password").closest<HTMLElement>(".field")?.hidden).toBe(true);
    expect($<HTMLSelectElement>("auth-oauth_provider").value).toBe("microsoft");
    expect($("auth-oauth_client_id").value).toBe("client-1");
    expect($("oauth-state").textContent).toMatch(/^Signed in as me@example\.com, token refreshed at .+\.$/);
    expect($("oauth-sign-out").hidden).toBe(false);
  });

  it("signs in with the form's values and signs out", async () => {
    await mount(oauthSettings());
    expect($("oauth-state").textContent).toBe("Not signed in.");
    expect($("oauth-sign-out").hidden).toBe(true);
    const id = $("auth-oauth_client_id");
    id.value = "client-2";
    id.dispatchEvent(new Event("input", { bubbles: true }));
    $<HTMLButtonElement>("oauth-sign-in").click();
    await settle();
    expect(signInWith?.oauth_client_id).toBe("client-2");
    expect(signInWith?.oauth_provider).toBe("microsoft");
    expect($("oauth-state").textContent).toContain("Signed in as me@example.com");
    $<HTMLButtonElement>("oauth-sign-out").click();
    await settle();
    expect($("oauth-state").textContent).toBe("Not signed in.");
  });

  it("while waiting, shows the address to open, takes a pasted address, and hides afterwards", async () => {
    let finish: (s: OAuthState) => void = () => undefined;
    ipc.oauthSignIn = (_profile, auth) => {
      signInWith = auth;
      ipc.emit("oauth-sign-in-url", { url: "https://login.example.com/authorize?state=s1" });
      return new Promise((resolve) => (finish = resolve));
    };
    const pasted: string[] = [];
    ipc.oauthPaste = async (url) => {
      pasted.push(url);
      finish({ signed_in: true, user: "me@example.com", refreshed_at: 1_800_000_000 });
    };
    await mount(oauthSettings());
    expect($("oauth-pending").hidden).toBe(true);
    $<HTMLButtonElement>("oauth-sign-in").click();
    await settle();
    expect($("oauth-pending").hidden).toBe(false);
    expect($("oauth-url").value).toBe("https://login.example.com/authorize?state=s1");
    expect($("oauth-url").hasAttribute("readonly")).toBe(true);
    expect(document.querySelector('label[for="oauth-url"]')?.textContent).toContain("open this address yourself");
    expect(document.querySelector('label[for="oauth-paste"]')?.textContent).toContain("it starts with http://127.0.0.1");
    $("oauth-paste").value = " http://127.0.0.1:4711/?code=c1&state=s1 ";
    $<HTMLButtonElement>("oauth-paste-use").click();
    await settle();
    expect(pasted).toEqual(["http://127.0.0.1:4711/?code=c1&state=s1"]);
    expect($("oauth-state").textContent).toContain("Signed in as me@example.com");
    expect($("oauth-pending").hidden).toBe(true);
    expect($("oauth-url").value).toBe("");
  });

  it("shows why a pasted address was refused, and Enter in the field uses it without saving the form", async () => {
    ipc.oauthSignIn = () => {
      ipc.emit("oauth-sign-in-url", { url: "https://login.example.com/authorize" });
      return new Promise(() => undefined);
    };
    ipc.oauthPaste = async () => {
      throw { kind: "o_auth_failed", message: "That is not the address the browser ended on: it has no code= in it." };
    };
    await mount(oauthSettings());
    $<HTMLButtonElement>("oauth-sign-in").click();
    await settle();
    $("oauth-paste").value = "hello";
    $("oauth-paste").dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    await settle();
    expect($("oauth-paste-problem").hidden).toBe(false);
    expect($("oauth-paste-problem").textContent).toContain("no code=");
    expect($("oauth-paste").getAttribute("aria-invalid")).not.toBeNull();
    expect(ipc.callsOf("save_settings")).toHaveLength(0);
    expect($("oauth-pending").hidden).toBe(false);
  });

  it("Cancel stops the sign-in: the page says so neutrally and the panel goes", async () => {
    let fail: (e: unknown) => void = () => undefined;
    ipc.oauthSignIn = () => {
      ipc.emit("oauth-sign-in-url", { url: "https://login.example.com/authorize" });
      return new Promise((_resolve, reject) => (fail = reject));
    };
    let cancels = 0;
    ipc.oauthCancel = async () => {
      cancels += 1;
      fail({ kind: "o_auth_failed", message: "Sign-in cancelled." });
    };
    await mount(oauthSettings());
    $<HTMLButtonElement>("oauth-sign-in").click();
    await settle();
    expect($<HTMLButtonElement>("oauth-sign-in").disabled).toBe(true);
    $<HTMLButtonElement>("oauth-cancel").click();
    await settle();
    expect(cancels).toBe(1);
    expect($("oauth-state").textContent).toBe("Sign-in cancelled.");
    expect($("oauth-state").textContent).not.toContain("failed");
    expect($("oauth-pending").hidden).toBe(true);
    expect($<HTMLButtonElement>("oauth-sign-in").disabled).toBe(false);
    expect($("oauth-sign-in").textContent).toBe("Sign in");
  });

  it("is hidden for a password login", async () => {
    const s = oauthSettings();
    s.profile.auth.method = "password";
    await mount(s);
    expect($("auth-oauth-fields").hidden).toBe(true);
    expect($("password").closest<HTMLElement>(".field")?.hidden).toBe(false);
  });
});
