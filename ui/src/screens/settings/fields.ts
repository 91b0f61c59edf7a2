/** The settings form's field table: labels, help, ranges and modes from the core's registry (generated fields.ts), and reading and filling the form's controls. */

import { byId } from "../../dom";
import { defaultSettings, FIELD_KEYS, fieldId, fieldInfo, type Mode, type Security, type Settings } from "../../model";

/** The password is on the form but not in the settings file: the keyring holds it. */
export const PASSWORD = "password";
/** The SMTP listener's password: on the form, kept in the keyring (its own entry). */
export const LISTENER_PASSWORD = "listener.password";

/** Keys whose messages are shown under a control (every settings field plus the passwords). */
export const MESSAGE_KEYS: readonly string[] = [...FIELD_KEYS, PASSWORD, LISTENER_PASSWORD];

/** What people call a field, for messages and the error summary. */
export function label(key: string): string {
  if (key === PASSWORD) return "Password";
  if (key === LISTENER_PASSWORD) return "Listener password";
  return fieldInfo(key)?.label ?? key;
}

/** Whether the form shows the field in this mode (the password goes with the login fields). */
export function shownIn(key: string, mode: Mode): boolean {
  const modes = fieldInfo(key === PASSWORD ? "auth.username" : key)?.modes;
  return modes ? modes.includes(mode) : true;
}

/** "Server is required …" for messages that continue the field's name, "Server: '…' …" for the rest. */
export function describeIssue(field: string, message: string): string {
  const name = label(field);
  return /^(is|has|contains|must) /.test(message) ? `${name} ${message}` : `${name}: ${message}`;
}

/** The canonical form of settings, so two copies compare equal exactly when they mean the same. */
export function normalise(s: Settings): Settings {
  const p = s.profile;
  return {
    schema: s.schema,
    profiles: s.profiles ?? {},
    default_profile: s.default_profile ?? null,
    profile: {
      mode: p.mode,
      relay: {
        host: p.relay.host,
        port: p.relay.port,
        security: p.relay.security,
        verify_certificates: p.relay.verify_certificates,
        ca_file: p.relay.ca_file === "" ? null : p.relay.ca_file,
      },
      ehlo_name: p.ehlo_name,
      auth: {
        method: p.auth.method,
        username: p.auth.username,
        mechanism: p.auth.mechanism,
        oauth_provider: p.auth.oauth_provider ?? "google",
        oauth_client_id: p.auth.oauth_client_id ?? "",
        oauth_client_secret: p.auth.oauth_client_secret ?? "",
        oauth_authorize_url: p.auth.oauth_authorize_url ?? "",
        oauth_token_url: p.auth.oauth_token_url ?? "",
        oauth_device_url: p.auth.oauth_device_url ?? "",
        oauth_scopes: p.auth.oauth_scopes ?? "",
      },
      local_recipient: p.local_recipient ?? null,
      sender: {
        from_name: p.sender.from_name,
        from_address: p.sender.from_address,
        reply_to: p.sender.reply_to === "" ? null : p.sender.reply_to,
      },
      limits: {
        timeout_secs: p.limits.timeout_secs,
        connection_limit: p.limits.connection_limit,
        max_idle_secs: p.limits.max_idle_secs,
        batch_size: p.limits.batch_size,
        max_queue_age_hours: p.limits.max_queue_age_hours,
      },
      listener: { enabled: p.listener.enabled, port: p.listener.port, username: p.listener.username },
      bounces: { send: p.bounces.send, max_per_hour: p.bounces.max_per_hour },
      logs: { retention_days: p.logs.retention_days },
      // Settings from before "Find settings" have no such part: the core gives them the default.
      detect: { ispdb_url: p.detect?.ispdb_url ?? defaultSettings().profile.detect.ispdb_url },
      dkim: { ...defaultSettings().profile.dkim, ...p.dkim },
    },
  };
}

/** The OAuth2 settings, each a plain text or choice control. */
const OAUTH_KEYS = ["oauth_provider", "oauth_client_id", "oauth_client_secret", "oauth_authorize_url", "oauth_token_url", "oauth_device_url", "oauth_scopes"] as const;

export const sameSettings = (a: Settings, b: Settings) => JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));

/** The number fields the form has but the core cannot read (empty, fractional, out of the type). */
export function unreadableNumbers(settings: Settings): string[] {
  const p = settings.profile;
  const fits = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max;
  const bad = fits(p.relay.port, 65_535) ? [] : ["relay.port"];
  for (const [key, n] of Object.entries(p.limits)) if (!fits(n, 4_294_967_295)) bad.push(`limits.${key}`);
  if (!fits(p.listener.port, 65_535)) bad.push("listener.port");
  if (!fits(p.bounces.max_per_hour, 4_294_967_295)) bad.push("bounces.max_per_hour");
  if (!fits(p.logs.retention_days, 4_294_967_295)) bad.push("logs.retention_days");
  return bad;
}

/** The message for a number the core cannot even be asked about: its range, from the registry. */
export function unreadableMessage(key: string): string {
  const range = fieldInfo(key)?.range;
  const unit = fieldInfo(key)?.unit;
  return range ? `must be a whole number between ${range[0]} and ${range[1]}${unit ? ` ${unit}` : ""}` : "must be a whole number";
}

/** Reads and fills the form's controls; ids come from the keys (`relay.host` → `#relay-host`). */
export class FormFields {
  schema = 1;
  /** The parts of the settings this form does not show (named profiles), carried through a save. */
  profiles: Settings["profiles"] = {};
  defaultProfile: string | null = null;
  constructor(private readonly root: HTMLElement) {}

