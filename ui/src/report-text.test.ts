import { describe, expect, it } from "vitest";
import { reportText } from "./report-text";

describe("reportText", () => {
  it("ends the message as a sentence before the hint", () => {
    expect(reportText({ message: "relay.host was changed there too", hint: "Reload to take the file's values." })).toBe(
      "relay.host was changed there too. Reload to take the file's values.",
    );
  });
  it("keeps a message that already ends a sentence, and one without a hint", () => {
    expect(reportText({ message: "The keyring is locked.", hint: "Unlock it." })).toBe("The keyring is locked. Unlock it.");
    expect(reportText({ message: "no hint here" })).toBe("no hint here");
  });
});
