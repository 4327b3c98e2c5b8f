/** Metadata the caller may see: datasets the policy lets them use or request, their tables, and schemas with masked columns marked. */
import { JitError } from "../errors.ts";
import { evaluateAccess, maskRuleFor } from "../policy/evaluate.ts";
import type { Field } from "../warehouse/types.ts";
import { liveGrants } from "./access.ts";
import type { BrokerDeps, Caller } from "./context.ts";
import { warehouseError } from "./plan.ts";

/** Lists the datasets the caller may use or request, with how access is obtained and whether a grant is live. */
export async function listDatasets(deps: BrokerDeps, c: Caller) {
  let all: string[];
  try {
    all = await deps.warehouse.listDatasets();
  } catch (err) {
    throw warehouseError(err, deps.policy());
  }
  const grants = await liveGrants(deps, c.principal);
  const datasets = all
    .map((d) => ({ d: d.toLowerCase(), decision: evaluateAccess(deps.policy(), c.principal, d.toLowerCase()) }))
    .filter((x) => x.decision.outcome !== "denied")
    .map((x) => {
      const g = grants.find((gr) => gr.datasets.includes(x.d) && gr.sqlHash === null);
      return {
        dataset: x.d,
        access: x.decision.outcome,
        approvers: x.decision.rule?.approvers ?? [],
        max_duration_seconds: x.decision.rule ? Math.round(x.decision.rule.maxDurationMs / 1000) : null,
        grant_id: g?.id ?? null,
        grant_expires_at: g ? new Date(g.expiresAt).toISOString() : null,
      };
    });
  return { datasets };
}

/** Lists the tables of a dataset; the front door has decided access to it before this looks anything up. */
export async function listTables(deps: BrokerDeps, dataset: string) {
  let tables: string[];
  try {
    tables = await deps.warehouse.listTables(dataset);
  } catch (err) {
    throw warehouseError(err, deps.policy());
  }
  return { dataset, tables: tables.map((t) => ({ table: `${dataset}.${t}`, name: t })) };
}

/** Parses `project.dataset.table` (or `dataset.table` in the default project), lower-cased. */
export function parseTableName(raw: string, defaultProject: string): { project: string; dataset: string; table: string } {
  const parts = raw.replaceAll("`", "").toLowerCase().split(".");
  if (parts.length === 2) parts.unshift(defaultProject);
  if (parts.length !== 3 || parts.some((p) => !/^[a-z0-9_-]+$/.test(p))) {
    throw new JitError("usage", `"${raw.slice(0, 200)}" is not a table name`, { hint: "name tables as project.dataset.table, e.g. demo.sales.customers" });
  }
  const [project, dataset, table] = parts as [string, string, string];
  return { project, dataset, table };
}

/** Describes a table: its columns with their types and, for masked ones, the mask style. Access was decided first. */
export async function describeTable(deps: BrokerDeps, ref: { project: string; dataset: string; table: string }) {
  let fields: Field[];
  try {
    fields = await deps.warehouse.tableSchema(ref);
  } catch (err) {
    throw warehouseError(err, deps.policy());
  }
  const full = `${ref.project}.${ref.dataset}.${ref.table}`;
  return {
    table: full,
    columns: fields.map((f) => {
      const rule = maskRuleFor(deps.policy(), { table: full, column: f.name.toLowerCase() });
      return { name: f.name, type: f.type, masked: rule !== undefined, ...(rule ? { mask: rule.style, inference: rule.inference } : {}) };
    }),
  };
}
