/** Large statements are analysed in a worker thread: same answers as inline, same refusals, and the event loop stays free. */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { JitError } from "../../src/errors.ts";
import { analyze } from "../../src/sql/analyze.ts";
import { analyzeSql, closeAnalysisWorker, INLINE_MAX_CHARS, inspectInline, inspectSql } from "../../src/sql/offload.ts";
import { schemas } from "./demo-schemas.ts";

const opts = { defaultProject: "demo", schemas };
after(closeAnalysisWorker);
const big = (filler: number) => `SELECT id, ssn, '${"x".repeat(filler)}' AS pad FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id`;

test("a large statement gets the same inspection and analysis from the worker as inline", async () => {
  const sql = big(INLINE_MAX_CHARS * 2);
  assert.deepEqual(await inspectSql(sql, "demo"), inspectInline(sql, "demo"));
  assert.deepEqual(await analyzeSql(sql, opts), analyze(sql, opts));
});

test("a refusal in the worker comes back as the same JitError, code and details included", async () => {
  const sql = `SELECT nope, '${"x".repeat(INLINE_MAX_CHARS * 2)}' AS pad FROM sales.customers`;
  await assert.rejects(analyzeSql(sql, opts), (e: unknown) =>
    e instanceof JitError && e.code === "denied" && /unknown column nope/.test(e.message) && e.details.reason === "unanalysable");
  await assert.rejects(inspectSql(`SELEC '${"x".repeat(INLINE_MAX_CHARS * 2)}'`, "demo"), (e: unknown) => e instanceof JitError && e.code === "denied");
});

test("while the worker parses a near-1 MB statement, the event loop keeps turning", async () => {
  const sql = big(900_000);
  // Inline, the same statement holds the thread for its whole parse.
  let t = performance.now();
  analyze(sql, opts);
  const inline = performance.now() - t;
  let maxGap = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 5);
  t = performance.now();
  await analyzeSql(sql, opts);
  clearInterval(tick);
  // Loose on purpose (a shared 2-core machine): the loop must never have been held for anything like the parse.
  assert.ok(maxGap < Math.max(100, inline / 2), `event loop held for ${maxGap.toFixed(0)} ms; the inline parse takes ${inline.toFixed(0)} ms`);
});
