import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type Provider from "oidc-provider";
import type { KoaContextWithOIDC } from "oidc-provider";
import { JitError } from "../errors.ts";
import { checkDemoCredentials, findDemoUser } from "./demo-users.ts";
import { handleInteraction } from "./interaction.ts";
import { createMemoryAdapter } from "./memory-adapter.ts";
import * as pages from "./pages.ts";

/** The embedded identity provider of `jit broker dev`, mounted by the broker under the issuer's path. */
export interface DevIdp {
  issuer: string;
  /** Serves every request whose path is the issuer's path or below it. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Approves a pending device login for a demo user, without a browser. */
  approveDevice(input: { user_code: string; username: string; password: string }): Promise<{ username: string }>;
  close(): Promise<void>;
}

export interface DevIdpOptions {
  /** e.g. http://127.0.0.1:8080/oidc; its path is where the broker mounts `handle`. */
  issuer: string;
  clientId?: string;
  idTokenTtlSeconds?: number;
  pollIntervalSeconds?: number;
}

const DEVICE_CODE_TTL_SECONDS = 10 * 60;
const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 3600;
const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const HOME = "run: jit login";

/** The user code as the provider stores it: upper case, separators dropped. */
function normalizeUserCode(input: string): string {
  return input.toUpperCase().replace(/\W/g, "");
}

