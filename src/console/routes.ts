/**
 * The console as one declared table, like the API's (broker/routes.ts): each page and form names its method, path,
 * the `authorize()` action it performs, its audit name, the resource it acts on, and how it renders. The handler runs
 * every one through the API's own decision step (broker/pipeline.ts `decide`), so a page that shows a request, a grant
 * or an audit record is allowed by the same rule as the API route for it, and is on the audit log before anything
 * beyond that resource is read or rendered.
 *
 * What is not recorded, and why (everything in this table is still authorized):
 * - the live-update polls (/console/live/*): an open page asks every 2 s, and a record each time would bury the log;
 *   the page they belong to was recorded when it was opened, and a poll answers only a fingerprint, never data;
 * - static assets (hashed, the same for everyone) and sign-in (login and callback): sign-in.ts records those itself,
 *   and they are answered before a session exists; they never reach this table.
 */
import { createHash } from "node:crypto";
import { approveRequest, cancelRequest, denyRequest, expireDue, revokeGrant } from "../broker/access.ts";
import { statusOf } from "../broker/http.ts";
import { decide, type Decided, Refused } from "../broker/pipeline.ts";
import { JitError } from "../errors.ts";
import { authorize, type Resource } from "../policy/authorize.ts";
import type { Policy, Principal } from "../policy/types.ts";
import { consoleAuditRoutes } from "./audit-routes.ts";
import { statementPreview } from "./data.ts";
import { redirect, sendConsoleJson, sendPage } from "./edge.ts";
import { html, type Html } from "./html.ts";
import { page } from "./layout.ts";
import { policyBody } from "./pages/policy.ts";
import { inboxBody, mineBody, requestBody } from "./pages/requests.ts";
import { type ConsoleInput, type ConsoleRoute, errorPage, send } from "./route-kit.ts";

export { type ConsoleInput, type ConsoleRoute, errorPage } from "./route-kit.ts";

const PARAMS: Record<string, string> = { id: "([A-Za-z0-9_-]{1,64})", seq: "([^/]{1,20})" };

/** Compiles a route's path; the first route of the table whose method and path match answers. */
export function compileConsolePath(path: string): (pathname: string) => Record<string, string> | null {
  const keys: string[] = [];
  const re = new RegExp(`^${path.replace(/:([a-z]+)/g, (_, k: string) => (keys.push(k), PARAMS[k]!))}$`);
  return (pathname) => {
    const m = re.exec(pathname);
    return m ? Object.fromEntries(keys.map((k, i) => [k, m[i + 1]!])) : null;
  };
}

const NOTICES: Record<string, string> = {
  approved: "You approved this request.",
  denied: "You denied this request.",
  revoked: "The grant was revoked.",
  cancelled: "You withdrew the request; nobody can approve it now.",
};

const doneNotice = (i: ConsoleInput): Html | undefined => {
  const done = i.query.get("done") ?? "";
  return NOTICES[done] ? html`<p class="notice ok" role="status">${NOTICES[done]!}</p>` : undefined;
};
const badNotice = (message: string): Html => html`<p class="notice bad" role="alert">${message}</p>`;

const fingerprint = (parts: unknown): string => createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 22);
const inboxVersion = (qs: { id: string; state: string; approvals: unknown[] }[]) => fingerprint(qs.map((q) => [q.id, q.state, q.approvals.length]));
const requestVersion = (q: { id: string; state: string; approvals: unknown[] }) => fingerprint([q.id, q.state, q.approvals.length]);

/** Whether `p` reads (and explains for) everyone: the API's audit.read rule for the whole log. */
export const readsEverything = (policy: Policy, p: Principal): boolean =>
  authorize(policy, p, "audit.read", { kind: "audit_log", scope: "all" }).allowed;

const requestResource = async ({ deps, params }: ConsoleInput): Promise<Resource> => {
  await expireDue(deps);
  return { kind: "request", id: params.id!, request: await deps.store.getRequest(params.id!) };
};
const noSuchRequest = (i: ConsoleInput) =>
  errorPage(i.res, 404, "No such request", html`There is no request ${i.params.id!} that you may see. <code>jit requests</code> lists yours.`, i.viewer);

/** Runs another route of the table for this request (a refused form shows the page it came from): decided and recorded too. */
async function view(route: ConsoleRoute, i: ConsoleInput, extra: { notice?: Html; status?: number }): Promise<void> {
  const again = { ...i, ...extra };
  let d: Decided;
  try {
    d = await decide(i.deps, i.caller, route, again, { route: `${route.method} ${route.path}` });
  } catch (err) {
    if (err instanceof Refused) return route.refused(again, err);
    throw err;
  }
  return route.render(again, d);
}

