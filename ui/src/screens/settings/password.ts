/** The password's state, without DOM: whether one is saved in the keyring, typed, or to be cleared, and what saving or a run does with it. */

import type { ErrorReport, PasswordAction, Settings } from "../../model";

export class PasswordState {
  /** null while unknown (not asked yet, or the keyring could not be asked). */
  saved: boolean | null = null;
  keyringProblem: ErrorReport | null = null;
  clear = false;
  typed = "";

  /** What saving (or a run of the form's values) does with the password. */
  action(settings: Settings): PasswordAction {
    if (settings.profile.auth.method === "password" && this.typed !== "") return { action: "set", value: this.typed };
    if (this.clear) return { action: "clear" };
    return { action: "keep" };
  }

  /** Whether saving would change the keyring. */
  pending(settings: Settings): boolean {
    return this.clear || (settings.profile.auth.method === "password" && this.typed !== "");
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
