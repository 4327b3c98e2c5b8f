/**
 * Mask styles, following BigQuery's data-masking rules where they exist:
 * https://cloud.google.com/bigquery/docs/column-data-masking-intro#masking_options
 *
 * Deviations, on purpose:
 * - Where BigQuery falls back to SHA-256 (last4/first4 on values of 4 characters or fewer, email on a value
 *   that is not an email address), jit uses the keyed `hash`: an unkeyed digest of a 4-character value is
 *   reversed by hashing the 10,000 candidates.
 * - `sha256` exists for parity and is reversible for small value spaces (a nine-digit SSN): prefer `hash`.
 *   BigQuery returns the digest in the column's type; jit renders it as lowercase hex (BYTES: base64 bytes).
 * - `null`, `default` and `redact` replace an ARRAY/STRUCT/JSON value as a whole; the other styles mask each
 *   leaf value inside it, keeping the shape.
 * - A masked value keeps its column's type, so typed clients do not break: where a style does not apply to a type
 *   (a hash of an INT64, last4 of a DATE, `redact` of a NUMERIC), the value becomes BigQuery's default masking value
 *   for that type, as BigQuery does for rules that do not fit the column.
 * - The keyed `hash` uses a key of the column's own (columnHashKey): equal values hash alike within one column, and
 *   nothing hashed for another column (or a value a query made up) can be compared with them.
 */
import { createHash, createHmac } from "node:crypto";
import type { MaskStyle } from "../policy/types.ts";
import type { FieldType } from "../warehouse/types.ts";

export interface MaskOptions {
  /** Broker secret for the keyed `hash` style. */
  hashKey: Buffer;
}

export const REDACTED = "[REDACTED]";

// BigQuery's "Default masking value" per type, in jit's JSON row encoding (STRUCT: not applicable → null).
const DEFAULTS: Record<FieldType, unknown> = {
  STRING: "", BYTES: "", INT64: 0, FLOAT64: 0, NUMERIC: "0", BIGNUMERIC: "0", BOOL: false,
  DATE: "1970-01-01", DATETIME: "1970-01-01T00:00:00", TIME: "00:00:00", TIMESTAMP: "1970-01-01T00:00:00Z",
  GEOGRAPHY: "POINT(0 0)", JSON: null, ARRAY: [], STRUCT: null, INTERVAL: "0-0 0 0:0:0",
};

// The types each value-keeping style applies to; on any other type the value becomes the type's default.
const APPLIES: Partial<Record<MaskStyle, ReadonlySet<FieldType>>> = {
  redact: new Set(["STRING"]),
  hash: new Set(["STRING", "BYTES", "ARRAY", "STRUCT", "JSON"]),
  sha256: new Set(["STRING", "BYTES", "ARRAY", "STRUCT", "JSON"]),
  last4: new Set(["STRING", "ARRAY", "STRUCT", "JSON"]),
  first4: new Set(["STRING", "ARRAY", "STRUCT", "JSON"]),
  email: new Set(["STRING", "ARRAY", "STRUCT", "JSON"]),
  year: new Set(["DATE", "DATETIME", "TIMESTAMP", "STRING", "ARRAY", "STRUCT", "JSON"]),
};

/** Masks one value, keeping its type. NULL stays NULL under every style. */
export function maskValue(style: MaskStyle, value: unknown, type: FieldType, opts: MaskOptions): unknown {
  if (value === null || value === undefined) return null;
  if (style === "null") return null;
  if (style === "default" || !(APPLIES[style]?.has(type) ?? false)) return structuredClone(DEFAULTS[type] ?? null);
  if (style === "redact") return REDACTED;
  if (type === "BYTES" && style === "hash") return createHmac("sha256", opts.hashKey).update(Buffer.from(String(value), "base64")).digest("base64");
  return mapLeaves(value, (leaf, leafType) => maskLeaf(style, leaf, leafType, opts), type);
}

/**
 * The `hash` key of one source column ("project.dataset.table.column"), derived from the broker's secret: no value
 * hashed for one column can be matched against another column's hashes.
 */
export function columnHashKey(brokerKey: Buffer, source: string): Buffer {
  return createHmac("sha256", brokerKey).update(`jit column hash key v1\0${source.toLowerCase()}`, "utf8").digest();
}

function mapLeaves(value: unknown, fn: (leaf: unknown, type: FieldType) => unknown, type: FieldType): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => mapLeaves(v, fn, "STRING"));
  if (typeof value === "object" && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) put(out, k, mapLeaves(v, fn, "STRING"));
    return out;
  }
  const leafType = type === "ARRAY" || type === "STRUCT" || type === "JSON" ? "STRING" : type;
  return fn(value, leafType);
}

/** Sets an own property, even "__proto__" (a JSON key like any other). */
export function put(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** The text BigQuery would see for a scalar (numbers, booleans and dates stringified). */
export function stringForm(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString("base64");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function maskLeaf(style: MaskStyle, value: unknown, type: FieldType, opts: MaskOptions): unknown {
  switch (style) {
    case "hash":
      return keyedHash(stringForm(value), opts.hashKey);
    case "sha256":
      return sha256(value, type);
    case "last4":
    case "first4": {
      const chars = Array.from(stringForm(value));
      if (chars.length <= 4) return keyedHash(chars.join(""), opts.hashKey);
      return style === "last4" ? `XXXXX${chars.slice(-4).join("")}` : `${chars.slice(0, 4).join("")}XXXXX`;
    }
    case "email": {
      const s = stringForm(value);
      const m = EMAIL.exec(s);
      return m ? `XXXXX@${m[1]}` : keyedHash(s, opts.hashKey);
    }
    case "year":
      return yearOf(value, type);
    default:
      return REDACTED; // an unknown style never passes a value through
  }
}

const EMAIL = /^[^@\s]+@([^@\s]+\.[^@\s.]+)$/;

/** HMAC-SHA256 of the text with the broker key, lowercase hex: stable for joins, not reversible without the key. */
export function keyedHash(text: string, key: Buffer): string {
  return createHmac("sha256", key).update(text, "utf8").digest("hex");
}

function sha256(value: unknown, type: FieldType): string {
  if (type === "BYTES" && typeof value === "string") {
    return createHash("sha256").update(Buffer.from(value, "base64")).digest("base64");
  }
  return createHash("sha256").update(stringForm(value), "utf8").digest("hex");
}

// Truncates to the first day of the year (UTC for TIMESTAMP, as BigQuery's default time zone).
function yearOf(value: unknown, type: FieldType): string | null {
  const s = value instanceof Date ? value.toISOString() : typeof value === "string" ? value.trim() : null;
  if (s === null) return null;
  if (type === "TIMESTAMP" || (type !== "DATE" && type !== "DATETIME" && /[zZ]|[+-]\d\d:?\d\d$/.test(s) && s.length > 10)) {
    let iso = s.replace(" ", "T").replace(/ UTC$/, "Z");
    if (iso.length > 10 && !/[zZ]|[+-]\d\d:?\d\d$/.test(iso)) iso += "Z"; // no zone: BigQuery means UTC
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return null;
    return `${pad4(new Date(t).getUTCFullYear())}-01-01T00:00:00Z`;
  }
  const m = /^(\d{4})-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/.exec(s);
  if (!m) return null;
  const hasTime = s.length > 10;
  return type === "DATETIME" || (type !== "DATE" && hasTime) ? `${m[1]}-01-01T00:00:00` : `${m[1]}-01-01`;
}

const pad4 = (y: number) => String(y).padStart(4, "0");
