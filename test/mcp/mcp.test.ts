/** `jit mcp` through the MCP protocol (the SDK's own client spawning the built binary), and `jit query --json` as a subprocess contract. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type DevBrokerProcess, JIT_BIN, loginAs, runJit, startBroker } from "../e2e/harness.ts";

const customersCsv = readFileSync(new URL("../../data/demo/customers.csv", import.meta.url), "utf8");
const rawSsns = [...customersCsv.matchAll(/\b\d{3}-\d{2}-\d{4}\b/g)].map((m) => m[0]);
const AGENT = { name: "jit-test-agent", version: "9.9.9" };
const CUSTOMERS_SQL = "SELECT id, full_name, ssn, email, card_number FROM demo.sales.customers ORDER BY id LIMIT 10";

interface Session {
  client: Client;
  stderr(): string;
  close(): Promise<void>;
}

/** Spawns `node bin/jit.js mcp` with a user's environment and connects the SDK client to it. */
async function connect(env: NodeJS.ProcessEnv): Promise<Session> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [JIT_BIN, "mcp"], env: env as Record<string, string>, stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (d) => (stderr += d));
  const client = new Client(AGENT);
  await client.connect(transport);
  return { client, stderr: () => stderr, close: () => client.close() };
}

const call = (s: Session, name: string, args: Record<string, unknown> = {}) =>
  s.client.callTool({ name, arguments: args }) as Promise<CallToolResult>;
const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
const jsonOf = <T>(r: CallToolResult): T => {
  const first = r.content[0];
  assert.ok(first?.type === "text", "the first content block is text");
  return JSON.parse(first.text) as T;
};
const credentialsFile = (env: NodeJS.ProcessEnv) => join(env.XDG_STATE_HOME!, "jit", "credentials.json");

interface QueryBody {
  columns: Array<{ name: string; masked: boolean; mask?: string }>;
  rows: Array<Record<string, unknown>>;
  row_count: number;
  truncated: boolean;
  masked_cells: number;
  bytes_processed: number;
  audit_id: string;
}

