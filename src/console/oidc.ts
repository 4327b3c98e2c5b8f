/**
 * Console sign-in: OIDC authorization code with PKCE (openid-client), against the same issuer and client as the CLI,
 * so the id_token's audience is the one `deps.verifyToken` accepts and identity means the same thing as on the API.
 */
import type { Configuration } from "openid-client";
import type { LoginSettings } from "../broker/context.ts";

export interface SignInStart {
  url: URL;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface Tokens {
  idToken: string;
  refreshToken: string | null;
}

/** The console's OIDC client, discovered lazily (openid-client loads only when someone signs in). */
export interface ConsoleOidc {
  begin(redirectUri: string): Promise<SignInStart>;
  finish(callbackUrl: URL, pending: { state: string; nonce: string; codeVerifier: string }): Promise<Tokens>;
  refresh(refreshToken: string): Promise<Tokens>;
}

const loopbackHttp = (u: URL) => u.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(u.hostname);

/** Scopes of the console: the CLI's, with offline_access so a session outlives one id_token. */
function consoleScopes(login: LoginSettings): string {
  const s = new Set(login.scopes.split(/\s+/).filter(Boolean));
  s.add("openid");
  s.add("offline_access");
  return [...s].join(" ");
}

/** Builds the console's OIDC client from the broker's login settings. */
export function createConsoleOidc(login: LoginSettings): ConsoleOidc {
  let config: Promise<Configuration> | undefined;
  const lib = () => import("openid-client");
  const discover = async (): Promise<Configuration> => {
    const client = await lib();
    const issuer = new URL(login.issuer);
    // Plain http is allowed only for an issuer on loopback (the dev IdP); anything else must be https.
    const options = loopbackHttp(issuer) ? { execute: [client.allowInsecureRequests], timeout: 5 } : { timeout: 5 };
    return client.discovery(issuer, login.client_id, undefined, client.None(), options);
  };
  const configured = () => {
    if (!config) {
      const pending = discover();
      pending.catch(() => { if (config === pending) config = undefined; });
      config = pending;
    }
    return config;
  };

  return {
    async begin(redirectUri) {
      const [client, cfg] = await Promise.all([lib(), configured()]);
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(cfg, {
        redirect_uri: redirectUri,
        scope: consoleScopes(login),
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: "S256",
        state,
        nonce,
        // OIDC grants offline_access (a refresh token) only with prompt=consent.
        prompt: "consent",
        ...(login.audience && login.audience !== login.client_id ? { audience: login.audience } : {}),
      });
      return { url, state, nonce, codeVerifier };
    },
    async finish(callbackUrl, pending) {
      const [client, cfg] = await Promise.all([lib(), configured()]);
      const res = await client.authorizationCodeGrant(cfg, callbackUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      return { idToken: res.id_token!, refreshToken: res.refresh_token ?? null };
    },
    async refresh(refreshToken) {
      const [client, cfg] = await Promise.all([lib(), configured()]);
      const res = await client.refreshTokenGrant(cfg, refreshToken);
      if (!res.id_token) throw new Error("the identity provider returned no id_token on refresh");
      return { idToken: res.id_token, refreshToken: res.refresh_token ?? refreshToken };
    },
  };
}
