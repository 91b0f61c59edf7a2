/** How the queue screen words things: sizes, ages, a message's recipients, attempts and last reply, counts, and the sending-off banner. */

import type { Counts, MessageSummary, Overview } from "../../model";

/** "1 message" / "3 messages". */
export function messages(n: number): string {
  return `${n.toLocaleString("en")} message${n === 1 ? "" : "s"}`;
}

/** "512 B", "4.1 KB", "2.3 MB". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** How long ago `at` (seconds since the epoch) was: "just now", "5 min", "3 h", "2 d". */
export function formatAge(at: number, nowSecs: number): string {
  const s = Math.max(0, nowSecs - at);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** A time as the user's locale writes it. */
export function formatTime(at: number): string {
  return new Date(at * 1000).toLocaleString();
}

/** The first recipients and how many more: "a@x, b@x +3". */
export function recipientsText(m: MessageSummary, shown = 2): string {
  const list = m.recipients.slice(0, shown).map((r) => r.address);
  const more = m.recipients.length - list.length;
  return list.join(", ") + (more > 0 ? ` +${more}` : "");
}

/** The envelope sender as people read it: the null sender is "<>" (a bounce). */
export function senderText(sender: string): string {
  return sender === "" ? "<> (bounce)" : sender;
}

/** The most attempts any recipient has had. */
export function attemptsOf(m: MessageSummary): number {
  return m.recipients.reduce((n, r) => Math.max(n, r.attempts), 0);
}

/** The reply that explains the message's state: a recipient in that state first, then any. */
export function lastReply(m: MessageSummary): string {
  const inState = m.recipients.find((r) => r.state === m.state && r.last_reply);
  return (inState ?? m.recipients.find((r) => r.last_reply))?.last_reply ?? "";
}

/** Recipients per state, the non-zero ones: "3 queued, 1 deferred". */
export function countsText(c: Counts): string {
  const parts = (["queued", "sending", "deferred", "held", "failed", "sent"] as const)
    .filter((k) => c[k] > 0)
    .map((k) => `${c[k].toLocaleString("en")} ${k}`);
  const recipients = parts.length ? ` · recipients: ${parts.join(", ")}` : "";
  return `${messages(c.messages)} in the queue${recipients}`;
}

/** The banner while sending is off (null when it is on or nothing waits). */
export function sendingOffText(o: Overview): string | null {
  if (o.mode !== "off") return null;
  const waiting = o.waiting === 1 ? "1 message is waiting" : `${messages(o.waiting)} are waiting`;
  return `Sending is off: ${waiting}; they will be sent when you turn sending on (Settings → Mode).`;
}
