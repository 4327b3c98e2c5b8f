/** Small helpers shared by command modules: JSON output, durations, relative times. */
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
