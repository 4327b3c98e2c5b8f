/**
 * Console sign-in: authorization code + PKCE through the broker's IdP, the callback that turns a verified id_token
 * into a server-side session, and the per-request session check that refreshes tokens or signs the person out.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { audit, type BrokerDeps, type Caller } from "../broker/context.ts";
import { cookie, redirect, sendPage } from "./edge.ts";
import { html, type Html } from "./html.ts";
import { page, type Viewer } from "./layout.ts";
import type { ConsoleOidc } from "./oidc.ts";
import { RateLimit } from "./rate-limit.ts";
import { readCookie, SESSION_LIFETIME_MS, type ConsoleSession, type SessionStore } from "./session.ts";

/** Where the IdP sends people back: `{public_url}/console/callback`, to be registered for the jit client. */
export const CALLBACK_PATH = "/console/callback";
const SIGN_IN_COOKIE = "jit_console_signin";
const REFRESH_MARGIN_MS = 60_000;

/** One console request: where it arrived and whether its cookies must be Secure. */
export type Ctx = { req: IncomingMessage; res: ServerResponse; url: URL; origin: URL; secure: boolean };

/** `__Host-` (Secure, Path=/, no Domain) wherever cookies are Secure; a plain name only on loopback http. */
export const sessionCookieName = (secure: boolean) => (secure ? "__Host-jit_console" : "jit_console");

const jwtExp = (token: string): number => {
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp?: number };
  return (payload.exp ?? 0) * 1000;
};

export interface SignInDeps {
  deps: BrokerDeps;
  sessions: SessionStore;
  oidc: ConsoleOidc;
  clock: () => number;
  clientOf(req: IncomingMessage): Caller["client"];
  errorPage(ctx: Ctx, status: number, title: string, message: Html | string, viewer?: Viewer): void;
}

