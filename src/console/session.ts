/**
 * Server-side console sessions: the browser holds only a random id in an HttpOnly, SameSite=Strict cookie; the
 * identity, tokens and CSRF secret stay here. Sessions end after a short idle time or when tokens cannot be refreshed.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Principal } from "../policy/types.ts";

export interface ConsoleSession {
  id: string;
  csrf: string;
  principal: Principal;
  idToken: string;
  refreshToken: string | null;
  /** Epoch ms when the id_token expires; it is refreshed shortly before. */
  idTokenExpiresAt: number;
  lastSeen: number;
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
const SIGN_IN_TTL_MS = 10 * 60 * 1000;
const MAX_SESSIONS = 10_000;

const token = () => randomBytes(32).toString("base64url");

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

/** The in-memory session table of one broker process. */
export class SessionStore {
  readonly #sessions = new Map<string, ConsoleSession>();
  readonly #pending = new Map<string, PendingSignIn>();
  readonly #now: () => number;
  constructor(now: () => number) {
    this.#now = now;
  }

  /** Starts a sign-in and returns its record (its id goes into a short-lived cookie). */
  startSignIn(input: Omit<PendingSignIn, "id" | "createdAt">): PendingSignIn {
    this.#sweep();
    const p = { ...input, id: token(), createdAt: this.#now() };
    this.#pending.set(p.id, p);
    return p;
  }

  /** Takes (and forgets) the sign-in a callback belongs to; a second use finds nothing. */
  takeSignIn(id: string | undefined): PendingSignIn | undefined {
    if (!id) return undefined;
    const p = this.#pending.get(id);
    this.#pending.delete(id);
    return p && this.#now() - p.createdAt < SIGN_IN_TTL_MS ? p : undefined;
  }

  /** Creates a session for a signed-in person. */
  create(input: Omit<ConsoleSession, "id" | "csrf" | "lastSeen">): ConsoleSession {
    this.#sweep();
    const s = { ...input, id: token(), csrf: token(), lastSeen: this.#now() };
    this.#sessions.set(s.id, s);
    return s;
  }

  /** The live session with this id, its idle clock reset; undefined when unknown or idle too long. */
  touch(id: string | undefined): ConsoleSession | undefined {
    if (!id) return undefined;
    const s = this.#sessions.get(id);
    if (!s) return undefined;
    if (this.#now() - s.lastSeen > IDLE_TIMEOUT_MS) {
      this.#sessions.delete(id);
      return undefined;
    }
    s.lastSeen = this.#now();
    return s;
  }

  end(id: string): void {
    this.#sessions.delete(id);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [k, s] of this.#sessions) if (now - s.lastSeen > IDLE_TIMEOUT_MS) this.#sessions.delete(k);
    for (const [k, p] of this.#pending) if (now - p.createdAt > SIGN_IN_TTL_MS) this.#pending.delete(k);
    // A flood of sign-ins must not grow memory without bound: the oldest go first.
    while (this.#sessions.size > MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
    while (this.#pending.size > MAX_SESSIONS) this.#pending.delete(this.#pending.keys().next().value!);
  }
}
