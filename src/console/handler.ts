/**
 * The web console at /console: OIDC sign-in, a server-side session, and server-rendered pages over the same domain
 * functions as the API (access.ts, explain.ts, the store), each page view and decision audited before it answers.
 * The mount point is one function, `createConsoleHandler(deps)(req, res)`, so any HTTP edge can host it.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { approveRequest, cancelRequest, denyRequest, expireDue, revokeGrant } from "../broker/access.ts";
import { audit, type BrokerDeps, type Caller } from "../broker/context.ts";
import { JitError } from "../errors.ts";
import { authorize } from "../policy/authorize.ts";
import { findAsset } from "./assets.ts";
import { auditPage, findReplay, parseAnchor, verifyAudit } from "./audit-data.ts";
import { decisionRefusal, maySeeRequest, mayReadAudit, statementPreview } from "./data.ts";
import { cookie, cookieSecure, ownOrigin, readForm, redirect, sendAsset, sendConsoleJson, sendPage } from "./edge.ts";
import { html, type Html } from "./html.ts";
import { page, type Section, type Viewer } from "./layout.ts";
import { createConsoleOidc, type ConsoleOidc } from "./oidc.ts";
import { auditDetailBody, auditListBody, replayBody, verifyBody, type AuditFilters } from "./pages/audit.ts";
import { policyBody } from "./pages/policy.ts";
import { inboxBody, mineBody, requestBody } from "./pages/requests.ts";
import { RateLimit } from "./rate-limit.ts";
import { sameSecret, SessionStore, type ConsoleSession } from "./session.ts";
import { CALLBACK_PATH, createSignIn, sessionCookieName, type Ctx } from "./sign-in.ts";

export interface ConsoleOptions {
  /** The broker's public URL (`public_url`); without it the origin is the one the request reached. */
  publicUrl?: string;
  /** Injected in tests; built from deps.loginSettings otherwise. */
  oidc?: ConsoleOidc;
  /** Real time for sessions and tokens (deps.now is the grant clock, which tests move). */
  clock?: () => number;
}

export { CALLBACK_PATH } from "./sign-in.ts";

type Authed = Ctx & { session: ConsoleSession; caller: Caller; viewer: Viewer };

const NOTICES: Record<string, string> = {
  approved: "You approved this request.",
  denied: "You denied this request.",
  revoked: "The grant was revoked.",
  cancelled: "You withdrew the request; nobody can approve it now.",
};

const fingerprint = (parts: unknown): string => createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 22);

/** A path inside the console to come back to after sign-in; anything else goes to the inbox. */
function safeReturn(raw: string | null): string {
  return raw && /^\/console(\/[A-Za-z0-9_\-./?=&%]*)?$/.test(raw) && !raw.includes("//") && !raw.includes("..") ? raw : "/console/";
}

