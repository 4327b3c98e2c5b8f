/** Signs a demo user in to a dev broker through the real device flow, confirming the code with the dev-only approve endpoint. */
import { deviceLogin, type TokenSet } from "../auth/device-login.ts";
import { DEV_CLIENT_ID, DEV_SCOPES } from "../broker/dev.ts";
import { JitError } from "../errors.ts";

/** Device login as `username` (password = user name) against `jit broker dev` at brokerUrl/issuer. */
export async function devSignIn(brokerUrl: string, issuer: string, username: string, password = username): Promise<TokenSet> {
  return deviceLogin({
    issuer,
    clientId: DEV_CLIENT_ID,
    scopes: DEV_SCOPES,
    allowInsecureHttp: true,
    onCode: async ({ userCode }) => {
      const res = await fetch(`${brokerUrl}/dev/device/approve`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user_code: userCode, username, password }),
      });
      if (!res.ok) throw new JitError("internal", `the dev IdP refused ${username}'s sign-in (HTTP ${res.status})`);
    },
  });
}
