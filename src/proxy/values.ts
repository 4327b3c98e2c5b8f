/**
 * BigQuery's REST encoding of schemas and rows, from the broker's JSON rows. Pure.
 * Every cell travels as a string in `rows[].f[].v` (NULL as null), types use BigQuery's REST names
 * (INTEGER, FLOAT, BOOLEAN, ...), and TIMESTAMP follows the caller's format options: int64
 * microseconds (what Google's Node and Go clients ask for), an ISO string, or float seconds (the API's default).
 */

/** A column as the broker describes it (query results, dry runs, table descriptions). */
export interface BrokerColumn {
  name: string;
  type: string | null;
  masked?: boolean;
  mask?: string;
  inference?: string;
}

export interface RestField {
  name: string;
  type: string;
  mode: "NULLABLE";
  description?: string;
}

export type TimestampFormat = "int64" | "iso" | "float";

const REST_TYPE: Record<string, string> = {
  STRING: "STRING", INT64: "INTEGER", FLOAT64: "FLOAT", NUMERIC: "NUMERIC", BIGNUMERIC: "BIGNUMERIC", BOOL: "BOOLEAN",
  DATE: "DATE", DATETIME: "DATETIME", TIME: "TIME", TIMESTAMP: "TIMESTAMP", BYTES: "BYTES", JSON: "JSON",
  GEOGRAPHY: "GEOGRAPHY", INTERVAL: "INTERVAL",
};

/**
 * The REST field for a broker column. Masks keep the column's type (a style that cannot apply to a type
 * gives the type's default); should a value still not fit, resultSchema sends the column as STRING.
 * ARRAY and STRUCT arrive without their element types, so they travel as JSON text.
 */
export function restField(col: BrokerColumn, opts: { describeMask?: boolean } = {}): RestField {
  const type = (col.type ?? "STRING").toUpperCase();
  const field: RestField = { name: col.name, type: REST_TYPE[type] ?? "STRING", mode: "NULLABLE" };
  const notes: string[] = [];
  if (!(type in REST_TYPE)) notes.push(`a ${type} value, sent by jit as JSON text`);
  if (col.masked && opts.describeMask !== false) {
    notes.push(`masked by jit (${col.mask ?? "masked"}): values come back masked${col.inference === "allow" ? "" : "; select it as it is: it may not be used in WHERE, JOIN, GROUP BY, ORDER BY or functions"}`);
  }
  if (notes.length) field.description = notes.join("; ");
  return field;
}

const INTEGER = /^-?\d+$/;
const FLOAT = /^(-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|NaN|-?Infinity)$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;
const TIME = /^\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Epoch microseconds of an RFC 3339 timestamp, or undefined when it is not one. */
export function timestampMicros(s: string): bigint | undefined {
  const m = TIMESTAMP.exec(s);
  if (!m) return undefined;
  let zone = (m[4] ?? "Z").toUpperCase();
  if (zone === "UTC") zone = "Z";
  else if (/^[+-]\d{2}$/.test(zone)) zone += ":00";
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1000n + BigInt((m[3] ?? "").padEnd(6, "0").slice(0, 6));
}

function fits(type: string, v: unknown): boolean {
  switch (type) {
    case "INTEGER":
      return (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint" || (typeof v === "string" && INTEGER.test(v));
    case "FLOAT":
      return typeof v === "number" || (typeof v === "string" && FLOAT.test(v));
    case "NUMERIC":
    case "BIGNUMERIC":
      return (typeof v === "number" && Number.isFinite(v)) || (typeof v === "string" && DECIMAL.test(v));
    case "BOOLEAN":
      return typeof v === "boolean";
    case "TIMESTAMP":
      return typeof v === "string" && timestampMicros(v) !== undefined;
    case "DATE":
      return typeof v === "string" && DATE.test(v);
    case "DATETIME":
      return typeof v === "string" && DATETIME.test(v);
    case "TIME":
      return typeof v === "string" && TIME.test(v);
    default:
      return true;
  }
}

/**
 * The schema of a result as it is actually sent: a column whose values do not all fit its type (a content
 * detector masked a card number held in an INT64) is sent as STRING, so a client parses every cell it gets.
 */
export function resultSchema(columns: BrokerColumn[], rows: Record<string, unknown>[]): RestField[] {
  return columns.map((c) => {
    const field = restField(c, { describeMask: false });
    if (rows.some((r) => r[c.name] !== null && r[c.name] !== undefined && !fits(field.type, r[c.name]))) {
      return { ...field, type: "STRING" };
    }
    return field;
  });
}

function text(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Encodes one cell for its REST type. */
export function encodeCell(type: string, v: unknown, ts: TimestampFormat): string | null {
  if (v === null || v === undefined) return null;
  if (type === "TIMESTAMP" && typeof v === "string") {
    const micros = timestampMicros(v)!;
    if (ts === "int64") return micros.toString();
    if (ts === "float") return (Number(micros) / 1e6).toString();
    const ms = micros / 1000n;
    const sub = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
    return `${new Date(Number(ms)).toISOString().slice(0, 19)}.${sub.toString().padStart(6, "0")}Z`;
  }
  if (type === "DATETIME" && typeof v === "string") return v.replace(" ", "T");
  return text(v);
}

/** Encodes rows as `[{f: [{v}]}]` in schema order. */
export function encodeRows(schema: RestField[], rows: Record<string, unknown>[], ts: TimestampFormat): Array<{ f: Array<{ v: string | null }> }> {
  return rows.map((r) => ({ f: schema.map((f) => ({ v: encodeCell(f.type, r[f.name], ts) })) }));
}

/** Reads the timestamp format from `formatOptions` (request body) or `formatOptions.*` query parameters. */
export function timestampFormat(opts: { useInt64Timestamp?: unknown; timestampOutputFormat?: unknown }): TimestampFormat {
  const out = String(opts.timestampOutputFormat ?? "").toUpperCase();
  if (out === "ISO8601_STRING") return "iso";
  if (out === "INT64") return "int64";
  if (opts.useInt64Timestamp === true || opts.useInt64Timestamp === "true") return "int64";
  if (out === "FLOAT64") return "float";
  return "float";
}
