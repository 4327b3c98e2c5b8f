/** broker.yaml: the production broker's configuration, validated at start with every problem reported at once. */
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { JitError } from "../errors.ts";
import { isLoopbackHost } from "../net/loopback.ts";
import { tryParseDuration } from "../policy/duration.ts";
import { DEFAULT_MAX_IN_FLIGHT } from "./in-flight.ts";
import type { BigQueryConfig } from "../warehouse/bigquery-config.ts";

export interface BrokerConfig {
  file: string;
  listen: { host: string; port: number };
  publicUrl?: string;
  tls?: { certFile: string; keyFile: string };
  /** maxTokenAgeS: the longest id_token lifetime (exp - iat) accepted, in seconds. */
  identity: { issuer: string; clientId: string; audience: string; scopes: string; jwksUri?: string; maxTokenAgeS: number; keysRefreshMs: number };
  policyFile: string;
  store: { kind: "sqlite"; path: string } | { kind: "postgres"; url: string; schema?: string };
  warehouse: { kind: "bigquery"; bigquery: BigQueryConfig } | { kind: "demo" };
  hashKeyFile: string;
  audit: { replayMaxRows: number };
  notify?: unknown;
  /** Requests in progress at once; more are answered 503 + Retry-After (default 64). */
  maxInFlight: number;
  /** How long SIGTERM waits for in-flight requests before cancelling them (default 30 s). */
  shutdownGraceMs: number;
  /** Where /metrics is served (default 127.0.0.1:9464); null when `metrics_listen: off`. */
  metricsListen: { host: string; port: number } | null;
}

export interface ConfigIssue {
  path: string;
  message: string;
}

const TOP_KEYS = ["listen", "public_url", "tls", "identity", "policy", "store", "warehouse", "masking", "audit", "notify", "max_in_flight", "shutdown_grace", "metrics_listen"];

/** The default `metrics_listen`: Prometheus's conventional exporter port, on loopback only. */
export const DEFAULT_METRICS_LISTEN = { host: "127.0.0.1", port: 9464 };
const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

/** Parses "host:port" (IPv6 in brackets). */
function hostPort(v: unknown): { host: string; port: number } | undefined {
  const m = typeof v === "string" ? /^(\[[0-9a-f:]+\]|[^:]+):(\d{1,5})$/i.exec(v) : null;
  if (!m || Number(m[2]) > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function unknownKeys(obj: Record<string, unknown>, allowed: string[], path: string, issues: ConfigIssue[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) issues.push({ path: path ? `${path}.${k}` : k, message: `unknown key (expected one of ${allowed.join(", ")})` });
  }
}

function httpsUrl(v: unknown, path: string, issues: ConfigIssue[]): string | undefined {
  if (typeof v !== "string") return void issues.push({ path, message: "must be a URL" });
  try {
    const u = new URL(v);
    if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopbackHost(u.hostname))) return void issues.push({ path, message: "must use https (plain http only on loopback)" });
    return v.replace(/\/+$/, "");
  } catch {
    return void issues.push({ path, message: `"${v}" is not a URL` });
  }
}

/** The longest id_token lifetime the broker accepts: 24 h unless `identity.max_token_age` says otherwise (at most 30 days). */
function maxTokenAge(v: unknown, issues: ConfigIssue[]): number | undefined {
  if (v === undefined) return 24 * 3600;
  const ms = typeof v === "string" ? tryParseDuration(v) : undefined;
  if (ms === undefined || ms < 60_000 || ms > 30 * 86_400_000) {
    return void issues.push({ path: "identity.max_token_age", message: "must be a duration from 1m to 30d, such as 12h (the default is 24h)" });
  }
  return Math.floor(ms / 1000);
}

