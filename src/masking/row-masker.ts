/** Row-level masking: column styles first, then content detectors on every remaining value. */
import type { DetectorName, MaskStyle } from "../policy/types.ts";
import type { FieldType, Row } from "../warehouse/types.ts";
import { scanAndMask, type ScanOptions } from "./detectors.ts";
import { maskValue, put } from "./styles.ts";

export interface MaskColumn {
  name: string;
  type: FieldType;
  style?: MaskStyle;
}

export interface RowMaskerOptions {
  columns: MaskColumn[];
  detectors: DetectorName[];
  hashKey: Buffer;
}

const NO_OPTS: ScanOptions = {};

export type RowMasker = (row: Row) => { row: Row; maskedCells: number };

/**
 * Builds the per-row transform. A styled column counts one masked cell per non-null value; any other
 * cell (including columns the caller did not list) is scanned by the detectors, recursively through
 * ARRAY, STRUCT and JSON text, and counts one masked cell when anything in it changed.
 */
export function createRowMasker(opts: RowMaskerOptions): RowMasker {
  const styled = new Map<string, MaskColumn>();
  for (const c of opts.columns) if (c.style) styled.set(c.name, c);
  const detectors = [...opts.detectors];
  const mask = { hashKey: opts.hashKey };
  return (row) => {
    const out: Row = {};
    let maskedCells = 0;
    for (const name of Object.keys(row)) {
      const value = row[name];
      const col = styled.get(name);
      if (col?.style) {
        put(out, name, maskValue(col.style, value, col.type, mask));
        if (value !== null && value !== undefined) maskedCells++;
        continue;
      }
      if (typeof value === "string" && !(value.length >= 6 && looksLikeJson(value))) {
        // The common case, without scanValue's wrapping: plain text through the detectors.
        const r = scanAndMask(value, detectors, NO_OPTS);
        put(out, name, r.text);
        if (r.count) maskedCells++;
        continue;
      }
      const scanned = scanValue(value, detectors, NO_OPTS);
      put(out, name, scanned.value);
      if (scanned.changed) maskedCells++;
    }
    return { row: out, maskedCells };
  };
}

/** Detector pass over any JSON-ready value; numbers are scanned too (a card number stored as INT64). */
export function scanValue(value: unknown, detectors: DetectorName[], opts: ScanOptions): { value: unknown; changed: boolean } {
  if (detectors.length === 0 || value === null || value === undefined || typeof value === "boolean") return { value, changed: false };
  if (typeof value === "string") return scanString(value, detectors, opts);
  if (typeof value === "number" || typeof value === "bigint") {
    const r = scanAndMask(String(value), detectors, opts);
    return r.count ? { value: r.text, changed: true } : { value, changed: false };
  }
  if (Array.isArray(value)) {
    let changed = false;
    const arr = value.map((v) => {
      const r = scanValue(v, detectors, opts);
      changed ||= r.changed;
      return r.value;
    });
    return changed ? { value: arr, changed } : { value, changed: false };
  }
  if (typeof value === "object" && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    let changed = false;
    const obj: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // Keys of JSON values are data too ({"123-45-6789": true}).
      const key = scanAndMask(k, detectors, opts);
      const r = scanValue(v, detectors, opts);
      changed ||= r.changed || key.count > 0;
      put(obj, key.text, r.value);
    }
    return changed ? { value: obj, changed } : { value, changed: false };
  }
  return { value, changed: false };
}

// JSON text is parsed and masked leaf by leaf, so escapes such as \u0040 cannot hide a value.
function scanString(s: string, detectors: DetectorName[], opts: ScanOptions): { value: unknown; changed: boolean } {
  if (s.length >= 6 && looksLikeJson(s)) {
    try {
      const parsed: unknown = JSON.parse(s);
      const r = scanValue(parsed, detectors, opts);
      if (r.changed) return { value: JSON.stringify(r.value), changed: true };
      const rawHit = scanAndMask(s, detectors, opts);
      // Parsed leaves were clean, but the raw text still matched (e.g. a number split across a key and value).
      return rawHit.count ? { value: rawHit.text, changed: true } : { value: s, changed: false };
    } catch {
      // Not JSON: scan as text.
    }
  }
  const r = scanAndMask(s, detectors, opts);
  return r.count ? { value: r.text, changed: true } : { value: s, changed: false };
}

// The first non-blank character opens an object or array (without copying the string as trimStart() would).
function looksLikeJson(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 123 || c === 91) return true;
    if (c === 32 || (c >= 9 && c <= 13)) continue;
    if (c < 128 || !/\s/.test(s[i]!)) return false;
  }
  return false;
}

const ALWAYS: DetectorName[] = ["credit_card", "us_ssn", "email", "phone", "iban"];

/** Masks a warehouse error message: every detector, strict SSN matching, plus the policy's own list. */
export function maskErrorMessage(msg: string, detectors: readonly DetectorName[]): string {
  const all = [...new Set<DetectorName>([...ALWAYS, ...detectors])];
  return scanAndMask(msg, all, { strict: true }).text;
}
