/** Tests of the disposable owner the screens release their listeners through. */

import { describe, expect, it, vi } from "vitest";
import { Lifetime } from "./lifecycle";

describe("a lifetime", () => {
  it("removes its DOM listeners, clears its timers and releases subscriptions, even late ones", async () => {
    const life = new Lifetime();
    const target = document.createElement("button");
    const clicked = vi.fn();
    life.on(target, "click", clicked);
    const fired = vi.fn();
    life.timeout("t", 0, fired);
    let release!: () => void;
    const late = new Promise<() => void>((resolve) => (release = () => resolve(unlistenLate)));
    const unlistenLate = vi.fn();
    life.subscribe(late);
    life.dispose();
    target.click();
    release();
    await new Promise((r) => setTimeout(r, 5));
    expect(clicked).not.toHaveBeenCalled();
    expect(fired).not.toHaveBeenCalled();
    expect(unlistenLate).toHaveBeenCalledOnce();
    expect(life.disposed).toBe(true);
  });

  it("replaces a named timer", async () => {
    const life = new Lifetime();
    const first = vi.fn();
    const second = vi.fn();
    life.timeout("check", 0, first);
    life.timeout("check", 0, second);
    await new Promise((r) => setTimeout(r, 5));
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledOnce();
  });
});
