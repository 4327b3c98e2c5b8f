/** The query pipeline: analyse, check grants and guardrails, audit first, run, mask row by row, audit the result. */
import { createHash } from "node:crypto";
import { JitError } from "../errors.ts";
import { createRowMasker, maskErrorMessage } from "../masking/row-masker.ts";
import { evaluateAccess, maskRuleFor, strictestStyle } from "../policy/evaluate.ts";
import type { ColumnMaskRule, MaskStyle, Policy, Principal } from "../policy/types.ts";
import { analyze, passThrough, referencedTables } from "../sql/analyze.ts";
import { normalizeSql } from "../sql/normalize.ts";
import type { Analysis, ColumnRef } from "../sql/types.ts";
import type { Grant } from "../store/types.ts";
import { type Field, type Row, type TableRef, WarehouseQueryError } from "../warehouse/types.ts";
import { expireDue, liveGrants } from "./access.ts";
import { audit, type BrokerDeps, type Caller } from "./context.ts";

export interface PlannedColumn {
  name: string;
  sources: ColumnRef[];
  style: MaskStyle | null;
  rules: string[];
}

export interface QueryPlan extends StatementPlan {
  grants: Grant[];
}

const tableName = (t: TableRef) => `${t.project}.${t.dataset}.${t.table}`.toLowerCase();
const datasetName = (t: TableRef) => `${t.project}.${t.dataset}`.toLowerCase();

/** The hash that binds a single-statement approval to its SQL: comments, spacing and keyword case do not count, literals do. */
export function statementHash(sql: string): string {
  return createHash("sha256").update(normalizeSql(sql)).digest("hex");
}

export interface StatementPlan {
  analysis: Analysis;
  /** The result schema the warehouse's dry run reported. */
  schema: Field[];
  tables: string[];
  datasets: string[];
  columns: PlannedColumn[];
  bytesEstimate: number;
}

/** Analyses a statement under the current policy (guardrails, inference, masking, bytes), whoever runs it. */
export async function analyseStatement(deps: BrokerDeps, sql: string): Promise<StatementPlan> {
  const policy = deps.policy();
  const project = deps.warehouse.defaultProject;
  const refs = referencedTables(sql, project);
  const schemas = new Map<string, Field[]>();
  for (const t of refs) {
    try {
      schemas.set(tableName(t), await deps.warehouse.tableSchema(t));
    } catch (err) {
      throw warehouseError(err, policy);
    }
  }
  const analysis = analyze(sql, { defaultProject: project, schemas });
  checkGuardrails(policy, analysis);

  const direct = passThrough(analysis);
  const columns = analysis.outputs.map((o, i) => planColumn(policy, o.name, o.sources, direct[i] ?? false));
  const seen = new Set<string>();
  for (const c of columns) {
    const key = c.name.toLowerCase();
    if (seen.has(key)) throw new JitError("denied", `the query returns two columns named ${c.name}`, { hint: "give each output column its own alias" });
    seen.add(key);
  }

  let dry;
  try {
    dry = await deps.warehouse.dryRun(sql);
  } catch (err) {
    throw warehouseError(err, policy);
  }
  // Defence in depth: the warehouse's own reading of the statement must agree with ours.
  if (dry.statementType.toUpperCase() !== "SELECT" && analysis.kind === "query") {
    throw new JitError("denied", `the warehouse reads this statement as ${dry.statementType}, not a query; refused`);
  }
  const analysed = new Set(refs.map(tableName));
  const unseen = dry.referencedTables.map(tableName).filter((t) => !analysed.has(t));
  if (unseen.length > 0) {
    throw new JitError("denied", `the warehouse says this statement reads ${unseen.join(", ")}, which the broker's analysis did not find; refused`, {
      hint: "simplify the query (views, wildcard tables and routines that read other tables are refused)",
      details: { unanalysed_tables: unseen },
    });
  }
  const bytesEstimate = dry.bytesProcessed;
  const max = policy.guardrails.maxBytesProcessed;
  if (max !== null && bytesEstimate > max) {
    throw new JitError("denied", `the query would process ${bytesEstimate} bytes, over the policy's limit of ${max}`, {
      hint: "select fewer columns or filter on a partition",
    });
  }
  return { analysis, schema: dry.schema, tables: refs.map(tableName), datasets: [...new Set(refs.map(datasetName))].sort(), columns, bytesEstimate };
}