/** Builds the console's request handler. */
export function createConsoleHandler(deps: BrokerDeps, opts: ConsoleOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const sessions = new SessionStore(deps.store, deps.hashKey, clock);
  const oidc = opts.oidc ?? createConsoleOidc(deps.loginSettings);
  // Per person and per address, like a busy API client: pages, writes, and sign-in attempts.
  const readLimit = new RateLimit(300, 60_000, clock);
  const writeLimit = new RateLimit(30, 60_000, clock);
  const clientOf = (req: IncomingMessage): Caller["client"] => ({
    kind: "console", name: "jit console", version: deps.version, address: req.socket.remoteAddress ?? "",
  });

  const pageFor = (a: Authed, title: string, body: Html, section: Section) => page(title, body, { viewer: a.viewer, section });

  const errorPage = (ctx: Ctx, status: number, title: string, message: Html | string, viewer?: Viewer) =>
    sendPage(ctx.res, status, page(title, html`<div class="center card"><h1>${title}</h1><p>${message}</p><p><a href="/console/">Back to the console</a></p></div>`, { viewer }));
  const signIn = createSignIn({ deps, sessions, oidc, clock, clientOf, errorPage });

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

  /** The requester withdraws a pending request: the API's rule (authorize "request.cancel"), then the same domain function. */
  async function cancel(a: Authed, id: string) {
    await expireDue(deps);
    const q = await deps.store.getRequest(id);
    const decision = authorize(deps.policy(), a.session.principal, "request.cancel", { kind: "request", id, request: q });
    if (!decision.allowed) {
      await audit(deps, a.caller, "cancel", "denied", { request_id: id, refusal: decision.refusal, why: decision.reason, console: true });
      const message = decision.refusal === "missing" ? `There is no request ${id} that you may see.` : decision.message ?? decision.reason;
      return mine(a, html`<p class="notice bad" role="alert">${message}</p>`, decision.refusal === "missing" ? 404 : 403);
    }
    try {
      await cancelRequest(deps, a.caller, id);
      return redirect(a.res, "/console/mine?done=cancelled");
    } catch (err) {
      if (!(err instanceof JitError) || err.code === "internal") throw err;
      return mine(a, html`<p class="notice bad" role="alert">${err.message}</p>`, typeof err.details.status === "number" ? err.details.status : 400);
    }
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
    let found: Awaited<ReturnType<typeof auditPage>> = { records: [], next: null };
    let error: string | undefined;
    try {
      found = await auditPage(deps.store, f, Number(q.get("after") ?? 0));
    } catch (err) {
      if (!(err instanceof JitError) || err.code !== "usage") throw err;
      error = err.message;
    }
    await audit(deps, a.caller, "audit_read", "ok", { what: "list", console: true, filters: Object.fromEntries(q) });
    sendPage(a.res, error ? 400 : 200, pageFor(a, "Audit log", auditListBody(f, found.records, found.next, error), "audit"));
  }

  async function auditRecord(a: Authed, id: string, replay: boolean) {
    const rec = /^[0-9]{1,16}$/.test(id) ? await deps.store.getAudit(id) : null;
    if (!rec || (!mayReadAudit(deps.policy(), a.session.principal) && rec.actorSubject !== a.session.principal.subject)) {
      await audit(deps, a.caller, "audit_read", "denied", { what: replay ? "replay" : "record", id, console: true });
      return errorPage(a, 404, "No such record", html`There is no audit record ${id} that you may read.`, a.viewer);
    }
    const pair = await findReplay(deps.store, rec);
    await audit(deps, a.caller, "audit_read", "ok", { what: replay ? "replay" : "record", id: rec.id, console: true });
    if (!replay) return sendPage(a.res, 200, pageFor(a, `Audit record ${rec.seq}`, auditDetailBody(rec, pair !== null), "audit"));
    if (!pair) return errorPage(a, 404, "Nothing to replay", html`Audit record ${rec.seq} holds no query result.`, a.viewer);
    sendPage(a.res, 200, pageFor(a, `Replay of record ${rec.seq}`, replayBody(pair.query, pair.result), "audit"));
  }

  async function auditVerify(a: Authed) {
    if (!(await requireAuditor(a, "verify"))) return;
    const raw = (a.url.searchParams.get("anchor") ?? "").trim();
    const anchor = parseAnchor(raw);
    const title = "Verify the audit chain";
    if (a.url.searchParams.get("run") !== "1" || anchor === null) {
      await audit(deps, a.caller, "console", "ok", { page: "audit-verify" });
      const error = anchor === null ? "Each anchor must be CHAIN:SEQ:HASH as printed by an earlier verify (or SEQ:HASH for chain 1): numbers, colons, and 64 hex digits, separated by commas." : undefined;
      return sendPage(a.res, error ? 400 : 200, pageFor(a, title, verifyBody(raw, undefined, error), "audit"));
    }
    await audit(deps, a.caller, "audit_read", "ok", { what: "verify", anchor, console: true });
    sendPage(a.res, 200, pageFor(a, title, verifyBody(raw, await verifyAudit(deps.store, anchor)), "audit"));
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
      if ((m = /^\/console\/requests\/([A-Za-z0-9_-]{1,64})\/cancel$/.exec(path))) return cancel(a, m[1]!);
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
        await sessions.end(a.session.id);
        await audit(deps, a.caller, "console", "ok", { page: "sign-out" });
        return sendPage(a.res, 200, page("Signed out", html`<div class="center card"><h1>Signed out</h1><p><a href="/console/login">Sign in again</a></p></div>`), {
          "set-cookie": cookie(sessionCookieName(a.secure), "", { secure: a.secure, sameSite: "Strict", path: "/", maxAgeSeconds: 0 }),
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
      if (url.pathname === "/console/login" && req.method === "GET") return await signIn.begin(ctx, safeReturn(url.searchParams.get("return")));
      if (url.pathname === CALLBACK_PATH && req.method === "GET") return await signIn.callback(ctx);
      const session = await signIn.sessionOf(ctx);
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
        return await signIn.begin(ctx, safeReturn(target));
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
