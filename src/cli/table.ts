/**
 * Terminal tables in gh's compact style: a header, a thin rule, then one line per row, columns two spaces apart,
 * no borders and no line between rows. Fitted to a width by narrowing the widest columns first; a cut cell ends in "…".
 */
import { stripVTControlCharacters } from "node:util";

export type Align = "left" | "right";

export interface TableOptions {
  /** The width to fit (a terminal's columns); undefined: as wide as the content (a pipe or a file). */
  width?: number;
  align?: Align[];
  /** Columns that give way first when the table is too wide (free text such as "what" or "reason"). */
  flexible?: number[];
  /** Styles a header cell after it is cut and padded (colour must not count towards the width). */
  styleHead?: (text: string, column: number) => string;
  /** Styles the rule under the header. */
  styleRule?: (text: string) => string;
}

const GAP = 2;
/** No column is narrowed below this (or its natural width, when smaller): "ab…" still says something. */
const MIN_WIDTH = 4;

/** The width a string takes on a terminal: escape codes count for nothing; wide (East Asian) characters for two. */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of stripVTControlCharacters(text)) w += wide(ch.codePointAt(0)!) ? 2 : 1;
  return w;
}

function wide(cp: number): boolean {
  return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) || (cp >= 0x20000 && cp <= 0x3fffd);
}

/** One line of plain text: control characters (a newline in a value) become visible marks instead of breaking the row. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\r\n|\n|\r/g, "↵").replace(/\t/g, " ").replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "�");
}

/** Cuts plain text to `width` columns, ending in "…" when something was cut. */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = "";
  let w = 0;
  for (const ch of text) {
    const cw = wide(ch.codePointAt(0)!) ? 2 : 1;
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

function pad(text: string, width: number, align: Align): string {
  const fill = " ".repeat(Math.max(0, width - displayWidth(text)));
  return align === "right" ? fill + text : text + fill;
}

/** Widths under a cap for the columns `canShrink` allows, never below MIN_WIDTH (or the natural width when smaller). */
function capped(natural: number[], room: number, canShrink: (i: number) => boolean): number[] | undefined {
  const floor = (n: number, i: number) => (canShrink(i) ? Math.min(n, MIN_WIDTH) : n);
  const at = (cap: number) => natural.map((n, i) => (canShrink(i) ? Math.max(floor(n, i), Math.min(n, cap)) : n));
  const sum = (w: number[]) => w.reduce((a, b) => a + b, 0);
  if (sum(at(0)) > room) return undefined;
  let lo = 0;
  let hi = Math.max(...natural);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (sum(at(mid)) <= room) lo = mid;
    else hi = mid - 1;
  }
  const widths = at(lo);
  // Hand what the cap left over to the columns that were cut, left to right.
  let spare = room - sum(widths);
  for (let i = 0; i < widths.length && spare > 0; i++) {
    const grow = Math.min(spare, natural[i]! - widths[i]!);
    widths[i]! += grow;
    spare -= grow;
  }
  return widths;
}

/**
 * Column widths that fit `width`: the `flexible` columns (a free-text "what" or "reason") give way first;
 * only when they alone cannot make room are all columns narrowed, widest first.
 */
export function fitWidths(natural: number[], width: number | undefined, flexible: number[] = []): number[] {
  const total = natural.reduce((a, b) => a + b, 0) + GAP * Math.max(0, natural.length - 1);
  if (width === undefined || total <= width) return natural;
  const room = width - GAP * Math.max(0, natural.length - 1);
  const first = flexible.length ? capped(natural, room, (i) => flexible.includes(i)) : undefined;
  return first ?? capped(natural, room, () => true) ?? natural.map((n) => Math.min(n, MIN_WIDTH));
}

/** The width a table would take with nothing cut. */
export function naturalWidth(head: string[], rows: string[][]): number {
  const widths = head.map((h, i) => Math.max(displayWidth(oneLine(h)), ...rows.map((r) => displayWidth(oneLine(r[i] ?? "")))));
  return widths.reduce((a, b) => a + b, 0) + GAP * Math.max(0, head.length - 1);
}

/** Joins parts with " · ", breaking the line between parts rather than inside one when `width` is known. */
export function joinWrapped(parts: string[], width: number | undefined): string {
  if (width === undefined) return parts.join(" · ");
  const lines: string[] = [];
  let line = "";
  for (const p of parts) {
    const next = line ? `${line} · ${p}` : p;
    if (line && displayWidth(next) > width) {
      lines.push(line);
      line = p;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.join("\n");
}

/** Renders a table; cells are plain text (they are made one line and cut here). */
export function renderTable(head: string[], rows: string[][], opts: TableOptions = {}): string {
  const head1 = head.map(oneLine);
  const rows1 = rows.map((r) => head.map((_, i) => oneLine(r[i] ?? "")));
  const natural = head1.map((h, i) => Math.max(displayWidth(h), ...rows1.map((r) => displayWidth(r[i]!))));
  const widths = fitWidths(natural, opts.width, opts.flexible);
  const align = (i: number): Align => opts.align?.[i] ?? "left";
  const line = (cells: string[], style?: (t: string, i: number) => string) =>
    cells.map((c, i) => {
      const text = pad(truncate(c, widths[i]!), widths[i]!, align(i));
      return style ? style(text, i) : text;
    }).join(" ".repeat(GAP)).trimEnd();
  const rule = widths.map((w) => "─".repeat(w)).join(" ".repeat(GAP));
  return [line(head1, opts.styleHead), opts.styleRule ? opts.styleRule(rule) : rule, ...rows1.map((r) => line(r))].join("\n");
}
