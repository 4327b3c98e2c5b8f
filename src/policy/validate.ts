/** Turns a parsed YAML policy into the validated model, collecting every error with its position. */
import type {
  AccessRule, ApprovalMode, ColumnMaskRule, DatasetRule, DetectorName, GuardrailKind, MaskStyle, Policy,
} from "./types.ts";
import { isScalar } from "yaml";
import { describe, join, type Reader } from "./yaml-read.ts";

export const APPROVAL_MODES: readonly ApprovalMode[] = ["auto", "required", "per_query"];
export const MASK_STYLES: readonly MaskStyle[] = ["redact", "null", "default", "last4", "first4", "hash", "sha256", "email", "year"];
export const DETECTORS: readonly DetectorName[] = ["credit_card", "us_ssn", "email", "phone", "iban"];
export const GUARDRAIL_KINDS: readonly GuardrailKind[] = ["dml", "ddl", "script", "export", "external_query"];

/** Defaults for what a policy may leave out. */
export const DEFAULTS = {
  groupsClaim: "groups",
  maxDurationMs: 3_600_000, // 1h: a forgotten max_duration yields the shortest common grant, not a long one
  minApprovals: 1,
  detectors: ["credit_card", "us_ssn", "email"] as DetectorName[],
  maxBytesProcessed: 10 * 1e9,
  maxRows: 10_000,
  pendingTtlMs: 24 * 3_600_000,
  perQueryTtlMs: 15 * 60_000,
};

/** More distinct approvals than this is taken for a typo: such requests would stay pending forever. */
export const MAX_MIN_APPROVALS = 10;
export const MAX_ROWS_LIMIT = 10_000_000;

// One segment of a BigQuery name, where `*` stands for any run of characters within the segment.
const SEGMENT = /^[A-Za-z0-9_\-*]+$/;

/** Builds the Policy from the document's root node; undefined when anything was wrong (see reader.errors). */
export function buildPolicy(root: unknown, r: Reader): Policy | undefined {
  const before = r.errors.length;
  const top = r.map(root, "", ["version", "groups_claim", "admins", "auditors", "datasets", "masking", "guardrails", "requests"]);
  if (!top) return undefined;
  const v = top.values;
  const versionNode = r.required(top, "version", "the policy format version: 1");
  if (versionNode !== undefined && !(isScalar(versionNode) && versionNode.value === 1)) {
    r.error(versionNode, "version", `unsupported version ${describe(versionNode)}: this jit reads version: 1 (the number)`);
  }
  const groupsClaim = v.has("groups_claim") ? r.string(v.get("groups_claim"), "groups_claim") : DEFAULTS.groupsClaim;
  const admins = v.has("admins") ? r.strings(v.get("admins"), "admins", { nonEmpty: false }) : [];
  const auditors = v.has("auditors") ? r.strings(v.get("auditors"), "auditors", { nonEmpty: false }) : [];
  const datasets = v.has("datasets") ? readDatasets(v.get("datasets"), r) : [];
  const masking = readMasking(v.get("masking"), v.has("masking"), r);
  const guardrails = readGuardrails(v.get("guardrails"), v.has("guardrails"), r);
  const requests = readRequests(v.get("requests"), v.has("requests"), r);
  if (r.errors.length > before) return undefined;
  return {
    version: 1,
    groupsClaim: groupsClaim!,
    admins: admins!,
    auditors: auditors!,
    datasets: datasets!,
    masking: masking!,
    guardrails: guardrails!,
    requests: requests!,
  };
}

