/** The window's copy of the settings rules (src/settings/validate.rs) for instant feedback: same checks, same order, same messages. Rust stays the authority. */

import {
  LIMIT_RANGES,
  PORT_RANGE,
  USUAL_PORT,
  type Issue,
  type Limits,
  type Profile,
  type Report,
  type Security,
  type Settings,
} from "./model";

export const MESSAGES = {
  control: "contains a line break, tab or other control character — remove it (header injection guard)",
  hostRequired: "is required for relay mode — enter the SMTP server's name, e.g. smtp.example.com",
  hostSpaces: "has spaces at the start or end — remove them",
  hostColon: "contains a ':' — put the port number in the Port field (a pasted host:port is split automatically)",
  port: "must be between 1 and 65535 — the usual ports are 587 (STARTTLS), 465 (implicit TLS) and 25",
  usernameRequired:
    "is required for password login — enter the account name the server expects (often the full email address)",
  usernameLong: "is longer than 256 characters — check what was pasted",
  fromRequired: "is required — enter the address mail is sent from, e.g. alerts@example.com",
  fromNameLong: "is longer than 200 characters — shorten it",
  anonymous:
    "Anonymous relay: the server must accept mail from this machine without a login. Fine for a local relay; elsewhere choose Password.",
  plaintext: "No encryption: messages (and anything in them) cross the network in plain text.",
  port465StartTls: "Port 465 expects implicit TLS, but STARTTLS is selected — choose 'Implicit TLS' or use port 587.",
  verifyOff: "Certificate checking is off: anyone on the path can pose as the server and read the password.",
} as const;

