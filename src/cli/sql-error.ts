/**
 * Query errors made easier to act on: a syntax error shows the statement's line with a caret under the spot the
 * broker named (details.position: line and column), and a table that does not exist names the tables the person may see there.
 */
import { JitError } from "../errors.ts";
import type { BrokerClient } from "./client.ts";
import { displayWidth } from "./table.ts";

/** Characters of the statement's line shown around the spot when the line is long. */
const WINDOW = 100;

/**
 * The line of `sql` at `line` with a caret under `column` (both 1-based), gutter-numbered like compilers print it:
 *   2 |   FROM demo.sales.customers WHERE
 *     |                                  ^
 */
export function pointAt(sql: string, line: number, column: number): string | undefined {
  const lines = sql.split(/\r\n|\n|\r/);
  const text = lines[line - 1];
  if (text === undefined || column < 1) return undefined;
  // One column per character, as the parser counts; a tab or control character is shown as one space.
  // eslint-disable-next-line no-control-regex
  let shown = text.replace(/[\t\u0000-\u001f\u007f]/g, " ");
  let at = Math.min(column - 1, shown.length);
  if (shown.length > WINDOW) {
    const start = Math.max(0, Math.min(at - WINDOW / 2, shown.length - WINDOW));
    const end = Math.min(shown.length, start + WINDOW);
    shown = `${start > 0 ? "…" : ""}${shown.slice(start, end)}${end < shown.length ? "…" : ""}`;
    at = at - start + (start > 0 ? 1 : 0);
  }
  const gutter = String(line);
  const pad = " ".repeat(gutter.length);
  return `  ${gutter} | ${shown.trimEnd()}\n  ${pad} | ${" ".repeat(displayWidth(shown.slice(0, at)))}^`;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The closest name within a few edits, if any. */
export function closest(name: string, candidates: string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d <= Math.max(2, Math.floor(name.length / 3)) && (!best || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}

/** "demo.sales.custmers" from the warehouse's "Not found: Table demo.sales.custmers" (BigQuery writes project:dataset.table). */
export function missingTable(message: string): { dataset: string; table: string } | undefined {
  const m = /Not found: Table `?([\w-]+)[:.]([\w-]+)\.([\w-]+)`?/.exec(message);
  return m ? { dataset: `${m[1]}.${m[2]}`, table: m[3]! } : undefined;
}

/**
 * Adds what helps to a failed query's error: the caret excerpt (`excerpt`: not for --json, whose object already
 * carries the position), or the tables of the dataset the person may see (asked of the broker, which checks access).
 */
export async function explainQueryError(err: unknown, sql: string, opts: { excerpt: boolean; tables?: () => Promise<BrokerClient> }): Promise<unknown> {
  if (!(err instanceof JitError)) return err;
  const { line, column } = (err.details.position ?? {}) as { line?: unknown; column?: unknown };
  if (typeof line === "number" && typeof column === "number") {
    const shown = opts.excerpt ? pointAt(sql, line, column) : undefined;
    return shown ? new JitError(err.code, `${err.message}\n${shown}`, { hint: err.hint, details: err.details }) : err;
  }
  if (/Not found: Dataset/.test(err.message)) {
    return new JitError(err.code, err.message, { hint: "jit datasets lists the datasets you may use or request", details: err.details });
  }
  const missing = missingTable(err.message);
  if (!missing || !opts.tables) return err;
  const see = `jit tables ${missing.dataset}`;
  let names: string[];
  try {
    const client = await opts.tables();
    const res = await client.get<{ tables: Array<{ name: string }> }>(`/v1/datasets/${encodeURIComponent(missing.dataset)}/tables`);
    names = res.tables.map((t) => t.name);
  } catch {
    // Not allowed to list it, or no answer: the hint still says where to look.
    return new JitError(err.code, err.message, { hint: `${see} lists the tables you may see there; jit datasets lists the datasets`, details: err.details });
  }
  const guess = closest(missing.table, names);
  const listed = names.length > 12 ? `${names.slice(0, 12).join(", ")}, …` : names.join(", ") || "no tables";
  const hint = `${guess ? `did you mean ${missing.dataset}.${guess}? ` : ""}${missing.dataset} has: ${listed} (${see})`;
  return new JitError(err.code, err.message, { hint, details: { ...err.details, ...(guess ? { did_you_mean: `${missing.dataset}.${guess}` } : {}) } });
}
