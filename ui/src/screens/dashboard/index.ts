/** The Dashboard: problems first (each with its hint and a link), then status (mode, server, last delivery, last failure, agent, listener), the queue per state, today so far with its hourly chart, and the latest events. */

import "../log/log.css";
import "./dashboard.css";
import { byId, make } from "../../dom";
import { toErrorReport, type Ipc } from "../../ipc";
import { Lifetime } from "../../lifecycle";
import type { Dashboard, Problem, QueueState } from "../../model";
import { trafficChart } from "../chart";
import { count, linkButton, SEVERITY_WORD, whenAgo, type Go } from "../log/format";

const MARKUP = `
<div class="journal dashboard">
  <h1 id="dashboard-heading" class="visually-hidden">Dashboard</h1>
  <p id="dashboard-status" class="run-status" role="status"></p>
  <section id="dashboard-problems" class="dash-problems" aria-labelledby="dashboard-problems-heading" hidden></section>
  <div class="dash-grid">
    <section class="dash-card" aria-labelledby="dash-status-heading">
      <h2 id="dash-status-heading">Status</h2>
      <dl id="dashboard-facts" class="dash-facts"></dl>
    </section>
    <section class="dash-card" aria-labelledby="dash-queue-heading">
      <h2 id="dash-queue-heading">Queue</h2>
      <ul id="dashboard-queue" class="dash-counts"></ul>
      <p id="dashboard-oldest" class="journal-muted"></p>
    </section>
    <section class="dash-card dash-today" aria-labelledby="dash-today-heading">
      <h2 id="dash-today-heading">Today so far</h2>
      <ul id="dashboard-today" class="dash-counts"></ul>
      <div id="dashboard-chart"></div>
    </section>
    <section class="dash-card" aria-labelledby="dash-events-heading">
      <h2 id="dash-events-heading">Latest events</h2>
      <ul id="dashboard-events" class="dash-events"></ul>
    </section>
  </div>
</div>`;

export interface DashboardScreen {
  load(): Promise<void>;
  setVisible(visible: boolean): void;
  destroy(): void;
}

export interface DashboardOptions {
  /** The clock, ms since the epoch (tests fix it). */
  now?: () => number;
}

export function mountDashboard(container: HTMLElement, ipc: Ipc, go: Go, options: DashboardOptions = {}): DashboardScreen {
  container.innerHTML = MARKUP;
  return new DashboardView(container, ipc, go, options.now ?? Date.now);
}

const MODE_WORD = { off: "Off: mail is kept in the queue", relay: "Relay", direct: "Direct delivery" } as const;