function readDatasets(node: unknown, r: Reader): DatasetRule[] | undefined {
  const items = r.list(node, "datasets");
  if (!items) return undefined;
  const out: DatasetRule[] = [];
  items.forEach((item, i) => {
    const path = join("datasets", i);
    const f = r.map(item, path, ["match", "access"]);
    if (!f) return;
    const matchNode = r.required(f, "match", "project.dataset, glob allowed, e.g. demo.sales or demo.*");
    const match = matchNode === undefined ? undefined : readName(matchNode, join(path, "match"), 2, "project.dataset (e.g. demo.sales or demo.*)", r);
    const accessNode = r.required(f, "access", "a list of rules: groups, approval, max_duration");
    const accessItems = accessNode === undefined ? undefined : r.list(accessNode, join(path, "access"));
    if (accessItems && accessItems.length === 0) r.error(accessNode, join(path, "access"), "expected at least one access rule");
    const access = (accessItems ?? []).map((a, j) => readAccessRule(a, join(join(path, "access"), j), r));
    if (match !== undefined) out.push({ id: path, match, access: access.filter((a): a is AccessRule => a !== undefined) });
  });
  return out;
}

function readAccessRule(node: unknown, path: string, r: Reader): AccessRule | undefined {
  const f = r.map(node, path, ["groups", "approval", "approvers", "min_approvals", "max_duration", "reason_required"]);
  if (!f) return undefined;
  const v = f.values;
  const groupsNode = r.required(f, "groups", "who this rule is for, e.g. [analysts]");
  const groups = groupsNode === undefined ? undefined : r.strings(groupsNode, join(path, "groups"), { nonEmpty: true });
  // approval has no default: whether a person needs a second pair of eyes must be written down.
  const approvalNode = r.required(f, "approval", APPROVAL_MODES.join(" | "));
  const approval = approvalNode === undefined ? undefined : r.oneOf(approvalNode, join(path, "approval"), APPROVAL_MODES);
  const approvers = v.has("approvers") ? r.strings(v.get("approvers"), join(path, "approvers"), { nonEmpty: false }) : [];
  if (approval !== undefined && approval !== "auto" && approvers !== undefined && approvers.length === 0) {
    r.error(v.has("approvers") ? v.get("approvers") : f.node, join(path, "approvers"),
      `approval: ${approval} needs at least one approvers group, e.g. approvers: [data-owners]`);
  }
  const minApprovals = v.has("min_approvals")
    ? r.int(v.get("min_approvals"), join(path, "min_approvals"), 1, MAX_MIN_APPROVALS)
    : DEFAULTS.minApprovals;
  const maxDurationMs = v.has("max_duration") ? r.duration(v.get("max_duration"), join(path, "max_duration")) : DEFAULTS.maxDurationMs;
  const reasonRequired = v.has("reason_required") ? r.bool(v.get("reason_required"), join(path, "reason_required")) : true;
  if (groups === undefined || approval === undefined || approvers === undefined || minApprovals === undefined
    || maxDurationMs === undefined || reasonRequired === undefined) return undefined;
  return { id: path, groups, approval, approvers, minApprovals, maxDurationMs, reasonRequired };
}

function readMasking(node: unknown, present: boolean, r: Reader): Policy["masking"] | undefined {
  if (!present) return { columns: [], detectors: [...DEFAULTS.detectors] };
  const f = r.map(node, "masking", ["columns", "detectors"]);
  if (!f) return undefined;
  const columns: ColumnMaskRule[] = [];
  let ok = true;
  if (f.values.has("columns")) {
    const items = r.list(f.values.get("columns"), "masking.columns");
    if (!items) ok = false;
    (items ?? []).forEach((item, i) => {
      const rule = readColumnRule(item, join("masking.columns", i), r);
      if (rule) columns.push(rule);
      else ok = false;
    });
  }
  let detectors: DetectorName[] | undefined = [...DEFAULTS.detectors];
  if (f.values.has("detectors")) {
    const items = r.list(f.values.get("detectors"), "masking.detectors");
    const read = (items ?? []).map((d, i) => r.oneOf(d, join("masking.detectors", i), DETECTORS));
    detectors = items && read.every((d) => d !== undefined) ? [...new Set(read as DetectorName[])] : undefined;
  }
  return ok && detectors ? { columns, detectors } : undefined;
}

