/** Tests of the Dashboard over a fake core: problems first with their links, status, queue counts linking to the queue, today's figures and chart, the latest events, and refresh on changes. */

import { beforeEach, describe, expect, it } from "vitest";
import { emptyDashboard, FakeIpc, journalEvent, logEntry, settle } from "../../fake-ipc";
import { formatWhen, whenAgo } from "../log/format";
import { mountDashboard, type DashboardScreen } from "./index";

let ipc: FakeIpc;
let screen: DashboardScreen;
let followed: string[];
const NOW = 1_700_000_000_000 + 10 * 60_000;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

async function mount(): Promise<void> {
  document.body.innerHTML = `<section id="screen"></section>`;
  followed = [];
  screen = mountDashboard($("screen"), ipc, (l) => followed.push(l), { now: () => NOW });
  screen.setVisible(true);
  await settle();
}

beforeEach(() => {
  ipc = new FakeIpc();
  ipc.dashboardReply = async () => ({
    ...emptyDashboard(),
    last_sent: logEntry(3, "sent"),
    last_failure: logEntry(4, "bounced"),
    last_failure_hint: "The address does not exist: check it with the recipient.",
    listener_port: 2525,
    queue: { messages: 3, queued: 1, sending: 0, sent: 5, deferred: 2, held: 0, failed: 1 },
    oldest_waiting: NOW - 2 * 3_600_000,
    today: { messages_received: 6, received: 7, delivered: 5, deferred: 2, bounced: 1, refused: 0, held: 0, bytes_received: 9000, bytes_delivered: 8000 },
    today_hours: [
      { start: NOW - 3_600_000, received: 3, delivered: 2, deferred: 1, bounced: 0, refused: 0 },
      { start: NOW, received: 4, delivered: 3, deferred: 1, bounced: 1, refused: 0 },
    ],
    latest_events: [journalEvent(9, "warning", "listener")],
    problems: [{ severity: "error", title: "1 message failed for good", hint: "Look at the reason and send again.", link: "queue:failed" }],
  });
});

describe("the dashboard", () => {
  it("shows problems first, each with its hint and link", async () => {
    await mount();
    const problems = $("dashboard-problems");
    expect(problems.hidden).toBe(false);
    expect(problems.compareDocumentPosition(document.querySelector(".dash-grid")!) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(problems.textContent).toContain("1 message failed for good");
    expect(problems.textContent).toContain("Look at the reason and send again.");
    problems.querySelector<HTMLButtonElement>("button[data-go]")!.click();
    expect(followed).toEqual(["queue:failed"]);
  });

  it("shows status, queue counts linking to the queue, today with a chart, and events", async () => {
    await mount();
    const facts = $("dashboard-facts").textContent!;
    expect(facts).toContain("Relay");
    expect(facts).toContain("smtp.example.com:587");
    expect(facts).toContain("to3@example.org");
    expect(facts).toContain("550 5.1.1 no such user");
    expect(facts).toContain("The address does not exist");
    expect(facts).toContain("Running");
    expect(facts).toContain("On, port 2525");
    const deferred = document.querySelector<HTMLButtonElement>('#dashboard-queue li[data-state="deferred"] button')!;
    expect(deferred.textContent).toBe("2 deferred");
    deferred.click();
    expect(followed).toEqual(["queue:deferred"]);
    expect($("dashboard-oldest").textContent).toContain("2 h ago");
    const today = [...document.querySelectorAll("#dashboard-today li")].map((l) => l.textContent);
    expect(today).toEqual(["5 sent", "2 deferred", "1 failed (bounced)", "0 refused"]);
    const chart = document.querySelector("#dashboard-chart svg")!;
    expect(chart.getAttribute("role")).toBe("img");
    expect(chart.getAttribute("aria-label")).toContain("5 sent, 2 deferred, 1 bounced, 0 refused");
    expect(chart.querySelectorAll("rect")).toHaveLength(5);
    expect(document.querySelectorAll("#dashboard-chart table tbody tr")).toHaveLength(2);
    expect($("dashboard-events").textContent).toContain("event 9");
  });

  it("writes times as the clock read them and how long ago, so an idle screen never lies", async () => {
    await mount();
    const sent = logEntry(3, "sent").at;
    const facts = $("dashboard-facts").textContent!;
    expect(formatWhen(sent, NOW)).toBe(new Date(sent).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }));
    expect(facts).toContain(`${formatWhen(sent, NOW)} (7 min ago) to to3@example.org`);
    expect(facts).toContain(`${formatWhen(logEntry(4).at, NOW)} (6 min ago), to4@example.org`);
    expect($("dashboard-oldest").textContent).toBe(`The oldest waiting message came in at ${formatWhen(NOW - 2 * 3_600_000, NOW)} (2 h ago).`);
    expect($("dashboard-events").querySelector("time")!.textContent).toBe(`${formatWhen(journalEvent(9).at, NOW)} (1 min ago)`);
    // Another day names the day; another year the year too.
    const day = 86_400_000;
    expect(formatWhen(NOW - 2 * day, NOW)).toContain(new Date(NOW - 2 * day).toLocaleDateString(undefined, { month: "short", day: "numeric" }));
    expect(formatWhen(NOW - 400 * day, NOW)).toContain(String(new Date(NOW - 400 * day).getFullYear()));
    expect(whenAgo(NOW - 2 * day, NOW)).toMatch(/\(2 d ago\)$/);
  });

  it("links today's figures to the mail log, filtered by result and today", async () => {
    await mount();
    const buttons = [...document.querySelectorAll<HTMLButtonElement>("#dashboard-today button[data-go]")];
    for (const b of buttons) b.click();
    expect(followed).toEqual(["log:sent:today", "log:deferred:today", "log:bounced:today", "log:refused:today"]);
    expect(buttons[0]!.getAttribute("aria-label")).toBe("5 sent today: show them in the mail log");
    // Every queue state links to the queue filtered by it.
    followed = [];
    for (const b of document.querySelectorAll<HTMLButtonElement>("#dashboard-queue button[data-go]")) b.click();
    expect(followed).toEqual(["queue:queued", "queue:sending", "queue:deferred", "queue:held", "queue:failed", "queue:sent"]);
  });

  it("hides the problems box when there are none, and reloads on changes while shown", async () => {
    ipc.dashboardReply = async () => emptyDashboard();
    await mount();
    expect($("dashboard-problems").hidden).toBe(true);
    expect($("dashboard-facts").textContent).toContain("None yet");
    const n = ipc.callsOf("dashboard").length;
    ipc.emit("queue-changed", ipc.overviewNow());
    await settle();
    expect(ipc.callsOf("dashboard")).toHaveLength(n + 1);
    screen.setVisible(false);
    ipc.emit("queue-changed", ipc.overviewNow());
    await settle();
    expect(ipc.callsOf("dashboard")).toHaveLength(n + 1);
  });
});
