/** Export… and Import… on the profile bar: Rust asks where (native dialogs) and the core writes or imports; an import refused lists every problem, and nothing changed. */

import { byId, make, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import type { Lifetime } from "../../lifecycle";
import type { LoadedSettings } from "../../model";
import { reportText } from "../../report-text";

export interface TransferHooks {
  dirty(): boolean;
  /** Asks before unsaved edits are discarded; true to discard. */
  confirmDiscard(): Promise<boolean>;
  /** The settings as the import wrote them. */
  loaded(loaded: LoadedSettings): void;
  status(text: string, kind: "ok" | "error" | "info" | ""): void;
}

export class TransferButtons {
  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    life: Lifetime,
    private readonly hooks: TransferHooks,
  ) {
    life.on(byId(root, "settings-export"), "click", () => void this.exportSettings());
    life.on(byId(root, "settings-import"), "click", () => void this.importSettings());
  }

  private async exportSettings(): Promise<void> {
    try {
      const path = await this.ipc.settingsExport();
      if (path) this.hooks.status(`Settings exported to ${path} (no passwords)`, "ok");
    } catch (e) {
      this.hooks.status(`Not exported: ${reportText(toErrorReport(e))}`, "error");
    }
  }

  private async importSettings(): Promise<void> {
    if (this.hooks.dirty() && !(await this.hooks.confirmDiscard())) return;
    this.problems("", []);
    try {
      const done = await this.ipc.settingsImport();
      if (!done) return;
      this.hooks.loaded(done.loaded);
      const migrated = done.migrated_from !== null ? ` (migrated from schema ${done.migrated_from})` : "";
      this.hooks.status(done.changed ? `Imported ${done.file}${migrated}` : `${done.file} holds these settings already: nothing changed`, "ok");
    } catch (e) {
      const err = toErrorReport(e);
      const issues = err.issues ?? [];
      this.problems(err.message, issues.map((i) => `${i.field}: ${i.message}`));
      if (!issues.length) this.hooks.status(`Not imported: ${reportText(err)}`, "error");
      else this.hooks.status("Not imported: nothing was changed (see the problems at the top)", "error");
    }
  }

  /** The banner listing every problem of a refused import (hidden when `text` is empty). */
  private problems(text: string, items: string[]): void {
    byId(this.root, "import-problems-text").textContent = text;
    byId(this.root, "import-problems-list").replaceChildren(...items.map((t) => make("li", "", t)));
    const banner = byId(this.root, "import-problems");
    show(banner, text !== "");
    if (text !== "") banner.focus();
  }
}
