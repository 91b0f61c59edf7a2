/** Tests of the form's verdict state, without DOM. */

import { describe, expect, it } from "vitest";
import { defaultSettings } from "../../model";
import { Verdict } from "./verdict";

const error = (field: string) => ({ field, message: "is wrong" });

describe("the verdict", () => {
  it("shows the file's problems at once, others only once their field is left, all after a save", () => {
    const s = defaultSettings();
    const v = new Verdict();
    v.reset(s, { errors: [error("relay.host")], warnings: [] });
    expect(v.shown(s).errors.map((e) => e.field)).toEqual(["relay.host"]);
    v.accept(s, { errors: [error("relay.host"), error("sender.from_address")], warnings: [] });
    expect(v.shown(s).errors.map((e) => e.field)).toEqual(["relay.host"]);
    v.touch("sender.from_address");
    expect(v.shown(s).errors).toHaveLength(2);
    v.untouchAll();
    v.submitted = true;
    expect(v.shown(s).summary).toHaveLength(2);
  });

  it("keeps the last report while the next is asked for, but only a current one blocks", () => {
    const s = defaultSettings();
    const edited = defaultSettings();
    edited.profile.ehlo_name = "x";
    const v = new Verdict();
    v.accept(s, { errors: [error("ehlo_name")], warnings: [] });
    expect(v.blocks(s)).toBe(true);
    expect(v.report(edited).errors).toHaveLength(1);
    expect(v.blocks(edited)).toBe(false);
  });

  it("shows a refusal only for the values refused, and a refusal never blocks", () => {
    const s = defaultSettings();
    const v = new Verdict();
    v.accept(s, { errors: [], warnings: [] });
    v.refuse(s, [error("relay.host")]);
    expect(v.report(s).errors).toHaveLength(1);
    expect(v.blocks(s)).toBe(false);
    const other = defaultSettings();
    other.profile.ehlo_name = "y";
    expect(v.report(other).errors).toHaveLength(0);
  });
});
