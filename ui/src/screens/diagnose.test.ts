/** Tests of the Diagnose screen over a fake core: steps as they arrive, cancel, the transcript, and the test email. */

import { beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { FakeIpc, settle } from "../fake-ipc";
import type { Outcome, SendResult, Step } from "../model";
import { formatTranscript, mountDiagnose, type DiagnoseScreen } from "./diagnose";

let ipc: FakeIpc;
let screen: DiagnoseScreen;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id}`);
  return el as T;
};

const step = (name: Step["step"], status: Step["status"], extra: Partial<Step> = {}): Step => ({
  step: name,
  title: name.toUpperCase(),
  status,
  duration_ms: 12,
  summary: `${name} summary`,
  details: [],
  ...extra,
});

const outcome = (extra: Partial<Outcome> = {}): Outcome => ({
  ok: true,
  cancelled: false,
  steps: [],
  warnings: [],
  transcript: [],
  elapsed_ms: 1234,
  ...extra,
});

beforeEach(() => {
  screen?.destroy();
  document.body.innerHTML = '<div id="root"></div>';
  ipc = new FakeIpc();
  screen = mountDiagnose($("root"), ipc);
});

describe("validation", () => {
  it("lists steps as they arrive and shows the outcome", async () => {
    ipc.validateReply = async () => ({ run_id: 7 });
    $<HTMLInputElement>("test-recipient").value = "you@example.com";
    $("validate").click();
    await settle();
    expect(ipc.callsOf("validate_start")).toEqual([{ command: "validate_start", args: { recipient: "you@example.com" } }]);
    expect($<HTMLButtonElement>("validate-cancel").disabled).toBe(false);
    expect($<HTMLButtonElement>("validate").disabled).toBe(true);

    ipc.emit("validation-step", { run_id: 7, step: step("resolve", "ok", { details: [["Addresses", "192.0.2.1"]] }) });
    ipc.emit("validation-step", { run_id: 6, step: step("connect", "ok") }); // an older run: ignored
    ipc.emit("validation-step", {
      run_id: 7,
      step: step("tls", "failed", {
        failure: { category: "certificate_expired", message: "The certificate has expired.", hint: "Renew the server's certificate." },
      }),
    });
    const items = $("steps").querySelectorAll("li");
    expect([...items].map((li) => li.dataset.step)).toEqual(["resolve", "tls"]);
    expect(items[0]?.classList.contains("ok")).toBe(true);
    expect(items[0]?.querySelector("dl")?.textContent).toContain("192.0.2.1");
    expect(items[1]?.classList.contains("failed")).toBe(true);
    expect(items[1]?.querySelector(".hint")?.textContent).toBe("Renew the server's certificate.");

    ipc.emit("validation-finished", {
      run_id: 7,
      outcome: outcome({
        ok: false,
        failure: { category: "certificate_expired", message: "The certificate has expired.", hint: "Renew the server's certificate." },
        transcript: [
          { dir: "server", tls: false, text: "220 smtp.example.com ESMTP" },
          { dir: "client", tls: false, text: "EHLO desk" },
          { dir: "client", tls: true, text: "AUTH PLAIN [redacted]" },
          { dir: "server", tls: true, text: "235 ok" },
          { dir: "info", tls: false, text: "TLS started" },
        ],
      }),
    });
    expect($("validate-result").textContent).toContain("Validation failed");
    expect($("validate-result").querySelector(".hint")?.textContent).toBe("Renew the server's certificate.");
    expect($("transcript").hidden).toBe(false);
    expect($("transcript").tagName).toBe("DETAILS");
    expect($("transcript-text").textContent).toBe(
      "<- 220 smtp.example.com ESMTP\n-> EHLO desk\n~> AUTH PLAIN [redacted]\n<~ 235 ok\n=== TLS started",
    );
    expect($<HTMLButtonElement>("validate-cancel").disabled).toBe(true);
    expect($<HTMLButtonElement>("validate").disabled).toBe(false);
  });

  it("holds events that arrive before validate_start answers", async () => {
    let answer: () => void = () => {};
    ipc.validateReply = () => new Promise((resolve) => (answer = () => resolve({ run_id: 3 })));
    $("validate").click();
    await settle();
    ipc.emit("validation-step", { run_id: 3, step: step("resolve", "ok") });
    expect($("steps").children.length).toBe(0);
    answer();
    await settle();
    expect($("steps").querySelector("li")?.dataset.step).toBe("resolve");
    expect(ipc.callsOf("validate_start")[0]?.args).toEqual({ recipient: null });
  });

  it("cancels the running validation", async () => {
    ipc.validateReply = async () => ({ run_id: 9 });
    $("validate").click();
    await settle();
    $("validate-cancel").click();
    await settle();
    expect(ipc.callsOf("run_cancel")).toEqual([{ command: "run_cancel", args: { run_id: 9 } }]);
    expect($<HTMLButtonElement>("validate-cancel").disabled).toBe(true);
    ipc.emit("validation-finished", { run_id: 9, outcome: outcome({ ok: false, cancelled: true }) });
    expect($("validate-result").textContent).toContain("cancelled");
  });

  it("explains a validation that cannot start", async () => {
    ipc.validateReply = () => Promise.reject({ kind: "invalid_settings", message: "Mail is switched off.", hint: "Choose Relay." });
    $("validate").click();
    await settle();
    expect($("validate-result").textContent).toContain("Mail is switched off.");
    expect($("validate-result").querySelector(".hint")?.textContent).toBe("Choose Relay.");
    expect($<HTMLButtonElement>("validate").disabled).toBe(false);
  });

  it("shows the core's refusal of a recipient that is not a plain address under the field", async () => {
    ipc.validateReply = () =>
      Promise.reject({ kind: "invalid_recipient", message: "'Me <me@example.com>' is not an email address.", hint: "Enter one address such as someone@example.com.", field: "to" });
    $<HTMLInputElement>("test-recipient").value = "Me <me@example.com>";
    $("validate").click();
    await settle();
    expect($("test-recipient-error").hidden).toBe(false);
    expect($("test-recipient-error").textContent).toContain("is not an email address");
    expect(document.activeElement).toBe($("test-recipient"));
  });
});

describe("test email", () => {
  it("needs a recipient", async () => {
    $("send-test").click();
    await settle();
    expect(ipc.callsOf("send_test_start")).toEqual([]);
    expect($("test-recipient-error").textContent).toContain("Enter the address");
  });

  it("shows the server's reply, queue id, Message-ID and transcript", async () => {
    ipc.sendReply = async () => ({
      ok: true,
      reply: "250 2.0.0 Ok: queued as 4F2A1",
      queue_id: "4F2A1",
      message_id: "<abc@desk.example.org>",
      elapsed_ms: 420,
      transcript: [{ dir: "client", tls: true, text: "DATA" }],
      failure: null,
      steps: [],
      warnings: [],
    });
    $<HTMLInputElement>("test-recipient").value = "you@example.com";
    $("send-test").click();
    await settle();
    expect(ipc.callsOf("send_test_start")).toEqual([{ command: "send_test_start", args: { to: "you@example.com" } }]);
    const result = $("send-result");
    expect(result.hidden).toBe(false);
    expect(result.textContent).toContain("250 2.0.0 Ok: queued as 4F2A1");
    expect(result.textContent).toContain("4F2A1");
    expect(result.textContent).toContain("<abc@desk.example.org>");
    expect(result.textContent).toContain("420 ms");
    expect(result.querySelector("pre")?.textContent).toBe("~> DATA");
  });

  it("shows a refusal with its hint", async () => {
    ipc.sendStartReply = () => Promise.reject({ kind: "invalid_recipient", message: "bad address", hint: "Use name@example.com.", field: "to" });
    $<HTMLInputElement>("test-recipient").value = "you@example.com";
    $("send-test").click();
    await settle();
    expect($("send-result").textContent).toContain("bad address");
    expect($("test-recipient-error").textContent).toContain("bad address");
    expect(document.activeElement).toBe($("test-recipient"));
  });

  it("shows an error that ends the run, focused", async () => {
    ipc.sendReply = () => Promise.reject({ kind: "invalid_settings", message: "The from address can't be used." });
    $<HTMLInputElement>("test-recipient").value = "you@example.com";
    $("send-test").click();
    await settle();
    expect($("send-result").textContent).toContain("The from address can't be used.");
    expect(document.activeElement).toBe($("send-result-heading"));
    expect($<HTMLButtonElement>("send-test").disabled).toBe(false);
  });

  it("brings the result into view and moves the focus to its heading", async () => {
    const scrolled: string[] = [];
    const spy = vi.spyOn(HTMLElement.prototype, "scrollIntoView").mockImplementation(function (this: HTMLElement) {
      scrolled.push(this.id);
    });
    onTestFinished(() => spy.mockRestore());
    $<HTMLInputElement>("test-recipient").value = "you@example.com";
    $("send-test").click();
    await settle();
    const heading = $("send-result-heading");
    expect(heading.textContent).toContain("Test email accepted for you@example.com");
    expect(heading.tabIndex).toBe(-1);
    expect(document.activeElement).toBe(heading);
    expect(scrolled.at(-1)).toBe("send-result");
    expect($("send-result").getAttribute("aria-labelledby")).toBe("send-result-heading");
  });

  it("can be cancelled while it waits on the server", async () => {
    let answer: (r: SendResult) => void = () => {};
    ipc.sendStartReply = async () => ({ run_id: 5 });
    ipc.sendReply = () => new Promise((resolve) => (answer = resolve));
    $<HTMLInputElement>("test-recipient").value = "you@example.com";
    expect($("send-test-cancel").hidden).toBe(true);
    $("send-test").click();
    await settle();
    expect($("send-test-cancel").hidden).toBe(false);
    expect(document.activeElement).toBe($("send-test-cancel"));
    expect($<HTMLButtonElement>("send-test").disabled).toBe(true);
    expect($<HTMLButtonElement>("validate-cancel").disabled).toBe(true);
    $("send-test-cancel").click();
    await settle();
    expect(ipc.callsOf("run_cancel")).toEqual([{ command: "run_cancel", args: { run_id: 5 } }]);
    expect($<HTMLButtonElement>("send-test-cancel").disabled).toBe(true);
    answer({
      ok: false,
      reply: "",
      queue_id: null,
      message_id: "<abc@desk.example.org>",
      elapsed_ms: 800,
      transcript: [{ dir: "client", tls: false, text: "DATA" }],
      steps: [],
      warnings: [],
      failure: { category: "cancelled", message: "Cancelled.", hint: "Run it again when you are ready." },
    });
    await settle();
    expect($("send-result").classList.contains("cancelled")).toBe(true);
    expect($("send-result-heading").textContent).toBe("Test email cancelled after 800 ms");
    expect(document.activeElement).toBe($("send-result-heading"));
    expect($("send-test-cancel").hidden).toBe(true);
    expect($<HTMLButtonElement>("send-test").disabled).toBe(false);
  });

  it("is cancelled with Escape, even before the run id is known", async () => {
    let started: (r: { run_id: number }) => void = () => {};
    ipc.sendStartReply = () => new Promise((resolve) => (started = resolve));
    ipc.sendReply = () => new Promise(() => {});
    $<HTMLInputElement>("test-recipient").value = "you@example.com";
    $("send-test").click();
    await settle();
    document.activeElement?.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    await settle();
    expect(ipc.callsOf("run_cancel")).toEqual([]);
    started({ run_id: 8 });
    await settle();
    expect(ipc.callsOf("run_cancel")).toEqual([{ command: "run_cancel", args: { run_id: 8 } }]);
  });
});

it("notes that unsaved edits are not what is checked", () => {
  screen.setSettingsDirty(true);
  expect($("diagnose-unsaved").hidden).toBe(false);
  screen.setSettingsDirty(false);
  expect($("diagnose-unsaved").hidden).toBe(true);
});

it("formats multi-line server replies line by line", () => {
  expect(formatTranscript([{ dir: "server", tls: false, text: "250-smtp.example.com\r\n250 SIZE 1000\r\n" }])).toBe(
    "<- 250-smtp.example.com\n<- 250 SIZE 1000",
  );
});

describe("validation in Direct mode", () => {
  it("shows the deliverability lines beside the steps once the MX step comes", async () => {
    let checks = 0;
    ipc.healthCheck = async () => {
      checks++;
      return {
        domain: "example.com",
        ehlo_name: "desk.example.com",
        public_ip: null,
        lines: [
          { check: "spf", status: "ok", summary: "SPF allows this IP.", hint: "", record: null },
          { check: "port25", status: "failed", summary: "Port 25 is blocked.", hint: "Use Relay mode.", record: null },
        ],
      };
    };
    ipc.validateReply = async () => ({ run_id: 3 });
    $<HTMLInputElement>("test-recipient").value = "you@example.net";
    $("validate").click();
    await settle();
    expect($("diagnose-health").hidden).toBe(true);
    ipc.emit("validation-step", { run_id: 3, step: step("mx", "ok", { title: "Find the recipient's mail servers" }) });
    ipc.emit("validation-step", { run_id: 3, step: step("resolve", "ok") });
    await settle();
    expect(checks).toBe(1);
    expect($("diagnose-health").hidden).toBe(false);
    const items = [...$("diagnose-health-lines").querySelectorAll("li")];
    expect(items.map((li) => li.querySelector(".health-badge")?.textContent)).toEqual(["✓ OK", "✕ Failed"]);
    expect($("diagnose-health-status").textContent).toContain("public IP unknown");
    expect($("steps").querySelector('li[data-step="mx"]')?.textContent).toContain("Find the recipient's mail servers");
  });

  it("does not run the check for a relay validation", async () => {
    let checks = 0;
    ipc.healthCheck = async () => {
      checks++;
      throw new Error("not expected");
    };
    ipc.validateReply = async () => ({ run_id: 4 });
    $("validate").click();
    await settle();
    ipc.emit("validation-step", { run_id: 4, step: step("resolve", "ok") });
    await settle();
    expect(checks).toBe(0);
    expect($("diagnose-health").hidden).toBe(true);
  });
});
