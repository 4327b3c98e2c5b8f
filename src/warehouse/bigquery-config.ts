/** The BigQuery warehouse's configuration and its validation (every problem reported at once). */
import { readFileSync } from "node:fs";
import { isLoopbackHost } from "../net/loopback.ts";

export interface BigQueryConfig {
  /** Project whose datasets jit lists and describes. */
  projectId: string;
  /** Project that runs (and pays for) the query jobs; defaults to projectId. */
  billingProject?: string;
  /** Job location, e.g. "US", "EU", "europe-west1". */
  location?: string;
  /** Service account (or other credentials) JSON file; Application Default Credentials when absent. */
  keyFile?: string;
  /** BigQuery endpoint, e.g. a private service connect address; https unless loopback. */
  apiEndpoint?: string;
  /** IAM Credentials endpoint used for impersonation (default https://iamcredentials.googleapis.com). */
  iamEndpoint?: string;
  /** Group → service account email to impersonate for that group's queries; "default" for everyone else. */
  impersonate?: Record<string, string>;
  /** Bound on one query, results included; the job is cancelled past it (default 5 minutes). */
  queryTimeoutMs?: number;
  /** Test hook: a google-auth-library AuthClient used instead of ADC or keyFile. */
  authClient?: unknown;
  /** Test hook: first retry delay in milliseconds (default 250). */
  retryBaseDelayMs?: number;
}

export interface ConfigIssue {
  path: string;
  message: string;
}

const KEYS = ["projectId", "billingProject", "location", "keyFile", "apiEndpoint", "iamEndpoint", "impersonate", "queryTimeoutMs"];
// Google's project id rule (6-30 chars), optionally domain-scoped ("example.com:project").
const PROJECT_ID = /^(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const SERVICE_ACCOUNT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9][a-z0-9.:-]*\.iam\.gserviceaccount\.com$/;
const LOCATION = /^[A-Za-z][A-Za-z0-9-]{0,62}$/;
const CREDENTIAL_TYPES = new Set(["service_account", "authorized_user", "external_account", "impersonated_service_account", "external_account_authorized_user"]);
const MAX_TIMEOUT_MS = 6 * 3600_000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function checkEndpoint(value: unknown, path: string, issues: ConfigIssue[]): void {
  let url: URL | undefined;
  try {
    url = typeof value === "string" ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
    issues.push({ path, message: "must be an http(s) URL" });
  } else if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    // The bearer token would travel in clear text.
    issues.push({ path, message: "must use https (plain http is allowed only on loopback)" });
  }
}

function checkKeyFile(value: unknown, path: string, issues: ConfigIssue[]): void {
  if (typeof value !== "string" || value === "") {
    issues.push({ path, message: "must be a file path" });
    return;
  }
  let text: string;
  try {
    text = readFileSync(value, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    issues.push({ path, message: `cannot read key file ${value} (${code})` });
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  // Never echo the content: it holds a private key.
  if (!isRecord(parsed) || typeof parsed.type !== "string" || !CREDENTIAL_TYPES.has(parsed.type)) {
    issues.push({ path, message: `key file ${value} is not a Google credentials JSON file` });
  }
}

function checkImpersonate(value: unknown, path: string, issues: ConfigIssue[]): void {
  if (!isRecord(value)) {
    issues.push({ path, message: 'must map groups (and "default") to service account emails' });
    return;
  }
  for (const [group, email] of Object.entries(value)) {
    if (group.trim() === "") issues.push({ path, message: "group names must not be empty" });
    if (typeof email !== "string" || !SERVICE_ACCOUNT.test(email)) {
      issues.push({ path: `${path}.${group}`, message: "must be a service account email (name@project.iam.gserviceaccount.com)" });
    }
  }
}

/** Validates a raw `bigquery` config section; `config` is set only when there is no issue. */
export function validateBigQueryConfig(raw: unknown, path: string): { config?: BigQueryConfig; errors: ConfigIssue[] } {
  const errors: ConfigIssue[] = [];
  if (!isRecord(raw)) return { errors: [{ path, message: "must be an object with at least projectId" }] };
  const at = (key: string): string => `${path}.${key}`;
  for (const key of Object.keys(raw)) if (!KEYS.includes(key)) errors.push({ path: at(key), message: `unknown key (expected one of ${KEYS.join(", ")})` });

  if (raw.projectId === undefined) errors.push({ path: at("projectId"), message: "is required" });
  else if (typeof raw.projectId !== "string" || !PROJECT_ID.test(raw.projectId)) errors.push({ path: at("projectId"), message: "must be a Google Cloud project id" });
  if (raw.billingProject !== undefined && (typeof raw.billingProject !== "string" || !PROJECT_ID.test(raw.billingProject))) {
    errors.push({ path: at("billingProject"), message: "must be a Google Cloud project id" });
  }
  if (raw.location !== undefined && (typeof raw.location !== "string" || !LOCATION.test(raw.location))) {
    errors.push({ path: at("location"), message: 'must be a BigQuery location such as "US" or "europe-west1"' });
  }
  if (raw.keyFile !== undefined) checkKeyFile(raw.keyFile, at("keyFile"), errors);
  if (raw.apiEndpoint !== undefined) checkEndpoint(raw.apiEndpoint, at("apiEndpoint"), errors);
  if (raw.iamEndpoint !== undefined) checkEndpoint(raw.iamEndpoint, at("iamEndpoint"), errors);
  if (raw.impersonate !== undefined) checkImpersonate(raw.impersonate, at("impersonate"), errors);
  const t = raw.queryTimeoutMs;
  if (t !== undefined && (typeof t !== "number" || !Number.isInteger(t) || t < 1000 || t > MAX_TIMEOUT_MS)) {
    errors.push({ path: at("queryTimeoutMs"), message: `must be an integer between 1000 and ${MAX_TIMEOUT_MS}` });
  }
  return errors.length > 0 ? { errors } : { config: raw as unknown as BigQueryConfig, errors };
}