/** The sign-in steps of the console. */
export function createSignIn({ deps, sessions, oidc, clock, clientOf, errorPage }: SignInDeps) {
  const signInLimit = new RateLimit(30, 60_000, clock);

  /** Sends the person to the IdP, remembering where they were going. */
  async function begin(ctx: Ctx, returnTo: string) {
    const wait = signInLimit.hit(ctx.req.socket.remoteAddress ?? "");
    if (wait) return errorPage(ctx, 429, "Too many sign-ins", `Wait ${wait} s, then try again.`);
    const start = await oidc.begin(new URL(CALLBACK_PATH, ctx.origin).href);
    const pending = await sessions.startSignIn({ state: start.state, nonce: start.nonce, codeVerifier: start.codeVerifier, returnTo });
    // Lax, not Strict: the IdP's redirect back is a cross-site navigation in production, and must carry this cookie.
    redirect(ctx.res, start.url.href, 302, {
      "set-cookie": cookie(SIGN_IN_COOKIE, pending.id, { secure: ctx.secure, sameSite: "Lax", path: CALLBACK_PATH, maxAgeSeconds: 600 }),
    });
  }

  /** Finishes a sign-in: the code for tokens, the id_token verified as the API verifies it, a new session. */
  async function callback(ctx: Ctx) {
    const pending = await sessions.takeSignIn(readCookie(ctx.req, SIGN_IN_COOKIE));
    const clear = cookie(SIGN_IN_COOKIE, "", { secure: ctx.secure, sameSite: "Lax", path: CALLBACK_PATH, maxAgeSeconds: 0 });
    const retry = html`<a href="/console/login">Sign in again</a>`;
    if (ctx.url.searchParams.get("error")) {
      return sendPage(ctx.res, 401, page("Sign-in cancelled", html`<div class="center card"><h1>Not signed in</h1><p>The identity provider said: ${ctx.url.searchParams.get("error_description") ?? ctx.url.searchParams.get("error")}.</p><p>${retry}</p></div>`), { "set-cookie": clear });
    }
    if (!pending) return sendPage(ctx.res, 400, page("Sign-in expired", html`<div class="center card"><h1>This sign-in expired</h1><p>It was started more than 10 minutes ago, or in another browser.</p><p>${retry}</p></div>`), { "set-cookie": clear });
    const client = clientOf(ctx.req);
    let tokens;
    let principal;
    try {
      tokens = await oidc.finish(new URL(`${CALLBACK_PATH}${ctx.url.search}`, ctx.origin), pending);
      principal = await deps.verifyToken(tokens.idToken);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      await audit(deps, { principal: null, client }, "authenticate", "denied", { method: "GET", path: CALLBACK_PATH, why, console: true });
      return sendPage(ctx.res, 401, page("Sign-in failed", html`<div class="center card"><h1>Sign-in failed</h1><p>${why}</p><p>${retry}</p></div>`), { "set-cookie": clear });
    }
    // The id_token is not kept (session.ts says why): what it proved, and when that lapses, is.
    const s = await sessions.create({ principal, refreshToken: tokens.refreshToken, idTokenExpiresAt: jwtExp(tokens.idToken) });
    await audit(deps, { principal, client }, "console", "ok", { page: "sign-in" });
    // A same-origin page (not a redirect) carries on, so the Strict session cookie is sent with the next request
    // even when the sign-in began with a cross-site link (a notification).
    sendPage(ctx.res, 200, page("Signed in", html`<div class="center card"><h1>Signed in</h1><p><a href="${pending.returnTo}">Continue</a></p></div>`, { refresh: pending.returnTo }), {
      "set-cookie": [clear, cookie(sessionCookieName(ctx.secure), s.id, { secure: ctx.secure, sameSite: "Strict", path: "/", maxAgeSeconds: SESSION_LIFETIME_MS / 1000 })],
    });
  }

  /** Refreshes in flight in this process, by session: concurrent page loads share one refresh (and one refresh token). */
  const refreshing = new Map<string, Promise<ConsoleSession | undefined>>();

  /** The session of this request, refreshed when its id_token is about to lapse; undefined (signed out) when it cannot be. */
  async function sessionOf(ctx: Ctx): Promise<ConsoleSession | undefined> {
    const s = await sessions.touch(readCookie(ctx.req, sessionCookieName(ctx.secure)));
    if (!s) return undefined;
    if (s.idTokenExpiresAt - clock() > REFRESH_MARGIN_MS) return s;
    let pending = refreshing.get(s.id);
    if (!pending) {
      pending = refresh(ctx, s).finally(() => refreshing.delete(s.id));
      refreshing.set(s.id, pending);
    }
    return pending;
  }

  /**
   * Trades the refresh token for new tokens. When the IdP refuses (its session ended, the token was revoked or
   * expired, the person may no longer sign in) the session ends on every replica, audited like a refused sign-in,
   * and the request is answered as signed out: nothing it asked for is done.
   */
  async function refresh(ctx: Ctx, s: ConsoleSession): Promise<ConsoleSession | undefined> {
    let next: Pick<ConsoleSession, "principal" | "refreshToken" | "idTokenExpiresAt">;
    try {
      if (!s.refreshToken) throw new Error("the identity provider gave no refresh token");
      const t = await oidc.refresh(s.refreshToken);
      // Groups may have changed at the IdP: the refreshed, verified token is the identity from now on.
      next = { principal: await deps.verifyToken(t.idToken), refreshToken: t.refreshToken, idTokenExpiresAt: jwtExp(t.idToken) };
    } catch (err) {
      // Another replica may have refreshed this session a moment ago and spent the token this one tried (rotation).
      const fresh = await sessions.touch(s.id);
      if (fresh && fresh.idTokenExpiresAt - clock() > REFRESH_MARGIN_MS) return fresh;
      // Ended first: a session that cannot be refreshed must not outlive a failed audit write.
      await sessions.end(s.id);
      const why = (err instanceof Error ? err.message : String(err)).slice(0, 200);
      await audit(deps, { principal: s.principal, client: clientOf(ctx.req) }, "authenticate", "denied", {
        method: ctx.req.method ?? "GET", path: ctx.url.pathname, why: `the console session could not be refreshed, so it ended: ${why}`, console: true,
      });
      return undefined;
    }
    return (await sessions.refreshed(s, next)) ? { ...s, ...next } : undefined;
  }

  return { begin, callback, sessionOf };
}
