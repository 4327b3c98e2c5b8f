/**
 * The BigQuery v2 methods the proxy serves, each decided by the broker through its HTTP API:
 * jobs.query/insert/get/getQueryResults/cancel, datasets.list/get, tables.list/get, tabledata.list.
 */
import type { BrokerClient } from "../cli/client.ts";
import { BigQueryError, bigQueryErrorFrom, unsupported } from "./errors.ts";
import { type BrokerResult, type Job, jobReference, jobResource, JobTable, newJobId, pageToken, pageTokenJob, readPageToken, resultPage, validJobId, waitFor } from "./jobs.ts";
import { type BrokerColumn, restField, resultSchema, timestampFormat } from "./values.ts";

export interface Call {
  method: string;
  /** Path without the /bigquery/v2 prefix. */
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
  broker: BrokerClient;
}

const DEFAULT_LOCATION = "US";
/** BigQuery's own default for how long jobs.query and getQueryResults wait before answering jobComplete: false. */
const DEFAULT_WAIT_MS = 10_000;

interface BrokerDryRun {
  tables: string[];
  columns: BrokerColumn[];
  /** Null when the statement reads a masked column: the proxy then leaves the byte statistics out. */
  bytes_estimate: number | null;
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

function intParam(raw: unknown, name: string): number | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new BigQueryError(400, "invalid", `Invalid value for ${name}: ${String(raw)}`);
  return n;
}

function labelsOf(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(raw))) if (typeof v === "string") out[k] = v;
  return out;
}

/** Refuses the query options jit cannot honour, before the broker sees anything. */
function checkQueryOptions(q: Record<string, unknown>): string {
  if (typeof q.query !== "string" || !q.query.trim()) throw new BigQueryError(400, "invalid", "Required parameter is missing: query");
  if (q.useLegacySql === true) throw new BigQueryError(400, "invalidQuery", "jit: legacy SQL is not supported; send GoogleSQL (useLegacySql: false)");
  if (Array.isArray(q.queryParameters) && q.queryParameters.length) {
    throw new BigQueryError(400, "invalidQuery", "jit: query parameters are not supported; write the values into the SQL");
  }
  for (const write of ["destinationTable", "writeDisposition", "createDisposition", "schemaUpdateOptions", "timePartitioning", "clustering"]) {
    if (q[write] !== undefined && q[write] !== null) throw unsupported(`a query job with ${write} (a write)`, true);
  }
  return q.query;
}

async function brokerQuery(broker: BrokerClient, sql: string, signal: AbortSignal): Promise<BrokerResult> {
  try {
    return await broker.post<BrokerResult>("/v1/query", { sql, dry_run: false }, { signal });
  } catch (err) {
    throw bigQueryErrorFrom(err, "query");
  }
}

async function brokerDryRun(broker: BrokerClient, sql: string): Promise<BrokerDryRun> {
  try {
    return await broker.post<BrokerDryRun>("/v1/query", { sql, dry_run: true });
  } catch (err) {
    throw bigQueryErrorFrom(err, "query");
  }
}

function tableRef(name: string) {
  const [projectId, datasetId, tableId] = name.split(".");
  return { projectId, datasetId, tableId };
}

function dryRunStatistics(d: BrokerDryRun) {
  const bytes = d.bytes_estimate === null ? {} : { totalBytesProcessed: String(d.bytes_estimate) };
  const schema = { fields: resultSchema(d.columns, []) };
  return {
    creationTime: String(Date.now()),
    ...bytes,
    query: { statementType: "SELECT", referencedTables: d.tables.map(tableRef), ...bytes, totalBytesBilled: "0", cacheHit: false, schema },
    schema,
  };
}

