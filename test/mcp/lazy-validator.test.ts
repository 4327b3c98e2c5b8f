/** The MCP server's JSON Schema validator is built on first use (cold start), and still validates like the SDK's own. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { lazySchemaValidator } from "../../src/mcp/server.ts";

test("the lazy validator accepts what the schema allows and refuses the rest", () => {
  const v = lazySchemaValidator().getValidator<{ n: number }>({ type: "object", properties: { n: { type: "integer", minimum: 1 } }, required: ["n"] });
  assert.equal(v({ n: 2 }).valid, true);
  assert.equal(v({ n: 0 }).valid, false);
  assert.equal(v({}).valid, false);
});
