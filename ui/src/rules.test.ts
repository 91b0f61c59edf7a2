/** Tests of the window's copy of the settings rules: hostile text, host names (IDN included), host:port splitting, ranges, and every warning. */

import { describe, expect, it } from "vitest";
import { defaultSettings, type Settings } from "./model";
import {
  addressProblem,
  check,
  hostNameProblem,
  isAddressLiteral,
  isLoopbackHost,
  MESSAGES,
  portAfterSecurityChange,
  splitHostPort,
} from "./rules";

/** A valid relay profile to start each case from. */
function relay(edit: (s: Settings["profile"]) => void = () => {}): Settings {
  const s = defaultSettings();
  s.profile.mode = "relay";
  s.profile.relay.host = "smtp.example.com";
  s.profile.auth = { method: "password", username: "me@example.com", mechanism: "auto" };
  s.profile.sender.from_address = "alerts@example.com";
  edit(s.profile);
  return s;
}

const errorOf = (s: Settings, field: string) => check(s).errors.find((e) => e.field === field)?.message;
const warningsOf = (s: Settings, field: string) => check(s).warnings.filter((w) => w.field === field).map((w) => w.message);

describe("a valid profile", () => {
  it("has no errors and no warnings", () => {
    expect(check(relay())).toEqual({ errors: [], warnings: [] });
  });

  it("defaults (mode off) are valid", () => {
    expect(check(defaultSettings()).errors).toEqual([]);
  });
});

describe("control characters (header injection guard)", () => {
  const hostile = ["a\r\nBcc: victim@example.net", "name\u0000", "tab\there", "x\ny", "del\u007f", "c1\u0085"];
  for (const value of hostile) {
    it(`refuses ${JSON.stringify(value)} in every text field`, () => {
      const s = relay((p) => {
        p.relay.host = value;
        p.ehlo_name = value;
        p.auth.username = value;
        p.sender.from_name = value;
        p.sender.from_address = value;
        p.sender.reply_to = value;
        p.relay.ca_file = value;
      });
      for (const field of [
        "relay.host",
        "ehlo_name",
        "auth.username",
        "sender.from_name",
        "sender.from_address",
        "sender.reply_to",
        "relay.ca_file",
      ]) {
        expect(errorOf(s, field), field).toBe(MESSAGES.control);
      }
    });
  }

  it("accepts non-ASCII text that is not a control character", () => {
    expect(errorOf(relay((p) => (p.sender.from_name = "Zoë Ålander — Büro")), "sender.from_name")).toBeUndefined();
  });
});

describe("host", () => {
  it("is required in relay mode only", () => {
    expect(errorOf(relay((p) => (p.relay.host = "")), "relay.host")).toBe(MESSAGES.hostRequired);
    const off = relay((p) => {
      p.mode = "off";
      p.relay.host = "";
    });
    expect(errorOf(off, "relay.host")).toBeUndefined();
  });

  it("accepts IP addresses", () => {
    for (const ip of ["192.0.2.10", "127.0.0.1", "::1", "2001:db8::25", "::ffff:192.0.2.1"]) {
      expect(errorOf(relay((p) => (p.relay.host = ip)), "relay.host"), ip).toBeUndefined();
    }
  });

  it("explains a port left in the host", () => {
    expect(errorOf(relay((p) => (p.relay.host = "smtp.example.com:x")), "relay.host")).toBe(MESSAGES.hostColon);
  });

  it("refuses spaces around it", () => {
    expect(errorOf(relay((p) => (p.relay.host = " smtp.example.com")), "relay.host")).toBe(MESSAGES.hostSpaces);
  });

  it("refuses bad names with the name and what to enter", () => {
    const message = errorOf(relay((p) => (p.relay.host = "smtp_example.com")), "relay.host");
    expect(message).toBe(
      "'smtp_example.com' may only contain letters, digits, dots and inner hyphens — enter a host name like smtp.example.com or an IP address",
    );
    expect(errorOf(relay((p) => (p.relay.host = "-smtp.example.com")), "relay.host")).toContain("inner hyphens");
    expect(errorOf(relay((p) => (p.relay.host = "smtp..example.com")), "relay.host")).toContain("empty part between dots");
    expect(errorOf(relay((p) => (p.relay.host = `${"a".repeat(64)}.com`)), "relay.host")).toContain("longer than 63");
    expect(errorOf(relay((p) => (p.relay.host = `${"abcdefghi.".repeat(26)}com`)), "relay.host")).toContain(
      "longer than 253",
    );
    expect(errorOf(relay((p) => (p.relay.host = "smtp example.com")), "relay.host")).toContain("is not a valid host name");
    expect(errorOf(relay((p) => (p.relay.host = "smtp.example.com/x")), "relay.host")).toContain("is not a valid host name");
  });

  it("accepts international names (checked as punycode) and a trailing dot", () => {
    expect(hostNameProblem("smtp.bücher.example")).toBeNull();
    expect(hostNameProblem("почта.пример.рф")).toBeNull();
    expect(hostNameProblem("smtp.example.com.")).toBeNull();
    expect(errorOf(relay((p) => (p.relay.host = "mail.münchen.de")), "relay.host")).toBeUndefined();
  });
});

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

