import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { deviceLogin, refreshTokens, revokeRefreshToken } from "../../src/auth/device-login.ts";
import type { DeviceCodeInfo, TokenSet } from "../../src/auth/device-login.ts";
import { createTokenVerifier } from "../../src/broker/verify-token.ts";
import { JitError } from "../../src/errors.ts";
import { CLIENT_ID, SCOPES, startDevIdp } from "../idp/harness.ts";
import type { RunningIdp } from "../idp/harness.ts";

let running: RunningIdp;
let client: { issuer: string; clientId: string; allowInsecureHttp: boolean };
before(async () => {
  running = await startDevIdp({ pollIntervalSeconds: 1, idTokenTtlSeconds: 600 });
  client = { issuer: running.issuer, clientId: CLIENT_ID, allowInsecureHttp: true };
});
after(async () => { await running.close(); });

function isJitError(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof JitError, `expected a JitError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

/** Signs a demo user in the way tests and scripts do: onCode approves the code without a browser. */
async function loginAs(username: string): Promise<{ tokens: TokenSet; shown: DeviceCodeInfo; ms: number }> {
  let shown: DeviceCodeInfo | undefined;
  const started = performance.now();
  const tokens = await deviceLogin({
    ...client,
    scopes: SCOPES,
    onCode: async (info) => {
      shown = info;
      await running.idp.approveDevice({ user_code: info.userCode, username, password: username });
    },
  });
  return { tokens, shown: shown!, ms: performance.now() - started };
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

describe("device login against the dev IdP", () => {
  let first: TokenSet;
  const verify = () => createTokenVerifier({ issuer: running.issuer, audience: CLIENT_ID, groupsClaim: "groups" });

  test("approving the shown code yields an id_token with the user's groups that the broker accepts", async () => {
    const { tokens, shown, ms } = await loginAs("alice");
    first = tokens;
    assert.equal(shown.verificationUri, `${running.issuer}/device`);
    assert.equal(shown.verificationUriComplete, `${running.issuer}/device?user_code=${shown.userCode}`);
    assert.ok(shown.expiresIn > 0 && shown.expiresIn <= 600);
    assert.ok(tokens.refreshToken, "offline_access must yield a refresh token");
    const claims = claimsOf(tokens.idToken);
    assert.equal(tokens.expiresAt, claims.exp);
    assert.ok(Math.abs(tokens.expiresAt - (Date.now() / 1000 + 600)) < 30);
    assert.deepEqual(claims.groups, ["analysts"]);
    assert.equal(claims.aud, CLIENT_ID);
    assert.deepEqual(await verify()(tokens.idToken), { subject: "alice", username: "alice", email: "alice@example.com", groups: ["analysts"] });
    // One poll interval (1 s) plus a few ms of HTTP.
    assert.ok(ms < 3000, `login took ${ms} ms`);
  });

  test("refresh gives a new valid id_token and rotates the refresh token; the old one is then refused", async () => {
    const refreshed = await refreshTokens(client, first.refreshToken!);
    assert.notEqual(refreshed.idToken, first.idToken);
    assert.ok(refreshed.refreshToken && refreshed.refreshToken !== first.refreshToken);
    assert.equal((await verify()(refreshed.idToken)).username, "alice");
    await assert.rejects(refreshTokens(client, first.refreshToken!), isJitError("unauthenticated"));
  });

  test("a revoked refresh token can no longer be used", async () => {
    const { tokens } = await loginAs("carol");
    assert.equal(await revokeRefreshToken(client, tokens.refreshToken!), true);
    await assert.rejects(refreshTokens(client, tokens.refreshToken!), (err: unknown) => {
      isJitError("unauthenticated")(err);
      assert.equal((err as JitError).hint, "run: jit login");
      return true;
    });
  });

  test("a made-up refresh token is unauthenticated", async () => {
    await assert.rejects(refreshTokens(client, "not-a-real-token"), isJitError("unauthenticated"));
  });

  test("aborting while polling cancels the login", async () => {
    const controller = new AbortController();
    const login = deviceLogin({ ...client, scopes: SCOPES, signal: controller.signal, onCode: () => { setTimeout(() => controller.abort(), 50); } });
    await assert.rejects(login, isJitError("unauthenticated", /cancelled/));
  });

  test("an http issuer is refused unless insecure http is allowed", async () => {
    await assert.rejects(
      deviceLogin({ ...client, allowInsecureHttp: false, scopes: SCOPES, onCode: () => assert.fail("no code expected") }),
      isJitError("usage", /HTTPS/),
    );
  });
});

describe("device login when the IdP cannot be reached", () => {
  test("nothing listening is unreachable, for login, refresh and revocation alike", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const gone = { issuer: `http://127.0.0.1:${port}/oidc`, clientId: CLIENT_ID, allowInsecureHttp: true };
    await assert.rejects(deviceLogin({ ...gone, scopes: SCOPES, onCode: () => assert.fail("no code expected") }), isJitError("unreachable"));
    await assert.rejects(refreshTokens(gone, "x"), isJitError("unreachable"));
    assert.equal(await revokeRefreshToken(gone, "x"), false);
  });

  test("a server that is not an IdP is unreachable", async () => {
    const server = createServer((_req, res) => { res.writeHead(404, { "content-type": "text/plain" }).end("nope"); });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oidc`;
      await assert.rejects(
        deviceLogin({ issuer, clientId: CLIENT_ID, allowInsecureHttp: true, scopes: SCOPES, onCode: () => assert.fail("no code expected") }),
        isJitError("unreachable"),
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
