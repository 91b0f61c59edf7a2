/** The Authentication section's OAuth2 block: provider, client id, the provider's URLs, and the sign-in ("Signed in as X, token refreshed at T", Sign in, Sign out). The sign-in itself runs in Rust (browser + loopback redirect); this only asks and shows. */

import { byId } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import type { Lifetime } from "../../lifecycle";
import type { Auth } from "../../model";

/** The form's helpers (markup.ts), passed in so the block is built the same way as every other field. */
export interface Builders {
  h: <K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string | boolean | undefined>, ...children: (Node | string | null | false | undefined)[]) => HTMLElementTagNameMap[K];
  field: (key: string, control: HTMLInputElement | HTMLSelectElement, opts?: { note?: string; help?: string }) => HTMLElement;
  textField: (key: string, attrs?: Record<string, string | boolean | undefined>, opts?: { note?: string; help?: string }) => HTMLElement;
  options: (pairs: [string, string][]) => HTMLOptionElement[];
}

/** The OAuth2 fields and the sign-in row, shown when the login is OAuth2. */
export function oauthBlock(b: Builders): HTMLElement {
  const { h } = b;
  return h(
    "div",
    { id: "auth-oauth-fields", hidden: true },
    h(
      "div",
      { class: "grid grid-2" },
      b.field("auth.oauth_provider", h("select", {}, ...b.options([["google", "Google (Gmail, Workspace)"], ["microsoft", "Microsoft 365"], ["custom", "Other (custom URLs)"]]))),
      b.textField("auth.oauth_client_id"),
      b.textField("auth.oauth_client_secret", {}, { note: "Google only" }),
    ),
    h(
      "details",
      { id: "oauth-urls" },
      h("summary", {}, "Provider URLs and scopes (empty: the provider's own)"),
      h(
        "div",
        { class: "grid grid-2" },
        b.textField("auth.oauth_authorize_url", { inputmode: "url" }, { note: "optional" }),
        b.textField("auth.oauth_token_url", { inputmode: "url" }, { note: "optional" }),
        b.textField("auth.oauth_device_url", { inputmode: "url" }, { note: "optional" }),
        b.textField("auth.oauth_scopes", {}, { note: "optional" }),
      ),
    ),
    h(
      "div",
      { class: "password-row", id: "oauth-row" },
      h("span", { id: "oauth-state", class: "password-state", role: "status" }, "Checking the keyring…"),
      h("button", { type: "button", id: "oauth-sign-in" }, "Sign in"),
      h("button", { type: "button", id: "oauth-sign-out", class: "link-button", hidden: true }, "Sign out"),
    ),
    h("p", { class: "help", id: "oauth-help" }, "Sign in opens your browser on the provider's page; the refresh token is kept only in the system keyring."),
  );
}

/** "Signed in as X, token refreshed at T" (or why not), and the two buttons' wiring. */
export class OAuthSignIn {
  private busy = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    life: Lifetime,
    private readonly form: { profile: () => string | undefined; auth: () => Auth },
  ) {
    life.on(byId(root, "oauth-sign-in"), "click", () => void this.signIn());
    life.on(byId(root, "oauth-sign-out"), "click", () => void this.signOut());
  }

  /** Asks who is signed in on the profile the form shows (only when the login is OAuth2). */
  async refresh(): Promise<void> {
    if (this.form.auth().method !== "oauth2" || !this.ipc.oauthStatus) return;
    try {
      this.show(await this.ipc.oauthStatus(this.form.profile()));
    } catch (e) {
      this.say(toErrorReport(e).message, false);
    }
  }

  private async signIn(): Promise<void> {
    if (this.busy || !this.ipc.oauthSignIn) return;
    this.busy = true;
    byId<HTMLButtonElement>(this.root, "oauth-sign-in").disabled = true;
    this.say("Waiting for the sign-in in your browser…", false);
    try {
      this.show(await this.ipc.oauthSignIn(this.form.profile(), this.form.auth()));
    } catch (e) {
      const err = toErrorReport(e);
      this.say(`Sign-in failed: ${err.message}${err.hint ? ` ${err.hint}` : ""}`, false);
    } finally {
      this.busy = false;
      byId<HTMLButtonElement>(this.root, "oauth-sign-in").disabled = false;
    }
  }

  private async signOut(): Promise<void> {
    if (!this.ipc.oauthSignOut) return;
    try {
      this.show(await this.ipc.oauthSignOut(this.form.profile()));
    } catch (e) {
      this.say(toErrorReport(e).message, true);
    }
  }

  private show(s: { signed_in: boolean; user: string; refreshed_at: number }): void {
    if (!s.signed_in) {
      this.say("Not signed in.", false);
      return;
    }
    const when = s.refreshed_at ? new Date(s.refreshed_at * 1000).toLocaleString() : "never";
    this.say(`Signed in${s.user ? ` as ${s.user}` : ""}, token refreshed at ${when}.`, true);
  }

  private say(text: string, signedIn: boolean): void {
    byId(this.root, "oauth-state").textContent = text;
    byId(this.root, "oauth-sign-out").hidden = !signedIn;
    byId(this.root, "oauth-sign-in").textContent = signedIn ? "Sign in again" : "Sign in";
  }
}
