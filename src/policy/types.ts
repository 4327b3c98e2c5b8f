/** The policy file's model (SPEC.md "Policy file"), after validation and defaults. */

export type ApprovalMode = "auto" | "required" | "per_query";
export type MaskStyle =
  | "redact" | "null" | "default" | "last4" | "first4" | "hash" | "sha256" | "email" | "year";
export type DetectorName = "credit_card" | "us_ssn" | "email" | "phone" | "iban";
export type GuardrailKind = "dml" | "ddl" | "script" | "export" | "external_query";

export interface AccessRule {
  /** Stable id for explanations and audit: "datasets[0].access[1]". */
  id: string;
  groups: string[];
  approval: ApprovalMode;
  approvers: string[];
  minApprovals: number;
  /** Milliseconds. */
  maxDurationMs: number;
  reasonRequired: boolean;
}

export interface DatasetRule {
  id: string;
  /** "project.dataset", glob allowed ("demo.*"). */
  match: string;
  access: AccessRule[];
}

export interface ColumnMaskRule {
  id: string;
  /** "project.dataset.table.column" as written, four parts, `*` glob per part ("*.*.*.email"). */
  match: string;
  style: MaskStyle;
  inference: "deny" | "allow";
}

export interface Policy {
  version: 1;
  groupsClaim: string;
  admins: string[];
  auditors: string[];
  datasets: DatasetRule[];
  masking: { columns: ColumnMaskRule[]; detectors: DetectorName[] };
  guardrails: { deny: GuardrailKind[]; maxBytesProcessed: number | null; maxRows: number };
  requests: { pendingTtlMs: number; perQueryTtlMs: number };
}

/** A caller as the broker knows them: from the verified token only. */
export interface Principal {
  subject: string;
  username: string;
  email?: string;
  groups: string[];
}

/** The outcome of evaluating one person against one dataset. */
export interface AccessDecision {
  dataset: string;
  outcome: "auto" | "approval_required" | "per_query" | "denied";
  /** The rule that produced the outcome (absent when nothing matched). */
  rule?: AccessRule;
  datasetRuleId?: string;
  reasons: string[];
  /** Ids of every access rule that applied to this person and dataset, the deciding one first. */
  matched?: string[];
}
