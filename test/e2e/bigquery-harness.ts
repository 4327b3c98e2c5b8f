/**
 * A production-shaped broker for end-to-end tests: the BigQuery warehouse against the local REST fake,
 * an external OIDC issuer (the dev IdP on its own port), a SQLite store and a policy for project
 * `acme-analytics`, composed in-process the way `jit broker serve` composes them. Users sign in
 * through the CLI's device flow and drive it through the `jit` binary.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { OAuth2Client } from "google-auth-library";
import { createBrokerHandler, listen } from "../../src/broker/server.ts";
import type { BrokerDeps } from "../../src/broker/context.ts";
import { createTokenVerifier } from "../../src/broker/verify-token.ts";
import { parsePolicy } from "../../src/policy/load.ts";
import type { Policy } from "../../src/policy/types.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";
import { openBigQueryWarehouse } from "../../src/warehouse/bigquery.ts";
import { FakeBigQueryServer, type FakeDryRun, type FakeField, type FakeResult } from "../fakes/bigquery-server.ts";
import { CLIENT_ID, SCOPES, type RunningIdp } from "../idp/harness.ts";
import { loginWith, userEnv, type RunResult } from "./harness.ts";

export const PROJECT = "acme-analytics";
/** The broker's own (fake) Google access token. */
export const BROKER_TOKEN = "broker-access-token";

/** The demo policy's structure, for project acme-analytics. */
export const POLICY_YAML = `version: 1
groups_claim: groups
admins: [platform-admins]
auditors: [auditors]
datasets:
  - match: acme-analytics.sales
    access:
      - groups: [analysts]
        approval: auto
        max_duration: 8h
      - groups: [data-owners]
        approval: auto
        max_duration: 8h
      - groups: [contractors]
        approval: required
        approvers: [data-owners]
        min_approvals: 1
        max_duration: 1h
  - match: acme-analytics.hr
    access:
      - groups: [data-owners]
        approval: auto
        max_duration: 8h
      - groups: [analysts]
        approval: per_query
        approvers: [data-owners]
        min_approvals: 1
masking:
  columns:
    - match: acme-analytics.sales.customers.ssn
      style: last4
    - match: "*.*.*.card_number"
      style: last4
    - match: "*.*.*.email"
      style: email
    - match: acme-analytics.hr.employees.ssn
      style: last4
    - match: acme-analytics.hr.employees.salary
      style: null
  detectors: [credit_card, us_ssn, email]
guardrails:
  deny: [dml, ddl, script, export, external_query]
  max_bytes_processed: 10GB
  max_rows: 10000
`;

const S = (name: string): FakeField => ({ name, type: "STRING" });
const I = (name: string): FakeField => ({ name, type: "INT64" });

/** Table schemas of the fake warehouse, keyed "dataset.table". */
export const SCHEMAS: Record<string, FakeField[]> = {
  "sales.customers": [I("id"), S("full_name"), S("email"), S("ssn"), S("card_number"), S("city")],
  "sales.orders": [I("order_id"), I("customer_id"), { name: "amount", type: "NUMERIC" }, S("status"), { name: "created_at", type: "TIMESTAMP" }],
  "sales.events": [
    { name: "big", type: "INTEGER" }, { name: "amount", type: "NUMERIC" }, { name: "happened_at", type: "TIMESTAMP" },
    { name: "tags", type: "STRING", mode: "REPEATED" },
    { name: "detail", type: "RECORD", fields: [S("kind"), { name: "score", type: "FLOAT" }, { name: "seen", type: "TIMESTAMP" }] },
  ],
  "hr.employees": [I("employee_id"), S("full_name"), S("email"), S("ssn"), S("department"), { name: "salary", type: "NUMERIC" }],
};

export const ORDER_ROWS = 2500;

