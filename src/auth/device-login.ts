import type { Configuration, TokenEndpointResponse, TokenEndpointResponseHelpers } from "openid-client";
import { JitError } from "../errors.ts";

/** The tokens `jit login` keeps. The broker is sent the id_token. */
export interface TokenSet {
  idToken: string;
  accessToken?: string;
  refreshToken?: string;
  /** Epoch seconds of the id_token's exp. */
  expiresAt: number;
}

/** Where the identity provider is and who the CLI is to it. */
export interface IdpClientOptions {
  issuer: string;
  clientId: string;
  /** Lets openid-client talk plain HTTP: pass true only for a loopback dev issuer. */
  allowInsecureHttp: boolean;
}

export interface DeviceCodeInfo {
  verificationUri: string;
  verificationUriComplete?: string;
  userCode: string;
  /** Seconds until the code expires. */
  expiresIn: number;
}

export interface DeviceLoginOptions extends IdpClientOptions {
  scopes: string;
  /** Shows the code to the person (and maybe opens a browser); polling starts once it returns. */
  onCode(info: DeviceCodeInfo): void | Promise<void>;
  signal?: AbortSignal;
}

const LOGIN_HINT = "run: jit login";
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EAI_AGAIN"]);

function isNetworkError(err: unknown): boolean {
  if (!(err instanceof TypeError)) return false;
  if (err.message === "fetch failed") return true;
  const cause = (err as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === "string" && (NETWORK_CODES.has(cause.code) || cause.code.startsWith("UND_ERR"));
}

/** Turns openid-client's errors into jit's codes; `step` names what was being done, for the message. */
function toJitError(err: unknown, issuer: string, step: string): JitError {
  if (err instanceof JitError) return err;
  const body = err as { error?: unknown; error_description?: unknown; code?: unknown; name?: string };
  if (typeof body.error === "string") {
    const detail = typeof body.error_description === "string" ? `: ${body.error_description}` : "";
    switch (body.error) {
      case "access_denied":
        return new JitError("unauthenticated", "sign-in was denied at the identity provider", { hint: LOGIN_HINT, cause: err });
      case "expired_token":
        return new JitError("unauthenticated", "the login code expired before sign-in finished", { hint: LOGIN_HINT, cause: err });
      case "invalid_grant":
        return new JitError("unauthenticated", `the session expired or was revoked (${step})`, { hint: LOGIN_HINT, cause: err });
      default:
        return new JitError("internal", `identity provider refused ${step}: ${body.error}${detail}`, { cause: err });
    }
  }
  if (isNetworkError(err)) {
    return new JitError("unreachable", `cannot reach the identity provider at ${issuer}`, { hint: "check the broker's issuer setting and your network", cause: err });
  }
  switch (body.code) {
    case "OAUTH_TIMEOUT":
      return new JitError("unreachable", `the identity provider at ${issuer} did not answer in time`, { cause: err });
    case "OAUTH_RESPONSE_IS_NOT_CONFORM":
    case "OAUTH_RESPONSE_IS_NOT_JSON":
      return new JitError("unreachable", `the identity provider at ${issuer} gave an unexpected answer during ${step}`, { cause: err });
    case "OAUTH_HTTP_REQUEST_FORBIDDEN":
      return new JitError("usage", `the identity provider ${issuer} does not use HTTPS`, { hint: "plain HTTP is allowed only for a loopback dev broker", cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new JitError("internal", `${step} failed: ${message}`, { cause: err });
}

async function configure(opts: IdpClientOptions): Promise<{ oidc: typeof import("openid-client"); config: Configuration }> {
  // Loaded only by the commands that sign in, so `jit --help` stays fast.
  const oidc = await import("openid-client");
  try {
    const config = await oidc.discovery(
      new URL(opts.issuer), opts.clientId, undefined, oidc.None(),
      opts.allowInsecureHttp ? { execute: [oidc.allowInsecureRequests] } : undefined,
    );
    return { oidc, config };
  } catch (err) {
    throw toJitError(err, opts.issuer, "discovery");
  }
}

function toTokenSet(response: TokenEndpointResponse & TokenEndpointResponseHelpers, previousRefreshToken?: string): TokenSet {
  const idToken = response.id_token;
  const exp = response.claims()?.exp;
  if (!idToken || typeof exp !== "number") {
    throw new JitError("internal", "the identity provider returned no id_token (is the openid scope allowed for this client?)");
  }
  const refreshToken = response.refresh_token ?? previousRefreshToken;
  return {
    idToken,
    ...(response.access_token ? { accessToken: response.access_token } : {}),
    ...(refreshToken ? { refreshToken } : {}),
    expiresAt: exp,
  };
}

/** Runs the OAuth device authorization grant: shows the code through `onCode`, then polls until the person signs in. */
export async function deviceLogin(opts: DeviceLoginOptions): Promise<TokenSet> {
  const { oidc, config } = await configure(opts);
  let start;
  try {
    start = await oidc.initiateDeviceAuthorization(config, { scope: opts.scopes });
  } catch (err) {
    throw toJitError(err, opts.issuer, "device authorization");
  }
  await opts.onCode({
    verificationUri: start.verification_uri,
    ...(start.verification_uri_complete ? { verificationUriComplete: start.verification_uri_complete } : {}),
    userCode: start.user_code,
    expiresIn: start.expires_in,
  });
  const expiry = AbortSignal.timeout(start.expires_in * 1000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, expiry]) : expiry;
  // openid-client notices an abort only between its sleeps (up to `interval` seconds): answer at once instead.
  const stopped = new Promise<never>((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  try {
    return toTokenSet(await Promise.race([oidc.pollDeviceAuthorizationGrant(config, start, undefined, { signal }), stopped]));
  } catch (err) {
    if (opts.signal?.aborted) throw new JitError("unauthenticated", "login cancelled", { hint: LOGIN_HINT, cause: err });
    if (expiry.aborted) throw new JitError("unauthenticated", "the login code expired before sign-in finished", { hint: LOGIN_HINT, cause: err });
    throw toJitError(err, opts.issuer, "login");
  }
}

/** Trades a refresh token for fresh tokens; keeps the old refresh token when the IdP does not rotate it. */
export async function refreshTokens(opts: IdpClientOptions, refreshToken: string): Promise<TokenSet> {
  const { oidc, config } = await configure(opts);
  try {
    return toTokenSet(await oidc.refreshTokenGrant(config, refreshToken), refreshToken);
  } catch (err) {
    throw toJitError(err, opts.issuer, "token refresh");
  }
}

/** Revokes a refresh token where the IdP offers revocation; returns whether it was revoked. Never throws. */
export async function revokeRefreshToken(opts: IdpClientOptions, refreshToken: string): Promise<boolean> {
  try {
    const { oidc, config } = await configure(opts);
    if (!config.serverMetadata().revocation_endpoint) return false;
    await oidc.tokenRevocation(config, refreshToken, { token_type_hint: "refresh_token" });
    return true;
  } catch {
    // Best effort: logout goes on deleting the local tokens whatever the IdP says.
    return false;
  }
}
