/** Small DOM building blocks shared by the screens: element lookup, element creation, and visibility. */

/** The element with this id under `root`; throws if the markup lacks it (a programming error). */
export function byId<T extends HTMLElement = HTMLElement>(root: ParentNode, id: string): T {
  const found = root.querySelector<T>(`#${id}`);
  if (!found) throw new Error(`missing element #${id}`);
  return found;
}

/** Creates an element with classes and text; attributes are set by the caller. */
export function make<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Addresses that wrap before their @ and dots (a <wbr> there), never in the middle of a word. */
export function breakable(text: string): DocumentFragment {
  const f = document.createDocumentFragment();
  text.split(/(?=[@.])/).forEach((part, i) => {
    if (i > 0) f.append(document.createElement("wbr"));
    f.append(part);
  });
  return f;
}

export function show(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
}

/** A short text for screen readers only, e.g. "Warning:" before a message whose icon is decorative. */
export function srOnly(text: string): HTMLSpanElement {
  return make("span", "visually-hidden", text);
}

/** "1.2 s" or "340 ms". */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
