/** `jit policy check FILE`: validates a policy file, every error with its line and column. */
import { readFile } from "node:fs/promises";
import { JitError } from "../../errors.ts";
import { lintPolicy } from "../../policy/load.ts";
import type { CliContext } from "../context.ts";
import { printJson } from "./util.ts";

/** Checks a policy file; exit 2 with every error listed when it is invalid. */
export async function policyCheckCommand(ctx: CliContext, file: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new JitError("usage", `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const res = lintPolicy(text, file);
  if (ctx.flags.json && res.errors.length === 0) return printJson(ctx, { ok: true, file, errors: [], warnings: res.warnings });
  for (const w of res.warnings) ctx.io.err(ctx.io.colorErr.yellow(`warning: ${formatIssue(w)}`));
  if (res.errors.length > 0) {
    if (!ctx.flags.json) for (const e of res.errors) ctx.io.err(formatIssue(e));
    throw new JitError("usage", `${file}: ${res.errors.length} error${res.errors.length === 1 ? "" : "s"}`, { details: { errors: res.errors, warnings: res.warnings } });
  }
  ctx.io.out(`${file}: valid policy (${res.policy!.datasets.length} dataset rules, ${res.policy!.masking.columns.length} masked column rules).`);
}

function formatIssue(e: { file?: string; line?: number; column?: number; path?: string; message: string }): string {
  return `${e.file ?? ""}${e.line ? `:${e.line}:${e.column ?? 1}` : ""}: ${e.path ? `${e.path}: ` : ""}${e.message}`;
}

interface Explanation {
  decision: string;
  access: Array<{ dataset: string; outcome: string; rule: string | null; matched_rules: string[]; approvers: string[]; reasons: string[] }>;
  statement: { allowed: boolean; refused_because?: string; kind?: string; tables?: string[]; bytes_estimate?: number | null; columns?: Array<{ name: string; masked: boolean; mask: string | null; rules: string[]; sources: string[] }> };
}

/** Asks the broker what its policy decides for a person and a statement, with the rules behind it. */
export async function policyExplainCommand(ctx: CliContext, sql: string, opts: { as: string; groups: string }): Promise<void> {
  const groups = opts.groups.split(",").map((g) => g.trim()).filter(Boolean);
  const client = await ctx.client();
  const res = await client.post<Explanation>("/v1/policy/explain", { as: opts.as, groups, sql });
  if (ctx.flags.json) return printJson(ctx, res);
  const { io } = ctx;
  const c = io.color;
  const verdict = res.decision === "denied" ? c.red("denied") : res.decision === "auto" ? c.green("allowed once a grant is requested (auto-approved)") : c.yellow(res.decision === "per_query" ? "each statement needs an approval" : "needs approval");
  io.out(`decision for ${opts.as} [${groups.join(", ")}]: ${verdict}`);
  for (const a of res.access) {
    io.out(`  ${a.dataset}: ${a.outcome}${a.rule ? ` by rule ${a.rule}` : ""}${a.approvers.length ? ` (approvers: ${a.approvers.join(", ")})` : ""}`);
    for (const r of a.reasons) io.out(`    - ${r}`);
  }
  if (!res.statement.allowed) io.out(`  statement refused: ${res.statement.refused_because}`);
  else {
    io.out(`  statement: ${res.statement.kind}, reads ${res.statement.tables!.join(", ")}, ${res.statement.bytes_estimate === null ? "bytes not shown (it reads a masked column)" : `~${res.statement.bytes_estimate} bytes`}`);
    for (const col of res.statement.columns!) {
      io.out(`    ${col.name}: ${col.masked ? c.yellow(`masked ${col.mask} (${col.rules.join(", ")})`) : "returned as is"}${col.sources.length ? ` ← ${col.sources.join(", ")}` : ""}`);
    }
  }
  if (res.decision === "denied") throw new JitError("denied", `the policy denies this for ${opts.as}`);
}
