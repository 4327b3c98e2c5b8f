import { createHash } from "node:crypto";
import { errors, jwtVerify } from "jose";
import type { JWTPayload } from "jose";
import { JitError } from "../errors.ts";
import { createJwksCache, type IdentityStatus } from "./jwks-cache.ts";
import { formatDuration } from "../policy/duration.ts";
import type { Principal } from "../policy/types.ts";
import { Lru } from "../warehouse/lru.ts";

export interface TokenVerifierOptions {
  issuer: string;
  /** The id_token's expected aud: the CLI's client id unless broker.yaml names another audience. */
  audience: string;
  /** The CLI's client id, which must be the token's azp when it names one (default: `audience`). */
  clientId?: string;
  /** Found through the issuer's discovery document when absent. */
  jwksUri?: string;
  /** The claim holding the caller's groups (policy `groups_claim`). */
  groupsClaim: string;
  /** Epoch ms; tests freeze the clock with it. */
  now?: () => number;
  clockToleranceSeconds?: number;
  /** Longest lifetime (exp - iat) accepted, in seconds (broker.yaml `identity.max_token_age`, default 24 h). */
  maxTokenAgeSeconds?: number;
  /** The key cache's timing (tests shorten it): refresh cooldown and the age past which keys are refreshed. */
  jwksCooldownMs?: number;
  jwksMaxAgeMs?: number;
}

/** The bearer-token check, with the state of the identity provider's keys for readiness. */
export interface TokenVerifier {
  (token: string): Promise<Principal>;
  status(): IdentityStatus;
  /** Fetches the keys when due (start-up, a readiness probe); never throws. */
  poke(intervalMs?: number): void;
  /** Tokens whose signature and claims were checked, and requests answered from a token verified before. */
  stats(): { checked: number; remembered: number };
}

/** Asymmetric only: accepting HS* would let a token "signed" with the published public key pass (algorithm confusion). */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
const HINT = "run: jit login";
const DISCOVERY_TIMEOUT_MS = 5000;
/** The default `identity.max_token_age`: no id_token a person signs in with should outlive a working day by much. */
export const DEFAULT_MAX_TOKEN_AGE_S = 24 * 3600;
/** RFC 9068 access tokens: an id_token is expected, and an access token for some API must not pass as one. */
const ACCESS_TOKEN_TYPES = new Set(["at+jwt", "application/at+jwt"]);
/** Verified tokens remembered at once (a person's CLI, MCP server and console each send the same one for its lifetime). */
const VERIFIED_MAX = 10_000;

const unauthenticated = (message: string, cause?: unknown) => new JitError("unauthenticated", message, { hint: HINT, cause });

async function discoverJwksUri(issuer: string): Promise<URL> {
  const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS), redirect: "error" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = (await res.json()) as typeof doc;
  } catch (cause) {
    throw new JitError("unreachable", `cannot read the identity provider's discovery document at ${url}`, { cause });
  }
  // Fail closed: a document that names another issuer could hand us someone else's keys.
  if (doc.issuer !== issuer || typeof doc.jwks_uri !== "string") {
    throw new JitError("unreachable", `the discovery document at ${url} does not describe issuer ${issuer}`);
  }
  return new URL(doc.jwks_uri);
}

/** Maps jose's failures to the reason a person can act on. */
function toJitError(err: unknown): JitError {
  if (err instanceof JitError) return err;
  if (err instanceof errors.JWTExpired) return unauthenticated("the token has expired", err);
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "iss": return unauthenticated("the token was issued by another identity provider", err);
      case "aud": return unauthenticated("the token was issued for another audience", err);
      case "nbf": return unauthenticated("the token is not valid yet", err);
      default: return unauthenticated(`the token's ${err.claim} claim is invalid`, err);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthenticated("the token's signature is invalid", err);
  if (err instanceof errors.JWKSNoMatchingKey) return unauthenticated("the token was signed by a key the identity provider does not publish", err);
  if (err instanceof errors.JOSEAlgNotAllowed) return unauthenticated("the token uses a signing algorithm that is not allowed", err);
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err instanceof TypeError
    || (err instanceof errors.JOSEError && err.code === "ERR_JOSE_GENERIC")) {
    return new JitError("unreachable", "cannot read the identity provider's signing keys", { cause: err });
  }
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid || err instanceof errors.JOSENotSupported) {
    return unauthenticated("the token is malformed", err);
  }
  return unauthenticated("the token could not be verified", err);
}

/**
 * The checks jose leaves to the caller (OIDC Core 3.1.3.7, RFC 9068 section 4): who the token was issued to when it
 * names several audiences, what kind of token it is, and when it says it was issued. `nowS` and `skewS` in seconds.
 */
