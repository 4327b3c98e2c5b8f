/** `jit broker serve --check`: validates broker.yaml and every file it names without starting; exit 0, or 2 naming each problem. */
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runJit } from "../e2e/harness.ts";

let dir: string;
const env = () => ({ PATH: process.env.PATH, HOME: dir });

function writeConfig(name: string, extra: string[] = [], store = `store: { sqlite: ${join(dir, "data", "jit.db")} }`) {
  const file = join(dir, name);
  writeFileSync(file, [
    "listen: 127.0.0.1:0",
    'identity: { issuer: "https://idp.example.com", client_id: jit-cli }',
    `policy: ${join(dir, "policy.yaml")}`,
    store,
    "warehouse: { demo: true }",
    `masking: { hash_key_file: ${join(dir, "hash.key")} }`,
    ...extra,
  ].join("\n"));
  return file;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "jit-check-"));
  copyFileSync(new URL("../../data/demo/policy.yaml", import.meta.url), join(dir, "policy.yaml"));
  writeFileSync(join(dir, "hash.key"), "ef".repeat(32));
  chmodSync(join(dir, "hash.key"), 0o600);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("a good config and its files: exit 0, each file named, nothing started", async () => {
  const r = await runJit(["broker", "serve", "--config", writeConfig("good.yaml"), "--check"], env());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /good\.yaml: OK/);
  assert.match(r.stdout, /policy: .*policy\.yaml \(\d+ dataset rules\)/);
  assert.match(r.stdout, /masking\.hash_key_file: .*hash\.key \(32 bytes, mode 0600\)/);
  assert.doesNotMatch(r.stdout + r.stderr, /listening/);
  const json = await runJit(["broker", "serve", "--config", writeConfig("good.yaml"), "--check", "--json"], env());
  assert.equal(json.code, 0);
  assert.equal((JSON.parse(json.stdout) as { ok: boolean }).ok, true);
});

test("a broken policy, a loose key, a TLS pair that does not exist and a bad PostgreSQL URL: exit 2, every problem named", async () => {
  writeFileSync(join(dir, "bad-policy.yaml"), "version: 1\ndatasets:\n  - match: demo.sales\n    access:\n      - groups: [analysts]\n        approval: sometimes\n");
  writeFileSync(join(dir, "loose.key"), "ab".repeat(32));
  chmodSync(join(dir, "loose.key"), 0o644);
  const file = join(dir, "bad.yaml");
  writeFileSync(file, [
    "listen: 127.0.0.1:0",
    'identity: { issuer: "https://idp.example.com", client_id: jit-cli }',
    `policy: ${join(dir, "bad-policy.yaml")}`,
    "store: { postgres_env: JIT_CHECK_PG }",
    "warehouse: { demo: true }",
    `masking: { hash_key_file: ${join(dir, "loose.key")} }`,
    `tls: { cert_file: ${join(dir, "nope.crt")}, key_file: ${join(dir, "nope.key")} }`,
  ].join("\n"));
  const r = await runJit(["broker", "serve", "--config", file, "--check"], { ...env(), JIT_CHECK_PG: "mysql://root:hunter2@db.internal/jit" });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /4 problems with the files it names/);
  assert.match(r.stderr, /policy: invalid policy .*\n.*bad-policy\.yaml:6:\d+: datasets\[0\]\.access\[0\]\.approval/);
  assert.match(r.stderr, /masking\.hash_key_file: .*loose\.key is readable by others/);
  assert.match(r.stderr, /tls: cannot read tls\.key_file .*nope\.key: ENOENT/);
  assert.match(r.stderr, /store \(PostgreSQL URL\): the URL must start with postgres:\/\//);
  assert.doesNotMatch(r.stderr, /hunter2/, "the store URL's password is never printed");
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
});

test("an invalid broker.yaml is reported as such by --check too (exit 2)", async () => {
  const r = await runJit(["broker", "serve", "--config", writeConfig("keys.yaml", ["max_in_flight: 0"]), "--check"], env());
  assert.equal(r.code, 2);
  assert.match(r.stderr, /max_in_flight: must be a whole number/);
});
