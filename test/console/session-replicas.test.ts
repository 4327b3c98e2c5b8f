/**
 * Console sessions shared through the store: two console handlers over two store instances on one SQLite file stand
 * in for two `broker serve` replicas behind a load balancer, and a third, opened after one closed, for a restart.
 * Real dev-IdP tokens and token verification; a stand-in for the browser's OIDC round trip, as in session.test.ts.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { fileRequest } from "../../src/broker/access.ts";
import type { BrokerDeps } from "../../src/broker/context.ts";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import { createConsoleHandler } from "../../src/console/handler.ts";
import type { ConsoleOidc, Tokens } from "../../src/console/oidc.ts";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/types.ts";

let broker: DevBroker;
let dir: string;
let dbPath: string;
let now = Date.now();
const tokens = new Map<string, Tokens>();
let refreshWith: (rt: string) => Promise<Tokens> = async () => { throw new Error("refresh refused"); };
/** The PKCE verifier of the sign-in in progress: random, so the test can look for it in the table. */
let lastVerifier = "";
const servers: Server[] = [];
const stores: Store[] = [];

const oidc: ConsoleOidc = {
  async begin(redirectUri) {
    lastVerifier = randomBytes(32).toString("base64url");
    return { url: new URL(`https://idp.invalid/auth?redirect_uri=${encodeURIComponent(redirectUri)}`), state: "st", nonce: "no", codeVerifier: lastVerifier };
  },
  async finish(url, pending) {
    assert.equal(url.searchParams.get("state"), pending.state);
    assert.equal(pending.codeVerifier, lastVerifier, "the verifier comes back intact from the store");
    const t = tokens.get(url.searchParams.get("code") ?? "");
    if (!t) throw new Error("unknown code");
    return t;
  },
  refresh: (rt) => refreshWith(rt),
};

/** A console handler of its own (a replica) over `store`, on its own port; returns its base URL. */
async function replica(store: Store): Promise<string> {
  const deps: BrokerDeps = { ...broker.deps, store };
  const handler = createConsoleHandler(deps, { oidc, clock: () => now });
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Another store instance on the dev broker's own SQLite file, as another replica (or a restarted broker) opens it. */
function openAgain(): Store {
  const s = openSqliteStore(dbPath, { checkpointMs: 0 });
  stores.push(s);
  return s;
}

const cookieOf = (res: Response, name: string) => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
const valueOf = (setCookie: string) => setCookie.split(";")[0]!;
const rowKey = (cookie: string) => createHash("sha256").update(cookie.slice(cookie.indexOf("=") + 1)).digest("base64url");

/** Begins a sign-in at `start` and finishes it at `finish` (the load balancer may send the callback elsewhere). */
async function signIn(user: string, start: string, finish = start): Promise<string> {
  const begun = await fetch(`${start}/console/login`, { redirect: "manual" });
  assert.equal(begun.status, 302);
  const cb = await fetch(`${finish}/console/callback?code=${user}&state=st`, { headers: { cookie: valueOf(cookieOf(begun, "jit_console_signin")!) } });
  assert.equal(cb.status, 200, await cb.clone().text());
  return valueOf(cookieOf(cb, "jit_console")!);
}

const get = (base: string, path: string, cookie: string) => fetch(`${base}${path}`, { headers: { cookie }, redirect: "manual" });
const post = (base: string, path: string, cookie: string, body: string) => fetch(`${base}${path}`, {
  method: "POST", redirect: "manual", body, headers: { cookie, origin: base, "content-type": "application/x-www-form-urlencoded" },
});
const csrfOf = async (res: Response) => /name="csrf" value="([^"]+)"/.exec(await res.text())![1]!;