describe("port", () => {
  it.each([0, -1, 65536, 1.5, Number.NaN])("refuses %d", (port) => {
    expect(errorOf(relay((p) => (p.relay.port = port)), "relay.port")).toBe(MESSAGES.port);
  });
  it.each([1, 25, 587, 65535])("accepts %d", (port) => {
    expect(errorOf(relay((p) => (p.relay.port = port)), "relay.port")).toBeUndefined();
  });

  it("moves to the new security's usual port only while it is the old one's", () => {
    expect(portAfterSecurityChange(587, "start_tls", "implicit_tls")).toBe(465);
    expect(portAfterSecurityChange(465, "implicit_tls", "none")).toBe(25);
    expect(portAfterSecurityChange(25, "none", "start_tls")).toBe(587);
    expect(portAfterSecurityChange(2525, "start_tls", "implicit_tls")).toBe(2525);
  });
});

describe("limits", () => {
  it.each([
    ["timeout_secs", 0, "must be between 1 and 600 seconds (it is 0)"],
    ["timeout_secs", 601, "must be between 1 and 600 seconds (it is 601)"],
    ["connection_limit", 0, "must be between 1 and 100 connections (it is 0)"],
    ["connection_limit", 101, "must be between 1 and 100 connections (it is 101)"],
    ["max_idle_secs", 3601, "must be between 0 and 3600 seconds (it is 3601)"],
    ["batch_size", 0, "must be between 1 and 10000 messages (it is 0)"],
    ["batch_size", 10001, "must be between 1 and 10000 messages (it is 10001)"],
    ["batch_size", Number.NaN, "must be a whole number between 1 and 10000 messages"],
  ] as const)("%s = %d: %s", (key, value, message) => {
    expect(errorOf(relay((p) => (p.limits[key] = value)), `limits.${key}`)).toBe(message);
  });

  it("accepts the edges", () => {
    const s = relay((p) => (p.limits = { timeout_secs: 600, connection_limit: 1, max_idle_secs: 0, batch_size: 10000, max_queue_age_hours: 120 }));
    expect(check(s).errors).toEqual([]);
  });
});

