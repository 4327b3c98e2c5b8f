/** `jit broker serve` from broker.yaml: config errors all at once, no dev endpoints, an external IdP, policy reloads. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { writeBrokerConfig } from "../fixtures/broker-config.ts";
import { startDevIdp, type RunningIdp } from "../idp/harness.ts";
import { JIT_BIN, loginWith, runJit, userEnv } from "./harness.ts";


const loginVia = async (idp: RunningIdp, env: NodeJS.ProcessEnv, user: string): Promise<number> =>
  (await loginWith(env, async (code) => void (await idp.idp.approveDevice({ user_code: code, username: user, password: user })))).code;

describe("jit broker serve", { timeout: 90_000 }, () => {
  let dir: string;
  let idp: RunningIdp;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "jit-serve-"));
    idp = await startDevIdp();
    idpIssuer = idp.issuer;
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
    const { config, policy } = writeConfig(dir, `store: { sqlite: ${join(dir, "jit.db")} }`);
    const broker = await startServe(config, dir);
    const { child } = broker;
    const url = broker.url;
    const logOf = () => broker.log();
    try {
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
      await waitFor(() => /policy reloaded/.test(logOf()));
      assert.equal((await runJit(["request", "demo.sales", "--reason", "again"], env)).code, 4);

      // An invalid policy is refused; the previous one stays.
      const reloads = (logOf().match(/policy reload/g) ?? []).length;
      writeFileSync(policy, "version: 2\n");
      child.kill("SIGHUP");
      await waitFor(() => /policy reload refused/.test(logOf()));
      assert.ok((logOf().match(/policy reload/g) ?? []).length > reloads);
      assert.equal((await runJit(["request", "demo.sales", "--reason", "again"], env)).code, 4);

      // Editing the file is enough: the broker watches it.
      writeFileSync(policy, original);
      await waitFor(async () => (await runJit(["request", "demo.sales", "--reason", "back"], env)).code === 0, 10_000);
    } finally {
      await broker.stop();
    }
  });

  test("approvers are notified through the configured webhook: a pending request, then its decision", async () => {
    const received: Array<{ text: string; blocks: unknown[] }> = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        received.push(JSON.parse(body) as { text: string; blocks: unknown[] });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/services/T0/B0/secret-token`;
    const sub = join(dir, "notify");
    const { config } = writeConfig(sub, `store: { sqlite: ${join(sub, "jit.db")} }`, [`notify: { webhooks: [{ url: "${hook}" }] }`, "public_url: https://jit.example.com"]);
    const broker = await startServe(config, sub);
    try {
      const carol = userEnv(join(sub, "carol"), broker.url);
      const bob = userEnv(join(sub, "bob"), broker.url);
      assert.equal(await loginVia(idp, carol, "carol"), 0);
      assert.equal(await loginVia(idp, bob, "bob"), 0);
      const filed = await runJit(["request", "demo.sales", "--reason", "invoice audit", "--json"], carol);
      assert.equal(filed.code, 5);
      const id = (JSON.parse(filed.stdout) as { request: { id: string } }).request.id;
      await waitFor(() => received.length >= 1);
      const pending = JSON.stringify(received[0]);
      assert.match(pending, /carol/);
      assert.match(pending, /demo\.sales/);
      assert.match(pending, /invoice audit/);
      assert.match(pending, new RegExp(`jit approve ${id}`));
      // Links everywhere lead to the public origin: the view, the webhook, the CLI, and the console's own sign-in.
      const link = `https://jit.example.com/console/requests/${id}`;
      assert.equal((JSON.parse(filed.stdout) as { request: { console_url: string } }).request.console_url, link);
      assert.ok(pending.includes(link), pending);
      const listed = await runJit(["requests", "--pending"], bob);
      assert.ok(listed.stdout.includes(`Request ${id}: ${link}`), listed.stdout);
      const login = await fetch(`${broker.url}/console/login`, { redirect: "manual" });
      assert.equal(new URL(login.headers.get("location")!).searchParams.get("redirect_uri"), "https://jit.example.com/console/callback");
      assert.equal((await runJit(["approve", id], bob)).code, 0);
      await waitFor(() => received.length >= 2);
      assert.match(JSON.stringify(received[1]), /approved/i);
      assert.doesNotMatch(broker.log(), /secret-token/, "the webhook URL is a secret: never logged");
    } finally {
      await broker.stop();
      receiver.close();
    }
  });

  test("two replicas sharing one store: a grant from one works on the other, and a revoke on one is immediate on the other", async (t) => {
    const pg = process.env.JIT_TEST_PG_URL;
    const stores: Array<[string, string, NodeJS.ProcessEnv]> = [["sqlite", `store: { sqlite: ${join(dir, "replicas.db")} }`, {}]];
    if (pg) stores.push(["postgres", `store: { postgres_env: JIT_PG_URL, schema: jit_replicas_${process.pid} }`, { JIT_PG_URL: pg }]);
    else t.diagnostic("JIT_TEST_PG_URL not set: the PostgreSQL replicas case is skipped (run under .ci/run)");
    for (const [name, storeLine, extraEnv] of stores) {
      const sub = join(dir, `replicas-${name}`);
      const { config } = writeConfig(sub, storeLine);
      const [a, b] = await Promise.all([startServe(config, sub, extraEnv), startServe(config, sub, extraEnv)]);
      try {
        const env = userEnv(join(sub, "alice"), a.url);
        assert.equal(await loginVia(idp, env, "alice"), 0);
        const req = JSON.parse((await runJit(["request", "demo.sales", "--reason", "replicas", "--json"], env)).stdout) as { request: { grant_id: string } };
        const token = (JSON.parse(JSON.parse(readFileSync(join(sub, "alice", "state", "jit", "credentials.json"), "utf8")).entries[a.url]) as { id_token: string }).id_token;
        const queryOn = (url: string) => fetch(`${url}/v1/query`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ sql: "SELECT COUNT(*) AS n FROM demo.sales.orders" }),
        });
        assert.equal((await queryOn(b.url)).status, 200, `${name}: the grant made on replica A works on replica B`);
        assert.equal((await runJit(["revoke", req.request.grant_id], env)).code, 0);
        const after = await queryOn(b.url);
        assert.equal(after.status, 403, `${name}: revoked on A, refused on B at once`);
        const audit = await fetch(`${b.url}/v1/audit?mine=1&limit=1000`, { headers: { authorization: `Bearer ${token}` } });
        const records = ((await audit.json()) as { records: Array<{ action: string }> }).records;
        assert.ok(records.some((r) => r.action === "revoke"), `${name}: one audit chain across replicas`);

        // A long poll on replica B sees a decision made on replica A within about a second (B re-reads the store).
        const carol = userEnv(join(sub, "carol"), a.url);
        const bob = userEnv(join(sub, "bob"), a.url);
        assert.equal(await loginVia(idp, carol, "carol"), 0);
        assert.equal(await loginVia(idp, bob, "bob"), 0);
        const carolToken = (JSON.parse(JSON.parse(readFileSync(join(sub, "carol", "state", "jit", "credentials.json"), "utf8")).entries[a.url]) as { id_token: string }).id_token;
        const filed = await runJit(["request", "demo.sales", "--reason", "replica wait", "--json"], carol);
        assert.equal(filed.code, 5, filed.stderr);
        const id = (JSON.parse(filed.stdout) as { request: { id: string } }).request.id;
        const waiting = fetch(`${b.url}/v1/requests/${id}?wait=20`, { headers: { authorization: `Bearer ${carolToken}` } });
        await new Promise((r) => setTimeout(r, 500));
        const approved = await runJit(["approve", id], bob);
        assert.equal(approved.code, 0, approved.stderr);
        const decidedAt = Date.now();
        const answer = (await (await waiting).json()) as { request: { state: string } };
        assert.equal(answer.request.state, "approved", `${name}: the wait on B saw A's approval`);
        assert.ok(Date.now() - decidedAt < 1500, `${name}: B answered ${Date.now() - decidedAt} ms after A's approval`);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
        if (name === "postgres") {
          const { default: pgLib } = await import("pg");
          const client = new pgLib.Client({ connectionString: pg });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS jit_replicas_${process.pid} CASCADE`);
          await client.end();
        }
      }
    }
  });
});

/** Writes broker.yaml (demo warehouse, the demo policy, a 0600 masking key) with the given store line and extra lines. */
function writeConfig(dir: string, storeLine: string, extra: string[] = []): { config: string; policy: string } {
  return writeBrokerConfig(dir, { issuer: idpIssuer, store: storeLine, extra });
}

let idpIssuer = "";

/** Starts `jit broker serve --config` and resolves once it prints its URL. */
async function startServe(config: string, home: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [JIT_BIN, "broker", "serve", "--config", config, "--json"], { env: { PATH: process.env.PATH, HOME: home, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
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
  return {
    url,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
    },
  };
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail("timed out waiting");
}
