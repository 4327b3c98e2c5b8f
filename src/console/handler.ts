/**
 * The web console at /console: OIDC sign-in, a server-side session, and server-rendered pages over the same domain
 * functions as the API (access.ts, explain.ts, the store). Every page and form is declared in routes.ts and decided by
 * the API's own decision step (broker/pipeline.ts), so each view and act is authorized by the API's rules and audited
 * before it answers. The mount point is one function, `createConsoleHandler(deps)(req, res)`, so any HTTP edge can host it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { audit, type BrokerDeps, type Caller } from "../broker/context.ts";
import { decide, Refused } from "../broker/pipeline.ts";
import { JitError } from "../errors.ts";
import { findAsset } from "./assets.ts";
import { cookie, cookieSecure, ownOrigin, readForm, redirect, sendAsset, sendConsoleJson, sendPage } from "./edge.ts";
import { html, type Html } from "./html.ts";
import { page, type Viewer } from "./layout.ts";
import { createConsoleOidc, type ConsoleOidc } from "./oidc.ts";
import { RateLimit } from "./rate-limit.ts";
import { compileConsolePath, consoleRoutes, type ConsoleInput, errorPage as sendErrorPage, readsEverything } from "./routes.ts";
import { sameSecret, SessionStore, type ConsoleSession } from "./session.ts";
import { CALLBACK_PATH, createSignIn, sessionCookieName, type Ctx } from "./sign-in.ts";

export interface ConsoleOptions {
  /** The broker's public URL (`public_url`); without it the origin is the one the request reached. */
  publicUrl?: string;
  /** Injected in tests; built from deps.loginSettings otherwise. */
  oidc?: ConsoleOidc;
  /** Real time for sessions and tokens (deps.now is the grant clock, which tests move). */
  clock?: () => number;
}

export { CALLBACK_PATH } from "./sign-in.ts";

type Authed = Ctx & { session: ConsoleSession; caller: Caller; viewer: Viewer };

/** A path inside the console to come back to after sign-in; anything else goes to the inbox. */
function safeReturn(raw: string | null): string {
  return raw && /^\/console(\/[A-Za-z0-9_\-./?=&%]*)?$/.test(raw) && !raw.includes("//") && !raw.includes("..") ? raw : "/console/";
}

