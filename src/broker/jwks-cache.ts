/**
 * The identity provider's signing keys, cached so that an IdP outage does not become a broker outage: tokens signed
 * by a cached key keep verifying (until they expire) while the IdP is down; a token with an unknown `kid` triggers
 * one refresh, at most once per cooldown; stale keys are refreshed in the background, never on a request's path.
 * jose's createRemoteJWKSet reloads on the request path and fails the request once its cache is stale and the IdP
 * is down, hence this.
 */
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from "jose";
import { JitError } from "../errors.ts";

export interface JwksCacheOptions {
  /** Where the keys are (discovered lazily; a failure is retried on the next fetch). */
  uri(): Promise<URL>;
  /** At most one fetch per this many ms for unknown kids and retries (default 30 s). */
  cooldownMs?: number;
  /** Keys older than this are refreshed in the background (default 5 min). */
  maxAgeMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/** What readiness and metrics see of the keys. */
export interface IdentityStatus {
  /** "starting": no keys yet; "ok": keys fresh from the IdP; "degraded": serving cached keys, the last refresh failed. */
  state: "starting" | "ok" | "degraded";
  keys: number;
  fetchedAt: number | null;
  lastError: string | null;
  fetches: number;
}

export interface JwksCache {
  /** jose's key lookup for jwtVerify. */
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Awaited<ReturnType<ReturnType<typeof createLocalJWKSet>>>>;
  status(): IdentityStatus;
  /** Starts a refresh when one is due, or when the last attempt is older than `intervalMs` (readiness notices an outage); never throws. */
  poke(intervalMs?: number): void;
  /** Changes whenever the key set does (a rotation, a key withdrawn): what was verified with the old set is verified again. */
  generation(): number;
}

const unreachable = (message: string, cause?: unknown) => new JitError("unreachable", message, { hint: "retry in a moment; the broker's operators must check its identity provider", cause });

/** Builds the cache; nothing is fetched until the first lookup or poke(). */
export function createJwksCache(opts: JwksCacheOptions): JwksCache {
  const now = opts.now ?? Date.now;
  const cooldownMs = opts.cooldownMs ?? 30_000;
  const maxAgeMs = opts.maxAgeMs ?? 5 * 60_000;
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let keyCount = 0;
  let fetchedAt: number | null = null;
  let lastAttempt = -Infinity;
  let lastError: string | null = null;
  let fetches = 0;
  let inflight: Promise<void> | undefined;
  let keysText = "";
  let generation = 0;

  const fetchKeys = async () => {
    lastAttempt = now();
    fetches++;
    try {
      const uri = await opts.uri();
      const res = await fetch(uri, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5000), redirect: "error", headers: { accept: "application/json" } });
      if (!res.ok) throw new Error(`HTTP ${res.status} from ${uri.origin}${uri.pathname}`);
      const body = (await res.json()) as JSONWebKeySet;
      if (!body || !Array.isArray(body.keys)) throw new Error("the key set has no keys array");
      const text = JSON.stringify(body.keys);
      if (text !== keysText) (keysText = text), generation++;
      local = createLocalJWKSet(body);
      keyCount = body.keys.length;
      fetchedAt = now();
      lastError = null;
    } catch (err) {
      lastError = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
      throw err;
    }
  };
  /** One fetch at a time; callers share it. */
  const refresh = (): Promise<void> => {
    inflight ??= fetchKeys().finally(() => { inflight = undefined; });
    return inflight;
  };
  const due = () => now() - lastAttempt >= cooldownMs && (fetchedAt === null || lastError !== null || now() - fetchedAt >= maxAgeMs);

  return {
    async getKey(header, token) {
      if (!local) {
        // No keys yet (start-up, or the IdP was down then): retried at most once a second, not once per request.
        if (lastError !== null && now() - lastAttempt < 1000) throw unreachable(`cannot read the identity provider's signing keys (${lastError})`);
        try {
          await refresh();
        } catch (err) {
          throw err instanceof JitError ? err : unreachable("cannot read the identity provider's signing keys", err);
        }
      } else if (due()) {
        void refresh().catch(() => {}); // stale: refreshed beside this request, which the cached keys answer
      }
      try {
        return await local!(header, token);
      } catch (err) {
        // A new kid (the IdP rotated its keys): one refresh, rate-limited so a flood of forged kids cannot hammer the IdP.
        if (!(err instanceof errors.JWKSNoMatchingKey) || now() - lastAttempt < cooldownMs) throw err;
        try {
          await refresh();
        } catch {
          throw err;
        }
        return local!(header, token);
      }
    },
    status() {
      const state = local === undefined ? "starting" : lastError !== null ? "degraded" : "ok";
      return { state, keys: keyCount, fetchedAt, lastError, fetches };
    },
    poke(intervalMs = 60_000) {
      if (due() || now() - lastAttempt >= Math.max(intervalMs, cooldownMs)) void refresh().catch(() => {});
    },
    generation: () => generation,
  };
}
