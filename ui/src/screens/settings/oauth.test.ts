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

  it("is hidden for a password login", async () => {
    const s = oauthSettings();
    s.profile.auth.method = "password";
    await mount(s);
    expect($("auth-oauth-fields").hidden).toBe(true);
    expect($("password").closest<HTMLElement>(".field")?.hidden).toBe(false);
  });
});
