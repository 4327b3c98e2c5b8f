/** One way to show sizes, durations and times to a person: "70.5 kB", "1h30m", "in 7h59m", "2026-12-02 07:13:05 CET". */

/** Bytes in SI units as BigQuery's console shows them: "0 B", "812 B", "70.5 kB", "1.2 GB". */
export function humanBytes(n: number): string {
  if (!Number.isFinite(n) || n < 1000) return `${Math.max(0, Math.round(n || 0))} B`;
  const units = ["kB", "MB", "GB", "TB", "PB"];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, "")} ${units[i]}`;
}

/** "70.5 kB processed", or why there is no figure: the broker withholds it for a statement that reads a masked column. */
export function processedBytes(n: number | null | undefined): string {
  return n === null || n === undefined ? "bytes not shown (it reads a masked column)" : `${humanBytes(n)} processed`;
}

/** A span of seconds as "45s", "5m", "1h30m", "2d3h": the largest two units, nothing smaller than a second. */
export function humanDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return s % 60 && s < 600 ? `${Math.floor(s / 60)}m${s % 60}s` : `${Math.floor(s / 60)}m`;
  if (s < 86400) return s % 3600 >= 60 ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m` : `${Math.floor(s / 3600)}h`;
  return s % 86400 >= 3600 ? `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h` : `${Math.floor(s / 86400)}d`;
}

/** "in 7h59m" or "3m ago" for an ISO time relative to now; "-" for none. */
export function humanRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "-";
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return "-";
  if (Math.abs(ms) < 1000) return "now";
  const text = humanDuration(Math.abs(ms) / 1000);
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** The zone's short name at `d`: "CET", "EDT", "UTC"; each locale knows its own region's names, so ask two before "GMT+1". */
function zoneName(d: Date, timeZone: string | undefined): string {
  let fallback = "";
  for (const locale of ["en-US", "en-GB"]) {
    const name = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: "short" }).formatToParts(d).find((p) => p.type === "timeZoneName")?.value ?? "";
    if (name && !/^GMT[+-]/.test(name)) return name;
    fallback ||= name;
  }
  return fallback;
}

/** An ISO time in the local zone with the zone named: "2026-12-02 07:13:05 CET" (TZ is honoured). */
export function localTime(iso: string, timeZone?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }).formatToParts(d).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${zoneName(d, timeZone)}`;
}
