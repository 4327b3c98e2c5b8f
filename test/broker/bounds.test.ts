/** The front door's bounds, each within a few seconds: slow bodies and headers cut off, a cap on connections, refused sign-ins rate-limited. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import { createBrokerHandler, listen } from "../../src/broker/server.ts";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { call } from "./http-call.ts";

let broker: DevBroker;
let dir: string;
let alice: string;
let host: string;
let port: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "jit-bounds-"));
  broker = await startDevBroker({
    port: 0, dataDir: dir,
    frontDoor: { bodyTimeoutMs: 300, refusalsPerWindow: 3, refusalWindowMs: 60_000 },
    listen: { maxConnections: 6, headersTimeoutMs: 400 },
  });
  ({ hostname: host } = new URL(broker.url));
  port = Number(new URL(broker.url).port);
  alice = (await devSignIn(broker.url, broker.issuer, "alice")).idToken;
});
after(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

const open = async (): Promise<Socket> => {
  const s = connect(port, host);
  await new Promise<void>((res, rej) => s.once("connect", () => res()).once("error", rej));
  return s;
};
/** Everything the server sends until it closes the socket (or `ms` pass), and how long that took. */
const untilClosed = (s: Socket, ms: number) => new Promise<{ text: string; ms: number; closed: boolean }>((resolve) => {
  const t0 = performance.now();
  let text = "";
  s.on("data", (d) => (text += d));
  s.on("error", () => {});
  const timer = setTimeout(() => resolve({ text, ms: performance.now() - t0, closed: false }), ms);
  s.once("close", () => {
    clearTimeout(timer);
    resolve({ text, ms: performance.now() - t0, closed: true });
  });
});

test("a request body sent too slowly is cut off with 408 and its connection closed", async () => {
  const s = await open();
  s.write(`POST /v1/query HTTP/1.1\r\nhost: ${host}:${port}\r\nauthorization: Bearer ${alice}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"sql":`);
  const r = await untilClosed(s, 5000);
  assert.ok(r.closed, "the broker closed the connection");
  assert.match(r.text, /^HTTP\/1\.1 408 /);
  assert.match(r.text, /did not arrive within/);
  assert.ok(r.ms < 3000, `took ${r.ms.toFixed(0)} ms`);
});

test("headers sent too slowly are cut off", async () => {
  const s = await open();
  s.write(`GET /healthz HTTP/1.1\r\nhost: ${host}:${port}\r\n`);
  const r = await untilClosed(s, 5000);
  assert.ok(r.closed);
  assert.ok(r.ms < 3000, `took ${r.ms.toFixed(0)} ms`);
});

test("connections past the cap are dropped at once; a freed slot serves again", async () => {
  // Keep-alive sockets of earlier calls count too: close them, then fill exactly the free slots.
  broker.server.closeIdleConnections();
  await new Promise((res) => setTimeout(res, 50));
  const busy = await new Promise<number>((res) => broker.server.getConnections((_e, n) => res(n)));
  const held = await Promise.all(Array.from({ length: 6 - busy }, open));
  try {
    await new Promise((res) => setTimeout(res, 50));
    const extra = await open();
    const r = await untilClosed(extra, 3000);
    assert.ok(r.closed, "the seventh connection is closed by the broker");
    assert.equal(r.text, "");
    assert.ok(r.ms < 1000, `took ${r.ms.toFixed(0)} ms`);
    held.pop()!.destroy();
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 50));
      status = await call(broker.url, "GET", "/healthz").then((x) => x.status, () => 0);
    }
    assert.equal(status, 200);
  } finally {
    for (const s of held) s.destroy();
  }
});

test("refused sign-ins from one address are rate-limited (429, Retry-After), recorded once past the budget; a valid token still works", async () => {
  await new Promise((res) => setTimeout(res, 200)); // sockets of the previous test are gone
  const seq = (await broker.deps.store.listAudit({ limit: 100_000 })).at(-1)?.seq ?? 0;
  const statuses: number[] = [];
  let retryAfter: string | string[] | undefined;
  for (let i = 0; i < 8; i++) {
    const r = await call(broker.url, "GET", "/v1/whoami", { token: "not.a.token" });
    statuses.push(r.status);
    if (r.status === 429) retryAfter = r.headers["retry-after"];
  }
  assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429, 429, 429]);
  assert.match(String(retryAfter), /^\d+$/);
  const recs = (await broker.deps.store.listAudit({ afterSeq: seq, limit: 100 })).filter((r) => r.action === "authenticate");
  assert.equal(recs.length, 4, "three refusals and one rate-limit record");
  assert.equal(recs[3]!.details.rate_limited, true);
  assert.equal((await call(broker.url, "GET", "/v1/whoami", { token: alice })).status, 200);
});

test("`broker serve` mounts no dev routes: /dev/device/approve and /oidc are 404 without the dev plugin", async () => {
  const { server, url } = await listen(createBrokerHandler(broker.deps), "127.0.0.1", 0);
  try {
    const r = await call(url, "POST", "/dev/device/approve", { body: { user_code: "x", username: "alice", password: "alice" } });
    assert.equal(r.status, 404);
    assert.equal((await call(url, "GET", "/oidc/.well-known/openid-configuration")).status, 404);
    // No Host allow-list outside dev mode: a production broker sits behind its own name.
    assert.equal((await call(url, "GET", "/healthz", { headers: { host: "broker.example.com" } })).status, 200);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((res) => server.close(() => res()));
  }
});
