/**
 * The broker's API as one declared table. Each route states its method, path, schemas, the action it
 * performs and the resource it acts on; server.ts runs every one through the same pipeline
 * (authenticate, validate, authorize, audit the decision, run, map errors), so no route can skip a step.
 * Handlers are thin adapters over access.ts, query.ts, metadata.ts and explain.ts.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";
import * as api from "../api/schemas.ts";
import { JitError } from "../errors.ts";
import { type Action, type Authorization, authorize, decideRefusal, type Resource } from "../policy/authorize.ts";
import { isAdmin, isAuditor } from "../policy/evaluate.ts";
import { approveRequest, cancelRequest, denyRequest, expireDue, fileRequest, fileStatementRequest, liveGrants, qualifyDataset, revokeGrant, statementPreview } from "./access.ts";
import { auditRoutes } from "./audit-routes.ts";
import { waitWhilePending } from "./request-wait.ts";
import type { BrokerDeps, Caller } from "./context.ts";
import { ClientGone, sendJson } from "./http.ts";
import { describeTable, listDatasets, listTables, parseTableName } from "./metadata.ts";
import { grantView, requestView } from "./views.ts";

/** What a route's resource and run functions receive once the request is authenticated and validated. */
export interface RouteInput<P, Q, B> {
  deps: BrokerDeps;
  /** Null only on public routes. */
  caller: Caller;
  params: P;
  query: Q;
  body: B;
}

/** What `run` receives on top: the decision, its audit record, and a signal that fires when the client goes away. */
export interface RunInput<P, Q, B> extends RouteInput<P, Q, B> {
  decision: Authorization;
  auditId: string | null;
  signal: AbortSignal;
  /** Fires when the broker starts draining (shutdown): work that only waits (a long poll) answers now instead. */
  draining: AbortSignal;
  req: IncomingMessage;
  res: ServerResponse;
}

/** One declared route. */
export interface RouteDef<P = unknown, Q = unknown, B = unknown> {
  method: "GET" | "POST";
  path: string;
  action: Action;
  /** Public routes (health, login settings) take no token and write no audit record; nothing else may be public. */
  public?: true;
  /** The audit record's action name for this route's decisions ("approve", "metadata"). */
  audit: string;
  /**
   * The handler writes outcomes under `audit` itself (a grant issued, a request approved). With "after-access"
   * the front door's allowed decision is written first as an "access" record (so each outcome is recorded
   * once, and the decision before the act); with "first" the handler's own first act is writing the decision
   * record, before anything runs (runQuery: the statement's plan and grants, before the warehouse sees it).
   */
  handlerAudits?: "after-access" | "first";
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** The resource the action is performed on, loaded for the decision (an unknown id loads as null). */
  resource(i: RouteInput<P, Q, B>): Promise<Resource> | Resource;
  /** What the access record says about the request beyond route, action and resource (filters, names). */
  describe?(i: RouteInput<P, Q, B>): Record<string, unknown>;
  run(i: RunInput<P, Q, B>): Promise<unknown>;
}

