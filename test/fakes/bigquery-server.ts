/**
 * A local server speaking BigQuery's v2 REST shapes (under /bigquery/v2/projects/... and
 * /projects/...) plus IAM Credentials' generateAccessToken, for tests. It holds in-memory datasets and
 * tables, answers dry runs and query jobs as configured, pages results by maxResults (and its own
 * page cap, like BigQuery's response-size limit), lets tests inject failures, and records every request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeField {
  name: string;
  type: string;
  mode?: string;
  fields?: FakeField[];
}

/** What a query job returns. `rows` holds each row's raw `v` values in schema order (nested RECORDs as {f: [...]}). */
export interface FakeResult {
  schema: FakeField[];
  rows: unknown[][];
  totalBytesProcessed?: number;
  /** getQueryResults answers jobComplete: false this many times first. */
  pollsBeforeDone?: number;
  neverCompletes?: boolean;
  /** The job fails: getQueryResults answers this error (HTTP 400 unless `code`). */
  error?: { reason: string; message: string; code?: number };
  /** The job fails at once: jobs.insert answers a DONE job with this errorResult. */
  insertError?: { reason: string; message: string };
}

export interface FakeDryRun {
  statementType: string;
  referencedTables: Array<{ projectId: string; datasetId: string; tableId: string }>;
  totalBytesProcessed: number;
  schema?: FakeField[];
  error?: { reason: string; message: string };
}

/** A failure served instead of the real answer to matching requests. */
export interface Injection {
  method?: string;
  /** Matched against the path without the /bigquery/v2 prefix and query string. */
  path: RegExp;
  /** How many matching requests it answers (default 1). */
  times?: number;
  status?: number;
  /** An error body is built from reason/message; `raw` is sent verbatim; `json` as JSON. */
  reason?: string;
  message?: string;
  raw?: string;
  json?: unknown;
  /** Never answer (the connection is closed when the server closes). */
  hang?: boolean;
  /** Close the connection without an answer. */
  destroy?: boolean;
  /** Handle the request as usual (state changes happen), then answer with the injection instead. */
  passThrough?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: any;
  authorization: string | undefined;
  prefixed: boolean;
}

interface FakeJob {
  project: string;
  jobId: string;
  location: string;
  configuration: any;
  result: FakeResult;
  polls: number;
  cancelled: boolean;
}