/** The proxy's BigQuery API over one job table. */
export function createApi(jobs = new JobTable()) {
  const finishedPage = (job: Job, call: Call, opts: { maxResults?: number; start: number; kind: string }) => {
    if (job.error) throw job.error;
    return {
      kind: opts.kind,
      jobReference: jobReference(job),
      jobComplete: true,
      cacheHit: false,
      ...resultPage(job, { start: opts.start, maxResults: opts.maxResults, ts: timestampFormat({
        useInt64Timestamp: call.query.get("formatOptions.useInt64Timestamp") ?? obj(call.body.formatOptions).useInt64Timestamp,
        timestampOutputFormat: call.query.get("formatOptions.timestampOutputFormat") ?? obj(call.body.formatOptions).timestampOutputFormat,
      }) }),
    };
  };

  const startIndex = (call: Call, jobId: string) => {
    const token = call.query.get("pageToken");
    if (token) return readPageToken(token, jobId);
    return intParam(call.query.get("startIndex"), "startIndex") ?? 0;
  };

  /** jobs.query: runs the statement and answers within timeoutMs, else jobComplete: false and the client polls. */
  async function query(call: Call, projectId: string) {
    const sql = checkQueryOptions(call.body);
    const location = typeof call.body.location === "string" && call.body.location ? call.body.location : DEFAULT_LOCATION;
    if (call.body.dryRun === true) {
      const d = await brokerDryRun(call.broker, sql);
      const stats = dryRunStatistics(d);
      return { kind: "bigquery#queryResponse", schema: stats.schema, jobReference: { projectId, location }, totalBytesProcessed: stats.totalBytesProcessed, jobComplete: true, cacheHit: false };
    }
    const job = jobs.start({ projectId, jobId: newJobId(), location, sql, labels: labelsOf(call.body.labels) }, (signal) => brokerQuery(call.broker, sql, signal));
    const maxResults = intParam(call.body.maxResults, "maxResults");
    if (!(await waitFor(job, intParam(call.body.timeoutMs, "timeoutMs") ?? DEFAULT_WAIT_MS))) {
      return { kind: "bigquery#queryResponse", jobReference: jobReference(job), jobComplete: false };
    }
    return finishedPage(job, call, { maxResults, start: 0, kind: "bigquery#queryResponse" });
  }

  /** jobs.insert: query jobs only; a dry run is answered at once with BigQuery's statistics. */
  async function insert(call: Call, projectId: string) {
    const config = obj(call.body.configuration);
    for (const other of ["load", "extract", "copy"]) if (config[other] !== undefined) throw unsupported(`a ${other} job`, true);
    if (config.query === undefined) throw new BigQueryError(400, "invalid", "jit: a job needs configuration.query");
    const q = obj(config.query);
    const sql = checkQueryOptions(q);
    const ref = obj(call.body.jobReference);
    const location = typeof ref.location === "string" && ref.location ? ref.location : DEFAULT_LOCATION;
    const jobId = typeof ref.jobId === "string" && ref.jobId ? ref.jobId : newJobId();
    if (!validJobId(jobId)) throw new BigQueryError(400, "invalid", `Invalid job ID "${jobId.slice(0, 80)}"`);
    const labels = labelsOf(config.labels);
    if (config.dryRun === true) {
      const d = await brokerDryRun(call.broker, sql);
      return {
        kind: "bigquery#job",
        jobReference: { projectId, location },
        configuration: { jobType: "QUERY", query: { query: sql, useLegacySql: false }, dryRun: true, ...(Object.keys(labels).length ? { labels } : {}) },
        status: { state: "DONE" },
        statistics: dryRunStatistics(d),
      };
    }
    const job = jobs.start({ projectId, jobId, location, sql, labels }, (signal) => brokerQuery(call.broker, sql, signal));
    // A refusal is answered as the insert's own error, which clients show; a slow query is left RUNNING for polling.
    await waitFor(job, DEFAULT_WAIT_MS);
    if (job.error) throw job.error;
    return jobResource(job);
  }

  async function getQueryResults(call: Call, projectId: string, jobId: string) {
    const job = jobs.get(projectId, jobId);
    if (!(await waitFor(job, intParam(call.query.get("timeoutMs"), "timeoutMs") ?? DEFAULT_WAIT_MS))) {
      return { kind: "bigquery#getQueryResultsResponse", jobReference: jobReference(job), jobComplete: false };
    }
    return finishedPage(job, call, {
      maxResults: intParam(call.query.get("maxResults"), "maxResults"),
      start: startIndex(call, job.jobId),
      kind: "bigquery#getQueryResultsResponse",
    });
  }

  async function datasetsOf(call: Call, projectId: string) {
    let res: { datasets: Array<{ dataset: string }> };
    try {
      res = await call.broker.get<typeof res>("/v1/datasets");
    } catch (err) {
      throw bigQueryErrorFrom(err, "metadata");
    }
    return res.datasets
      .map((d) => d.dataset.split("."))
      .filter(([p]) => p === projectId)
      .map(([p, ds]) => ({ kind: "bigquery#dataset", id: `${p}:${ds}`, datasetReference: { projectId: p!, datasetId: ds! }, location: DEFAULT_LOCATION }));
  }

  // What the person may not see and what does not exist get the same 404, so the proxy reveals nothing.
  const datasetNotFound = (p: string, d: string) => new BigQueryError(404, "notFound", `Not found: Dataset ${p}:${d} (or jit's policy does not let you use it; jit datasets lists what you may use)`);
  const tableNotFound = (p: string, d: string, t: string) => new BigQueryError(404, "notFound", `Not found: Table ${p}:${d}.${t} (or jit's policy does not let you use it; jit tables ${p}.${d} lists its tables)`);
  const metadataError = (err: unknown, notFound: () => BigQueryError) => {
    const e = bigQueryErrorFrom(err, "metadata");
    return e.status === 403 || e.status === 404 || (e.status === 400 && e.reason === "invalid") ? notFound() : e;
  };

  async function tables(call: Call, p: string, d: string) {
    let res: { tables: Array<{ name: string }> };
    try {
      res = await call.broker.get<typeof res>(`/v1/datasets/${encodeURIComponent(`${p}.${d}`)}/tables`);
    } catch (err) {
      throw metadataError(err, () => datasetNotFound(p, d));
    }
    return res.tables.map((t) => ({
      kind: "bigquery#table", id: `${p}:${d}.${t.name}`, tableReference: { projectId: p, datasetId: d, tableId: t.name }, type: "TABLE",
    }));
  }

  function paged<T>(call: Call, items: T[], key: string, kind: string) {
    const start = call.query.get("pageToken") ? readPageToken(call.query.get("pageToken")!, key) : 0;
    const max = intParam(call.query.get("maxResults"), "maxResults") ?? items.length;
    const end = Math.min(items.length, start + max);
    return { start, end, page: items.slice(start, end), next: end < items.length ? end : undefined, kind };
  }

  async function tableGet(call: Call, p: string, d: string, t: string) {
    let res: { columns: BrokerColumn[] };
    try {
      res = await call.broker.get<typeof res>(`/v1/tables/${encodeURIComponent(`${p}.${d}.${t}`)}`);
    } catch (err) {
      throw metadataError(err, () => tableNotFound(p, d, t));
    }
    return {
      kind: "bigquery#table",
      id: `${p}:${d}.${t}`,
      tableReference: { projectId: p, datasetId: d, tableId: t },
      type: "TABLE",
      location: DEFAULT_LOCATION,
      schema: { fields: res.columns.map((c) => restField(c)) },
    };
  }

  /** tabledata.list: the same policy as `SELECT *` of the table; pages come from one run, kept as a job. */
  async function tabledata(call: Call, p: string, d: string, t: string) {
    const token = call.query.get("pageToken");
    let job: Job;
    if (token) {
      const jobId = pageTokenJob(token);
      if (!jobId.startsWith("jit_tabledata_")) throw new BigQueryError(400, "invalid", "Invalid page token");
      job = jobs.get(p, jobId);
    } else {
      if (![p, d, t].every((x) => /^[A-Za-z0-9_-]+$/.test(x))) throw tableNotFound(p, d, t);
      const sql = `SELECT * FROM \`${p}.${d}.${t}\``;
      job = jobs.start({ projectId: p, jobId: `jit_tabledata_${newJobId().slice(4)}`, location: DEFAULT_LOCATION, sql, labels: {} }, (signal) => brokerQuery(call.broker, sql, signal));
    }
    await job.done;
    // A table the broker has no schema for reads, to a BigQuery client, as a table that is not there.
    if (job.error?.status === 400 && job.error.reason === "invalidQuery") throw tableNotFound(p, d, t);
    const page = finishedPage(job, call, {
      maxResults: intParam(call.query.get("maxResults"), "maxResults"),
      start: token ? readPageToken(token, job.jobId) : (intParam(call.query.get("startIndex"), "startIndex") ?? 0),
      kind: "bigquery#tableDataList",
    });
    return { kind: page.kind, totalRows: page.totalRows, rows: page.rows, ...(page.pageToken ? { pageToken: page.pageToken } : {}) };
  }

  const ROUTES: Array<[string, RegExp, (call: Call, ...params: string[]) => Promise<unknown>]> = [
    ["POST", /^\/projects\/([^/]+)\/queries$/, query],
    ["GET", /^\/projects\/([^/]+)\/queries\/([^/]+)$/, getQueryResults],
    ["POST", /^\/projects\/([^/]+)\/jobs$/, insert],
    ["GET", /^\/projects\/([^/]+)\/jobs\/([^/]+)$/, async (_call, p, j) => jobResource(jobs.get(p!, j!))],
    ["POST", /^\/projects\/([^/]+)\/jobs\/([^/]+)\/cancel$/, async (_call, p, j) => {
      const job = jobs.get(p!, j!);
      jobs.cancel(job);
      return { kind: "bigquery#jobCancelResponse", job: jobResource(job) };
    }],
    ["GET", /^\/projects\/([^/]+)\/datasets$/, async (call, p) => {
      const all = await datasetsOf(call, p!);
      const pg = paged(call, all, `datasets:${p}`, "bigquery#datasetList");
      return { kind: pg.kind, datasets: pg.page, ...(pg.next !== undefined ? { nextPageToken: pageToken(`datasets:${p}`, pg.next) } : {}) };
    }],
    ["GET", /^\/projects\/([^/]+)\/datasets\/([^/]+)$/, async (call, p, d) => {
      const found = (await datasetsOf(call, p!)).find((x) => x.datasetReference.datasetId === d);
      if (!found) throw datasetNotFound(p!, d!);
      return found;
    }],
    ["GET", /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables$/, async (call, p, d) => {
      const all = await tables(call, p!, d!);
      const key = `tables:${p}.${d}`;
      const pg = paged(call, all, key, "bigquery#tableList");
      return { kind: pg.kind, tables: pg.page, totalItems: all.length, ...(pg.next !== undefined ? { nextPageToken: pageToken(key, pg.next) } : {}) };
    }],
    ["GET", /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/, (call, p, d, t) => tableGet(call, p!, d!, t!)],
    ["GET", /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)\/data$/, (call, p, d, t) => tabledata(call, p!, d!, t!)],
  ];

  /** Answers one call, or throws the BigQueryError to send. */
  return async function handle(call: Call): Promise<unknown> {
    for (const [method, pattern, fn] of ROUTES) {
      const m = pattern.exec(call.path);
      if (!m) continue;
      if (method !== call.method) break;
      let params: string[];
      try {
        params = m.slice(1).map((s) => decodeURIComponent(s));
      } catch {
        throw new BigQueryError(400, "invalid", `jit proxy: malformed path ${call.path.slice(0, 200)}`);
      }
      return fn(call, ...params);
    }
    throw unsupported(`${call.method} ${call.path}`, call.method !== "GET" && call.method !== "HEAD");
  };
}