  control<T extends HTMLInputElement | HTMLSelectElement = HTMLInputElement>(key: string): T {
    return byId<T>(this.root, fieldId(key));
  }

  private text(key: string): string {
    return this.control(key).value;
  }

  private number(key: string): number {
    const raw = this.control(key).value.trim();
    return raw === "" ? Number.NaN : Number(raw);
  }

  private optional(key: string): string | null {
    const value = this.text(key);
    return value === "" ? null : value;
  }

  /** The settings as the form shows them now. */
  read(): Settings {
    const checked = this.root.querySelector<HTMLInputElement>('input[name="mode"]:checked');
    return normalise({
      schema: this.schema,
      profiles: this.profiles,
      default_profile: this.defaultProfile,
      profile: {
        mode: (checked?.value ?? "off") as Mode,
        relay: {
          host: this.text("relay.host"),
          port: this.number("relay.port"),
          security: this.text("relay.security") as Security,
          verify_certificates: this.control("relay.verify_certificates").checked,
          ca_file: this.optional("relay.ca_file"),
        },
        ehlo_name: this.text("ehlo_name"),
        auth: {
          method: this.text("auth.method") as Settings["profile"]["auth"]["method"],
          username: this.text("auth.username"),
          mechanism: this.text("auth.mechanism") as Settings["profile"]["auth"]["mechanism"],
          oauth_provider: this.text("auth.oauth_provider") as Settings["profile"]["auth"]["oauth_provider"],
          oauth_client_id: this.text("auth.oauth_client_id"),
          oauth_client_secret: this.text("auth.oauth_client_secret"),
          oauth_authorize_url: this.text("auth.oauth_authorize_url"),
          oauth_token_url: this.text("auth.oauth_token_url"),
          oauth_device_url: this.text("auth.oauth_device_url"),
          oauth_scopes: this.text("auth.oauth_scopes"),
        },
        sender: {
          from_name: this.text("sender.from_name"),
          from_address: this.text("sender.from_address"),
          reply_to: this.optional("sender.reply_to"),
        },
        local_recipient: this.optional("local_recipient"),
        limits: {
          timeout_secs: this.number("limits.timeout_secs"),
          connection_limit: this.number("limits.connection_limit"),
          max_idle_secs: this.number("limits.max_idle_secs"),
          batch_size: this.number("limits.batch_size"),
          max_queue_age_hours: this.number("limits.max_queue_age_hours"),
        },
        listener: {
          enabled: this.control("listener.enabled").checked,
          port: this.number("listener.port"),
          username: this.text("listener.username"),
        },
        bounces: { send: this.control("bounces.send").checked, max_per_hour: this.number("bounces.max_per_hour") },
        logs: { retention_days: this.number("logs.retention_days") },
        detect: { ispdb_url: this.text("detect.ispdb_url") },
        dkim: {
          enabled: this.control("dkim.enabled").checked,
          selector: this.text("dkim.selector"),
          algorithm: this.text("dkim.algorithm") as Settings["profile"]["dkim"]["algorithm"],
          domain: this.text("dkim.domain"),
        },
      },
    });
  }

  fill(s: Settings): void {
    const p = s.profile;
    this.schema = s.schema;
    this.profiles = s.profiles ?? {};
    this.defaultProfile = s.default_profile ?? null;
    for (const radio of this.root.querySelectorAll<HTMLInputElement>('input[name="mode"]')) {
      radio.checked = radio.value === p.mode;
    }
    const set = (key: string, value: string | number | null) => {
      this.control(key).value = value === null ? "" : String(value);
    };
    set("relay.host", p.relay.host);
    set("relay.port", p.relay.port);
    set("relay.security", p.relay.security);
    this.control("relay.verify_certificates").checked = p.relay.verify_certificates;
    set("relay.ca_file", p.relay.ca_file);
    set("ehlo_name", p.ehlo_name);
    set("auth.method", p.auth.method);
    set("auth.username", p.auth.username);
    set("auth.mechanism", p.auth.mechanism);
    for (const key of OAUTH_KEYS) set(`auth.${key}`, p.auth[key] ?? "");
    set("sender.from_name", p.sender.from_name);
    set("sender.from_address", p.sender.from_address);
    set("sender.reply_to", p.sender.reply_to);
    set("limits.timeout_secs", p.limits.timeout_secs);
    set("limits.connection_limit", p.limits.connection_limit);
    set("limits.max_idle_secs", p.limits.max_idle_secs);
    set("limits.batch_size", p.limits.batch_size);
    set("limits.max_queue_age_hours", p.limits.max_queue_age_hours);
    set("local_recipient", p.local_recipient);
    this.control("bounces.send").checked = p.bounces.send;
    set("bounces.max_per_hour", p.bounces.max_per_hour);
    this.control("listener.enabled").checked = p.listener.enabled;
    set("listener.port", p.listener.port);
    set("listener.username", p.listener.username);
    set("logs.retention_days", p.logs.retention_days);
    set("detect.ispdb_url", p.detect?.ispdb_url ?? defaultSettings().profile.detect.ispdb_url);
    const dkim = { ...defaultSettings().profile.dkim, ...p.dkim };
    this.control("dkim.enabled").checked = dkim.enabled;
    set("dkim.selector", dkim.selector);
    set("dkim.algorithm", dkim.algorithm);
    set("dkim.domain", dkim.domain);
  }
}