/** Rust's `char::is_control`: the Unicode Cc category (C0 controls, DEL, C1 controls). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Code points a host name may never contain (WHATWG forbidden domain code points, as `idna` refuses them). */
const FORBIDDEN_IN_HOST = /[\u0000-\u0020#%/:<>?@[\\\]^|\u007f]/;

export function hasControlChar(text: string): boolean {
  return CONTROL.test(text);
}

/** A report under construction: one error per field (the first found is the most basic). */
class ReportBuilder implements Report {
  errors: Issue[] = [];
  warnings: Issue[] = [];
  error(field: string, message: string): void {
    if (!this.errors.some((i) => i.field === field)) this.errors.push({ field, message });
  }
  warn(field: string, message: string): void {
    this.warnings.push({ field, message });
  }
}

/** Checks every field of the settings, as `settings::check` does. */
export function check(settings: Settings): Report {
  const p = settings.profile;
  const r = new ReportBuilder();

  for (const [field, value] of textFields(p)) {
    if (hasControlChar(value)) r.error(field, MESSAGES.control);
  }

  const relay = p.mode === "relay";
  checkHost(r, "relay.host", p.relay.host, relay);
  if (!isWholeNumber(p.relay.port) || p.relay.port < PORT_RANGE.min || p.relay.port > PORT_RANGE.max) {
    r.error("relay.port", MESSAGES.port);
  }
  if (p.relay.ca_file !== null && p.relay.ca_file === "") {
    r.error("relay.ca_file", "is empty — choose a PEM file of CA certificates or clear the setting");
  }
  // Whether the CA file exists is for Rust to say: the window cannot look at the disk.
  if (p.ehlo_name !== "" && !isAddressLiteral(p.ehlo_name)) {
    const why = hostNameProblem(p.ehlo_name);
    if (why) {
      r.error("ehlo_name", `${why} — use this machine's fully qualified name (e.g. mail.example.com) or leave it empty`);
    }
  }

  if (p.auth.method === "password") {
    if (p.auth.username.trim() === "") {
      r.error("auth.username", MESSAGES.usernameRequired);
    } else if (utf8Length(p.auth.username) > 256) {
      r.error("auth.username", MESSAGES.usernameLong);
    }
    if (relay && p.relay.security === "none" && !isLoopbackHost(p.relay.host)) {
      r.error("relay.security", plaintextPasswordMessage(p.relay.host));
    }
  }

  checkAddress(r, "sender.from_address", p.sender.from_address, p.mode !== "off");
  if ([...p.sender.from_name].length > 200) r.error("sender.from_name", MESSAGES.fromNameLong);
  if (p.sender.reply_to !== null) checkAddress(r, "sender.reply_to", p.sender.reply_to, false);

  for (const key of Object.keys(LIMIT_RANGES) as (keyof Limits)[]) {
    const problem = limitProblem(key, p.limits[key]);
    if (problem) r.error(`limits.${key}`, problem);
  }

  if (relay) relayWarnings(r, p);
  return { errors: r.errors, warnings: r.warnings };
}

export function plaintextPasswordMessage(host: string): string {
  return `a password would travel unencrypted to ${host === "" ? "the server" : host} — choose STARTTLS or Implicit TLS`;
}

function relayWarnings(r: ReportBuilder, p: Profile): void {
  const { port, security } = p.relay;
  if (p.auth.method === "none") r.warn("auth.method", MESSAGES.anonymous);
  if (security === "none") r.warn("relay.security", MESSAGES.plaintext);
  if (port === 465 && security === "start_tls") {
    r.warn("relay.port", MESSAGES.port465StartTls);
  } else if ((port === 587 || port === 25) && security === "implicit_tls") {
    r.warn(
      "relay.port",
      `Port ${port} expects STARTTLS, but implicit TLS is selected — choose 'STARTTLS' or use port 465.`,
    );
  }
  if (!p.relay.verify_certificates && security !== "none") r.warn("relay.verify_certificates", MESSAGES.verifyOff);
}

function textFields(p: Profile): [string, string][] {
  const fields: [string, string][] = [
    ["relay.host", p.relay.host],
    ["ehlo_name", p.ehlo_name],
    ["auth.username", p.auth.username],
    ["sender.from_name", p.sender.from_name],
    ["sender.from_address", p.sender.from_address],
  ];
  if (p.sender.reply_to !== null) fields.push(["sender.reply_to", p.sender.reply_to]);
  if (p.relay.ca_file !== null) fields.push(["relay.ca_file", p.relay.ca_file]);
  return fields;
}

/** The message for a limit outside its range, or null when it is fine. */
export function limitProblem(key: keyof Limits, value: number): string | null {
  const { min, max, unit } = LIMIT_RANGES[key];
  if (!isWholeNumber(value)) return `must be a whole number between ${min} and ${max} ${unit}`;
  if (value < min || value > max) return `must be between ${min} and ${max} ${unit} (it is ${value})`;
  return null;
}

function isWholeNumber(n: number): boolean {
  return Number.isInteger(n);
}

/** Whether every number fits the Rust type (u16 port, u32 limits), so the settings can cross IPC at all. */
export function isSerialisable(settings: Settings): boolean {
  const p = settings.profile;
  const fits = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max;
  return fits(p.relay.port, 65_535) && Object.values(p.limits).every((n) => fits(n, 4_294_967_295));
}

function checkHost(r: ReportBuilder, field: string, host: string, required: boolean): void {
  if (host === "") {
    if (required) r.error(field, MESSAGES.hostRequired);
    return;
  }
  if (host.trim() !== host) {
    r.error(field, MESSAGES.hostSpaces);
    return;
  }
  if (isIpAddress(host)) return;
  if (host.includes(":")) {
    r.error(field, MESSAGES.hostColon);
    return;
  }
  const why = hostNameProblem(host);
  if (why) r.error(field, `${why} — enter a host name like smtp.example.com or an IP address`);
}

/**
 * Why `name` is not a usable DNS host name, or null if it is. International names are checked in
 * their ASCII (punycode) form, which the URL parser computes with the same UTS #46 rules as Rust's `idna`.
 */
export function hostNameProblem(name: string): string | null {
  let ascii = name;
  if (FORBIDDEN_IN_HOST.test(name)) return `'${name}' is not a valid host name`;
  if (/[^\x00-\x7f]/.test(name)) {
    try {
      ascii = new URL(`http://${name}`).hostname;
    } catch {
      return `'${name}' is not a valid host name`;
    }
  }
  if (ascii.endsWith(".")) ascii = ascii.slice(0, -1);
  if (ascii === "") return "is empty";
  if (ascii.length > 253) return "is longer than 253 characters";
  for (const label of ascii.split(".")) {
    if (label === "") return `'${name}' has an empty part between dots`;
    if (label.length > 63) return `'${name}' has a part longer than 63 characters`;
    if (!/^[A-Za-z0-9-]+$/.test(label) || label.startsWith("-") || label.endsWith("-")) {
      return `'${name}' may only contain letters, digits, dots and inner hyphens`;
    }
  }
  return null;
}

/** Rust's `Ipv4Addr::from_str`: four decimal parts 0–255, no leading zeros. */
export function isIpv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** Rust's `Ipv6Addr::from_str` (no brackets, no zone). */
export function isIpv6(s: string): boolean {
  if (!s.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

export function isIpAddress(s: string): boolean {
  return isIpv4(s) || isIpv6(s);
}

/** `[192.0.2.1]` or `[IPv6:2001:db8::1]`, as EHLO and addresses allow (RFC 5321 §4.1.3). */
export function isAddressLiteral(s: string): boolean {
  if (!s.startsWith("[") || !s.endsWith("]") || s.length < 2) return false;
  let ip = s.slice(1, -1);
  if (ip.startsWith("IPv6:")) ip = ip.slice(5);
  return isIpAddress(ip);
}

function checkAddress(r: ReportBuilder, field: string, addr: string, required: boolean): void {
  if (addr === "") {
    if (required) r.error(field, MESSAGES.fromRequired);
    return;
  }
  const why = addressProblem(addr);
  if (why) r.error(field, `${why} — enter a plain address like name@example.com (no display name or angle brackets)`);
}

/** Why `addr` is not a plain mailbox address (RFC 5321 §4.1.2, with RFC 6531 UTF-8), or null. */
export function addressProblem(addr: string): string | null {
  const at = addr.lastIndexOf("@");
  if (at < 0) return `'${addr}' has no '@'`;
  const local = addr.slice(0, at);
  const domain = addr.slice(at + 1);
  if (local === "") return `'${addr}' has nothing before the '@'`;
  if (utf8Length(local) > 64) return `'${addr}' has more than 64 characters before the '@'`;
  const specials = "()<>[]:;@\\,\" ";
  if (
    local.startsWith(".") ||
    local.endsWith(".") ||
    local.includes("..") ||
    [...local].some((c) => specials.includes(c))
  ) {
    return `'${addr}' is not a valid address`;
  }
  if (domain === "") return `'${addr}' has nothing after the '@'`;
  if (isAddressLiteral(domain)) return null;
  return hostNameProblem(domain) === null ? null : `'${addr}' has an invalid domain '${domain}'`;
}

/** Whether mail to this host stays on this machine, so a plaintext password cannot be sniffed. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[+/, "").replace(/\]+$/, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIpv4(h)) return h.startsWith("127.");
  if (isIpv6(h)) return new URL(`http://[${h}]/`).hostname === "[::1]";
  return false;
}

/** Splits a pasted `host:port` (or `[v6]:port`) as `settings::split_host_port` does; a plain host gives no port. */
export function splitHostPort(input: string): { host: string; port: number | null } {
  const text = input.trim();
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close >= 0) {
      const tail = text.slice(close + 1);
      return { host: text.slice(1, close), port: tail.startsWith(":") ? parsePort(tail.slice(1)) : null };
    }
  }
  const colon = text.lastIndexOf(":");
  if (colon >= 0) {
    const host = text.slice(0, colon);
    // More than one ':' is a bare IPv6 address, not host:port.
    if (!host.includes(":")) {
      const port = parsePort(text.slice(colon + 1));
      if (port !== null) return { host, port };
    }
  }
  return { host: text, port: null };
}

/** Rust's `u16::from_str`: optional '+', decimal digits, at most 65535. */
function parsePort(text: string): number | null {
  if (!/^\+?\d+$/.test(text)) return null;
  const n = Number(text);
  return n <= 65_535 ? n : null;
}

/**
 * The port to use after the security mode changes: if the port is still the usual one of the old
 * mode, the usual one of the new mode; otherwise the user chose it and it stays.
 */
export function portAfterSecurityChange(port: number, from: Security, to: Security): number {
  return port === USUAL_PORT[from] ? USUAL_PORT[to] : port;
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}
