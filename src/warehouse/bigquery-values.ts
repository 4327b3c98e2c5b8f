/** BigQuery REST schemas and f/v rows → jit's Field types and SPEC.md's JSON value forms; job labels. */
import type { Field, FieldType, Row } from "./types.ts";
import { WarehouseQueryError } from "./types.ts";
import { rfc3339 } from "./duckdb-values.ts";

/** A TableFieldSchema as the REST API returns it. */
export interface RestField {
  name: string;
  type: string;
  mode?: string;
  fields?: RestField[];
}

// Legacy (INTEGER, RECORD...) and standard SQL names both appear in API responses.
const TYPE_NAMES: Record<string, FieldType> = {
  STRING: "STRING", BYTES: "BYTES", INTEGER: "INT64", INT64: "INT64", FLOAT: "FLOAT64", FLOAT64: "FLOAT64",
  NUMERIC: "NUMERIC", BIGNUMERIC: "BIGNUMERIC", BOOLEAN: "BOOL", BOOL: "BOOL", TIMESTAMP: "TIMESTAMP", DATE: "DATE",
  TIME: "TIME", DATETIME: "DATETIME", GEOGRAPHY: "GEOGRAPHY", JSON: "JSON", INTERVAL: "INTERVAL",
  RECORD: "STRUCT", STRUCT: "STRUCT",
};

const malformed = (what: string): WarehouseQueryError =>
  new WarehouseQueryError(`BigQuery returned a malformed response (${what})`, { reason: "malformed" });

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks the shape of a REST schema's fields, so that conversion can trust it. */
export function restFields(raw: unknown): RestField[] {
  if (!Array.isArray(raw)) throw malformed("schema fields are not a list");
  return raw.map((f) => {
    if (!isRecord(f) || typeof f.name !== "string" || typeof f.type !== "string") throw malformed("schema field without name or type");
    const nested = f.fields === undefined ? undefined : restFields(f.fields);
    return { name: f.name, type: f.type.toUpperCase(), mode: typeof f.mode === "string" ? f.mode.toUpperCase() : undefined, fields: nested };
  });
}

function scalarField(f: RestField, name: string): Field {
  const type = TYPE_NAMES[f.type] ?? "STRING"; // RANGE and future types: their text form
  if (type !== "STRUCT") return { name, type };
  return { name, type, fields: (f.fields ?? []).map(fieldOf) };
}

/** One REST field as a jit Field: RECORD → STRUCT, REPEATED → ARRAY of an `element` field. */
export function fieldOf(f: RestField): Field {
  if (f.mode === "REPEATED") return { name: f.name, type: "ARRAY", mode: "REPEATED", fields: [scalarField(f, "element")] };
  const field = scalarField(f, f.name);
  return f.mode === "REQUIRED" ? { ...field, mode: "REQUIRED" } : field;
}

const INTEGER = /^-?\d+$/;
const DECIMAL = /^(-?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Float seconds ("1.7E9", "1700000000.123456") → microseconds, rounded, without float precision loss. */
function secondsToMicros(text: string): bigint | undefined {
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const digits = BigInt(`${m[2]}${m[3] ?? ""}`);
  const scale = Number(m[4] ?? 0) - (m[3] ?? "").length + 6;
  if (Math.abs(scale) > 40) return undefined;
  let micros: bigint;
  if (scale >= 0) micros = digits * 10n ** BigInt(scale);
  else {
    const div = 10n ** BigInt(-scale);
    micros = (digits + div / 2n) / div;
  }
  return m[1] === "-" ? -micros : micros;
}

/** TIMESTAMP as int64 microseconds (formatOptions.useInt64Timestamp) or float seconds → RFC 3339. */
export function timestampValue(text: string): string {
  const micros = INTEGER.test(text) ? BigInt(text) : secondsToMicros(text);
  if (micros === undefined) throw malformed("TIMESTAMP value");
  try {
    return rfc3339(micros);
  } catch {
    throw malformed("TIMESTAMP out of range");
  }
}

function scalarValue(type: FieldType, v: unknown): unknown {
  if (typeof v !== "string") throw malformed(`${type} value is not a string`);
  switch (type) {
    case "INT64": {
      if (!INTEGER.test(v)) throw malformed("INT64 value");
      const n = BigInt(v);
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
    }
    case "FLOAT64": {
      if (v === "NaN" || v === "Infinity" || v === "-Infinity") return v;
      const n = Number(v);
      if (v.trim() === "" || !Number.isFinite(n)) throw malformed("FLOAT64 value");
      return n;
    }
    case "BOOL":
      if (v !== "true" && v !== "false") throw malformed("BOOL value");
      return v === "true";
    case "TIMESTAMP": return timestampValue(v);
    // NUMERIC/BIGNUMERIC keep their exact text; DATE, DATETIME, TIME, BYTES (base64), GEOGRAPHY (WKT), JSON, INTERVAL as sent.
    default: return v;
  }
}

function cellValue(field: Field, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (field.type === "ARRAY") {
    if (!Array.isArray(v)) throw malformed("REPEATED value is not a list");
    const element = field.fields![0]!;
    return v.map((cell) => {
      if (!isRecord(cell)) throw malformed("REPEATED element is not a {v} cell");
      return cellValue(element, cell.v);
    });
  }
  if (field.type === "STRUCT") return structValue(field.fields ?? [], v);
  return scalarValue(field.type, v);
}

function structValue(fields: Field[], v: unknown): Row {
  if (!isRecord(v) || !Array.isArray(v.f) || v.f.length !== fields.length) throw malformed("row does not match the schema");
  const cells = v.f;
  const row: Row = {};
  fields.forEach((field, i) => {
    const cell: unknown = cells[i];
    if (!isRecord(cell)) throw malformed("cell is not a {v} object");
    row[field.name] = cellValue(field, cell.v);
  });
  return row;
}

/** One f/v row of a query result as a jit row (fields as returned by fieldOf). */
export function rowOf(fields: Field[], raw: unknown): Row {
  return structValue(fields, raw);
}

const LABEL_MAX = 63;
const MAX_LABELS = 64;
const labelText = (s: string): string => s.toLowerCase().replace(/[^a-z0-9_-]/g, "_").slice(0, LABEL_MAX);

/** Job labels within BigQuery's rules: lowercase letters, digits, _ and -, at most 63 characters, keys start with a letter. */
export function sanitizeLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (Object.keys(out).length >= MAX_LABELS) break;
    let key = labelText(k);
    if (key === "") continue;
    if (!/^[a-z]/.test(key)) key = `l_${key}`.slice(0, LABEL_MAX);
    out[key] = labelText(String(v));
  }
  return out;
}
