/**
 * The broker's front door. One pipeline runs every API request, in this order, and no route can skip a step:
 * match the route, authenticate, validate (strict schemas), authorize (the pure `authorize()`), audit the
 * decision (allowed or refused, before the handler acts), run, map errors; then one structured log line. The
 * decision step (resource, authorize, audit) is pipeline.ts, which the console at /console runs too.
 * Built on node:http rather than Fastify: see README "Broker API" for why.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { z } from "zod";
import { describeIssues, NoBody } from "../api/schemas.ts";
import { JitError } from "../errors.ts";
import { authorize } from "../policy/authorize.ts";
import { checkStatementLimits } from "../sql/limits.ts";
import { audit, type BrokerDeps, type Caller } from "./context.ts";
import { ClientGone, compilePath, decodeParam, header, httpError, readJsonBody, sendError, sendJson } from "./http.ts";
import { cancelledByShutdownError, createInFlightGate, type InFlightGate, shedError, type ShedReason } from "./in-flight.ts";
import { createRateLimiter, type RateLimiter } from "./rate-limit.ts";
import { decide, recordMalformed, recorder } from "./pipeline.ts";
import { apiRoutes, type RouteDef, type RouteInput } from "./routes.ts";
import { createConsoleHandler } from "../console/handler.ts";

/** Routes mounted beside the API by `jit broker dev` only (the embedded IdP, device approval); `broker serve` never has one. */
export interface BrokerPlugin {
  /** Runs first on every request, API routes included; a thrown JitError refuses the request (the Host check). */
  guard?(req: IncomingMessage): void;
  /** Handles the request if it is the plugin's and resolves true; false leaves it to the API. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

/** Tunables of the front door; the defaults suit production. */
export interface FrontDoorOptions {
  /** How long a request body may take to arrive before it is cut off (408). */
  bodyTimeoutMs?: number;
  /** Refused sign-ins allowed per address per window before 429. */
  refusalsPerWindow?: number;
  refusalWindowMs?: number;
  /** Requests in progress at once (broker.yaml `max_in_flight`); ignored when `gate` is given. */
  maxInFlight?: number;
  /** The in-flight gate, shared with shutdown (drain, cancel); one is made from `maxInFlight` when absent. */
  gate?: InFlightGate;
  /** Told of every finished request (metrics); never throws into the pipeline. */
  observe?(e: RequestOutcome): void;
}

/** What `observe` hears of one request. */
export interface RequestOutcome {
  route: string | null;
  status: number | null;
  durationMs: number;
  shed?: ShedReason;
  clientGone?: boolean;
}

/** Paths never shed: probes must answer while the broker is saturated or draining. */
const PROBES = new Set(["/healthz", "/readyz"]);

interface CompiledRoute {
  def: RouteDef;
  pattern: ReturnType<typeof compilePath>;
}

type Client = Caller["client"];

/** The calling client as the audit log records it: every header bounded, so a refusal record cannot be inflated. */
function clientOf(req: IncomingMessage): Client & { user_agent: string } {
  return {
    kind: header(req, "x-jit-client", 20) || "http",
    name: header(req, "x-jit-client-name", 100),
    version: header(req, "x-jit-client-version", 40),
    address: req.socket.remoteAddress ?? "",
    user_agent: header(req, "user-agent", 200),
  };
}

/** Parses input against a schema; a failure is a 400 naming the field. */
function validate<T>(schema: z.ZodType<T> | undefined, input: unknown, where: string): T {
  if (!schema) return input as T;
  const r = schema.safeParse(input);
  if (!r.success) throw new JitError("usage", describeIssues(where, r.error));
  return r.data;
}

function queryObject(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (k in out) throw new JitError("usage", `the query parameter "${k.slice(0, 40)}" is given more than once`);
    out[k] = v;
  }
  return out;
}

/** A statement past the size or complexity caps is refused here, before anything parses it. */
function checkSql(body: unknown): void {
  const sql = (body as { sql?: unknown } | undefined)?.sql;
  if (typeof sql !== "string") return;
  const refusal = checkStatementLimits(sql);
  if (refusal) throw new JitError("usage", refusal.message, { hint: "split the statement, or shorten it", details: { limit: refusal.limit } });
}

