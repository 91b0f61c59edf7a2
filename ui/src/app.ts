/** The window's shell: header, screen switching, theme, Ctrl+S, the discard-changes dialog on close, and the start-up sequence that ends in `ui_ready`. */

import { byId, show } from "./dom";
import { toErrorReport, type Ipc } from "./ipc";
import { DEFAULT_UI_STATE, type LogResult, type Mode, type QueueState, type Screen, type Severity, type UiState } from "./model";
import { mountDashboard, type DashboardScreen } from "./screens/dashboard/index";
import { mountDiagnose, type DiagnoseScreen } from "./screens/diagnose";
import { mountEvents, type EventsScreen } from "./screens/events/index";
import { mountLog, type LogScreen } from "./screens/log/index";
import { parseTarget } from "./screens/log/format";
import { mountQueue, type QueueScreen } from "./screens/queue/index";
import { mountReport, type ReportScreen } from "./screens/report/index";
import { mountSettings, type SettingsScreen } from "./screens/settings/index";
import { applyTheme, bindThemeSelect, isTheme } from "./theme";

const SHELL = `
<header class="app-header">
  <span class="app-name"><span class="app-logo" aria-hidden="true">✉</span> SMTP Desk</span>
  <nav class="tabs" aria-label="Screens">
    <button type="button" class="tab" id="nav-dashboard" data-screen="dashboard" aria-controls="screen-dashboard">Dashboard</button>
    <button type="button" class="tab" id="nav-settings" data-screen="settings" aria-controls="screen-settings">Settings</button>
    <button type="button" class="tab" id="nav-diagnose" data-screen="diagnose" aria-controls="screen-diagnose">Diagnose</button>
    <button type="button" class="tab" id="nav-queue" data-screen="queue" aria-controls="screen-queue">Queue</button>
    <button type="button" class="tab" id="nav-log" data-screen="log" aria-controls="screen-log">Mail log</button>
    <button type="button" class="tab" id="nav-events" data-screen="events" aria-controls="screen-events">Events</button>
    <button type="button" class="tab" id="nav-report" data-screen="report" aria-controls="screen-report">Report</button>
  </nav>
  <label class="theme-picker" for="theme">Theme
    <select id="theme">
      <option value="system">System</option>
      <option value="light">Light</option>
      <option value="dark">Dark</option>
    </select>
  </label>
</header>
<main class="app-main">
  <section id="screen-dashboard" class="screen screen-wide" aria-label="Dashboard" hidden></section>
  <section id="screen-settings" class="screen" aria-label="Settings"></section>
  <section id="screen-diagnose" class="screen" aria-label="Diagnose" hidden></section>
  <section id="screen-queue" class="screen screen-wide" aria-label="Queue" hidden></section>
  <section id="screen-log" class="screen screen-wide" aria-label="Mail log" hidden></section>
  <section id="screen-events" class="screen screen-wide" aria-label="Event log" hidden></section>
  <section id="screen-report" class="screen screen-wide" aria-label="Report" hidden></section>
</main>
<dialog id="confirm-close" aria-labelledby="confirm-close-title" aria-describedby="confirm-close-text">
  <h2 id="confirm-close-title">Discard unsaved changes?</h2>
  <p id="confirm-close-text">Your changes to the settings have not been saved. Closing the window now loses them.</p>
  <p id="confirm-close-error" class="field-message error" hidden></p>
  <div class="dialog-actions">
    <button type="button" id="confirm-close-cancel" autofocus>Keep editing</button>
    <button type="button" id="confirm-close-discard" class="danger">Discard and close</button>
  </div>
</dialog>`;

export interface App {
  settings: SettingsScreen;
  diagnose: DiagnoseScreen;
  queue: QueueScreen;
  dashboard: DashboardScreen;
  log: LogScreen;
  events: EventsScreen;
  report: ReportScreen;
  showScreen(screen: Screen): void;
  /** Follows a link a screen shows: `queue:failed`, `message:12`, `log:bounced`, `events:warning`, `settings`. */
  go(link: string): void;
}

const SCREENS: Screen[] = ["dashboard", "settings", "diagnose", "queue", "log", "events", "report"];

