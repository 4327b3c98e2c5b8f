/** `jit login` (OIDC device flow against the broker's identity provider) and `jit logout`. */
import { JitError } from "../../errors.ts";
import { loadSession, sessionFromTokens } from "../../auth/session.ts";
import { isLoopbackHttp } from "../../net/loopback.ts";
import { loadConfig, saveConfig } from "../config.ts";
import type { CliContext } from "../context.ts";
import { jitName, printJson } from "./util.ts";

interface LoginSettings {
  issuer: string;
  client_id: string;
  scopes: string;
}

function hasDisplay(env: NodeJS.ProcessEnv, platform: string): boolean {
  if (platform === "darwin" || platform === "win32") return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/** Signs in through the device flow and stores the tokens in the credential store. */
export async function loginCommand(ctx: CliContext, opts: { browser: boolean }): Promise<void> {
  const { io } = ctx;
  const brokerUrl = ctx.brokerUrl();
  const client = await ctx.client({ auth: false });
  const settings = await client.get<LoginSettings>("/v1/login-settings", { auth: false });
  if (typeof settings.issuer !== "string" || typeof settings.client_id !== "string") {
    throw new JitError("unreachable", `${brokerUrl} did not return login settings`, { hint: "check the broker URL" });
  }
  const issuerUrl = new URL(settings.issuer);
  if (issuerUrl.protocol !== "https:" && !isLoopbackHttp(settings.issuer)) {
    throw new JitError("unauthenticated", `the broker names an identity provider over plain http (${settings.issuer}); refused`, {
      hint: "configure the broker with an https issuer",
    });
  }
  const store = await ctx.credentials({ announce: true });
  // Probe the store before the person signs in: no keychain must fail now, not after the browser dance.
  await store.get(brokerUrl);
  const { deviceLogin } = await import("../../auth/device-login.ts");
  const tokens = await deviceLogin({
    issuer: settings.issuer,
    clientId: settings.client_id,
    scopes: settings.scopes,
    allowInsecureHttp: isLoopbackHttp(settings.issuer),
    onCode: async (info) => {
      io.err(`To sign in, open ${io.colorErr.bold(info.verificationUri)} and enter the code ${io.colorErr.bold(info.userCode)}`);
      if (info.verificationUriComplete) io.err(`(or open ${info.verificationUriComplete})`);
      if (opts.browser && hasDisplay(io.env, process.platform) && info.verificationUriComplete) {
        try {
          const open = (await import("open")).default;
          await open(info.verificationUriComplete);
        } catch {
          // The URL and code are printed above; a browser that fails to open changes nothing.
        }
      }
      io.err("Waiting for you to sign in...");
    },
  });
  const session = sessionFromTokens(tokens, settings.issuer, settings.client_id);
  await store.set(brokerUrl, JSON.stringify(session));
  const cfg = loadConfig(io.env);
  if (cfg.broker !== brokerUrl) saveConfig(io.env, { ...cfg, broker: brokerUrl });
  const me = await (await ctx.client()).get<{ username: string; groups: string[] }>("/v1/whoami");
  if (ctx.flags.json) {
    printJson(ctx, { broker: brokerUrl, username: me.username, groups: me.groups, expires_at: new Date(session.expires_at * 1000).toISOString(), credential_store: store.kind });
  } else {
    io.err(`Signed in to ${brokerUrl} as ${io.colorErr.bold(me.username)} (groups: ${me.groups.join(", ") || "none"}); tokens kept in the ${store.kind === "file" ? `file ${store.location}` : "OS keychain"}.`);
    const jit = jitName(io.env);
    io.err(`Next: ${jit} datasets (what you may use), then ${jit} request DATASET --reason TEXT`);
  }
}

/** Deletes the stored tokens for the broker and revokes the refresh token where the IdP supports it. */
export async function logoutCommand(ctx: CliContext): Promise<void> {
  const brokerUrl = ctx.brokerUrl();
  const store = await ctx.credentials();
  let session;
  try {
    session = await loadSession(store, brokerUrl);
  } catch {
    session = undefined; // unreadable entry: delete it all the same
  }
  if (session?.refresh_token) {
    const { revokeRefreshToken } = await import("../../auth/device-login.ts");
    await revokeRefreshToken({ issuer: session.issuer, clientId: session.client_id, allowInsecureHttp: isLoopbackHttp(session.issuer) }, session.refresh_token).catch(() => {});
  }
  const deleted = await store.delete(brokerUrl);
  if (ctx.flags.json) printJson(ctx, { broker: brokerUrl, signed_out: deleted });
  else ctx.io.err(deleted ? `Signed out of ${brokerUrl}.` : `You were not signed in to ${brokerUrl}.`);
}
