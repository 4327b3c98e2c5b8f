/**
 * The proxy's job table: each query job the proxy ran for its callers, its state and its (already masked)
 * result, so jobs.get, jobs.getQueryResults and paging answer from what the broker returned once.
 * Bounded: the oldest finished jobs are forgotten first.
 */
import { randomBytes } from "node:crypto";
import { BigQueryError } from "./errors.ts";
import { type BrokerColumn, encodeRows, type RestField, resultSchema, type TimestampFormat } from "./values.ts";

/** What the broker's POST /v1/query answers for a run. */
export interface BrokerResult {
  columns: BrokerColumn[];
  rows: Record<string, unknown>[];
  row_count: number;
  truncated: boolean;
  masked_cells: number;
  /** Null when the statement reads a masked column: the byte statistics are then left out. */
  bytes_processed: number | null;
  audit_id: string;
}

export interface Job {
  projectId: string;
  jobId: string;
  location: string;
  sql: string;
  labels: Record<string, string>;
  createdMs: number;
  endMs?: number;
  result?: BrokerResult;
  schema?: RestField[];
  error?: BigQueryError;
  /** Settles (never rejects) when the broker has answered or the job was cancelled. */
  done: Promise<void>;
  /** Abandons the broker call, so the broker stops the warehouse job it runs for this one. */
  stop: AbortController;
}

const MAX_JOBS = 200;

/** A new job id in BigQuery's style (letters, digits, underscores). */
export function newJobId(): string {
  return `jit_${randomBytes(12).toString("hex")}`;
}

/** Job ids BigQuery accepts: letters, digits, underscores and dashes, at most 1024 characters. */
export function validJobId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,1024}$/.test(id);
}

/** The jobs of one proxy run. */
export class JobTable {
  readonly #jobs = new Map<string, Job>();

  /** Starts a job whose result `run` produces (abandoned through `signal` on jobs.cancel); a client-chosen id that exists already is a 409. */
  start(init: Omit<Job, "done" | "createdMs" | "stop">, run: (signal: AbortSignal) => Promise<BrokerResult>, now = Date.now()): Job {
    const key = `${init.projectId}:${init.jobId}`;
    if (this.#jobs.has(key)) throw new BigQueryError(409, "duplicate", `Already Exists: Job ${init.projectId}:${init.location}.${init.jobId}`);
    const job = { ...init, createdMs: now, stop: new AbortController() } as Job;
    job.done = run(job.stop.signal).then(
      (result) => {
        if (job.error) return; // cancelled meanwhile: the result is dropped
        job.result = result;
        job.schema = resultSchema(result.columns, result.rows);
        job.endMs = Date.now();
      },
      (err: unknown) => {
        job.error ??= err instanceof BigQueryError ? err : new BigQueryError(500, "internalError", "jit proxy: the job failed unexpectedly");
        job.endMs = Date.now();
      },
    );
    this.#jobs.set(key, job);
    this.#evict();
    return job;
  }

  /** The job, or a 404 that says only what the caller already knows (its id). */
  get(projectId: string, jobId: string): Job {
    const job = this.#jobs.get(`${projectId}:${jobId}`);
    if (!job) throw new BigQueryError(404, "notFound", `Not found: Job ${projectId}:${jobId} (jit proxy knows the jobs it ran since it started)`);
    return job;
  }

  /** Cancels a running job: the broker call is abandoned (the broker then stops the warehouse job) and a late result is dropped. */
  cancel(job: Job): void {
    if (job.endMs !== undefined) return;
    job.error = new BigQueryError(400, "stopped", "Job execution was cancelled: jobs.cancel");
    job.endMs = Date.now();
    job.stop.abort(job.error);
  }

  #evict(): void {
    if (this.#jobs.size <= MAX_JOBS) return;
    for (const [key, job] of this.#jobs) {
      if (this.#jobs.size <= MAX_JOBS) break;
      if (job.endMs !== undefined) this.#jobs.delete(key);
    }
  }
}

/** Waits for a job to finish, at most `ms`; true when it did. */
export async function waitFor(job: Job, ms: number): Promise<boolean> {
  if (job.endMs !== undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  const finished = await Promise.race([job.done.then(() => true as const), timeout]);
  clearTimeout(timer);
  return finished || job.endMs !== undefined;
}

/** The `jobReference` every job answer carries (clients read it without a null check). */
export const jobReference = (job: Job) => ({ projectId: job.projectId, jobId: job.jobId, location: job.location });

/** A page token: the offset of the next row, bound to the job it pages. */
export function pageToken(jobId: string, offset: number): string {
  return Buffer.from(JSON.stringify({ j: jobId, o: offset })).toString("base64url");
}

/** The job (or listing) a page token belongs to; "" for a malformed token. */
export function pageTokenJob(token: string): string {
  try {
    const j = (JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { j?: unknown }).j;
    return typeof j === "string" ? j : "";
  } catch {
    return "";
  }
}

/** Reads a page token back; a token of another job or a malformed one is a 400. */
export function readPageToken(token: string, jobId: string): number {
  try {
    const t = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { j?: unknown; o?: unknown };
    if (t.j === jobId && typeof t.o === "number" && Number.isInteger(t.o) && t.o >= 0) return t.o;
  } catch {
    // fall through to the refusal
  }
  throw new BigQueryError(400, "invalid", "Invalid page token");
}

/** One page of a finished job's rows: schema, rows, totalRows (a string) and the next page's token. */
export function resultPage(job: Job, opts: { start: number; maxResults?: number; ts: TimestampFormat }) {
  const result = job.result!;
  const schema = job.schema!;
  const end = opts.maxResults === undefined ? result.rows.length : Math.min(result.rows.length, opts.start + opts.maxResults);
  const rows = opts.start < end ? result.rows.slice(opts.start, end) : [];
  return {
    schema: { fields: schema },
    totalRows: String(result.rows.length),
    rows: encodeRows(schema, rows, opts.ts),
    ...(end < result.rows.length ? { pageToken: pageToken(job.jobId, end) } : {}),
    ...(result.bytes_processed !== null ? { totalBytesProcessed: String(result.bytes_processed) } : {}),
  };
}

/** The BigQuery job resource for jobs.insert, jobs.get and jobs.cancel. */
export function jobResource(job: Job) {
  const status = job.endMs === undefined
    ? { state: "RUNNING" }
    : job.error
      ? { state: "DONE", errorResult: job.error.errorProto(), errors: [job.error.errorProto()] }
      : { state: "DONE" };
  const bytes = job.result && job.result.bytes_processed !== null ? String(job.result.bytes_processed) : undefined;
  return {
    kind: "bigquery#job",
    id: `${job.projectId}:${job.location}.${job.jobId}`,
    jobReference: jobReference(job),
    configuration: {
      jobType: "QUERY",
      query: { query: job.sql, useLegacySql: false, priority: "INTERACTIVE" },
      ...(Object.keys(job.labels).length ? { labels: job.labels } : {}),
    },
    status,
    statistics: {
      creationTime: String(job.createdMs),
      startTime: String(job.createdMs),
      ...(job.endMs !== undefined ? { endTime: String(job.endMs) } : {}),
      ...(bytes !== undefined ? { totalBytesProcessed: bytes } : {}),
      query: {
        statementType: "SELECT",
        ...(bytes !== undefined ? { totalBytesProcessed: bytes, totalBytesBilled: bytes } : {}),
        cacheHit: false,
        ...(job.schema ? { schema: { fields: job.schema } } : {}),
      },
    },
  };
}
