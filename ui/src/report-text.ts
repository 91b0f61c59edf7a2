/** The words a person reads for an error report: its message, then what to do, as sentences. */

import type { ErrorReport } from "./model";

/** `message` ended as a sentence, then the hint: "X changed. Reload to …" rather than "X changed Reload to …". */
export function reportText(err: Pick<ErrorReport, "message" | "hint">): string {
  const message = err.message.trim();
  if (!err.hint) return message;
  const ended = /[.!?:)"”]$/.test(message) ? message : `${message}.`;
  return `${ended} ${err.hint.trim()}`;
}
