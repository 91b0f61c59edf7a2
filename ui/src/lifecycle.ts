/** One disposable owner per screen: every listener, event subscription and timer it starts is released by one `dispose()`. */

import type { Unlisten } from "./ipc";

export class Lifetime {
  private readonly releases: (() => void)[] = [];
  private ended = false;

  get disposed(): boolean {
    return this.ended;
  }

  /** Runs `release` on dispose (at once if already disposed). */
  add(release: () => void): void {
    if (this.ended) release();
    else this.releases.push(release);
  }

  /** `target.addEventListener`, removed on dispose. */
  on<K extends keyof HTMLElementEventMap>(target: HTMLElement, type: K, handler: (e: HTMLElementEventMap[K]) => void): void;
  on(target: EventTarget, type: string, handler: (e: Event) => void): void;
  on(target: EventTarget, type: string, handler: (e: Event) => void): void {
    target.addEventListener(type, handler);
    this.add(() => target.removeEventListener(type, handler));
  }

  /** An IPC event subscription, released on dispose even when it is granted after it. */
  subscribe(subscription: Promise<Unlisten>): void {
    subscription.then((unlisten) => this.add(unlisten)).catch(() => undefined);
  }

  /** A timer that replaces the previous one of the same name; cleared on dispose. */
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  timeout(name: string, delayMs: number, run: () => void): void {
    if (this.ended) return;
    clearTimeout(this.timers.get(name));
    this.timers.set(
      name,
      setTimeout(() => {
        this.timers.delete(name);
        run();
      }, delayMs),
    );
  }

  dispose(): void {
    this.ended = true;
    this.timers.forEach((t) => clearTimeout(t));
    this.timers.clear();
    for (const release of this.releases.splice(0).reverse()) release();
  }
}
