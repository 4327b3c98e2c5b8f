/**
 * The console runs the API's pipeline: every route of its table is decided by authorize() and on the audit log before
 * anything beyond its resource is read, refusals are the API's (404 for what one may not see), no page the console
 * answers is missing from the table, and forged forms are refused and recorded before anything is looked up.
 * Real dev broker (IdP, store, policy), real HTTP; a recording store wrapper gives the order of every store call.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileRequest } from "../../src/broker/access.ts";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import { createConsoleHandler } from "../../src/console/handler.ts";
import type { ConsoleOidc, Tokens } from "../../src/console/oidc.ts";
import { compileConsolePath, type ConsoleInput, consoleRoutes, type ConsoleRoute } from "../../src/console/routes.ts";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { authorize } from "../../src/policy/authorize.ts";
import type { Principal } from "../../src/policy/types.ts";
import type { Store } from "../../src/store/types.ts";

type Call = { name: string; action?: string; outcome?: string; details?: Record<string, unknown> };

let broker: DevBroker;
let dir: string;
let server: Server;
let base: string;
const calls: Call[] = [];
const tokens = new Map<string, Tokens>();

/** Every call the console makes of the store, in order; audit appends with what they record. */
function recording(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        const r = args[0] as { action?: string; outcome?: string; details?: Record<string, unknown> } | undefined;
        calls.push(prop === "appendAudit" ? { name: "appendAudit", action: r?.action, outcome: r?.outcome, details: r?.details } : { name: String(prop) });
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const oidc: ConsoleOidc = {
  async begin(redirectUri) {
    return { url: new URL(`https://idp.invalid/auth?redirect_uri=${encodeURIComponent(redirectUri)}`), state: "st", nonce: "no", codeVerifier: "cv" };
  },
  async finish(url) {
    const t = tokens.get(url.searchParams.get("code") ?? "");
    if (!t) throw new Error("unknown code");
    return t;
  },
  refresh: async () => { throw new Error("no refresh in this test"); },
};

const sessions = new Map<string, { cookie: string; csrf: string }>();

/** A console session for `user` (a second one under another `key`), with the CSRF token of its pages. */
async function session(user: string, key = user): Promise<{ cookie: string; csrf: string }> {
  const known = sessions.get(key);
  if (known) return known;
  const start = await fetch(`${base}/console/login`, { redirect: "manual" });
  const signin = start.headers.getSetCookie().find((c) => c.startsWith("jit_console_signin="))!.split(";")[0]!;
  const cb = await fetch(`${base}/console/callback?code=${user}&state=st`, { headers: { cookie: signin } });
  assert.equal(cb.status, 200);
  const cookie = cb.headers.getSetCookie().find((c) => c.startsWith("jit_console="))!.split(";")[0]!;
  const page = await (await fetch(`${base}/console/policy`, { headers: { cookie } })).text();
  const s = { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(page)![1]! };
  sessions.set(key, s);
  return s;
}

/** One console request; `form` makes it a POST (with the session's CSRF token and the console's Origin unless given). */
async function call(user: string, path: string, form?: Record<string, string>, opts: { key?: string; origin?: string } = {}) {
  const s = await session(user, opts.key);
  calls.length = 0;
  const res = await fetch(`${base}${path}`, form
    ? { method: "POST", redirect: "manual", headers: { cookie: s.cookie, origin: opts.origin ?? base, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ csrf: s.csrf, ...form }) }
    : { redirect: "manual", headers: { cookie: s.cookie } });
  const body = await res.text();
  return { status: res.status, body, calls: calls.filter((c) => DATA.test(c.name)).slice() };
}

// Store calls about requests, grants and the audit log (a session kept in the store is none of these).
const DATA = /Request|Grant|Audit|expirePending/;
const MUTATIONS = new Set(["createRequest", "approveRequest", "denyRequest", "cancelRequest", "revokeGrant", "consumeGrant"]);
/** What each kind of resource loads for the decision: the only reads allowed before the decision is recorded. */
const LOADER: Record<string, string[]> = { request: ["expirePending", "getRequest"], grant: ["getGrant"], audit_record: ["getAudit"] };