describe("jit mcp", { timeout: 90_000 }, () => {
  let broker: DevBrokerProcess;
  let alice: Session;
  before(async () => {
    broker = await startBroker();
    const logins = await Promise.all(["alice", "carol", "bob", "dave"].map((u) => loginAs(broker, u)));
    for (const l of logins) assert.equal(l.code, 0, l.stderr);
    alice = await connect(broker.env("alice"));
  });
  after(async () => {
    await alice?.close();
    await broker?.stop();
  });

  test("lists the six tools with schemas, descriptions and annotations", async () => {
    const { tools } = await alice.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    assert.deepEqual([...byName.keys()].sort(), ["access_status", "describe_table", "list_datasets", "list_tables", "query", "request_access"]);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, "object", t.name);
      assert.ok((t.description ?? "").length > 40, `${t.name} has a description written for a model`);
      assert.equal(t.annotations?.openWorldHint, false, t.name);
      assert.equal(t.annotations?.readOnlyHint, t.name !== "request_access", t.name);
    }
    const q = byName.get("query")!.inputSchema;
    assert.deepEqual(q.required, ["sql"]);
    assert.ok(q.properties?.max_rows && q.properties?.dry_run);
    assert.deepEqual(byName.get("request_access")!.inputSchema.required?.sort(), ["datasets", "reason"]);
    assert.equal(alice.client.getServerVersion()?.name, "jit");
  });

  test("alice: metadata tools, no grant → request_access → masked, capped query; schemas as resources", async () => {
    const sets = jsonOf<{ datasets: Array<{ dataset: string; access: string }> }>(await call(alice, "list_datasets"));
    assert.deepEqual(sets.datasets.map((d) => [d.dataset, d.access]).sort(), [["demo.hr", "per_query"], ["demo.sales", "auto"]]);
    const tables = jsonOf<{ tables: Array<{ table: string }> }>(await call(alice, "list_tables", { dataset: "demo.sales" }));
    assert.deepEqual(tables.tables.map((t) => t.table).sort(), ["demo.sales.customers", "demo.sales.orders"]);
    const described = await call(alice, "describe_table", { table: "demo.sales.customers" });
    const schema = jsonOf<{ columns: Array<{ name: string; masked: boolean }> }>(described);
    assert.deepEqual(schema.columns.filter((c) => c.masked).map((c) => c.name).sort(), ["card_number", "email", "phone", "ssn"]);
    assert.match(textOf(described), /ssn \(last4\)[\s\S]*cannot be used in WHERE/);

    const denied = await call(alice, "query", { sql: CUSTOMERS_SQL });
    assert.equal(denied.isError, true);
    assert.match(textOf(denied), /No active grant covers demo\.sales/);
    assert.match(textOf(denied), /request_access/);
    assert.match(textOf(denied), /jit request demo\.sales/);

    const granted = await call(alice, "request_access", { datasets: ["demo.sales"], reason: "mcp test", duration: "30m" });
    assert.notEqual(granted.isError, true, textOf(granted));
    assert.equal(jsonOf<{ request: { state: string } }>(granted).request.state, "approved");
    assert.match(textOf(granted), /You can call query now/);

    const res = await call(alice, "query", { sql: CUSTOMERS_SQL, max_rows: 4 });
    assert.notEqual(res.isError, true, textOf(res));
    const body = jsonOf<QueryBody>(res);
    assert.deepEqual(res.structuredContent, body);
    assert.equal(body.row_count, 4);
    assert.equal(body.truncated, true);
    assert.ok(body.bytes_processed >= 0 && body.audit_id);
    assert.deepEqual(body.columns.filter((c) => c.masked).map((c) => [c.name, c.mask]), [["ssn", "last4"], ["email", "email"], ["card_number", "last4"]]);
    for (const ssn of rawSsns) assert.ok(!textOf(res).includes(ssn), `raw SSN ${ssn} leaked`);
    for (const row of body.rows) assert.doesNotMatch(String(row.card_number).replace(/[\s-]/g, ""), /^\d{16}$/);
    assert.match(textOf(res), /truncated/);

    const dry = jsonOf<{ decision: string; masked_columns: string[] }>(await call(alice, "query", { sql: CUSTOMERS_SQL, dry_run: true }));
    assert.equal(dry.decision, "allowed");
    assert.deepEqual(dry.masked_columns.sort(), ["card_number", "email", "ssn"]);

    const inference = await call(alice, "query", { sql: "SELECT full_name FROM demo.sales.customers WHERE ssn LIKE '1%'" });
    assert.equal(inference.isError, true);
    assert.match(textOf(inference), /^Denied by jit: .*ssn/);

    const status = jsonOf<{ grants: Array<{ datasets: string[] }>; pending_requests: unknown[] }>(await call(alice, "access_status"));
    assert.deepEqual(status.grants.map((g) => g.datasets), [["demo.sales"]]);
    assert.deepEqual(status.pending_requests, []);

    const { resources } = await alice.client.listResources();
    assert.ok(resources.some((r) => r.uri === "bigquery://demo/sales/customers"), JSON.stringify(resources));
    const read = await alice.client.readResource({ uri: "bigquery://demo/hr/employees" });
    const content = read.contents[0]!;
    const hr = JSON.parse("text" in content ? content.text : "") as { table: string; columns: Array<{ name: string; masked: boolean }> };
    assert.equal(hr.table, "demo.hr.employees");
    assert.ok(hr.columns.find((c) => c.name === "ssn")?.masked);
  });

  test("carol: request_access is pending → query says who must approve → bob approves with the CLI → same session queries", async () => {
    const carol = await connect(broker.env("carol"));
    try {
      const hr = await call(carol, "request_access", { datasets: ["demo.hr"], reason: "curious" });
      assert.equal(hr.isError, true);
      assert.match(textOf(hr), /^Denied by jit/);

      const filed = await call(carol, "request_access", { datasets: ["demo.sales"], reason: "invoice audit" });
      assert.notEqual(filed.isError, true, textOf(filed));
      const { request } = jsonOf<{ request: { id: string; state: string } }>(filed);
      assert.equal(request.state, "pending");
      assert.match(textOf(filed), new RegExp(`data-owners must run: jit approve ${request.id}\\b`));

      const waiting = await call(carol, "query", { sql: "SELECT city FROM demo.sales.customers LIMIT 1" });
      assert.equal(waiting.isError, true);
      assert.match(textOf(waiting), new RegExp(`Access to demo\\.sales needs approval\\. Request ${request.id} is pending; ask a member of data-owners to run: jit approve ${request.id}`));
      const status = jsonOf<{ pending_requests: Array<{ id: string }> }>(await call(carol, "access_status"));
      assert.deepEqual(status.pending_requests.map((r) => r.id), [request.id]);

      const approve = await runJit(["approve", request.id], broker.env("bob"));
      assert.equal(approve.code, 0, approve.stderr);

      const ok = await call(carol, "query", { sql: "SELECT city, ssn FROM demo.sales.customers ORDER BY id LIMIT 2" });
      assert.notEqual(ok.isError, true, textOf(ok));
      assert.equal(jsonOf<QueryBody>(ok).row_count, 2);
    } finally {
      await carol.close();
    }
  });

  test("alice: a per_query dataset is approved one exact statement at a time", async () => {
    const sql = "SELECT department, COUNT(*) AS n FROM demo.hr.employees GROUP BY department";
    const first = await call(alice, "query", { sql });
    assert.equal(first.isError, true);
    assert.match(textOf(first), /request_access tool with `sql`/);
    const filed = await call(alice, "request_access", { datasets: ["demo.hr"], reason: "headcount", sql });
    assert.notEqual(filed.isError, true, textOf(filed));
    const { request } = jsonOf<{ request: { id: string; state: string } }>(filed);
    assert.equal(request.state, "pending");
    const waiting = await call(alice, "query", { sql });
    assert.equal(waiting.isError, true);
    assert.match(textOf(waiting), new RegExp(`Request ${request.id} is pending; ask a member of data-owners to run: jit approve ${request.id}`));
    assert.equal((await runJit(["approve", request.id], broker.env("bob"))).code, 0);
    const once = await call(alice, "query", { sql });
    assert.notEqual(once.isError, true, textOf(once));
    assert.ok(jsonOf<QueryBody>(once).row_count > 0);
    const twice = await call(alice, "query", { sql });
    assert.equal(twice.isError, true, "the approval runs the statement once");
  });

  test("signed out mid-session: the call says jit login; after signing in again it works without a restart", async () => {
    const env = broker.env("alice");
    rmSync(credentialsFile(env));
    const out = await call(alice, "query", { sql: "SELECT COUNT(*) AS n FROM demo.sales.orders" });
    assert.equal(out.isError, true);
    assert.match(textOf(out), /jit login/);
    const again = await loginAs(broker, "alice");
    assert.equal(again.code, 0, again.stderr);
    const back = await call(alice, "query", { sql: "SELECT COUNT(*) AS n FROM demo.sales.orders" });
    assert.notEqual(back.isError, true, textOf(back));
    assert.equal(Number(jsonOf<QueryBody>(back).rows[0]!.n), 6000);
  });

  test("an expiring token is refreshed silently mid-session, once for parallel calls", async () => {
    const path = credentialsFile(broker.env("alice"));
    const file = JSON.parse(readFileSync(path, "utf8")) as { entries: Record<string, string> };
    const [account, raw] = Object.entries(file.entries)[0]!;
    const before = JSON.parse(raw) as { id_token: string; expires_at: number };
    file.entries[account] = JSON.stringify({ ...before, expires_at: Math.floor(Date.now() / 1000) - 5 });
    writeFileSync(path, JSON.stringify(file));
    // access_status sends two requests at once, and the client may call tools in parallel: one refresh must serve them all.
    const results = await Promise.all([call(alice, "access_status"), call(alice, "list_datasets")]);
    for (const res of results) assert.notEqual(res.isError, true, textOf(res));
    const later = await call(alice, "list_datasets");
    assert.notEqual(later.isError, true, textOf(later));
    const after = JSON.parse((JSON.parse(readFileSync(path, "utf8")) as { entries: Record<string, string> }).entries[account]!) as { id_token: string; expires_at: number };
    assert.ok(after.expires_at > Date.now() / 1000 + 60, "the stored session was refreshed");
    assert.notEqual(after.id_token, before.id_token);
  });

  test("the audit log marks MCP queries with the MCP client's name and version", async () => {
    const r = await runJit(["audit", "list", "--json", "--user", "alice", "--action", "query", "--limit", "200"], broker.env("dave"));
    assert.equal(r.code, 0, r.stderr);
    const { records } = JSON.parse(r.stdout) as { records: Array<{ outcome: string; details: { client?: { kind: string; name: string; version: string } } }> };
    const ok = records.filter((x) => x.outcome === "ok");
    assert.ok(ok.length > 0);
    for (const x of ok) assert.deepEqual({ kind: x.details.client?.kind, name: x.details.client?.name, version: x.details.client?.version }, { kind: "mcp", ...AGENT });
  });

  test("stdout carries only JSON-RPC, a signed-out call is a tool error, and EOF on stdin ends the server", async () => {
    const child = spawn(process.execPath, [JIT_BIN, "mcp"], { env: broker.env("nobody"), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const send = (msg: unknown) => child.stdin.write(`${JSON.stringify(msg)}\n`);
    const waitFor = async (id: number) => {
      for (let i = 0; i < 200 && !stdout.split("\n").some((l) => l.includes(`"id":${id}`)); i++) await new Promise((r) => setTimeout(r, 25));
    };
    send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw ✨ client", version: "1" } } });
    await waitFor(1);
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "access_status", arguments: {} } });
    await waitFor(2);
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    child.stdin.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    assert.equal(await exited, 0, "the server exits by itself when stdin closes");
    clearTimeout(timer);
    const lines = stdout.trim().split("\n");
    for (const l of lines) assert.equal((JSON.parse(l) as { jsonrpc: string }).jsonrpc, "2.0");
    const res = lines.map((l) => JSON.parse(l) as { id?: number; result?: CallToolResult }).find((m) => m.id === 2)!.result!;
    assert.equal(res.isError, true);
    assert.match(textOf(res), /A person must run `jit login`/);
  });
});

