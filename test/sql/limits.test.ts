/** checkStatementLimits: size and shape caps, checked in one cheap pass before any parse. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkStatementLimits, MAX_COMMENT_CHARS, MAX_FILLER_CHARS, MAX_NESTING, MAX_STATEMENT_BYTES, MAX_TOKENS } from "../../src/sql/limits.ts";

const orChain = (n: number) => "SELECT id FROM demo.sales.orders WHERE " + Array.from({ length: n }, (_, i) => `order_id = ${i}`).join(" OR ");

test("ordinary statements pass", () => {
  assert.equal(checkStatementLimits("SELECT city, COUNT(*) AS n FROM demo.sales.customers GROUP BY city -- comment\n ORDER BY n DESC"), null);
  assert.equal(checkStatementLimits(orChain(1000)), null);
  assert.equal(checkStatementLimits(`SELECT '${"x".repeat(500_000)}' AS big`), null, "a long literal is one token and cheap to parse");
});

test("each cap refuses with its own kind and a message that says the limit", () => {
  const bytes = checkStatementLimits(`SELECT '${"é".repeat(MAX_STATEMENT_BYTES / 2)}'`);
  assert.equal(bytes?.limit, "bytes", "UTF-8 bytes count, not characters");
  assert.match(bytes!.message, /1000000 \(1 MB, as in BigQuery\)/);
  assert.equal(checkStatementLimits(orChain(MAX_TOKENS / 3))?.limit, "tokens");
  assert.equal(checkStatementLimits(`SELECT ${"(".repeat(MAX_NESTING + 1)}1${")".repeat(MAX_NESTING + 1)}`)?.limit, "nesting");
  assert.equal(checkStatementLimits(`SELECT ${"(".repeat(MAX_NESTING)}1${")".repeat(MAX_NESTING)}`), null);
  assert.equal(checkStatementLimits(`SELECT 1 /* ${"a".repeat(MAX_COMMENT_CHARS)} */`)?.limit, "comments");
  assert.equal(checkStatementLimits(`SELECT 1 /* ${"a".repeat(MAX_COMMENT_CHARS - 10)} */`), null);
  assert.equal(checkStatementLimits(`SELECT 1 ${" ".repeat(MAX_FILLER_CHARS + 1)}`)?.limit, "filler");
  assert.equal(checkStatementLimits(`SELECT 1 -- ${"a".repeat(MAX_COMMENT_CHARS)}\n`)?.limit, "comments");
});

test("quotes hide what looks like comments or parentheses; an unterminated quote or comment runs to the end", () => {
  assert.equal(checkStatementLimits(`SELECT '${"(".repeat(500)}' AS s, "/* not a comment" AS t`), null);
  assert.equal(checkStatementLimits("SELECT 'it\\'s' AS s"), null);
  assert.equal(checkStatementLimits(`SELECT 'a\\\\' AS s, '${"(".repeat(200)}' AS t`), null, "an escaped backslash does not escape the quote after it");
  assert.equal(checkStatementLimits(`SELECT 1 /* ${"a".repeat(MAX_COMMENT_CHARS)}`)?.limit, "comments");
  assert.equal(checkStatementLimits("SELECT 'unterminated"), null, "the parser reports that, not the limits");
});

test("a 1 MB statement of any shape is judged in a few milliseconds", () => {
  const shapes = [
    `SELECT 1 /* ${"a".repeat(MAX_STATEMENT_BYTES - 20)} */`,
    `SELECT 1 ${" ".repeat(MAX_STATEMENT_BYTES - 20)}`,
    orChain(50_000).slice(0, MAX_STATEMENT_BYTES),
    `SELECT '${"x".repeat(MAX_STATEMENT_BYTES - 20)}'`,
  ];
  for (const sql of shapes) {
    const t0 = performance.now();
    checkStatementLimits(sql);
    const ms = performance.now() - t0;
    // Linear and native-heavy: about 10 ms here when idle; loose for a loaded machine, tight enough to catch a quadratic scan.
    assert.ok(ms < 150, `took ${ms.toFixed(1)} ms for ${sql.slice(0, 20)}…`);
  }
});