const REQUEST_PAGE: ConsoleRoute = {
  method: "GET", path: "/console/requests/:id", action: "request.read", audit: "console",
  resource: requestResource,
  describe: ({ params }) => ({ page: "request", request_id: params.id }),
  render: async (i) => {
    const q = (await i.deps.store.getRequest(i.params.id!))!;
    const preview = q.sql && q.state === "pending" ? await statementPreview(i.deps, q.sql) : undefined;
    send(i, i.status ?? 200, `Request ${q.id}`, requestBody(i.deps, q, i.viewer, preview, requestVersion(q), i.notice ?? doneNotice(i)), "inbox");
  },
  refused: noSuchRequest,
};

const MINE_PAGE: ConsoleRoute = {
  // Only the person's own requests and grants: the API's rule for `jit requests --mine` and `jit grants`.
  method: "GET", path: "/console/mine", action: "request.list", audit: "console",
  resource: () => ({ kind: "requests" }),
  describe: () => ({ page: "mine" }),
  render: async (i) => {
    const p = i.caller.principal;
    const [requests, grants] = await Promise.all([
      i.deps.store.listRequests({ requesterSubject: p.subject, limit: 100 }),
      i.deps.store.listGrants({ holderSubject: p.subject }),
    ]);
    grants.sort((x, y) => y.createdAt - x.createdAt);
    requests.sort((x, y) => y.createdAt - x.createdAt);
    send(i, i.status ?? 200, "My requests and grants", mineBody(i.deps, requests, grants.slice(0, 100), i.viewer, i.notice ?? doneNotice(i)), "mine");
  },
  refused: (i, err) => errorPage(i.res, statusOf(err), "Refused", err.message, i.viewer),
};

/** The pending requests `caller` may decide now (authorize "request.decide" on each), newest first. */
async function inboxItems(i: ConsoleInput) {
  await expireDue(i.deps);
  const policy = i.deps.policy();
  const pending = await i.deps.store.listRequests({ state: "pending", limit: 500 });
  return pending
    .filter((q) => authorize(policy, i.caller.principal, "request.decide", { kind: "request", id: q.id, request: q }).allowed)
    .sort((x, y) => y.createdAt - x.createdAt);
}

/** A decision (approve or deny) posted from a request's page. */
function decision(kind: "approve" | "deny"): ConsoleRoute {
  return {
    method: "POST", path: `/console/requests/:id/${kind}`, action: "request.decide", audit: kind, handlerAudits: "after-access",
    resource: requestResource,
    describe: ({ params }) => ({ request_id: params.id, decision: kind }),
    render: async (i) => {
      const id = i.params.id!;
      try {
        if (kind === "approve") await approveRequest(i.deps, i.caller, id, (i.form!.get("comment") ?? "").trim() || null);
        else await denyRequest(i.deps, i.caller, id, i.form!.get("reason") ?? "");
        redirect(i.res, `/console/requests/${encodeURIComponent(id)}?done=${kind === "approve" ? "approved" : "denied"}`);
      } catch (err) {
        if (!(err instanceof JitError) || err.code === "internal") throw err;
        await view(REQUEST_PAGE, i, { status: err.code === "denied" ? 403 : 400, notice: badNotice(`${err.message}${err.hint ? ` (${err.hint})` : ""}`) });
      }
    },
    // The request's page with why; someone who may not see the request gets that page's 404 instead.
    refused: (i, err) => view(REQUEST_PAGE, i, { status: 403, notice: badNotice(`${err.message}${err.hint ? ` (${err.hint})` : ""}`) }),
  };
}

/** A refused or failed form of "my requests" shows that page again with why. */
const backToMine = (i: ConsoleInput, status: number, message: string) => view(MINE_PAGE, i, { status, notice: badNotice(message) });


