import assert from "node:assert/strict";
import { after, before, describe, mock, test } from "node:test";
import { deviceLogin } from "../../src/auth/device-login.ts";
import type { DeviceCodeInfo, TokenSet } from "../../src/auth/device-login.ts";
import { createTokenVerifier } from "../../src/broker/verify-token.ts";
import { JitError } from "../../src/errors.ts";
import { browser, CLIENT_ID, SCOPES, startDevIdp } from "./harness.ts";
import type { RunningIdp } from "./harness.ts";

let running: RunningIdp;
before(async () => { running = await startDevIdp({ pollIntervalSeconds: 1 }); });
after(async () => { await running.close(); });

/** Starts a device authorization straight at the provider, as a CLI would, without polling. */
async function startDeviceAuthorization(): Promise<{ user_code: string; verification_uri: string; verification_uri_complete: string; interval: number }> {
  const res = await fetch(`${running.issuer}/device/auth`, {
    method: "POST",
    body: new URLSearchParams({ client_id: CLIENT_ID, scope: SCOPES }),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as Awaited<ReturnType<typeof startDeviceAuthorization>>;
}

/** Runs deviceLogin in the background and hands back the code it shows. */
function loginInBackground(signal?: AbortSignal): { code: Promise<DeviceCodeInfo>; tokens: Promise<TokenSet> } {
  let shown!: (info: DeviceCodeInfo) => void;
  const code = new Promise<DeviceCodeInfo>((resolve) => { shown = resolve; });
  const tokens = deviceLogin({ issuer: running.issuer, clientId: CLIENT_ID, scopes: SCOPES, allowInsecureHttp: true, onCode: shown, signal });
  tokens.catch(() => {});
  return { code, tokens };
}

function assertJitError(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof JitError, `expected a JitError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

describe("dev IdP mounted under /oidc", () => {
  test("discovery names the mounted issuer and its device endpoint", async () => {
    const doc = (await (await fetch(`${running.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(doc.issuer, running.issuer);
    assert.equal(doc.device_authorization_endpoint, `${running.issuer}/device/auth`);
    assert.equal(doc.jwks_uri, `${running.issuer}/jwks`);
    assert.ok((doc.grant_types_supported as string[]).includes("urn:ietf:params:oauth:grant-type:device_code"));
  });

  test("the device authorization response carries the polling interval", async () => {
    const start = await startDeviceAuthorization();
    assert.equal(start.interval, 1);
    assert.equal(start.verification_uri, `${running.issuer}/device`);
    assert.match(start.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  });

  test("a person signs in through the HTML pages and the CLI's polling then succeeds", async () => {
    const login = loginInBackground();
    const info = await login.code;
    assert.ok(info.verificationUriComplete);
    const b = browser();

    // verification_uri_complete posts the code on by itself (a no-JS browser gets a Continue button).
    const autoPost = await b.get(info.verificationUriComplete);
    assert.equal(autoPost.status, 200);
    const confirm = await b.submit(autoPost);
    assert.equal(confirm.status, 200);
    assert.match(confirm.html, new RegExp(info.userCode));
    const signIn = await b.submit(confirm, {}, "op.deviceConfirmForm");
    assert.equal(signIn.status, 200);
    assert.match(signIn.url, /\/oidc\/interaction\//);
    assert.match(signIn.html, /name="password"/);

    const wrong = await b.submit(signIn, { username: "bob", password: "alice" });
    assert.equal(wrong.status, 401);
    assert.match(wrong.html, /Wrong user name or password/);

    const done = await b.submit(wrong, { username: "bob", password: "bob" });
    assert.equal(done.status, 200);
    assert.match(done.html, /You are signed in/);

    const tokens = await login.tokens;
    const verify = createTokenVerifier({ issuer: running.issuer, audience: CLIENT_ID, groupsClaim: "groups" });
    assert.deepEqual(await verify(tokens.idToken), { subject: "bob", username: "bob", email: "bob@example.com", groups: ["data-owners"] });
  });

  test("a code typed on the code page that does not exist is refused on the page", async () => {
    const b = browser();
    const start = await startDeviceAuthorization();
    const input = await b.get(start.verification_uri);
    assert.match(input.html, /name="user_code"/);
    const refused = await b.submit(input, { user_code: "BBBB-BBBB" });
    assert.match(refused.html, /not valid/);
  });

  test("cancelling on the sign-in page ends the CLI's login as unauthenticated", async () => {
    const login = loginInBackground();
    const info = await login.code;
    const b = browser();
    const confirm = await b.submit(await b.get(info.verificationUriComplete!));
    const signIn = await b.submit(confirm, {}, "op.deviceConfirmForm");
    const cancelled = await b.submit(signIn, { abort: "yes" });
    assert.doesNotMatch(cancelled.html, /You are signed in/);
    await assert.rejects(login.tokens, assertJitError("unauthenticated", /denied/));
  });

  test("approveDevice: a wrong password or an unknown user is unauthenticated", async () => {
    const { user_code } = await startDeviceAuthorization();
    await assert.rejects(running.idp.approveDevice({ user_code, username: "alice", password: "bob" }), assertJitError("unauthenticated"));
    await assert.rejects(running.idp.approveDevice({ user_code, username: "mallory", password: "mallory" }), assertJitError("unauthenticated"));
    // The failed attempts did not burn the code.
    assert.deepEqual(await running.idp.approveDevice({ user_code, username: "alice", password: "alice" }), { username: "alice" });
  });

  test("approveDevice: an unknown or already used code is a usage error", async () => {
    await assert.rejects(running.idp.approveDevice({ user_code: "BBBB-BBBB", username: "alice", password: "alice" }), assertJitError("usage", /no pending device login/));
    const { user_code } = await startDeviceAuthorization();
    // Codes are matched the way people type them: any case, with or without the dash.
    await running.idp.approveDevice({ user_code: user_code.toLowerCase().replace("-", " "), username: "dave", password: "dave" });
    await assert.rejects(running.idp.approveDevice({ user_code, username: "dave", password: "dave" }), assertJitError("usage", /already used/));
  });

  test("approveDevice: an expired code is a usage error", async () => {
    const { user_code } = await startDeviceAuthorization();
    mock.timers.enable({ apis: ["Date"], now: Date.now() + 11 * 60 * 1000 });
    try {
      await assert.rejects(running.idp.approveDevice({ user_code, username: "alice", password: "alice" }), assertJitError("usage", /expire/));
    } finally {
      mock.timers.reset();
    }
  });

  test("the broker's approve route reaches approveDevice", async () => {
    const { user_code } = await startDeviceAuthorization();
    const origin = new URL(running.issuer).origin;
    const res = await fetch(`${origin}/dev/device/approve`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_code, username: "carol", password: "carol" }),
    });
    assert.deepEqual(await res.json(), { username: "carol" });
  });

  test("paths that only start like the mount are not served", async () => {
    let status = 0;
    running.idp.handle(
      { url: "/oidcx/jwks", method: "GET", headers: {} } as never,
      { writeHead(s: number) { status = s; return this; }, end() {} } as never,
    );
    assert.equal(status, 404);
  });
});
