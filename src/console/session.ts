/**
 * Server-side console sessions: the browser holds only a random id in an HttpOnly, SameSite=Strict cookie; the
 * identity, tokens and CSRF secret stay in the broker's store, so every replica (and the broker after a restart)
 * knows the session. Sessions end after a short idle time, at an absolute lifetime, or when tokens cannot be refreshed.
 *
 * What the store holds, and why a dump of it gives nothing a browser or an IdP would take:
 * - rows are keyed by the SHA-256 of the cookie value (256 random bits, so the hash cannot be searched back);
 * - the refresh token is sealed with AES-256-GCM under a console key derived from the broker's masking key (below),
 *   bound to its row; a sign-in in progress is sealed the same way (its PKCE verifier would complete a stolen code);
 * - the id_token is not stored at all: the console never presents it to anyone. It is verified once, at sign-in or
 *   refresh, and only what came out of it (the principal and its expiry) is kept.
 * Tokens are kept (rather than ending the session at the id_token's expiry, an hour at most IdPs) because a refresh
 * is what notices that the IdP session ended or the person lost a group, and a sign-out every hour would teach
 * people to click through sign-ins.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { JitError } from "../errors.ts";
import type { Principal } from "../policy/types.ts";
import type { Store } from "../store/types.ts";

export interface ConsoleSession {
  /** The cookie value: in memory only, the store keeps its hash. */
  id: string;
  csrf: string;
  principal: Principal;
  refreshToken: string | null;
  /** Epoch ms when the id_token the principal came from expires; it is refreshed shortly before. */
  idTokenExpiresAt: number;
  createdAt: number;
  lastSeen: number;
  /** The absolute end of the session, however active it is. */
  expiresAt: number;
}

/** A sign-in in progress: what the callback must match (state, nonce) and prove (the PKCE verifier). */
export interface PendingSignIn {
  id: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  createdAt: number;
}

export const IDLE_TIMEOUT_MS = 15 * 60 * 1000;
/** However active, a session lasts a working day; then the person signs in again. */
export const SESSION_LIFETIME_MS = 12 * 60 * 60 * 1000;
/**
 * last_seen is written at most once a minute per session: page views and the live regions' polls (every 2 s) are
 * reads otherwise. The price: the idle timeout counts from up to a minute before the last activity (14 to 15 min).
 */
export const TOUCH_EVERY_MS = 60_000;
const SIGN_IN_TTL_MS = 10 * 60 * 1000;
/** Rows kept at most, of sessions and of sign-ins in progress each: a flood of sign-ins evicts the least recent. */
const MAX_SESSIONS = 10_000;
/** Names the console's key; changing it (or the masking key) ends every session, which is safe, and nothing else. */
const KEY_LABEL = "jit console session tokens v1";

const token = () => randomBytes(32).toString("base64url");
/** What token() makes; anything else is not looked up at all. */
const WELL_FORMED = /^[A-Za-z0-9_-]{43}$/;
const rowKey = (cookieValue: string) => createHash("sha256").update(cookieValue).digest("base64url");

/** Compares two secrets in constant time (different lengths are simply unequal). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Reads one cookie from a request. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * The console's encryption key: HKDF-SHA256 over the broker's masking key (`masking.hash_key_file`, which every
 * replica already shares so that masked hashes agree) with its own label, so the masking HMAC and this cipher never
 * use the same key, and no new secret has to be deployed.
 */
export function consoleKey(brokerKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", brokerKey, Buffer.alloc(0), KEY_LABEL, 32));
}

/** AES-256-GCM; `bound` (the row it belongs to) is authenticated, so a sealed value moved to another row does not open. */
function seal(key: Buffer, plain: string, bound: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv).setAAD(Buffer.from(bound));
  const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
  return `v1.${Buffer.concat([iv, body, c.getAuthTag()]).toString("base64url")}`;
}

/** Opens what seal() made; throws when the key, the row or a single bit differs. */
function unseal(key: Buffer, sealed: string, bound: string): string {
  if (!sealed.startsWith("v1.")) throw new Error("unknown sealing");
  const raw = Buffer.from(sealed.slice(3), "base64url");
  const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12)).setAAD(Buffer.from(bound)).setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString("utf8");
}

/** The console's sessions, kept in the broker's store. */
export class SessionStore {
  readonly #store: Store;
  readonly #brokerKey: Buffer | undefined;
  #derived: Buffer | undefined;
  readonly #now: () => number;
  constructor(store: Store, brokerKey: Buffer | undefined, now: () => number) {
    this.#store = store;
    this.#brokerKey = brokerKey;
    this.#now = now;
  }

