/** Byte sizes as written in policies: "500MB", "10GB", "1TiB", "1024" (plain bytes). */

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, pib: 2 ** 50,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/** Parses a byte size; KB/MB/GB/TB/PB are decimal (BigQuery's console), KiB..PiB binary (BigQuery billing). Undefined when invalid or not positive. */
export function tryParseBytes(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  const m = SIZE.exec(value.trim());
  if (!m) return undefined;
  const factor = UNITS[(m[2] ?? "").toLowerCase() || "b"];
  if (factor === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * factor);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : undefined;
}
