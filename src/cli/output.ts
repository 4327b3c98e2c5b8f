/** Output formats for rows: a terminal table, JSON, JSON Lines and CSV (RFC 4180). */
import Table from "cli-table3";

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

/** A terminal table; masked column headers carry a marker so the reader knows what they see is masked. */
export function toTable(columns: ColumnView[], rows: Record<string, unknown>[], mark: (s: string) => string = (s) => s): string {
  const table = new Table({
    head: columns.map((c) => (c.masked ? mark(`${c.name} (masked: ${c.mask})`) : c.name)),
    style: { head: [], border: [] },
    wordWrap: false,
  });
  for (const r of rows) table.push(columns.map((c) => cellText(r[c.name], "NULL")));
  return table.toString();
}

/** A simple key/value or list table for non-row output (grants, requests). */
export function toSimpleTable(head: string[], rows: string[][]): string {
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) table.push(r);
  return table.toString();
}
