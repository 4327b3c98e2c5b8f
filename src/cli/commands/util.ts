/** Small helpers shared by command modules: JSON output, durations, relative times. */
import type { ChalkInstance } from "chalk";
import { JitError } from "../../errors.ts";
import type { CliContext } from "../context.ts";
import { loadConfig } from "../config.ts";
import { humanDuration, humanRelative } from "../human.ts";
import type { FitOptions } from "../output.ts";
import { renderJson } from "../json-output.ts";
import { writePaged } from "../pager.ts";

/** Prints a value as JSON on stdout (used with --json): only the fields of `--json FIELDS`, through `--jq` when given. */
export function printJson(ctx: CliContext, value: unknown, opts: { compact?: boolean } = {}): void {
  if (!ctx.json) return ctx.io.out(opts.compact ? JSON.stringify(value) : JSON.stringify(value, null, 2));
  const text = renderJson(value, ctx.json, { compact: opts.compact, tty: ctx.io.isStdoutTTY });
  if (text) ctx.io.out(text);
}

/** How to spell jit in a printed next step: "npx jit" when run through npx (in a checkout jit is not on PATH). */
export function jitName(env: NodeJS.ProcessEnv): string {
  return env.npm_command === "exec" ? "npx jit" : "jit";
}

/** How tables fit this invocation's stdout: its terminal width (none for a pipe), bold headers, a dim rule. */
export function fit(ctx: CliContext): FitOptions {
  return { width: ctx.io.stdoutColumns, head: ctx.io.color.bold, rule: ctx.io.color.dim };
}

/** Writes long text to stdout, through the pager on a terminal when it is taller than the screen. */
export async function printLong(ctx: CliContext, text: string): Promise<void> {
  let configured: string | undefined;
  try {
    configured = loadConfig(ctx.io.env).pager;
  } catch {
    configured = undefined; // a broken config file is reported by the commands that need it, not by paging
  }
  await writePaged(ctx.io, text, configured);
}

/** "in 7h59m", "3m ago" for an ISO time relative to now (the one duration style: see human.ts). */
export const relative = humanRelative;

/** Seconds as "1h30m". */
export const seconds = humanDuration;

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
