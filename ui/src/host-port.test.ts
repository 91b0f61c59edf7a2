/** Tests of the pure input help for the Server and Port fields; the rules themselves are the core's (tests/settings.rs). */

import { describe, expect, it } from "vitest";
import { portAfterSecurityChange, splitHostPort } from "./host-port";

describe("host:port splitting (as settings::split_host_port)", () => {
  it.each([
    ["smtp.example.com:2525", "smtp.example.com", 2525],
    ["  smtp.example.com:465 ", "smtp.example.com", 465],
    ["[2001:db8::1]:587", "2001:db8::1", 587],
    ["[2001:db8::1]", "2001:db8::1", null],
    ["2001:db8::1", "2001:db8::1", null],
    ["smtp.example.com", "smtp.example.com", null],
    ["smtp.example.com:99999", "smtp.example.com:99999", null],
    ["smtp.example.com:abc", "smtp.example.com:abc", null],
    ["smtp.example.com:", "smtp.example.com:", null],
    ["127.0.0.1:25", "127.0.0.1", 25],
  ])("%j → host %j, port %j", (input, host, port) => {
    expect(splitHostPort(input)).toEqual({ host, port });
  });
});

describe("port after a security change", () => {
  it("moves to the new security's usual port only while it is the old one's", () => {
    expect(portAfterSecurityChange(587, "start_tls", "implicit_tls")).toBe(465);
    expect(portAfterSecurityChange(465, "implicit_tls", "none")).toBe(25);
    expect(portAfterSecurityChange(25, "none", "start_tls")).toBe(587);
    expect(portAfterSecurityChange(2525, "start_tls", "implicit_tls")).toBe(2525);
  });
});
