/** The "Keep delivering when the window is closed" switch: the systemd user service's state, turned on or off at once (not a settings-file field, so not saved with the form). */

import { byId, show } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import type { Lifetime } from "../../lifecycle";
import type { DeliveryService, ErrorReport } from "../../model";
import { reportText } from "../../report-text";

/** What the switch says when systemd has no user manager here (the core's `service_unavailable`). */
export const NO_SYSTEMD = "Needs systemd's user manager; run “smtp-desk deliver --daemon” from your session's autostart instead.";

export function serviceStateText(s: DeliveryService): string {
  if (s.enabled && s.active) return "On: delivery goes on after the window closes";
  if (s.enabled) return "On, but not running now (see `systemctl --user status smtp-desk-deliver`)";
  return "Off: the window delivers while it is open; mail handed in while it is closed starts a one-off delivery run";
}

export function serviceErrorText(err: ErrorReport): string {
  if (err.kind === "service_unavailable") return NO_SYSTEMD;
  return reportText(err);
}

export class DeliveryServiceSwitch {
  private readonly box: HTMLInputElement;
  private busy = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    life: Lifetime,
  ) {
    this.box = byId<HTMLInputElement>(root, "delivery-service");
    life.on(this.box, "change", () => void this.turn(this.box.checked));
  }

  /** Asks where the service stands; the switch stays disabled until it is known to work. */
  async load(): Promise<void> {
    try {
      this.shown(await this.ipc.deliveryServiceStatus());
    } catch (e) {
      this.failed(toErrorReport(e), true);
    }
  }

  private async turn(on: boolean): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.box.disabled = true;
    this.state(on ? "Turning on…" : "Turning off…");
    try {
      this.shown(await this.ipc.setDeliveryService(on));
    } catch (e) {
      const err = toErrorReport(e);
      // Where it stands now, after the failure, as systemd says.
      this.box.checked = !on;
      this.failed(err, err.kind === "service_unavailable");
      if (err.kind !== "service_unavailable") void this.refresh();
    } finally {
      this.busy = false;
    }
  }

  private async refresh(): Promise<void> {
    try {
      const s = await this.ipc.deliveryServiceStatus();
      this.box.checked = s.enabled;
      this.box.disabled = false;
    } catch {
      // The error already shown stands.
    }
  }

  private shown(s: DeliveryService): void {
    this.box.checked = s.enabled;
    this.box.disabled = false;
    this.state(serviceStateText(s));
    this.error(null);
  }

  /** `unavailable`: systemd cannot be asked at all, so the switch stays off and disabled. */
  private failed(err: ErrorReport, unavailable: boolean): void {
    if (unavailable) {
      this.box.checked = false;
      this.box.disabled = true;
      this.state(`Not available: ${err.message}`);
    } else {
      this.box.disabled = false;
      this.state("");
    }
    this.error(serviceErrorText(err));
  }

  private state(text: string): void {
    byId(this.root, "delivery-service-state").textContent = text;
  }

  private error(text: string | null): void {
    const el = byId(this.root, "delivery-service-error");
    el.textContent = text ?? "";
    show(el, text !== null);
    this.box.setAttribute("aria-describedby", `delivery-service-help delivery-service-state${text ? " delivery-service-error" : ""}`);
  }
}
