/** How the journal screens word things: times in ms, results, totals, sizes, local days for date inputs, and the links problems carry. */

import type { LogResult, Severity, Totals } from "../../model";

export { formatSize } from "../queue/format";

/** A time (ms since the epoch) as the user's locale writes it. */
export function formatMs(at: number): string {
  return new Date(at).toLocaleString();
}

/** How long ago, from ms: "just now", "5 min ago", "3 h ago", "2 d ago". */
export function agoMs(at: number, nowMs: number): string {
  const s = Math.max(0, Math.floor((nowMs - at) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export const RESULTS: LogResult[] = ["sent", "deferred", "bounced", "refused", "received", "held"];

const RESULT_WORD: Record<LogResult, string> = {
  received: "Received",
  sent: "Sent",
  deferred: "Deferred",
  bounced: "Bounced",
  refused: "Refused",
  held: "Held",
};

export function resultWord(r: LogResult): string {
  return RESULT_WORD[r];
}

export const SEVERITY_WORD: Record<Severity, string> = { info: "Info", warning: "Warning", error: "Error" };

/** "1,234". */
export function count(n: number): string {
  return n.toLocaleString("en");
}

/** The figures of a range as label/value pairs, in the order people read them. */
export function totalsFacts(t: Totals): [string, number][] {
  return [
    ["Received", t.received],
    ["Sent", t.delivered],
    ["Deferred", t.deferred],
    ["Bounced", t.bounced],
    ["Refused", t.refused],
    ["Held", t.held],
  ];
}

/** Local midnight of the day `at` falls in (ms). */
export function startOfDay(at: number): number {
  const d = new Date(at);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** The local midnight `days` days after the one of `at`'s day (DST-safe: by the calendar, not 24 h). */
export function addDays(at: number, days: number): number {
  const d = new Date(startOfDay(at));
  d.setDate(d.getDate() + days);
  return d.getTime();
}

/** A date input's value ("2026-03-04") as the local midnight it names; null when empty or invalid. */
export function parseDay(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(d.getTime()) ? null : d.getTime();
}

/** A local day as a date input writes it. */
export function dayValue(at: number): string {
  const d = new Date(at);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Where a link goes in the window: `queue:failed`, `message:12`, `log:bounced`, `events:warning`, `settings`, `report`. */
export interface Target {
  screen: "settings" | "diagnose" | "queue" | "dashboard" | "log" | "events" | "report";
  filter: string | null;
}

export function parseTarget(link: string): Target | null {
  const [name, filter = null] = link.split(":", 2) as [string, string | undefined];
  const screen = name === "message" ? "queue" : name;
  const screens: Target["screen"][] = ["settings", "diagnose", "queue", "dashboard", "log", "events", "report"];
  if (!screens.includes(screen as Target["screen"])) return null;
  return { screen: screen as Target["screen"], filter: name === "message" && filter ? `#${filter}` : filter };
}

/** Follows a link (the app supplies it; screens only call it). */
export type Go = (link: string) => void;

/** A button that reads as a link and follows `link`. */
export function linkButton(text: string, link: string, label?: string): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "link-button";
  b.textContent = text;
  b.dataset.go = link;
  if (label) b.setAttribute("aria-label", label);
  return b;
}
