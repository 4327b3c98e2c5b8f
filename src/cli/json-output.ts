/**
 * `--json [FIELDS]` and `--jq EXPR`, gh's conventions: `--json` alone prints everything, `--json id,state` only
 * those fields of each record (an unknown one is a usage error naming the ones there are), `--jq` filters the JSON
 * through jq (and implies --json). jq itself (jq-wasm, 1 MB of WebAssembly) is loaded only when --jq is given.
 */
import type { Command } from "commander";
import { JitError } from "../errors.ts";

/** Where a command's records sit in its JSON: under `key` (a list or one object), or the top-level object itself. */
export interface RecordSpec {
  /** The envelope key holding the records ("requests", "grant"); undefined: the top-level keys are the fields. */
  key?: string;
  fields: string[];
  /** The command changes something: its field list is checked before it runs, not after. */
  acts?: boolean;
}

const REQUEST = ["id", "state", "requester", "datasets", "reason", "duration_seconds", "requested_duration_seconds", "created_at", "expires_at",
  "approver_groups", "min_approvals", "approvals", "decided_at", "decided_by", "decision_reason", "rule_ids", "grant_id", "grant", "sql"];
const GRANT = ["id", "state", "holder", "datasets", "request_id", "created_at", "expires_at", "seconds_left", "revoked_at", "revoked_by", "single_statement"];
const QUERY = ["columns", "rows", "row_count", "truncated", "masked_cells", "bytes_processed", "grant_id", "audit_id",
  // a dry run's answer
  "decision", "tables", "datasets", "masked_columns", "masked_columns_read", "bytes_estimate", "grant_ids"];
const AUDIT = ["id", "seq", "at", "actor", "actor_subject", "action", "outcome", "details", "prev_hash", "hash"];

/** The JSON output of every command that has one, by command path. Fields a broker adds later are accepted as they appear. */
export const RECORDS: Record<string, RecordSpec> = {
  login: { fields: ["broker", "username", "groups", "expires_at", "credential_store"], acts: true },
  logout: { fields: ["broker", "signed_out"], acts: true },
  whoami: { fields: ["broker", "username", "email", "groups", "admin", "auditor", "grants", "pending_requests", "token_expires_at", "credential_store"] },
  request: { key: "request", fields: REQUEST, acts: true },
  "request show": { key: "request", fields: REQUEST },
  "request wait": { key: "request", fields: REQUEST },
  "request cancel": { key: "request", fields: REQUEST, acts: true },
  requests: { key: "requests", fields: [...REQUEST, "can_approve", "statement"] },
  approve: { key: "request", fields: REQUEST, acts: true },
  deny: { key: "request", fields: REQUEST, acts: true },
  grants: { key: "grants", fields: GRANT },
  revoke: { key: "grant", fields: GRANT, acts: true },
  query: { fields: QUERY },
  datasets: { key: "datasets", fields: ["dataset", "access", "approvers", "max_duration_seconds", "grant_id", "grant_expires_at"] },
  tables: { key: "tables", fields: ["table", "name"] },
  describe: { key: "columns", fields: ["name", "type", "masked", "mask", "inference"] },
  "audit list": { key: "records", fields: AUDIT },
  "audit show": { fields: AUDIT },
  "audit replay": { fields: QUERY.slice(0, 8) },
  "audit verify": { fields: ["ok", "checked", "broken", "head"] },
  "policy check": { fields: ["ok", "file", "errors", "warnings"] },
  "policy explain": { fields: ["decision", "access", "statement"] },
  "mcp config": { fields: ["client", "file", "config", "command_line", "server", "action", "kept"] },
  version: { fields: ["cli", "node", "broker"] },
  // Their one key is the setting's name, which is also their argument: fields come from the answer.
  "config get": { fields: [] },
  "config set": { fields: [] },
  "config list": { key: "settings", fields: ["key", "value", "source", "about"] },
};

/** A comma-separated list of field names, as `--json FIELDS` takes it. */
const FIELD_LIST = /^[a-z_][a-z0-9_]*(,[a-z_][a-z0-9_]*)*$/;

function commandAt(program: Command, words: string[]): { cmd: Command; path: string[] } {
  let cmd = program;
  const path: string[] = [];
  for (const w of words) {
    if (w.startsWith("-")) continue;
    const next = cmd.commands.find((c) => c.name() === w);
    if (!next) break;
    cmd = next;
    path.push(w);
  }
  return { cmd, path };
}

/**
 * Rewrites `--json FIELDS` and `--json=FIELDS` to `--json --json-fields FIELDS`, so commander's `--json` stays a
 * switch that never swallows the next argument. The word after a bare --json is a field list when it looks like one
 * and is not what the command expects there: a subcommand's name, or a positional argument of a command that takes
 * them (`jit config get --json broker` asks for the setting "broker"), unless it has a comma or names a known field.
 */
export function splitJsonFlag(program: Command, argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (a.startsWith("--json=")) {
      out.push("--json", "--json-fields", a.slice("--json=".length));
      continue;
    }
    const next = argv[i + 1];
    if (a === "--json" && next !== undefined && FIELD_LIST.test(next)) {
      const { cmd, path } = commandAt(program, [...argv.slice(0, i), ...argv.slice(i + 2)]);
      const here = commandAt(program, argv.slice(0, i)).cmd;
      const isCommandWord = here.commands.some((c) => c.name() === next);
      const known = RECORDS[path.join(" ")]?.fields ?? [];
      const names = next.split(",");
      const takesArgs = cmd.registeredArguments.length > 0;
      if (!isCommandWord && (names.length > 1 || !takesArgs || known.includes(next))) {
        out.push("--json", "--json-fields", next);
        i++;
        continue;
      }
    }
    out.push(a);
  }
  return out;
}

