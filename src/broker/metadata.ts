/** Metadata the caller may see: datasets the policy lets them use or request, their tables, and schemas with masked columns marked. */
import { JitError } from "../errors.ts";
import { evaluateAccess, maskRuleFor } from "../policy/evaluate.ts";
import type { Field } from "../warehouse/types.ts";
import { liveGrants, qualifyDataset } from "./access.ts";
import { audit, type BrokerDeps, type Caller } from "./context.ts";
import { warehouseError } from "./plan.ts";

function visibleDataset(deps: BrokerDeps, c: Caller, dataset: string) {
  const decision = evaluateAccess(deps.policy(), c.principal, dataset);
  if (decision.outcome === "denied") {
    throw new JitError("denied", decision.reasons.join("; "), { hint: "jit datasets lists what you may use" });
  }
  return decision;
}

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
  await audit(deps, c, "metadata", "ok", { what: "datasets", count: datasets.length });
  return { datasets };
}

/** Lists the tables of a dataset the caller may use or request. */
export async function listTables(deps: BrokerDeps, c: Caller, raw: string) {
  const dataset = qualifyDataset(raw, deps.warehouse.defaultProject);
  visibleDataset(deps, c, dataset);
  let tables: string[];
  try {
    tables = await deps.warehouse.listTables(dataset);
  } catch (err) {
    throw warehouseError(err, deps.policy());
  }
  await audit(deps, c, "metadata", "ok", { what: "tables", dataset });
  return { dataset, tables: tables.map((t) => ({ table: `${dataset}.${t}`, name: t })) };
}

/** Describes a table: its columns with their types and, for masked ones, the mask style. */
export async function describeTable(deps: BrokerDeps, c: Caller, raw: string) {
  const parts = raw.replaceAll("`", "").toLowerCase().split(".");
  if (parts.length === 2) parts.unshift(deps.warehouse.defaultProject);
  if (parts.length !== 3 || parts.some((p) => !/^[a-z0-9_-]+$/.test(p))) {
    throw new JitError("usage", `"${raw}" is not a table name`, { hint: "name tables as project.dataset.table, e.g. demo.sales.customers" });
  }
  const [project, dataset, table] = parts as [string, string, string];
  visibleDataset(deps, c, `${project}.${dataset}`);
  let fields: Field[];
  try {
    fields = await deps.warehouse.tableSchema({ project, dataset, table });
  } catch (err) {
    throw warehouseError(err, deps.policy());
  }
  const full = `${project}.${dataset}.${table}`;
  await audit(deps, c, "metadata", "ok", { what: "table", table: full });
  return {
    table: full,
    columns: fields.map((f) => {
      const rule = maskRuleFor(deps.policy(), { table: full, column: f.name.toLowerCase() });
      return { name: f.name, type: f.type, masked: rule !== undefined, ...(rule ? { mask: rule.style, inference: rule.inference } : {}) };
    }),
  };
}
