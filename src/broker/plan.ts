/** Query planning: what a statement reads, whether this person may run it now, and how each output column is masked. */
import { createHash } from "node:crypto";
import { JitError } from "../errors.ts";
import { maskErrorMessage } from "../masking/row-masker.ts";
import { evaluateAccess, maskRuleFor, strictestStyle } from "../policy/evaluate.ts";
import type { ColumnMaskRule, MaskStyle, Policy, Principal } from "../policy/types.ts";
import { expandWildcard } from "../sql/analyze.ts";
import { couldRead } from "../sql/mentions.ts";
import { analyzeSql, inspectSql, type Syntax } from "../sql/offload.ts";
import { normalizeSql } from "../sql/normalize.ts";
import type { Analysis, ColumnRef, OutputColumn, StatementKind } from "../sql/types.ts";
import type { Grant } from "../store/types.ts";
import { Lru } from "../warehouse/lru.ts";
import { type Field, type TableRef, WarehouseQueryError } from "../warehouse/types.ts";
import { expireDue, liveGrants } from "./access.ts";
import type { BrokerDeps } from "./context.ts";

export interface PlannedColumn {
  name: string;
  sources: ColumnRef[];
  style: MaskStyle | null;
  /** The source column a projected masked output carries ("project.dataset.table.column"; a wildcard's, comma-joined): its hash key's name. */
  source: string | null;
  rules: string[];
}

export interface QueryPlan extends StatementPlan {
  grants: Grant[];
}

const tableName = (t: TableRef) => `${t.project}.${t.dataset}.${t.table}`.toLowerCase();
const datasetName = (t: TableRef) => `${t.project}.${t.dataset}`.toLowerCase();

/** The hash that binds a single-statement approval to its SQL: comments, spacing and keyword case do not count, literals do. */
export function statementHash(sql: string): string {
  const hit = statementHashes.get(sql);
  if (hit !== undefined) return hit;
  const hash = createHash("sha256").update(normalizeSql(sql)).digest("hex");
  if (sql.length <= 32_768) statementHashes.set(sql, hash);
  return hash;
}

/** The hash is a function of the text alone, and every query computes it: kept for the statements seen last. */
const statementHashes = new Lru<string, string>(512);

export interface StatementPlan {
  analysis: Analysis;
  /** The result schema the warehouse's dry run reported. */
  schema: Field[];
  tables: string[];
  datasets: string[];
  columns: PlannedColumn[];
  /** The warehouse's dry-run figure: for the byte cap and the audit log. */
  bytesEstimate: number;
  /** Whether byte figures are withheld from the caller: the statement could read a masked column (see `shownBytes`). */
  bytesWithheld: boolean;
  /** The dry-run figure as callers may see it: null when withheld. */
  bytesShown: number | null;
  /** Every masked column the statement reads, in any position ("project.dataset.table.column"): what an approver must see. */
  maskedRead: string[];
  /** Whether any masked column is read (returned or tested): then warehouse error messages are withheld. */
  readsMasked: boolean;
}

/**
 * The bytes a statement processes, as its caller may see them. The warehouse counts the stored size of every column
 * read (BigQuery: 2 + the UTF-8 length of each STRING), so for a statement that reads a masked column the figure is a
 * function of the masked values: over a one-row partition it is a value's length. The answer may depend on a masked
 * value only in masked cells, so the figure is withheld (null) there; the audit log keeps it, and the byte cap still
 * applies to it.
 */
export function shownBytes(withheld: boolean, bytes: number): number | null {
  return withheld ? null : bytes;
}

/** The (lower-case) names of the masked columns and fields of the tables a statement reads. */
function maskedColumnNames(policy: Policy, schemas: ReadonlyMap<string, Field[]>): Set<string> {
  const out = new Set<string>();
  const walk = (table: string, fields: readonly Field[], prefix: string) => {
    for (const f of fields) {
      const path = `${prefix}${f.name}`;
      if (maskRuleFor(policy, { table, column: path }) !== undefined) out.add(f.name.toLowerCase());
      if (f.fields) walk(table, f.fields, `${path}.`);
    }
  };
  for (const [table, fields] of schemas) walk(table, fields, "");
  return out;
}