/** Builds the console's request handler. */
export function createConsoleHandler(deps: BrokerDeps, opts: ConsoleOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const sessions = new SessionStore(deps.store, deps.hashKey, clock);
  const oidc = opts.oidc ?? createConsoleOidc(deps.loginSettings);
  // Per person and per address, like a busy API client: pages, writes, and sign-in attempts.
  const readLimit = new RateLimit(300, 60_000, clock);
  const writeLimit = new RateLimit(30, 60_000, clock);
  const clientOf = (req: IncomingMessage): Caller["client"] => ({
    kind: "console", name: "jit console", version: deps.version, address: req.socket.remoteAddress ?? "",
  });

  const errorPage = (ctx: Ctx, status: number, title: string, message: Html | string, viewer?: Viewer) => sendErrorPage(ctx.res, status, title, message, viewer);
  const signIn = createSignIn({ deps, sessions, oidc, clock, clientOf, errorPage });
  const routes = consoleRoutes().map((r) => ({ def: r, match: compileConsolePath(r.path) }));

  /** Refuses a state-changing request that did not come from a console page: wrong Origin or missing CSRF token. */
  async function checkForgery(a: Authed, form: URLSearchParams): Promise<string | null> {
    const origin = a.req.headers.origin;
    let why: string | null = null;
    if (origin !== a.origin.origin) why = `the form was posted from ${origin ? "another origin" : "no origin"}`;
    else if (!sameSecret(form.get("csrf") ?? "", a.session.csrf)) why = "the form carries no valid CSRF token";
    if (why) await audit(deps, a.caller, "console", "denied", { page: a.url.pathname, method: "POST", why: `forged request refused: ${why}`, origin: origin ?? null });
    return why;
  }

  const viewerOf = (s: ConsoleSession): Viewer => ({ principal: s.principal, csrf: s.csrf, auditor: readsEverything(deps.policy(), s.principal) });

  /**
   * A signed-in request: the rate limit, the forgery check of a form (recorded), then the route table. The matched
   * route is decided by the API's decide() (resource, authorize, audit) before it renders; a path the table does not
   * have is a recorded 404.
   */
  async function route(a: Authed): Promise<void> {
    const { req, url } = a;
    const path = url.pathname;
    const method = req.method ?? "GET";
    const wait = (method === "POST" ? writeLimit : readLimit).hit(a.session.id);
    if (wait) return errorPage(a, 429, "Slow down", `Too many requests; wait ${wait} s.`, a.viewer);
    let form: URLSearchParams | null = null;
    if (method === "POST") {
      form = await readForm(req);
      if (await checkForgery(a, form)) {
        return errorPage(a, 403, "Refused", "This form did not come from a console page you opened, so nothing was done. Reload the page and try again.", a.viewer);
      }
    }
    for (const { def, match } of routes) {
      const params = def.method === method ? match(path) : null;
      if (!params) continue;
      const input: ConsoleInput = {
        deps, caller: a.caller, viewer: a.viewer, params, query: url.searchParams, form, res: a.res,
        endSession: async () => {
          await sessions.end(a.session.id);
          return cookie(sessionCookieName(a.secure), "", { secure: a.secure, sameSite: "Strict", path: "/", maxAgeSeconds: 0 });
        },
      };
      let decided;
      try {
        decided = await decide(deps, a.caller, def, input, { route: `${def.method} ${def.path}` });
      } catch (err) {
        if (err instanceof Refused) return await def.refused(input, err);
        throw err;
      }
      return await def.render(input, decided);
    }
    await audit(deps, a.caller, "console", "denied", { page: path, method, why: "no such page" });
    errorPage(a, 404, "Not found", "There is no such console page.", a.viewer);
  }

  return async function consoleHandler(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    const base = { req, res, url };
    let ctx: Ctx | undefined;
    try {
      const origin = ownOrigin(req, opts.publicUrl);
      ctx = { ...base, origin, secure: cookieSecure(origin) };
      if (url.pathname === "/console") return redirect(res, "/console/", 301);
      const asset = req.method === "GET" ? findAsset(url.pathname) : undefined;
      if (asset) return sendAsset(res, asset.type, asset.body);
      if (url.pathname === "/console/login" && req.method === "GET") return await signIn.begin(ctx, safeReturn(url.searchParams.get("return")));
      if (url.pathname === CALLBACK_PATH && req.method === "GET") return await signIn.callback(ctx);
      const session = await signIn.sessionOf(ctx);
      if (!session) {
        if (req.method !== "GET") return errorPage(ctx, 401, "Signed out", html`Your session ended. <a href="/console/login">Sign in again</a>; nothing was done.`);
        if (url.pathname.startsWith("/console/live/")) return sendConsoleJson(res, 401, { error: "signed out" });
        // A link followed from another site (a chat message) arrives without the Strict cookie: look again from here first.
        if (req.headers["sec-fetch-site"] === "cross-site" && !url.searchParams.has("again")) {
          const again = `${url.pathname}${url.search ? `${url.search}&` : "?"}again=1`;
          return sendPage(res, 200, page("Opening", html`<div class="center card"><p><a href="${again}">Continue to the console</a></p></div>`, { refresh: again }));
        }
        const back = new URLSearchParams(url.search);
        back.delete("again");
        const target = `${url.pathname}${back.size ? `?${back}` : ""}`;
        return await signIn.begin(ctx, safeReturn(target));
      }
      const caller: Caller = { principal: session.principal, client: clientOf(req) };
      await route({ ...ctx, session, caller, viewer: viewerOf(session) });
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      const known = err instanceof JitError && err.code !== "internal";
      if (!known) deps.log(`console error on ${req.method} ${url.pathname}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      const c = ctx ?? { ...base, origin: new URL("http://invalid.invalid"), secure: true };
      const message = known ? (err as JitError).message : err instanceof JitError ? err.message : "The console hit an unexpected error; the broker's log has the details.";
      errorPage(c, known ? 400 : 500, known ? "Cannot do that" : "Something went wrong", message);
    }
  };
}
