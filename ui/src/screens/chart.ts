/** The journal's charts: traffic per hour (or per day) as small stacked bars in inline SVG, drawn by hand, each with a table of its figures for screen readers. */

import { make } from "../dom";
import type { Hour } from "../model";

const SVG = "http://www.w3.org/2000/svg";

/** What a bar stacks, bottom up, with the CSS class that colours it. */
export const SERIES = [
  { key: "delivered", label: "Sent", cls: "bar-sent" },
  { key: "deferred", label: "Deferred", cls: "bar-deferred" },
  { key: "bounced", label: "Bounced", cls: "bar-bounced" },
  { key: "refused", label: "Refused", cls: "bar-refused" },
] as const;

export interface ChartOptions {
  /** Names the chart (its heading's text): the SVG's label starts with it. */
  title: string;
  /** A bucket's label: "14:00" for hours, "3 Mar" for days. */
  label?: (start: number) => string;
  /** Height of the drawing in px (it is as wide as its box). */
  height?: number;
}

/** "09:00": a bucket's start as a local hour. */
export function hourLabel(start: number): string {
  const d = new Date(start);
  return `${String(d.getHours()).padStart(2, "0")}:00`;
}

/** "3 Mar": a bucket's start as a local day. */
export function dayLabel(start: number): string {
  return new Date(start).toLocaleDateString("en-GB", { day: "numeric", month: "short" });
}

/** Buckets longer than an hour are days: the label fits the spacing of the data. */
export function labelFor(hours: Hour[]): (start: number) => string {
  const [a, b] = hours;
  return a && b && b.start - a.start > 3_600_000 ? dayLabel : hourLabel;
}

function total(h: Hour): number {
  return SERIES.reduce((n, s) => n + h[s.key], 0);
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** A text alternative that says the shape in a sentence: the busiest bucket and the sums. */
export function chartSummary(title: string, hours: Hour[], label: (start: number) => string): string {
  if (hours.every((h) => total(h) === 0 && h.received === 0)) return `${title}: no mail.`;
  const sums = SERIES.map((s) => `${hours.reduce((n, h) => n + h[s.key], 0)} ${s.label.toLowerCase()}`).join(", ");
  const busiest = hours.reduce((best, h) => (total(h) > total(best) ? h : best));
  return `${title}: ${sums}; busiest ${label(busiest.start)} with ${total(busiest)}.`;
}

/**
 * The chart as a <figure>: stacked bars (sent, deferred, bounced, refused) per bucket, a legend,
 * and the same figures as a table that only screen readers see.
 */
export function trafficChart(hours: Hour[], options: ChartOptions): HTMLElement {
  const label = options.label ?? labelFor(hours);
  const height = options.height ?? 60;
  const figure = make("figure", "chart");
  const n = Math.max(hours.length, 1);
  const width = n * 12;
  const max = Math.max(1, ...hours.map(total));
  const drawing = svg("svg", { viewBox: `0 0 ${width} ${height + 14}`, role: "img", class: "chart-svg" });
  drawing.setAttribute("aria-label", chartSummary(options.title, hours, label));
  drawing.append(svg("line", { x1: 0, x2: width, y1: height + 0.5, y2: height + 0.5, class: "chart-axis" }));
  hours.forEach((h, i) => {
    let y = height;
    for (const s of SERIES) {
      const v = h[s.key];
      if (v === 0) continue;
      const bar = Math.max(1, (v / max) * (height - 4));
      y -= bar;
      const rect = svg("rect", { x: i * 12 + 2, y: y.toFixed(1), width: 8, height: bar.toFixed(1), class: s.cls });
      const tip = svg("title", {});
      tip.textContent = `${label(h.start)}: ${v} ${s.label.toLowerCase()}`;
      rect.append(tip);
      drawing.append(rect);
    }
  });
  // Every few buckets a label, so they never overlap.
  const every = Math.max(1, Math.ceil(n / 8));
  hours.forEach((h, i) => {
    if (i % every !== 0) return;
    const t = svg("text", { x: i * 12 + 6, y: height + 12, class: "chart-label", "text-anchor": "middle" });
    t.textContent = label(h.start);
    drawing.append(t);
  });
  const legend = make("ul", "chart-legend");
  legend.setAttribute("aria-hidden", "true");
  for (const s of SERIES) {
    const li = make("li");
    li.append(make("span", `chart-key ${s.cls}`), document.createTextNode(s.label));
    legend.append(li);
  }
  figure.append(drawing, legend, figuresTable(options.title, hours, label));
  return figure;
}

/** The chart's figures, one row per bucket that had mail. */
function figuresTable(title: string, hours: Hour[], label: (start: number) => string): HTMLTableElement {
  const table = make("table", "visually-hidden");
  table.append(make("caption", "", title));
  const head = make("tr");
  for (const c of ["Time", "Received", ...SERIES.map((s) => s.label)]) {
    const th = make("th", "", c);
    th.scope = "col";
    head.append(th);
  }
  const thead = make("thead");
  thead.append(head);
  const body = make("tbody");
  for (const h of hours.filter((h) => total(h) > 0 || h.received > 0)) {
    const tr = make("tr");
    tr.append(make("td", "", label(h.start)), make("td", "", String(h.received)));
    for (const s of SERIES) tr.append(make("td", "", String(h[s.key])));
    body.append(tr);
  }
  table.append(thead, body);
  return table;
}
