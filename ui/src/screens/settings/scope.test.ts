/** Tests of profile resolution as the core does it (src/settings/profiles.rs: Global's value, overridden by the named profile's key), the locks on top, and the overrides the form's values make. */

import { describe, expect, it } from "vitest";
import { defaultSettings, type Settings } from "../../model";
import { compose, fieldScope, GLOBAL, resolve, shownValue, valueAt, withLocks } from "./scope";

function settings(): Settings {
  const s = defaultSettings();
  s.profile.mode = "relay";
  s.profile.relay.host = "smtp.global.example";
  s.profile.sender.from_address = "global@example.com";
  s.profiles = { alerts: { "relay.host": "smtp.alerts.example", "relay.port": 2525 }, empty: {} };
  return s;
}

describe("resolve", () => {
  it("takes Global's value unless the named profile overrides the key", () => {
    const s = settings();
    const alerts = resolve(s, "alerts");
    expect(alerts.relay.host).toBe("smtp.alerts.example");
    expect(alerts.relay.port).toBe(2525);
    expect(alerts.sender.from_address).toBe("global@example.com");
    expect(alerts.relay.security).toBe(s.profile.relay.security);
  });

  it("gives Global for Global (any case), a profile that overrides nothing, or one the settings lack", () => {
    const s = settings();
    expect(resolve(s, GLOBAL)).toEqual(s.profile);
    expect(resolve(s, "Global")).toEqual(s.profile);
    expect(resolve(s, "empty")).toEqual(s.profile);
    expect(resolve(s, "gone")).toEqual(s.profile);
  });

  it("never changes Global, and an inherited field follows Global's changes", () => {
    const s = settings();
    resolve(s, "alerts");
    expect(s.profile.relay.host).toBe("smtp.global.example");
    s.profile.sender.from_address = "changed@example.com";
    expect(resolve(s, "alerts").sender.from_address).toBe("changed@example.com");
  });

  it("lays on no key the core would refuse: unknown, or Global-only (set for the whole machine)", () => {
    const s = settings();
    s.profiles.alerts = { "listener.port": 2600, "no.such": 1, "sender.from_name": "Alerts" };
    const alerts = resolve(s, "alerts");
    expect(alerts.listener.port).toBe(s.profile.listener.port);
    expect(alerts.sender.from_name).toBe("Alerts");
    expect(valueAt(alerts, "no.such")).toBeUndefined();
  });
});

describe("locks", () => {
  it("put the policy's value over Global's and over any override", () => {
    const s = settings();
    const locks = [
      { field: "relay.host", value: "smtp.corp.example", reason: "Locked by the admin policy" },
      { field: "relay.verify_certificates", value: true, reason: "The admin policy requires certificate checking" },
    ];
    s.profile.relay.verify_certificates = false;
    const alerts = withLocks(resolve(s, "alerts"), locks);
    expect(alerts.relay.host).toBe("smtp.corp.example");
    expect(alerts.relay.verify_certificates).toBe(true);
    expect(alerts.relay.port).toBe(2525);
    expect(fieldScope("relay.host", "alerts", new Set(["relay.host"]), locks)).toBe("locked");
    expect(fieldScope("relay.host", GLOBAL, new Set(), locks)).toBe("locked");
  });
});

describe("compose", () => {
  it("writes a named profile's shown values back as overrides of only the overridden keys, Global untouched", () => {
    const s = settings();
    const shown = resolve(s, "alerts");
    shown.relay.host = "smtp.new.example";
    shown.sender.from_address = "typed-but-inherited@example.com";
    shown.sender.from_name = "Alerts";
    const out = compose(s, "alerts", shown, new Set(["sender.from_name", "relay.host"]));
    expect(out.profiles.alerts).toEqual({ "relay.host": "smtp.new.example", "sender.from_name": "Alerts" });
    expect(Object.keys(out.profiles.alerts ?? {})).toEqual(["relay.host", "sender.from_name"]);
    expect(out.profile).toEqual(s.profile);
    expect(out.profiles.empty).toEqual({});
  });

  it("writes Global's shown values into Global, the named profiles untouched", () => {
    const s = settings();
    const shown = structuredClone(s.profile);
    shown.relay.host = "smtp.changed.example";
    const out = compose(s, GLOBAL, shown, new Set());
    expect(out.profile.relay.host).toBe("smtp.changed.example");
    expect(out.profiles).toEqual(s.profiles);
  });

  it("keeps keys the form does not know and drops Global-only ones", () => {
    const s = settings();
    s.profiles.alerts = { "future.key": "x" };
    const out = compose(s, "alerts", resolve(s, "alerts"), new Set(["listener.port", "relay.host"]));
    expect(out.profiles.alerts).toEqual({ "future.key": "x", "relay.host": "smtp.global.example" });
  });

  it("round-trips: resolving what compose wrote shows the same values", () => {
    const s = settings();
    const shown = resolve(s, "alerts");
    shown.limits.timeout_secs = 77;
    const out = compose(s, "alerts", shown, new Set(["relay.host", "relay.port", "limits.timeout_secs"]));
    expect(resolve(out, "alerts")).toEqual(shown);
  });
});

describe("fieldScope and shownValue", () => {
  it("says how each field of the shown profile stands", () => {
    const over = new Set(["relay.host"]);
    expect(fieldScope("relay.host", GLOBAL, over, [])).toBe("global");
    expect(fieldScope("relay.host", "alerts", over, [])).toBe("overridden");
    expect(fieldScope("relay.port", "alerts", over, [])).toBe("inherited");
    expect(fieldScope("listener.port", "alerts", over, [])).toBe("global_only");
    expect([shownValue(""), shownValue(null), shownValue(true), shownValue(false), shownValue(587)]).toEqual(["(empty)", "(empty)", "on", "off", "587"]);
  });
});
