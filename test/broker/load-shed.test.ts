/**
 * Bounded in-flight work: with the cap reached, a request is refused at once with 503 + Retry-After and a body
 * naming the reason (logged, not audited: it is refused before authentication); probes still answer; the CLI's
 * client and the MCP tools say when to retry; every 503 carries Retry-After.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import { sendError } from "../../src/broker/http.ts";
import { BrokerClient } from "../../src/cli/client.ts";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { EXIT_CODES, JitError } from "../../src/errors.ts";
import { explainError } from "../../src/mcp/errors.ts";
import { storeUnavailable } from "../../src/store/failure.ts";
import { call } from "./http-call.ts";
import { heldWarehouse } from "./held-warehouse.ts";

let broker: DevBroker;
let dir: string;
let token: string;
const logs: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "jit-shed-"));
  broker = await startDevBroker({ port: 0, dataDir: dir, log: (l) => logs.push(l), frontDoor: { maxInFlight: 1 } });
  token = (await devSignIn(broker.url, broker.issuer, "alice")).idToken;
  const filed = await call(broker.url, "POST", "/v1/requests", { token, body: { datasets: ["demo.sales"], reason: "shed test" } });
  assert.equal(filed.status, 200, filed.text);
});
after(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("at the cap a second request gets 503 + Retry-After at once, logged and not audited; probes still answer", async () => {
  const original = broker.deps.warehouse;
  const held = heldWarehouse(original);
  broker.deps.warehouse = held;
  try {
    const slow = call(broker.url, "POST", "/v1/query", { token, body: { sql: "SELECT COUNT(*) AS n FROM demo.sales.orders" } });
    await held.started();
    const auditBefore = (await broker.deps.store.listAudit({ limit: 100_000 })).length;
    const t0 = performance.now();
    const shed = await call(broker.url, "GET", "/v1/whoami", { token });
    const took = performance.now() - t0;
    assert.equal(shed.status, 503, shed.text);
    assert.ok(took < 1000, `answered at once, not after the slow query (${Math.round(took)} ms)`);
    assert.equal(shed.headers["retry-after"], "1");
    assert.equal(shed.json.error.code, "unreachable");
    assert.equal(shed.json.error.reason, "overloaded");
    assert.equal(shed.json.error.retry_after_s, 1);
    assert.match(shed.json.error.message, /at capacity \(1 requests in progress\); retry in 1 s/);
    // Shed before the token is read: no identity to audit, and no store write spent on the load being shed.
    assert.equal((await broker.deps.store.listAudit({ limit: 100_000 })).length, auditBefore);
    const line = logs.map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } }).find((l) => l.shed === "overloaded");
    assert.ok(line, "the shed request has its log line");
    assert.equal(line.status, 503);
    assert.equal(line.subject, null);
    // A saturated broker is alive and its probes answer (they are never shed).
    assert.equal((await call(broker.url, "GET", "/healthz")).status, 200);
    assert.notEqual((await call(broker.url, "GET", "/readyz")).status, 503);

    // The CLI's client turns it into exit 7 with the wait; the MCP tool error says when to retry.
    const client = new BrokerClient({ baseUrl: broker.url, token: async () => token, client: { kind: "cli", name: "test", version: "0" } });
    const err = await client.get("/v1/whoami").then(() => assert.fail("not shed"), (e: unknown) => e as JitError);
    assert.ok(err instanceof JitError);
    assert.equal(err.code, "unreachable");
    assert.equal(EXIT_CODES[err.code], 7);
    assert.equal(err.details.retry_after_s, 1);
    assert.match(err.hint ?? "", /retry in 1 s/);
    const tool = await explainError(err, undefined, () => {});
    assert.equal(tool.isError, true);
    assert.match((tool.content[0] as { text: string }).text, /Wait 1 second, then retry this exact call/);

    held.release();
    const done = await slow;
    assert.equal(done.status, 200, done.text);
  } finally {
    held.release();
    broker.deps.warehouse = original;
  }
  // Below the cap again: answered normally.
  assert.equal((await call(broker.url, "GET", "/v1/whoami", { token })).status, 200);
});

test("a 503 for an unavailable store carries Retry-After in the header and the body", async () => {
  const server = createServer((_req, res) => sendError(res, storeUnavailable("postgres", "ECONNREFUSED: connection refused")));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const r = await call(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, "GET", "/v1/whoami");
    assert.equal(r.status, 503);
    assert.equal(r.headers["retry-after"], "5");
    assert.equal(r.json.error.retry_after_s, 5);
    assert.equal(r.json.error.code, "unreachable");
    assert.equal(r.json.error.status, undefined);
  } finally {
    server.close();
  }
});

test("a client told to retry without a body wait still learns it from the header", async () => {
  const server = createServer((_req, res) => {
    res.writeHead(503, { "content-type": "application/json", "retry-after": "7" }).end(JSON.stringify({ error: { code: "unreachable", message: "busy" } }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const client = new BrokerClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, client: { kind: "cli", name: "t", version: "0" } });
    const err = await client.get("/v1/login-settings", { auth: false }).then(() => assert.fail("ok?"), (e: unknown) => e as JitError);
    assert.equal(err.code, "unreachable");
    assert.equal(err.details.retry_after_s, 7);
    assert.equal(err.hint, "retry in 7 s");
  } finally {
    server.close();
  }
});
