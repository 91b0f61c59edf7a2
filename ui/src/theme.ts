/** The colour theme: the choice (system, light or dark) as `data-theme` on <html>, and the scheme it resolves to as `data-scheme`, which styles.css colours by. */

import type { Theme } from "./model";

export const THEMES: readonly Theme[] = ["system", "light", "dark"];

export function isTheme(value: unknown): value is Theme {
  return typeof value === "string" && (THEMES as readonly string[]).includes(value);
}

const DARK_QUERY = "(prefers-color-scheme: dark)";

/** The scheme a theme means now: "system" asks the OS (through `prefers-color-scheme`). */
export function resolveScheme(theme: Theme, win: Pick<Window, "matchMedia"> | null = globalThis.window ?? null): "light" | "dark" {
  if (theme !== "system") return theme;
  return win?.matchMedia?.(DARK_QUERY).matches ? "dark" : "light";
}

/** Applies a theme to the document. */
export function applyTheme(theme: Theme, doc: Document = document): void {
  doc.documentElement.dataset.theme = theme;
  doc.documentElement.dataset.scheme = resolveScheme(theme, doc.defaultView);
}

/** Wires the theme <select>: applies each choice at once and hands it to `persist`; "system" follows the OS as it changes. */
export function bindThemeSelect(select: HTMLSelectElement, initial: Theme, persist: (theme: Theme) => void): void {
  const doc = select.ownerDocument;
  select.value = initial;
  applyTheme(initial, doc);
  select.addEventListener("change", () => {
    const theme = isTheme(select.value) ? select.value : "system";
    applyTheme(theme, doc);
    persist(theme);
  });
  // The window lives as long as the page, so this listener is never released.
  doc.defaultView?.matchMedia?.(DARK_QUERY).addEventListener?.("change", () => {
    if (doc.documentElement.dataset.theme === "system") applyTheme("system", doc);
  });
}
