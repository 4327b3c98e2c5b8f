/**
 * `jit proxy`'s HTTP server on 127.0.0.1: the STS endpoint that hands out the run's access token, and the
 * BigQuery API for callers that carry it. Refused before anything else: a Host that is not a loopback
 * name (DNS rebinding), any Origin header (a browser page), and any call without the run's token.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import type { BrokerClient } from "../cli/client.ts";
import { JitError } from "../errors.ts";
import { isLoopbackHost } from "../net/loopback.ts";
import { createApi } from "./api.ts";
import { type ProxySecrets, sameSecret, STS_PATH } from "./credential.ts";
import { BigQueryError } from "./errors.ts";

export interface ProxyOptions {
  secrets: ProxySecrets;
  /** A broker client acting for the signed-in person, naming the calling tool (its user agent) for the audit log. */
  broker(userAgent: string): BrokerClient;
  /** A line for stderr (never stdout: in exec mode stdout belongs to the command). */
  log?(line: string): void;
}

const MAX_BODY = 2 * 1024 * 1024;
const API_PREFIX = "/bigquery/v2";

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new BigQueryError(400, "invalid", "jit proxy: request body over 2 MB");
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "gzip" && raw.length ? gunzipSync(raw, { maxOutputLength: MAX_BODY }) : raw;
}

function jsonBody(raw: Buffer): Record<string, unknown> {
  if (!raw.length) return {};
  try {
    const v: unknown = JSON.parse(raw.toString("utf8"));
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // refused below
  }
  throw new BigQueryError(400, "invalid", "jit proxy: the request body is not a JSON object");
}

/** Printable ASCII only, bounded: the user agent goes into a header and the audit log. */
function clientName(ua: string | undefined): string {
  return (ua ?? "").replace(/[^\x20-\x7e]/g, "?").slice(0, 100) || "unknown";
}

/** The request handler (exported for tests that want no socket). */
export function createProxyHandler(opts: ProxyOptions) {
  const api = createApi();
  const unauthorized = new BigQueryError(401, "authError",
    "jit proxy: this request does not carry the proxy's credential. Start the tool under the proxy (jit proxy -- COMMAND), " +
    "or set GOOGLE_APPLICATION_CREDENTIALS to the credential file jit proxy printed");

  async function sts(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await readBody(req)).toString("utf8");
    const form = (req.headers["content-type"] ?? "").includes("json")
      ? new URLSearchParams(Object.entries(jsonBody(Buffer.from(raw))).map(([k, v]): [string, string] => [k, String(v)]))
      : new URLSearchParams(raw);
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:token-exchange" || !sameSecret(form.get("subject_token") ?? undefined, opts.secrets.subjectToken)) {
      return send(res, 401, { error: "invalid_grant", error_description: "jit proxy: the subject token is not this proxy's" });
    }
    send(res, 200, {
      access_token: opts.secrets.accessToken,
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
      token_type: "Bearer",
      expires_in: 3600,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host;
    let hostname = "";
    try {
      hostname = host ? new URL(`http://${host}`).hostname : "";
    } catch {
      // refused below
    }
    // A page on evil.example resolving to 127.0.0.1 sends Host: evil.example; a browser always sends Origin on cross-site writes.
    if (!isLoopbackHost(hostname)) throw new BigQueryError(403, "accessDenied", "jit proxy answers only requests addressed to a loopback name (127.0.0.1, localhost, [::1])");
    if (req.headers.origin !== undefined) throw new BigQueryError(403, "accessDenied", "jit proxy refuses requests from web pages (the request carries an Origin header)");
    const url = new URL(req.url ?? "/", "http://proxy.invalid");
    if (url.pathname === STS_PATH && req.method === "POST") return sts(req, res);
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (!m || !sameSecret(m[1], opts.secrets.accessToken)) throw unauthorized;
    let path = url.pathname;
    if (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)) path = path.slice(API_PREFIX.length);
    const body = req.method === "POST" || req.method === "PUT" || req.method === "PATCH" ? jsonBody(await readBody(req)) : {};
    const answer = await api({ method: req.method ?? "GET", path, query: url.searchParams, body, broker: opts.broker(clientName(req.headers["user-agent"])) });
    send(res, 200, answer);
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await handle(req, res);
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      if (err instanceof BigQueryError) return send(res, err.status, err.body());
      const detail = err instanceof JitError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
      opts.log?.(`jit proxy: unexpected error on ${req.method} ${req.url}: ${detail}`);
      send(res, 500, new BigQueryError(500, "internalError", "jit proxy hit an unexpected error; its stderr has the details").body());
    }
  };
}

/** Listens on 127.0.0.1:port (0 picks a free port) and resolves with the base URL. */
export async function listenProxy(handler: ReturnType<typeof createProxyHandler>, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => void handler(req, res));
  server.headersTimeout = 30_000;
  server.requestTimeout = 0; // getQueryResults may wait for a long query
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE"
        ? new JitError("usage", `port ${port} on 127.0.0.1 is already in use`, { hint: "pick another with --port, or stop the other jit proxy" })
        : err));
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