class DashboardView implements DashboardScreen {
  private readonly life = new Lifetime();
  private visible = false;
  private stale = true;
  private request = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly ipc: Ipc,
    go: Go,
    private readonly now: () => number,
  ) {
    this.life.on(root, "click", (e) => {
      const link = (e.target as HTMLElement).closest<HTMLButtonElement>("button[data-go]");
      if (link?.dataset.go) go(link.dataset.go);
    });
    this.life.subscribe(
      ipc.onQueueChanged(() => {
        if (this.visible) void this.load();
        else this.stale = true;
      }),
    );
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.stale) void this.load();
  }

  async load(): Promise<void> {
    const mine = ++this.request;
    this.stale = false;
    try {
      const d = await this.ipc.dashboard();
      if (mine !== this.request || this.life.disposed) return;
      this.render(d);
      byId(this.root, "dashboard-status").textContent = "";
    } catch (e) {
      if (mine === this.request) byId(this.root, "dashboard-status").textContent = `The dashboard could not be read: ${toErrorReport(e).message}`;
    }
  }

  destroy(): void {
    this.life.dispose();
  }

  private render(d: Dashboard): void {
    const now = this.now();
    renderProblems(byId(this.root, "dashboard-problems"), d.problems, "dashboard-problems-heading");

    const facts = byId(this.root, "dashboard-facts");
    facts.replaceChildren();
    const fact = (label: string, ...value: (string | HTMLElement)[]) => {
      const dd = make("dd");
      dd.append(...value);
      facts.append(make("dt", "", label), dd);
    };
    fact("Sending", MODE_WORD[d.mode]);
    if (d.server) fact("Server", d.server);
    fact("Last delivery", d.last_sent ? `${whenAgo(d.last_sent.at, now)} to ${d.last_sent.recipient}` : "None yet");
    if (d.last_failure) {
      const f = d.last_failure;
      const what = make("span", "", `${whenAgo(f.at, now)}, ${f.recipient}: ${f.reply}`);
      const parts: (string | HTMLElement)[] = [what];
      if (d.last_failure_hint) parts.push(make("span", "hint dash-hint", d.last_failure_hint));
      parts.push(linkButton("See in the mail log", `log:${f.result}`, `See ${f.result} mail in the mail log`));
      fact("Last failure", ...parts);
    } else fact("Last failure", "None");
    fact("Delivery agent", d.agent_running ? "Running" : "Not running: mail waits until the window or the delivery service runs");
    fact("Listener", d.listener_port === null ? "Off" : `On, port ${d.listener_port}`);

    const queue = byId(this.root, "dashboard-queue");
    const states: [QueueState, string][] = [
      ["queued", "Queued"],
      ["sending", "Sending"],
      ["deferred", "Deferred"],
      ["held", "Held"],
      ["failed", "Failed"],
      ["sent", "Sent"],
    ];
    queue.replaceChildren(
      ...states.map(([state, word]) => {
        const li = make("li", `dash-count ${state}`);
        li.dataset.state = state;
        li.append(linkButton(`${count(d.queue[state])} ${word.toLowerCase()}`, `queue:${state}`, `${count(d.queue[state])} ${word.toLowerCase()}: show them in the queue`));
        return li;
      }),
    );
    byId(this.root, "dashboard-oldest").textContent =
      d.oldest_waiting === null ? "Nothing is waiting." : `The oldest waiting message came in at ${whenAgo(d.oldest_waiting, now)}.`;

    const today = byId(this.root, "dashboard-today");
    const t = d.today;
    const figures: [string, number, string][] = [
      ["sent", t.delivered, "log:sent:today"],
      ["deferred", t.deferred, "log:deferred:today"],
      ["failed (bounced)", t.bounced, "log:bounced:today"],
      ["refused", t.refused, "log:refused:today"],
    ];
    today.replaceChildren(
      ...figures.map(([word, n, link]) => {
        const li = make("li", "dash-count");
        li.dataset.figure = word.split(" ")[0] ?? word;
        li.append(linkButton(`${count(n)} ${word}`, link, `${count(n)} ${word} today: show them in the mail log`));
        return li;
      }),
    );
    byId(this.root, "dashboard-chart").replaceChildren(trafficChart(d.today_hours, { title: "Today per hour", height: 70 }));

    const events = byId(this.root, "dashboard-events");
    events.replaceChildren(
      ...(d.latest_events.length
        ? d.latest_events.map((e) => {
            const li = make("li", `dash-event ${e.severity}`);
            li.append(make("span", `journal-severity ${e.severity}`, SEVERITY_WORD[e.severity]), " ", make("span", "", e.summary), " ");
            const when = make("time", "journal-muted", whenAgo(e.at, now));
            when.dateTime = new Date(e.at).toISOString();
            li.append(when);
            return li;
          })
        : [make("li", "journal-muted", "No events yet.")]),
    );
    const all = make("li");
    all.append(linkButton("All events", "events"));
    events.append(all);
  }
}

/** The problems box (hidden when there are none): each with its hint and, when it has one, a link. */
export function renderProblems(box: HTMLElement, problems: Problem[], headingId: string): void {
  box.hidden = problems.length === 0;
  if (!problems.length) {
    box.replaceChildren();
    return;
  }
  const h = make("h2", "", problems.length === 1 ? "1 problem" : `${problems.length} problems`);
  h.id = headingId;
  const list = make("ul", "journal-problems");
  for (const p of problems) {
    const li = make("li", `journal-problem ${p.severity}`);
    li.append(make("strong", "", p.title));
    if (p.hint) li.append(make("span", "hint", p.hint));
    if (p.link) li.append(linkButton("Show", p.link, `Show: ${p.title}`));
    list.append(li);
  }
  box.replaceChildren(h, list);
}
