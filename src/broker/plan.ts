/** Query planning: what a statement reads, whether this person may run it now, and how each output column is masked. */
import { createHash } from "node:crypto";
import { JitError } from "../errors.ts";
import { maskErrorMessage } from "../masking/row-masker.ts";
import { evaluateAccess, maskRuleFor, strictestStyle } from "../policy/evaluate.ts";
import type { ColumnMaskRule, MaskStyle, Policy, Principal } from "../policy/types.ts";
import { analyze, expandWildcard, passThrough, referencedSources, referencedTables } from "../sql/analyze.ts";
import { normalizeSql } from "../sql/normalize.ts";
import type { Analysis, ColumnRef } from "../sql/types.ts";
import type { Grant } from "../store/types.ts";
import { type Field, type TableRef, WarehouseQueryError } from "../warehouse/types.ts";
import { expireDue, liveGrants } from "./access.ts";
import type { BrokerDeps } from "./context.ts";

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
  /** Whether any masked column is read (returned or tested): then warehouse error messages are withheld. */
  readsMasked: boolean;
}

/** Analyses a statement under the current policy (guardrails, inference, masking, bytes), whoever runs it. */
export async function analyseStatement(deps: BrokerDeps, sql: string): Promise<StatementPlan> {
  const policy = deps.policy();
  const project = deps.warehouse.defaultProject;
  const refs = referencedTables(sql, project);
  const sources = referencedSources(sql, project);
  const schemas = new Map<string, Field[]>();
  // Wildcard tables (`ds.events_*`) are expanded to the tables they match, each analysed with its own schema;
  // INFORMATION_SCHEMA views carry fixed schemas in the analysis and need no lookup.
  const wildcards = new Map<string, string[]>();
  try {
    const concrete = [...sources.tables];
    for (const w of sources.wildcards) {
      const matches = expandWildcard(w, await deps.warehouse.listTables(`${w.project}.${w.dataset}`));
      wildcards.set(w.key, matches.map(tableName));
      concrete.push(...matches);
    }
    for (const t of concrete) if (!schemas.has(tableName(t))) schemas.set(tableName(t), await deps.warehouse.tableSchema(t));
  } catch (err) {
    throw warehouseError(err, policy);
  }
  const analysis = analyze(sql, { defaultProject: project, schemas, wildcards });
  checkGuardrails(policy, analysis);
  const readsMasked = [...analysis.outputs.flatMap((o) => o.sources), ...analysis.inferenceUses.map((u) => u.column)]
    .some((c) => maskRuleFor(policy, c) !== undefined);

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
    throw warehouseError(err, policy, { readsMasked });
  }
  // Defence in depth: the warehouse's own reading of the statement must agree with ours.
  if (dry.statementType.toUpperCase() !== "SELECT" && analysis.kind === "query") {
    throw new JitError("denied", `the warehouse reads this statement as ${dry.statementType}, not a query; refused`);
  }
  // The warehouse may name a wildcard's matches or the wildcard itself: both are what the analysis read.
  const analysed = new Set([...refs, ...analysis.tables].map(tableName));
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
  return { analysis, schema: dry.schema, tables: refs.map(tableName), datasets: [...new Set(refs.map(datasetName))].sort(), columns, bytesEstimate, readsMasked };
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
export function warehouseError(err: unknown, policy: Policy, opts: { readsMasked?: boolean } = {}): JitError {
  if (err instanceof JitError) return err;
  if (err instanceof WarehouseQueryError) {
    const details = { ...(err.jobId ? { job_id: err.jobId } : {}), ...(err.reason ? { reason: err.reason } : {}) };
    if (err.reason === "brokerRefused") return new JitError("denied", err.message, { details });
    if (opts.readsMasked && err.reason !== "unreachable") {
      // Error messages echo values ("division by zero: 5301902025 / 0", a failed CAST, ERROR(x)), and a value
      // computed from a masked column slips past the detectors; so nothing of the message goes back.
      return new JitError("query_failed", "the warehouse rejected the query; its message is withheld because the query reads masked columns and messages can carry their values", {
        hint: "fix the query on columns that are not masked first, or ask an auditor to look up the job",
        details,
      });
    }
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

