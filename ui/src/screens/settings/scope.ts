/** Which profile the form shows and how its fields resolve: Global's value, overridden by the named profile's key (the core's `settings::profiles::resolve`), the admin policy's locks on top, and the overrides the form's values make. */

import { FIELDS, type Profile, type Settings } from "../../model";
import type { Lock } from "../../generated/Lock";
import type { JsonValue } from "../../generated/serde_json/JsonValue";

/** The Global profile's name wherever a profile is named. */
export const GLOBAL = "global";

export const isGlobal = (name: string) => name.toLowerCase() === GLOBAL;

/** Whether a named profile may override `key` (false: machine-wide, set in Global only). */
export function perProfile(key: string): boolean {
  return FIELDS.find((f) => f.name === key)?.per_profile ?? false;
}

/** The value at a dotted key (`relay.host`) of a profile. */
export function valueAt(profile: Profile, key: string): JsonValue | undefined {
  let node: unknown = profile;
  for (const part of key.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node as JsonValue | undefined;
}

/** A copy of `profile` with `value` at the dotted `key`. */
export function withValue(profile: Profile, key: string, value: JsonValue): Profile {
  const copy = structuredClone(profile) as unknown as Record<string, unknown>;
  const parts = key.split(".");
  let node = copy;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts[parts.length - 1] ?? key] = value;
  return copy as unknown as Profile;
}

/** The keys profile `name` overrides ({} for Global or a profile the settings don't have). */
export function overridesOf(settings: Settings, name: string): Record<string, JsonValue> {
  if (isGlobal(name)) return {};
  return (settings.profiles?.[name] ?? {}) as Record<string, JsonValue>;
}

/** Profile `name` as it applies: Global's fields with its overrides laid on top. Keys the core would refuse (unknown, Global-only) are not laid on. */
export function resolve(settings: Settings, name: string): Profile {
  let profile = settings.profile;
  for (const [key, value] of Object.entries(overridesOf(settings, name))) {
    if (perProfile(key) && valueAt(profile, key) !== undefined) profile = withValue(profile, key, value);
  }
  return profile;
}

/** `profile` with the policy's locked values, as every profile gets them. */
export function withLocks(profile: Profile, locks: readonly Lock[]): Profile {
  let out = profile;
  for (const lock of locks) if (valueAt(out, lock.field) !== undefined) out = withValue(out, lock.field, lock.value);
  return out;
}

/**
 * The whole settings with the form's values (`shown`, the profile `name` as the form shows it) put
 * back: Global's fields for Global; for a named profile only the `overridden` keys, as its
 * overrides (Global untouched). Keys the form does not know stay as they were.
 */
export function compose(settings: Settings, name: string, shown: Profile, overridden: ReadonlySet<string>): Settings {
  if (isGlobal(name)) return { ...settings, profile: shown };
  const own: Record<string, JsonValue> = {};
  const before = overridesOf(settings, name);
  const known = new Set(FIELDS.map((f) => f.name as string));
  const keys = [...Object.keys(before).filter((k) => !known.has(k)), ...[...overridden].filter((k) => known.has(k) && perProfile(k))];
  // Sorted as the core writes them (a BTreeMap), so equal settings compare equal.
  for (const key of keys.sort()) {
    const value = known.has(key) ? valueAt(shown, key) : before[key];
    if (value !== undefined) own[key] = value;
  }
  return { ...settings, profiles: { ...settings.profiles, [name]: own } };
}

/** How one field of the shown profile stands. */
export type FieldScope = "global" | "inherited" | "overridden" | "global_only" | "locked";

export function fieldScope(key: string, name: string, overridden: ReadonlySet<string>, locks: readonly Lock[]): FieldScope {
  if (locks.some((l) => l.field === key)) return "locked";
  if (isGlobal(name)) return "global";
  if (!perProfile(key)) return "global_only";
  return overridden.has(key) ? "overridden" : "inherited";
}

/** A value as the "Inherited from Global" note shows it. */
export function shownValue(value: JsonValue | undefined): string {
  if (value === null || value === undefined || value === "") return "(empty)";
  if (typeof value === "boolean") return value ? "on" : "off";
  return String(value);
}
