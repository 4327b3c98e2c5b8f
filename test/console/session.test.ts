/**
 * The console's edge without a browser: real dev broker (IdP, store, policy), real HTTP, a stand-in for the OIDC
 * round trip that hands over real dev-IdP tokens, and a clock the test moves (idle timeout, token refresh).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileRequest } from "../../src/broker/access.ts";
import { type DevBroker, startDevBroker } from "../../src/broker/dev.ts";
import { createConsoleHandler } from "../../src/console/handler.ts";
import type { ConsoleOidc, Tokens } from "../../src/console/oidc.ts";
import { IDLE_TIMEOUT_MS } from "../../src/console/session.ts";
import { devSignIn } from "../../src/demo/sign-in.ts";

let broker: DevBroker;
let dir: string;
let server: Server;
let base: string;
let now = Date.now();
const tokens = new Map<string, Tokens>();
let refreshWith: (rt: string) => Promise<Tokens> = async () => { throw new Error("refresh refused"); };

/** The IdP leg stands in for a browser: the authorization "code" names the demo user whose real tokens it returns. */
const oidc: ConsoleOidc = {
  async begin(redirectUri) {
    return { url: new URL(`https://idp.invalid/auth?redirect_uri=${encodeURIComponent(redirectUri)}`), state: "st", nonce: "no", codeVerifier: "cv" };
  },
  async finish(url, pending) {
    assert.equal(url.searchParams.get("state"), pending.state);
    const t = tokens.get(url.searchParams.get("code") ?? "");
    if (!t) throw new Error("unknown code");
    return t;
  },
  refresh: (rt) => refreshWith(rt),
};

const cookieOf = (res: Response, name: string): string | undefined =>
  res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
const valueOf = (setCookie: string) => setCookie.split(";")[0]!;

