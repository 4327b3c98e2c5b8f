/** `jit broker dev`: the broker with everything embedded on loopback: dev IdP, DuckDB demo warehouse, demo policy, SQLite store. */
import { closeAnalysisWorker } from "../sql/offload.ts";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { DeviceApproveBody, describeIssues, type DeviceApproveInput } from "../api/schemas.ts";
import { JitError } from "../errors.ts";
import { type BrokerPlugin, createBrokerHandler, type FrontDoorOptions, listen, type ListenOptions, type RequestOutcome } from "./server.ts";
import { createInFlightGate } from "./in-flight.ts";
import { createReadiness } from "./readiness.ts";
import { drain, type ShutdownReport } from "./shutdown.ts";
import type { BrokerDeps } from "./context.ts";
import { header, httpError, readJsonBody, sendError, sendJson } from "./http.ts";
import { loadPolicyFile } from "../policy/load.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import { createTokenVerifier } from "./verify-token.ts";

export const DEV_CLIENT_ID = "jit-cli";
export const DEV_SCOPES = "openid profile email groups offline_access";

/** Where the demo policy ships. */
export const DEMO_POLICY_PATH = fileURLToPath(new URL("../../data/demo/policy.yaml", import.meta.url));

/** The default data dir of `jit broker dev`. */
export function defaultDevDataDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "jit", "dev");
}

/** Reads the broker's masking key from the data dir, creating it (0600) on first start. */
export function loadOrCreateKey(dataDir: string): Buffer {
  const path = join(dataDir, "hash.key");
  if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return Buffer.from(readFileSync(path, "utf8").trim(), "hex");
}

const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * The Host names a dev broker answers to: the loopback names (on its port, or with none) and the host of its
 * own URL. Anything else (a DNS-rebinding name that resolves to 127.0.0.1) is refused, on every route.
 */
export function devHostAllowed(hostHeader: string, brokerUrl: string): boolean {
  const own = new URL(brokerUrl);
  if (hostHeader.toLowerCase() === own.host.toLowerCase()) return true;
  const m = /^(\[[0-9a-f:.]+\]|[^:]+)(?::([0-9]{1,5}))?$/i.exec(hostHeader);
  if (!m) return false;
  const name = m[1]!.toLowerCase();
  const port = m[2];
  return LOOPBACK_NAMES.has(name) && (port === undefined || port === own.port);
}

/** The dev-only routes (/oidc, POST /dev/device/approve) and the Host check, as a plugin only `broker dev` mounts. */
export function devPlugin(opts: {
  url: string;
  handleOidc(req: IncomingMessage, res: ServerResponse): void;
  approveDevice(input: DeviceApproveInput): Promise<{ username: string }>;
  bodyTimeoutMs?: number;
}): BrokerPlugin {
  const own = new URL(opts.url);
  const origins = new Set([own.origin, `${own.protocol}//localhost:${own.port}`, `${own.protocol}//127.0.0.1:${own.port}`, `${own.protocol}//[::1]:${own.port}`]);
  return {
    guard(req) {
      const host = header(req, "host", 300);
      if (!devHostAllowed(host, opts.url)) {
        throw httpError(421, "denied", `this dev broker answers only to ${own.host} and loopback names, not ${JSON.stringify(host.slice(0, 100))}`, {
          hint: `use ${opts.url}`,
        });
      }
    },
    async handle(req, res, url) {
      if (url.pathname === "/oidc" || url.pathname.startsWith("/oidc/")) {
        opts.handleOidc(req, res);
        return true;
      }
      if (url.pathname !== "/dev/device/approve") return false;
      try {
        if (req.method !== "POST") throw httpError(405, "usage", "use POST on /dev/device/approve", { headers: { allow: "POST" } });
        // A web page may POST here (text/plain, form) from another origin; only this broker's own pages and
        // non-browser clients (no Origin) may, and only with a JSON body, which a browser cannot send cross-site unasked.
        const origin = header(req, "origin", 300);
        if (origin && !origins.has(origin)) throw httpError(403, "denied", `requests from ${JSON.stringify(origin.slice(0, 100))} may not approve device logins`);
        const type = header(req, "content-type").split(";")[0]!.trim().toLowerCase();
        if (type !== "application/json") throw httpError(415, "usage", "POST /dev/device/approve takes application/json only");
        const raw = await readJsonBody(req, { timeoutMs: opts.bodyTimeoutMs ?? 10_000, limit: 16 * 1024 });
        const parsed = DeviceApproveBody.safeParse(raw);
        if (!parsed.success) throw new JitError("usage", describeIssues("the request body", parsed.error));
        sendJson(res, 200, { ok: true, ...(await opts.approveDevice(parsed.data)) });
      } catch (err) {
        if (!(err instanceof JitError)) throw err;
        if (!req.complete) res.setHeader("connection", "close");
        sendError(res, err);
      }
      return true;
    },
  };
}

export interface DevBroker {
  url: string;
  issuer: string;
  dataDir: string;
  server: Server;
  deps: BrokerDeps;
  /** The /metrics URL when started with `metrics`. */
  metricsUrl: string | null;
  /** Drains like `broker serve` on SIGTERM (in-flight requests finish within `shutdownGraceMs`), then closes. */
  shutdown(): Promise<ShutdownReport>;
  close(): Promise<void>;
}

