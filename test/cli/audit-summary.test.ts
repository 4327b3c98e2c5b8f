/** The "what" column of `jit audit list`: one line per record, counted in words that agree with their numbers. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { summarise } from "../../src/cli/commands/audit.ts";

const rec = (details: Record<string, unknown>) => ({ id: "1", seq: 1, at: "", actor: "alice", action: "query.result", outcome: "ok", details, hash: "" });

test("a result's summary says 1 row and 1 masked cell, 2 rows and 0 masked cells", () => {
  assert.equal(summarise(rec({ row_count: 1, masked_cells: 1 })), "1 row, 1 masked cell");
  assert.equal(summarise(rec({ row_count: 2, masked_cells: 0 })), "2 rows, 0 masked cells");
  assert.equal(summarise(rec({ sql: "SELECT  city\n FROM t", row_count: 0, masked_cells: 3 })), "SELECT city FROM t · 0 rows, 3 masked cells");
});
