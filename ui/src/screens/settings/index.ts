/** The Settings screen: the outgoing-mail form, the core's verdict on it, the password in the keyring, saving, changes made outside the window, and trying the form's values before saving. */

import type { Ipc } from "../../ipc";
import { SettingsForm } from "./form";
import { buildSettingsForm } from "./markup";

export { describeIssue, normalise } from "./fields";

export interface SettingsOptions {
  /** Milliseconds of quiet after an edit before the core is asked to check the form. */
  checkDelayMs?: number;
}

/**
 * The pause after a keystroke before the core is asked. The verdict's round trip in the real window
 * (IPC there and back, then the form redrawn) measured 3 ms (tests/window.rs prints it), well
 * inside a 16 ms frame, so the pause only needs to let a burst of typing settle into one request.
 */
export const CHECK_DELAY_MS = 80;

/** The Settings screen as the rest of the window sees it. */
export interface SettingsScreen {
  /** Loads the settings and the password state and fills the form. */
  load(): Promise<void>;
  /** Saves if the form is valid; resolves true when saved. */
  save(): Promise<boolean>;
  isDirty(): boolean;
  /** Called whenever the form becomes dirty or clean. */
  onDirtyChange(listener: (dirty: boolean) => void): void;
  /** Stops listening to events and timers. */
  destroy(): void;
}

/** Builds the screen into `container` and wires it to `ipc`. Call `load()` to fill it. */
export function mountSettings(container: HTMLElement, ipc: Ipc, options: SettingsOptions = {}): SettingsScreen {
  container.replaceChildren(buildSettingsForm());
  return new SettingsForm(container, ipc, options.checkDelayMs ?? CHECK_DELAY_MS);
}
