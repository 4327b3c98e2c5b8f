/** The `notify` section of broker.yaml: webhook targets, which events each gets, timeout and retries. */
import { isLoopbackHost } from "../net/loopback.ts";
import { tryParseDuration } from "../policy/duration.ts";
import { didYouMean } from "../policy/issues.ts";

export const NOTIFY_KINDS = ["pending", "approved", "denied", "expired", "revoked", "cancelled"] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

export interface NotifyConfig {
  webhooks: Array<{ url: string; events?: NotifyKind[] }>;
  /** Per try; default 5000. */
  timeoutMs?: number;
  /** Tries after the first one; default 2 (three tries in all). */
  retries?: number;
}

export interface NotifyIssue {
  path: string;
  message: string;
}

const SECTION_KEYS = ["webhooks", "timeout", "timeout_ms", "timeoutMs", "retries"];
const WEBHOOK_KEYS = ["url", "url_env", "events"];
const MAX_TIMEOUT_MS = 60_000;
const MAX_RETRIES = 10;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The part of a webhook URL that may be logged: its origin. A Slack webhook URL's path is its secret
 * (anyone holding it can post), so neither the path, the query nor userinfo ever reaches a log line.
 */
export function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

function checkUrl(value: string, path: string, issues: NotifyIssue[]): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    // Never echo the value: it may be a secret with a typo in it.
    return void issues.push({ path, message: "is not a valid URL" });
  }
  if (u.protocol === "https:") return value;
  if (u.protocol === "http:" && isLoopbackHost(u.hostname)) return value;
  const why = u.protocol === "http:" ? `plain http to ${u.origin} would send the event in clear text` : `${u.protocol} is not a web URL`;
  return void issues.push({ path, message: `must use https (${why}; plain http is allowed only on loopback)` });
}

function checkEvents(raw: unknown, path: string, issues: NotifyIssue[]): NotifyKind[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    return void issues.push({ path, message: `must be a non-empty list of ${NOTIFY_KINDS.join(", ")}` });
  }
  const out: NotifyKind[] = [];
  raw.forEach((e, i) => {
    if (typeof e === "string" && (NOTIFY_KINDS as readonly string[]).includes(e)) {
      if (!out.includes(e as NotifyKind)) out.push(e as NotifyKind);
    } else {
      const hint = typeof e === "string" ? didYouMean(e, NOTIFY_KINDS) : "";
      issues.push({ path: `${path}[${i}]`, message: `must be one of ${NOTIFY_KINDS.join(", ")}${hint}` });
    }
  });
  return out;
}

function checkWebhook(raw: unknown, path: string, env: NodeJS.ProcessEnv, issues: NotifyIssue[]): NotifyConfig["webhooks"][number] | undefined {
  if (typeof raw === "string") raw = { url: raw };
  if (!isRecord(raw)) return void issues.push({ path, message: "must be a URL or a mapping with url (or url_env) and optional events" });
  for (const k of Object.keys(raw)) {
    if (!WEBHOOK_KEYS.includes(k)) issues.push({ path: `${path}.${k}`, message: `unknown key${didYouMean(k, WEBHOOK_KEYS)} (expected one of ${WEBHOOK_KEYS.join(", ")})` });
  }
  let url: string | undefined;
  if (raw.url !== undefined && raw.url_env !== undefined) issues.push({ path, message: "name the URL once: url or url_env" });
  else if (typeof raw.url_env === "string" && raw.url_env !== "") {
    // The webhook URL is a credential; url_env keeps it out of a config file that may live in git.
    const v = env[raw.url_env];
    if (!v) issues.push({ path: `${path}.url_env`, message: `names an environment variable (${raw.url_env}) that is not set` });
    else url = checkUrl(v, `${path}.url_env`, issues);
  } else if (typeof raw.url === "string" && raw.url !== "") url = checkUrl(raw.url, `${path}.url`, issues);
  else issues.push({ path: `${path}.url`, message: "is required: the webhook URL (or url_env: the environment variable holding it)" });
  const events = raw.events === undefined ? undefined : checkEvents(raw.events, `${path}.events`, issues);
  if (!url) return undefined;
  return events ? { url, events } : { url };
}

function checkTimeout(raw: Record<string, unknown>, path: string, issues: NotifyIssue[]): number | undefined {
  const given = ["timeout", "timeout_ms", "timeoutMs"].filter((k) => raw[k] !== undefined);
  if (given.length > 1) return void issues.push({ path: `${path}.timeout`, message: `give one of ${given.join(", ")}` });
  const key = given[0];
  if (!key) return undefined;
  const v = raw[key];
  const ms = key === "timeout" ? (typeof v === "string" ? tryParseDuration(v) : undefined) : typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;
  if (ms === undefined || ms > MAX_TIMEOUT_MS) {
    const want = key === "timeout" ? 'a duration such as "5s"' : "a whole number of milliseconds";
    return void issues.push({ path: `${path}.${key}`, message: `must be ${want}, at most ${MAX_TIMEOUT_MS / 1000}s` });
  }
  return ms;
}

/** Validates the `notify` section (absent is fine: no notifications); every problem is reported at once. */
export function validateNotifyConfig(raw: unknown, path: string, env: NodeJS.ProcessEnv = process.env): { config?: NotifyConfig; errors: NotifyIssue[] } {
  if (raw === undefined || raw === null) return { errors: [] };
  const issues: NotifyIssue[] = [];
  if (!isRecord(raw)) return { errors: [{ path, message: "must be a mapping with webhooks: [{url, events}]" }] };
  for (const k of Object.keys(raw)) {
    if (!SECTION_KEYS.includes(k)) issues.push({ path: `${path}.${k}`, message: `unknown key${didYouMean(k, SECTION_KEYS)} (expected one of webhooks, timeout, retries)` });
  }
  const webhooks: NotifyConfig["webhooks"] = [];
  if (!Array.isArray(raw.webhooks) || raw.webhooks.length === 0) {
    issues.push({ path: `${path}.webhooks`, message: "must be a non-empty list of webhooks, e.g. [{url_env: SLACK_WEBHOOK_URL}]" });
  } else {
    raw.webhooks.forEach((w, i) => {
      const hook = checkWebhook(w, `${path}.webhooks[${i}]`, env, issues);
      if (hook) webhooks.push(hook);
    });
  }
  const timeoutMs = checkTimeout(raw, path, issues);
  let retries: number | undefined;
  if (raw.retries !== undefined) {
    const r = raw.retries;
    if (typeof r !== "number" || !Number.isInteger(r) || r < 0 || r > MAX_RETRIES) issues.push({ path: `${path}.retries`, message: `must be a whole number from 0 to ${MAX_RETRIES}` });
    else retries = r;
  }
  if (issues.length > 0) return { errors: issues };
  const config: NotifyConfig = { webhooks };
  if (timeoutMs !== undefined) config.timeoutMs = timeoutMs;
  if (retries !== undefined) config.retries = retries;
  return { config, errors: [] };
}