function checkIdTokenClaims(payload: JWTPayload, typ: unknown, opts: { clientId: string; nowS: number; skewS: number; maxAgeS: number }): void {
  if (typeof typ === "string" && ACCESS_TOKEN_TYPES.has(typ.toLowerCase())) {
    throw unauthenticated("the token is an access token (typ at+jwt), not the id_token jit signs in with");
  }
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  // An id_token for several audiences was obtained by one of them (azp); only one obtained by jit's client may sign in here.
  if (payload.azp !== undefined && payload.azp !== opts.clientId) throw unauthenticated("the token was obtained by another client (azp)");
  if (audiences.length > 1 && payload.azp === undefined) throw unauthenticated("the token names several audiences but not which client obtained it (azp)");
  const iat = payload.iat;
  if (typeof iat !== "number") throw unauthenticated("the token has no issue time (iat)");
  if (iat > opts.nowS + opts.skewS) throw unauthenticated("the token claims to be issued in the future (iat); check the clocks of the broker and the identity provider");
  if (typeof payload.exp === "number" && payload.exp - iat > opts.maxAgeS) {
    throw unauthenticated(`the token lives longer than the broker accepts (${formatDuration((payload.exp - iat) * 1000)}, at most ${formatDuration(opts.maxAgeS * 1000)})`);
  }
}

function toPrincipal(payload: JWTPayload, groupsClaim: string): Principal {
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const subject = str(payload.sub);
  if (!subject) throw unauthenticated("the token has no subject");
  const email = str(payload.email);
  const raw = payload[groupsClaim];
  // A malformed groups claim grants nothing rather than failing the whole request.
  const groups = Array.isArray(raw) && raw.every((g) => typeof g === "string") ? [...raw] : [];
  return { subject, username: str(payload.preferred_username) ?? email ?? subject, ...(email ? { email } : {}), groups };
}

/** Builds the broker's bearer-token check: a verified id_token from the configured issuer becomes a Principal. */
export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  let uri: Promise<URL> | undefined;
  const jwksUri = () => {
    if (!uri) {
      const pending = opts.jwksUri ? Promise.resolve(new URL(opts.jwksUri)) : discoverJwksUri(opts.issuer);
      // A failed discovery is retried on the next fetch instead of being cached.
      pending.catch(() => { if (uri === pending) uri = undefined; });
      uri = pending;
    }
    return uri;
  };
  const cache = createJwksCache({ uri: jwksUri, cooldownMs: opts.jwksCooldownMs, maxAgeMs: opts.jwksMaxAgeMs });

  // A token verified once is the same token on its next request: its signature and claims cannot change, so it is
  // remembered by its SHA-256 (never the token itself) until it expires exactly as jose would expire it, and only for
  // the key set it was verified with. Only successes are kept: a refused token is checked afresh every time.
  const verified = new Lru<string, { principal: Principal; expS: number; generation: number }>(VERIFIED_MAX);
  const copy = (p: Principal): Principal => ({ ...p, groups: [...p.groups] });
  const counts = { checked: 0, remembered: 0 };

  const verify = async (token: string): Promise<Principal> => {
    if (typeof token !== "string" || token.split(".").length !== 3) throw unauthenticated("the token is malformed");
    const skewS = opts.clockToleranceSeconds ?? 30;
    const nowMs = opts.now ? opts.now() : Date.now();
    const key = createHash("sha256").update(token).digest("base64url");
    const known = verified.get(key);
    if (known) {
      if (known.generation === cache.generation() && nowMs / 1000 - skewS < known.expS) {
        counts.remembered++;
        // Stale keys are still refreshed beside the requests they answer (a withdrawn key then ends this entry).
        cache.poke(Infinity);
        return copy(known.principal);
      }
      verified.delete(key);
    }
    const generation = cache.generation();
    counts.checked++;
    try {
      const { payload, protectedHeader } = await jwtVerify(token, cache.getKey, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ["exp", "sub", "iat"],
        clockTolerance: skewS,
        currentDate: new Date(nowMs),
      });
      checkIdTokenClaims(payload, protectedHeader.typ, {
        clientId: opts.clientId ?? opts.audience, nowS: nowMs / 1000, skewS, maxAgeS: opts.maxTokenAgeSeconds ?? DEFAULT_MAX_TOKEN_AGE_S,
      });
      const principal = toPrincipal(payload, opts.groupsClaim);
      // Kept only when the key set did not change while it was checked (a rotation, or the very first fetch, costs one
      // more check), so an entry always names the set that verified it.
      if (generation === cache.generation()) verified.set(key, { principal: copy(principal), expS: payload.exp!, generation });
      return principal;
    } catch (err) {
      throw toJitError(err);
    }
  };
  return Object.assign(verify, {
    status: () => cache.status(), poke: (intervalMs?: number) => cache.poke(intervalMs), stats: () => ({ ...counts }),
  });
}
