/**
 * The IdP's keys, cached: one fetch for many tokens; an unknown kid triggers one refresh, rate-limited; with the IdP
 * down, tokens signed by cached keys still verify past the refresh interval (until they expire) and the status says
 * degraded; once the IdP is back, a probe makes it ok again.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { createTokenVerifier } from "../../src/broker/verify-token.ts";
import { JitError } from "../../src/errors.ts";

const ISSUER = "https://idp.example.test";
const AUD = "jit-cli";

async function key(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } as JWK };
}
type Key = Awaited<ReturnType<typeof key>>;
const sign = (k: Key, sub = "alice", ttlS = 600) =>
  new SignJWT({ groups: ["analysts"], preferred_username: sub }).setProtectedHeader({ alg: "ES256", kid: k.kid })
    .setIssuer(ISSUER).setAudience(AUD).setSubject(sub).setIssuedAt().setExpirationTime(`${ttlS}s`).sign(k.privateKey);

/** A JWKS endpoint that counts fetches and can be stopped and started again on the same port. */
async function jwksServer(keys: Key[]) {
  let fetches = 0;
  let server: Server;
  let port = 0;
  const start = () => new Promise<void>((resolve) => {
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
    });
    server.listen(port, "127.0.0.1", () => { port = (server.address() as AddressInfo).port; resolve(); });
  });
  await start();
  return {
    uri: `http://127.0.0.1:${port}/jwks`,
    keys,
    get fetches() { return fetches; },
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    start,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("many tokens, one fetch; an unknown kid triggers exactly one refresh, and a flood of forged kids no more", async () => {
  const k1 = await key("k1");
  const idp = await jwksServer([k1]);
  try {
    const verify = createTokenVerifier({ issuer: ISSUER, audience: AUD, jwksUri: idp.uri, groupsClaim: "groups", jwksCooldownMs: 300 });
    assert.equal(verify.status().state, "starting");
    for (let i = 0; i < 5; i++) assert.equal((await verify(await sign(k1))).subject, "alice");
    assert.equal(idp.fetches, 1);
    assert.equal(verify.status().state, "ok");

    // The IdP rotates in a new key; the first token signed with it makes the broker look again, once.
    await sleep(310);
    const k2 = await key("k2");
    idp.keys.push(k2);
    assert.equal((await verify(await sign(k2, "bob"))).subject, "bob");
    assert.equal(idp.fetches, 2);

    // Kids the IdP never published: refused, and within the cooldown they cost the IdP nothing.
    const forged = await key("forged");
    for (let i = 0; i < 10; i++) {
      await assert.rejects(verify(await sign(forged)), (e: unknown) => e instanceof JitError && e.code === "unauthenticated" && /key the identity provider does not publish/.test(e.message));
    }
    assert.equal(idp.fetches, 2);
    await sleep(310);
    await assert.rejects(verify(await sign(forged)));
    assert.equal(idp.fetches, 3, "after the cooldown, one more look");
  } finally {
    await idp.stop();
  }
});

test("with the IdP down, cached keys keep verifying past the refresh interval and the status is degraded; back up, ok", async () => {
  const k1 = await key("k1");
  const idp = await jwksServer([k1]);
  const verify = createTokenVerifier({ issuer: ISSUER, audience: AUD, jwksUri: idp.uri, groupsClaim: "groups", jwksCooldownMs: 100, jwksMaxAgeMs: 200 });
  const token = await sign(k1);
  try {
  assert.equal((await verify(token)).subject, "alice");
  await idp.stop();
  await sleep(250);
  // Stale keys: this request is answered from the cache while a refresh is tried beside it (and fails).
  assert.equal((await verify(token)).subject, "alice");
  await sleep(150);
  assert.equal(verify.status().state, "degraded");
  assert.match(verify.status().lastError ?? "", /fetch failed|ECONNREFUSED/);
  for (let i = 0; i < 3; i++) {
    await sleep(120);
    assert.equal((await verify(token)).subject, "alice", "still verifies while the IdP is down");
  }
  // An expired token is refused whatever the cache holds.
  const expired = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(ISSUER).setAudience(AUD).setSubject("alice")
    .setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(k1.privateKey);
  await assert.rejects(verify(expired), (e: unknown) => e instanceof JitError && /expired/.test(e.message));

  await idp.start();
  // Probes (readiness) poke the cache; within the cooldown a poke does nothing, so a few are needed.
  for (let i = 0; i < 50 && verify.status().state !== "ok"; i++) {
    verify.poke(0);
    await sleep(20);
  }
  assert.equal(verify.status().state, "ok", JSON.stringify(verify.status()));
  } finally {
    await idp.stop().catch(() => {});
  }
});

test("no keys yet and the IdP down: refused as unreachable (exit 7), retried at most once a second", async () => {
  const k1 = await key("k1");
  const idp = await jwksServer([k1]);
  await idp.stop();
  const verify = createTokenVerifier({ issuer: ISSUER, audience: AUD, jwksUri: idp.uri, groupsClaim: "groups" });
  const token = await sign(k1);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(verify(token), (e: unknown) => e instanceof JitError && e.code === "unreachable" && /signing keys/.test(e.message));
  }
  assert.equal(verify.status().state, "starting");
  assert.equal(verify.status().fetches, 1);
});

