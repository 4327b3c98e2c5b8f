/** Canonical text of a statement, for hashing single-statement approvals. */
import { bigqueryKeywords } from "sql-parser-cst";

const KEYWORDS = bigqueryKeywords as Record<string, boolean>;
const OPERATORS = [">=", "<=", "<>", "!=", "||", "<<", ">>", "=>", "->"];
const NO_SPACE_BEFORE = new Set([",", ")", "]", ".", ";"]);
const NO_SPACE_AFTER = new Set(["(", "[", "."]);

/**
 * Comments removed, whitespace collapsed, reserved keywords upper-cased; identifiers keep their case and
 * literals are kept byte for byte, so a changed literal is a different statement. Trailing `;` dropped.
 */
export function normalizeSql(sql: string): string {
  const tokens = tokenize(sql);
  while (tokens.length && tokens[tokens.length - 1] === ";") tokens.pop();
  let out = "";
  let prev = "";
  for (const t of tokens) {
    const call = t === "(" && /^[A-Za-z_]/.test(prev) && !KEYWORDS[prev];
    if (out && !NO_SPACE_BEFORE.has(t) && !NO_SPACE_AFTER.has(prev) && !call) out += " ";
    out += t;
    prev = t;
  }
  return out;
}

function tokenize(sql: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "#" || (c === "-" && sql[i + 1] === "-")) {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "`") {
      const end = quotedEnd(sql, i, "`");
      tokens.push(sql.slice(i, end));
      i = end;
    } else if (c === "'" || c === '"' || (/[rRbB]/.test(c) && isStringStart(sql, i))) {
      const end = stringEnd(sql, i);
      tokens.push(sql.slice(i, end));
      i = end;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
      const word = sql.slice(i, j);
      tokens.push(KEYWORDS[word.toUpperCase()] ? word.toUpperCase() : word);
      i = j;
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(sql[i + 1] ?? ""))) {
      const m = /^(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+\.)/.exec(sql.slice(i))!;
      tokens.push(m[0]);
      i += m[0].length;
    } else if (c === "@") {
      const m = /^@@?(?:`(?:[^`\\]|\\.)*`|[A-Za-z0-9_.]*)/.exec(sql.slice(i))!;
      tokens.push(m[0]);
      i += m[0].length;
    } else {
      const op = OPERATORS.find((o) => sql.startsWith(o, i)) ?? c;
      tokens.push(op);
      i += op.length;
    }
  }
  return tokens;
}

// r'..', b"..", rb'''..''': a one- or two-letter prefix directly before a quote.
function isStringStart(sql: string, i: number): boolean {
  const m = /^[rRbB]{1,2}['"]/.exec(sql.slice(i, i + 3));
  if (!m) return false;
  const prefix = m[0].slice(0, -1).toLowerCase();
  return prefix.length === 1 || prefix === "rb" || prefix === "br";
}

function stringEnd(sql: string, start: number): number {
  let i = start;
  while (/[rRbB]/.test(sql[i]!)) i++;
  const q = sql[i]!;
  const triple = sql.startsWith(q.repeat(3), i);
  return quotedEnd(sql, i, triple ? q.repeat(3) : q);
}

/** Index just past the closing quote (or the end of input when unterminated). */
function quotedEnd(sql: string, open: number, quote: string): number {
  let i = open + quote.length;
  while (i < sql.length) {
    // Even in raw strings (r'...') a backslash keeps the quote after it from closing the string.
    if (sql[i] === "\\") {
      i += 2;
      continue;
    }
    if (sql.startsWith(quote, i)) return i + quote.length;
    i++;
  }
  return sql.length;
}