/** Rows of each table as BigQuery's raw f/v `v` values (TIMESTAMP as int64 microseconds). */
export const DATA: Record<string, unknown[][]> = {
  "sales.customers": [
    ["1", "Ada Lovelace", "ada.lovelace@example.com", "123-45-6789", "4111111111111111", "London"],
    ["2", "Alan Turing", "alan.turing@example.com", "234-56-7890", "5500-0000-0000-0004", "Manchester"],
    ["3", "Grace Hopper", "grace.hopper@example.com", "345-67-8901", "340000000000009", "Arlington"],
    ["4", "Edsger Dijkstra", "edsger@example.com", "456-78-9012", "6011000000000004", "Austin"],
  ],
  "sales.orders": Array.from({ length: ORDER_ROWS }, (_, i) => [String(i + 1), String((i % 4) + 1), `${i}.50`, "paid", String(1_700_000_000_000_000 + i)]),
  "sales.events": [
    ["9007199254740993", "12345678901234567890.123456789", "1709210096789012", [{ v: "a" }, { v: "b" }], { f: [{ v: "click" }, { v: "0.5" }, { v: "0" }] }],
  ],
  "hr.employees": [["1", "Hedy Lamarr", "hedy@example.com", "567-89-0123", "R&D", "100000"]],
};

/** Adds the datasets and tables of SCHEMAS to the fake, plus `marketing`, which no policy rule names. */
export function seedWarehouse(fake: FakeBigQueryServer): void {
  fake.addTable(PROJECT, "marketing", "campaigns", [I("id"), S("name")]);
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    const [dataset, table] = name.split(".") as [string, string];
    fake.addTable(PROJECT, dataset, table, schema);
  }
}

const SIMPLE_SELECT = /^\s*SELECT\s+(.+?)\s+FROM\s+`?([\w-]+)\.(\w+)\.(\w+)`?(?:\s+LIMIT\s+(\d+))?\s*$/is;

/** "Runs" `SELECT cols FROM project.dataset.table [LIMIT n]` over DATA; undefined for any other SQL. */
function project(sql: string): { table: string; schema: FakeField[]; rows: unknown[][] } | { error: string } | undefined {
  const m = SIMPLE_SELECT.exec(sql);
  if (!m) return undefined;
  const table = `${m[3]}.${m[4]}`;
  const schema = SCHEMAS[table];
  if (!schema || m[2] !== PROJECT) return { error: `Not found: Table ${m[2]}:${table}` };
  const names = m[1]!.split(",").map((c) => c.trim());
  const idx = names[0] === "*" ? schema.map((_, i) => i) : names.map((n) => schema.findIndex((f) => f.name === n));
  const bad = idx.indexOf(-1);
  if (bad >= 0) return { error: `Unrecognized name: ${names[bad]} at [1:8]` };
  const limit = m[5] === undefined ? Infinity : Number(m[5]);
  return { table, schema: idx.map((i) => schema[i]!), rows: (DATA[table] ?? []).slice(0, limit).map((r) => idx.map((i) => r[i])) };
}

/** The fake's default dry run: BigQuery's own reading of a simple SELECT (statement type, table read, schema). */
export function defaultDryRun(sql: string): FakeDryRun {
  const p = project(sql);
  if (!p) return { statementType: "SELECT", referencedTables: [], totalBytesProcessed: 0 };
  if ("error" in p) return { statementType: "SELECT", referencedTables: [], totalBytesProcessed: 0, error: { reason: "invalidQuery", message: p.error } };
  const [datasetId, tableId] = p.table.split(".") as [string, string];
  return { statementType: "SELECT", referencedTables: [{ projectId: PROJECT, datasetId, tableId }], totalBytesProcessed: 1024 * p.rows.length, schema: p.schema };
}

/** The fake's default job: the projection of DATA, or BigQuery's invalidQuery error. */
export function defaultQuery(sql: string): FakeResult {
  const p = project(sql);
  if (!p) return { schema: [], rows: [], error: { reason: "invalidQuery", message: "the fake runs only SELECT cols FROM table [LIMIT n]" } };
  if ("error" in p) return { schema: [], rows: [], error: { reason: "invalidQuery", message: p.error } };
  return { schema: p.schema, rows: p.rows, totalBytesProcessed: 1024 * p.rows.length };
}

