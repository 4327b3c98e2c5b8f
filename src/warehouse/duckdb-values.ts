/** DuckDB result types and values → BigQuery type names and SPEC.md's JSON forms. */
import type { DuckDBType, DuckDBValue } from "@duckdb/node-api";
import type { Field, FieldType } from "./types.ts";

/** DuckDBTypeId names; compared by name so that this module never loads DuckDB itself. */
type TypeName = string;

const INT_TYPES = new Set(["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT", "UHUGEINT", "BIGNUM"]);
const TIMESTAMP_TYPES = new Set(["TIMESTAMP", "TIMESTAMP_TZ", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"]);

/** Maps DuckDB's numeric type ids to their names, given the DuckDBTypeId enum object. */
export type TypeIdNames = Record<number, TypeName>;

/** Builds the id → name table from the loaded DuckDBTypeId enum (numeric enums map both ways). */
export function typeIdNames(typeIdEnum: Record<string, string | number>): TypeIdNames {
  const names: TypeIdNames = {};
  for (const [key, value] of Object.entries(typeIdEnum)) if (typeof value === "number") names[value] = key;
  return names;
}

/** The BigQuery field for a DuckDB column type. */
export function fieldOf(name: string, type: DuckDBType, names: TypeIdNames): Field {
  const id = names[type.typeId] ?? "UNKNOWN";
  const plain = (t: FieldType): Field => ({ name, type: t });
  if (INT_TYPES.has(id) || id === "SQLNULL") return plain("INT64"); // BigQuery types a bare NULL as INT64
  if (TIMESTAMP_TYPES.has(id)) return plain("TIMESTAMP");
  switch (id) {
    case "BOOLEAN": return plain("BOOL");
    case "FLOAT": case "DOUBLE": return plain("FLOAT64");
    case "DECIMAL": return plain("NUMERIC");
    case "VARCHAR": return plain(type.alias === "JSON" ? "JSON" : "STRING");
    case "BLOB": return plain("BYTES");
    case "DATE": return plain("DATE");
    case "TIME": case "TIME_TZ": case "TIME_NS": return plain("TIME");
    case "INTERVAL": return plain("INTERVAL");
    case "LIST": case "ARRAY": {
      const valueType = (type as unknown as { valueType: DuckDBType }).valueType;
      return { name, type: "ARRAY", fields: [fieldOf("element", valueType, names)] };
    }
    case "STRUCT": {
      const t = type as unknown as { entryNames: readonly string[]; entryTypes: readonly DuckDBType[] };
      return { name, type: "STRUCT", fields: t.entryNames.map((n, i) => fieldOf(n, t.entryTypes[i]!, names)) };
    }
    case "MAP": {
      const t = type as unknown as { keyType: DuckDBType; valueType: DuckDBType };
      const entry: Field = { name: "element", type: "STRUCT", fields: [fieldOf("key", t.keyType, names), fieldOf("value", t.valueType, names)] };
      return { name, type: "ARRAY", fields: [entry] };
    }
    default: return plain("STRING"); // UUID, ENUM, BIT, ...: their text form
  }
}

const int64 = (v: bigint): number | string =>
  v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();

/** RFC 3339 in UTC; microseconds only when non-zero. */
export function rfc3339(micros: bigint): string {
  const seconds = micros / 1_000_000n - (micros % 1_000_000n < 0n ? 1n : 0n);
  const fraction = micros - seconds * 1_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}${fraction === 0n ? "" : `.${fraction.toString().padStart(6, "0")}`}Z`;
}

function timestampMicros(value: object): bigint | undefined {
  const v = value as { micros?: bigint; millis?: bigint; seconds?: bigint; nanos?: bigint; isFinite?: boolean };
  if (v.isFinite === false) return undefined;
  if (typeof v.micros === "bigint") return v.micros;
  if (typeof v.millis === "bigint") return v.millis * 1000n;
  if (typeof v.seconds === "bigint") return v.seconds * 1_000_000n;
  if (typeof v.nanos === "bigint") return v.nanos / 1000n;
  return undefined;
}

/** BigQuery's canonical interval text: "Y-M D H:M:S[.F]". */
function intervalText(v: { months: number; days: number; micros: bigint }): string {
  const sign = (n: number | bigint): string => (n < 0 ? "-" : "");
  const months = Math.abs(v.months);
  const micros = v.micros < 0n ? -v.micros : v.micros;
  const secs = micros / 1_000_000n;
  const frac = micros % 1_000_000n;
  const time = `${secs / 3600n}:${(secs / 60n) % 60n}:${secs % 60n}${frac ? `.${frac.toString().padStart(6, "0").replace(/0+$/, "")}` : ""}`;
  return `${sign(v.months)}${Math.floor(months / 12)}-${months % 12} ${v.days} ${sign(v.micros)}${time}`;
}

/**
 * JSON text as BigQuery returns a JSON value: compact, object keys sorted (BigQuery's JSON type keeps no key
 * order), the first of duplicate keys kept. Integers keep their exact digits; other numbers print as doubles.
 */
export function canonicalJson(text: string): string {
  let i = 0;
  const space = (): void => { while (/\s/.test(text[i] ?? "")) i++; };
  const value = (): string => {
    space();
    const ch = text[i];
    if (ch === "{") {
      i++;
      const entries = new Map<string, string>();
      space();
      if (text[i] === "}") { i++; return "{}"; }
      for (;;) {
        space();
        const key = JSON.parse(stringToken()) as string;
        space();
        if (text[i++] !== ":") throw new SyntaxError("expected :");
        const v = value();
        if (!entries.has(key)) entries.set(key, v);
        space();
        if (text[i] === ",") { i++; continue; }
        if (text[i++] !== "}") throw new SyntaxError("expected }");
        break;
      }
      return `{${[...entries.keys()].sort().map((k) => `${JSON.stringify(k)}:${entries.get(k)}`).join(",")}}`;
    }
    if (ch === "[") {
      i++;
      const items: string[] = [];
      space();
      if (text[i] === "]") { i++; return "[]"; }
      for (;;) {
        items.push(value());
        space();
        if (text[i] === ",") { i++; continue; }
        if (text[i++] !== "]") throw new SyntaxError("expected ]");
        break;
      }
      return `[${items.join(",")}]`;
    }
    if (ch === '"') return JSON.stringify(JSON.parse(stringToken()));
    const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/.exec(text.slice(i));
    if (!m) throw new SyntaxError(`unexpected ${ch}`);
    i += m[0].length;
    return /^-?\d+$/.test(m[0]) || !Number.isFinite(Number(m[0])) ? m[0] : String(Number(m[0]));
  };
  const stringToken = (): string => {
    const m = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
    if (!m) throw new SyntaxError("expected a string");
    i += m[0].length;
    return m[0];
  };
  try {
    const out = value();
    space();
    return i === text.length ? out : text;
  } catch {
    return text; // not JSON after all: show what DuckDB gave
  }
}

/** One DuckDB value as jit emits it (see SPEC.md): INT64 beyond 2^53 and NUMERIC as strings, TIMESTAMP RFC 3339, BYTES base64. */
export function jsonValue(value: DuckDBValue, type: DuckDBType, names: TypeIdNames): unknown {
  if (value === null || value === undefined) return null;
  const id = names[type.typeId] ?? "UNKNOWN";
  if (INT_TYPES.has(id)) return typeof value === "bigint" ? int64(value) : value;
  if (id === "VARCHAR" && type.alias === "JSON") return canonicalJson(String(value));
  if (TIMESTAMP_TYPES.has(id)) {
    const micros = timestampMicros(value as object);
    return micros === undefined ? String(value) : rfc3339(micros);
  }
  switch (id) {
    case "BOOLEAN": return value;
    case "FLOAT": case "DOUBLE": {
      const n = value as number;
      return Number.isFinite(n) ? n : Number.isNaN(n) ? "NaN" : n > 0 ? "Infinity" : "-Infinity";
    }
    case "BLOB": return Buffer.from((value as { bytes: Uint8Array }).bytes).toString("base64");
    case "INTERVAL": return intervalText(value as { months: number; days: number; micros: bigint });
    case "LIST": case "ARRAY": {
      const valueType = (type as unknown as { valueType: DuckDBType }).valueType;
      return (value as { items: readonly DuckDBValue[] }).items.map((item) => jsonValue(item, valueType, names));
    }
    case "STRUCT": {
      const t = type as unknown as { entryNames: readonly string[]; entryTypes: readonly DuckDBType[] };
      const entries = (value as { entries: Record<string, DuckDBValue> }).entries;
      return Object.fromEntries(t.entryNames.map((n, i) => [n, jsonValue(entries[n] ?? null, t.entryTypes[i]!, names)]));
    }
    case "MAP": {
      const t = type as unknown as { keyType: DuckDBType; valueType: DuckDBType };
      return (value as { entries: { key: DuckDBValue; value: DuckDBValue }[] }).entries.map((e) => ({
        key: jsonValue(e.key, t.keyType, names),
        value: jsonValue(e.value, t.valueType, names),
      }));
    }
    default: return typeof value === "string" ? value : String(value); // VARCHAR, DECIMAL ("12.50"), DATE, TIME, UUID
  }
}
