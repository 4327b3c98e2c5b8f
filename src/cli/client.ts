/** The CLI's (and MCP server's) client for the broker's JSON API. */
import { createRequire } from "node:module";
import type { ApproveInput, DenyInput, ExplainInput, FileRequestInput, QueryInput, RevokeInput } from "../api/schemas.ts";
import { errorFromBody, JitError } from "../errors.ts";
import { unreachableError } from "./net-error.ts";

const JIT_VERSION = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

export interface ClientInfo {
  kind: "cli" | "mcp" | "proxy";
  name: string;
  version: string;
}

export interface BrokerClientOptions {
  baseUrl: string;
  /** Supplies a bearer token (refreshing as needed); absent for public endpoints. */
  token?: () => Promise<string>;
  client: ClientInfo;
  timeoutMs?: number;
}

export interface RequestOptions {
  /** Default true: attach the bearer token. */
  auth?: boolean;
  /** Abandons the call; the broker sees the connection close and stops the query it was running for it. */
  signal?: AbortSignal;
  /** Overrides the client's answer timeout (a long poll waits longer than an ordinary call). */
  timeoutMs?: number;
}

/** Talks to one broker; maps network failures to `unreachable` and error bodies to their SPEC codes. */
export class BrokerClient {
  readonly baseUrl: string;
  readonly #opts: BrokerClientOptions;

  constructor(opts: BrokerClientOptions) {
    this.baseUrl = opts.baseUrl;
    this.#opts = opts;
  }

  /** GET a path. */
  get<T = Record<string, unknown>>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>("GET", path, undefined, opts);
  }

  /** POST JSON to a route; the body's type is the route's schema (src/api/schemas.ts), so the contract is declared once. */
  post<T = Record<string, unknown>>(path: "/v1/query", body: QueryInput, opts?: RequestOptions): Promise<T>;
  post<T = Record<string, unknown>>(path: "/v1/requests", body: FileRequestInput, opts?: RequestOptions): Promise<T>;
  post<T = Record<string, unknown>>(path: "/v1/policy/explain", body: ExplainInput, opts?: RequestOptions): Promise<T>;
  post<T = Record<string, unknown>>(path: `/v1/requests/${string}/approve`, body: ApproveInput, opts?: RequestOptions): Promise<T>;
  post<T = Record<string, unknown>>(path: `/v1/requests/${string}/deny`, body: DenyInput, opts?: RequestOptions): Promise<T>;
  post<T = Record<string, unknown>>(path: `/v1/requests/${string}/cancel`, body: Record<string, never>, opts?: RequestOptions): Promise<T>;
  post<T = Record<string, unknown>>(path: `/v1/grants/${string}/revoke`, body: RevokeInput, opts?: RequestOptions): Promise<T>;
  post<T>(path: string, body: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>("POST", path, body, opts);
  }

  /** Sends one request; `auth` (default true) attaches the bearer token; `signal` abandons it (the broker then cancels its warehouse job); `timeoutMs` overrides the client's (a long poll). */
  async request<T>(method: string, path: string, body: unknown, opts: RequestOptions = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.#opts.timeoutMs ?? 10 * 60_000;
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": `jit/${JIT_VERSION}`,
      "x-jit-client": this.#opts.client.kind,
      "x-jit-client-name": this.#opts.client.name,
      "x-jit-client-version": this.#opts.client.version,
    };
    if (opts.auth !== false) {
      if (!this.#opts.token) throw new JitError("unauthenticated", "not signed in", { hint: "run: jit login" });
      headers.authorization = `Bearer ${await this.#opts.token()}`;
    }
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(new URL(path, `${this.baseUrl}/`), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      // Abandoned by the caller, not a broker outage: the caller's own reason, which it already acts on.
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw unreachableError(err, this.baseUrl, timeoutMs);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new JitError("unreachable", `${this.baseUrl} answered with something that is not the jit broker's API (HTTP ${res.status})`, {
        hint: "check the broker URL (--broker / JIT_BROKER)",
      });
    }
    if (!res.ok) throw withRetryAfter(errorFromBody(parsed, `the broker answered HTTP ${res.status}`), res);
    return parsed as T;
  }
}

/**
 * A refusal that says when to come back (503 + Retry-After: overloaded, draining, store unavailable) carries the
 * wait as `retry_after_s` and a hint that names it; it stays `unreachable` (exit 7).
 */
export function withRetryAfter(err: JitError, res: Response): JitError {
  const header = res.headers.get("retry-after");
  const fromBody = err.details.retry_after_s;
  const wait = typeof fromBody === "number" ? fromBody : header && /^\d{1,6}$/.test(header.trim()) ? Number(header.trim()) : undefined;
  if (wait === undefined) return err;
  const says = err.hint !== undefined && /retry in \d+ s/.test(err.hint);
  return new JitError(err.code === "internal" ? "unreachable" : err.code, err.message, {
    hint: says ? err.hint : `retry in ${wait} s${err.hint ? `; ${err.hint}` : ""}`,
    details: { ...err.details, retry_after_s: wait },
  });
}