/** Builds the window into `doc`, fills it, and tells Rust it is ready. */
export async function startApp(ipc: Ipc, doc: Document = document): Promise<App> {
  doc.body.innerHTML = SHELL;
  // The OS's scheme until the saved theme is read: no light flash on a dark desktop.
  applyTheme("system", doc);
  // The saved mode, as the settings screen loads it: it picks the first screen.
  let loadedMode: Mode = "off";
  const sendingMode = () => loadedMode;
  const watched = new Proxy(ipc, {
    get(target, key, receiver) {
      if (key === "loadSettings") {
        return async () => {
          const loaded = await target.loadSettings();
          loadedMode = loaded.settings.profile.mode;
          return loaded;
        };
      }
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const settings = mountSettings(byId(doc, "screen-settings"), watched);
  const diagnose = mountDiagnose(byId(doc, "screen-diagnose"), ipc);
  const queue = mountQueue(byId(doc, "screen-queue"), ipc);
  const go = (link: string) => follow(link);
  const dashboard = mountDashboard(byId(doc, "screen-dashboard"), ipc, go);
  const log = mountLog(byId(doc, "screen-log"), ipc, go);
  const events = mountEvents(byId(doc, "screen-events"), ipc);
  const report = mountReport(byId(doc, "screen-report"), ipc, go);
  // Each journal screen reads when first shown, then on changes while shown (stale while hidden).
  const journal: Partial<Record<Screen, { setVisible(v: boolean): void }>> = { dashboard, log, events, report };
  settings.onDirtyChange((dirty) => diagnose.setSettingsDirty(dirty));

  const uiState: UiState = { ...DEFAULT_UI_STATE };
  const persist = () => ipc.setUiState({ ...uiState }).catch(() => undefined);

  let queueLoaded = false;
  const showScreen = (screen: Screen, remember = true) => {
    for (const tab of doc.querySelectorAll<HTMLButtonElement>(".tab")) {
      const active = tab.dataset.screen === screen;
      if (active) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    for (const name of SCREENS) {
      show(byId(doc, `screen-${name}`), screen === name);
      journal[name]?.setVisible(screen === name);
    }
    // The queue is read when first shown (and kept live by events after that), not at start-up.
    if (screen === "queue" && !queueLoaded) {
      queueLoaded = true;
      void queue.load();
    }
    if (remember && uiState.last_screen !== screen) {
      uiState.last_screen = screen;
      void persist();
    }
  };
  for (const tab of doc.querySelectorAll<HTMLButtonElement>(".tab")) {
    tab.addEventListener("click", () => showScreen(asScreen(tab.dataset.screen)));
  }

  function follow(link: string): void {
    const target = parseTarget(link);
    if (!target) return;
    const filter = target.filter;
    if (target.screen === "queue" && filter?.startsWith("#")) {
      queueLoaded = true;
      showScreen("queue");
      void queue.load().then(() => queue.openMessage(Number(filter.slice(1))));
      return;
    }
    if (target.screen === "queue" && filter !== null) {
      queueLoaded = true;
      showScreen("queue");
      void queue.filterState(filter as QueueState);
      return;
    }
    if (target.screen === "log" && filter !== null) {
      showScreen("log");
      void log.filter({ result: filter as LogResult, today: target.today });
      return;
    }
    if (target.screen === "events" && filter !== null) {
      showScreen("events");
      void events.filter(filter as Severity);
      return;
    }
    showScreen(target.screen);
  }

  doc.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "s") {
      e.preventDefault();
      if (settings.isDirty()) showScreen("settings");
      void settings.save();
    }
  });

  wireCloseDialog(doc, ipc);
  ipc.onCloseRequested(() => openCloseDialog(doc)).catch(() => undefined);

  const [saved] = await Promise.all([ipc.getUiState().catch(() => DEFAULT_UI_STATE), settings.load()]);
  uiState.theme = isTheme(saved.theme) ? saved.theme : "system";
  // Sending on: the dashboard first; off or unset: where the user left off (Settings at first).
  uiState.last_screen = sendingMode() !== "off" ? "dashboard" : asScreen(saved.last_screen);
  bindThemeSelect(byId<HTMLSelectElement>(doc, "theme"), uiState.theme, (theme) => {
    uiState.theme = theme;
    void persist();
  });
  showScreen(uiState.last_screen, false);

  doc.body.dataset.ready = "true";
  ipc.uiReady().catch(() => undefined);
  return { settings, diagnose, queue, dashboard, log, events, report, showScreen, go };
}

function asScreen(name: string | undefined): Screen {
  return SCREENS.find((s) => s === name) ?? "settings";
}

function openCloseDialog(doc: Document): void {
  const dialog = byId<HTMLDialogElement>(doc, "confirm-close");
  show(byId(doc, "confirm-close-error"), false);
  if (!dialog.open) dialog.showModal();
  byId(doc, "confirm-close-cancel").focus();
}

function wireCloseDialog(doc: Document, ipc: Ipc): void {
  const dialog = byId<HTMLDialogElement>(doc, "confirm-close");
  byId(doc, "confirm-close-cancel").addEventListener("click", () => dialog.close());
  byId(doc, "confirm-close-discard").addEventListener("click", () => {
    ipc.closeWindow().catch((e) => {
      const error = byId(doc, "confirm-close-error");
      error.textContent = `The window could not be closed: ${toErrorReport(e).message}`;
      show(error, true);
    });
  });
}
