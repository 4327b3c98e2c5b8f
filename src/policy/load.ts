/** Reads a policy file: YAML → validated Policy, or one `usage` error listing every problem with line:column. */
import { readFileSync } from "node:fs";
import { isMap, isPair, isSeq, LineCounter, parseDocument, type YAMLError } from "yaml";
import { JitError } from "../errors.ts";
import { formatIssue, type PolicyIssue } from "./issues.ts";
import { policyWarnings } from "./lint.ts";
import type { Policy } from "./types.ts";
import { buildPolicy } from "./validate.ts";
import { join, Reader } from "./yaml-read.ts";

export type { PolicyIssue } from "./issues.ts";

export interface LintResult {
  /** Present only when there are no errors. */
  policy?: Policy;
  errors: PolicyIssue[];
  warnings: PolicyIssue[];
}

/** Validates policy text and reports every error and warning; never throws for content problems. */
export function lintPolicy(text: string, file: string): LintResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const r = new Reader(file, lines);
  for (const e of doc.errors) r.errors.push(yamlIssue(e, doc.contents, r));
  const warnings = doc.warnings.map((w) => yamlIssue(w, doc.contents, r));
  // A syntax error leaves a partial tree whose "missing key" errors would only be noise; duplicate keys do not.
  if (doc.errors.some((e) => e.code !== "DUPLICATE_KEY")) return { errors: sorted(r.errors), warnings };
  if (doc.contents === null) {
    r.error({ line: 1, column: 1 }, "", "the file is empty: a policy starts with `version: 1` (see data/demo/policy.yaml)");
    return { errors: r.errors, warnings };
  }
  const policy = buildPolicy(doc.contents, r);
  if (!policy || r.errors.length > 0) return { errors: sorted(r.errors), warnings };
  return { policy, errors: [], warnings: sorted([...warnings, ...policyWarnings(policy, r)]) };
}

/** The validated policy, or a JitError `usage` whose message lists every error and whose details carry `errors`. */
export function parsePolicy(text: string, file: string): Policy {
  const { policy, errors, warnings } = lintPolicy(text, file);
  if (policy) return policy;
  const n = errors.length;
  throw new JitError("usage", `invalid policy ${file} (${n} error${n === 1 ? "" : "s"}):\n${errors.map((e) => `  ${formatIssue(e)}`).join("\n")}`, {
    hint: `fix the lines above, then check again with: jit policy check ${file}`,
    details: { file, errors, warnings },
  });
}

/** Reads and validates a policy file; an unreadable file is a `usage` error too. */
export function loadPolicyFile(path: string): Policy {
  return parsePolicy(readPolicyText(path), path);
}

/** lintPolicy on a file (for `jit policy check FILE`). */
export function lintPolicyFile(path: string): LintResult {
  return lintPolicy(readPolicyText(path), path);
}

function readPolicyText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (cause as Error).message;
    throw new JitError("usage", `cannot read policy file ${path}: ${why}`, {
      hint: "pass the path of a policy YAML file, e.g. jit policy check data/demo/policy.yaml",
      details: { file: path },
      cause,
    });
  }
}

function yamlIssue(e: YAMLError, root: unknown, r: Reader): PolicyIssue {
  const p = r.pos({ range: [e.pos[0], e.pos[1], e.pos[1]] });
  if (e.code === "DUPLICATE_KEY") {
    const path = pathOfKeyAt(root, e.pos[0], "") ?? "";
    const key = path.replace(/^.*[.\]]/, "") || "?";
    return { file: r.file, line: p.line, column: p.column, path, message: `duplicate key ${JSON.stringify(key)}: each key may appear once` };
  }
  return { file: r.file, line: p.line, column: p.column, path: "", message: `YAML: ${e.message}` };
}

// The model path of the key that starts at `offset`, so a duplicate key reads "datasets[0].access" rather than just a position.
function pathOfKeyAt(node: unknown, offset: number, path: string): string | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = pair.key as { range?: [number, number, number]; value?: unknown } | null;
      const name = join(path, String(key?.value ?? ""));
      if (key?.range?.[0] === offset) return name;
      const inner = pathOfKeyAt(pair.value, offset, name);
      if (inner !== undefined) return inner;
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const inner = pathOfKeyAt(item, offset, join(path, i));
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

function sorted(issues: PolicyIssue[]): PolicyIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}
