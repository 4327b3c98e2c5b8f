/** Output formats for rows: a terminal table, JSON, JSON Lines and CSV (RFC 4180). */
import { naturalWidth, renderTable } from "./table.ts";

export type Format = "table" | "json" | "jsonl" | "csv";
export const FORMATS: Format[] = ["table", "json", "jsonl", "csv"];

export interface ColumnView {
  name: string;
  type?: string | null;
  masked?: boolean;
  mask?: string;
}

/** Renders a value for a table or CSV cell: strings as they are, null as empty (CSV) or "NULL" (table), the rest as JSON. */
export function cellText(v: unknown, nullText: string): string {
  if (v === null || v === undefined) return nullText;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return JSON.stringify(v);
}

/** One CSV field, quoted when it holds a comma, quote, CR or LF (RFC 4180). */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV: a header line, then one line per row, CRLF-terminated as RFC 4180 says. */
export function toCsv(columns: ColumnView[], rows: Record<string, unknown>[]): string {
  const lines = [columns.map((c) => csvField(c.name)).join(",")];
  for (const r of rows) lines.push(columns.map((c) => csvField(cellText(r[c.name], ""))).join(","));
  return lines.map((l) => `${l}\r\n`).join("");
}

/** JSON Lines: one row object per line, nothing else. */
export function toJsonl(rows: Record<string, unknown>[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join("");
}

const NUMERIC_TYPES = new Set(["INT64", "INTEGER", "NUMERIC", "BIGNUMERIC", "FLOAT64", "FLOAT", "DECIMAL", "BIGDECIMAL"]);

export interface FitOptions {
  /** The terminal's width; undefined leaves the table as wide as its content. */
  width?: number;
  /** Styles the header text (bold on a colour terminal). */
  head?: (s: string) => string;
  /** Styles the rule under the header (dim). */
  rule?: (s: string) => string;
  /** Names of the columns that give way first when the table is too wide. */
  flexible?: string[];
}

/** A query result as a table: numbers right-aligned, masked columns marked in the header ("ssn (last4)"). */
export function toTable(columns: ColumnView[], rows: Record<string, unknown>[], mark: (s: string) => string = (s) => s, fit: FitOptions = {}): string {
  const cells = rows.map((r) => columns.map((c) => cellText(r[c.name], "NULL")));
  let head = columns.map((c) => (c.masked ? `${c.name} (${c.mask})` : c.name));
  // Where "card_number (last4)" would not fit, "card_number*" does; maskLegend() then names the styles.
  if (fit.width !== undefined && naturalWidth(head, cells) > fit.width) head = columns.map((c) => (c.masked ? `${c.name}*` : c.name));
  return renderTable(head, cells, {
    width: fit.width,
    align: columns.map((c) => (NUMERIC_TYPES.has((c.type ?? "").toUpperCase()) ? "right" : "left")),
    styleHead: (text, i) => (columns[i]!.masked ? mark(text) : fit.head ? fit.head(text) : text),
    styleRule: fit.rule,
  });
}

/** "* masked: ssn (last4), email (email)" when toTable had to shorten masked headers to "name*", else undefined. */
export function maskLegend(columns: ColumnView[], rows: Record<string, unknown>[], width: number | undefined): string | undefined {
  const masked = columns.filter((c) => c.masked);
  if (masked.length === 0 || width === undefined) return undefined;
  const head = columns.map((c) => (c.masked ? `${c.name} (${c.mask})` : c.name));
  if (naturalWidth(head, rows.map((r) => columns.map((c) => cellText(r[c.name], "NULL")))) <= width) return undefined;
  return `* masked: ${masked.map((c) => `${c.name} (${c.mask})`).join(", ")}`;
}

/** A list table for non-row output (grants, requests, audit): headers in capitals like gh; columns of numbers right-aligned. */
export function toSimpleTable(head: string[], rows: string[][], fit: FitOptions = {}): string {
  const numeric = head.map((_, i) => rows.length > 0 && rows.every((r) => /^-?\d+(\.\d+)?$/.test(r[i] ?? "")));
  return renderTable(head.map((h) => h.toUpperCase()), rows, {
    width: fit.width,
    flexible: (fit.flexible ?? []).map((name) => head.indexOf(name)).filter((i) => i >= 0),
    align: numeric.map((n) => (n ? "right" : "left")),
    styleHead: fit.head ? (t) => fit.head!(t) : undefined,
    styleRule: fit.rule,
  });
}
