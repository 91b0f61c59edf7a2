/** Tests of the Report screen over a fake core: the ranges it asks for, problems first, totals, the chart, tables, and the note when the range reaches past the data kept. */

import { beforeEach, describe, expect, it } from "vitest";
import { emptyReport, FakeIpc, settle } from "../../fake-ipc";
import { addDays, dayValue, startOfDay } from "../log/format";
import { mountReport, type ReportScreen } from "./index";

let ipc: FakeIpc;
let screen: ReportScreen;
const NOW = new Date(2026, 2, 4, 15, 30).getTime();
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const lastRange = () => ipc.callsOf("report").at(-1)?.args as { from: number; to: number };

async function mount(): Promise<void> {
  document.body.innerHTML = `<section id="screen"></section>`;
  screen = mountReport($("screen"), ipc, () => undefined, { now: () => NOW });
  screen.setVisible(true);
  await settle();
}

beforeEach(() => {
  ipc = new FakeIpc();
  ipc.reportReply = async (from, to) => ({
    ...emptyReport(from, to),
    kept_since: from + 3_600_000,
    problems: [{ severity: "warning", title: "3 deferrals", hint: "The server said try later.", link: "log:deferred" }],
    totals: { messages_received: 4, received: 5, delivered: 3, deferred: 3, bounced: 1, refused: 1, held: 0, bytes_received: 4096, bytes_delivered: 3072 },
    hours: [{ start: from, received: 5, delivered: 3, deferred: 3, bounced: 1, refused: 1 }],
    top_senders: [{ address: "cron@example.com", count: 4, bytes: 4096 }],
    bounce_reasons: [{ reply: "550 5.1.1 no such user", count: 1, example: "nobody@example.org" }],
    servers: [{ server: "smtp.example.com:587", delivered: 3, avg_delay_ms: 1500, max_delay_ms: 4000 }],
  });
});

describe("the report", () => {
  it("asks for today, then yesterday, then chosen days", async () => {
    await mount();
    expect(lastRange()).toEqual({ from: startOfDay(NOW), to: addDays(NOW, 1) });
    const y = $<HTMLInputElement>("report-yesterday");
    y.checked = true;
    y.dispatchEvent(new Event("change"));
    await settle();
    expect(lastRange()).toEqual({ from: addDays(NOW, -1), to: startOfDay(NOW) });
    const from = $<HTMLInputElement>("report-from");
    from.value = dayValue(addDays(NOW, -6));
    from.dispatchEvent(new Event("change"));
    await settle();
    expect($<HTMLInputElement>("report-custom").checked).toBe(true);
    expect(lastRange()).toEqual({ from: addDays(NOW, -6), to: addDays(NOW, 1) });
    const to = $<HTMLInputElement>("report-to");
    to.value = dayValue(addDays(NOW, -8));
    to.dispatchEvent(new Event("change"));
    await settle();
    expect($("report-status").textContent).toContain("ends before it starts");
  });

  it("shows problems first, totals, chart, tables and the kept-data note", async () => {
    await mount();
    expect($("report-title").textContent).toBe("Today: 3 sent, 1 bounced, 3 deferred");
    expect($("report-problems").hidden).toBe(false);
    expect($("report-problems").textContent).toContain("3 deferrals");
    const totals = [...document.querySelectorAll("#report-totals .report-total")].map((d) => d.textContent);
    expect(totals).toContain("Messages received4");
    expect(totals).toContain("Sent3");
    expect(totals).toContain("Bytes received4.0 KB");
    expect(document.querySelector("#report-chart svg")!.getAttribute("aria-label")).toContain("Traffic per hour");
    expect($("report-top-senders").textContent).toContain("cron@example.com");
    expect($("report-bounces").textContent).toContain("550 5.1.1 no such user");
    expect($("report-servers").textContent).toContain("1.5 s");
    expect($("report-servers").textContent).toContain("4.0 s");
    expect($("report-kept").hidden).toBe(false);
    expect($("report-kept").textContent).toContain("starts before the oldest data kept");
  });
});