function readColumnRule(node: unknown, path: string, r: Reader): ColumnMaskRule | undefined {
  const f = r.map(node, path, ["match", "style", "inference"]);
  if (!f) return undefined;
  const matchNode = r.required(f, "match", "project.dataset.table.column, glob allowed, e.g. demo.sales.customers.ssn or *.*.*.email");
  const match = matchNode === undefined
    ? undefined
    : readName(matchNode, join(path, "match"), 4, "project.dataset.table.column (e.g. demo.sales.customers.ssn or \"*.*.*.email\")", r);
  const styleNode = r.required(f, "style", MASK_STYLES.join(" | "));
  // `style: null` written bare is YAML's null, but nobody means "no style" by it: read it as the null mask.
  const bareNull = isScalar(styleNode) && styleNode.value === null && /^null$/i.test(String(styleNode.source ?? ""));
  const style = styleNode === undefined ? undefined : bareNull ? "null" : r.oneOf(styleNode, join(path, "style"), MASK_STYLES);
  const inference = f.values.has("inference") ? r.oneOf(f.values.get("inference"), join(path, "inference"), ["deny", "allow"] as const) : "deny";
  if (match === undefined || style === undefined || inference === undefined) return undefined;
  return { id: path, match, style, inference };
}

function readGuardrails(node: unknown, present: boolean, r: Reader): Policy["guardrails"] | undefined {
  const defaults = { deny: [...GUARDRAIL_KINDS], maxBytesProcessed: DEFAULTS.maxBytesProcessed, maxRows: DEFAULTS.maxRows };
  if (!present) return defaults;
  const f = r.map(node, "guardrails", ["deny", "max_bytes_processed", "max_rows"]);
  if (!f) return undefined;
  let deny: GuardrailKind[] | undefined = defaults.deny;
  if (f.values.has("deny")) {
    const items = r.list(f.values.get("deny"), "guardrails.deny");
    const read = (items ?? []).map((k, i) => r.oneOf(k, join("guardrails.deny", i), GUARDRAIL_KINDS));
    deny = items && read.every((k) => k !== undefined) ? [...new Set(read as GuardrailKind[])] : undefined;
  }
  const maxBytesProcessed = f.values.has("max_bytes_processed")
    ? r.bytes(f.values.get("max_bytes_processed"), "guardrails.max_bytes_processed")
    : defaults.maxBytesProcessed;
  const maxRows = f.values.has("max_rows") ? r.int(f.values.get("max_rows"), "guardrails.max_rows", 1, MAX_ROWS_LIMIT) : defaults.maxRows;
  if (deny === undefined || maxBytesProcessed === undefined || maxRows === undefined) return undefined;
  return { deny, maxBytesProcessed, maxRows };
}

function readRequests(node: unknown, present: boolean, r: Reader): Policy["requests"] | undefined {
  const defaults = { pendingTtlMs: DEFAULTS.pendingTtlMs, perQueryTtlMs: DEFAULTS.perQueryTtlMs };
  if (!present) return defaults;
  const f = r.map(node, "requests", ["pending_ttl", "per_query_ttl"]);
  if (!f) return undefined;
  const pendingTtlMs = f.values.has("pending_ttl") ? r.duration(f.values.get("pending_ttl"), "requests.pending_ttl") : defaults.pendingTtlMs;
  const perQueryTtlMs = f.values.has("per_query_ttl") ? r.duration(f.values.get("per_query_ttl"), "requests.per_query_ttl") : defaults.perQueryTtlMs;
  if (pendingTtlMs === undefined || perQueryTtlMs === undefined) return undefined;
  return { pendingTtlMs, perQueryTtlMs };
}

// A dotted BigQuery name with exactly `parts` segments, each letters, digits, _, - or the glob *.
function readName(node: unknown, path: string, parts: number, what: string, r: Reader): string | undefined {
  const s = r.string(node, path);
  if (s === undefined) return undefined;
  const segments = s.split(".");
  if (segments.length !== parts || !segments.every((seg) => SEGMENT.test(seg))) {
    const count = segments.length === parts ? "" : ` (${segments.length} part${segments.length === 1 ? "" : "s"})`;
    r.error(node, path, `expected ${what}, got ${JSON.stringify(s)}${count}`);
    return undefined;
  }
  return s;
}