  /** Derived on first use: a broker only needs it once someone signs in to the console. */
  get #key(): Buffer {
    if (!this.#derived) {
      if (!this.#brokerKey) throw new JitError("internal", "the console cannot keep sessions: the broker has no masking key (masking.hash_key_file)");
      this.#derived = consoleKey(this.#brokerKey);
    }
    return this.#derived;
  }

  /** Starts a sign-in and returns its record (its id goes into a short-lived cookie). */
  async startSignIn(input: Omit<PendingSignIn, "id" | "createdAt">): Promise<PendingSignIn> {
    const id = token();
    const key = rowKey(id);
    const createdAt = this.#now();
    const sealed = seal(this.#key, JSON.stringify(input), `sign-in:${key}`);
    await this.#store.startConsoleSignIn({ key, sealed, createdAt, expiresAt: createdAt + SIGN_IN_TTL_MS }, { now: createdAt, max: MAX_SESSIONS });
    return { ...input, id, createdAt };
  }

  /** Takes (and forgets) the sign-in a callback belongs to; a second use, on any replica, finds nothing. */
  async takeSignIn(id: string | undefined): Promise<PendingSignIn | undefined> {
    if (!id || !WELL_FORMED.test(id)) return undefined;
    const key = rowKey(id);
    const row = await this.#store.takeConsoleSignIn(key, this.#now());
    if (!row) return undefined;
    try {
      const input = JSON.parse(unseal(this.#key, row.sealed, `sign-in:${key}`)) as Omit<PendingSignIn, "id" | "createdAt">;
      return { ...input, id, createdAt: row.createdAt };
    } catch {
      return undefined; // sealed under another key (the masking key changed): the person starts again
    }
  }

  /** Creates a session for a signed-in person. */
  async create(input: Pick<ConsoleSession, "principal" | "refreshToken" | "idTokenExpiresAt">): Promise<ConsoleSession> {
    const id = token();
    const key = rowKey(id);
    const now = this.#now();
    const s: ConsoleSession = { ...input, id, csrf: token(), createdAt: now, lastSeen: now, expiresAt: now + SESSION_LIFETIME_MS };
    await this.#store.createConsoleSession({
      key, principal: s.principal, csrf: s.csrf, sealedRefreshToken: this.#sealRefresh(key, s.refreshToken),
      idTokenExpiresAt: s.idTokenExpiresAt, createdAt: now, lastSeen: now, expiresAt: s.expiresAt,
    }, { now, idleMs: IDLE_TIMEOUT_MS, max: MAX_SESSIONS });
    return s;
  }

  /** The live session with this id (its idle clock reset); undefined when unknown, idle too long or past its lifetime. */
  async touch(id: string | undefined): Promise<ConsoleSession | undefined> {
    if (!id || !WELL_FORMED.test(id)) return undefined;
    const key = rowKey(id);
    const row = await this.#store.touchConsoleSession(key, { now: this.#now(), idleMs: IDLE_TIMEOUT_MS, touchEveryMs: TOUCH_EVERY_MS });
    if (!row) return undefined;
    let refreshToken: string | null;
    try {
      refreshToken = row.sealedRefreshToken === null ? null : unseal(this.#key, row.sealedRefreshToken, `session:${key}`);
    } catch {
      // Sealed under another key (the masking key was rotated) or altered in the table: this session cannot go on.
      await this.#store.endConsoleSession(key);
      return undefined;
    }
    const { principal, csrf, idTokenExpiresAt, createdAt, lastSeen, expiresAt } = row;
    return { id, csrf, principal, refreshToken, idTokenExpiresAt, createdAt, lastSeen, expiresAt };
  }

  /** Stores what a refresh brought; false when the session is gone meanwhile (signed out on another replica). */
  async refreshed(s: ConsoleSession, u: Pick<ConsoleSession, "principal" | "refreshToken" | "idTokenExpiresAt">): Promise<boolean> {
    const key = rowKey(s.id);
    return this.#store.updateConsoleSession(key, { principal: u.principal, sealedRefreshToken: this.#sealRefresh(key, u.refreshToken), idTokenExpiresAt: u.idTokenExpiresAt });
  }

  /** Ends a session everywhere: its row is deleted, so its cookie is dead on every replica. */
  async end(id: string): Promise<void> {
    if (WELL_FORMED.test(id)) await this.#store.endConsoleSession(rowKey(id));
  }

  #sealRefresh(key: string, refreshToken: string | null): string | null {
    return refreshToken === null ? null : seal(this.#key, refreshToken, `session:${key}`);
  }
}
