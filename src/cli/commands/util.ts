/** Small helpers shared by command modules: JSON output, durations, relative times. */
import type { ChalkInstance } from "chalk";
import { JitError } from "../../errors.ts";
import type { CliContext } from "../context.ts";

/** Prints a value as JSON on stdout (used with --json). */
export function printJson(ctx: CliContext, value: unknown): void {
  ctx.io.out(JSON.stringify(value, null, 2));
}

/** "in 7h59m", "3m ago" for an ISO time relative to now. */
export function relative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "-";
  const ms = Date.parse(iso) - now;
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s >= 86400 ? `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h` : s >= 3600 ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m` : `${s}s`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** Seconds as "1h30m". */
export function seconds(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h && m ? `${h}h${m}m` : h ? `${h}h` : m ? `${m}m` : `${s}s`;
}

/** Parses a whole-number flag. */
export function intFlag(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new JitError("usage", `--${name} must be a whole number, got "${raw}"`);
  return Number(raw);
}

const SQL_KEYWORDS = /\b(SELECT|FROM|WHERE|JOIN|LEFT|RIGHT|INNER|OUTER|FULL|CROSS|ON|USING|GROUP|BY|ORDER|HAVING|QUALIFY|LIMIT|WITH|AS|AND|OR|NOT|IN|IS|NULL|CASE|WHEN|THEN|ELSE|END|UNION|ALL|DISTINCT|EXCEPT|INTERSECT|OVER|PARTITION|DESC|ASC|LIKE|BETWEEN)\b/gi;

/** The SQL in full, indented, keywords in bold and string literals coloured (plain text when colour is off). */
export function highlightSql(sql: string, color: ChalkInstance): string {
  const literal = /('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")/;
  const line = (text: string) =>
    text
      .split(literal)
      .map((part, i) => (i % 2 === 1 ? color.green(part) : part.replace(SQL_KEYWORDS, (k) => color.bold(k))))
      .join("");
  return sql.trim().split("\n").map((l) => `    ${line(l)}`).join("\n");
}
