/** One BigQuery query job: insert with a client-chosen id, long-poll, page results; cancelled on timeout or disconnect. */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Field, RunOptions, RunResult, Row } from "./types.ts";
import { WarehouseQueryError } from "./types.ts";
import type { BigQueryConfig } from "./bigquery-config.ts";
import { CallStopped, restCall, type Json, type RestCall, type RestClient, type RetryPolicy } from "./bigquery-rest.ts";
import { fieldOf, restFields, rowOf, sanitizeLabels } from "./bigquery-values.ts";

const DEFAULT_QUERY_TIMEOUT_MS = 300_000;
const PAGE_ROWS = 10_000;
const POLL_WAIT_MS = 10_000;
const MAX_EMPTY_PAGES = 5;
const CANCEL_TIMEOUT_MS = 10_000;
// Failures that are BigQuery's word on the job itself (it has finished), as opposed to not knowing its state.
const UNKNOWN_STATE = new Set(["unreachable", "malformed", "internal", "rateLimitExceeded", "backendError", "internalError"]);

/** A JSON object (not null, not an array). */
export const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
/** The error for a response that does not have BigQuery's shape. */
export const malformed = (what: string, jobId?: string): WarehouseQueryError =>
  new WarehouseQueryError(`BigQuery returned a malformed response (${what})`, { jobId, reason: "malformed" });
/** A non-negative count sent as an int64 string (or number); undefined when absent. */
export const count = (v: unknown, what: string, jobId?: string): number | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== "string" && typeof v !== "number") throw malformed(what, jobId);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw malformed(what, jobId);
  return n;
};
/** The job's errorResult as a WarehouseQueryError, if it failed. */
export const jobError = (status: Json, jobId?: string): WarehouseQueryError | undefined => {
  const e = status.errorResult;
  if (e === undefined) return undefined;
  if (!isRecord(e)) return malformed("status.errorResult", jobId);
  return new WarehouseQueryError(typeof e.message === "string" ? e.message : "the query failed", { jobId, reason: typeof e.reason === "string" ? e.reason : undefined });
};

/** One query job: insert, wait, page. Timeout and the caller's signal cancel the job. */
export class QueryRun {
  readonly #client: RestClient;
  readonly #billing: string;
  readonly #retry: RetryPolicy;
  readonly #jobId = `jit_${randomUUID().replace(/-/g, "_")}`;
  readonly #stop = new AbortController();
  readonly #timeoutMs: number;
  #why: "timeout" | "cancelled" | undefined;
  #location: string | undefined;
  #inserted = false;
  #finished = false;
  #cleanup: () => void = () => {};

