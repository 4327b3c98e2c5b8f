/**
 * The web console at /console: OIDC sign-in, a server-side session, and server-rendered pages over the same domain
 * functions as the API (access.ts, explain.ts, the store), each page view and decision audited before it answers.
 * The mount point is one function, `createConsoleHandler(deps)(req, res)`, so any HTTP edge can host it.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { verifyChain } from "../audit/chain.ts";
import { approveRequest, denyRequest, expireDue, revokeGrant } from "../broker/access.ts";
import { audit, type BrokerDeps, type Caller } from "../broker/context.ts";
import { JitError } from "../errors.ts";
import type { AuditRecord } from "../store/types.ts";
import { findAsset } from "./assets.ts";
import { decisionRefusal, maySeeRequest, mayReadAudit, statementPreview } from "./data.ts";
import { cookie, cookieSecure, ownOrigin, readForm, redirect, sendAsset, sendConsoleJson, sendPage } from "./edge.ts";
import { html, type Html } from "./html.ts";
import { page, type Section, type Viewer } from "./layout.ts";
import { createConsoleOidc, type ConsoleOidc } from "./oidc.ts";
import { auditDetailBody, auditListBody, replayBody, verifyBody, type AuditFilters } from "./pages/audit.ts";
import { policyBody } from "./pages/policy.ts";
import { inboxBody, mineBody, requestBody } from "./pages/requests.ts";
import { RateLimit } from "./rate-limit.ts";
import { IDLE_TIMEOUT_MS, readCookie, sameSecret, SessionStore, type ConsoleSession } from "./session.ts";

export interface ConsoleOptions {
  /** The broker's public URL (`public_url`); without it the origin is the one the request reached. */
  publicUrl?: string;
  /** Injected in tests; built from deps.loginSettings otherwise. */
  oidc?: ConsoleOidc;
  /** Real time for sessions and tokens (deps.now is the grant clock, which tests move). */
  clock?: () => number;
}

/** Where the IdP sends people back: `{public_url}/console/callback`, to be registered for the jit client. */
export const CALLBACK_PATH = "/console/callback";
const SIGN_IN_COOKIE = "jit_console_signin";
const REFRESH_MARGIN_MS = 60_000;

type Ctx = { req: IncomingMessage; res: ServerResponse; url: URL; origin: URL; secure: boolean };
type Authed = Ctx & { session: ConsoleSession; caller: Caller; viewer: Viewer };

const NOTICES: Record<string, string> = {
  approved: "You approved this request.",
  denied: "You denied this request.",
  revoked: "The grant was revoked.",
};

const jwtExp = (token: string): number => {
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp?: number };
  return (payload.exp ?? 0) * 1000;
};

const fingerprint = (parts: unknown): string => createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 22);

/** A path inside the console to come back to after sign-in; anything else goes to the inbox. */
function safeReturn(raw: string | null): string {
  return raw && /^\/console(\/[A-Za-z0-9_\-./?=&%]*)?$/.test(raw) && !raw.includes("//") && !raw.includes("..") ? raw : "/console/";
}