/** Builds the request handler (exported for tests that want no socket of their own). */
export function createBrokerHandler(deps: BrokerDeps, plugin?: BrokerPlugin, opts: FrontDoorOptions = {}) {
  const routes: CompiledRoute[] = apiRoutes().map((def) => ({ def, pattern: compilePath(def.path) }));
  const limiter: RateLimiter = createRateLimiter({
    max: opts.refusalsPerWindow ?? 30, windowMs: opts.refusalWindowMs ?? 60_000, now: Date.now,
  });
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? 10_000;
  const gate = opts.gate ?? createInFlightGate(opts.maxInFlight);
  // Console mount (issue 16): the web console owns /console (its session, CSRF check and route table) and decides
  // every page and form through the same decide() as the routes below.
  // Under `broker serve` the console's origin is public_url (its OIDC redirect URI and the Origin a form must carry);
  // the dev broker answers to every loopback name, so there the origin is the one each request reached.
  const consoleHandler = createConsoleHandler(deps, { publicUrl: deps.mode === "serve" ? deps.publicUrl : undefined });

  const match = (method: string, pathname: string): { route: CompiledRoute; raw: Record<string, string> } => {
    const wanted = method === "HEAD" ? "GET" : method;
    const allowed = new Set<string>();
    for (const route of routes) {
      const raw = route.pattern.match(pathname);
      if (!raw) continue;
      if (route.def.method === wanted) return { route, raw };
      allowed.add(route.def.method);
      if (route.def.method === "GET") allowed.add("HEAD");
    }
    if (allowed.size > 0) {
      const allow = [...allowed].join(", ");
      throw httpError(405, "usage", `${method.slice(0, 20)} is not allowed on ${pathname.slice(0, 200)}; use ${allow}`, { headers: { allow } });
    }
    throw httpError(404, "usage", `no such endpoint: ${method.slice(0, 20)} ${pathname.slice(0, 200)}`);
  };

  const authenticate = async (req: IncomingMessage, client: Client, routeName: string, path: string, note: (id: string) => void): Promise<Caller> => {
    try {
      const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/.exec(header(req, "authorization", 16_384));
      if (!m) throw new JitError("unauthenticated", "not signed in: the request carries no bearer token", { hint: "run: jit login" });
      return { principal: await deps.verifyToken(m[1]!), client };
    } catch (err) {
      if (!(err instanceof JitError && err.code === "unauthenticated")) throw err;
      const { wait, firstOver } = limiter.refuse(client.address);
      if (wait > 0) {
        // Past the budget only the first refusal of the window is recorded, so a flood cannot fill the audit log.
        if (firstOver) {
          const rec = await audit(deps, { principal: null, client }, "authenticate", "denied", { route: routeName, method: req.method, path: path.slice(0, 200), why: err.message, rate_limited: true, retry_after_s: wait });
          note(rec.id);
        }
        throw httpError(429, "unauthenticated", `too many refused sign-ins from this address; wait ${wait} s`, {
          hint: "run: jit login", headers: { "retry-after": String(wait) },
        });
      }
      // Refused sign-ins are part of the record (who keeps knocking, from where); the token itself never is.
      const rec = await audit(deps, { principal: null, client }, "authenticate", "denied", { route: routeName, method: req.method, path: path.slice(0, 200), why: err.message });
      note(rec.id);
      throw err;
    }
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const requestId = randomUUID();
    const line: Record<string, unknown> = { msg: "request", req_id: requestId, method: req.method, route: null, subject: null, status: null, audit_id: null };
    const gone = new AbortController();
    let logged = false;
    const log = (extra: Record<string, unknown> = {}) => {
      if (logged) return;
      logged = true;
      const durationMs = performance.now() - started;
      const all = { ...line, ...extra };
      deps.log(JSON.stringify({ ...all, duration_ms: Math.round(durationMs) }));
      try {
        opts.observe?.({ route: all.route as string | null, status: all.status as number | null, durationMs, shed: all.shed as ShedReason | undefined, clientGone: all.client_gone === true });
      } catch { /* metrics never fail a request */ }
    };
    res.on("close", () => {
      if (res.writableFinished) return log({ status: res.statusCode });
      // A client that leaves (Ctrl-C, a killed agent) cancels its warehouse job; it is news, not an error.
      gone.abort();
      log({ status: res.headersSent ? res.statusCode : null, client_gone: true });
    });
    res.setHeader("x-request-id", requestId);
    const probe = req.method === "GET" && PROBES.has((req.url ?? "/").split("?")[0]!);
    let entered = false;
    // A client that leaves, or shutdown giving up on its grace period, cancels the warehouse job.
    const signal = probe ? gone.signal : AbortSignal.any([gone.signal, gate.signal]);
    try {
      plugin?.guard?.(req);
      const url = new URL(req.url ?? "/", "http://broker.invalid");
      // The dev plugin's routes (the embedded IdP, whose keys this very broker fetches while verifying a token) are
      // never shed: shedding them would refuse the request that is waiting on them.
      line.route = `plugin ${url.pathname.slice(0, 100)}`;
      if (plugin && (await plugin.handle(req, res, url))) return;
      line.route = null;
      // Shed before anything is read or verified: a refused request costs no token check and no store write. It is
      // not audited (there is no identity yet, and writing would spend the store on the load being shed); it is
      // logged and counted.
      if (!probe) {
        const shed = gate.enter();
        if (shed) {
          line.shed = shed;
          line.route = "shed";
          res.setHeader("connection", "close");
          return sendError(res, shedError(shed, gate.max));
        }
        entered = true;
      }
      if (url.pathname === "/console" || url.pathname.startsWith("/console/")) {
        line.route = "console";
        return await consoleHandler(req, res);
      }
      const { route, raw } = match(req.method ?? "GET", url.pathname);
      const def = route.def;
      const routeName = `${def.method} ${def.path}`;
      line.route = routeName;
      const client = clientOf(req);
      if (def.public) {
        const body = await def.run({ deps, caller: null as unknown as Caller, params: {}, query: {}, body: {}, decision: authorize(deps.policy(), null, def.action, { kind: "service" }), auditId: null, signal, draining: gate.drainSignal, req, res });
        if (!res.headersSent) sendJson(res, 200, body);
        return;
      }
      const caller = await authenticate(req, client, routeName, url.pathname, (id) => (line.audit_id = id));
      line.subject = caller.principal.subject;
      // Every refusal from here on is recorded under the route's audit name, with why.
      const ctx = { route: routeName, onAudit: (id: string) => (line.audit_id = id) };
      let input: RouteInput<unknown, unknown, unknown>;
      try {
        const decoded = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, decodeParam(k, v)]));
        const params = validate(def.params, decoded, "the path");
        const query = validate(def.query, queryObject(url), "the query string");
        const rawBody = def.method === "POST" ? await readJsonBody(req, { timeoutMs: bodyTimeoutMs }) : {};
        const body = validate(def.body ?? NoBody, rawBody, "the request body");
        checkSql(body);
        input = { deps, caller, params, query, body };
      } catch (err) {
        await recordMalformed(recorder(deps, caller, def.action, ctx), def.audit, err);
        throw err;
      }
      // Resource, authorize(), and the decision on the audit log before the handler acts (pipeline.ts).
      const { decision, auditId } = await decide(deps, caller, def, input, ctx);
      const result = await def.run({ ...input, decision, auditId, signal, draining: gate.drainSignal, req, res });
      const own = (result as { audit_id?: unknown } | null)?.audit_id;
      if (typeof own === "string") line.audit_id = own;
      if (!res.headersSent) sendJson(res, 200, result);
    } catch (err) {
      if (gate.signal.aborted && !gone.signal.aborted && !res.headersSent) {
        // Shutdown cancelled this request after its grace period; what it did is on the audit log already.
        res.setHeader("connection", "close");
        return sendError(res, cancelledByShutdownError());
      }
      if (err instanceof ClientGone || gone.signal.aborted) {
        line.client_gone = true;
        if (!res.headersSent) res.destroy();
        return;
      }
      if (res.headersSent) return void res.destroy();
      // A body not read to its end (refused before reading, or cut off) must not be parsed as the next request.
      if (!req.complete) res.setHeader("connection", "close");
      if (err instanceof JitError) return sendError(res, err);
      deps.log(JSON.stringify({
        msg: "internal error", req_id: requestId, route: line.route,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      }));
      sendError(res, new JitError("internal", `the broker hit an unexpected error; its log has the details (request ${requestId})`));
    } finally {
      if (entered) gate.leave();
    }
  };
}