const ids = { request: "", grant: "", record: "" };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "jit-console-pipeline-"));
  broker = await startDevBroker({ port: 0, dataDir: dir });
  for (const u of ["bob", "carol", "alice", "dave"]) {
    const t = await devSignIn(broker.url, broker.issuer, u);
    tokens.set(u, { idToken: t.idToken, refreshToken: t.refreshToken ?? null });
  }
  const handler = createConsoleHandler({ ...broker.deps, store: recording(broker.deps.store) }, { oidc });
  server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const as = async (u: string) => ({ principal: await broker.deps.verifyToken(tokens.get(u)!.idToken), client: { kind: "test", name: "", version: "", address: "" } });
  // Carol's pending request (bob approves demo.sales; alice sees nothing of it), alice's auto-approved grant, a record of bob's.
  ids.request = (await fileRequest(broker.deps, await as("carol"), { datasets: ["demo.sales"], reason: "pipeline test", durationMs: 600_000 })).request.id;
  const auto = await fileRequest(broker.deps, await as("alice"), { datasets: ["demo.sales"], reason: "my own", durationMs: 600_000 });
  ids.grant = auto.request.grant_id!;
  assert.ok(ids.grant, "alice's demo.sales request is approved by rule");
  await session("bob");
  ids.record = (await broker.deps.store.listAudit({ actor: "bob", limit: 1 }))[0]!.id;
});
after(async () => {
  server?.close();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A route's input as the handler builds it, to ask a route which resource it decides on. */
async function inputFor(user: string, over: { principal?: Principal } = {}): Promise<ConsoleInput> {
  const principal = over.principal ?? (await broker.deps.verifyToken(tokens.get(user)!.idToken));
  return {
    deps: broker.deps, caller: { principal, client: { kind: "test", name: "", version: "", address: "" } }, viewer: { principal, csrf: "", auditor: false },
    params: { id: "1", seq: "1" }, query: new URLSearchParams(), form: new URLSearchParams(), res: undefined as never, endSession: async () => "",
  };
}

const key = (r: ConsoleRoute) => `${r.method} ${r.path}`;

interface Case {
  user: string;
  path: () => string;
  form?: Record<string, string>;
  status: number;
  /** "denied"/"ok": the first record is this decision; "none": the route is authorized but writes no record. */
  recorded: "denied" | "ok" | "none";
  refusal?: "missing" | "forbidden";
  key?: string;
}

// One case per route of the table: a person the route refuses where anyone is, else someone it lets through.
const CASES: Record<string, Case> = {
  "GET /console/": { user: "carol", path: () => "/console/", status: 200, recorded: "ok" },
  "GET /console/live/inbox": { user: "carol", path: () => "/console/live/inbox", status: 200, recorded: "none" },
  "GET /console/live/requests/:id": { user: "alice", path: () => `/console/live/requests/${ids.request}`, status: 404, recorded: "none" },
  "GET /console/requests/:id": { user: "alice", path: () => `/console/requests/${ids.request}`, status: 404, recorded: "denied", refusal: "missing" },
  "GET /console/mine": { user: "carol", path: () => "/console/mine", status: 200, recorded: "ok" },
  "GET /console/audit": { user: "carol", path: () => "/console/audit", status: 403, recorded: "denied", refusal: "forbidden" },
  "GET /console/audit/verify": { user: "carol", path: () => "/console/audit/verify?run=1", status: 403, recorded: "denied", refusal: "forbidden" },
  "GET /console/audit/:seq": { user: "carol", path: () => `/console/audit/${ids.record}`, status: 404, recorded: "denied", refusal: "missing" },
  "GET /console/audit/:seq/replay": { user: "carol", path: () => `/console/audit/${ids.record}/replay`, status: 404, recorded: "denied", refusal: "missing" },
  "GET /console/policy": { user: "carol", path: () => "/console/policy", status: 200, recorded: "ok" },
  "POST /console/policy/explain": { user: "carol", path: () => "/console/policy/explain", form: { sql: "SELECT city FROM demo.sales.customers" }, status: 200, recorded: "ok" },
  // Alice may not decide carol's request, and may not see it: the refusal is recorded, and the page says nothing is there.
  "POST /console/requests/:id/approve": { user: "alice", path: () => `/console/requests/${ids.request}/approve`, form: { comment: "" }, status: 404, recorded: "denied", refusal: "missing" },
  "POST /console/requests/:id/deny": { user: "alice", path: () => `/console/requests/${ids.request}/deny`, form: { reason: "no" }, status: 404, recorded: "denied", refusal: "missing" },
  "POST /console/requests/:id/cancel": { user: "alice", path: () => `/console/requests/${ids.request}/cancel`, form: {}, status: 404, recorded: "denied", refusal: "missing" },
  // Carol answers for none of the grant's datasets: she is not told it exists.
  "POST /console/grants/:id/revoke": { user: "carol", path: () => `/console/grants/${ids.grant}/revoke`, form: {}, status: 404, recorded: "denied", refusal: "missing" },
  "POST /console/logout": { user: "carol", key: "carol-leaving", path: () => "/console/logout", form: {}, status: 200, recorded: "ok" },
};

describe("console route table through the pipeline", () => {
  test("every route of the table has a case here, and the routes open to all are open to anyone signed in", async () => {
    const routes = consoleRoutes();
    assert.deepEqual(routes.map(key).sort(), Object.keys(CASES).sort());
    // Someone in no group at all: what the console lets everyone do must be allowed to them by authorize() too.
    const nobody = { ...(await broker.deps.verifyToken(tokens.get("carol")!.idToken)), groups: [] };
    for (const r of routes.filter((x) => CASES[key(x)]!.recorded === "ok")) {
      const resource = await r.resource(await inputFor("carol", { principal: nobody }));
      assert.ok(authorize(broker.deps.policy(), nobody, r.action, resource).allowed, key(r));
    }
  });

  for (const r of consoleRoutes()) {
    const c = CASES[key(r)];
    test(`${key(r)} (${r.action}): ${c ? `${c.user} gets ${c.status}, ${c.recorded === "none" ? "authorized, not recorded" : `the ${c.recorded} decision recorded before anything else is read`}` : "has no case"}`, async () => {
      assert.ok(c, `no case for ${key(r)}`);
      const res = await call(c.user, c.path(), c.form, { key: c.key });
      assert.equal(res.status, c.status, res.body.slice(0, 300));
      const first = res.calls.findIndex((x) => x.name === "appendAudit");
      const loaderReads = new Set(LOADER[(await r.resource(await inputFor(c.user))).kind] ?? []);
      if (c.recorded === "none") {
        assert.equal(first, -1, "a live poll writes no record");
        if (c.status !== 200) assert.deepEqual(res.calls.filter((x) => !loaderReads.has(x.name)), [], "a refused poll reads nothing but its resource");
        return;
      }
      assert.ok(first >= 0, "a record is written");
      assert.deepEqual(res.calls.slice(0, first).filter((x) => !loaderReads.has(x.name)), [], "nothing but the resource is read before the decision is recorded");
      const rec = res.calls[first]!;
      assert.equal(rec.outcome, c.recorded);
      assert.equal(rec.action, c.recorded === "ok" && r.handlerAudits === "after-access" ? "access" : r.audit);
      assert.equal(rec.details?.action, r.action, "the authorize() action is on the record");
      assert.equal(rec.details?.route, key(r));
      if (c.refusal) assert.equal(rec.details?.refusal, c.refusal);
      if (c.recorded === "denied") {
        assert.deepEqual(res.calls.filter((x) => MUTATIONS.has(x.name)), [], "a refusal changes nothing");
        if (c.status === 404) assert.match(res.body, /that you may (see|read)/, "a 404 reveals nothing");
      }
    });
  }

  test("an allowed decision is recorded before the act: bob approves carol's request", async () => {
    const res = await call("bob", `/console/requests/${ids.request}/approve`, { comment: "ok" });
    assert.equal(res.status, 303);
    const names = res.calls.map((x) => (x.name === "appendAudit" ? `${x.action}:${x.outcome}` : x.name));
    assert.ok(names.indexOf("access:ok") >= 0 && names.indexOf("access:ok") < names.indexOf("approveRequest"), names.join(" "));
    assert.ok(names.indexOf("approve:ok") > names.indexOf("approveRequest"));
  });

  test("every console page a person is shown links only to routes of the table, and each answers", async () => {
    const seen = new Set<string>();
    const queue: Array<{ user: string; path: string }> = [];
    for (const user of ["bob", "carol", "dave"]) {
      for (const path of ["/console/", "/console/mine", "/console/policy", "/console/audit", `/console/requests/${ids.request}`, `/console/audit/${ids.record}`]) queue.push({ user, path });
    }
    const routes = consoleRoutes().map((r) => ({ r, match: compileConsolePath(r.path) }));
    const inTable = (method: string, path: string) => routes.some(({ r, match }) => r.method === method && match(path) !== null);
    while (queue.length > 0) {
      const { user, path } = queue.shift()!;
      if (seen.has(`${user} ${path}`)) continue;
      seen.add(`${user} ${path}`);
      const res = await call(user, path);
      if (res.status === 200) assert.ok(inTable("GET", new URL(path, base).pathname), `${path} answered 200 but is not in the table`);
      if (res.status !== 200) continue;
      // Links, and forms (GET ones, such as the audit filter, unless they say method="post").
      const targets = [
        ...[...res.body.matchAll(/<a [^>]*href="(\/console[^"]*)"/g)].map((m) => ({ method: "GET", target: m[1]! })),
        ...[...res.body.matchAll(/<form([^>]*)>/g)].map((m) => ({ method: /method="post"/i.test(m[1]!) ? "POST" : "GET", target: /action="([^"]*)"/.exec(m[1]!)?.[1] ?? path })),
      ];
      for (const { method, target } of targets) {
        const href = target.replaceAll("&#38;", "&");
        const pathname = new URL(href, base).pathname;
        if (pathname === "/console/login") continue;
        assert.ok(inTable(method, pathname), `${path} (${user}) links to ${method} ${pathname}, which the table does not have`);
        if (method === "GET" && seen.size + queue.length < 80) queue.push({ user, path: href });
      }
    }
    assert.ok(seen.size > 15, `crawled ${seen.size} pages`);
  });

  test("a path the table does not have is a recorded 404, whatever the method", async () => {
    for (const [path, form] of [["/console/requests", undefined], ["/console/grants/1", undefined], ["/console/logout", undefined], ["/console/requests/1/approve", undefined], ["/console/mine", {}]] as const) {
      const res = await call("carol", path, form);
      assert.equal(res.status, 404, path);
      const rec = res.calls.find((x) => x.name === "appendAudit");
      assert.deepEqual([rec?.action, rec?.outcome, rec?.details?.why], ["console", "denied", "no such page"], path);
    }
  });

  test("a forged form (no CSRF token, or another Origin) is refused and recorded before anything is looked up", async () => {
    for (const r of consoleRoutes().filter((x) => x.method === "POST")) {
      const path = r.path.replace(":id", ids.request);
      for (const forged of [{ form: { csrf: "forged" }, origin: base }, { form: {}, origin: "https://evil.example" }]) {
        const s = await session("bob");
        calls.length = 0;
        const res = await fetch(`${base}${path}`, {
          method: "POST", redirect: "manual", body: new URLSearchParams(forged.form.csrf ? forged.form : { csrf: s.csrf }),
          headers: { cookie: s.cookie, origin: forged.origin, "content-type": "application/x-www-form-urlencoded" },
        });
        assert.equal(res.status, 403, path);
        assert.match(await res.text(), /did not come from a console page/);
        const data = calls.filter((x) => DATA.test(x.name));
        assert.equal(data.length, 1, `${path}: only the refusal is written (${data.map((x) => x.name).join(", ")})`);
        assert.equal(data[0]!.name, "appendAudit");
        assert.deepEqual([data[0]!.action, data[0]!.outcome], ["console", "denied"]);
        assert.match(String(data[0]!.details?.why), /^forged request refused: /);
      }
    }
  });
});

describe("the console refuses as the API does", () => {
  const api = async (user: string, path: string, body: unknown) => {
    const res = await fetch(`${broker.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${tokens.get(user)!.idToken}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    return res.status;
  };
  const lastRecord = async (action: string) => (await broker.deps.store.listAudit({ action, limit: 10_000 })).at(-1);

  test("revoking a grant that does not exist: 404 and a refused revoke on the record, in the console as in the API", async () => {
    assert.equal(await api("carol", "/v1/grants/999999/revoke", {}), 404);
    const byApi = await lastRecord("revoke");
    assert.deepEqual([byApi?.outcome, byApi?.details.refusal], ["denied", "missing"]);
    const res = await call("carol", "/console/grants/999999/revoke", {});
    assert.equal(res.status, 404);
    assert.match(res.body, /There is no grant 999999 that you may see/);
    const byConsole = await lastRecord("revoke");
    assert.notEqual(byConsole?.id, byApi?.id, "the console's refusal is on the record too");
    assert.deepEqual([byConsole?.outcome, byConsole?.details.refusal, byConsole?.details.action, (byConsole?.details.client as { kind: string }).kind], ["denied", "missing", "grant.revoke", "console"]);
  });

  test("approving a request that does not exist: a refused approve on the record, not only a page view", async () => {
    assert.equal(await api("bob", "/v1/requests/999998/approve", {}), 404);
    const res = await call("bob", "/console/requests/999998/approve", { comment: "" });
    assert.equal(res.status, 404);
    const rec = res.calls.find((x) => x.name === "appendAudit");
    assert.deepEqual([rec?.action, rec?.outcome, rec?.details?.refusal, rec?.details?.request_id], ["approve", "denied", "missing", "999998"]);
  });

  test("a request page refused to alice is recorded with the API's rule and reason (request.read, missing)", async () => {
    const res = await call("alice", `/console/requests/${ids.request}`);
    assert.equal(res.status, 404);
    const rec = res.calls.find((x) => x.name === "appendAudit");
    assert.deepEqual([rec?.details?.action, rec?.details?.refusal, rec?.details?.why], ["request.read", "missing", `there is no request ${ids.request} that you may see`]);
  });
});
