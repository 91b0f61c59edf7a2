/** A keyring password's state (the server's, or the SMTP listener's), without DOM: whether one is saved in the keyring, typed, or to be cleared, and what saving or a run does with it. */

import type { ErrorReport, PasswordAction, Settings } from "../../model";

export class PasswordState {
  /** `uses`: whether the settings use this password, so that a typed one is saved (or tried). */
  constructor(private readonly uses: (settings: Settings) => boolean) {}


  /** null while unknown (not asked yet, or the keyring could not be asked). */
  saved: boolean | null = null;
  keyringProblem: ErrorReport | null = null;
  clear = false;
  typed = "";

  /** What saving (or a run of the form's values) does with the password. */
  action(settings: Settings): PasswordAction {
    if (this.uses(settings) && this.typed !== "") return { action: "set", value: this.typed };
    if (this.clear) return { action: "clear" };
    return { action: "keep" };
  }

  /** Whether saving would change the keyring. */
  pending(settings: Settings): boolean {
    return this.clear || (this.uses(settings) && this.typed !== "");
  }

  /** The line beside the field. */
  statusText(): string {
    if (this.typed !== "") return "The new password will be saved in the keyring";
    if (this.clear) return "The saved password will be removed when you save";
    if (this.saved === true) return "Password saved in keyring ✓";
    if (this.saved === false) return "No password saved";
    if (this.keyringProblem) return "The keyring could not be asked";
    return "Checking the keyring…";
  }

  showsSaved(): boolean {
    return this.saved === true && this.typed === "" && !this.clear;
  }

  canClear(): boolean {
    return this.saved === true && this.typed === "";
  }

  /** After loading or saving: nothing typed, nothing to clear. */
  settle(): void {
    this.typed = "";
    this.clear = false;
  }
}

/** The server's password counts when the relay logs in with one. */
export const usesServerPassword = (s: Settings): boolean => s.profile.auth.method === "password";

/** The listener's password counts when the listener is on and asks for a login. */
export const usesListenerPassword = (s: Settings): boolean => s.profile.listener.enabled && s.profile.listener.username !== "";
