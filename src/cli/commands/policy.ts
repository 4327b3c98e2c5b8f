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