/** A GET with any Host header (fetch will not send a custom Host): status and Set-Cookie values. */
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; setCookies: string[]; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, setCookies: res.headers["set-cookie"] ?? [], location: res.headers.location });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Signs `user` in through /console/login and /console/callback; returns the session cookie pair. */
async function signIn(user: string, headers: Record<string, string> = {}, name = "jit_console"): Promise<{ cookie: string; setCookie: string }> {
  const start = await fetch(`${base}/console/login`, { redirect: "manual", headers });
  assert.equal(start.status, 302);
  const signin = valueOf(cookieOf(start, "jit_console_signin")!);
  const cb = await fetch(`${base}/console/callback?code=${user}&state=st`, { headers: { ...headers, cookie: signin } });
  assert.equal(cb.status, 200, await cb.clone().text());
  const setCookie = cookieOf(cb, name)!;
  assert.ok(setCookie, cb.headers.getSetCookie().join(" | "));
  return { cookie: valueOf(setCookie), setCookie };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "jit-console-"));
  broker = await startDevBroker({ port: 0, dataDir: dir });
  for (const u of ["bob", "carol", "alice"]) {
    const t = await devSignIn(broker.url, broker.issuer, u);
    tokens.set(u, { idToken: t.idToken, refreshToken: t.refreshToken ?? null });
  }
  const handler = createConsoleHandler(broker.deps, { oidc, clock: () => now });
  server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server?.close();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("console sessions", () => {
  test("on loopback http the session cookie is HttpOnly and SameSite=Strict, and the sign-in cookie Lax and scoped to the callback", async () => {
    const start = await fetch(`${base}/console/login`, { redirect: "manual" });
    const signin = cookieOf(start, "jit_console_signin")!;
    assert.match(signin, /Path=\/console\/callback; HttpOnly; SameSite=Lax/);
    assert.ok(!/Secure/.test(signin));
    assert.equal(new URL(start.headers.get("location")!).searchParams.get("redirect_uri"), `${base}/console/callback`);
    const { setCookie } = await signIn("bob");
    assert.match(setCookie, /^jit_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict/);
  });

  test("beyond loopback the cookies are Secure (and the session one __Host-), and the redirect URI names that origin", async () => {
    const host = "jit.example.com";
    const start = await rawGet("/console/login", { host });
    const signin = start.setCookies.find((c) => c.startsWith("jit_console_signin="))!;
    assert.match(signin, /; Secure/);
    assert.equal(new URL(start.location!).searchParams.get("redirect_uri"), "http://jit.example.com/console/callback");
    const cb = await rawGet("/console/callback?code=bob&state=st", { host, cookie: valueOf(signin) });
    assert.equal(cb.status, 200);
    const session = cb.setCookies.find((c) => c.startsWith("__Host-jit_console="))!;
    assert.match(session, /; Path=\/; HttpOnly; SameSite=Strict; Secure/);
    assert.equal((await rawGet("/console/", { host, cookie: valueOf(session) })).status, 200);
    // The plain name is not accepted there: only a cookie the browser kept Secure counts.
    const plain = await rawGet("/console/", { host, cookie: valueOf(session).replace("__Host-", "") });
    assert.equal(plain.status, 302);
  });

  test("a callback replayed, or without its sign-in cookie, is refused; an IdP error says what happened", async () => {
    const start = await fetch(`${base}/console/login`, { redirect: "manual" });
    const signin = valueOf(cookieOf(start, "jit_console_signin")!);
    assert.equal((await fetch(`${base}/console/callback?code=bob&state=st`, { headers: { cookie: signin } })).status, 200);
    const again = await fetch(`${base}/console/callback?code=bob&state=st`, { headers: { cookie: signin } });
    assert.equal(again.status, 400);
    assert.match(await again.text(), /This sign-in expired/);
    const denied = await fetch(`${base}/console/callback?error=access_denied&error_description=End-User%20aborted`);
    assert.equal(denied.status, 401);
    assert.match(await denied.text(), /End-User aborted/);
  });

  test("a token the broker does not accept signs nobody in, and the refusal is audited", async () => {
    tokens.set("forger", { idToken: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2ln", refreshToken: null });
    const start = await fetch(`${base}/console/login`, { redirect: "manual" });
    const res = await fetch(`${base}/console/callback?code=forger&state=st`, { headers: { cookie: valueOf(cookieOf(start, "jit_console_signin")!) } });
    assert.equal(res.status, 401);
    assert.equal(cookieOf(res, "jit_console"), undefined);
    const [rec] = await broker.deps.store.listAudit({ action: "authenticate", outcome: "denied" }).then((r) => r.slice(-1));
    assert.equal(rec?.details.path, "/console/callback");
  });

  test("a session ends after 15 idle minutes", async () => {
    const { cookie } = await signIn("bob");
    assert.equal((await fetch(`${base}/console/`, { headers: { cookie } })).status, 200);
    now += IDLE_TIMEOUT_MS - 1000;
    assert.equal((await fetch(`${base}/console/`, { headers: { cookie } })).status, 200, "activity resets the idle clock");
    now += IDLE_TIMEOUT_MS + 1000;
    const res = await fetch(`${base}/console/`, { headers: { cookie }, redirect: "manual" });
    assert.equal(res.status, 302);
    assert.match(res.headers.get("location")!, /^https:\/\/idp\.invalid\/auth/);
  });

  test("when the id_token lapses it is refreshed; when it cannot be, the person is signed out", async () => {
    let refreshed = 0;
    refreshWith = async () => (refreshed++, tokens.get("bob")!);
    const exp = JSON.parse(Buffer.from(tokens.get("bob")!.idToken.split(".")[1]!, "base64url").toString()).exp * 1000;
    const saved = now;
    now = exp - 30_000; // inside the refresh margin, the id_token itself still valid
    const { cookie } = await signIn("bob");
    assert.equal((await fetch(`${base}/console/`, { headers: { cookie }, redirect: "manual" })).status, 200);
    assert.ok(refreshed >= 1);
    refreshWith = async () => { throw new Error("invalid_grant"); };
    const res = await fetch(`${base}/console/`, { headers: { cookie }, redirect: "manual" });
    assert.equal(res.status, 302, "signed out: off to the IdP");
    assert.equal((await fetch(`${base}/console/mine`, { headers: { cookie }, redirect: "manual" })).status, 302, "the session is gone for good");
    now = saved;
  });
});

describe("console pages", () => {
  test("every value is escaped: a requester's reason full of markup is shown as text", async () => {
    const { cookie } = await signIn("bob");
    const carol = { principal: await broker.deps.verifyToken(tokens.get("carol")!.idToken), client: { kind: "test", name: "", version: "", address: "" } };
    const evil = `<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" 'single'`;
    const { request } = await fileRequest(broker.deps, carol, { datasets: ["demo.sales"], reason: evil, durationMs: 600_000 });
    const res = await fetch(`${base}/console/requests/${request.id}`, { headers: { cookie } });
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.ok(!body.includes("<script>alert"), "no live markup from data");
    assert.ok(!body.includes("<img src=x"));
    assert.ok(body.includes("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert.ok(!/<script(?![^>]*\ssrc="\/console\/assets\/console\.[0-9a-f]{16}\.js")/.test(body), "the only script is the hashed asset");
    assert.ok(!/<style|\sstyle=/.test(body), "no inline style");
  });

  test("pages and assets carry the strict CSP, no framing, no caching of pages", async () => {
    const { cookie } = await signIn("bob");
    const res = await fetch(`${base}/console/`, { headers: { cookie } });
    const csp = res.headers.get("content-security-policy")!;
    assert.equal(csp, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("cache-control"), "no-store");
    const css = /href="(\/console\/assets\/[^"]+\.css)"/.exec(await res.text())![1]!;
    const asset = await fetch(`${base}${css}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get("cache-control")!, /immutable/);
  });

  test("a session posting faster than the limit gets 429 with a wait, and nothing more is done", async () => {
    const { cookie } = await signIn("alice");
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) {
      const r = await fetch(`${base}/console/policy/explain`, { method: "POST", headers: { cookie, origin: base, "content-type": "application/x-www-form-urlencoded" }, body: "csrf=x&sql=SELECT%201" });
      statuses.push(r.status);
    }
    assert.deepEqual(statuses.slice(0, 30).filter((s) => s !== 403), [], "a wrong CSRF token is refused while under the limit");
    assert.deepEqual(statuses.slice(30), [429, 429]);
  });

  test("a return path after sign-in stays inside the console", async () => {
    for (const [asked, expected] of [["/console/requests/7", "/console/requests/7"], ["https://evil.example/", "/console/"], ["//evil.example/console", "/console/"], ["/console/../oidc", "/console/"]]) {
      const start = await fetch(`${base}/console/login?return=${encodeURIComponent(asked!)}`, { redirect: "manual" });
      const signin = valueOf(cookieOf(start, "jit_console_signin")!);
      const cb = await fetch(`${base}/console/callback?code=bob&state=st`, { headers: { cookie: signin } });
      assert.match(await cb.text(), new RegExp(`content="0;url=${expected!.replaceAll("/", "\\/")}"`), asked);
    }
  });

  test("denying needs a reason; with one, the request is denied and the decision audited with the console as client", async () => {
    const { cookie } = await signIn("bob");
    const carol = { principal: await broker.deps.verifyToken(tokens.get("carol")!.idToken), client: { kind: "test", name: "", version: "", address: "" } };
    const { request } = await fileRequest(broker.deps, carol, { datasets: ["demo.sales"], reason: "deny me", durationMs: 600_000 });
    const pageHtml = await (await fetch(`${base}/console/requests/${request.id}`, { headers: { cookie } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(pageHtml)![1]!;
    const post = (body: string) => fetch(`${base}/console/requests/${request.id}/deny`, {
      method: "POST", redirect: "manual", body, headers: { cookie, origin: base, "content-type": "application/x-www-form-urlencoded" },
    });
    const empty = await post(`csrf=${csrf}&reason=%20`);
    assert.equal(empty.status, 400);
    assert.match(await empty.text(), /a reason is required to deny a request/);
    const ok = await post(`csrf=${csrf}&reason=${encodeURIComponent("use the aggregated dataset")}`);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("location"), `/console/requests/${request.id}?done=denied`);
    assert.equal((await broker.deps.store.getRequest(request.id))?.state, "denied");
    const [rec] = (await broker.deps.store.listAudit({ action: "deny", outcome: "ok" })).slice(-1);
    assert.equal(rec?.actor, "bob");
    assert.equal((rec?.details.client as { kind: string }).kind, "console");
  });

  test("my requests: carol's Cancel button withdraws her pending request (CSRF and Origin checked); bob's forged cancel is refused", async () => {
    const carol = { principal: await broker.deps.verifyToken(tokens.get("carol")!.idToken), client: { kind: "test", name: "", version: "", address: "" } };
    const { request } = await fileRequest(broker.deps, carol, { datasets: ["demo.sales"], reason: "cancel me in the console", durationMs: 600_000 });
    const { cookie } = await signIn("carol");
    const mine = await (await fetch(`${base}/console/mine`, { headers: { cookie } })).text();
    assert.match(mine, new RegExp(`<form method="post" action="/console/requests/${request.id}/cancel">`));
    const csrf = /name="csrf" value="([^"]+)"/.exec(mine)![1]!;
    const post = (c: string, body: string, origin = base) => fetch(`${base}/console/requests/${request.id}/cancel`, {
      method: "POST", redirect: "manual", body, headers: { cookie: c, origin, "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal((await post(cookie, "csrf=forged")).status, 403);
    assert.equal((await post(cookie, `csrf=${csrf}`, "https://evil.example")).status, 403);
    assert.equal((await broker.deps.store.getRequest(request.id))?.state, "pending");

    const bob = await signIn("bob");
    const bobPage = await (await fetch(`${base}/console/mine`, { headers: { cookie: bob.cookie } })).text();
    const bobCsrf = /name="csrf" value="([^"]+)"/.exec(bobPage)![1]!;
    const cancelAction = `action="/console/requests/${request.id}/cancel"`;
    assert.ok((await (await fetch(`${base}/console/requests/${request.id}`, { headers: { cookie } })).text()).includes(cancelAction), "the requester's request page offers Cancel");
    assert.ok(!(await (await fetch(`${base}/console/requests/${request.id}`, { headers: { cookie: bob.cookie } })).text()).includes(cancelAction), "an approver's does not");
    const byBob = await post(bob.cookie, `csrf=${bobCsrf}`);
    assert.equal(byBob.status, 403);
    assert.match(await byBob.text(), /only the person who filed it may withdraw it/);
    assert.equal((await broker.deps.store.getRequest(request.id))?.state, "pending");

    const ok = await post(cookie, `csrf=${csrf}`);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("location"), "/console/mine?done=cancelled");
    assert.equal((await broker.deps.store.getRequest(request.id))?.state, "cancelled");
    const after = await (await fetch(`${base}/console/mine?done=cancelled`, { headers: { cookie } })).text();
    assert.match(after, /You withdrew the request/);
    assert.doesNotMatch(after, new RegExp(`/console/requests/${request.id}/cancel`), "no button on a withdrawn request");
    const [rec] = (await broker.deps.store.listAudit({ action: "cancel", outcome: "ok" })).slice(-1);
    assert.deepEqual([rec?.actor, rec?.details.request_id, (rec?.details.client as { kind: string }).kind], ["carol", request.id, "console"]);
    const again = await post(cookie, `csrf=${csrf}`);
    assert.equal(again.status, 409);
  });

  test("a link followed from another site first looks again from the console's own origin, then signs in and returns there", async () => {
    const first = await fetch(`${base}/console/requests/9?x=1`, { redirect: "manual", headers: { "sec-fetch-site": "cross-site" } });
    assert.equal(first.status, 200);
    assert.match(await first.text(), /content="0;url=\/console\/requests\/9\?x=1&#38;again=1"/);
    const again = await fetch(`${base}/console/requests/9?x=1&again=1`, { redirect: "manual", headers: { "sec-fetch-site": "same-origin" } });
    assert.equal(again.status, 302, "still no session: off to sign in");
    const signin = valueOf(cookieOf(again, "jit_console_signin")!);
    const cb = await fetch(`${base}/console/callback?code=bob&state=st`, { headers: { cookie: signin } });
    assert.match(await cb.text(), /content="0;url=\/console\/requests\/9\?x=1"/, "back where the link pointed, without the marker");
  });
});
