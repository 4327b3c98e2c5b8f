/** The signed-in session for one broker: read from the credential store, refreshed silently before it expires. */
import { JitError } from "../errors.ts";
import { isLoopbackHttp } from "../net/loopback.ts";
import type { CredentialStore } from "./credential-store.ts";
import type { TokenSet } from "./device-login.ts";

export interface StoredSession {
  version: 1;
  issuer: string;
  client_id: string;
  id_token: string;
  refresh_token?: string;
  /** Epoch seconds at which the id_token expires. */
  expires_at: number;
  username?: string;
}

/** Refresh this long before expiry, so a token never expires between the check and the broker's verification. */
const REFRESH_MARGIN_S = 60;

/** Builds the stored form of a fresh token set. */
export function sessionFromTokens(tokens: TokenSet, issuer: string, clientId: string, previous?: StoredSession): StoredSession {
  const payload = decodeJwtPayload(tokens.idToken);
  return {
    version: 1,
    issuer,
    client_id: clientId,
    id_token: tokens.idToken,
    refresh_token: tokens.refreshToken ?? previous?.refresh_token,
    expires_at: tokens.expiresAt,
    username: typeof payload.preferred_username === "string" ? payload.preferred_username : previous?.username,
  };
}

/** Decodes a JWT's payload without verifying it (for display only; the broker verifies). */
export function decodeJwtPayload(jwt: string): Record<string, unknown> {
  try {
    const part = jwt.split(".")[1] ?? "";
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function parseStored(raw: string, brokerUrl: string): StoredSession {
  const corrupt = () =>
    new JitError("unauthenticated", `the stored credentials for ${brokerUrl} are unreadable`, {
      hint: `run: jit logout --broker ${brokerUrl} && jit login --broker ${brokerUrl}`,
    });
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw corrupt();
  }
  const s = v as Partial<StoredSession>;
  if (!s || s.version !== 1 || typeof s.id_token !== "string" || typeof s.issuer !== "string" || typeof s.client_id !== "string" || typeof s.expires_at !== "number") {
    throw corrupt();
  }
  return s as StoredSession;
}

/** Loads the session for a broker, or undefined when nobody is signed in. */
export async function loadSession(store: CredentialStore, brokerUrl: string): Promise<StoredSession | undefined> {
  const raw = await store.get(brokerUrl);
  return raw === undefined ? undefined : parseStored(raw, brokerUrl);
}

const inFlight = new Map<string, Promise<string>>();

/**
 * Returns a valid id_token for the broker, refreshing (and re-storing) it when it is about to expire.
 * Refresh tokens rotate and the IdP ends the session when one is used twice, so refreshes are serialised:
 * one per broker in this process, and across processes by a lock file, re-reading the store once it is held.
 */
export async function currentToken(store: CredentialStore, brokerUrl: string, opts: { nowS?: number; lockDir?: string } = {}): Promise<string> {
  const nowS = opts.nowS ?? Date.now() / 1000;
  const s = await loadSession(store, brokerUrl);
  if (!s) throw new JitError("unauthenticated", `not signed in to ${brokerUrl}`, { hint: `run: jit login --broker ${brokerUrl}` });
  if (s.expires_at - REFRESH_MARGIN_S > nowS) return s.id_token;
  let pending = inFlight.get(brokerUrl);
  if (!pending) {
    const { defaultLockDir, withRefreshLock } = await import("./refresh-lock.ts");
    pending = withRefreshLock(opts.lockDir ?? defaultLockDir(process.env), brokerUrl, () => refreshStored(store, brokerUrl, nowS))
      .finally(() => inFlight.delete(brokerUrl));
    inFlight.set(brokerUrl, pending);
  }
  return pending;
}

async function refreshStored(store: CredentialStore, brokerUrl: string, nowS: number): Promise<string> {
  // Another process may have refreshed while we waited for the lock: its tokens are the live ones.
  const s = await loadSession(store, brokerUrl);
  if (!s) throw new JitError("unauthenticated", `not signed in to ${brokerUrl}`, { hint: `run: jit login --broker ${brokerUrl}` });
  if (s.expires_at - REFRESH_MARGIN_S > nowS) return s.id_token;
  if (!s.refresh_token) {
    throw new JitError("unauthenticated", "your session expired", { hint: `run: jit login --broker ${brokerUrl}` });
  }
  const { refreshTokens } = await import("./device-login.ts");
  const tokens = await refreshTokens({ issuer: s.issuer, clientId: s.client_id, allowInsecureHttp: isLoopbackHttp(s.issuer) }, s.refresh_token);
  const next = sessionFromTokens(tokens, s.issuer, s.client_id, s);
  await store.set(brokerUrl, JSON.stringify(next));
  return next.id_token;
}
