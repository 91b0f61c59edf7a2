/** How the journal screens word things: times in ms, results, totals, sizes, local days for date inputs, and the links problems carry. */

import type { LogResult, Severity, Totals } from "../../model";

export { formatSize } from "../queue/format";

/** A time (ms since the epoch) as the user's locale writes it. */
export function formatMs(at: number): string {
  return new Date(at).toLocaleString();
}

/** The time of day with seconds, as the user's locale writes it ("14:03:09", "2:03:09 PM"): the mail log's rows, under a heading naming their day. */
export function formatTime(at: number): string {
  return new Date(at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** A day in full ("Monday, November 23, 2026"): the heading over a day's rows. */
export function formatDay(at: number): string {
  return new Date(at).toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}

/** A short absolute time: "14:03" today, "Nov 21, 14:03" on another day (the dashboard's times, which nothing refreshes while idle). */
export function formatWhen(at: number, nowMs: number): string {
  const time = new Date(at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (startOfDay(at) === startOfDay(nowMs)) return time;
  const sameYear = new Date(at).getFullYear() === new Date(nowMs).getFullYear();
  const day = new Date(at).toLocaleDateString(undefined, sameYear ? { month: "short", day: "numeric" } : { year: "numeric", month: "short", day: "numeric" });
  return `${day}, ${time}`;
}

/** The absolute time and how long ago it was: "14:03 (2 min ago)"; the absolute part stays true while nothing redraws. */
export function whenAgo(at: number, nowMs: number): string {
  return `${formatWhen(at, nowMs)} (${agoMs(at, nowMs)})`;
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

/** The row heading a day's rows in a journal table (rows newest first show the time of day only). */
export function dayHeading(at: number, columns: number): HTMLTableRowElement {
  const tr = document.createElement("tr");
  tr.className = "journal-day";
  const th = document.createElement("th");
  th.scope = "colgroup";
  th.colSpan = columns;
  th.textContent = formatDay(at);
  tr.append(th);
  return tr;
}

/** Rows newest first, each day's headed by its day: `row` makes a row's table rows (one, or a row and its detail). */
export function byDay<T extends { at: number }>(items: T[], columns: number, row: (item: T) => HTMLTableRowElement[]): HTMLTableRowElement[] {
  const out: HTMLTableRowElement[] = [];
  let day: number | null = null;
  for (const item of items) {
    if (startOfDay(item.at) !== day) {
      day = startOfDay(item.at);
      out.push(dayHeading(item.at, columns));
    }
    out.push(...row(item));
  }
  return out;
}

/** A `<time>` showing the time of day, the full date and time in its title. */
export function timeOfDay(at: number): HTMLTimeElement {
  const t = document.createElement("time");
  t.textContent = formatTime(at);
  t.dateTime = new Date(at).toISOString();
  t.title = formatMs(at);
  return t;
}

/** Where a link goes in the window: `queue:failed`, `message:12`, `log:bounced`, `log:sent:today`, `events:warning`, `settings`, `report`. */
export interface Target {
  screen: "settings" | "diagnose" | "queue" | "dashboard" | "log" | "events" | "report";
  filter: string | null;
  /** `…:today`: only today's rows (the dashboard's "today so far" figures). */
  today: boolean;
}

export function parseTarget(link: string): Target | null {
  const [name = "", filter = null, when = null] = link.split(":") as [string, string | undefined, string | undefined];
  const screen = name === "message" ? "queue" : name;
  const screens: Target["screen"][] = ["settings", "diagnose", "queue", "dashboard", "log", "events", "report"];
  if (!screens.includes(screen as Target["screen"])) return null;
  return { screen: screen as Target["screen"], filter: name === "message" && filter ? `#${filter}` : filter || null, today: when === "today" };
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
