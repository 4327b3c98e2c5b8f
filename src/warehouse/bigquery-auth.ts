/** BigQuery clients: the broker's own credential (ADC, key file, workload identity) and per-group impersonation. */
import type { BigQuery } from "@google-cloud/bigquery";
import type { BigQueryConfig } from "./bigquery-config.ts";
import type { RestClient } from "./bigquery-rest.ts";
import { WarehouseQueryError } from "./types.ts";

const SCOPE = "https://www.googleapis.com/auth/bigquery";
const DEFAULT_ENDPOINT = "https://bigquery.googleapis.com";
/** Bound on one HTTP exchange; long polls ask BigQuery for 10 s. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** IAM's default ceiling for an impersonated access token. */
const MAX_TOKEN_LIFETIME_S = 3600;
const MAX_CACHED_CLIENTS = 256;

export interface Clients {
  /** Calls with the broker's own credential. */
  base: RestClient;
  /** A client acting as `serviceAccount` whose tokens never outlive `grantExpiresAt` (cached per grant). */
  impersonating(serviceAccount: string, grantExpiresAt: number | undefined): Promise<RestClient>;
}

/** The service account a principal's queries run as: the first configured group it belongs to, else "default". */
export function impersonationTarget(impersonate: Record<string, string>, groups: readonly string[]): string | undefined {
  for (const [group, email] of Object.entries(impersonate)) if (group !== "default" && groups.includes(group)) return email;
  return impersonate.default;
}

/** Token lifetime in seconds: at most an hour and never beyond the grant's end. */
export function tokenLifetime(grantExpiresAt: number | undefined, now: number): number {
  if (grantExpiresAt === undefined) return MAX_TOKEN_LIFETIME_S;
  const remaining = Math.floor((grantExpiresAt - now) / 1000);
  if (remaining < 1) throw new WarehouseQueryError("The grant has expired; no credential is issued for it", { reason: "brokerRefused" });
  return Math.min(MAX_TOKEN_LIFETIME_S, remaining);
}

/** Builds the clients (nothing is fetched yet: credentials load on the first call). */
export async function createClients(cfg: BigQueryConfig): Promise<Clients> {
  const { BigQuery } = await import("@google-cloud/bigquery");
  const endpoint = (cfg.apiEndpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
  const make = (authClient: unknown): BigQuery => {
    const credential = authClient ? { authClient: authClient as never } : cfg.keyFile ? { keyFilename: cfg.keyFile } : {};
    const options = {
      projectId: cfg.billingProject ?? cfg.projectId,
      apiEndpoint: endpoint,
      location: cfg.location,
      timeout: REQUEST_TIMEOUT_MS, // read by @google-cloud/common's Service, absent from BigQueryOptions' type
      retryOptions: { autoRetry: false, maxRetries: 0 }, // jit retries itself, only what is idempotent
      ...credential,
    };
    const bq = new BigQuery(options);
    // BIGQUERY_EMULATOR_HOST would otherwise send every call, bearer token included, elsewhere.
    (bq as unknown as { baseUrl: string }).baseUrl = `${endpoint}/bigquery/v2`;
    return bq;
  };
  const base = make(cfg.authClient);
  // One client per (service account, grant end): tokens are reused within a grant, never across grants.
  const cache = new Map<string, Promise<RestClient>>();
  const build = async (serviceAccount: string, grantExpiresAt: number | undefined): Promise<RestClient> => {
    let sourceClient: unknown;
    try {
      sourceClient = await base.authClient.getClient();
    } catch (err) {
      throw new WarehouseQueryError(`The broker's Google credential could not be loaded: ${err instanceof Error ? err.message : String(err)}`, { reason: "internal" });
    }
    const { Impersonated } = await import("google-auth-library");
    // Each refresh asks for what is left of the grant (and fails once it has ended), not a fixed lifetime.
    class GrantBound extends Impersonated {
      protected override async refreshToken() {
        (this as unknown as { lifetime: number }).lifetime = tokenLifetime(grantExpiresAt, Date.now());
        return super.refreshToken();
      }
    }
    const impersonated = new GrantBound({
      sourceClient: sourceClient as never,
      targetPrincipal: serviceAccount,
      targetScopes: [SCOPE],
      delegates: [],
      lifetime: tokenLifetime(grantExpiresAt, Date.now()),
      // The default (5 min) would mint a new token on every call once a grant has less than that left.
      eagerRefreshThresholdMillis: 10_000,
      ...(cfg.iamEndpoint ? { endpoint: cfg.iamEndpoint.replace(/\/+$/, "") } : {}),
    });
    return make(impersonated) as unknown as RestClient;
  };
  return {
    base: base as unknown as RestClient,
    impersonating(serviceAccount, grantExpiresAt) {
      tokenLifetime(grantExpiresAt, Date.now()); // refuse an ended grant before anything else
      const now = Date.now();
      for (const key of cache.keys()) if (Number(key.split("|")[1]) < now) cache.delete(key);
      const key = `${serviceAccount}|${grantExpiresAt ?? Infinity}`;
      let client = cache.get(key);
      if (!client) {
        client = build(serviceAccount, grantExpiresAt);
        client.catch(() => cache.delete(key));
        cache.set(key, client);
        if (cache.size > MAX_CACHED_CLIENTS) cache.delete(cache.keys().next().value!);
      }
      return client;
    },
  };
}
