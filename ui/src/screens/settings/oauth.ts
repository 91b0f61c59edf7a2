/** The Authentication section's OAuth2 block: provider, client id, the provider's URLs, and the sign-in ("Signed in as X, token refreshed at T", Sign in, Sign out). The sign-in itself runs in Rust (browser + loopback redirect); this asks, shows, and while it waits offers the address to open by hand, a field to paste the address the browser ended on, and Cancel. */

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
    h(
      "div",
      { id: "oauth-pending", class: "oauth-pending", hidden: true },
      h("label", { for: "oauth-url" }, "If your browser didn't open or can't reach this computer, open this address yourself:"),
      h("input", { id: "oauth-url", type: "text", readonly: true, autocomplete: "off", spellcheck: "false" }),
      h("label", { for: "oauth-paste" }, "Paste the address your browser ends on (it starts with http://127.0.0.1):"),
      h(
        "div",
        { class: "oauth-paste-row" },
        h("input", { id: "oauth-paste", type: "text", inputmode: "url", autocomplete: "off", autocapitalize: "off", spellcheck: "false", "aria-describedby": "oauth-paste-problem" }),
        h("button", { type: "button", id: "oauth-paste-use" }, "Use this address"),
      ),
      h("p", { id: "oauth-paste-problem", class: "field-message error", role: "alert", hidden: true }),
      h("div", {}, h("button", { type: "button", id: "oauth-cancel" }, "Cancel")),
    ),
    h("p", { class: "help", id: "oauth-help" }, "Sign in opens your browser on the provider's page; the refresh token is kept only in the system keyring."),
  );
}

/** "Signed in as X, token refreshed at T" (or why not), and the two buttons' wiring. */
export class OAuthSignIn {
  private busy = false;
  private cancelled = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    life: Lifetime,
    private readonly form: { profile: () => string | undefined; auth: () => Auth },
  ) {
    life.on(byId(root, "oauth-sign-in"), "click", () => void this.signIn());
    life.on(byId(root, "oauth-sign-out"), "click", () => void this.signOut());
    life.on(byId(root, "oauth-paste-use"), "click", () => void this.paste());
    life.on(byId(root, "oauth-paste"), "keydown", (e) => {
      // Enter here uses the address; it must not submit (save) the settings form.
      if ((e as KeyboardEvent).key !== "Enter") return;
      e.preventDefault();
      void this.paste();
    });
    life.on(byId(root, "oauth-cancel"), "click", () => void this.cancel());
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
    this.cancelled = false;
    this.say("Waiting for the sign-in in your browser…", false);
    const unlisten = await this.ipc.onOAuthSignInUrl?.((e) => this.showPending(e.url)).catch(() => undefined);
    try {
      this.show(await this.ipc.oauthSignIn(this.form.profile(), this.form.auth()));
    } catch (e) {
      if (this.cancelled) {
        this.say("Sign-in cancelled.", false);
      } else {
        const err = toErrorReport(e);
        this.say(`Sign-in failed: ${err.message}${err.hint ? ` ${err.hint}` : ""}`, false);
      }
    } finally {
      unlisten?.();
      this.hidePending();
      this.busy = false;
      byId<HTMLButtonElement>(this.root, "oauth-sign-in").disabled = false;
    }
  }

  private showPending(url: string): void {
    if (!this.busy) return;
    byId<HTMLInputElement>(this.root, "oauth-url").value = url;
    byId<HTMLInputElement>(this.root, "oauth-paste").value = "";
    this.pasteProblem("");
    byId(this.root, "oauth-pending").hidden = false;
  }

  private hidePending(): void {
    const panel = byId(this.root, "oauth-pending");
    // Focus inside the panel would vanish with it; Sign in is where the keyboard continues.
    const hadFocus = panel.contains(document.activeElement);
    panel.hidden = true;
    byId<HTMLInputElement>(this.root, "oauth-url").value = "";
    byId<HTMLInputElement>(this.root, "oauth-paste").value = "";
    this.pasteProblem("");
    if (hadFocus) byId<HTMLButtonElement>(this.root, "oauth-sign-in").focus();
  }

  private pasteProblem(text: string): void {
    const p = byId(this.root, "oauth-paste-problem");
    p.textContent = text;
    p.hidden = !text;
    byId(this.root, "oauth-paste").toggleAttribute("aria-invalid", !!text);
  }

  private async paste(): Promise<void> {
    if (!this.busy || !this.ipc.oauthPaste) return;
    const url = byId<HTMLInputElement>(this.root, "oauth-paste").value.trim();
    if (!url) {
      this.pasteProblem("Paste the address from your browser's address bar first.");
      return;
    }
    this.pasteProblem("");
    try {
      await this.ipc.oauthPaste(url);
      // The sign-in may already have finished (and said so) by the time the paste returns.
      if (this.busy) this.say("Finishing the sign-in…", false);
    } catch (e) {
      const err = toErrorReport(e);
      this.pasteProblem(`${err.message}${err.hint ? ` ${err.hint}` : ""}`);
    }
  }

  private async cancel(): Promise<void> {
    if (!this.busy || !this.ipc.oauthCancel) return;
    this.cancelled = true;
    try {
      await this.ipc.oauthCancel();
    } catch (e) {
      this.cancelled = false;
      this.pasteProblem(toErrorReport(e).message);
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