/** Declares a route with its types inferred from its schemas. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = Record<string, never>>(def: RouteDef<P, Q, B>): RouteDef {
  return def as unknown as RouteDef;
}

const requestFacts = async (deps: BrokerDeps, id: string): Promise<Resource> => {
  await expireDue(deps);
  return { kind: "request", id, request: await deps.store.getRequest(id) };
};

/** The route table of the broker's API. */
export function apiRoutes(): RouteDef[] {
  return [
    route({
      method: "GET", path: "/healthz", action: "health.read", audit: "health", public: true,
      resource: () => ({ kind: "service" }),
      run: async ({ deps }) => ({ ok: true, version: deps.version, mode: deps.mode, store: deps.store.kind }),
    }),
    route({
      // Readiness part by part (readiness.ts): a replica that is starting, draining, or lost a part is taken out of the load balancer.
      method: "GET", path: "/readyz", action: "health.read", audit: "health", public: true,
      resource: () => ({ kind: "service" }),
      run: async ({ deps, res }) => {
        const report = await (deps.readiness ?? (await import("./readiness.ts")).createReadiness({ store: deps.store, draining: () => false }))();
        if (!report.ready) return sendJson(res, 503, report, { "retry-after": "5" });
        return report;
      },
    }),
    route({
      method: "GET", path: "/v1/login-settings", action: "login_settings.read", audit: "login_settings", public: true,
      resource: () => ({ kind: "service" }),
      run: async ({ deps }) => deps.loginSettings,
    }),
    route({
      method: "GET", path: "/v1/whoami", action: "whoami.read", audit: "metadata", query: api.NoQuery,
      resource: () => ({ kind: "self" }),
      describe: () => ({ what: "whoami" }),
      run: async ({ deps, caller }) => {
        const p = caller.principal;
        const policy = deps.policy();
        await expireDue(deps);
        const [grants, pending] = await Promise.all([
          liveGrants(deps, p),
          deps.store.listRequests({ requesterSubject: p.subject, state: "pending", limit: 100 }),
        ]);
        return {
          subject: p.subject, username: p.username, email: p.email ?? null, groups: p.groups,
          admin: isAdmin(policy, p), auditor: isAuditor(policy, p),
          grants: grants.map((g) => grantView(g, deps.now())),
          pending_requests: pending.map((q) => requestView(q, null, deps.publicUrl)),
        };
      },
    }),
    route({
      method: "POST", path: "/v1/requests", action: "request.file", audit: "request", handlerAudits: "after-access", query: api.NoQuery, body: api.FileRequestBody,
      resource: ({ deps, body }) => body.sql !== undefined
        ? { kind: "statement" }
        : { kind: "datasets", datasets: [...new Set((body.datasets ?? []).map((d) => qualifyDataset(d, deps.warehouse.defaultProject)))] },
      describe: ({ body }) => (body.sql !== undefined ? { single_statement: true } : { datasets: body.datasets }),
      run: async ({ deps, caller, body }) => {
        if (body.sql !== undefined) return fileStatementRequest(deps, caller, body.sql, body.reason ?? "");
        return fileRequest(deps, caller, {
          datasets: body.datasets ?? [],
          reason: body.reason ?? "",
          durationMs: body.duration_seconds === undefined ? undefined : body.duration_seconds * 1000,
        });
      },
    }),
    route({
      method: "GET", path: "/v1/requests", action: "request.list", audit: "metadata", query: api.RequestsQuery,
      resource: () => ({ kind: "requests" }),
      describe: ({ query }) => ({ what: "requests", pending: query.pending === "1", mine: query.mine === "1" }),
      run: async ({ deps, caller, query }) => {
        await expireDue(deps);
        const policy = deps.policy();
        const p = caller.principal;
        const all = await deps.store.listRequests({ state: query.pending === "1" ? "pending" : undefined, limit: 500 });
        const visible = all.filter((q) => query.mine === "1"
          ? q.requesterSubject === p.subject
          : authorize(policy, p, "request.read", { kind: "request", id: q.id, request: q }).allowed);
        return {
          requests: await Promise.all(visible.map(async (q) => {
            const canApprove = q.state === "pending" && decideRefusal(policy, p, q) === null;
            return {
              ...requestView(q, null, deps.publicUrl),
              can_approve: canApprove,
              // The statement's analysis (tables, masks, bytes) is for those who decide it and for its requester.
              statement: q.sql && q.state === "pending" && (canApprove || q.requesterSubject === p.subject) ? await statementPreview(deps, q.sql) : undefined,
            };
          })),
        };
      },
    }),
    route({
      // With ?wait=N a long poll: one call (one audit record) answers when the request leaves pending or N s pass.
      method: "GET", path: "/v1/requests/:id", action: "request.read", audit: "metadata", params: api.RequestIdParams, query: api.RequestReadQuery,
      resource: ({ deps, params }) => requestFacts(deps, params.id),
      describe: ({ params, query }) => ({ what: "request", request_id: params.id, ...(query.wait ? { wait_s: query.wait } : {}) }),
      run: async ({ deps, params, query, signal, draining }) => {
        // A broker going away answers a waiting call with the request as it is; the client asks again (another replica).
        const q = query.wait
          ? (await waitWhilePending(deps, params.id, query.wait, { signal: AbortSignal.any([signal, draining]), expire: () => expireDue(deps) }))!
          : (await deps.store.getRequest(params.id))!;
        if (signal.aborted) throw new ClientGone();
        const grant = q.grantId ? await deps.store.getGrant(q.grantId) : null;
        return { request: requestView(q, grant, deps.publicUrl) };
      },
    }),
    route({
      method: "POST", path: "/v1/requests/:id/approve", action: "request.decide", audit: "approve", handlerAudits: "after-access", params: api.RequestIdParams, query: api.NoQuery, body: api.ApproveBody,
      resource: ({ deps, params }) => requestFacts(deps, params.id),
      describe: ({ params }) => ({ request_id: params.id, decision: "approve" }),
      run: async ({ deps, caller, params, body }) => approveRequest(deps, caller, params.id, body.comment ?? null),
    }),
    route({
      method: "POST", path: "/v1/requests/:id/deny", action: "request.decide", audit: "deny", handlerAudits: "after-access", params: api.RequestIdParams, query: api.NoQuery, body: api.DenyBody,
      resource: ({ deps, params }) => requestFacts(deps, params.id),
      describe: ({ params }) => ({ request_id: params.id, decision: "deny" }),
      run: async ({ deps, caller, params, body }) => denyRequest(deps, caller, params.id, body.reason),
    }),
    route({
      // The requester withdraws a pending request; a decided one answers 409 (recorded as a refused "cancel").
      method: "POST", path: "/v1/requests/:id/cancel", action: "request.cancel", audit: "cancel", handlerAudits: "after-access", params: api.RequestIdParams, query: api.NoQuery,
      resource: ({ deps, params }) => requestFacts(deps, params.id),
      describe: ({ params }) => ({ request_id: params.id }),
      run: async ({ deps, caller, params }) => cancelRequest(deps, caller, params.id),
    }),
    route({
      method: "GET", path: "/v1/grants", action: "grant.list", audit: "metadata", query: api.GrantsQuery,
      resource: () => ({ kind: "self" }),
      describe: ({ query }) => ({ what: "grants", all: query.all === "1" }),
      run: async ({ deps, caller, query }) => {
        const now = deps.now();
        const grants = await deps.store.listGrants({ holderSubject: caller.principal.subject, activeAt: query.all === "1" ? undefined : now });
        return { grants: grants.map((g) => grantView(g, now)) };
      },
    }),
    route({
      method: "POST", path: "/v1/grants/:id/revoke", action: "grant.revoke", audit: "revoke", handlerAudits: "after-access", params: api.GrantIdParams, query: api.NoQuery, body: api.RevokeBody,
      resource: async ({ deps, params }) => ({ kind: "grant", id: params.id, grant: await deps.store.getGrant(params.id) }),
      describe: ({ params, body }) => ({ grant_id: params.id, reason: body.reason ?? null }),
      run: async ({ deps, caller, params, body }) => revokeGrant(deps, caller, params.id, body.reason ?? null),
    }),
    route({
      method: "POST", path: "/v1/query", action: "query.run", audit: "query", handlerAudits: "first", query: api.NoQuery, body: api.QueryBody,
      resource: () => ({ kind: "statement" }),
      describe: ({ body }) => ({ dry_run: body.dry_run === true }),
      run: async ({ deps, caller, body, signal }) => {
        const { runQuery } = await import("./query.ts");
        return runQuery(deps, caller, { sql: body.sql, maxRows: body.max_rows, dryRun: body.dry_run === true, signal });
      },
    }),
    route({
      method: "GET", path: "/v1/datasets", action: "metadata.read", audit: "metadata", query: api.NoQuery,
      resource: () => ({ kind: "catalog" }),
      describe: () => ({ what: "datasets" }),
      run: async ({ deps, caller }) => listDatasets(deps, caller),
    }),
    route({
      method: "GET", path: "/v1/datasets/:dataset/tables", action: "metadata.read", audit: "metadata", params: api.DatasetParams, query: api.NoQuery,
      resource: ({ deps, params }) => ({ kind: "datasets", datasets: [qualifyDataset(params.dataset, deps.warehouse.defaultProject)] }),
      describe: ({ params }) => ({ what: "tables", dataset: params.dataset }),
      run: async ({ deps, params }) => listTables(deps, qualifyDataset(params.dataset, deps.warehouse.defaultProject)),
    }),
    route({
      method: "GET", path: "/v1/tables/:table", action: "metadata.read", audit: "metadata", params: api.TableParams, query: api.NoQuery,
      resource: ({ deps, params }) => {
        const t = parseTableName(params.table, deps.warehouse.defaultProject);
        return { kind: "datasets", datasets: [`${t.project}.${t.dataset}`] };
      },
      describe: ({ params }) => ({ what: "table", table: params.table }),
      run: async ({ deps, params }) => describeTable(deps, parseTableName(params.table, deps.warehouse.defaultProject)),
    }),
    route({
      method: "POST", path: "/v1/policy/explain", action: "policy.explain", audit: "explain", query: api.NoQuery, body: api.ExplainBody,
      resource: ({ body }) => ({ kind: "explain", as: body.as, groups: body.groups }),
      describe: ({ body }) => ({ as: body.as, groups: body.groups, sql: body.sql }),
      run: async ({ deps, caller, body }) => {
        const { explainQuery } = await import("./explain.ts");
        return explainQuery(deps, caller, { as: body.as, groups: body.groups, sql: body.sql });
      },
    }),
    ...auditRoutes(),
  ];
}

/** A refusal the front door answers for a decision: "missing" looks exactly like an unknown id. */
export function refusalError(decision: Authorization & { allowed: false }, action: Action): JitError {
  if (decision.refusal === "missing") {
    const hint = action.startsWith("audit") ? "jit audit list" : action.startsWith("grant") ? "jit grants --all" : "jit requests";
    return new JitError("usage", decision.reason, { hint, details: { status: 404 } });
  }
  const hint = action === "metadata.read" || action === "request.file"
    ? "jit datasets lists what you may use; ask the data's owners if you need more"
    : action === "request.decide" ? "jit requests --pending" : action === "request.cancel" ? "jit requests --mine" : undefined;
  return new JitError("denied", decision.message ?? decision.reason, { hint });
}
