/**
 * MCP Toolbox for Databases (Google's Go MCP server, npm @toolbox-sdk/server) spawned by an MCP client as
 * `jit proxy -- toolbox --stdio`, its BigQuery source's apiEndpoint set to the proxy: execute-sql answers
 * masked rows and shows jit's refusals. Toolbox holds no Google credential: only the proxy's file.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type DevBrokerProcess, JIT_BIN, runJit, startBroker } from "../e2e/harness.ts";

// The binary comes from npm's @toolbox-sdk/server-<platform> package. It is not a devDependency: its parent package
// lists binaries for every platform as optional dependencies, which this registry does not all carry, so `npm ci`
// would refuse the lock file. .ci/run installs it beside the project (.tools/toolbox) and names it in JIT_TOOLBOX_BIN.
function toolboxBinary(): string | undefined {
  const pkgName = `@toolbox-sdk/server-${process.platform}-${process.arch}`;
  const exe = process.platform === "win32" ? "toolbox.exe" : "toolbox";
  const candidates = [process.env.JIT_TOOLBOX_BIN, join(import.meta.dirname, "..", "..", ".tools", "toolbox", "node_modules", pkgName, "bin", exe)];
  try {
    candidates.push(join(dirname(createRequire(import.meta.url).resolve(`${pkgName}/package.json`)), "bin", exe));
  } catch {
    // not installed in the project
  }
  return candidates.find((c): c is string => !!c && existsSync(c));
}

const TOOLBOX = toolboxBinary();
if (!TOOLBOX) {
  // CI installs it (.ci/run): there, a missing binary is a failure, not a skip.
  if (process.env.CI) throw new Error("MCP Toolbox binary not found: .ci/run installs it into .tools/toolbox and sets JIT_TOOLBOX_BIN");
  console.log(`# skipped: no MCP Toolbox binary for ${process.platform}-${process.arch}; install it with: npm install --prefix .tools/toolbox @toolbox-sdk/server-${process.platform}-${process.arch}@1.12.0`);
}

// Toolbox expands ${VAR} from its environment, so the config names no port: jit proxy -- picks a free one.
const TOOLS_YAML = `kind: source
name: jit-bigquery
type: bigquery
project: demo
apiEndpoint: \${BIGQUERY_EMULATOR_HOST}
---
kind: tool
name: execute_sql
type: bigquery-execute-sql
source: jit-bigquery
description: Run a GoogleSQL statement on BigQuery through jit.
`;

const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");

describe("MCP Toolbox for Databases under jit proxy --", { skip: !TOOLBOX, timeout: 120_000 }, () => {
  let broker: DevBrokerProcess;
  let client: Client;
  let dir: string;
  let stderr = "";

  before(async () => {
    broker = await startBroker();
    assert.equal((await broker.login("alice")).code, 0);
    assert.equal((await runJit(["request", "demo.sales", "--reason", "toolbox test"], broker.env("alice"))).code, 0);
    dir = mkdtempSync(join(tmpdir(), "jit-toolbox-"));
    writeFileSync(join(dir, "tools.yaml"), TOOLS_YAML);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [JIT_BIN, "proxy", "--", TOOLBOX!, "--config", join(dir, "tools.yaml"), "--stdio", "--disable-version-check"],
      env: { ...broker.env("alice"), METADATA_SERVER_DETECTION: "none" } as Record<string, string>,
      stderr: "pipe",
    });
    transport.stderr?.on("data", (d) => (stderr += d));
    client = new Client({ name: "jit-toolbox-test", version: "1.0.0" });
    await client.connect(transport);
  });
  after(async () => {
    await client?.close();
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Calls execute_sql; Toolbox reports some BigQuery errors as tool errors and others as protocol errors: both are shown. */
  const run = async (args: Record<string, unknown>): Promise<{ ok: boolean; text: string }> => {
    try {
      const r = (await client.callTool({ name: "execute_sql", arguments: args })) as CallToolResult;
      return { ok: !r.isError, text: textOf(r) };
    } catch (err) {
      return { ok: false, text: (err as Error).message };
    }
  };

  test("execute_sql answers masked rows", async () => {
    const r = await run({ sql: "SELECT id, full_name, ssn, card_number FROM demo.sales.customers ORDER BY id LIMIT 2" });
    assert.ok(r.ok, `${r.text}\n${stderr}`);
    const rows = r.text.split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(rows, [
      { id: 1, full_name: "Sarah Martin", ssn: "XXXXX4575", card_number: "XXXXX0776" },
      { id: 2, full_name: "Jennifer Davis", ssn: "XXXXX2186", card_number: "XXXXX9202" },
    ]);
  });

  test("TIMESTAMP and NUMERIC arrive as BigQuery would send them", async () => {
    const r = await run({ sql: "SELECT order_id, amount, created_at FROM demo.sales.orders ORDER BY order_id LIMIT 1" });
    assert.ok(r.ok, r.text);
    assert.deepEqual(JSON.parse(r.text), { order_id: 100001, amount: "145.38", created_at: "2024-01-01T12:18:53Z" });
  });

  test("its dry run shows the statistics it reads", async () => {
    const r = await run({ sql: "SELECT city FROM demo.sales.customers", dry_run: true });
    assert.ok(r.ok, r.text);
    // Toolbox answers the dry-run job as a JSON string holding the job resource.
    const job = JSON.parse(JSON.parse(r.text) as string) as { statistics: { query: { statementType: string; referencedTables: unknown[]; totalBytesProcessed: string } } };
    assert.equal(job.statistics.query.statementType, "SELECT");
    assert.deepEqual(job.statistics.query.referencedTables, [{ datasetId: "sales", projectId: "demo", tableId: "customers" }]);
    assert.match(job.statistics.query.totalBytesProcessed, /^\d+$/);
  });

  test("refusals are shown with the jit command to run, and a write never runs", async () => {
    const hr = await run({ sql: "SELECT full_name FROM demo.hr.employees" });
    assert.equal(hr.ok, false);
    assert.match(hr.text, /accessDenied/);
    assert.match(hr.text, /jit query --wait-approval/);
    const del = await run({ sql: "DELETE FROM demo.sales.orders WHERE TRUE" });
    assert.equal(del.ok, false);
    assert.match(del.text, /refused by the policy's guardrails/);
    const count = await run({ sql: "SELECT COUNT(*) AS n FROM demo.sales.orders" });
    assert.ok(count.ok, count.text);
    assert.ok(Number((JSON.parse(count.text) as { n: number }).n) > 0, "the orders are still there");
    const bad = await run({ sql: "SELEC nonsense" });
    assert.equal(bad.ok, false);
    assert.match(bad.text, /invalidQuery/);
  });
});
