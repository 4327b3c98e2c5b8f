/** `jit broker serve` from broker.yaml: config errors all at once, no dev endpoints, an external IdP, policy reloads. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startDevIdp, type RunningIdp } from "../idp/harness.ts";
import { JIT_BIN, loginWith, runJit, userEnv } from "./harness.ts";

const DEMO_POLICY = new URL("../../data/demo/policy.yaml", import.meta.url);

const loginVia = async (idp: RunningIdp, env: NodeJS.ProcessEnv, user: string): Promise<number> =>
  (await loginWith(env, async (code) => void (await idp.idp.approveDevice({ user_code: code, username: user, password: user })))).code;

describe("jit broker serve", { timeout: 90_000 }, () => {
  let dir: string;
  let idp: RunningIdp;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "jit-serve-"));
    idp = await startDevIdp();
  });
  after(async () => {
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a broken broker.yaml is reported all at once with paths, exit 2", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "listen: nowhere\nidentity: { issuer: http://idp.example.com }\nstore: {}\nwarehouse: { bigquery: { project_id: X } }\nsurprise: 1\n");
    const r = await runJit(["broker", "serve", "--config", file], userEnv(dir, undefined));
    assert.equal(r.code, 2);
    for (const path of ["listen", "identity.issuer", "identity.client_id", "policy", "store", "warehouse.bigquery.project_id", "masking.hash_key_file", "surprise"]) {
      assert.match(r.stderr, new RegExp(`${path.replaceAll(".", "\\.")}: `), `missing ${path} in:\n${r.stderr}`);
    }
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  test("serves the API with an external IdP, never the dev endpoints, and reloads the policy on SIGHUP and on change", async () => {
    const policy = join(dir, "policy.yaml");
    copyFileSync(DEMO_POLICY, policy);
    const key = join(dir, "hash.key");
    writeFileSync(key, "ab".repeat(32));
    chmodSync(key, 0o600);
    const config = join(dir, "broker.yaml");
    writeFileSync(config, [
      "listen: 127.0.0.1:0",
      `identity: { issuer: "${idp.issuer}", client_id: jit-cli }`,
      `policy: ${policy}`,
      `store: { sqlite: ${join(dir, "jit.db")} }`,
      "warehouse: { demo: true }",
      `masking: { hash_key_file: ${key} }`,
    ].join("\n"));
    const child = spawn(process.execPath, [JIT_BIN, "broker", "serve", "--config", config, "--json"], { env: { PATH: process.env.PATH, HOME: dir }, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stderr.on("data", (d) => (log += d));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          try {
            resolve((JSON.parse(out) as { url: string }).url);
          } catch {
            // partial
          }
        });
        child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${log}`)));
      });
      assert.equal((await fetch(`${url}/dev/device/approve`, { method: "POST", body: "{}" })).status, 404);
      assert.equal((await fetch(`${url}/oidc/.well-known/openid-configuration`)).status, 404);
      const settings = (await (await fetch(`${url}/v1/login-settings`)).json()) as { issuer: string };
      assert.equal(settings.issuer, idp.issuer);

      const env = userEnv(join(dir, "alice"), url);
      assert.equal(await loginVia(idp, env, "alice"), 0);
      assert.equal((await runJit(["request", "demo.sales", "--reason", "r"], env)).code, 0);
      const q = await runJit(["query", "SELECT email FROM demo.sales.customers LIMIT 1"], env);
      assert.equal(q.code, 0, q.stderr);
      assert.match(q.stdout, /XXXXX@/);

      // SIGHUP with a policy that no longer lets analysts read demo.sales: denied from the next request on.
      const original = readFileSync(policy, "utf8");
      writeFileSync(policy, original.replace(/      - groups: \[analysts\]\n        approval: auto\n        max_duration: 8h\n/, ""));
      child.kill("SIGHUP");
      await waitFor(() => /policy reloaded/.test(log));
      assert.equal((await runJit(["request", "demo.sales", "--reason", "again"], env)).code, 4);

      // An invalid policy is refused; the previous one stays.
      const reloads = (log.match(/policy reload/g) ?? []).length;
      writeFileSync(policy, "version: 2\n");
      child.kill("SIGHUP");
      await waitFor(() => /policy reload refused/.test(log));
      assert.ok((log.match(/policy reload/g) ?? []).length > reloads);
      assert.equal((await runJit(["request", "demo.sales", "--reason", "again"], env)).code, 4);

      // Editing the file is enough: the broker watches it.
      writeFileSync(policy, original);
      await waitFor(async () => (await runJit(["request", "demo.sales", "--reason", "back"], env)).code === 0, 10_000);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail("timed out waiting");
}
