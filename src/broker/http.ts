/** Minimal HTTP plumbing for the broker's JSON API: a route table, bounded JSON bodies, error bodies. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HTTP_STATUS, JitError } from "../errors.ts";

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
}

export type Handler = (ctx: RouteContext) => Promise<unknown>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

/** A route table: `add("GET", "/v1/requests/:id", handler)`; a handler's return value is sent as JSON. */
export class Router {
  readonly #routes: Route[] = [];

  /** Registers a route; `:name` segments become params. */
  add(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/:([a-z_]+)/g, (_, k: string) => (keys.push(k), "([^/]+)"))}$`,
    );
    this.#routes.push({ method, pattern, keys, handler });
    return this;
  }

  /** Finds the handler for a request: the route, or a 404/405 error. */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } {
    let pathMatched = false;
    for (const r of this.#routes) {
      const m = r.pattern.exec(pathname);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? "")));
      return { handler: r.handler, params };
    }
    if (pathMatched) throw new JitError("usage", `${method} is not allowed on ${pathname}`);
    throw new JitError("usage", `no such endpoint: ${method} ${pathname}`, { details: { status: 404 } });
  }
}

const MAX_BODY = 1024 * 1024;

/** Reads a JSON object body (at most 1 MiB); anything else is a usage error. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new JitError("usage", "request body is larger than 1 MiB");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new JitError("usage", "request body is not valid JSON");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new JitError("usage", "request body must be a JSON object");
  return body as Record<string, unknown>;
}

/** Sends a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(text);
}

/** Sends a JitError as `{"error": {...}}` with its HTTP status. */
export function sendError(res: ServerResponse, err: JitError): void {
  const status = typeof err.details.status === "number" ? err.details.status : HTTP_STATUS[err.code];
  const body = err.toJSON();
  delete (body.error as Record<string, unknown>).status;
  sendJson(res, status, body);
}

/** Reads an optional string field of a JSON body. */
export function optString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new JitError("usage", `"${key}" must be a string`);
  return v;
}
