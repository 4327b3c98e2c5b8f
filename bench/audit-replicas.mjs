// Two `jit broker serve` replicas on one PostgreSQL database under load: do they wait on each other's locks, and do
// the audit chains verify afterwards? Not part of `npm run bench` (it needs PostgreSQL):
//   npm run build && JIT_TEST_PG_URL=postgres://... node bench/audit-replicas.mjs [--duration 15] [--connections 100] [--replicas 2] [--sqlite]
// --sqlite first runs one `broker serve` on a SQLite store under the same total load (connections × replicas), so a
// PostgreSQL replica's throughput is compared with a SQLite broker's in the same run (issue 15: at least 0.6×).
// Starts the dev IdP in-process (test/idp/harness.ts), two replicas from one broker.yaml (demo warehouse, a throwaway
// schema), signs alice in and files her grant, then drives POST /v1/query on both replicas at once with autocannon
// (`--connections` each), sampling pg_stat_activity every 25 ms for the replicas' sessions waiting on a lock.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startServeBroker } from "./broker-process.mjs";
import autocannon from "autocannon";
import pg from "pg";
import { writeBrokerConfig } from "../test/fixtures/broker-config.ts";
import { startDevIdp } from "../test/idp/harness.ts";
import { JIT_BIN, loginWith, runJit, userEnv } from "../test/e2e/harness.ts";
import { openStore } from "../src/store/open.ts";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "15" }, connections: { type: "string", default: "100" },
    replicas: { type: "string", default: "2" }, sqlite: { type: "boolean", default: false },
  },
});
const REPLICAS = Number(args.replicas);
const url = process.env.JIT_TEST_PG_URL;
if (!url) {
  console.error("JIT_TEST_PG_URL is not set: this bench needs PostgreSQL");
  process.exit(2);
}
const schema = `jit_replicas_bench_${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "jit-replicas-bench-"));
const log = (line) => process.stderr.write(`[replicas] ${line}\n`);

const serve = (config) => startServeBroker(JIT_BIN, config, { HOME: dir, JIT_PG_URL: url });

const idp = await startDevIdp();
const admin = new pg.Client({ connectionString: url });
await admin.connect();
const replicas = [];
try {
  const writeConfig = (name, store) => writeBrokerConfig(join(dir, name), { issuer: idp.issuer, store, extra: ["metrics_listen: off"] }).config;
  const config = writeConfig("replicas", `store: { postgres_env: JIT_PG_URL, schema: ${schema} }`);
  for (let i = 0; i < REPLICAS; i++) replicas.push(await serve(config));
  const env = userEnv(join(dir, "alice"), replicas[0].url);
  mkdirSync(join(dir, "alice"), { recursive: true });
  const login = await loginWith(env, async (code) => void (await idp.idp.approveDevice({ user_code: code, username: "alice", password: "alice" })));
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  const filed = await runJit(["request", "demo.sales", "--reason", "replicas bench"], env);
  if (filed.code !== 0) throw new Error(`request failed: ${filed.stderr}`);
  const token = JSON.parse(JSON.parse(readFileSync(join(dir, "alice", "state", "jit", "credentials.json"), "utf8")).entries[replicas[0].url]).id_token;
  const QUERY = JSON.stringify({ sql: "SELECT id, full_name, email, city FROM demo.sales.customers WHERE id = 42" });
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };

  // One SQLite broker under the same total load first (the same IdP token works on every broker of this issuer).
  let sqlite = null;
  if (args.sqlite) {
    const one = await serve(writeConfig("sqlite", `store: { sqlite: ${join(dir, "jit.db")} }`));
    try {
      const granted = await fetch(`${one.url}/v1/requests`, { method: "POST", headers, body: JSON.stringify({ datasets: ["demo.sales"], reason: "replicas bench" }) });
      if (!granted.ok) throw new Error(`SQLite broker: request failed: ${granted.status} ${await granted.text()}`);
      log(`one SQLite broker ${one.url}; ${args.duration} s at ${Number(args.connections) * REPLICAS} connections`);
      sqlite = await autocannon({ url: `${one.url}/v1/query`, method: "POST", connections: Number(args.connections) * REPLICAS, duration: Number(args.duration), headers, body: QUERY });
    } finally {
      one.child.kill("SIGTERM");
      await new Promise((resolve) => one.child.once("exit", resolve));
    }
  }

  const seen = { samples: 0, lock: 0, advisory: 0, maxAdvisory: 0, active: 0 };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const r = (await admin.query(
        `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS lock, count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory')::int AS advisory,
                count(*) FILTER (WHERE state = 'active')::int AS active
         FROM pg_stat_activity WHERE application_name = $1`, [`jit-broker:${schema}`])).rows[0];
      seen.samples += 1;
      seen.lock += r.lock;
      seen.advisory += r.advisory;
      seen.active += r.active;
      seen.maxAdvisory = Math.max(seen.maxAdvisory, r.advisory);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  log(`replicas ${replicas.map((r) => r.url).join(" and ")}; ${args.duration} s at ${args.connections} connections each`);
  const results = await Promise.all(replicas.map((r) => autocannon({
    url: `${r.url}/v1/query`, method: "POST", connections: Number(args.connections), duration: Number(args.duration), headers, body: QUERY,
  })));
  sampling = false;
  await sampler;
  await Promise.all(replicas.map(async (r) => {
    r.child.kill("SIGTERM");
    await new Promise((resolve) => r.child.once("exit", resolve));
  }));
  replicas.length = 0;

  // Copied into an older checkout (one chain, no verifyAuditLog), it still measures: the audit check is then skipped.
  const verify = await import("../src/audit/verify.ts").catch(() => null);
  const store = await openStore({ kind: "postgres", url, schema });
  const report = verify ? await verify.verifyAuditLog(store) : null;
  const chains = verify ? await store.auditChains() : [];
  await store.close();

  const total = results.reduce((n, r) => n + r.requests.average, 0);
  console.log(`${REPLICAS} jit broker serve replica(s) on PostgreSQL, ${args.connections} connections each, ${args.duration} s, Node ${process.version}\n`);
  console.log("| broker | req/s | p50 ms | p99 ms | max ms | non-2xx | errors |\n|---|---|---|---|---|---|---|");
  const row = (name, r) => console.log(`| ${name} | ${r.requests.average.toFixed(0)} | ${r.latency.p50} | ${r.latency.p99} | ${r.latency.max} | ${r.non2xx} | ${r.errors + r.timeouts} |`);
  if (sqlite) row(`SQLite, alone, ${Number(args.connections) * REPLICAS} connections`, sqlite);
  results.forEach((r, i) => row(`PostgreSQL replica ${i + 1}`, r));
  if (sqlite) console.log(`\nper PostgreSQL replica ${(total / REPLICAS).toFixed(0)} req/s = ${(total / REPLICAS / sqlite.requests.average).toFixed(2)} × the SQLite broker (issue 15: at least 0.6× for one replica)`);
  console.log(`\ntogether ${total.toFixed(0)} req/s; pg_stat_activity over ${seen.samples} samples: ${(seen.active / seen.samples).toFixed(1)} active sessions, ${(seen.lock / seen.samples).toFixed(2)} waiting on a lock per sample, advisory-lock waits ${seen.advisory} (max ${seen.maxAdvisory} at once)`);
  if (report) console.log(`audit log: ${report.ok ? "verifies" : `BROKEN: ${report.broken.message}`}, ${report.checked} records in ${chains.filter((c) => c.head).length} chains, ${report.crossLinks} cross-links checked`);
} finally {
  await Promise.all(replicas.map(async (r) => r.child.kill("SIGKILL")));
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
  await admin.end();
  await idp.close();
  rmSync(dir, { recursive: true, force: true });
}
