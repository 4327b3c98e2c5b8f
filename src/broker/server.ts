/** The broker's HTTP server: authenticates callers, dispatches to the API, and in dev mode mounts the embedded IdP. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { JitError } from "../errors.ts";
import { audit, type BrokerDeps, type Caller } from "./context.ts";
import { readJson, sendError, sendJson, type RouteContext } from "./http.ts";
import { apiRoutes } from "./routes.ts";

/** The dev-only parts the broker mounts when `jit broker dev` runs it; `jit broker serve` never passes one. */
export interface DevMount {
  /** Handles every request under /oidc (the embedded identity provider). */
  handleOidc(req: IncomingMessage, res: ServerResponse): void;
  /** POST /dev/device/approve: confirms a device login without a browser. */
  approveDevice(input: { user_code: string; username: string; password: string }): Promise<{ username: string }>;
}

const header = (req: IncomingMessage, name: string): string => {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? "";
};

/** Builds the request handler (exported for tests that want no socket). */
export function createBrokerHandler(deps: BrokerDeps, dev?: DevMount) {
  const authenticate = async (ctx: RouteContext): Promise<Caller> => {
    const client = {
      kind: header(ctx.req, "x-jit-client") || "http",
      name: header(ctx.req, "x-jit-client-name").slice(0, 100),
      version: header(ctx.req, "x-jit-client-version").slice(0, 40),
      address: ctx.req.socket.remoteAddress ?? "",
    };
    try {
      const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/.exec(header(ctx.req, "authorization"));
      if (!m) throw new JitError("unauthenticated", "not signed in: the request carries no bearer token", { hint: "run: jit login" });
      return { principal: await deps.verifyToken(m[1]!), client };
    } catch (err) {
      // Refused sign-ins are part of the record (who keeps knocking, from where); the token itself never is.
      if (err instanceof JitError && err.code === "unauthenticated") {
        await audit(deps, { principal: null, client }, "authenticate", "denied", { method: ctx.req.method, path: ctx.url.pathname, why: err.message });
      }
      throw err;
    }
  };
  const router = apiRoutes(deps, authenticate);

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://broker.invalid");
    try {
      if (dev && (url.pathname === "/oidc" || url.pathname.startsWith("/oidc/"))) return dev.handleOidc(req, res);
      if (dev && url.pathname === "/dev/device/approve" && req.method === "POST") {
        const body = await readJson(req);
        const input = { user_code: String(body.user_code ?? ""), username: String(body.username ?? ""), password: String(body.password ?? "") };
        return sendJson(res, 200, { ok: true, ...(await dev.approveDevice(input)) });
      }
      const { handler, params } = router.match(req.method ?? "GET", url.pathname);
      const body = await handler({ req, res, url, params });
      if (!res.headersSent) sendJson(res, 200, body);
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      if (err instanceof JitError) return sendError(res, err);
      deps.log(`internal error on ${req.method} ${url.pathname}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      sendError(res, new JitError("internal", "the broker hit an unexpected error; its log has the details"));
    }
  };
}

/** Starts the broker on host:port (port 0 picks a free one), over TLS when given a certificate, and resolves once it listens. */
export async function listen(
  handler: ReturnType<typeof createBrokerHandler>,
  host: string,
  port: number,
  tls?: { cert: Buffer; key: Buffer },
): Promise<{ server: Server; url: string }> {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => void handler(req, res);
  const server: Server = tls ? createHttpsServer(tls, onRequest) : createServer(onRequest);
  server.headersTimeout = 30_000;
  server.requestTimeout = 0; // queries may stream for long; the warehouse timeout bounds them
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE"
        ? new JitError("usage", `port ${port} on ${host} is already in use`, { hint: "pick another with --port, or stop the other broker" })
        : err));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return { server, url: `${tls ? "https" : "http"}://${shownHost}:${addr.port}` };
}