/** Decides whether `principal` may run `sql`, and how its output is masked; throws `denied` with the reason when not. */
export async function planQuery(deps: BrokerDeps, principal: Principal, sql: string): Promise<QueryPlan> {
  const policy = deps.policy();
  const datasets = [...new Set(referencedTables(sql, deps.warehouse.defaultProject).map(datasetName))].sort();
  const decisions = new Map(datasets.map((d) => [d, evaluateAccess(policy, principal, d)]));
  for (const [d, decision] of decisions) {
    if (decision.outcome === "denied") throw new JitError("denied", decision.reasons.join("; "), { details: { dataset: d } });
  }
  // Guardrails and inference first: a DELETE is refused as DML, not as "no grant", whoever sends it.
  const stmt = await analyseStatement(deps, sql);
  await expireDue(deps);
  const grants = await liveGrants(deps, principal);
  const hash = statementHash(sql);
  const used: Grant[] = [];
  const missing: string[] = [];
  const perQuery: string[] = [];
  for (const d of datasets) {
    const window = grants.find((g) => g.sqlHash === null && g.datasets.includes(d));
    const single = grants.find((g) => g.sqlHash === hash && g.datasets.includes(d));
    if (window) used.push(window);
    else if (single && decisions.get(d)!.outcome === "per_query") used.push(single);
    else if (decisions.get(d)!.outcome === "per_query") perQuery.push(d);
    else missing.push(d);
  }
  if (perQuery.length > 0) {
    const spent = (await deps.store.listGrants({ holderSubject: principal.subject })).some((g) => g.sqlHash === hash && g.usedAt !== null);
    throw new JitError("denied", spent
      ? `the approval for this exact statement on ${perQuery.join(", ")} was already used: each approval runs the statement once`
      : `${perQuery.join(", ")} is approved one statement at a time, and this statement has no approval`, {
      hint: `file it for approval and wait: jit query --wait-approval "<the same SQL>"`,
      details: { missing_datasets: [...perQuery, ...missing], approval: "per_query", statement_hash: hash },
    });
  }
  if (missing.length > 0) {
    const approval = missing.filter((d) => decisions.get(d)!.outcome !== "auto");
    throw new JitError("denied", `no active grant covers ${missing.join(", ")}`, {
      hint: `run: jit request ${missing.join(" ")} --reason "..."${approval.length ? ` (needs approval for ${approval.join(", ")})` : ""}, or add --wait-approval to jit query`,
      details: { missing_datasets: missing },
    });
  }
  return { ...stmt, grants: [...new Set(used)] };
}

/** Styles that leave part of the value visible: safe on the column itself, not on an expression over it. */
const PARTIAL_STYLES = new Set<MaskStyle>(["last4", "first4", "email", "year"]);

function planColumn(policy: Policy, name: string, sources: ColumnRef[], direct: boolean): PlannedColumn {
  const rules = sources.map((s) => maskRuleFor(policy, s)).filter((r): r is ColumnMaskRule => r !== undefined);
  let style = rules.length ? strictestStyle(rules.map((r) => r.style)) : null;
  // A partial mask on a computed value lets the query choose which part stays visible
  // (CONCAT('xxxxx', SUBSTR(ssn, 1, 3)) would show the first digits), so computed outputs are hashed whole.
  if (style !== null && !direct && PARTIAL_STYLES.has(style)) style = "hash";
  return { name, sources, style, rules: [...new Set(rules.map((r) => r.id))] };
}

const KIND_LABEL: Record<string, string> = {
  dml: "DML (INSERT, UPDATE, DELETE, MERGE)",
  ddl: "DDL (CREATE, ALTER, DROP)",
  script: "scripts and multi-statement input",
  export: "EXPORT DATA",
  external_query: "EXTERNAL_QUERY",
};