/** The datasets a statement names ("project.dataset", sorted), from its syntax alone: what access is decided on. */
export async function statementDatasets(sql: string, defaultProject: string): Promise<string[]> {
  return [...new Set((await inspectSql(sql, defaultProject)).tables.map(datasetName))].sort();
}

/**
 * Analyses a statement under the current policy (guardrails, opacity of masked columns, masking, bytes), whoever runs
 * it. Callers decide access first (planQuery, explain): this looks up the schemas of every table the SQL names.
 */
export async function analyseStatement(deps: BrokerDeps, sql: string, known?: Syntax): Promise<StatementPlan> {
  const policy = deps.policy();
  const project = deps.warehouse.defaultProject;
  // The statement kind comes from the SQL alone: a DROP of a missing table is refused as DDL, not "Not found".
  const syntax = known ?? await inspectSql(sql, project);
  checkKind(policy, syntax.kind.kind);
  const refs = syntax.tables;
  const sources = syntax.sources;
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
  const analysis = await analyzeSql(sql, { defaultProject: project, schemas, wildcards });
  checkKind(policy, analysis.kind);
  checkOpacity(policy, analysis);
  const maskedRead = [...new Set([...analysis.outputs.flatMap((o) => o.sources), ...analysis.uses.map((u) => u.column)]
    .filter((c) => maskRuleFor(policy, c) !== undefined)
    .map((c) => `${c.table}.${c.column}`))].sort();
  const readsMasked = maskedRead.length > 0;

  const columns = analysis.outputs.map((o) => planColumn(policy, o));
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
  // The figure counts every column the statement references, also where the analysis sees no use of it.
  const bytesWithheld = readsMasked || couldRead(analysis.mentions, maskedColumnNames(policy, schemas));
  const bytesShown = shownBytes(bytesWithheld, bytesEstimate);
  const max = policy.guardrails.maxBytesProcessed;
  if (max !== null && bytesEstimate > max) {
    throw new JitError("denied", `the query would process ${bytesShown === null ? "more bytes than" : `${bytesShown} bytes, over`} the policy's limit of ${max}`, {
      hint: "select fewer columns or filter on a partition",
    });
  }
  return {
    analysis, schema: dry.schema, tables: refs.map(tableName), datasets: [...new Set(refs.map(datasetName))].sort(), columns, bytesEstimate, bytesWithheld, bytesShown,
    maskedRead, readsMasked,
  };
}

/**
 * Decides whether `principal` may run `sql`, and how its output is masked; throws `denied` with the reason when not.
 * Access is decided before anything about a table is looked up: the statement kind and the datasets come from the
 * SQL alone, and a person without a rule or a grant for a dataset gets the same answer whether the tables and
 * columns they name exist or not.
 */
export async function planQuery(deps: BrokerDeps, principal: Principal, sql: string): Promise<QueryPlan> {
  const policy = deps.policy();
  const syntax = await inspectSql(sql, deps.warehouse.defaultProject);
  checkKind(policy, syntax.kind.kind);
  const datasets = [...new Set(syntax.tables.map(datasetName))].sort();
  const decisions = new Map(datasets.map((d) => [d, evaluateAccess(policy, principal, d)]));
  const noRule = datasets.filter((d) => decisions.get(d)!.outcome === "denied");
  if (noRule.length > 0) throw noRuleError(noRule);
  await expireDueNowAndThen(deps);
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
  // Only now, with access decided, are schemas looked up, columns resolved and the dry run made.
  const stmt = await analyseStatement(deps, sql, syntax);
  return { ...stmt, grants: [...new Set(used)] };
}

/**
 * Expiring overdue pending requests is housekeeping here: a query is decided on grants alone, and every route that
 * reads, decides or waits on a request expires them itself first. So a stream of queries runs it (a write
 * transaction) at most once a second of the broker's clock rather than once per query.
 */
