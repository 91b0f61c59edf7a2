/** Pure input help for the Server and Port fields: splitting a pasted `host:port`, and the port that follows a security change. Whether the values are valid is the core's to say (check_settings). */

import { USUAL_PORT, type Security } from "./model";

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