/** Starts the BigQuery fake with the acme-analytics datasets and default dry-run and query answers. */
export async function startFakeBigQuery(): Promise<FakeBigQueryServer> {
  const fake = await FakeBigQueryServer.start();
  seedWarehouse(fake);
  resetFake(fake);
  return fake;
}

/** Restores the default answers after a test replaced them. */
export function resetFake(fake: FakeBigQueryServer): void {
  fake.dryRun = defaultDryRun;
  fake.query = defaultQuery;
  fake.pageCap = 100_000;
}

export interface BigQueryBrokerOptions {
  /** Directory for the SQLite store. */
  dir: string;
  idp: RunningIdp;
  /** BigQuery endpoint (the fake, or a closed port). */
  apiEndpoint: string;
  iamEndpoint?: string;
  impersonate?: Record<string, string>;
  queryTimeoutMs?: number;
}

export interface BigQueryBroker {
  url: string;
  deps: BrokerDeps;
  policy: Policy;
  /** Lines the broker logged (internal errors land here). */
  logs: string[];
  close(): Promise<void>;
}

/** Composes and starts a broker like `startBroker` in src/broker/serve.ts, with the BigQuery warehouse on the given endpoint. */
export async function startBigQueryBroker(opts: BigQueryBrokerOptions): Promise<BigQueryBroker> {
  // google-auth-library would otherwise probe the GCE metadata server.
  process.env.METADATA_SERVER_DETECTION = "none";
  const policy = parsePolicy(POLICY_YAML, "acme-policy.yaml");
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: BROKER_TOKEN, expiry_date: Date.now() + 3600_000 });
  const bq = await openBigQueryWarehouse({
    projectId: PROJECT, apiEndpoint: opts.apiEndpoint, iamEndpoint: opts.iamEndpoint, impersonate: opts.impersonate,
    authClient, retryBaseDelayMs: 1, queryTimeoutMs: opts.queryTimeoutMs ?? 10_000,
  });
  mkdirSync(opts.dir, { recursive: true });
  const store = openSqliteStore(join(opts.dir, "jit.db"));
  const logs: string[] = [];
  const deps: BrokerDeps = {
    policy: () => policy,
    store,
    warehouse: bq,
    warehouseFor: (groups, grantExpiresAt) => bq.forPrincipal({ groups, grantExpiresAt }),
    verifyToken: createTokenVerifier({ issuer: opts.idp.issuer, audience: CLIENT_ID, groupsClaim: policy.groupsClaim }),
    loginSettings: { issuer: opts.idp.issuer, client_id: CLIENT_ID, scopes: SCOPES, audience: CLIENT_ID },
    now: Date.now,
    hashKey: randomBytes(32),
    mode: "serve",
    version: "test",
    log: (line) => logs.push(line),
  };
  const { server, url } = await listen(createBrokerHandler(deps), "127.0.0.1", 0);
  return {
    url, deps, policy, logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([bq.close(), store.close()]);
    },
  };
}

/** A loopback URL on which nothing listens. */
export async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** An isolated CLI environment (own XDG dirs, file credential store) for `user` on `brokerUrl`. */
export function cliEnv(dir: string, user: string, brokerUrl: string): NodeJS.ProcessEnv {
  return userEnv(join(dir, `home-${user}-${new URL(brokerUrl).port}`), brokerUrl);
}

/** `jit login --no-browser`, confirming the printed user code at the IdP as `user` (password = user name). */
export function signIn(idp: RunningIdp, env: NodeJS.ProcessEnv, user: string): Promise<RunResult> {
  return loginWith(env, async (code) => void (await idp.idp.approveDevice({ user_code: code, username: user, password: user })));
}