/** Starts the dev broker on 127.0.0.1:port (0 picks a free port). */
export async function startDevBroker(opts: {
  port: number; dataDir: string; log?: (line: string) => void; version?: string; now?: () => number; pollIntervalSeconds?: number;
  /** Bounds of the front door and its socket (tests shorten them). */
  frontDoor?: FrontDoorOptions; listen?: ListenOptions;
  /** Serve /metrics on 127.0.0.1:port (0 picks a free one); off when absent. */
  metrics?: { port: number };
  /** How long shutdown() lets in-flight requests finish (default 30 s). */
  shutdownGraceMs?: number;
  /** Token verification's key cache timing (tests of IdP outages shorten it). */
  identity?: { jwksCooldownMs?: number; jwksMaxAgeMs?: number };
}): Promise<DevBroker> {
  const log = opts.log ?? (() => {});
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  let handler: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  // Listen first: the issuer URL names the port, and port 0 is only known once bound.
  const { server, url } = await listen(async (req, res) => {
    if (handler) return handler(req, res);
    sendJson(res, 503, { ready: false, status: "starting", parts: {} }, { "retry-after": "1" });
  }, "127.0.0.1", opts.port, opts.listen);
  let metricsServer: { url: string; close(): Promise<void> } | undefined;
  try {
    const issuer = `${url}/oidc`;
    const [{ createDevIdp }, { openDemoWarehouse }] = await Promise.all([import("../idp/dev-idp.ts"), import("../warehouse/duckdb.ts")]);
    const policy = loadPolicyFile(DEMO_POLICY_PATH);
    const [idp, rawWarehouse] = await Promise.all([
      createDevIdp({ issuer, clientId: DEV_CLIENT_ID, pollIntervalSeconds: opts.pollIntervalSeconds ?? 1 }),
      openDemoWarehouse(),
    ]);
    const rawStore = openSqliteStore(join(opts.dataDir, "jit.db"));
    const gate = opts.frontDoor?.gate ?? createInFlightGate(opts.frontDoor?.maxInFlight);
    let store: BrokerDeps["store"] = rawStore;
    let warehouse: BrokerDeps["warehouse"] = rawWarehouse;
    let metrics: import("./metrics.ts").BrokerMetrics | undefined;
    if (opts.metrics) {
      const m = await import("./metrics.ts");
      metrics = await m.createBrokerMetrics({ version: opts.version ?? "dev", mode: "dev", gate, store: () => store });
      store = metrics.instrumentStore(rawStore);
      warehouse = metrics.instrumentWarehouse(rawWarehouse);
      metricsServer = await m.serveMetrics(metrics, "127.0.0.1", opts.metrics.port);
    }
    // Tokens are checked against the real clock; `now` moves only the grant clock (tests of expiry).
    const verifyToken = createTokenVerifier({ issuer, audience: DEV_CLIENT_ID, groupsClaim: policy.groupsClaim, ...opts.identity });
    const deps: BrokerDeps = {
      policy: () => policy,
      store,
      warehouse,
      verifyToken,
      loginSettings: { issuer, client_id: DEV_CLIENT_ID, scopes: DEV_SCOPES, audience: DEV_CLIENT_ID },
      now: opts.now ?? Date.now,
      hashKey: loadOrCreateKey(opts.dataDir),
      mode: "dev",
      version: opts.version ?? "dev",
      log,
      publicUrl: url,
    };
    deps.readiness = createReadiness({
      store: rawStore, warehouse: rawWarehouse, identity: verifyToken, draining: () => gate.draining,
      setPart: metrics ? (part, v) => metrics.setPart(part, v) : undefined,
    });
    const observe = metrics ? (e: RequestOutcome) => { metrics.observeRequest(e); opts.frontDoor?.observe?.(e); } : opts.frontDoor?.observe;
    handler = createBrokerHandler(deps, devPlugin({ url, handleOidc: (req, res) => idp.handle(req, res), approveDevice: (input) => idp.approveDevice(input), bodyTimeoutMs: opts.frontDoor?.bodyTimeoutMs }), { ...opts.frontDoor, gate, observe });
    // The embedded IdP answers on this very listener, so its keys can be read as soon as the handler is in place.
    verifyToken.poke();
    let closing: Promise<void> | undefined;
    const closeRest = async () => {
      await metricsServer?.close();
      await Promise.allSettled([idp.close(), rawWarehouse.close(), closeAnalysisWorker()]);
      await rawStore.close().catch(() => {});
    };
    return {
      url, issuer, dataDir: opts.dataDir, server, deps, metricsUrl: metricsServer?.url ?? null,
      async shutdown() {
        const report = await drain({ servers: [server], gate, graceMs: opts.shutdownGraceMs ?? 30_000, log });
        closing ??= closeRest();
        await closing;
        return report;
      },
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        closing ??= closeRest();
        await closing;
      },
    };
  } catch (err) {
    await metricsServer?.close();
    server.close();
    throw err;
  }
}