describe("authentication", () => {
  it("password login needs a username", () => {
    expect(errorOf(relay((p) => (p.auth.username = "  ")), "auth.username")).toBe(MESSAGES.usernameRequired);
  });

  it("refuses a password in plain text to a remote host, naming it", () => {
    const s = relay((p) => (p.relay.security = "none"));
    expect(errorOf(s, "relay.security")).toBe(
      "a password would travel unencrypted to smtp.example.com — choose STARTTLS or Implicit TLS",
    );
  });

  it("allows plain text to a loopback relay", () => {
    for (const host of ["localhost", "mail.localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ["smtp.example.com", "192.0.2.1", "::2", "localhost.example.com"]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
    expect(errorOf(relay((p) => { p.relay.security = "none"; p.relay.host = "localhost"; }), "relay.security")).toBeUndefined();
  });
});

describe("addresses", () => {
  it("from address is required unless mode is off", () => {
    expect(errorOf(relay((p) => (p.sender.from_address = "")), "sender.from_address")).toBe(MESSAGES.fromRequired);
    expect(errorOf(relay((p) => { p.mode = "direct"; p.sender.from_address = ""; }), "sender.from_address")).toBe(
      MESSAGES.fromRequired,
    );
    expect(errorOf(relay((p) => { p.mode = "off"; p.sender.from_address = ""; }), "sender.from_address")).toBeUndefined();
  });

  it("refuses display names, angle brackets and bad domains", () => {
    expect(errorOf(relay((p) => (p.sender.from_address = "Alerts <alerts@example.com>")), "sender.from_address")).toBe(
      "'Alerts <alerts@example.com>' is not a valid address — enter a plain address like name@example.com (no display name or angle brackets)",
    );
    expect(addressProblem("no-at-sign")).toBe("'no-at-sign' has no '@'");
    expect(addressProblem("@example.com")).toBe("'@example.com' has nothing before the '@'");
    expect(addressProblem("me@")).toBe("'me@' has nothing after the '@'");
    expect(addressProblem("a..b@example.com")).toBe("'a..b@example.com' is not a valid address");
    expect(addressProblem(`${"x".repeat(65)}@example.com`)).toContain("more than 64 characters");
    expect(addressProblem("me@exa_mple.com")).toBe("'me@exa_mple.com' has an invalid domain 'exa_mple.com'");
  });

  it("accepts plain, international and address-literal addresses", () => {
    for (const a of ["me@example.com", "first.last+tag@mail.example.co.uk", "zoë@bücher.example", "me@[192.0.2.1]"]) {
      expect(addressProblem(a), a).toBeNull();
    }
  });

  it("reply-to is optional but checked when set", () => {
    expect(errorOf(relay((p) => (p.sender.reply_to = null)), "sender.reply_to")).toBeUndefined();
    expect(errorOf(relay((p) => (p.sender.reply_to = "nobody")), "sender.reply_to")).toContain("has no '@'");
  });

  it("from name is limited to 200 characters", () => {
    expect(errorOf(relay((p) => (p.sender.from_name = "é".repeat(200))), "sender.from_name")).toBeUndefined();
    expect(errorOf(relay((p) => (p.sender.from_name = "é".repeat(201))), "sender.from_name")).toBe(MESSAGES.fromNameLong);
  });
});

describe("EHLO name", () => {
  it("accepts empty, host names and address literals", () => {
    for (const name of ["", "mail.example.com", "[192.0.2.1]", "[IPv6:2001:db8::1]"]) {
      expect(errorOf(relay((p) => (p.ehlo_name = name)), "ehlo_name"), name).toBeUndefined();
    }
    expect(isAddressLiteral("[not-an-ip]")).toBe(false);
  });

  it("refuses other text", () => {
    expect(errorOf(relay((p) => (p.ehlo_name = "my laptop")), "ehlo_name")).toBe(
      "'my laptop' is not a valid host name — use this machine's fully qualified name (e.g. mail.example.com) or leave it empty",
    );
  });
});

describe("warnings (relay mode only)", () => {
  it("anonymous relay", () => {
    expect(warningsOf(relay((p) => (p.auth.method = "none")), "auth.method")).toEqual([MESSAGES.anonymous]);
  });

  it("no encryption", () => {
    const s = relay((p) => {
      p.relay.security = "none";
      p.relay.port = 25;
      p.auth.method = "none";
    });
    expect(warningsOf(s, "relay.security")).toEqual([MESSAGES.plaintext]);
    expect(check(s).errors).toEqual([]);
  });

  it("port 465 with STARTTLS", () => {
    expect(warningsOf(relay((p) => (p.relay.port = 465)), "relay.port")).toEqual([MESSAGES.port465StartTls]);
  });

  it.each([587, 25])("port %d with implicit TLS", (port) => {
    const s = relay((p) => {
      p.relay.port = port;
      p.relay.security = "implicit_tls";
    });
    expect(warningsOf(s, "relay.port")).toEqual([
      `Port ${port} expects STARTTLS, but implicit TLS is selected — choose 'STARTTLS' or use port 465.`,
    ]);
  });

  it("certificate checking off (but not without TLS)", () => {
    expect(warningsOf(relay((p) => (p.relay.verify_certificates = false)), "relay.verify_certificates")).toEqual([
      MESSAGES.verifyOff,
    ]);
    const plain = relay((p) => {
      p.relay.verify_certificates = false;
      p.relay.security = "none";
      p.relay.host = "localhost";
    });
    expect(warningsOf(plain, "relay.verify_certificates")).toEqual([]);
  });

  it("are not given outside relay mode, and never block", () => {
    const s = relay((p) => {
      p.mode = "direct";
      p.auth.method = "none";
      p.relay.security = "none";
      p.relay.verify_certificates = false;
    });
    expect(check(s).warnings).toEqual([]);
  });
});