const lastExpiry = new WeakMap<BrokerDeps, number>();
const EXPIRY_EVERY_MS = 1000;
async function expireDueNowAndThen(deps: BrokerDeps): Promise<void> {
  const now = deps.now();
  const last = lastExpiry.get(deps);
  if (last !== undefined && now >= last && now - last < EXPIRY_EVERY_MS) return;
  lastExpiry.set(deps, now);
  await expireDue(deps);
}

/** The refusal for datasets no rule of the policy gives this person: it names neither the rules nor who has access. */
export function noRuleError(datasets: string[]): JitError {
  return new JitError("denied", `no rule of the policy gives you access to ${datasets.join(", ")}`, {
    hint: "jit datasets lists what you may use; ask the data's owners if you need more",
    details: { denied_datasets: datasets },
  });
}

/**
 * How an output column is masked. A masked column may only be projected (OutputColumn.direct): then the output takes
 * its style, partial ones included. Deriving anything else from one is refused (checkOpacity names the construct;
 * this catches whole-row values and anything else it did not). Under `inference: allow`, a derived output is still
 * masked, with a constant: a keyed hash or partial mask of a value the query computed would let it choose what is
 * shown, or hash its own guesses with the column's key.
 */
function planColumn(policy: Policy, out: OutputColumn): PlannedColumn {
  const masked = out.sources.map((s) => ({ source: s, rule: maskRuleFor(policy, s) })).filter((x): x is { source: ColumnRef; rule: ColumnMaskRule } => x.rule !== undefined);
  const base = { name: out.name, sources: out.sources, source: null, rules: [...new Set(masked.map((m) => m.rule.id))] };
  if (masked.length === 0) return { ...base, style: null };
  // A projection; several sources only through a wildcard table (the same column of each matching table).
  if (out.direct) {
    return { ...base, style: strictestStyle(masked.map((m) => m.rule.style)), source: out.sources.map((c) => `${c.table}.${c.column}`).join(",") };
  }
  const opaque = masked.find((m) => m.rule.inference === "deny");
  if (opaque) throw opacityError(opaque.source, "a computed value or whole row", opaque.rule, out.name);
  const strictest = strictestStyle(masked.map((m) => m.rule.style));
  return { ...base, style: strictest === "null" || strictest === "default" ? strictest : "redact" };
}

/** Refuses every use of a masked column (inference: deny) other than projecting it, naming the first in query order. */
function checkOpacity(policy: Policy, a: Analysis): void {
  for (const use of a.uses) {
    const rule = maskRuleFor(policy, use.column);
    if (rule && rule.inference === "deny") throw opacityError(use.column, use.construct, rule);
  }
}

function opacityError(column: ColumnRef, construct: string, rule: ColumnMaskRule, output?: string): JitError {
  const name = `${column.table}.${column.column}`;
  return new JitError("denied",
    `${name} is masked: it may only be selected as it is, and this query uses it in ${construct}${output ? ` (output ${output})` : ""}, ` +
    "so the answer would depend on its hidden value", {
    hint: "select the column unchanged (it comes back masked) and filter, join, group and sort on columns that are not masked; " +
      "if its owners accept inference, the policy can say `inference: allow` for it",
    details: { column: name, construct, rule: rule.id },
  });
}

const KIND_LABEL: Record<string, string> = {
  dml: "DML (INSERT, UPDATE, DELETE, MERGE)",
  ddl: "DDL (CREATE, ALTER, DROP)",
  script: "scripts and multi-statement input",
  export: "EXPORT DATA",
  external_query: "EXTERNAL_QUERY",
  other: "this kind of statement",
};

/** The statement-kind guardrail: decided from the SQL alone, before any lookup. */
function checkKind(policy: Policy, kind: StatementKind): void {
  if (kind === "query") return;
  if (kind === "other" || (policy.guardrails.deny as string[]).includes(kind)) {
    throw new JitError("denied", `${KIND_LABEL[kind]} ${kind === "other" ? "is" : "are"} refused by the policy's guardrails`, {
      hint: "jit runs read-only queries: send a single SELECT",
      details: { statement_kind: kind },
    });
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