/** Validates parsed broker.yaml; relative paths are resolved against the config file's directory. */
export async function validateBrokerConfig(raw: unknown, file: string): Promise<{ config?: BrokerConfig; errors: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  if (!isRecord(raw)) return { errors: [{ path: "", message: "the file must be a YAML mapping" }] };
  const base = dirname(resolve(file));
  const path = (p: unknown, at: string) => (typeof p === "string" && p !== "" ? (isAbsolute(p) ? p : resolve(base, p)) : void issues.push({ path: at, message: "must be a file path" }));
  unknownKeys(raw, TOP_KEYS, "", issues);

  let listen = { host: "127.0.0.1", port: 8787 };
  if (raw.listen !== undefined) {
    const hp = hostPort(raw.listen);
    if (!hp) issues.push({ path: "listen", message: 'must be "host:port", e.g. "0.0.0.0:8443"' });
    else listen = hp;
  }

  let maxInFlight = DEFAULT_MAX_IN_FLIGHT;
  if (raw.max_in_flight !== undefined) {
    const n = raw.max_in_flight;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 100_000) issues.push({ path: "max_in_flight", message: `must be a whole number from 1 to 100000 (requests in progress at once; the default is ${DEFAULT_MAX_IN_FLIGHT})` });
    else maxInFlight = n;
  }
  let shutdownGraceMs = DEFAULT_SHUTDOWN_GRACE_MS;
  if (raw.shutdown_grace !== undefined) {
    const ms = typeof raw.shutdown_grace === "string" ? tryParseDuration(raw.shutdown_grace) : raw.shutdown_grace === 0 ? 0 : undefined;
    if (ms === undefined || ms > 3_600_000) issues.push({ path: "shutdown_grace", message: "must be a duration up to 1h, such as 30s (how long SIGTERM lets in-flight queries finish; the default is 30s)" });
    else shutdownGraceMs = ms;
  }
  let metricsListen: BrokerConfig["metricsListen"] = DEFAULT_METRICS_LISTEN;
  if (raw.metrics_listen !== undefined) {
    if (raw.metrics_listen === "off" || raw.metrics_listen === false) metricsListen = null;
    else {
      const hp = hostPort(raw.metrics_listen);
      if (!hp) issues.push({ path: "metrics_listen", message: 'must be "host:port" (e.g. "127.0.0.1:9464", the default) or off' });
      else if (hp.host === listen.host && hp.port === listen.port && hp.port !== 0) issues.push({ path: "metrics_listen", message: "must differ from listen: /metrics is never served on the public listener" });
      else metricsListen = hp;
    }
  }
  const publicUrl = raw.public_url === undefined ? undefined : httpsUrl(raw.public_url, "public_url", issues);

  let tls: BrokerConfig["tls"];
  if (raw.tls !== undefined) {
    if (!isRecord(raw.tls)) issues.push({ path: "tls", message: "must have cert_file and key_file" });
    else {
      unknownKeys(raw.tls, ["cert_file", "key_file"], "tls", issues);
      const certFile = path(raw.tls.cert_file, "tls.cert_file");
      const keyFile = path(raw.tls.key_file, "tls.key_file");
      if (certFile && keyFile) tls = { certFile, keyFile };
    }
  } else if (!["127.0.0.1", "::1", "localhost"].includes(listen.host)) {
    issues.push({ path: "tls", message: "is required when listening beyond loopback (tokens must not cross the network in clear text); or listen on 127.0.0.1 behind a TLS proxy" });
  }

  let identity: BrokerConfig["identity"] | undefined;
  if (!isRecord(raw.identity)) issues.push({ path: "identity", message: "is required: issuer and client_id of your OIDC provider" });
  else {
    unknownKeys(raw.identity, ["issuer", "client_id", "audience", "scopes", "jwks_uri", "max_token_age", "keys_refresh"], "identity", issues);
    const issuer = httpsUrl(raw.identity.issuer, "identity.issuer", issues);
    const clientId = typeof raw.identity.client_id === "string" && raw.identity.client_id ? raw.identity.client_id : void issues.push({ path: "identity.client_id", message: "is required (the public client registered for jit)" });
    const jwksUri = raw.identity.jwks_uri === undefined ? undefined : httpsUrl(raw.identity.jwks_uri, "identity.jwks_uri", issues);
    const maxTokenAgeS = maxTokenAge(raw.identity.max_token_age, issues);
    // How often the IdP's signing keys are re-read (and an outage noticed); cached keys keep verifying meanwhile.
    let keysRefreshMs: number | undefined = 5 * 60_000;
    if (raw.identity.keys_refresh !== undefined) {
      keysRefreshMs = typeof raw.identity.keys_refresh === "string" ? tryParseDuration(raw.identity.keys_refresh) : undefined;
      if (keysRefreshMs === undefined || keysRefreshMs < 1000 || keysRefreshMs > 86_400_000) {
        issues.push({ path: "identity.keys_refresh", message: "must be a duration from 1s to 24h, such as 5m (the default)" });
        keysRefreshMs = undefined;
      }
    }
    if (issuer && clientId && maxTokenAgeS !== undefined && keysRefreshMs !== undefined) {
      identity = {
        issuer,
        clientId,
        audience: typeof raw.identity.audience === "string" ? raw.identity.audience : clientId,
        scopes: typeof raw.identity.scopes === "string" ? raw.identity.scopes : "openid profile email groups offline_access",
        jwksUri,
        maxTokenAgeS,
        keysRefreshMs,
      };
    }
  }

  const policyFile = raw.policy === undefined ? void issues.push({ path: "policy", message: "is required: the policy file's path" }) : path(raw.policy, "policy");

  let store: BrokerConfig["store"] | undefined;
  if (!isRecord(raw.store)) issues.push({ path: "store", message: "is required: { sqlite: PATH } or { postgres_env: VAR }" });
  else {
    unknownKeys(raw.store, ["sqlite", "postgres_env", "postgres_url_file", "schema"], "store", issues);
    const named = ["sqlite", "postgres_env", "postgres_url_file"].filter((k) => (raw.store as Record<string, unknown>)[k] !== undefined);
    if (named.length > 1) issues.push({ path: "store", message: `name one store: ${named.join(" or ")}` });
    if (raw.store.sqlite !== undefined) {
      const p = path(raw.store.sqlite, "store.sqlite");
      if (p) store = { kind: "sqlite", path: p };
    } else if (raw.store.postgres_env !== undefined || raw.store.postgres_url_file !== undefined) {
      // The URL carries a password, so the config names where it is: an environment variable, or a file (a
      // Docker or Kubernetes secret) that only the broker's user may read.
      let url: string | undefined;
      if (raw.store.postgres_env !== undefined) {
        const name = raw.store.postgres_env;
        url = typeof name === "string" ? process.env[name] : undefined;
        if (!url) issues.push({ path: "store.postgres_env", message: `names an environment variable (${String(name)}) that is not set` });
      } else {
        const file = path(raw.store.postgres_url_file, "store.postgres_url_file");
        if (file) {
          try {
            if ((statSync(file).mode & 0o077) !== 0) issues.push({ path: "store.postgres_url_file", message: `${file} is accessible by other users; chmod 600 ${file}` });
            else url = readFileSync(file, "utf8").trim() || void issues.push({ path: "store.postgres_url_file", message: `${file} is empty` });
          } catch (err) {
            issues.push({ path: "store.postgres_url_file", message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}` });
          }
        }
      }
      if (!url) { /* reported above */ }
      else if (raw.store.schema !== undefined && (typeof raw.store.schema !== "string" || !/^[a-z_][a-z0-9_]{0,62}$/.test(raw.store.schema))) {
        issues.push({ path: "store.schema", message: "must be a lower-case PostgreSQL schema name" });
      } else store = { kind: "postgres", url, schema: raw.store.schema as string | undefined };
    } else issues.push({ path: "store", message: "is required: { sqlite: PATH }, { postgres_env: VAR } or { postgres_url_file: PATH }" });
  }

  let warehouse: BrokerConfig["warehouse"] | undefined;
  if (!isRecord(raw.warehouse)) issues.push({ path: "warehouse", message: "is required: { bigquery: {...} }" });
  else {
    unknownKeys(raw.warehouse, ["bigquery", "demo"], "warehouse", issues);
    if (raw.warehouse.demo === true) warehouse = { kind: "demo" };
    else if (isRecord(raw.warehouse.bigquery)) {
      const { validateBigQueryConfig } = await import("../warehouse/bigquery-config.ts");
      const section = Object.fromEntries(Object.entries(raw.warehouse.bigquery).map(([k, v]) => [camel(k), v]));
      if (typeof section.queryTimeout === "string") {
        const ms = tryParseDuration(section.queryTimeout);
        if (ms === undefined) issues.push({ path: "warehouse.bigquery.query_timeout", message: "must be a duration such as 5m" });
        section.queryTimeoutMs = ms;
        delete section.queryTimeout;
      }
      if (typeof section.keyFile === "string") section.keyFile = path(section.keyFile, "warehouse.bigquery.key_file");
      const res = validateBigQueryConfig(section, "warehouse.bigquery");
      for (const e of res.errors) issues.push({ path: e.path.split(".").map(snake).join("."), message: e.message });
      if (res.config) warehouse = { kind: "bigquery", bigquery: res.config };
    } else issues.push({ path: "warehouse.bigquery", message: "is required: project_id, and optionally billing_project, location, key_file, impersonate" });
  }

  let hashKeyFile: string | undefined;
  if (!isRecord(raw.masking) || raw.masking.hash_key_file === undefined) issues.push({ path: "masking.hash_key_file", message: "is required: a file with at least 32 random bytes (hex), mode 0600, for the keyed hash mask" });
  else {
    unknownKeys(raw.masking, ["hash_key_file"], "masking", issues);
    hashKeyFile = path(raw.masking.hash_key_file, "masking.hash_key_file");
  }

  let replayMaxRows = 1000;
  if (raw.audit !== undefined) {
    if (!isRecord(raw.audit)) issues.push({ path: "audit", message: "must be a mapping" });
    else {
      unknownKeys(raw.audit, ["replay_max_rows"], "audit", issues);
      const n = raw.audit.replay_max_rows;
      if (n !== undefined && (typeof n !== "number" || !Number.isInteger(n) || n < 0)) issues.push({ path: "audit.replay_max_rows", message: "must be a whole number ≥ 0" });
      else if (typeof n === "number") replayMaxRows = n;
    }
  }

  if (raw.notify !== undefined) {
    const { validateNotifyConfig } = await import("../notify/webhook.ts");
    for (const e of validateNotifyConfig(raw.notify, "notify").errors) issues.push(e);
  }

  if (issues.length > 0 || !identity || !policyFile || !store || !warehouse || !hashKeyFile) return { errors: issues };
  return {
    config: { file, listen, publicUrl, tls, identity, policyFile, store, warehouse, hashKeyFile, audit: { replayMaxRows }, notify: raw.notify, maxInFlight, shutdownGraceMs, metricsListen },
    errors: [],
  };
}

/** Reads and validates broker.yaml; throws one usage error listing every problem. */
export async function loadBrokerConfig(file: string): Promise<BrokerConfig> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new JitError("usage", `cannot read broker config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new JitError("usage", `${file}: ${(err as Error).message.split("\n")[0]}`);
  }
  const { config, errors } = await validateBrokerConfig(raw, file);
  if (!config) {
    throw new JitError("usage", `invalid broker config ${file} (${errors.length} error${errors.length === 1 ? "" : "s"}):\n${errors.map((e) => `  ${e.path || "(top)"}: ${e.message}`).join("\n")}`, {
      details: { errors },
    });
  }
  return config;
}