/** Builds the console's request handler. */
export function createConsoleHandler(deps: BrokerDeps, opts: ConsoleOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const sessions = new SessionStore(clock);
  const oidc = opts.oidc ?? createConsoleOidc(deps.loginSettings);
  // Per person and per address, like a busy API client: pages, writes, and sign-in attempts.
  const readLimit = new RateLimit(300, 60_000, clock);
  const writeLimit = new RateLimit(30, 60_000, clock);
  const signInLimit = new RateLimit(30, 60_000, clock);
  const sessionCookie = (secure: boolean) => (secure ? "__Host-jit_console" : "jit_console");

  const clientOf = (req: IncomingMessage): Caller["client"] => ({
    kind: "console", name: "jit console", version: deps.version, address: req.socket.remoteAddress ?? "",
  });

  const pageFor = (a: Authed, title: string, body: Html, section: Section) => page(title, body, { viewer: a.viewer, section });

  const errorPage = (ctx: Ctx, status: number, title: string, message: Html | string, viewer?: Viewer) =>
    sendPage(ctx.res, status, page(title, html`<div class="center card"><h1>${title}</h1><p>${message}</p><p><a href="/console/">Back to the console</a></p></div>`, { viewer }));

  /** Sends the person to the IdP, remembering where they were going. */
  async function beginSignIn(ctx: Ctx, returnTo: string) {
    const wait = signInLimit.hit(ctx.req.socket.remoteAddress ?? "");
    if (wait) return errorPage(ctx, 429, "Too many sign-ins", `Wait ${wait} s, then try again.`);
    const start = await oidc.begin(new URL(CALLBACK_PATH, ctx.origin).href);
    const pending = sessions.startSignIn({ state: start.state, nonce: start.nonce, codeVerifier: start.codeVerifier, returnTo });
    // Lax, not Strict: the IdP's redirect back is a cross-site navigation in production, and must carry this cookie.
    redirect(ctx.res, start.url.href, 302, {
      "set-cookie": cookie(SIGN_IN_COOKIE, pending.id, { secure: ctx.secure, sameSite: "Lax", path: CALLBACK_PATH, maxAgeSeconds: 600 }),
    });
  }

  async function callback(ctx: Ctx) {
    const pending = sessions.takeSignIn(readCookie(ctx.req, SIGN_IN_COOKIE));
    const clear = cookie(SIGN_IN_COOKIE, "", { secure: ctx.secure, sameSite: "Lax", path: CALLBACK_PATH, maxAgeSeconds: 0 });
    const retry = html`<a href="/console/login">Sign in again</a>`;
    if (ctx.url.searchParams.get("error")) {
      return sendPage(ctx.res, 401, page("Sign-in cancelled", html`<div class="center card"><h1>Not signed in</h1><p>The identity provider said: ${ctx.url.searchParams.get("error_description") ?? ctx.url.searchParams.get("error")}.</p><p>${retry}</p></div>`), { "set-cookie": clear });
    }
    if (!pending) return sendPage(ctx.res, 400, page("Sign-in expired", html`<div class="center card"><h1>This sign-in expired</h1><p>It was started more than 10 minutes ago, or in another browser.</p><p>${retry}</p></div>`), { "set-cookie": clear });
    const client = clientOf(ctx.req);
    let tokens;
    let principal;
    try {
      tokens = await oidc.finish(new URL(`${CALLBACK_PATH}${ctx.url.search}`, ctx.origin), pending);
      principal = await deps.verifyToken(tokens.idToken);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      await audit(deps, { principal: null, client }, "authenticate", "denied", { method: "GET", path: CALLBACK_PATH, why, console: true });
      return sendPage(ctx.res, 401, page("Sign-in failed", html`<div class="center card"><h1>Sign-in failed</h1><p>${why}</p><p>${retry}</p></div>`), { "set-cookie": clear });
    }
    const s = sessions.create({ principal, idToken: tokens.idToken, refreshToken: tokens.refreshToken, idTokenExpiresAt: jwtExp(tokens.idToken) });
    await audit(deps, { principal, client }, "console", "ok", { page: "sign-in" });
    // A same-origin page (not a redirect) carries on, so the Strict session cookie is sent with the next request
    // even when the sign-in began with a cross-site link (a notification).
    sendPage(ctx.res, 200, page("Signed in", html`<div class="center card"><h1>Signed in</h1><p><a href="${pending.returnTo}">Continue</a></p></div>`, { refresh: pending.returnTo }), {
      "set-cookie": [clear, cookie(sessionCookie(ctx.secure), s.id, { secure: ctx.secure, sameSite: "Strict", path: "/", maxAgeSeconds: IDLE_TIMEOUT_MS / 1000 * 8 })],
    });
  }

  /** The session of this request, refreshed when its id_token is about to lapse; undefined (signed out) when it cannot be. */
  async function sessionOf(ctx: Ctx): Promise<ConsoleSession | undefined> {
    const s = sessions.touch(readCookie(ctx.req, sessionCookie(ctx.secure)));
    if (!s) return undefined;
    if (s.idTokenExpiresAt - clock() > REFRESH_MARGIN_MS) return s;
    try {
      if (!s.refreshToken) throw new Error("no refresh token");
      const t = await oidc.refresh(s.refreshToken);
      // Groups may have changed at the IdP: the refreshed, verified token is the identity from now on.
      s.principal = await deps.verifyToken(t.idToken);
      s.idToken = t.idToken;
      s.refreshToken = t.refreshToken;
      s.idTokenExpiresAt = jwtExp(t.idToken);
      return s;
    } catch {
      sessions.end(s.id);
      return undefined;
    }
  }

  /** Refuses a state-changing request that did not come from a console page: wrong Origin or missing CSRF token. */
  async function checkForgery(a: Authed, form: URLSearchParams): Promise<string | null> {
    const origin = a.req.headers.origin;
    let why: string | null = null;
    if (origin !== a.origin.origin) why = `the form was posted from ${origin ? "another origin" : "no origin"}`;
    else if (!sameSecret(form.get("csrf") ?? "", a.session.csrf)) why = "the form carries no valid CSRF token";
    if (why) await audit(deps, a.caller, "console", "denied", { page: a.url.pathname, method: "POST", why: `forged request refused: ${why}`, origin: origin ?? null });
    return why;
  }

  const viewerOf = (s: ConsoleSession): Viewer => ({ principal: s.principal, csrf: s.csrf, auditor: mayReadAudit(deps.policy(), s.principal) });

  async function visibleRequest(a: Authed, id: string) {
    await expireDue(deps);
    const q = await deps.store.getRequest(id);
    return q && maySeeRequest(deps.policy(), a.session.principal, q) ? q : null;
  }

  async function inboxItems(a: Authed) {
    await expireDue(deps);
    const policy = deps.policy();
    const pending = await deps.store.listRequests({ state: "pending", limit: 500 });
    return pending.filter((q) => decisionRefusal(policy, a.session.principal, q) === null).sort((x, y) => y.createdAt - x.createdAt);
  }

  const inboxVersion = (qs: { id: string; state: string; approvals: unknown[] }[]) => fingerprint(qs.map((q) => [q.id, q.state, q.approvals.length]));
  const requestVersion = (q: { id: string; state: string; approvals: unknown[] }) => fingerprint([q.id, q.state, q.approvals.length]);

  async function showRequest(a: Authed, id: string, status = 200, notice?: Html) {
    const q = await visibleRequest(a, id);
    if (!q) {
      await audit(deps, a.caller, "console", "denied", { page: "request", request_id: id, why: "not visible to this person" });
      return errorPage(a, 404, "No such request", html`There is no request ${id} that you may see. <code>jit requests</code> lists yours.`, a.viewer);
    }
    await audit(deps, a.caller, "console", "ok", { page: "request", request_id: id });
    const preview = q.sql && q.state === "pending" ? await statementPreview(deps, q.sql) : undefined;
    sendPage(a.res, status, pageFor(a, `Request ${q.id}`, requestBody(deps, q, a.viewer, preview, requestVersion(q), notice), "inbox"));
  }

  async function decide(a: Authed, id: string, kind: "approve" | "deny", form: URLSearchParams) {
    try {
      if (kind === "approve") await approveRequest(deps, a.caller, id, (form.get("comment") ?? "").trim() || null);
      else await denyRequest(deps, a.caller, id, form.get("reason") ?? "");
      redirect(a.res, `/console/requests/${encodeURIComponent(id)}?done=${kind === "approve" ? "approved" : "denied"}`);
    } catch (err) {
      if (!(err instanceof JitError) || err.code === "internal") throw err;
      const status = err.code === "denied" ? 403 : 400;
      await showRequest(a, id, status, html`<p class="notice bad" role="alert">${err.message}${err.hint ? html` (${err.hint})` : ""}</p>`);
    }
  }

  async function mine(a: Authed, notice?: Html, status = 200) {
    const p = a.session.principal;
    const [requests, grants] = await Promise.all([
      deps.store.listRequests({ requesterSubject: p.subject, limit: 100 }),
      deps.store.listGrants({ holderSubject: p.subject }),
    ]);
    await audit(deps, a.caller, "console", "ok", { page: "mine" });
    grants.sort((x, y) => y.createdAt - x.createdAt);
    sendPage(a.res, status, pageFor(a, "My requests and grants", mineBody(deps, requests.sort((x, y) => y.createdAt - x.createdAt), grants.slice(0, 100), a.viewer, notice), "mine"));
  }

  async function requireAuditor(a: Authed, what: string): Promise<boolean> {
    if (mayReadAudit(deps.policy(), a.session.principal)) return true;
    await audit(deps, a.caller, "audit_read", "denied", { what, console: true });
    errorPage(a, 403, "Auditors only", html`Only auditors and admins may read the whole audit log. <code>jit audit list --mine</code> shows your own records.`, a.viewer);
    return false;
  }

  async function auditList(a: Authed) {
    if (!(await requireAuditor(a, "list"))) return;
    const q = a.url.searchParams;
    const f: AuditFilters = { actor: q.get("user") ?? "", action: q.get("action") ?? "", outcome: q.get("outcome") ?? "", dataset: q.get("dataset") ?? "", since: q.get("since") ?? "", until: q.get("until") ?? "" };
    const time = (raw: string, name: string) => {
      if (!raw) return undefined;
      const t = Date.parse(raw);
      if (Number.isNaN(t)) throw new JitError("usage", `"${name}" must be a date or time such as 2026-11-27 or 2026-11-27T10:00:00Z`);
      return t;
    };
    const limit = 50;
    let records: AuditRecord[] = [];
    let next: number | null = null;
    let error: string | undefined;
    try {
      const after = Number(q.get("after") ?? 0);
      records = await deps.store.listAudit({
        actor: f.actor || undefined, action: f.action || undefined, outcome: f.outcome || undefined,
        since: time(f.since, "since"), until: time(f.until, "until"), afterSeq: Number.isInteger(after) && after > 0 ? after : undefined, limit,
      });
      next = records.length === limit ? records.at(-1)!.seq : null;
      if (f.dataset) records = records.filter((x) => JSON.stringify(x.details.datasets ?? x.details.tables ?? []).includes(f.dataset));
    } catch (err) {
      if (!(err instanceof JitError) || err.code !== "usage") throw err;
      error = err.message;
    }
    await audit(deps, a.caller, "audit_read", "ok", { what: "list", console: true, filters: Object.fromEntries(q) });
    sendPage(a.res, error ? 400 : 200, pageFor(a, "Audit log", auditListBody(f, records, next, error), "audit"));
  }

  async function resultOf(rec: AuditRecord): Promise<{ query: AuditRecord; result: AuditRecord } | null> {
    if (rec.details.result) {
      const query = await deps.store.getAudit(String(rec.details.query_audit_id ?? ""));
      return query ? { query, result: rec } : null;
    }
    if (rec.action !== "query") return null;
    const later = await deps.store.listAudit({ action: "query.result", afterSeq: rec.seq, limit: 1000 });
    const result = later.find((r) => r.details.query_audit_id === rec.id && r.details.result);
    return result ? { query: rec, result } : null;
  }

  async function auditRecord(a: Authed, id: string, replay: boolean) {
    const rec = /^[0-9]{1,16}$/.test(id) ? await deps.store.getAudit(id) : null;
    if (!rec || (!mayReadAudit(deps.policy(), a.session.principal) && rec.actorSubject !== a.session.principal.subject)) {
      await audit(deps, a.caller, "audit_read", "denied", { what: replay ? "replay" : "record", id, console: true });
      return errorPage(a, 404, "No such record", html`There is no audit record ${id} that you may read.`, a.viewer);
    }
    const pair = await resultOf(rec);
    await audit(deps, a.caller, "audit_read", "ok", { what: replay ? "replay" : "record", id: rec.id, console: true });
    if (!replay) return sendPage(a.res, 200, pageFor(a, `Audit record ${rec.seq}`, auditDetailBody(rec, pair !== null), "audit"));
    if (!pair) return errorPage(a, 404, "Nothing to replay", html`Audit record ${rec.seq} holds no query result.`, a.viewer);
    sendPage(a.res, 200, pageFor(a, `Replay of record ${rec.seq}`, replayBody(pair.query, pair.result), "audit"));
  }

  async function auditVerify(a: Authed) {
    if (!(await requireAuditor(a, "verify"))) return;
    const anchorRaw = (a.url.searchParams.get("anchor") ?? "").trim();
    const run = a.url.searchParams.get("run") === "1";
    if (!run) {
      await audit(deps, a.caller, "console", "ok", { page: "audit-verify" });
      return sendPage(a.res, 200, pageFor(a, "Verify the audit chain", verifyBody(anchorRaw), "audit"));
    }
    const m = anchorRaw ? /^([1-9][0-9]{0,15}):([0-9a-f]{64})$/.exec(anchorRaw) : null;
    if (anchorRaw && !m) {
      await audit(deps, a.caller, "console", "ok", { page: "audit-verify" });
      return sendPage(a.res, 400, pageFor(a, "Verify the audit chain", verifyBody(anchorRaw, undefined, "The anchor must be SEQ:HASH as printed by an earlier verify: a record number, a colon, and 64 hex digits."), "audit"));
    }
    await audit(deps, a.caller, "audit_read", "ok", { what: "verify", anchor: m ? { seq: Number(m[1]), hash: m[2] } : undefined, console: true });
    let outcome: Parameters<typeof verifyBody>[1];
    if (m) {
      const rec = await deps.store.getAudit(m[1]!);
      if (!rec || rec.hash !== m[2]) {
        outcome = { ok: false, checked: 0, broken: { seq: Number(m[1]), message: rec ? "that record no longer has the anchored hash: history was rewritten" : "that record is gone: the log was truncated" } };
      }
    }
    if (!outcome) {
      let after = 0;
      let count = 0;
      let prev: AuditRecord | undefined;
      for (;;) {
        const pageOf = await deps.store.listAudit({ afterSeq: after, limit: 1000 });
        if (pageOf.length === 0) break;
        const broken = verifyChain(pageOf, prev ? { seq: prev.seq, hash: prev.hash } : undefined);
        if (broken) {
          outcome = { ok: false, checked: count, broken };
          break;
        }
        count += pageOf.length;
        prev = pageOf.at(-1)!;
        after = prev.seq;
      }
      outcome ??= { ok: true, checked: count, head: prev ? { seq: prev.seq, hash: prev.hash } : null };
    }
    sendPage(a.res, 200, pageFor(a, "Verify the audit chain", verifyBody(anchorRaw, outcome), "audit"));
  }

  async function policyPage(a: Authed, form?: URLSearchParams) {
    const policy = deps.policy();
    const privileged = mayReadAudit(policy, a.session.principal);
    const p = a.session.principal;
    const input = { as: form?.get("as") ?? p.username, groups: form?.get("groups") ?? p.groups.join(","), sql: form?.get("sql") ?? "" };
    let result: unknown;
    let error: string | undefined;
    if (form) {
      try {
        const { explainQuery } = await import("../broker/explain.ts");
        const groups = privileged ? input.groups.split(",").map((g) => g.trim()).filter(Boolean) : [];
        result = await explainQuery(deps, a.caller, { as: privileged ? input.as.trim() : p.username, groups, sql: input.sql });
      } catch (err) {
        if (!(err instanceof JitError) || err.code === "internal") throw err;
        error = err.message;
      }
    }
    await audit(deps, a.caller, "console", "ok", { page: form ? "policy-explain" : "policy", ...(form ? { sql: input.sql, as: input.as } : {}) });
    sendPage(a.res, error ? 400 : 200, pageFor(a, "Policy", policyBody(policy, a.viewer.csrf, input, privileged, result, error), "policy"));
  }

  async function route(a: Authed): Promise<void> {
    const { req, url } = a;
    const path = url.pathname;
    const method = req.method ?? "GET";
    const wait = (method === "POST" ? writeLimit : readLimit).hit(a.session.id);
    if (wait) return errorPage(a, 429, "Slow down", `Too many requests; wait ${wait} s.`, a.viewer);
    let m: RegExpExecArray | null;
    if (method === "GET") {
      if (path === "/console/") {
        const items = await inboxItems(a);
        await audit(deps, a.caller, "console", "ok", { page: "inbox", shown: items.map((q) => q.id) });
        const withPreview = await Promise.all(items.map(async (q) => ({ q, preview: q.sql ? await statementPreview(deps, q.sql) : undefined })));
        return sendPage(a.res, 200, pageFor(a, "Inbox", inboxBody(deps, withPreview, a.viewer, inboxVersion(items)), "inbox"));
      }
      if (path === "/console/live/inbox") return sendConsoleJson(a.res, 200, { v: inboxVersion(await inboxItems(a)) });
      if ((m = /^\/console\/live\/requests\/([A-Za-z0-9_-]{1,64})$/.exec(path))) {
        const q = await visibleRequest(a, m[1]!);
        return q ? sendConsoleJson(a.res, 200, { v: requestVersion(q) }) : sendConsoleJson(a.res, 404, { error: "not found" });
      }
      if ((m = /^\/console\/requests\/([A-Za-z0-9_-]{1,64})$/.exec(path))) {
        const done = url.searchParams.get("done") ?? "";
        return showRequest(a, m[1]!, 200, NOTICES[done] ? html`<p class="notice ok" role="status">${NOTICES[done]!}</p>` : undefined);
      }
      if (path === "/console/mine") {
        const done = url.searchParams.get("done") ?? "";
        return mine(a, NOTICES[done] ? html`<p class="notice ok" role="status">${NOTICES[done]!}</p>` : undefined);
      }
      if (path === "/console/audit") return auditList(a);
      if (path === "/console/audit/verify") return auditVerify(a);
      if ((m = /^\/console\/audit\/([^/]{1,20})(\/replay)?$/.exec(path))) return auditRecord(a, m[1]!, Boolean(m[2]));
      if (path === "/console/policy") return policyPage(a);
    }
    if (method === "POST") {
      const form = await readForm(req);
      if (await checkForgery(a, form)) {
        return errorPage(a, 403, "Refused", "This form did not come from a console page you opened, so nothing was done. Reload the page and try again.", a.viewer);
      }
      if ((m = /^\/console\/requests\/([A-Za-z0-9_-]{1,64})\/(approve|deny)$/.exec(path))) return decide(a, m[1]!, m[2] as "approve" | "deny", form);
      if ((m = /^\/console\/grants\/([A-Za-z0-9_-]{1,64})\/revoke$/.exec(path))) {
        try {
          await revokeGrant(deps, a.caller, m[1]!, "revoked in the console");
          return redirect(a.res, "/console/mine?done=revoked");
        } catch (err) {
          if (!(err instanceof JitError) || err.code === "internal") throw err;
          return mine(a, html`<p class="notice bad" role="alert">${err.message}</p>`, err.code === "denied" ? 403 : 400);
        }
      }
      if (path === "/console/policy/explain") return policyPage(a, form);
      if (path === "/console/logout") {
        sessions.end(a.session.id);
        await audit(deps, a.caller, "console", "ok", { page: "sign-out" });
        return sendPage(a.res, 200, page("Signed out", html`<div class="center card"><h1>Signed out</h1><p><a href="/console/login">Sign in again</a></p></div>`), {
          "set-cookie": cookie(sessionCookie(a.secure), "", { secure: a.secure, sameSite: "Strict", path: "/", maxAgeSeconds: 0 }),
        });
      }
    }
    await audit(deps, a.caller, "console", "denied", { page: path, method, why: "no such page" });
    errorPage(a, 404, "Not found", "There is no such console page.", a.viewer);
  }

  return async function consoleHandler(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    const base = { req, res, url };
    let ctx: Ctx | undefined;
    try {
      const origin = ownOrigin(req, opts.publicUrl);
      ctx = { ...base, origin, secure: cookieSecure(origin) };
      if (url.pathname === "/console") return redirect(res, "/console/", 301);
      const asset = req.method === "GET" ? findAsset(url.pathname) : undefined;
      if (asset) return sendAsset(res, asset.type, asset.body);
      if (url.pathname === "/console/login" && req.method === "GET") return await beginSignIn(ctx, safeReturn(url.searchParams.get("return")));
      if (url.pathname === CALLBACK_PATH && req.method === "GET") return await callback(ctx);
      const session = await sessionOf(ctx);
      if (!session) {
        if (req.method !== "GET") return errorPage(ctx, 401, "Signed out", html`Your session ended. <a href="/console/login">Sign in again</a>; nothing was done.`);
        if (url.pathname.startsWith("/console/live/")) return sendConsoleJson(res, 401, { error: "signed out" });
        // A link followed from another site (a chat message) arrives without the Strict cookie: look again from here first.
        if (req.headers["sec-fetch-site"] === "cross-site" && !url.searchParams.has("again")) {
          const again = `${url.pathname}${url.search ? `${url.search}&` : "?"}again=1`;
          return sendPage(res, 200, page("Opening", html`<div class="center card"><p><a href="${again}">Continue to the console</a></p></div>`, { refresh: again }));
        }
        const back = new URLSearchParams(url.search);
        back.delete("again");
        const target = `${url.pathname}${back.size ? `?${back}` : ""}`;
        return await beginSignIn(ctx, safeReturn(target));
      }
      const caller: Caller = { principal: session.principal, client: clientOf(req) };
      await route({ ...ctx, session, caller, viewer: viewerOf(session) });
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      const known = err instanceof JitError && err.code !== "internal";
      if (!known) deps.log(`console error on ${req.method} ${url.pathname}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      const c = ctx ?? { ...base, origin: new URL("http://invalid.invalid"), secure: true };
      const message = known ? (err as JitError).message : err instanceof JitError ? err.message : "The console hit an unexpected error; the broker's log has the details.";
      errorPage(c, known ? 400 : 500, known ? "Cannot do that" : "Something went wrong", message);
    }
  };
}