test("a verified token is remembered: no second signature check, yet it still expires on time and dies with a withdrawn key", async () => {
  const k1 = await key("k1");
  const idp = await jwksServer([k1]);
  let nowMs = Date.now();
  try {
    const verify = createTokenVerifier({ issuer: ISSUER, audience: AUD, jwksUri: idp.uri, groupsClaim: "groups", jwksCooldownMs: 0, jwksMaxAgeMs: 0, now: () => nowMs });
    assert.equal((await verify(await sign(k1, "carol"))).subject, "carol", "the keys are fetched");
    const token = await sign(k1, "alice", 600);
    const first = await verify(token);
    // Mutating what a caller got back changes nothing for the next request with the same token.
    first.groups.push("platform-admins");
    assert.deepEqual((await verify(token)).groups, ["analysts"]);
    assert.deepEqual(verify.stats(), { checked: 2, remembered: 1 }, "the second request with alice's token did not check it again");

    // Past exp (beyond the 30 s clock tolerance) the remembered token is refused as jose would refuse it.
    nowMs += 631_000;
    await assert.rejects(verify(token), (e: unknown) => e instanceof JitError && e.code === "unauthenticated" && /expired/.test(e.message));
    nowMs -= 631_000;
    assert.equal((await verify(token)).subject, "alice", "back inside its lifetime (a test clock), verified afresh");

    // The IdP withdraws k1 (rotated to k2). Once the broker has the new key set, the token signed by k1 is refused
    // even though it was remembered as verified.
    const k2 = await key("k2");
    idp.keys.splice(0, 1, k2);
    // The broker learns of the new set by a refresh (a probe's poke here); a fetch that was already on its way may
    // still bring the old set, so look again until one brings the new one (at most 2 s).
    let refused: unknown;
    for (let i = 0; i < 100 && !refused; i++) {
      verify.poke(0);
      await sleep(20);
      refused = await verify(token).then(() => undefined, (e: unknown) => e);
    }
    assert.ok(refused instanceof JitError && refused.code === "unauthenticated", `the withdrawn key's token is refused (${String(refused)})`);
    assert.equal((await verify(await sign(k2, "bob"))).subject, "bob");
  } finally {
    await idp.stop();
  }
});

test("a refused token is not remembered: the same bytes are checked again (a key the IdP publishes later makes it pass)", async () => {
  const k1 = await key("k1");
  const idp = await jwksServer([k1]);
  try {
    const verify = createTokenVerifier({ issuer: ISSUER, audience: AUD, jwksUri: idp.uri, groupsClaim: "groups", jwksCooldownMs: 0 });
    const k2 = await key("k2");
    const token = await sign(k2, "bob");
    await assert.rejects(verify(token));
    idp.keys.push(k2);
    assert.equal((await verify(token)).subject, "bob");
    assert.deepEqual(verify.stats(), { checked: 2, remembered: 0 });
  } finally {
    await idp.stop();
  }
});
