/**
 * The production warehouse: BigQuery's v2 REST API through @google-cloud/bigquery (auth, endpoint)
 * with jit's own job handling: client-chosen job ids, labels, byte caps, paged results that stop at
 * maxRows, cancellation on timeout or client disconnect, and validation of every response.
 */
import type { DryRunResult, Field, RunOptions, RunResult, TableRef, Warehouse } from "./types.ts";
import { WarehouseQueryError } from "./types.ts";
import type { BigQueryConfig } from "./bigquery-config.ts";
import { createClients, impersonationTarget, REQUEST_TIMEOUT_MS, type Clients } from "./bigquery-auth.ts";
import { CallStopped, restCall, segment, type Json, type RestCall, type RestClient, type RetryPolicy } from "./bigquery-rest.ts";
import { fieldOf, restFields } from "./bigquery-values.ts";
import { count, isRecord, jobError, malformed, QueryRun } from "./bigquery-job.ts";

export type { BigQueryConfig } from "./bigquery-config.ts";
export { validateBigQueryConfig } from "./bigquery-config.ts";

/** Whose queries a warehouse view runs: used to pick the impersonated service account. */
export interface Principal {
  groups: string[];
  grantExpiresAt?: number;
}

export type BigQueryWarehouse = Warehouse & {
  /** The same warehouse acting as the principal's impersonated service account (the broker's own when none is configured). */
  forPrincipal(principal: Principal): Warehouse;
};

const LIST_PAGE = 1000;
const MAX_LIST_PAGES = 1000;

/** Opens the BigQuery warehouse; no network call happens until the first query or listing. */
export async function openBigQueryWarehouse(cfg: BigQueryConfig): Promise<BigQueryWarehouse> {
  return new BigQueryWarehouseImpl(cfg, await createClients(cfg), undefined);
}

class BigQueryWarehouseImpl implements BigQueryWarehouse {
  readonly defaultProject: string;
  readonly #cfg: BigQueryConfig;
  readonly #clients: Clients;
  readonly #principal: Principal | undefined;
  readonly #retry: RetryPolicy;

  constructor(cfg: BigQueryConfig, clients: Clients, principal: Principal | undefined) {
    // BigQuery resolves `dataset.table` in the project that runs the job, so that is the default project.
    this.defaultProject = cfg.billingProject ?? cfg.projectId;
    this.#cfg = cfg;
    this.#clients = clients;
    this.#principal = principal;
    this.#retry = { attempts: 5, baseDelayMs: cfg.retryBaseDelayMs ?? 250, maxDelayMs: 8000 };
  }

  forPrincipal(principal: Principal): Warehouse {
    return new BigQueryWarehouseImpl(this.#cfg, this.#clients, { groups: [...principal.groups], grantExpiresAt: principal.grantExpiresAt });
  }

  /** The client for a principal; with impersonation configured, a query without one is refused (fail closed). */
  async #clientFor(principal: Principal | undefined, required: boolean): Promise<RestClient> {
    const map = this.#cfg.impersonate;
    if (!map || Object.keys(map).length === 0) return this.#clients.base;
    if (!principal) {
      if (!required) return this.#clients.base;
      throw new WarehouseQueryError("Impersonation is configured but the query carries no principal groups; refused", { reason: "brokerRefused" });
    }
    const target = impersonationTarget(map, principal.groups);
    if (!target) throw new WarehouseQueryError(`No service account to impersonate for groups [${principal.groups.join(", ")}] and no "default"`, { reason: "brokerRefused" });
    return this.#clients.impersonating(target, principal.grantExpiresAt);
  }