/** Every row of a table, read straight from the file: what a dump of the store would hold. */
function dump(table: string): Record<string, unknown>[] {
  const raw = new DatabaseSync(dbPath);
  try {
    return raw.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
  } finally {
    raw.close();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "jit-console-replicas-"));
  dbPath = join(dir, "jit.db");
  broker = await startDevBroker({ port: 0, dataDir: dir });
  for (const u of ["bob", "carol"]) {
    const t = await devSignIn(broker.url, broker.issuer, u);
    tokens.set(u, { idToken: t.idToken, refreshToken: t.refreshToken ?? null });
  }
});
after(async () => {
  for (const s of servers) s.close();
  for (const s of stores) await s.close().catch(() => {});
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("console sessions across replicas", () => {
  test("a sign-in begun on one replica finishes on the other; the session works on both; signed out on one, it is refused on the other", async () => {
    const a = await replica(broker.deps.store);
    const b = await replica(openAgain());
    const cookie = await signIn("bob", a, b);
    assert.equal((await get(a, "/console/", cookie)).status, 200, "made on b, accepted on a");
    const page = await get(b, "/console/mine", cookie);
    assert.equal(page.status, 200);
    const out = await post(b, "/console/logout", cookie, `csrf=${await csrfOf(page)}`);
    assert.equal(out.status, 200);
    const refused = await get(a, "/console/", cookie);
    assert.equal(refused.status, 302, "signed out on b: a sends the person to sign in");
    assert.match(refused.headers.get("location")!, /^https:\/\/idp\.invalid\/auth/);
    assert.equal(dump("console_sessions").filter((r) => r.key === rowKey(cookie)).length, 0, "the row is gone");
  });

  test("a broker restart (a new handler and store on the same file) keeps the session", async () => {
    const first = openAgain();
    const before = await replica(first);
    const cookie = await signIn("bob", before);
    assert.equal((await get(before, "/console/", cookie)).status, 200);
    await first.close();
    const afterRestart = await replica(openAgain());
    assert.equal((await get(afterRestart, "/console/mine", cookie)).status, 200);
  });

  test("the store holds no usable cookie or token: rows are keyed by the cookie's hash, the refresh token is sealed, the id_token absent", async () => {
    const a = await replica(broker.deps.store);
    const begun = await fetch(`${a}/console/login`, { redirect: "manual" });
    const signinCookie = valueOf(cookieOf(begun, "jit_console_signin")!);
    const pending = JSON.stringify(dump("console_sign_ins"));
    assert.ok(pending.includes(rowKey(signinCookie)));
    for (const secret of [signinCookie.split("=")[1]!, lastVerifier]) assert.ok(!pending.includes(secret), "sign-in cookie and PKCE verifier are not in the table");
    const cb = await fetch(`${a}/console/callback?code=bob&state=st`, { headers: { cookie: signinCookie } });
    const cookie = valueOf(cookieOf(cb, "jit_console")!);
    const rows = dump("console_sessions");
    const mine = rows.find((r) => r.key === rowKey(cookie));
    assert.ok(mine, "found by the hash of the cookie");
    const text = JSON.stringify(rows);
    const { idToken, refreshToken } = tokens.get("bob")!;
    assert.ok(refreshToken);
    for (const [what, secret] of [["cookie", cookie.split("=")[1]!], ["refresh token", refreshToken], ["id_token", idToken], ["id_token signature", idToken.split(".")[2]!]]) {
      assert.ok(!text.includes(secret!), `no ${what} in the table`);
    }
    assert.match(String(mine.refresh_token_sealed), /^v1\.[A-Za-z0-9_-]+$/);
    assert.equal(JSON.parse(String(mine.principal)).username, "bob");
  });

  test("when the refresh fails the session ends on every replica, audited; the post that found it does nothing and asks for a sign-in", async () => {
    const a = await replica(broker.deps.store);
    const b = await replica(openAgain());
    const carol = { principal: await broker.deps.verifyToken(tokens.get("carol")!.idToken), client: { kind: "test", name: "", version: "", address: "" } };
    const { request } = await fileRequest(broker.deps, carol, { datasets: ["demo.sales"], reason: "deny me after a failed refresh", durationMs: 600_000 });
    const exp = JSON.parse(Buffer.from(tokens.get("bob")!.idToken.split(".")[1]!, "base64url").toString()).exp * 1000;
    const saved = now;
    now = exp - 30_000; // inside the refresh margin; the id_token itself still valid
    try {
      refreshWith = async () => tokens.get("bob")!;
      const cookie = await signIn("bob", a);
      const csrf = await csrfOf(await get(a, `/console/requests/${request.id}`, cookie));
      let tried = 0;
      refreshWith = async () => { tried++; throw new Error("invalid_grant: the grant is gone"); };
      const res = await post(b, `/console/requests/${request.id}/deny`, cookie, `csrf=${csrf}&reason=nope`);
      assert.equal(res.status, 401);
      assert.match(await res.text(), /nothing was done/);
      assert.equal(tried, 1);
      assert.equal((await broker.deps.store.getRequest(request.id))?.state, "pending");
      assert.equal(dump("console_sessions").filter((r) => r.key === rowKey(cookie)).length, 0, "the row is gone");
      const [rec] = (await broker.deps.store.listAudit({ action: "authenticate", outcome: "denied" })).slice(-1);
      assert.equal(rec?.actor, "bob");
      assert.match(String(rec?.details.why), /could not be refreshed.*invalid_grant/);
      assert.equal(rec?.details.path, `/console/requests/${request.id}/deny`);
      const back = await get(a, "/console/", cookie);
      assert.equal(back.status, 302, "the other replica sends the person to sign in");
      assert.match(back.headers.get("location")!, /^https:\/\/idp\.invalid\/auth/);
      assert.equal(tried, 1, "nothing left to refresh");
    } finally {
      now = saved;
    }
  });

  test("a refresh on one replica is stored for the other: its identity and the rotated refresh token, sealed", async () => {
    const a = await replica(broker.deps.store);
    const b = await replica(openAgain());
    const exp = JSON.parse(Buffer.from(tokens.get("bob")!.idToken.split(".")[1]!, "base64url").toString()).exp * 1000;
    const saved = now;
    now = exp - 30_000;
    const cookie = await signIn("bob", a);
    // The IdP answers with a token for other groups (here simply carol's): from then on that is who the session is.
    const seen: string[] = [];
    refreshWith = async (rt) => {
      seen.push(rt);
      return { idToken: tokens.get("carol")!.idToken, refreshToken: `rotated-refresh-token-${seen.length}` };
    };
    try {
      const onA = await get(a, "/console/mine", cookie);
      assert.equal(onA.status, 200);
      assert.match(await onA.text(), /<span>carol <span class="muted">/);
      assert.deepEqual(seen, [tokens.get("bob")!.refreshToken], "the refresh token came back out of its seal");
      assert.ok(!JSON.stringify(dump("console_sessions")).includes("rotated-refresh-token"), "the rotated token is sealed too");
      // Carol's id_token lapses as soon as bob's, so b refreshes again: with the token a stored, not the spent one.
      const onB = await get(b, "/console/mine", cookie);
      assert.equal(onB.status, 200);
      assert.match(await onB.text(), /<span>carol <span class="muted">/);
      assert.deepEqual(seen.slice(1), ["rotated-refresh-token-1"]);
    } finally {
      now = saved;
    }
  });
});
