/** Durations as people write them in policies and flags: "45s", "90m", "1h30m", "8h", "2d". */
import { JitError } from "../errors.ts";

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;
// Units in decreasing order, each at most once: "1d12h" yes, "30m1h" or "1h1h" no.
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const EXAMPLES = "e.g. 45s, 90m, 1h30m, 8h, 2d";

/** Parses "90m" | "1h30m" | "8h" | "2d" | "45s" into milliseconds; anything else (or zero) is a `usage` error. */
export function parseDuration(text: string): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) {
    throw new JitError("usage", `invalid duration ${JSON.stringify(text)}: expected a positive number with a unit d, h, m or s (${EXAMPLES})`, {
      hint: "write a duration such as 1h30m, e.g. jit request demo.sales --reason TEXT --duration 1h30m",
      details: { value: text },
    });
  }
  return ms;
}

/** Like parseDuration but returns undefined instead of throwing (for validators that collect errors). */
export function tryParseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim() === "") return undefined;
  const [, d, h, min, s] = m;
  const ms = Number(d ?? 0) * UNIT_MS.d + Number(h ?? 0) * UNIT_MS.h + Number(min ?? 0) * UNIT_MS.m + Number(s ?? 0) * UNIT_MS.s;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

/** Formats milliseconds the way parseDuration reads them: 5400000 → "1h30m", 0 → "0s"; below a second rounds down. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const sign = ms < 0 ? "-" : "";
  let rest = Math.floor(Math.abs(ms) / 1000) * 1000;
  let out = "";
  for (const unit of ["d", "h", "m", "s"] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * UNIT_MS[unit];
  }
  return out === "" ? "0s" : sign + out;
}