/** The console's route table: every page and form it answers once a person is signed in. */
export function consoleRoutes(): ConsoleRoute[] {
  return [
    {
      method: "GET", path: "/console/", action: "inbox.read", audit: "console",
      resource: () => ({ kind: "self" }),
      describe: () => ({ page: "inbox" }),
      render: async (i) => {
        const items = await inboxItems(i);
        const withPreview = await Promise.all(items.map(async (q) => ({ q, preview: q.sql ? await statementPreview(i.deps, q.sql) : undefined })));
        send(i, 200, "Inbox", inboxBody(i.deps, withPreview, i.viewer, inboxVersion(items)), "inbox");
      },
      refused: (i, err) => errorPage(i.res, statusOf(err), "Refused", err.message, i.viewer),
    },
    {
      method: "GET", path: "/console/live/inbox", action: "inbox.read", audit: null,
      resource: () => ({ kind: "self" }),
      render: async (i) => sendConsoleJson(i.res, 200, { v: inboxVersion(await inboxItems(i)) }),
      refused: (i) => sendConsoleJson(i.res, 403, { error: "refused" }),
    },
    {
      // The same rule as the request's page: nobody learns the state of a request they may not see.
      method: "GET", path: "/console/live/requests/:id", action: "request.read", audit: null,
      resource: requestResource,
      render: async (i) => sendConsoleJson(i.res, 200, { v: requestVersion((await i.deps.store.getRequest(i.params.id!))!) }),
      refused: (i) => sendConsoleJson(i.res, 404, { error: "not found" }),
    },
    REQUEST_PAGE,
    MINE_PAGE,
    ...consoleAuditRoutes(),
    {
      method: "GET", path: "/console/policy", action: "policy.read", audit: "console",
      resource: () => ({ kind: "service" }),
      describe: () => ({ page: "policy" }),
      render: (i) => policyPage(i),
      refused: (i, err) => errorPage(i.res, statusOf(err), "Refused", err.message, i.viewer),
    },
    {
      // Auditors and admins explain for anyone; everyone else for themselves, whatever the form says (it shows no fields).
      method: "POST", path: "/console/policy/explain", action: "policy.explain", audit: "explain",
      resource: (i) => ({ kind: "explain", ...explainAs(i) }),
      describe: (i) => ({ page: "policy-explain", ...explainAs(i), sql: i.form!.get("sql") ?? "" }),
      render: (i) => policyPage(i, explainAs(i)),
      refused: (i, err) => errorPage(i.res, statusOf(err), "Refused", err.message, i.viewer),
    },
    decision("approve"),
    decision("deny"),
    {
      // The requester withdraws a pending request: the API's rule (404 to those who may not see it, 403 to others).
      method: "POST", path: "/console/requests/:id/cancel", action: "request.cancel", audit: "cancel", handlerAudits: "after-access",
      resource: requestResource,
      describe: ({ params }) => ({ request_id: params.id }),
      render: async (i) => {
        try {
          await cancelRequest(i.deps, i.caller, i.params.id!);
          redirect(i.res, "/console/mine?done=cancelled");
        } catch (err) {
          if (!(err instanceof JitError) || err.code === "internal") throw err;
          await backToMine(i, typeof err.details.status === "number" ? err.details.status : 400, err.message);
        }
      },
      refused: (i, err) => backToMine(i, statusOf(err), err.decision.refusal === "missing" ? `There is no request ${i.params.id!} that you may see.` : err.message),
    },
    {
      method: "POST", path: "/console/grants/:id/revoke", action: "grant.revoke", audit: "revoke", handlerAudits: "after-access",
      resource: async ({ deps, params }) => ({ kind: "grant", id: params.id!, grant: await deps.store.getGrant(params.id!) }),
      describe: ({ params }) => ({ grant_id: params.id, reason: "revoked in the console" }),
      render: async (i) => {
        try {
          await revokeGrant(i.deps, i.caller, i.params.id!, "revoked in the console");
          redirect(i.res, "/console/mine?done=revoked");
        } catch (err) {
          if (!(err instanceof JitError) || err.code === "internal") throw err;
          await backToMine(i, err.code === "denied" ? 403 : 400, err.message);
        }
      },
      refused: (i, err) => backToMine(i, statusOf(err), err.decision.refusal === "missing" ? `There is no grant ${i.params.id!} that you may see.` : err.message),
    },
    {
      method: "POST", path: "/console/logout", action: "session.end", audit: "console",
      resource: () => ({ kind: "self" }),
      describe: () => ({ page: "sign-out" }),
      render: async (i) => sendPage(i.res, 200, page("Signed out", html`<div class="center card"><h1>Signed out</h1><p><a href="/console/login">Sign in again</a></p></div>`), {
        "set-cookie": await i.endSession(),
      }),
      refused: (i, err) => errorPage(i.res, statusOf(err), "Refused", err.message, i.viewer),
    },
  ];
}

/** Whom an explain is for: the form's person and groups for those who read everything, else the viewer as signed in. */
function explainAs(i: ConsoleInput): { as: string; groups: string[] } {
  const p = i.caller.principal;
  if (!readsEverything(i.deps.policy(), p)) return { as: p.username, groups: [] };
  return { as: (i.form?.get("as") ?? p.username).trim(), groups: (i.form?.get("groups") ?? p.groups.join(",")).split(",").map((g) => g.trim()).filter(Boolean) };
}

/** The policy in force, with the explain form (and, when one was posted, its answer). */
async function policyPage(i: ConsoleInput, as?: { as: string; groups: string[] }): Promise<void> {
  const policy = i.deps.policy();
  const p = i.caller.principal;
  const form = i.form;
  const input = { as: form?.get("as") ?? p.username, groups: form?.get("groups") ?? p.groups.join(","), sql: form?.get("sql") ?? "" };
  let result: unknown;
  let error: string | undefined;
  if (as) {
    try {
      const { explainQuery } = await import("../broker/explain.ts");
      result = await explainQuery(i.deps, i.caller, { ...as, sql: input.sql });
    } catch (err) {
      if (!(err instanceof JitError) || err.code === "internal") throw err;
      error = err.message;
    }
  }
  send(i, error ? 400 : 200, "Policy", policyBody(policy, i.viewer.csrf, input, readsEverything(policy, p), result, error), "policy");
}
