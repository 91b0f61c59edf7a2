/** The window's shell: header, screen switching, theme, Ctrl+S, the discard-changes dialog on close, and the start-up sequence that ends in `ui_ready`. */

import { byId, show } from "./dom";
import { toErrorReport, type Ipc } from "./ipc";
import { DEFAULT_UI_STATE, type Screen, type UiState } from "./model";
import { mountDiagnose, type DiagnoseScreen } from "./screens/diagnose";
import { mountQueue, type QueueScreen } from "./screens/queue/index";
import { mountSettings, type SettingsScreen } from "./screens/settings/index";
import { applyTheme, bindThemeSelect, isTheme } from "./theme";

const SHELL = `
<header class="app-header">
  <span class="app-name"><span class="app-logo" aria-hidden="true">✉</span> SMTP Desk</span>
  <nav class="tabs" aria-label="Screens">
    <button type="button" class="tab" id="nav-settings" data-screen="settings" aria-controls="screen-settings">Settings</button>
    <button type="button" class="tab" id="nav-diagnose" data-screen="diagnose" aria-controls="screen-diagnose">Diagnose</button>
    <button type="button" class="tab" id="nav-queue" data-screen="queue" aria-controls="screen-queue">Queue</button>
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
  <section id="screen-settings" class="screen" aria-label="Settings"></section>
  <section id="screen-diagnose" class="screen" aria-label="Diagnose" hidden></section>
  <section id="screen-queue" class="screen screen-wide" aria-label="Queue" hidden></section>
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
  showScreen(screen: Screen): void;
}

/** Builds the window into `doc`, fills it, and tells Rust it is ready. */
export async function startApp(ipc: Ipc, doc: Document = document): Promise<App> {
  doc.body.innerHTML = SHELL;
  // The OS's scheme until the saved theme is read: no light flash on a dark desktop.
  applyTheme("system", doc);
  const settings = mountSettings(byId(doc, "screen-settings"), ipc);
  const diagnose = mountDiagnose(byId(doc, "screen-diagnose"), ipc);
  const queue = mountQueue(byId(doc, "screen-queue"), ipc);
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
    show(byId(doc, "screen-settings"), screen === "settings");
    show(byId(doc, "screen-diagnose"), screen === "diagnose");
    show(byId(doc, "screen-queue"), screen === "queue");
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
  uiState.last_screen = asScreen(saved.last_screen);
  bindThemeSelect(byId<HTMLSelectElement>(doc, "theme"), uiState.theme, (theme) => {
    uiState.theme = theme;
    void persist();
  });
  showScreen(uiState.last_screen, false);

  doc.body.dataset.ready = "true";
  ipc.uiReady().catch(() => undefined);
  return { settings, diagnose, queue, showScreen };
}

function asScreen(name: string | undefined): Screen {
  return name === "diagnose" || name === "queue" ? name : "settings";
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