function checkGuardrails(policy: Policy, a: Analysis): void {
  if (a.kind !== "query") {
    const denied = a.kind === "other" || (policy.guardrails.deny as string[]).includes(a.kind);
    if (denied) {
      throw new JitError("denied", `${KIND_LABEL[a.kind] ?? `${a.statementType} statements`} are refused by the policy's guardrails`, {
        hint: "jit runs read-only queries: send a single SELECT",
        details: { statement_kind: a.kind },
      });
    }
  }
  for (const use of a.inferenceUses) {
    const rule = maskRuleFor(policy, use.column);
    if (rule && rule.inference === "deny") {
      throw new JitError("denied", `${use.column.table}.${use.column.column} is a masked column and may not be used in ${use.clause}: its value could be inferred from the result`, {
        hint: "filter, join, group and sort on columns that are not masked",
        details: { column: `${use.column.table}.${use.column.column}`, clause: use.clause, rule: rule.id },
      });
    }
  }
}

/** Turns a warehouse failure into a `query_failed` error whose message passed through the content detectors. */
export function warehouseError(err: unknown, policy: Policy): JitError {
  if (err instanceof JitError) return err;
  if (err instanceof WarehouseQueryError) {
    const details = { ...(err.jobId ? { job_id: err.jobId } : {}), ...(err.reason ? { reason: err.reason } : {}) };
    if (err.reason === "brokerRefused") return new JitError("denied", err.message, { details });
    if (err.reason === "unreachable") {
      return new JitError("unreachable", `the warehouse cannot be reached: ${maskErrorMessage(err.message, policy.masking.detectors)}`, {
        hint: "try again shortly; if it persists, the broker's operators must check its network path to BigQuery",
        details,
      });
    }
    return new JitError("query_failed", maskErrorMessage(err.message, policy.masking.detectors), { details });
  }
  return new JitError("query_failed", maskErrorMessage(err instanceof Error ? err.message : String(err), policy.masking.detectors));
}

function columnsView(plan: QueryPlan, schema: Field[]) {
  return plan.columns.map((c, i) => ({
    name: c.name,
    type: schema?.[i]?.type ?? null,
    masked: c.style !== null,
    ...(c.style ? { mask: c.style } : {}),
  }));
}