/** The JSON options of one invocation, checked: field names, and jq loaded and its expression compiled. */
export interface JsonSelection {
  path: string;
  fields?: string[];
  jq?: { expr: string; run: (input: unknown, flags: string[]) => { stdout: string; stderr: string; exitCode: number } };
}

/** "jit request show" for a usage message. */
const named = (path: string) => `jit ${path}`.trim();

function unknownField(path: string, bad: string, available: string[]): JitError {
  return new JitError("usage", `unknown JSON field "${bad}" for ${named(path)}`, {
    hint: `available fields: ${available.join(", ")}`,
    details: { field: bad, available },
  });
}

/** Checks `--json FIELDS` against what the command declares (before a command that changes something runs). */
export function checkFields(path: string, fields: string[], observed: string[] = []): void {
  const spec = RECORDS[path];
  const available = [...new Set([...(spec?.fields ?? []), ...observed])];
  for (const f of fields) if (!available.includes(f)) throw unknownField(path, f, available);
}

/** jq's compile errors, as a usage error with jq's own words (line, column and a caret). */
function jqError(expr: string, stderr: string): JitError {
  const lines = stderr.split("\n").filter((l) => l && !/^jq: \d+ compile errors?$/.test(l));
  const first = (lines[0] ?? "invalid expression").replace(/^jq: error: /, "").replace(/:$/, "");
  // jq's own excerpt of the expression with a caret under the spot follows the message.
  return new JitError("usage", [`--jq: ${first}`, ...lines.slice(1)].join("\n"), { hint: "the jq manual: https://jqlang.org/manual/", details: { jq: expr } });
}

/**
 * Prepares --json FIELDS and --jq for the command at `path`, before it runs: unknown commands, fields of a command
 * that acts, and jq syntax are refused with exit 2 before anything happens.
 */
export async function prepareJson(path: string, fieldsRaw: string | undefined, jqExpr: string | undefined): Promise<JsonSelection> {
  const sel: JsonSelection = { path };
  const spec = RECORDS[path];
  if ((fieldsRaw !== undefined || jqExpr !== undefined) && !spec) {
    throw new JitError("usage", `${named(path)} has no JSON output to select from`, { hint: "--json FIELDS and --jq work on the commands whose --help lists --json output, e.g. jit requests --json id,state" });
  }
  if (fieldsRaw !== undefined) {
    const fields = fieldsRaw.split(",").map((f) => f.trim()).filter(Boolean);
    if (fields.length === 0) throw new JitError("usage", "--json= needs field names", { hint: `available fields: ${spec!.fields.join(", ")}` });
    if (spec!.acts) checkFields(path, fields);
    sel.fields = fields;
  }
  if (jqExpr !== undefined) {
    if (!jqExpr.trim()) throw new JitError("usage", "--jq needs an expression", { hint: "e.g. --jq '.requests[].id'" });
    const { loadJq } = await import("jq-wasm");
    const jq = await loadJq();
    // limit(0; f) compiles f without running it: a syntax error is found before the command does anything.
    const probe = jq.raw(null, `limit(0; ${jqExpr}\n)`, ["-c"]);
    if (probe.exitCode === 3) throw jqError(jqExpr, jq.raw(null, jqExpr, ["-n"]).stderr || probe.stderr);
    sel.jq = { expr: jqExpr, run: (input, flags) => jq.raw(input as object, jqExpr, flags) };
  }
  return sel;
}

function pick(record: unknown, fields: string[]): unknown {
  if (record === null || typeof record !== "object" || Array.isArray(record)) return record;
  const r = record as Record<string, unknown>;
  return Object.fromEntries(fields.map((f) => [f, r[f] ?? null]));
}

function recordKeys(v: unknown): string[] {
  if (Array.isArray(v)) return [...new Set(v.flatMap(recordKeys))];
  return v !== null && typeof v === "object" ? Object.keys(v) : [];
}

/** The value with only the chosen fields of each record (the envelope and its other keys stay as they are). */
export function selectFields(value: unknown, sel: JsonSelection): unknown {
  if (!sel.fields) return value;
  const spec = RECORDS[sel.path];
  const top = value as Record<string, unknown>;
  const records = spec?.key ? top?.[spec.key] : value;
  checkFields(sel.path, sel.fields, recordKeys(records));
  if (!spec?.key) return pick(value, sel.fields);
  const picked = Array.isArray(records) ? records.map((r) => pick(r, sel.fields!)) : pick(records, sel.fields);
  return { ...top, [spec.key]: picked };
}

/** The text to print: JSON (indented, or compact for `jit query`'s rows), or what jq made of it. */
export function renderJson(value: unknown, sel: JsonSelection | undefined, opts: { compact?: boolean; tty?: boolean } = {}): string {
  const selected = sel ? selectFields(value, sel) : value;
  if (!sel?.jq) return opts.compact ? JSON.stringify(selected) : JSON.stringify(selected, null, 2);
  // gh's --jq: strings come out raw, everything else as JSON (indented on a terminal, one per line otherwise).
  const res = sel.jq.run(selected, opts.tty ? ["-r"] : ["-r", "-c"]);
  if (res.exitCode !== 0) {
    const msg = res.stderr.trim().split("\n")[0]?.replace(/^jq: error \(at [^)]*\): /, "") ?? "jq failed";
    throw new JitError("usage", `--jq: ${msg}`, { hint: `the expression ran on this command's JSON output: see it with --json alone`, details: { jq: sel.jq.expr } });
  }
  return res.stdout.replace(/\n$/, "");
}
