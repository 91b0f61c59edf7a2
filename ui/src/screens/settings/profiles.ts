/** The profile bar's actions: New…, Rename…, Delete (confirmed) and Make default, and the question before switching profiles loses unsaved edits. One native <dialog> asks each. */

import { byId, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import type { Lifetime } from "../../lifecycle";
import type { LoadedSettings } from "../../model";
import { reportText } from "../../report-text";
import { GLOBAL, isGlobal } from "./scope";

type Asking = "new" | "rename" | "delete" | "discard";

export interface ProfileHooks {
  names(): readonly string[];
  selected(): string;
  /** The settings as a profile command wrote them; `show`: the profile to show now (null: the same). */
  loaded(loaded: LoadedSettings, show: string | null): void;
  status(text: string, kind: "ok" | "error" | "info" | ""): void;
  /** Whether the form has unsaved edits, which a profile change would discard. */
  dirty(): boolean;
}

const shownName = (name: string) => (isGlobal(name) ? "Global" : name);

export class ProfileDialog {
  private readonly dialog: HTMLDialogElement;
  private readonly nameInput: HTMLInputElement;
  private readonly copySelect: HTMLSelectElement;
  private asking: Asking | null = null;
  private answer: ((ok: boolean) => void) | null = null;
  private returnFocus: HTMLElement | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    life: Lifetime,
    private readonly hooks: ProfileHooks,
  ) {
    this.dialog = byId<HTMLDialogElement>(root, "profile-dialog");
    this.nameInput = byId<HTMLInputElement>(root, "profile-dialog-name");
    this.copySelect = byId<HTMLSelectElement>(root, "profile-dialog-copy");
    const click = (id: string, f: () => void) => life.on(byId(root, id), "click", f);
    click("profile-new", () => void this.start("new"));
    click("profile-rename", () => void this.start("rename"));
    click("profile-delete", () => void this.start("delete"));
    click("profile-default", () => void this.makeDefault());
    click("profile-dialog-ok", () => void this.confirm());
    click("profile-dialog-cancel", () => this.finish(false));
    // Escape closes a native dialog with "cancel": the same as the Cancel button.
    life.on(this.dialog, "cancel", (e) => {
      e.preventDefault();
      this.finish(false);
    });
    // Enter in the name would submit the settings form around the dialog.
    life.on(this.nameInput, "keydown", (e) => {
      if ((e as KeyboardEvent).key !== "Enter") return;
      e.preventDefault();
      void this.confirm();
    });
  }

  /** Asks before unsaved edits are discarded; resolves true to discard them. */
  confirmDiscard(): Promise<boolean> {
    return new Promise((resolve) => {
      this.open("discard");
      this.answer = resolve;
    });
  }

  private async start(asking: Exclude<Asking, "discard">): Promise<void> {
    if (this.hooks.dirty() && !(await this.confirmDiscard())) return;
    this.open(asking);
  }

  private open(asking: Asking): void {
    this.asking = asking;
    this.returnFocus = (this.root.ownerDocument.activeElement as HTMLElement | null) ?? null;
    const selected = this.hooks.selected();
    const texts: Record<Asking, [string, string, string]> = {
      new: ["New profile", "It inherits every field from Global until you override one.", "Create"],
      rename: [`Rename profile ${selected}`, "Its saved passwords move with it.", "Rename"],
      delete: [`Delete profile ${selected}?`, `Profile ${selected} and its saved passwords are removed. This can't be undone.`, "Delete"],
      discard: ["Discard unsaved changes?", "Your changes to this profile have not been saved. Switching now loses them.", "Discard changes"],
    };
    const [title, text, ok] = texts[asking];
    byId(this.root, "profile-dialog-title").textContent = title;
    byId(this.root, "profile-dialog-text").textContent = text;
    const okButton = byId<HTMLButtonElement>(this.root, "profile-dialog-ok");
    okButton.textContent = ok;
    okButton.classList.toggle("danger", asking === "delete" || asking === "discard");
    byId(this.root, "profile-dialog-cancel").textContent = asking === "discard" ? "Keep editing" : "Cancel";
    show(byId(this.root, "profile-dialog-name-field"), asking === "new" || asking === "rename");
    show(byId(this.root, "profile-dialog-copy-field"), asking === "new");
    this.nameInput.value = asking === "rename" ? selected : "";
    const inherit = this.root.ownerDocument.createElement("option");
    inherit.value = "";
    inherit.textContent = "Nothing: inherit every field from Global";
    this.copySelect.replaceChildren(inherit);
    for (const name of this.hooks.names().filter((n) => !isGlobal(n))) {
      const option = this.root.ownerDocument.createElement("option");
      option.value = name;
      option.textContent = `A copy of ${name}'s overrides`;
      this.copySelect.append(option);
    }
    this.copySelect.value = "";
    this.error("");
    if (!this.dialog.open) {
      if (typeof this.dialog.showModal === "function") this.dialog.showModal();
      else this.dialog.setAttribute("open", "");
    }
    (asking === "new" || asking === "rename" ? this.nameInput : byId(this.root, "profile-dialog-cancel")).focus();
  }

  private error(text: string): void {
    const el = byId(this.root, "profile-dialog-error");
    el.textContent = text;
    show(el, text !== "");
  }

  private finish(ok: boolean): void {
    if (typeof this.dialog.close === "function" && this.dialog.open) this.dialog.close();
    this.dialog.removeAttribute("open");
    const answer = this.answer;
    this.answer = null;
    this.asking = null;
    answer?.(ok);
    if (!ok) this.returnFocus?.focus();
  }

  private async confirm(): Promise<void> {
    const asking = this.asking;
    if (!asking) return;
    if (asking === "discard") return this.finish(true);
    const selected = this.hooks.selected();
    const name = this.nameInput.value.trim();
    if ((asking === "new" || asking === "rename") && name === "") {
      this.error("Give the profile a name, e.g. alerts.");
      this.nameInput.focus();
      return;
    }
    try {
      let loaded: LoadedSettings;
      let showName: string;
      if (asking === "new") {
        loaded = await this.ipc.profileCreate(name, this.copySelect.value || null);
        showName = name;
      } else if (asking === "rename") {
        loaded = await this.ipc.profileRename(selected, name);
        showName = name;
      } else {
        loaded = await this.ipc.profileDelete(selected);
        showName = GLOBAL;
      }
      this.finish(true);
      this.hooks.loaded(loaded, showName);
      const done = { new: `Profile ${name} created`, rename: `Profile ${selected} renamed to ${name}`, delete: `Profile ${selected} deleted` }[asking];
      this.hooks.status(done, "ok");
      byId(this.root, "profile-select").focus();
    } catch (e) {
      this.error(reportText(toErrorReport(e)));
      if (asking !== "delete") this.nameInput.focus();
    }
  }

  private async makeDefault(): Promise<void> {
    const selected = this.hooks.selected();
    try {
      const loaded = await this.ipc.profileSetDefault(selected);
      this.hooks.loaded(loaded, null);
      this.hooks.status(`${shownName(selected)} is now the default profile`, "ok");
    } catch (e) {
      this.hooks.status(`Could not change the default: ${reportText(toErrorReport(e))}`, "error");
    }
  }
}
