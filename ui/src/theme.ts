/** The colour theme: system, light or dark, set as `data-theme` on <html>; the colours themselves live in styles.css. */

import type { Theme } from "./model";

export const THEMES: readonly Theme[] = ["system", "light", "dark"];

export function isTheme(value: unknown): value is Theme {
  return typeof value === "string" && (THEMES as readonly string[]).includes(value);
}

/** Applies a theme to the document; "system" follows `prefers-color-scheme`. */
export function applyTheme(theme: Theme, doc: Document = document): void {
  doc.documentElement.dataset.theme = theme;
}

/** Wires the theme <select>: applies each choice at once and hands it to `persist`. */
export function bindThemeSelect(select: HTMLSelectElement, initial: Theme, persist: (theme: Theme) => void): void {
  select.value = initial;
  applyTheme(initial, select.ownerDocument);
  select.addEventListener("change", () => {
    const theme = isTheme(select.value) ? select.value : "system";
    applyTheme(theme, select.ownerDocument);
    persist(theme);
  });
}