const STATUS_NAMES: Record<number, string> = { 400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE" };

/** BigQuery's error body: {"error": {code, message, errors: [{message, domain, reason}], status}}. */
export function errorBody(code: number, reason: string, message: string): unknown {
  return { error: { code, message, errors: [{ message, domain: "global", reason }], status: STATUS_NAMES[code] ?? "UNKNOWN" } };
}

export class FakeBigQueryServer {
  readonly requests: RecordedRequest[] = [];
  readonly jobs = new Map<string, FakeJob>();
  /** Most rows one getQueryResults page carries, whatever maxResults asks. */
  pageCap = 100_000;
  /** How long a long poll on an incomplete job is held (capped by the request's timeoutMs). */
  longPollMs = 50;
  /** Most items one datasets.list / tables.list page carries. */
  listCap = 1000;
  dryRun: (sql: string) => FakeDryRun = () => ({ statementType: "SELECT", referencedTables: [], totalBytesProcessed: 0 });
  query: (sql: string) => FakeResult = () => ({ schema: [], rows: [] });
  #datasets = new Map<string, Map<string, Map<string, FakeField[]>>>();
  #injections: Array<Injection & { left: number }> = [];
  #server: Server;
  #port = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Starts the server on 127.0.0.1 with a random port. */
  static async start(): Promise<FakeBigQueryServer> {
    let fake!: FakeBigQueryServer;
    const server = createServer((req, res) => void fake.#handle(req, res));
    fake = new FakeBigQueryServer(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    fake.#port = (server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  addDataset(project: string, dataset: string): void {
    if (!this.#datasets.has(project)) this.#datasets.set(project, new Map());
    const p = this.#datasets.get(project)!;
    if (!p.has(dataset)) p.set(dataset, new Map());
  }

  addTable(project: string, dataset: string, table: string, schema: FakeField[]): void {
    this.addDataset(project, dataset);
    this.#datasets.get(project)!.get(dataset)!.set(table, schema);
  }

  inject(injection: Injection): void {
    this.#injections.push({ ...injection, left: injection.times ?? 1 });
  }

  /** Recorded requests with this method whose path matches. */
  requestsTo(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", this.url);
    const prefixed = url.pathname.startsWith("/bigquery/v2/");
    const path = decodeURIComponent(prefixed ? url.pathname.slice("/bigquery/v2".length) : url.pathname);
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const method = req.method ?? "GET";
    const rec: RecordedRequest = { method, path, query: Object.fromEntries(url.searchParams), body, authorization: req.headers.authorization, prefixed };
    this.requests.push(rec);

    const inj = this.#injections.find((i) => i.left > 0 && (!i.method || i.method === method) && i.path.test(path));
    if (inj) {
      inj.left--;
      if (inj.passThrough) await this.#route(rec, { writeHead: () => ({ end: () => {} }) } as unknown as ServerResponse);
      if (inj.hang) return;
      if (inj.destroy) {
        req.socket.destroy();
        return;
      }
      const status = inj.status ?? 200;
      if (inj.raw !== undefined) {
        res.writeHead(status, { "content-type": "application/json" }).end(inj.raw);
        return;
      }
      return send(res, status, inj.json !== undefined ? inj.json : errorBody(status, inj.reason ?? "backendError", inj.message ?? "injected failure"));
    }
    if (path.startsWith("/v1/projects/-/serviceAccounts/")) return this.#iam(rec, res);
    if (!rec.authorization?.startsWith("Bearer ")) return send(res, 401, errorBody(401, "authError", "Request is missing required authentication credential."));
    await this.#route(rec, res);
  }

  #iam(rec: RecordedRequest, res: ServerResponse): void {
    const m = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(rec.path);
    if (!m || rec.method !== "POST") return send(res, 404, errorBody(404, "notFound", "Not found"));
    const seconds = Number(String(rec.body?.lifetime ?? "3600s").replace(/s$/, ""));
    send(res, 200, { accessToken: `impersonated:${m[1]}`, expireTime: new Date(Date.now() + seconds * 1000).toISOString() });
  }

  async #route(rec: RecordedRequest, res: ServerResponse): Promise<void> {
    const parts = rec.path.split("/").filter(Boolean);
    if (parts[0] !== "projects" || parts.length < 3) return send(res, 404, errorBody(404, "notFound", `Not found: ${rec.path}`));
    const project = parts[1]!;
    const rest = parts.slice(2);
    const q = rec.query;
    if (rec.method === "POST" && rest.length === 1 && rest[0] === "jobs") return this.#insert(project, rec.body, res);
    if (rec.method === "GET" && rest[0] === "jobs" && rest.length === 2) {
      const job = this.jobs.get(rest[1]!);
      return job ? send(res, 200, jobResource(job, "RUNNING")) : send(res, 404, errorBody(404, "notFound", `Not found: Job ${project}:${rest[1]}`));
    }
    if (rec.method === "POST" && rest[0] === "jobs" && rest[2] === "cancel") {
      const job = this.jobs.get(rest[1]!);
      if (!job) return send(res, 404, errorBody(404, "notFound", `Not found: Job ${project}:${rest[1]}`));
      job.cancelled = true;
      return send(res, 200, { kind: "bigquery#jobCancelResponse", job: jobResource(job, "DONE") });
    }
    if (rec.method === "GET" && rest[0] === "queries" && rest.length === 2) return this.#results(project, rest[1]!, q, res);
    if (rec.method === "GET" && rest[0] === "datasets") {
      const datasets = this.#datasets.get(project) ?? new Map();
      if (rest.length === 1) {
        const items = [...datasets.keys()].sort().map((d) => ({ kind: "bigquery#dataset", id: `${project}:${d}`, datasetReference: { projectId: project, datasetId: d }, location: "US" }));
        return send(res, 200, { kind: "bigquery#datasetList", etag: "x", ...listPage(items, q, "datasets", this.listCap) });
      }
      const tables = datasets.get(rest[1]!);
      if (!tables) return send(res, 404, errorBody(404, "notFound", `Not found: Dataset ${project}:${rest[1]}`));
      if (rest.length === 3 && rest[2] === "tables") {
        const items = [...tables.keys()].sort().map((t) => ({ kind: "bigquery#table", id: `${project}:${rest[1]}.${t}`, tableReference: { projectId: project, datasetId: rest[1], tableId: t }, type: "TABLE" }));
        return send(res, 200, { kind: "bigquery#tableList", etag: "x", totalItems: items.length, ...listPage(items, q, "tables", this.listCap) });
      }
      if (rest.length === 4 && rest[2] === "tables") {
        const schema = tables.get(rest[3]!);
        if (!schema) return send(res, 404, errorBody(404, "notFound", `Not found: Table ${project}:${rest[1]}.${rest[3]}`));
        return send(res, 200, { kind: "bigquery#table", tableReference: { projectId: project, datasetId: rest[1], tableId: rest[3] }, schema: { fields: schema }, type: "TABLE" });
      }
    }
    send(res, 404, errorBody(404, "notFound", `Not found: ${rec.path}`));
  }

  #insert(project: string, body: any, res: ServerResponse): void {
    const configuration = body?.configuration ?? {};
    const sql: string = configuration.query?.query ?? "";
    const location: string = body?.jobReference?.location ?? "US";
    if (configuration.dryRun) {
      const d = this.dryRun(sql);
      if (d.error) return send(res, 400, errorBody(400, d.error.reason, d.error.message));
      const stats = { statementType: d.statementType, referencedTables: d.referencedTables, totalBytesProcessed: String(d.totalBytesProcessed), schema: d.schema ? { fields: d.schema } : undefined };
      return send(res, 200, {
        kind: "bigquery#job", jobReference: { projectId: project, location }, configuration, status: { state: "DONE" },
        statistics: { totalBytesProcessed: String(d.totalBytesProcessed), query: stats },
      });
    }
    const jobId: string = body?.jobReference?.jobId ?? `job_${this.jobs.size + 1}`;
    if (this.jobs.has(jobId)) return send(res, 409, errorBody(409, "duplicate", `Already Exists: Job ${project}:${location}.${jobId}`));
    const job: FakeJob = { project, jobId, location, configuration, result: this.query(sql), polls: 0, cancelled: false };
    this.jobs.set(jobId, job);
    if (job.result.insertError) {
      const e = job.result.insertError;
      return send(res, 200, { ...jobResource(job, "DONE"), status: { state: "DONE", errorResult: { reason: e.reason, message: e.message, location: "query" }, errors: [{ reason: e.reason, message: e.message }] } });
    }
    send(res, 200, jobResource(job, "RUNNING"));
  }

  async #results(project: string, jobId: string, q: Record<string, string>, res: ServerResponse): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job) return send(res, 404, errorBody(404, "notFound", `Not found: Job ${project}:${jobId}`));
    if (job.cancelled) return send(res, 400, errorBody(400, "stopped", "Job execution was cancelled: User requested cancellation"));
    const r = job.result;
    if (r.error) return send(res, r.error.code ?? 400, errorBody(r.error.code ?? 400, r.error.reason, r.error.message));
    const ref = { projectId: job.project, jobId, location: job.location };
    if (r.neverCompletes || job.polls < (r.pollsBeforeDone ?? 0)) {
      job.polls++;
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.longPollMs, Number(q.timeoutMs ?? 10_000))));
      return send(res, 200, { kind: "bigquery#getQueryResultsResponse", jobReference: ref, jobComplete: false });
    }
    const offset = q.pageToken ? Number(q.pageToken.replace(/^p/, "")) : Number(q.startIndex ?? 0);
    const wanted = q.maxResults === undefined ? Infinity : Number(q.maxResults);
    const n = Math.max(0, Math.min(wanted, this.pageCap, r.rows.length - offset));
    const rows = r.rows.slice(offset, offset + n).map((values) => ({ f: values.map((v) => ({ v })) }));
    send(res, 200, {
      kind: "bigquery#getQueryResultsResponse", etag: "x", jobReference: ref, jobComplete: true, cacheHit: false,
      schema: { fields: r.schema }, totalRows: String(r.rows.length), totalBytesProcessed: String(r.totalBytesProcessed ?? 0),
      ...(rows.length > 0 ? { rows } : {}),
      ...(offset + n < r.rows.length ? { pageToken: `p${offset + n}` } : {}),
    });
  }
}

function jobResource(job: FakeJob, state: string): Record<string, unknown> {
  return {
    kind: "bigquery#job", id: `${job.project}:${job.location}.${job.jobId}`,
    jobReference: { projectId: job.project, jobId: job.jobId, location: job.location },
    configuration: job.configuration, status: { state: job.cancelled ? "DONE" : state },
    statistics: { creationTime: String(Date.now()) },
  };
}

function listPage<T>(items: T[], q: Record<string, string>, key: string, cap: number): Record<string, unknown> {
  const offset = q.pageToken ? Number(q.pageToken.replace(/^p/, "")) : 0;
  const size = Math.min(cap, q.maxResults ? Number(q.maxResults) : 50);
  const page = items.slice(offset, offset + size);
  return { [key]: page, ...(offset + size < items.length ? { nextPageToken: `p${offset + size}` } : {}) };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" }).end(JSON.stringify(body));
}