/** Starts an OIDC provider with the demo users, one public device-flow client, and fresh signing keys. */
export async function createDevIdp(opts: DevIdpOptions): Promise<DevIdp> {
  // oidc-provider takes ~200 ms to load: only `broker dev` pays for it.
  const [{ default: ProviderClass }, jose] = await Promise.all([import("oidc-provider"), import("jose")]);
  const issuer = opts.issuer.replace(/\/+$/, "");
  const mountPath = new URL(issuer).pathname.replace(/\/+$/, "");
  const clientId = opts.clientId ?? "jit-cli";
  const idTokenTtl = opts.idTokenTtlSeconds ?? 3600;
  const pollInterval = opts.pollIntervalSeconds ?? 5;
  // The web console signs in with the same client (so its id_tokens carry the audience the broker accepts),
  // by authorization code + PKCE, coming back to the broker's own origin.
  const consoleRedirect = new URL("/console/callback", issuer).href;

  const { privateKey } = await jose.generateKeyPair("ES256", { extractable: true });
  const signingKey = { ...(await jose.exportJWK(privateKey)), kid: randomUUID(), alg: "ES256", use: "sig" };

  const provider: Provider = new ProviderClass(issuer, {
    adapter: createMemoryAdapter(),
    jwks: { keys: [signingKey] },
    clients: [{
      client_id: clientId,
      client_name: "jit CLI",
      application_type: "native",
      token_endpoint_auth_method: "none",
      response_types: ["code"],
      redirect_uris: [consoleRedirect],
      grant_types: [DEVICE_CODE_GRANT, "authorization_code", "refresh_token"],
      id_token_signed_response_alg: "ES256",
    }],
    scopes: ["openid", "offline_access", "profile", "email", "groups"],
    claims: {
      openid: ["sub"],
      profile: ["name", "preferred_username"],
      email: ["email", "email_verified"],
      groups: ["groups"],
    },
    // Otherwise scope-derived claims (groups, email) go to userinfo only, and the broker reads the id_token.
    conformIdTokenClaims: false,
    findAccount: async (_ctx: unknown, sub: string) => {
      const user = findDemoUser(sub);
      if (!user) return undefined;
      return {
        accountId: user.username,
        claims: async () => ({
          sub: user.username,
          name: user.name,
          preferred_username: user.username,
          email: user.email,
          email_verified: true,
          groups: [...user.groups],
        }),
      };
    },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `${mountPath}/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId: string }) => token.clientId === client.clientId,
      },
      deviceFlow: {
        enabled: true,
        charset: "base-20",
        mask: "****-****",
        userCodeInputSource: async (ctx: KoaContextWithOIDC, form: string, _out: unknown, err?: { name?: string }) => {
          ctx.body = pages.userCodeInputPage(form, userCodeError(err));
        },
        userCodeConfirmSource: async (ctx: KoaContextWithOIDC, form: string, client: { clientName?: string; clientId: string }, _info: unknown, userCode: string) => {
          ctx.body = pages.userCodeConfirmPage(form, userCode, client.clientName ?? client.clientId);
        },
        successSource: async (ctx: KoaContextWithOIDC) => {
          ctx.body = pages.successPage();
        },
      },
    },
    renderError: async (ctx: KoaContextWithOIDC, out: { error?: string; error_description?: string }) => {
      ctx.type = "html";
      ctx.body = pages.errorPage(out.error_description ?? "the request could not be processed", out.error);
    },
    clientBasedCORS: () => false,
    ttl: {
      AccessToken: idTokenTtl,
      IdToken: idTokenTtl,
      DeviceCode: DEVICE_CODE_TTL_SECONDS,
      RefreshToken: REFRESH_TOKEN_TTL_SECONDS,
      Grant: REFRESH_TOKEN_TTL_SECONDS,
      Session: 24 * 3600,
      Interaction: 3600,
      ClientCredentials: 600,
      BackchannelAuthenticationRequest: 600,
    },
  });

  // RFC 8628 lets the server say how often to poll; without it clients wait 5 s between polls.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === "device_authorization" && ctx.status === 200 && ctx.body && typeof ctx.body === "object") {
      (ctx.body as Record<string, unknown>).interval = pollInterval;
    }
  });

  const serve = provider.callback();
  let closed = false;

  return {
    issuer,
    handle(req, res) {
      const url = req.url ?? "/";
      const rest = url.slice(mountPath.length);
      if (closed || !url.startsWith(mountPath) || !(rest === "" || rest.startsWith("/") || rest.startsWith("?"))) {
        res.writeHead(closed ? 503 : 404, { "content-type": "text/plain" }).end(closed ? "identity provider stopped\n" : "not found\n");
        return;
      }
      const path = rest.startsWith("/") ? rest : `/${rest}`;
      if (path.startsWith("/interaction/")) {
        handleInteraction(provider, req, res, path).catch((cause: unknown) => {
          if (!res.headersSent) res.writeHead(500, { "content-type": "text/html; charset=utf-8" });
          res.end(pages.errorPage("internal error", cause instanceof Error ? cause.name : undefined));
        });
        return;
      }
      // The same contract as express's app.use(mountPath, ...): oidc-provider derives its
      // endpoint URLs from originalUrl minus url.
      Object.assign(req, { originalUrl: url });
      req.url = path;
      void serve(req, res);
    },
    async approveDevice(input) {
      const user = checkDemoCredentials(String(input.username ?? ""), String(input.password ?? ""));
      if (!user) throw new JitError("unauthenticated", "wrong user name or password", { hint: "demo users: alice, bob, carol, dave (password = user name)" });
      const shown = String(input.user_code ?? "");
      const code = await provider.DeviceCode.findByUserCode(normalizeUserCode(shown), { ignoreExpiration: true });
      if (!code) throw new JitError("usage", `no pending device login has the code ${JSON.stringify(shown)} (codes expire after ${DEVICE_CODE_TTL_SECONDS / 60} minutes)`, { hint: HOME });
      if (code.isExpired) throw new JitError("usage", `the code ${shown} has expired`, { hint: HOME });
      if (code.error || code.accountId || code.inFlight) throw new JitError("usage", `the code ${shown} was already used`, { hint: HOME });

      // What the provider's own device_resume step records, for a first-party client that needs no consent.
      const scope = typeof code.params.scope === "string" ? code.params.scope : "openid";
      const grant = new provider.Grant({ accountId: user.username, clientId: code.clientId });
      grant.addOIDCScope(scope);
      Object.assign(code, {
        accountId: user.username,
        amr: ["pwd"],
        authTime: Math.floor(Date.now() / 1000),
        grantId: await grant.save(),
        scope,
      });
      await code.save();
      return { username: user.username };
    },
    async close() {
      closed = true;
    },
  };
}

/** What the user-code page says after the provider rejected an entered code. */
function userCodeError(err?: { name?: string }): string | undefined {
  switch (err?.name) {
    case undefined: return undefined;
    case "NoCodeError": return "Enter the code shown in your terminal.";
    case "NotFoundError": return "That code is not valid. Check it and try again.";
    case "ExpiredError": return "That code has expired. Run jit login again.";
    case "AlreadyUsedError": return "That code was already used. Run jit login again.";
    case "AbortedError": return "Sign-in cancelled.";
    default: return "The code could not be checked. Try again.";
  }
}
