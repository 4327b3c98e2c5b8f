/** Every jit MCP tool declares an outputSchema its structuredContent matches; max_rows >= 1 and the duration format are enforced. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { accessStatusOutput, describeTableOutput, listDatasetsOutput, listTablesOutput, queryOutput, requestAccessOutput } from "../../src/mcp/output-schemas.ts";
import { type DevBrokerProcess, JIT_BIN, loginAs, startBroker } from "../e2e/harness.ts";

const SCHEMAS = {
  list_datasets: listDatasetsOutput,
  list_tables: listTablesOutput,
  describe_table: describeTableOutput,
  query: queryOutput,
  request_access: requestAccessOutput,
  access_status: accessStatusOutput,
} as const;

test("the schemas reject a result of the wrong shape (so matching them means something)", () => {
  assert.equal(listDatasetsOutput.safeParse({ datasets: [{ dataset: "demo.sales", access: "sometimes", approvers: [], max_duration_seconds: null, grant_id: null, grant_expires_at: null }] }).success, false);
  assert.equal(queryOutput.safeParse({ columns: [], grant_id: null, audit_id: "1", row_count: "3" }).success, false);
  assert.equal(queryOutput.safeParse({ columns: [], grant_id: null, audit_id: "1", row_count: 3, extra: "a field added later" }).success, true);
});

describe("outputSchema through the MCP protocol", { timeout: 90_000 }, () => {
  let broker: DevBrokerProcess;
  let client: Client;
  before(async () => {
    broker = await startBroker();
    for (const u of ["alice", "carol"]) assert.equal((await loginAs(broker, u)).code, 0);
    client = new Client({ name: "schema-test", version: "1.0.0" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [JIT_BIN, "mcp"], env: broker.env("carol") as Record<string, string>, stderr: "pipe" }));
  });
  after(async () => {
    await client?.close();
    await broker?.stop();
  });
  const call = (name: string, args: Record<string, unknown> = {}) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");

  test("every tool declares an object outputSchema; max_rows has minimum 1; duration has its pattern and format", async () => {
    const { tools } = await client.listTools();
    assert.equal(tools.length, Object.keys(SCHEMAS).length);
    for (const t of tools) {
      assert.equal(t.outputSchema?.type, "object", `${t.name} declares an outputSchema`);
      assert.ok((t.outputSchema?.required ?? []).length > 0, `${t.name}'s schema requires its main fields`);
    }
    const query = tools.find((t) => t.name === "query")!;
    assert.deepEqual(query.outputSchema?.required?.sort(), ["audit_id", "columns", "grant_id"]);
    assert.equal((query.inputSchema.properties?.max_rows as { minimum: number }).minimum, 1);
    const duration = tools.find((t) => t.name === "request_access")!.inputSchema.properties?.duration as { pattern: string; description: string };
    assert.ok(duration.pattern);
    assert.match(duration.description, /1h30m/);
  });

  test("each tool's structuredContent matches its declared schema: pending and approved requests, runs and dry runs", async () => {
    const results: Array<[keyof typeof SCHEMAS, CallToolResult]> = [];
    results.push(["list_datasets", await call("list_datasets")]);
    results.push(["list_tables", await call("list_tables", { dataset: "demo.sales" })]);
    results.push(["describe_table", await call("describe_table", { table: "demo.sales.customers" })]);
    // carol's requests on demo.sales wait for an approver: a pending request, with the duration capped (1h at most).
    results.push(["request_access", await call("request_access", { datasets: ["demo.sales"], reason: "schema test", duration: "8h" })]);
    results.push(["access_status", await call("access_status")]);
    for (const [name, r] of results) {
      assert.notEqual(r.isError, true, `${name}: ${text(r)}`);
      const parsed = SCHEMAS[name].safeParse(r.structuredContent);
      assert.ok(parsed.success, `${name}: ${JSON.stringify(parsed.error?.issues)}`);
    }
    // alice's are auto-approved: an approved request with its grant, then a run and a dry run.
    const alice = new Client({ name: "schema-test", version: "1.0.0" });
    await alice.connect(new StdioClientTransport({ command: process.execPath, args: [JIT_BIN, "mcp"], env: broker.env("alice") as Record<string, string>, stderr: "pipe" }));
    try {
      const sql = "SELECT id, ssn FROM demo.sales.customers ORDER BY id LIMIT 3";
      for (const [name, args] of [["request_access", { datasets: ["demo.sales"], reason: "schema test" }], ["query", { sql }], ["query", { sql, dry_run: true }], ["access_status", {}]] as const) {
        const r = (await alice.callTool({ name, arguments: args })) as CallToolResult;
        assert.notEqual(r.isError, true, `${name}: ${text(r)}`);
        const parsed = SCHEMAS[name].safeParse(r.structuredContent);
        assert.ok(parsed.success, `${name}: ${JSON.stringify(parsed.error?.issues)}`);
      }
    } finally {
      await alice.close();
    }
    const pending = (results[3]![1].structuredContent as { request: { state: string }; capped_note?: string });
    assert.equal(pending.request.state, "pending");
    assert.ok(pending.capped_note, "the capped duration is said");
    assert.equal((results[4]![1].structuredContent as { pending_requests: unknown[] }).pending_requests.length, 1);
  });

  test("max_rows 0 and a duration that is not one are refused before the broker is asked", async () => {
    const zero = await call("query", { sql: "SELECT 1 AS n", max_rows: 0 });
    assert.equal(zero.isError, true);
    assert.match(text(zero), /max_rows/);
    const hour = await call("request_access", { datasets: ["demo.sales"], reason: "x", duration: "1 hour" });
    assert.equal(hour.isError, true);
    assert.match(text(hour), /duration/);
  });
});
