/**
 * A cheap, linear check of a statement's size and shape, run before anything parses it. The CST parser
 * costs about 7 µs per token and 0.7-1.8 µs per character of whitespace or comment on this machine
 * (a 1 MB comment takes 1.8 s), all on the event loop, so a statement past these caps would stall every
 * other request; it is refused with a usage error instead. Returns the refusal, or null.
 */

/** BigQuery's own cap on query text. */
export const MAX_STATEMENT_BYTES = 1_000_000;
/** Words, numbers, quoted strings, operators and punctuation. */
export const MAX_TOKENS = 10_000;
/** Parentheses and brackets open at once (the parser recurses per level). */
export const MAX_NESTING = 100;
/** Whitespace, slow to parse per character. */
export const MAX_FILLER_CHARS = 32 * 1024;
/** Comments, the parser's slowest input per character (a 64 KiB comment costs about a second end to end). */
export const MAX_COMMENT_CHARS = 16 * 1024;

export interface StatementLimitRefusal {
  limit: "bytes" | "tokens" | "nesting" | "filler" | "comments";
  message: string;
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
const isWord = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128;

/** The index of the quote closing the one at `open` (a quote after an odd run of backslashes is escaped), or the end. */
function closingQuote(sql: string, open: number, quote: string): number {
  let from = open + 1;
  for (;;) {
    const q = sql.indexOf(quote, from);
    if (q === -1) return sql.length;
    let backslashes = 0;
    for (let b = q - 1; b > open && sql.charCodeAt(b) === 92; b--) backslashes++;
    if (backslashes % 2 === 0) return q;
    from = q + 1;
  }
}

/** Checks `sql` against the caps above in one pass; never throws. */
export function checkStatementLimits(sql: string): StatementLimitRefusal | null {
  // UTF-16 length bounds the UTF-8 size from below and from above (×3), so most texts skip the exact count.
  const bytes = sql.length * 3 <= MAX_STATEMENT_BYTES ? sql.length : Buffer.byteLength(sql, "utf8");
  if (bytes > MAX_STATEMENT_BYTES) {
    return { limit: "bytes", message: `the statement is ${bytes} bytes; the limit is ${MAX_STATEMENT_BYTES} (1 MB, as in BigQuery)` };
  }
  let tokens = 0;
  let depth = 0;
  let filler = 0;
  let comments = 0;
  const n = sql.length;
  let i = 0;
  // Stops at the first cap exceeded, so a statement past one costs no more than the cap's worth of scanning.
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      if (++filler > MAX_FILLER_CHARS) {
        return { limit: "filler", message: `the statement has more than ${MAX_FILLER_CHARS} characters of whitespace; the broker analyses at most that` };
      }
      i++;
      continue;
    }
    if ((c === 45 && sql.charCodeAt(i + 1) === 45) || c === 35 || (c === 47 && sql.charCodeAt(i + 1) === 42)) { // --, # or /*
      const block = c === 47;
      const end = block ? sql.indexOf("*/", i + 2) : sql.indexOf("\n", i);
      const stop = end === -1 ? n : block ? end + 2 : end;
      comments += stop - i;
      if (comments > MAX_COMMENT_CHARS) {
        return { limit: "comments", message: `the statement has more than ${MAX_COMMENT_CHARS} characters of comments; the broker analyses at most that` };
      }
      i = stop;
      continue;
    }
    if (++tokens > MAX_TOKENS) {
      return { limit: "tokens", message: `the statement has more than ${MAX_TOKENS} tokens; the broker analyses at most that` };
    }
    if (c === 39 || c === 34 || c === 96) { // '...', "...", `...` (triple quotes end at the same quote char)
      i = closingQuote(sql, i, String.fromCharCode(c)) + 1;
    } else if (isWord(c)) {
      while (i < n && isWord(sql.charCodeAt(i))) i++;
    } else {
      if ((c === 40 || c === 91) && ++depth > MAX_NESTING) {
        return { limit: "nesting", message: `the statement nests parentheses more than ${MAX_NESTING} deep; the broker analyses at most that` };
      }
      if ((c === 41 || c === 93) && depth > 0) depth--;
      i++;
    }
  }
  return null;
}
