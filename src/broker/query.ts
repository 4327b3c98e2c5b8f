/** The query pipeline: plan (plan.ts), audit first, run, mask row by row, audit what the caller receives, answer. */
import { JitError } from "../errors.ts";
import { createRowMasker } from "../masking/row-masker.ts";
import type { Field, Row } from "../warehouse/types.ts";
import { audit, type BrokerDeps, type Caller } from "./context.ts";
import { planQuery, type QueryPlan, shownBytes, warehouseError } from "./plan.ts";

function columnsView(plan: QueryPlan, schema: Field[]) {
  // The warehouse's names, as the rows carry them (`SELECT SsN` may come back as `ssn`); the analysis matched them by position.
  return plan.columns.map((c, i) => ({
    name: schema?.[i]?.name ?? c.name,
    type: schema?.[i]?.type ?? null,
    masked: c.style !== null,
    ...(c.style ? { mask: c.style } : {}),
  }));
}

/** Refuses the answer when any grant the plan relied on was revoked or has run out since the query started. */
async function checkStillGranted(deps: BrokerDeps, plan: QueryPlan): Promise<void> {
  const now = deps.now();
  for (const g of plan.grants) {
    const current = await deps.store.getGrant(g.id);
    if (!current || current.revokedAt !== null || current.expiresAt <= now) {
      throw new JitError("denied", `grant ${g.id} was ${current?.revokedAt != null ? "revoked" : "ended"} while the query ran, so its result is withheld`, {
        hint: `ask for access again: jit request ${g.datasets.join(" ")} --reason "..."`,
        details: { grant_id: g.id },
      });
    }
  }
}

/** Marks an audit record whose byte figure the caller was not shown (replay shows what the caller received). */
const withheld = (plan: QueryPlan) => (plan.bytesWithheld ? { bytes_withheld: true } : {});

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
    sql, tables: plan.tables, datasets: plan.datasets, grant_ids: grantIds, masked_columns: maskedColumns, masked_columns_read: plan.maskedRead,
    statement_kind: plan.analysis.kind,
    ...(approvals.length ? { single_statement_approvals: approvals } : {}),
  };

  if (input.dryRun) {
    const rec = await audit(deps, caller, action, "ok", { ...decision, bytes_estimate: plan.bytesEstimate, ...withheld(plan) });
    return {
      decision: "allowed",
      tables: plan.tables,
      datasets: plan.datasets,
      columns: columnsView(plan, plan.schema),
      masked_columns: maskedColumns.map((m) => m.name),
      masked_columns_read: plan.maskedRead,
      bytes_estimate: plan.bytesShown,
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
      columns: plan.columns.map((c, i) => ({ name: schema[i]!.name, type: schema[i]!.type, style: c.style ?? undefined, source: c.source ?? undefined })),
      detectors: policy.masking.detectors,
      hashKey: deps.hashKey,
    });
    for await (const raw of run.rows) {
      const masked = mask(raw);
      maskedCells += masked.maskedCells;
      rows.push(masked.row);
    }
    result = await run.done();
    // A grant revoked (or run out) while the query ran no longer covers what it returned: nothing leaves the broker.
    await checkStillGranted(deps, plan);
  } catch (err) {
    const e = warehouseError(err, policy, { readsMasked: plan.readsMasked });
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
    bytes_processed: shownBytes(plan.bytesWithheld, result.bytesProcessed),
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
    ...withheld(plan),
    duration_ms: deps.now() - started,
    result: { columns: body.columns, rows: rows.slice(0, keep), truncated: result.truncated },
    replay_rows_kept: Math.min(rows.length, keep),
  });
  return body;
}
