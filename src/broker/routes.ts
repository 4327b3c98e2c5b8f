/** The broker's JSON API: one route per operation, each a thin adapter over access.ts, query.ts and metadata.ts. */
import { JitError } from "../errors.ts";
import type { Policy, Principal } from "../policy/types.ts";
import type { AccessRequest } from "../store/types.ts";
import { isAdmin, isAuditor } from "../policy/evaluate.ts";
import { approvalRefusal, approveRequest, denyRequest, expireDue, fileRequest, fileStatementRequest, liveGrants, revokeGrant } from "./access.ts";
import { audit, type BrokerDeps, type Caller } from "./context.ts";
import { optString, readJson, Router, sendJson, type RouteContext } from "./http.ts";
import { describeTable, listDatasets, listTables } from "./metadata.ts";
import { analyseStatement } from "./plan.ts";
import { runQuery } from "./query.ts";

/** What a single-statement request would read and return, under the current policy, for approvers to judge. */
async function statementPreview(deps: BrokerDeps, sql: string) {
  try {
    const s = await analyseStatement(deps, sql);
    return { tables: s.tables, masked_columns: s.columns.filter((c) => c.style).map((c) => ({ name: c.name, mask: c.style })), bytes_estimate: s.bytesEstimate };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
import { auditRoutes } from "./audit-routes.ts";
import { explainQuery } from "./explain.ts";
import { grantView, requestView } from "./views.ts";

export type Authenticate = (ctx: RouteContext) => Promise<Caller>;

/** Who may see a request: its requester, admins, whoever may decide it while pending, and whoever decided it. */
function maySeeRequest(policy: Policy, p: Principal, q: AccessRequest): boolean {
  if (q.requesterSubject === p.subject || isAdmin(policy, p) || q.decidedBy === p.username) return true;
  return q.state === "pending" && approvalRefusal(policy, p, q) === null;
}

/** Builds the route table of the authenticated API. */
export function apiRoutes(deps: BrokerDeps, authenticate: Authenticate): Router {
  const r = new Router();
  const authed = (fn: (ctx: RouteContext, caller: Caller) => Promise<unknown>) => async (ctx: RouteContext) =>
    fn(ctx, await authenticate(ctx));

  r.add("GET", "/healthz", async () => ({ ok: true, version: deps.version, mode: deps.mode, store: deps.store.kind }));
  // Readiness (store only so far): a replica that lost its store, or cannot write it, is taken out of the load balancer.
  r.add("GET", "/readyz", async (ctx) => {
    const problem = await deps.store.ready().then(() => null, (err: unknown) => (err instanceof Error ? err.message : String(err)));
    if (problem) return sendJson(ctx.res, 503, { ready: false, checks: { store: { ok: false, kind: deps.store.kind, problem } } });
    return { ready: true, checks: { store: { ok: true, kind: deps.store.kind } } };
  });
  r.add("GET", "/v1/login-settings", async () => deps.loginSettings);

  r.add("GET", "/v1/whoami", authed(async (_ctx, c) => {
    const p = c.principal;
    const grants = await liveGrants(deps, p);
    const policy = deps.policy();
    await audit(deps, c, "metadata", "ok", { what: "whoami" });
    return {
      subject: p.subject, username: p.username, email: p.email ?? null, groups: p.groups,
      admin: isAdmin(policy, p), auditor: isAuditor(policy, p),
      grants: grants.map((g) => grantView(g, deps.now())),
    };
  }));

  r.add("POST", "/v1/requests", authed(async (ctx, c) => {
    const body = await readJson(ctx.req);
    const sql = optString(body, "sql");
    if (sql !== undefined) return fileStatementRequest(deps, c, sql, optString(body, "reason") ?? "");
    const datasets = body.datasets;
    if (!Array.isArray(datasets) || !datasets.every((d) => typeof d === "string")) {
      throw new JitError("usage", '"datasets" must be a list of dataset names');
    }
    const duration = body.duration_seconds;
    if (duration !== undefined && (typeof duration !== "number" || !Number.isInteger(duration) || duration < 1)) {
      throw new JitError("usage", '"duration_seconds" must be a whole number of seconds, at least 1');
    }
    return fileRequest(deps, c, {
      datasets: datasets as string[],
      reason: optString(body, "reason") ?? "",
      durationMs: duration === undefined ? undefined : Math.round((duration as number) * 1000),
    });
  }));

  r.add("GET", "/v1/requests", authed(async (ctx, c) => {
    await expireDue(deps);
    const pending = ctx.url.searchParams.get("pending") === "1";
    const mine = ctx.url.searchParams.get("mine") === "1";
    const policy = deps.policy();
    const all = await deps.store.listRequests({ state: pending ? "pending" : undefined, limit: 500 });
    await audit(deps, c, "metadata", "ok", { what: "requests", pending, mine });
    const visible = all.filter((q) => (mine ? q.requesterSubject === c.principal.subject : maySeeRequest(policy, c.principal, q)));
    return {
      requests: await Promise.all(visible.map(async (q) => ({
        ...requestView(q),
        can_approve: q.state === "pending" && approvalRefusal(policy, c.principal, q) === null,
        statement: q.sql && q.state === "pending" ? await statementPreview(deps, q.sql) : undefined,
      }))),
    };
  }));

  r.add("GET", "/v1/requests/:id", authed(async (ctx, c) => {
    await expireDue(deps);
    const q = await deps.store.getRequest(ctx.params.id!);
    const policy = deps.policy();
    if (!q || !maySeeRequest(policy, c.principal, q)) {
      throw new JitError("usage", `there is no request ${ctx.params.id} that you may see`, { hint: "jit requests", details: { status: 404 } });
    }
    const grant = q.grantId ? await deps.store.getGrant(q.grantId) : null;
    await audit(deps, c, "metadata", "ok", { what: "request", request_id: q.id });
    return { request: requestView(q, grant) };
  }));

  r.add("POST", "/v1/requests/:id/approve", authed(async (ctx, c) => {
    const body = await readJson(ctx.req);
    return approveRequest(deps, c, ctx.params.id!, optString(body, "comment") ?? null);
  }));

  r.add("POST", "/v1/requests/:id/deny", authed(async (ctx, c) => {
    const body = await readJson(ctx.req);
    return denyRequest(deps, c, ctx.params.id!, optString(body, "reason") ?? "");
  }));

  r.add("GET", "/v1/grants", authed(async (ctx, c) => {
    const all = ctx.url.searchParams.get("all") === "1";
    const now = deps.now();
    const grants = await deps.store.listGrants({ holderSubject: c.principal.subject, activeAt: all ? undefined : now });
    await audit(deps, c, "metadata", "ok", { what: "grants", all });
    return { grants: grants.map((g) => grantView(g, now)) };
  }));

  r.add("POST", "/v1/grants/:id/revoke", authed(async (ctx, c) => {
    const body = await readJson(ctx.req);
    return revokeGrant(deps, c, ctx.params.id!, optString(body, "reason") ?? null);
  }));

  r.add("POST", "/v1/query", authed(async (ctx, c) => {
    const body = await readJson(ctx.req);
    const sql = optString(body, "sql") ?? "";
    const maxRows = body.max_rows;
    if (maxRows !== undefined && (typeof maxRows !== "number" || !Number.isInteger(maxRows) || maxRows < 0)) {
      throw new JitError("usage", '"max_rows" must be a whole number ≥ 0');
    }
    // A caller that goes away (Ctrl-C, a killed agent) cancels the warehouse job instead of leaving it to run and bill.
    const gone = new AbortController();
    ctx.res.on("close", () => {
      if (!ctx.res.writableFinished) gone.abort();
    });
    return runQuery(deps, c, { sql, maxRows: maxRows as number | undefined, dryRun: body.dry_run === true, signal: gone.signal });
  }));

  r.add("GET", "/v1/datasets", authed(async (_ctx, c) => listDatasets(deps, c)));
  r.add("GET", "/v1/datasets/:dataset/tables", authed(async (ctx, c) => listTables(deps, c, ctx.params.dataset!)));
  r.add("GET", "/v1/tables/:table", authed(async (ctx, c) => describeTable(deps, c, ctx.params.table!)));

  r.add("POST", "/v1/policy/explain", authed(async (ctx, c) => {
    const body = await readJson(ctx.req);
    const groups = body.groups;
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === "string")) throw new JitError("usage", '"groups" must be a list of group names');
    return explainQuery(deps, c, { as: optString(body, "as") ?? "", groups: groups as string[], sql: optString(body, "sql") ?? "" });
  }));

  auditRoutes(r, deps, authed);
  return r;
}
