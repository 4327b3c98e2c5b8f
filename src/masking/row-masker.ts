/** Row-level masking: column styles first, then content detectors on every remaining value, by its type. */
import { randomBytes } from "node:crypto";
import type { DetectorName, MaskStyle } from "../policy/types.ts";
import type { FieldType, Row } from "../warehouse/types.ts";
import { luhnValid, scanAndMask, type ScanOptions } from "./detectors.ts";
import { columnHashKey, maskValue, put } from "./styles.ts";

export interface MaskColumn {
  name: string;
  type: FieldType;
  style?: MaskStyle;
  /** The source column a styled output projects ("project.dataset.table.column"): its `hash` key is derived from it. */
  source?: string;
}

export interface RowMaskerOptions {
  columns: MaskColumn[];
  detectors: DetectorName[];
  hashKey: Buffer;
}

const NO_OPTS: ScanOptions = {};

export type RowMasker = (row: Row) => { row: Row; maskedCells: number };

/**
 * Builds the per-row transform. A styled column counts one masked cell per non-null value; any other cell is
 * scanned by the detectors according to its type (scanTyped), and counts one masked cell when anything in it
 * changed. A column the caller did not list has no known type and is scanned as anything could be in it.
 */
export function createRowMasker(opts: RowMaskerOptions): RowMasker {
  const styled = new Map<string, { col: MaskColumn; mask: { hashKey: Buffer } }>();
  // A styled column without a source never shares a key with anything: a fresh one per masker.
  for (const c of opts.columns) {
    if (c.style) styled.set(c.name, { col: c, mask: { hashKey: c.source ? columnHashKey(opts.hashKey, c.source) : randomBytes(32) } });
  }
  const types = new Map(opts.columns.map((c) => [c.name, c.type]));
  const detectors = [...opts.detectors];
  return (row) => {
    const out: Row = {};
    let maskedCells = 0;
    for (const name of Object.keys(row)) {
      const value = row[name];
      const s = styled.get(name);
      if (s?.col.style) {
        put(out, name, maskValue(s.col.style, value, s.col.type, s.mask));
        if (value !== null && value !== undefined) maskedCells++;
        continue;
      }
      const scanned = scanTyped(value, types.get(name), detectors);
      put(out, name, scanned.value);
      if (scanned.changed) maskedCells++;
    }
    return { row: out, maskedCells };
  };
}

// Types whose values are never text: a FLOAT64 or NUMERIC with a Luhn-valid run of digits is a number, not a card.
const NEVER_SCANNED = new Set<FieldType>(["FLOAT64", "NUMERIC", "BIGNUMERIC", "BOOL", "DATE", "DATETIME", "TIME", "TIMESTAMP", "INTERVAL", "GEOGRAPHY"]);

/**
 * The detector pass for one cell of a known type: text (STRING, JSON, BYTES decoded) is scanned in full; an INT64
 * only for a whole card number (13 to 19 digits, Luhn-valid), which becomes NULL so the column keeps its type; no
 * other scalar type is scanned (a COUNT(*) of 522136041 is a count, not an SSN). Unknown types are scanned in full.
 */
export function scanTyped(value: unknown, type: FieldType | undefined, detectors: DetectorName[]): { value: unknown; changed: boolean } {
  if (detectors.length === 0 || value === null || value === undefined) return { value, changed: false };
  if (type === undefined) return scanValue(value, detectors, NO_OPTS);
  if (NEVER_SCANNED.has(type)) return { value, changed: false };
  if (type === "INT64") return wholeCard(value, detectors) ? { value: null, changed: true } : { value, changed: false };
  if (type === "BYTES" && typeof value === "string") {
    const text = Buffer.from(value, "base64").toString("utf8");
    const r = scanAndMask(text, detectors, NO_OPTS);
    return r.count ? { value: Buffer.from(r.text, "utf8").toString("base64"), changed: true } : { value, changed: false };
  }
  if (type === "ARRAY" || type === "STRUCT") return scanNested(value, detectors);
  return scanValue(value, detectors, NO_OPTS);
}

function wholeCard(value: unknown, detectors: DetectorName[]): boolean {
  if (!detectors.includes("credit_card") || (typeof value !== "number" && typeof value !== "bigint" && typeof value !== "string")) return false;
  const s = String(value);
  return /^\d{13,19}$/.test(s) && luhnValid(s);
}

// Inside ARRAY and STRUCT values: strings (and keys) scanned in full, integers only as whole card numbers, other numbers never.
function scanNested(value: unknown, detectors: DetectorName[]): { value: unknown; changed: boolean } {
  if (typeof value === "string") return scanString(value, detectors, NO_OPTS);
  if (typeof value === "number" || typeof value === "bigint") {
    return Number.isInteger(Number(value)) && wholeCard(value, detectors) ? { value: null, changed: true } : { value, changed: false };
  }
  if (Array.isArray(value)) {
    let changed = false;
    const arr = value.map((v) => {
      const r = scanNested(v, detectors);
      changed ||= r.changed;
      return r.value;
    });
    return changed ? { value: arr, changed } : { value, changed: false };
  }
  if (typeof value === "object" && value !== null && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    let changed = false;
    const obj: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const key = scanAndMask(k, detectors, NO_OPTS);
      const r = scanNested(v, detectors);
      changed ||= r.changed || key.count > 0;
      put(obj, key.text, r.value);
    }
    return changed ? { value: obj, changed } : { value, changed: false };
  }
  return { value, changed: false };
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
