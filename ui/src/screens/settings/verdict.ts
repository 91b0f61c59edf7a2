/** The form's verdict state, without DOM: the core's last report and refusal, which fields the user has left, and which messages show now. */

import type { Issue, Report, Settings } from "../../model";

const keyOf = (s: Settings) => JSON.stringify(s);
const EMPTY: Report = { errors: [], warnings: [] };

/** What the form shows: errors of fields the user has left (all after a save), every warning, and the summary's list. */
export interface Shown {
  errors: Issue[];
  warnings: Issue[];
  summary: Issue[];
}

export class Verdict {
  /** The core's report and the settings it judged; shown until the next one arrives, so edits never flash. */
  private remote: { key: string; report: Report } = { key: "", report: EMPTY };
  /** The errors the core gave when it refused a save or a run, valid only for the settings refused. */
  private refused: { key: string; errors: Issue[] } | null = null;
  /** Problems only the form can see (a number the core cannot read), by field. */
  private local: Issue[] = [];
  private readonly touched = new Set<string>();
  /** After a save attempt every error is shown; before, only those of fields the user has left. */
  submitted = false;

  /** Starts over for freshly loaded settings with the core's report of them: problems already in the file show at once. */
  reset(settings: Settings, report: Report | null): void {
    this.touched.clear();
    this.submitted = false;
    this.refused = null;
    this.local = [];
    this.remote = { key: report ? keyOf(settings) : "", report: report ?? EMPTY };
    for (const issue of this.remote.report.errors) this.touched.add(issue.field);
  }

  /** The core's report of `settings`. */
  accept(settings: Settings, report: Report): void {
    this.remote = { key: keyOf(settings), report };
  }

  refuse(settings: Settings, errors: Issue[]): void {
    this.refused = { key: keyOf(settings), errors };
  }

  setLocal(issues: Issue[]): void {
    this.local = issues;
  }

  /** Marks a field as left by the user; true when that changes what is shown. */
  touch(field: string): boolean {
    if (this.touched.has(field)) return false;
    this.touched.add(field);
    return true;
  }

  /** Forgets which fields were left (after a save or a revert). */
  untouchAll(): void {
    this.touched.clear();
    this.submitted = false;
  }

  /** Whether the core has judged exactly these settings. */
  isCurrent(settings: Settings): boolean {
    return this.remote.key === keyOf(settings);
  }

  /** Every error and warning for these settings: the refusal and local ones first, then the core's last report. */
  report(settings: Settings): Report {
    const key = keyOf(settings);
    const refused = this.refused?.key === key ? this.refused.errors : [];
    const errors: Issue[] = [];
    for (const e of [...this.local, ...refused, ...this.remote.report.errors]) {
      if (!errors.some((r) => r.field === e.field)) errors.push(e);
    }
    return { errors, warnings: this.remote.report.warnings };
  }

  /** Whether the core's verdict (or the form itself) finds errors that must block a save; a refusal (e.g. a conflict) does not: the user may answer it by saving again. */
  blocks(settings: Settings): boolean {
    return this.local.length > 0 || (this.isCurrent(settings) && this.remote.report.errors.length > 0);
  }

  shown(settings: Settings): Shown {
    const report = this.report(settings);
    return {
      errors: report.errors.filter((i) => this.submitted || this.touched.has(i.field)),
      warnings: report.warnings,
      summary: this.submitted ? report.errors : [],
    };
  }
}