/** Bounds of the listening socket. */
export interface ListenOptions {
  tls?: { cert: Buffer; key: Buffer };
  /** Open connections at once; more are dropped at accept (default 1024). */
  maxConnections?: number;
  /** Time allowed for a request's headers (default 10 s). */
  headersTimeoutMs?: number;
  /** Time allowed for a whole request to arrive, a backstop to the body timeout (default 60 s). */
  requestTimeoutMs?: number;
}

/** Starts the broker on host:port (port 0 picks a free one), over TLS when given a certificate, and resolves once it listens. */
export async function listen(
  handler: ReturnType<typeof createBrokerHandler>,
  host: string,
  port: number,
  tlsOrOpts?: { cert: Buffer; key: Buffer } | ListenOptions,
): Promise<{ server: Server; url: string }> {
  const opts: ListenOptions = tlsOrOpts && "cert" in tlsOrOpts ? { tls: tlsOrOpts as { cert: Buffer; key: Buffer } } : (tlsOrOpts as ListenOptions | undefined) ?? {};
  const onRequest = (req: IncomingMessage, res: ServerResponse) => void handler(req, res);
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(opts.requestTimeoutMs ?? 60_000, headersTimeout + 1);
  const serverOpts = {
    headersTimeout,
    requestTimeout,
    // How often Node checks the two timeouts above; its default (30 s) would let a slow request outlive them.
    connectionsCheckingInterval: Math.min(1000, headersTimeout),
    maxHeaderSize: 16 * 1024,
  };
  const server: Server = opts.tls ? createHttpsServer({ ...opts.tls, ...serverOpts }, onRequest) : createServer(serverOpts, onRequest);
  server.maxConnections = opts.maxConnections ?? 1024;
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    // Malformed requests, timeouts and resets: answer when the socket still can, never crash or log a stack.
    if (!socket.writable) return void socket.destroy();
    const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
    socket.end(`HTTP/1.1 ${status} ${status === 408 ? "Request Timeout" : status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE"
        ? new JitError("usage", `port ${port} on ${host} is already in use`, { hint: "pick another with --port, or stop the other broker" })
        : err));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return { server, url: `${opts.tls ? "https" : "http"}://${shownHost}:${addr.port}` };
}