describe("jit query --json as a subprocess contract", { timeout: 60_000 }, () => {
  let broker: DevBrokerProcess;
  before(async () => {
    broker = await startBroker();
    assert.equal((await loginAs(broker, "bob")).code, 0);
  });
  after(async () => broker?.stop());

  test("exit 4 with one error object on stderr without a grant; SPEC's JSON on stdout with one", async () => {
    const env = broker.env("bob");
    const sql = "SELECT full_name, ssn, salary FROM demo.hr.employees ORDER BY employee_id LIMIT 3";
    const denied = await runJit(["query", "--json", sql], env);
    assert.equal(denied.code, 4);
    assert.equal(denied.stdout, "");
    const err = JSON.parse(denied.stderr.trim()) as { error: { code: string; message: string; hint: string; missing_datasets: string[] } };
    assert.equal(err.error.code, "denied");
    assert.deepEqual(err.error.missing_datasets, ["demo.hr"]);
    assert.match(err.error.hint, /jit request demo\.hr/);

    assert.equal((await runJit(["request", "demo.hr", "--reason", "contract test"], env)).code, 0);
    const ok = await runJit(["query", "--json"], env, { input: sql });
    assert.equal(ok.code, 0, ok.stderr);
    const body = JSON.parse(ok.stdout) as QueryBody & { grant_id: string };
    assert.deepEqual(Object.keys(body).sort(), ["audit_id", "bytes_processed", "columns", "grant_id", "masked_cells", "row_count", "rows", "truncated"]);
    assert.equal(body.row_count, 3);
    assert.deepEqual(body.columns.map((c) => [c.name, c.masked]), [["full_name", false], ["ssn", true], ["salary", true]]);

    const unauth = await runJit(["query", "--json", sql], broker.env("nobody"));
    assert.equal(unauth.code, 3);
    assert.equal((JSON.parse(unauth.stderr.trim()) as { error: { code: string } }).error.code, "unauthenticated");
  });

  test("jit mcp config prints each client's snippet with absolute paths", async () => {
    const env = broker.env("bob");
    const vscode = await runJit(["mcp", "config", "--client", "vscode"], env);
    assert.equal(vscode.code, 0, vscode.stderr);
    const v = JSON.parse(vscode.stdout) as { servers: { jit: { type: string; command: string; args: string[] } } };
    assert.equal(v.servers.jit.type, "stdio");
    assert.equal(v.servers.jit.command, process.execPath);
    assert.deepEqual(v.servers.jit.args, [JIT_BIN, "mcp", "--broker", broker.url]);

    const desktop = await runJit(["mcp", "config", "--client", "claude-desktop"], { ...env, JIT_BROKER: "" });
    const d = JSON.parse(desktop.stdout) as { mcpServers: { jit: { command: string; args: string[]; env: Record<string, string> } } };
    assert.deepEqual(d.mcpServers.jit.args, [JIT_BIN, "mcp"]);
    assert.equal(d.mcpServers.jit.env.JIT_CREDENTIAL_STORE, "file");

    const code = await runJit(["mcp", "config", "--client", "claude-code", "--json"], { ...env, JIT_BROKER: "" });
    const c = JSON.parse(code.stdout) as { command_line: string };
    assert.match(c.command_line, /^claude mcp add jit --env JIT_CREDENTIAL_STORE=file --env XDG_CONFIG_HOME=\S+ --env XDG_STATE_HOME=\S+ -- \S+ \S+bin\/jit\.js mcp$/);

    const bad = await runJit(["mcp", "config", "--client", "emacs"], env);
    assert.equal(bad.code, 2);
  });
});
