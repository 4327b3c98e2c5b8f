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

/** Checks `sql` against the caps above in one pass; never throws. */
export function checkStatementLimits(sql: string): StatementLimitRefusal | null {
  // UTF-16 length bounds the UTF-8 size from below and from above (×3), so most texts skip the exact count.
  const bytes = sql.length * 3 <= MAX_STATEMENT_BYTES ? sql.length : Buffer.byteLength(sql, "utf8");
  if (bytes > MAX_STATEMENT_BYTES) {
    return { limit: "bytes", message: `the statement is ${bytes} bytes; the limit is ${MAX_STATEMENT_BYTES} (1 MB, as in BigQuery)` };
  }
  let tokens = 0;
  let depth = 0;
  let deepest = 0;
  let filler = 0;
  let comments = 0;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      filler++;
      i++;
    } else if ((c === 45 && sql.charCodeAt(i + 1) === 45) || c === 35) { // -- or # line comment
      const end = sql.indexOf("\n", i);
      const stop = end === -1 ? n : end;
      comments += stop - i;
      i = stop;
    } else if (c === 47 && sql.charCodeAt(i + 1) === 42) { // /* block comment */
      const end = sql.indexOf("*/", i + 2);
      const stop = end === -1 ? n : end + 2;
      comments += stop - i;
      i = stop;
    } else if (c === 39 || c === 34 || c === 96) { // '...', "...", `...` (triple quotes end at the same quote char)
      tokens++;
      let j = i + 1;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (d === 92) j += 2; // backslash escape
        else if (d === c) break;
        else j++;
      }
      i = j + 1;
    } else if (isWord(c)) {
      tokens++;
      while (i < n && isWord(sql.charCodeAt(i))) i++;
    } else {
      tokens++;
      if (c === 40 || c === 91) deepest = Math.max(deepest, ++depth);
      else if ((c === 41 || c === 93) && depth > 0) depth--;
      i++;
    }
  }
  if (tokens > MAX_TOKENS) {
    return { limit: "tokens", message: `the statement has about ${tokens} tokens; the broker analyses at most ${MAX_TOKENS}` };
  }
  if (deepest > MAX_NESTING) {
    return { limit: "nesting", message: `the statement nests parentheses ${deepest} deep; the broker analyses at most ${MAX_NESTING}` };
  }
  if (comments > MAX_COMMENT_CHARS) {
    return { limit: "comments", message: `the statement has ${comments} characters of comments; the broker analyses at most ${MAX_COMMENT_CHARS}` };
  }
  if (filler > MAX_FILLER_CHARS) {
    return { limit: "filler", message: `the statement has ${filler} characters of whitespace; the broker analyses at most ${MAX_FILLER_CHARS}` };
  }
  return null;
}
