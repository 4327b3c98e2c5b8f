/**
 * BigQuery REST calls through the client's low-level `request` (auth, endpoint, user agent), with
 * jit's own retries and error mapping. The client's high-level job helpers dereference response
 * fields inside callbacks, so a malformed response crashes the process with an uncaught TypeError;
 * here every response body is handed back untouched and checked by the caller inside a promise.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { WarehouseQueryError } from "./types.ts";

/** The part of @google-cloud/common's Service that jit uses. */
export interface RestClient {
  request(opts: Record<string, unknown>, callback: (err: unknown, body?: unknown) => void): void;
}

export type Json = Record<string, unknown>;

export interface RestCall {
  method: "GET" | "POST";
  projectId: string;
  /** Path segments below /projects/{projectId}, e.g. ["jobs", id, "cancel"]. */
  path: string[];
  qs?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  /** Safe to send twice: reads, cancels, and jobs.insert with a client-chosen job id. */
  idempotent: boolean;
  /** For error messages: what the call does. */
  what: string;
  jobId?: string;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Raised (instead of a WarehouseQueryError) when the caller's signal stops a call: the caller decides what that means. */
export class CallStopped extends Error {
  constructor() {
    super("stopped");
    this.name = "CallStopped";
  }
}

const RETRY_REASONS = new Set(["rateLimitExceeded", "backendError", "internalError", "jobBackendError", "jobInternalError"]);
const NETWORK_CODES = /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/;
const SEGMENT = /^[^/\\%?#\u0000-\u001f]+$/;

const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A path segment (project, dataset, table, job id) safe to put in a URL, or a WarehouseQueryError. */
export function segment(name: string, what: string): string {
  if (!SEGMENT.test(name) || name === "." || name === "..") throw new WarehouseQueryError(`Invalid ${what} name: ${JSON.stringify(name)}`, { reason: "invalid" });
  return name;
}

interface Failure {
  error: WarehouseQueryError;
  status: number | undefined;
  retryable: boolean;
}

/** Classifies whatever the client's callback reported: an HTTP/API error, a network failure, or something else. */
function classify(err: unknown, call: RestCall): Failure {
  const e = (isRecord(err) || err instanceof Error ? err : {}) as Json & { response?: { statusCode?: unknown } };
  const status = typeof e.code === "number" ? e.code : typeof e.response?.statusCode === "number" ? e.response.statusCode : undefined;
  const errors = Array.isArray(e.errors) ? e.errors.filter(isRecord) : [];
  const first = errors[0];
  if (e.name === "SyntaxError" || (status !== undefined && status < 300)) {
    // A body that is not JSON: a success answer that cannot be trusted, or a proxy's error page.
    if (status === undefined || status < 300) {
      return { error: new WarehouseQueryError(`BigQuery returned a malformed response (${call.what}: not JSON)`, { jobId: call.jobId, reason: "malformed" }), status, retryable: false };
    }
    const error = new WarehouseQueryError(`BigQuery answered HTTP ${status} without a JSON body (${call.what})`, { jobId: call.jobId, reason: `http${status}` });
    return { error, status, retryable: status === 429 || status >= 500 };
  }
  if (status !== undefined) {
    const reason = typeof first?.reason === "string" ? first.reason : status === 404 ? "notFound" : status === 403 ? "accessDenied" : `http${status}`;
    const text = typeof first?.message === "string" && first.message ? first.message : typeof e.message === "string" && e.message ? e.message : `HTTP ${status}`;
    const retryable = status === 429 || status >= 500 || RETRY_REASONS.has(reason);
    return { error: new WarehouseQueryError(text, { jobId: call.jobId, reason }), status, retryable };
  }
  const code = typeof e.code === "string" ? e.code : "";
  const name = typeof e.name === "string" ? e.name : "";
  const message = typeof e.message === "string" ? e.message : String(err);
  if (NETWORK_CODES.test(code) || e.type === "system" || e.type === "request-timeout" || name === "FetchError" || name === "AbortError" || /fetch failed|socket hang up|network timeout/i.test(message)) {
    return { error: new WarehouseQueryError(`BigQuery is unreachable (${call.what}): ${message}`, { jobId: call.jobId, reason: "unreachable" }), status, retryable: true };
  }
  // Credential problems (no ADC, refused impersonation) and anything unforeseen: not worth retrying.
  return { error: new WarehouseQueryError(`BigQuery call failed (${call.what}): ${message}`, { jobId: call.jobId, reason: "internal" }), status, retryable: false };
}

/** Waits for `p`, or throws CallStopped as soon as `signal` aborts (the request is abandoned, not awaited). */
async function unlessStopped<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) throw new CallStopped();
  let onAbort!: () => void;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(new CallStopped());
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([p, stopped]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function attempt(client: RestClient, call: RestCall): Promise<unknown> {
  return new Promise((resolve, reject) => {
    try {
      // The callback only settles the promise: nothing in it can throw out of the client's stack.
      client.request(
        { method: call.method, projectId: call.projectId, uri: `/${call.path.join("/")}`, qs: call.qs, json: call.json ?? (call.method === "POST" ? {} : undefined), maxRetries: 0 },
        (err, body) => (err ? reject(err) : resolve(body)),
      );
    } catch (err) {
      reject(err);
    }
  });
}

/**
 * One REST call: the JSON object BigQuery answered, or a WarehouseQueryError (reason from
 * `error.errors[].reason`, `unreachable` for network failures, `malformed` for a body that is not an
 * object). Idempotent calls are retried with exponential backoff and jitter on rate limits, backend
 * errors, 5xx and network failures. `conflictAfterRetry` answers a 409 seen after a retry (the first
 * attempt went through). Throws CallStopped when `signal` aborts.
 */
export async function restCall(
  client: RestClient, call: RestCall, retry: RetryPolicy,
  opts: { signal?: AbortSignal; conflictAfterRetry?: () => Promise<Json> } = {},
): Promise<Json> {
  for (let i = 0; ; i++) {
    let body: unknown;
    try {
      body = await unlessStopped(attempt(client, call), opts.signal);
    } catch (err) {
      if (err instanceof CallStopped) throw err;
      const failure = classify(err, call);
      if (failure.status === 409 && i > 0 && opts.conflictAfterRetry) return opts.conflictAfterRetry();
      if (!call.idempotent || !failure.retryable || i + 1 >= retry.attempts) throw failure.error;
      const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** i);
      const delay = ceiling / 2 + Math.random() * (ceiling / 2);
      try {
        await sleep(delay, undefined, { signal: opts.signal });
      } catch {
        throw new CallStopped();
      }
      continue;
    }
    if (!isRecord(body)) {
      throw new WarehouseQueryError(`BigQuery returned a malformed response (${call.what}: not a JSON object)`, { jobId: call.jobId, reason: "malformed" });
    }
    return body;
  }
}
