/** HTTP plumbing for the broker's JSON API: bounded, time-limited bodies; JSON and error responses; path matching. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HTTP_STATUS, JitError } from "../errors.ts";

/** The largest request body the broker reads (a 1 MB statement fits, with its JSON quoting). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A refusal with an HTTP status other than its code's default (404, 405, 408, 413, 415, 429). */
export function httpError(status: number, code: "usage" | "unauthenticated" | "denied" | "unreachable", message: string, opts: { hint?: string; headers?: Record<string, string> } = {}): JitError {
  return new JitError(code, message, { hint: opts.hint, details: { status, ...(opts.headers ? { headers: opts.headers } : {}) } });
}

/** Raised when the client went away mid-request: an info line, never an internal error. */
export class ClientGone extends Error {
  constructor() {
    super("the client closed the connection");
    this.name = "ClientGone";
  }
}

/**
 * Reads a JSON object body of at most `limit` bytes, which must arrive within `timeoutMs` (a slow body is
 * cut off with 408). An empty body is `{}`; a non-empty one must say it is application/json (so a
 * browser's cross-site "simple" POST, text/plain, is refused before anything reads it).
 */
export async function readJsonBody(req: IncomingMessage, opts: { limit?: number; timeoutMs: number }): Promise<Record<string, unknown>> {
  const limit = opts.limit ?? MAX_BODY_BYTES;
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > limit) throw httpError(413, "usage", `the request body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(httpError(408, "usage", `the request body did not arrive within ${Math.round(opts.timeoutMs / 1000)} s`)), opts.timeoutMs);
    const done = () => {
      clearTimeout(timer);
      req.off("data", onData).off("end", onEnd).off("error", onError).off("aborted", onAborted);
    };
    const fail = (err: Error) => {
      done();
      req.resume(); // let the socket drain or be destroyed by the caller; never keep reading into memory
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return fail(httpError(413, "usage", `the request body is larger than ${limit} bytes`));
      chunks.push(chunk);
    };
    const onEnd = () => { done(); resolve(); };
    const onError = () => fail(new ClientGone());
    const onAborted = () => fail(new ClientGone());
    req.on("data", onData).on("end", onEnd).on("error", onError).on("aborted", onAborted);
  });
  if (size === 0) return {};
  const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    throw httpError(415, "usage", `the request body must be application/json${type ? `, not ${type}` : ""}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new JitError("usage", "the request body is not valid JSON");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new JitError("usage", "the request body must be a JSON object");
  return body as Record<string, unknown>;
}

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
} as const;

/** Sends a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...SECURITY_HEADERS,
    ...headers,
  });
  res.end(text);
}

/** The HTTP status a JitError answers with. */
export function statusOf(err: JitError): number {
  return typeof err.details.status === "number" ? err.details.status : HTTP_STATUS[err.code];
}

/** Sends a JitError as `{"error": {...}}` with its HTTP status (and any headers it carries, e.g. Allow, Retry-After). */
export function sendError(res: ServerResponse, err: JitError, headers: Record<string, string> = {}): void {
  const body = err.toJSON();
  const extra = { ...(err.details.headers ?? {}) } as Record<string, string>;
  const status = statusOf(err);
  delete (body.error as Record<string, unknown>).status;
  delete (body.error as Record<string, unknown>).headers;
  // Every 503 (a store that is down, a broker at capacity or draining) says when to come back, in the header and the body.
  if (status === 503 && extra["retry-after"] === undefined) {
    const wait = typeof err.details.retry_after_s === "number" ? err.details.retry_after_s : UNAVAILABLE_RETRY_AFTER_S;
    extra["retry-after"] = String(wait);
    (body.error as Record<string, unknown>).retry_after_s = wait;
  }
  sendJson(res, status, body, { ...headers, ...extra });
}

/** Retry-After of a 503 that names no wait of its own (a store that is unavailable), in seconds. */
export const UNAVAILABLE_RETRY_AFTER_S = 5;

/** A compiled route path: `/v1/requests/:id` matches `/v1/requests/7` with `{ id: "7" }` (still percent-encoded). */
export interface PathPattern {
  path: string;
  match(pathname: string): Record<string, string> | null;
}

/** Compiles a path with `:name` segments. */
export function compilePath(path: string): PathPattern {
  const keys: string[] = [];
  const re = new RegExp(`^${path.replace(/:([a-z_]+)/g, (_, k: string) => (keys.push(k), "([^/]+)"))}$`);
  return {
    path,
    match(pathname) {
      const m = re.exec(pathname);
      if (!m) return null;
      return Object.fromEntries(keys.map((k, i) => [k, m[i + 1]!]));
    },
  };
}

/** Decodes a path parameter; malformed percent-encoding (`%ZZ`) is a 400 naming it, never a 500. */
export function decodeParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new JitError("usage", `"${name}" in the path is not valid percent-encoding`);
  }
}

/** The first value of a request header, bounded (headers are logged and audited; nobody fills the log through them). */
export function header(req: IncomingMessage, name: string, max = 200): string {
  const v = req.headers[name];
  return ((Array.isArray(v) ? v[0] : v) ?? "").slice(0, max);
}
