import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import type { JWTPayload } from "jose";
import { JitError } from "../errors.ts";
import type { Principal } from "../policy/types.ts";

export interface TokenVerifierOptions {
  issuer: string;
  /** The CLI's client id: the id_token's aud. */
  audience: string;
  /** Found through the issuer's discovery document when absent. */
  jwksUri?: string;
  /** The claim holding the caller's groups (policy `groups_claim`). */
  groupsClaim: string;
  /** Epoch ms; tests freeze the clock with it. */
  now?: () => number;
  clockToleranceSeconds?: number;
}

/** Asymmetric only: accepting HS* would let a token "signed" with the published public key pass (algorithm confusion). */
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
const HINT = "run: jit login";
const DISCOVERY_TIMEOUT_MS = 5000;

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
export function createTokenVerifier(opts: TokenVerifierOptions): (token: string) => Promise<Principal> {
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const keys = () => {
    if (!jwks) {
      const pending = (opts.jwksUri ? Promise.resolve(new URL(opts.jwksUri)) : discoverJwksUri(opts.issuer)).then((uri) => createRemoteJWKSet(uri));
      // A failed discovery is retried on the next request instead of being cached.
      pending.catch(() => { if (jwks === pending) jwks = undefined; });
      jwks = pending;
    }
    return jwks;
  };

  return async (token) => {
    if (typeof token !== "string" || token.split(".").length !== 3) throw unauthenticated("the token is malformed");
    try {
      const { payload } = await jwtVerify(token, await keys(), {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ["exp", "sub"],
        clockTolerance: opts.clockToleranceSeconds ?? 30,
        ...(opts.now ? { currentDate: new Date(opts.now()) } : {}),
      });
      return toPrincipal(payload, opts.groupsClaim);
    } catch (err) {
      throw toJitError(err);
    }
  };
}