  #viewClient(): Promise<RestClient> {
    return this.#clientFor(this.#principal, this.#principal !== undefined);
  }

  /** A bounded call outside a query's lifetime (metadata, dry run, cancel). */
  async #simple(client: RestClient, call: RestCall, timeoutMs = REQUEST_TIMEOUT_MS * 2): Promise<Json> {
    try {
      return await restCall(client, call, this.#retry, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      if (err instanceof CallStopped) throw new WarehouseQueryError(`BigQuery did not answer in time (${call.what})`, { reason: "unreachable" });
      throw err;
    }
  }

  async dryRun(sql: string): Promise<DryRunResult> {
    const client = await this.#viewClient();
    const billing = this.defaultProject;
    const job = await this.#simple(client, {
      method: "POST", projectId: billing, path: ["jobs"], idempotent: true, what: "dry run",
      json: { jobReference: { projectId: billing, location: this.#cfg.location }, configuration: { dryRun: true, query: { query: sql, useLegacySql: false } } },
    });
    if (isRecord(job.status)) {
      const failed = jobError(job.status);
      if (failed) throw failed;
    }
    const stats = isRecord(job.statistics) && isRecord(job.statistics.query) ? job.statistics.query : undefined;
    if (!stats || typeof stats.statementType !== "string") throw malformed("dry run without statistics.query.statementType");
    const tables = stats.referencedTables ?? [];
    if (!Array.isArray(tables)) throw malformed("dry run referencedTables");
    const referencedTables = tables.map((t): TableRef => {
      if (!isRecord(t) || typeof t.projectId !== "string" || typeof t.datasetId !== "string" || typeof t.tableId !== "string") throw malformed("dry run referencedTables");
      return { project: t.projectId, dataset: t.datasetId, table: t.tableId };
    });
    if (stats.schema !== undefined && !isRecord(stats.schema)) throw malformed("dry run schema");
    const schema = stats.schema === undefined ? [] : restFields(stats.schema.fields ?? []).map(fieldOf);
    return { statementType: stats.statementType, referencedTables, bytesProcessed: count(stats.totalBytesProcessed, "dry run totalBytesProcessed") ?? 0, schema };
  }

  async run(sql: string, opts: RunOptions): Promise<RunResult> {
    const principal = opts.principalGroups ? { groups: opts.principalGroups, grantExpiresAt: opts.grantExpiresAt } : this.#principal;
    const client = await this.#clientFor(principal, true);
    return new QueryRun(client, this.#cfg, this.defaultProject, this.#retry).start(sql, opts);
  }

  async listDatasets(): Promise<string[]> {
    const client = await this.#viewClient();
    const project = this.#cfg.projectId;
    const items = await this.#list(client, project, ["datasets"], "datasets", "datasets.list");
    return items.map((d) => {
      const ref = isRecord(d) ? d.datasetReference : undefined;
      if (!isRecord(ref) || typeof ref.datasetId !== "string") throw malformed("datasets.list entry");
      return `${typeof ref.projectId === "string" ? ref.projectId : project}.${ref.datasetId}`;
    }).sort();
  }

  async listTables(dataset: string): Promise<string[]> {
    const parts = dataset.split(".");
    if (parts.length < 1 || parts.length > 2 || parts.some((p) => p === "")) throw new WarehouseQueryError(`Invalid dataset name: ${dataset}`, { reason: "invalid" });
    const [project, ds] = parts.length === 1 ? [this.defaultProject, parts[0]!] : [parts[0]!, parts[1]!];
    const client = await this.#viewClient();
    const items = await this.#list(client, segment(project, "project"), ["datasets", segment(ds, "dataset"), "tables"], "tables", "tables.list");
    return items.map((t) => {
      const ref = isRecord(t) ? t.tableReference : undefined;
      if (!isRecord(ref) || typeof ref.tableId !== "string") throw malformed("tables.list entry");
      return ref.tableId;
    }).sort();
  }

  async tableSchema(table: TableRef): Promise<Field[]> {
    const client = await this.#viewClient();
    const res = await this.#simple(client, {
      method: "GET", projectId: segment(table.project, "project"), idempotent: true, what: "tables.get",
      path: ["datasets", segment(table.dataset, "dataset"), "tables", segment(table.table, "table")],
    });
    if (!isRecord(res.schema)) throw malformed("tables.get without schema");
    return restFields(res.schema.fields ?? []).map(fieldOf);
  }

  async #list(client: RestClient, projectId: string, path: string[], key: string, what: string): Promise<unknown[]> {
    const out: unknown[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const res = await this.#simple(client, { method: "GET", projectId, path, qs: { maxResults: LIST_PAGE, pageToken }, idempotent: true, what });
      const items = res[key] ?? [];
      if (!Array.isArray(items)) throw malformed(`${what} ${key}`);
      out.push(...items);
      if (res.nextPageToken === undefined || res.nextPageToken === "") return out;
      if (typeof res.nextPageToken !== "string" || res.nextPageToken === pageToken) throw malformed(`${what} nextPageToken`);
      pageToken = res.nextPageToken;
    }
    throw malformed(`${what}: too many pages`);
  }

  async close(): Promise<void> {
    // Nothing to release: HTTP connections are pooled by the client and idle ones are closed by it.
  }
}