  constructor(client: RestClient, cfg: BigQueryConfig, billing: string, retry: RetryPolicy) {
    this.#client = client;
    this.#billing = billing;
    this.#retry = retry;
    this.#location = cfg.location;
    this.#timeoutMs = cfg.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  }

  #call(call: Omit<RestCall, "projectId" | "jobId">, extra: { conflictAfterRetry?: () => Promise<Json> } = {}): Promise<Json> {
    return restCall(this.#client, { ...call, projectId: this.#billing, jobId: this.#jobId }, this.#retry, { signal: this.#stop.signal, ...extra });
  }

  #resultsQuery(maxResults: number, pageToken?: string): RestCall["qs"] {
    return { location: this.#location, maxResults, pageToken, timeoutMs: POLL_WAIT_MS, "formatOptions.useInt64Timestamp": true };
  }

  /** Best effort: a job whose state is unknown is cancelled, bounded in time, errors ignored. */
  async #cancel(): Promise<void> {
    if (!this.#inserted || this.#finished) return;
    try {
      await restCall(this.#client, { method: "POST", projectId: this.#billing, path: ["jobs", this.#jobId, "cancel"], qs: { location: this.#location }, idempotent: true, what: "jobs.cancel", jobId: this.#jobId },
        { ...this.#retry, attempts: 2 }, { signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS) });
    } catch {
      // The job's own jobTimeoutMs stops it anyway.
    }
  }

  async #fail(err: unknown): Promise<WarehouseQueryError> {
    this.#cleanup();
    const jobId = this.#jobId;
    if (err instanceof WarehouseQueryError && err.reason && !UNKNOWN_STATE.has(err.reason) && !err.reason.startsWith("http5")) this.#finished = true;
    await this.#cancel();
    if (err instanceof CallStopped || this.#stop.signal.aborted) {
      return this.#why === "timeout"
        ? new WarehouseQueryError(`Query timed out after ${this.#timeoutMs} ms; job ${jobId} was cancelled`, { jobId, reason: "timeout" })
        : new WarehouseQueryError(`Query cancelled: the caller went away; job ${jobId} was cancelled`, { jobId, reason: "stopped" });
    }
    if (err instanceof WarehouseQueryError) return err.jobId ? err : new WarehouseQueryError(err.message, { jobId, reason: err.reason });
    return new WarehouseQueryError(`BigQuery query failed: ${err instanceof Error ? err.message : String(err)}`, { jobId, reason: "internal" });
  }

  async start(sql: string, opts: RunOptions): Promise<RunResult> {
    const signal = opts.signal;
    const timer = setTimeout(() => { this.#why ??= "timeout"; this.#stop.abort(); }, this.#timeoutMs);
    timer.unref();
    const onAbort = (): void => { this.#why ??= "cancelled"; this.#stop.abort(); };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    this.#cleanup = () => { clearTimeout(timer); signal?.removeEventListener("abort", onAbort); };

    const maxRows = Math.max(0, Math.floor(opts.maxRows));
    let first: Json;
    let schema: Field[];
    try {
      await this.#insert(sql, opts);
      first = await this.#waitForResults(Math.min(PAGE_ROWS, maxRows));
      const s = first.schema;
      schema = s === undefined ? [] : isRecord(s) ? restFields(s.fields ?? []).map(fieldOf) : [];
      if (s !== undefined && !isRecord(s)) throw malformed("results schema", this.#jobId);
    } catch (err) {
      throw await this.#fail(err);
    }
    const totalRows = count(first.totalRows, "totalRows", this.#jobId);
    const bytesProcessed = count(first.totalBytesProcessed, "totalBytesProcessed", this.#jobId) ?? 0;
    const jobId = this.#jobId;
    type Done = { truncated: boolean; bytesProcessed: number; jobId: string };
    let settle!: { resolve: (v: Done) => void; reject: (e: unknown) => void };
    const finished = new Promise<Done>((resolve, reject) => { settle = { resolve, reject }; });
    finished.catch(() => {}); // a caller that only iterates sees the error there
    const run = this;

    async function* rows(): AsyncGenerator<Row> {
      let emitted = 0;
      let truncated = false;
      let page = first;
      let empties = 0;
      try {
        for (;;) {
          const raw = page.rows ?? [];
          if (!Array.isArray(raw)) throw malformed("rows", jobId);
          let left = raw.length;
          for (const r of raw) {
            if (emitted >= maxRows) break;
            const row = rowOf(schema, r);
            emitted++;
            left--;
            yield row;
          }
          const token = page.pageToken;
          if (token !== undefined && typeof token !== "string") throw malformed("pageToken", jobId);
          if (emitted >= maxRows || !token) {
            truncated = totalRows !== undefined ? totalRows > emitted : left > 0 || !!token;
            break;
          }
          empties = raw.length === 0 ? empties + 1 : 0;
          if (empties > MAX_EMPTY_PAGES) throw malformed("empty result pages", jobId);
          page = await run.#call({ method: "GET", path: ["queries", jobId], qs: run.#resultsQuery(Math.min(PAGE_ROWS, maxRows - emitted), token), idempotent: true, what: "jobs.getQueryResults" });
          if (page.jobComplete === false) throw malformed("page of an incomplete job", jobId);
        }
        settle.resolve({ truncated, bytesProcessed, jobId });
      } catch (err) {
        const e = await run.#fail(err);
        settle.reject(e);
        throw e;
      } finally {
        settle.resolve({ truncated, bytesProcessed, jobId }); // no-op unless the consumer stopped early
        run.#cleanup();
      }
    }

    return { schema, rows: rows(), done: () => finished };
  }

  async #insert(sql: string, opts: RunOptions): Promise<void> {
    const query: Json = { query: sql, useLegacySql: false };
    if (opts.maxBytesBilled !== undefined) query.maximumBytesBilled = String(Math.max(1, Math.floor(opts.maxBytesBilled)));
    const body = {
      jobReference: { projectId: this.#billing, jobId: this.#jobId, location: this.#location },
      // jobTimeoutMs: BigQuery stops the job itself should the broker die before cancelling it.
      configuration: { query, labels: sanitizeLabels(opts.labels), jobTimeoutMs: String(this.#timeoutMs) },
    };
    this.#inserted = true;
    const getJob = (): Promise<Json> => this.#call({ method: "GET", path: ["jobs", this.#jobId], qs: { location: this.#location }, idempotent: true, what: "jobs.get" });
    const job = await this.#call({ method: "POST", path: ["jobs"], json: body, idempotent: true, what: "jobs.insert" }, { conflictAfterRetry: getJob });
    const ref = job.jobReference;
    if (!isRecord(ref) || ref.jobId !== this.#jobId || !isRecord(job.status) || typeof job.status.state !== "string") {
      throw malformed("jobs.insert without jobReference or status", this.#jobId);
    }
    if (typeof ref.location === "string" && ref.location) this.#location = ref.location;
    const failed = jobError(job.status, this.#jobId);
    if (job.status.state === "DONE") this.#finished = true;
    if (failed) {
      this.#finished = true;
      throw failed;
    }
  }

  /** Long-polls getQueryResults until the job completes; the answer holds the schema and the first page. */
  async #waitForResults(firstPage: number): Promise<Json> {
    let delay = 50;
    for (;;) {
      const res = await this.#call({ method: "GET", path: ["queries", this.#jobId], qs: this.#resultsQuery(firstPage), idempotent: true, what: "jobs.getQueryResults" });
      if (typeof res.jobComplete !== "boolean") throw malformed("getQueryResults without jobComplete", this.#jobId);
      if (res.jobComplete) {
        this.#finished = true;
        return res;
      }
      try {
        await sleep(delay, undefined, { signal: this.#stop.signal });
      } catch {
        throw new CallStopped();
      }
      delay = Math.min(delay * 2, 1000);
    }
  }
}
