// The broker's bearer-token check (src/broker/verify-token.ts), against a small issuer this test controls,
// so that each check (issuer, audience, time, signature) can be failed on its own.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import type { CryptoKey, JWTPayload } from "jose";
import { createBrokerHandler } from "../../src/broker/server.ts";
import type { BrokerDeps } from "../../src/broker/context.ts";
import { createTokenVerifier } from "../../src/broker/verify-token.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";
import { JitError } from "../../src/errors.ts";

const KID = "key-1";
const NOW_S = 1_900_000_000;
const now = () => NOW_S * 1000;

let server: Server;
let issuer: string;
let signingKey: CryptoKey;
let publicKey: CryptoKey;
let otherKey: CryptoKey;
let jwksRequests = 0;

before(async () => {
  const pair = await generateKeyPair("ES256");
  signingKey = pair.privateKey;
  publicKey = pair.publicKey;
  otherKey = (await generateKeyPair("ES256")).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: "ES256", use: "sig" };
  server = createServer((req, res) => {
    if (req.url === "/idp/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    } else if (req.url === "/idp/jwks") {
      jwksRequests++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/idp`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function sign(claims: JWTPayload, opts: { key?: CryptoKey | Uint8Array; kid?: string; alg?: string; typ?: string } = {}): Promise<string> {
  return new SignJWT({ sub: "u-1", preferred_username: "alice", email: "alice@example.com", groups: ["analysts"], ...claims })
    .setProtectedHeader({ alg: opts.alg ?? "ES256", kid: opts.kid ?? KID, ...(opts.typ ? { typ: opts.typ } : {}) })
    .setIssuer(typeof claims.iss === "string" ? claims.iss : issuer)
    .setAudience(claims.aud ?? "jit-cli")
    .setIssuedAt(typeof claims.iat === "number" ? claims.iat : NOW_S - 60)
    .setExpirationTime(typeof claims.exp === "number" ? claims.exp : NOW_S + 3600)
    .sign(opts.key ?? signingKey);
}

const verifier = (extra: { groupsClaim?: string; jwksUri?: string; now?: () => number; maxTokenAgeSeconds?: number } = {}) =>
  createTokenVerifier({
    issuer, audience: "jit-cli", groupsClaim: extra.groupsClaim ?? "groups", now: extra.now ?? now,
    ...(extra.jwksUri ? { jwksUri: extra.jwksUri } : {}), ...(extra.maxTokenAgeSeconds ? { maxTokenAgeSeconds: extra.maxTokenAgeSeconds } : {}),
  });

function rejectedAs(code: string, pattern: RegExp, token?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof JitError, `expected a JitError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    if (code === "unauthenticated") assert.equal(err.hint, "run: jit login");
    if (token) assert.ok(!err.message.includes(token) && !JSON.stringify(err.toJSON()).includes(token), "the token must not leak");
    return true;
  };
}

describe("createTokenVerifier", () => {
  test("a valid token becomes a principal, finding the keys through discovery", async () => {
    assert.deepEqual(await verifier()(await sign({})), { subject: "u-1", username: "alice", email: "alice@example.com", groups: ["analysts"] });
  });

  test("username falls back to email, then to sub; groups come from the configured claim", async () => {
    const verify = verifier({ groupsClaim: "roles" });
    const p1 = await verify(await sign({ preferred_username: undefined, roles: ["x", "y"] }));
    assert.equal(p1.username, "alice@example.com");
    assert.deepEqual(p1.groups, ["x", "y"]);
    const p2 = await verify(await sign({ preferred_username: undefined, email: undefined }));
    assert.equal(p2.username, "u-1");
    assert.equal(p2.email, undefined);
    assert.deepEqual(p2.groups, [], "no roles claim: no groups");
  });

  test("a groups claim that is not an array of strings grants no groups", async () => {
    const verify = verifier();
    assert.deepEqual((await verify(await sign({ groups: "analysts" }))).groups, []);
    assert.deepEqual((await verify(await sign({ groups: ["analysts", 7] }))).groups, []);
  });

  test("a token from another issuer is refused", async () => {
    const token = await sign({ iss: "http://127.0.0.1:1/other" });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /another identity provider/, token));
  });

  test("a token for another audience is refused", async () => {
    const token = await sign({ aud: "some-other-app" });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /another audience/, token));
  });

  test("an expired token is refused, judged by the injected clock", async () => {
    const token = await sign({ exp: NOW_S + 600 });
    assert.equal((await verifier()(token)).subject, "u-1");
    const later = () => (NOW_S + 2 * 3600) * 1000;
    await assert.rejects(verifier({ now: later })(token), rejectedAs("unauthenticated", /expired/, token));
  });

  test("a token signed by another key under the same kid and issuer is refused", async () => {
    const token = await sign({}, { key: otherKey });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /signature/, token));
  });

  test("a symmetric (HS256) token is refused even with a matching kid", async () => {
    const token = await sign({}, { alg: "HS256", key: new TextEncoder().encode("x".repeat(32)) as unknown as CryptoKey });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /algorithm/, token));
  });

  test("garbage is refused as malformed", async () => {
    await assert.rejects(verifier()("not-a-jwt"), rejectedAs("unauthenticated", /malformed/));
    await assert.rejects(verifier()("a.b.c"), rejectedAs("unauthenticated", /malformed/));
  });

  test("an explicit jwksUri is used as given", async () => {
    const before = jwksRequests;
    assert.equal((await verifier({ jwksUri: `${issuer}/jwks` })(await sign({}))).subject, "u-1");
    assert.equal(jwksRequests, before + 1);
  });

  test("keys that cannot be fetched are unreachable, not unauthenticated", async () => {
    const token = await sign({});
    await assert.rejects(verifier({ jwksUri: "http://127.0.0.1:1/jwks" })(token), rejectedAs("unreachable", /signing keys/, token));
    const lost = createTokenVerifier({ issuer: "http://127.0.0.1:1/idp", audience: "jit-cli", groupsClaim: "groups", now });
    await assert.rejects(lost(token), rejectedAs("unreachable", /discovery/, token));
  });

  test("a token that is not valid yet (nbf in the future) is refused", async () => {
    const token = await sign({ nbf: NOW_S + 600 });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /not valid yet/, token));
  });

  test("an unsigned token (alg none) is refused", async () => {
    const token = new UnsecuredJWT({ sub: "u-1", groups: ["platform-admins"] }).setIssuer(issuer).setAudience("jit-cli").setIssuedAt(NOW_S - 60).setExpirationTime(NOW_S + 3600).encode();
    assert.equal(token.split(".").length, 3);
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /algorithm/, token));
  });

  test("an HS256 token keyed with the issuer's published public key is refused (algorithm confusion)", async () => {
    const pem = new TextEncoder().encode(await exportSPKI(publicKey));
    const token = await sign({ groups: ["platform-admins"] }, { alg: "HS256", key: pem });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /algorithm/, token));
  });

  test("an opaque (non-JWT) access token is refused as malformed", async () => {
    for (const opaque of ["ya29.a0AfH6SMBx3example-opaque-token", "0123456789abcdef0123456789abcdef", "a.b.c.d.e"]) {
      await assert.rejects(verifier()(opaque), rejectedAs("unauthenticated", /malformed/, opaque));
    }
  });

  test("another broker's token (its own issuer and keys, the same client id) is refused", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    const token = await sign({ iss: "http://127.0.0.1:9/oidc" }, { key: privateKey, kid: "other-broker" });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /key the identity provider does not publish/, token));
  });

  test("several audiences without azp are refused", async () => {
    const token = await sign({ aud: ["jit-cli", "some-other-app"] });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /several audiences.*azp/, token));
  });

  test("several audiences with another client's azp are refused; with jit's client id as azp they pass", async () => {
    const token = await sign({ aud: ["jit-cli", "some-other-app"], azp: "some-other-app" });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /another client \(azp\)/, token));
    assert.equal((await verifier()(await sign({ aud: ["jit-cli", "some-other-app"], azp: "jit-cli" }))).subject, "u-1");
  });

  test("a single audience with another client's azp is refused", async () => {
    const token = await sign({ azp: "some-other-app" });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /another client \(azp\)/, token));
  });

  test("azp is checked against the client id when broker.yaml names a separate audience", async () => {
    const verify = createTokenVerifier({ issuer, audience: "api://jit", clientId: "jit-cli", groupsClaim: "groups", now });
    assert.equal((await verify(await sign({ aud: ["api://jit", "jit-cli"], azp: "jit-cli" }))).subject, "u-1");
    const token = await sign({ aud: ["api://jit", "jit-cli"], azp: "api://jit" });
    await assert.rejects(verify(token), rejectedAs("unauthenticated", /another client/, token));
  });

  test("an access token (typ at+jwt, RFC 9068) is refused where an id_token is expected", async () => {
    for (const typ of ["at+jwt", "application/at+JWT"]) {
      const token = await sign({}, { typ });
      await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /access token \(typ at\+jwt\)/, token));
    }
    assert.equal((await verifier()(await sign({}, { typ: "JWT" }))).subject, "u-1", "typ JWT is an ordinary id_token");
  });

  test("iat in the future beyond the clock skew is refused; within it, accepted", async () => {
    const token = await sign({ iat: NOW_S + 300, exp: NOW_S + 3900 });
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /issued in the future/, token));
    assert.equal((await verifier()(await sign({ iat: NOW_S + 10 }))).subject, "u-1", "10 s ahead is clock skew");
  });

  test("a token without iat is refused", async () => {
    const token = await new SignJWT({ sub: "u-1" }).setProtectedHeader({ alg: "ES256", kid: KID }).setIssuer(issuer).setAudience("jit-cli").setExpirationTime(NOW_S + 3600).sign(signingKey);
    await assert.rejects(verifier()(token), rejectedAs("unauthenticated", /iat/, token));
  });

  test("a lifetime beyond the maximum (24 h by default, or as configured) is refused", async () => {
    const long = await sign({ iat: NOW_S - 60, exp: NOW_S - 60 + 25 * 3600 });
    await assert.rejects(verifier()(long), rejectedAs("unauthenticated", /lives longer than the broker accepts \(1d1h, at most 1d\)/, long));
    assert.equal((await verifier()(await sign({ iat: NOW_S - 60, exp: NOW_S - 60 + 24 * 3600 }))).subject, "u-1", "exactly 24 h is allowed");
    const twoHours = await sign({ iat: NOW_S - 60, exp: NOW_S - 60 + 2 * 3600 });
    assert.equal((await verifier()(twoHours)).subject, "u-1");
    await assert.rejects(verifier({ maxTokenAgeSeconds: 3600 })(twoHours), rejectedAs("unauthenticated", /at most 1h/, twoHours));
  });

  test("at the broker's door each refused claim is a 401, audited as a refused sign-in without the token", async () => {
    const store = openSqliteStore(":memory:");
    const deps = { store, verifyToken: verifier(), now, log: () => {}, policy: () => ({}) } as unknown as BrokerDeps;
    const handler = createBrokerHandler(deps);
    const broker = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => broker.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(broker.address() as AddressInfo).port}/v1/grants`;
      const cases: Array<[string, string]> = [
        [await sign({ aud: ["jit-cli", "some-other-app"] }), "several audiences"],
        [await sign({}, { typ: "at+jwt" }), "access token"],
        [await sign({ iat: NOW_S + 3600, exp: NOW_S + 7200 }), "issued in the future"],
        [await sign({ iat: NOW_S - 60, exp: NOW_S + 48 * 3600 }), "lives longer"],
      ];
      for (const [token, why] of cases) {
        const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 401, why);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, "unauthenticated");
      }
      const records = await store.listAudit({ action: "authenticate" });
      assert.deepEqual(records.map((r) => [r.actor, r.outcome]), cases.map(() => ["anonymous", "denied"]));
      cases.forEach(([token, why], i) => {
        assert.match(String(records[i]!.details.why), new RegExp(why));
        assert.ok(!JSON.stringify(records[i]).includes(token.split(".")[2]!), "no token in the audit log");
      });
    } finally {
      broker.closeAllConnections();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await store.close();
    }
  });
});