/** Runs (or dry-runs) a query for a caller and returns SPEC's JSON shape; every outcome is audited. */
export async function runQuery(deps: BrokerDeps, caller: Caller, input: { sql: string; maxRows?: number; dryRun?: boolean; signal?: AbortSignal }) {
  const policy = deps.policy();
  const sql = input.sql;
  const started = deps.now();
  const action = input.dryRun ? "dry_run" : "query";
  if (!sql.trim()) throw new JitError("usage", "no SQL given", { hint: 'jit query "SELECT ..."' });
  let plan: QueryPlan;
  try {
    plan = await planQuery(deps, caller.principal, sql);
  } catch (err) {
    const e = err instanceof JitError ? err : new JitError("internal", "query planning failed", { cause: err });
    await audit(deps, caller, action, e.code === "query_failed" ? "failed" : "denied", {
      sql, error: { code: e.code, message: e.message, ...e.details },
    });
    throw e;
  }
  const grantIds = plan.grants.map((g) => g.id);
  const maskedColumns = plan.columns.filter((c) => c.style).map((c) => ({ name: c.name, mask: c.style, rules: c.rules }));
  const singles = plan.grants.filter((g) => g.sqlHash !== null);
  const approvals = await Promise.all(singles.map(async (g) => {
    const r = await deps.store.getRequest(g.requestId);
    return { grant_id: g.id, request_id: g.requestId, approved_by: r?.approvals.map((a) => a.approver) ?? [] };
  }));
  const decision = {
    sql, tables: plan.tables, datasets: plan.datasets, grant_ids: grantIds, masked_columns: maskedColumns, statement_kind: plan.analysis.kind,
    ...(approvals.length ? { single_statement_approvals: approvals } : {}),
  };

  if (input.dryRun) {
    const rec = await audit(deps, caller, action, "ok", { ...decision, bytes_estimate: plan.bytesEstimate });
    return {
      decision: "allowed",
      tables: plan.tables,
      datasets: plan.datasets,
      columns: columnsView(plan, plan.schema),
      masked_columns: maskedColumns.map((m) => m.name),
      bytes_estimate: plan.bytesEstimate,
      grant_id: grantIds[0] ?? null,
      grant_ids: grantIds,
      audit_id: rec.id,
    };
  }

  // A single-statement approval is spent by this run, atomically: a second run (or a racing one) is refused.
  for (const g of plan.grants.filter((x) => x.sqlHash !== null)) {
    if (!(await deps.store.consumeGrant(g.id, deps.now()))) {
      const e = new JitError("denied", `the approval for this statement (grant ${g.id}) was already used or has expired`, {
        hint: 'file it again: jit query --wait-approval "<the same SQL>"',
      });
      await audit(deps, caller, "query", "denied", { ...decision, error: { code: e.code, message: e.message } });
      throw e;
    }
  }
  const maxRows = Math.max(0, Math.min(input.maxRows ?? policy.guardrails.maxRows, policy.guardrails.maxRows));
  // Fail closed: the decision is on the audit log before the warehouse sees the query.
  const rec = await audit(deps, caller, "query", "ok", { ...decision, max_rows: maxRows, phase: "start" });
  let rows: Row[] = [];
  let result;
  let maskedCells = 0;
  let schema: Field[] = [];
  try {
    const expiries = plan.grants.map((g) => g.expiresAt);
    const warehouse = deps.warehouseFor?.(caller.principal.groups, expiries.length ? Math.min(...expiries) : undefined) ?? deps.warehouse;
    const run = await warehouse.run(sql, {
      signal: input.signal,
      principalGroups: caller.principal.groups,
      grantExpiresAt: expiries.length ? Math.min(...expiries) : undefined,
      maxRows,
      maxBytesBilled: policy.guardrails.maxBytesProcessed ?? undefined,
      labels: { jit_user: caller.principal.username, jit_audit_id: rec.id, jit_grant_id: grantIds[0] ?? "none" },
    });
    schema = run.schema;
    // Masks are applied by position, so the result must have exactly the columns the analysis named, in order.
    const shapeDiffers = schema.length !== plan.columns.length ||
      schema.some((f, i) => f.name.toLowerCase() !== plan.columns[i]!.name.toLowerCase());
    if (shapeDiffers) {
      throw new JitError("denied", "the warehouse returned a different set of columns than the broker analysed; refused", {
        hint: "report this query to the jit maintainers",
      });
    }
    const mask = createRowMasker({
      columns: plan.columns.map((c, i) => ({ name: schema[i]!.name, type: schema[i]!.type, style: c.style ?? undefined })),
      detectors: policy.masking.detectors,
      hashKey: deps.hashKey,
    });
    for await (const raw of run.rows) {
      const masked = mask(raw);
      maskedCells += masked.maskedCells;
      rows.push(masked.row);
    }
    result = await run.done();
  } catch (err) {
    const e = warehouseError(err, policy);
    rows = [];
    await audit(deps, caller, "query.result", e.code === "denied" ? "denied" : "failed", {
      query_audit_id: rec.id, error: { code: e.code, message: e.message, ...e.details }, duration_ms: deps.now() - started,
    });
    throw e;
  }
  const body = {
    columns: columnsView(plan, schema),
    rows,
    row_count: rows.length,
    truncated: result.truncated,
    masked_cells: maskedCells,
    bytes_processed: result.bytesProcessed,
    grant_id: grantIds[0] ?? null,
    audit_id: rec.id,
  };
  // The result record (with what the caller receives) is committed before a single row leaves the broker.
  const keep = deps.replayMaxRows ?? 1000;
  await audit(deps, caller, "query.result", "ok", {
    query_audit_id: rec.id,
    job_id: result.jobId,
    row_count: rows.length,
    truncated: result.truncated,
    masked_cells: maskedCells,
    bytes_processed: result.bytesProcessed,
    duration_ms: deps.now() - started,
    result: { columns: body.columns, rows: rows.slice(0, keep), truncated: result.truncated },
    replay_rows_kept: Math.min(rows.length, keep),
  });
  return body;
}
