/** Tokens at the CLI door: a forged token or a corrupt credentials entry is exit 3 with `jit login`, never a stack trace. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateKeyPair, SignJWT } from "jose";
import { type DevBrokerProcess, runJit, startBroker } from "./harness.ts";

describe("tokens at the door", { timeout: 60_000 }, () => {
  let broker: DevBrokerProcess;
  let file: string;
  let original: string;
  before(async () => {
    broker = await startBroker();
    assert.equal((await broker.login("alice")).code, 0);
    file = join(broker.env("alice").XDG_STATE_HOME!, "jit", "credentials.json");
    original = readFileSync(file, "utf8");
  });
  after(async () => {
    await broker?.stop();
  });

  const storeEntry = (entry: string) => {
    const stored = JSON.parse(original) as { version: 1; entries: Record<string, string> };
    stored.entries[broker.url] = entry;
    writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
  };

  test("a token signed by another key, claiming the right issuer and audience, is refused (exit 3)", async () => {
    const session = JSON.parse((JSON.parse(original) as { entries: Record<string, string> }).entries[broker.url]!) as Record<string, unknown>;
    const { privateKey } = await generateKeyPair("ES256");
    const header = JSON.parse(Buffer.from(String(session.id_token).split(".")[0]!, "base64url").toString()) as { kid: string };
    const forged = await new SignJWT({ preferred_username: "alice", groups: ["data-owners", "platform-admins"] })
      .setProtectedHeader({ alg: "ES256", kid: header.kid })
      .setIssuer(`${broker.url}/oidc`).setAudience("jit-cli").setSubject("alice").setIssuedAt().setExpirationTime("1h")
      .sign(privateKey);
    storeEntry(JSON.stringify({ ...session, id_token: forged }));
    const r = await runJit(["grants", "--json"], broker.env("alice"));
    assert.equal(r.code, 3, r.stderr);
    const err = JSON.parse(r.stderr) as { error: { code: string; message: string; hint: string } };
    assert.equal(err.error.code, "unauthenticated");
    assert.match(err.error.hint, /jit login/);
    assert.ok(!r.stderr.includes(forged), "the token is not echoed");

    // The refused sign-in is on the record (for auditors), without the token.
    assert.equal((await broker.login("dave")).code, 0);
    const list = await runJit(["audit", "list", "--action", "authenticate", "--json"], broker.env("dave"));
    assert.equal(list.code, 0, list.stderr);
    const records = (JSON.parse(list.stdout) as { records: Array<{ actor: string; outcome: string; details: { path: string; why: string } }> }).records;
    const refused = records.find((x) => x.details.path === "/v1/grants");
    assert.ok(refused, list.stdout);
    assert.equal(refused.actor, "anonymous");
    assert.equal(refused.outcome, "denied");
    assert.ok(!list.stdout.includes(forged.split(".")[2]!), "no token in the audit log");
  });

  test("a corrupt credentials entry is exit 3 with a way out", async () => {
    storeEntry("{not json");
    const r = await runJit(["whoami"], broker.env("alice"));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /unreadable/);
    assert.match(r.stderr, /jit logout/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
