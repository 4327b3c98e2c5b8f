// Audit store benchmark: appendAudit throughput and group-commit batch sizes, straight on the stores (no HTTP), with
// C concurrent "requests" each appending a query record and then its result record, as the broker does:
//   node bench/audit-store.bench.mjs [--seconds 5] [--concurrency 200] [--base COMMIT] [--pg URL]
// Scenarios: SQLite (one file); PostgreSQL with one store instance, and with two (two replicas: separate pools and,
// on this tree, separate chains), sampling pg_stat_activity every 25 ms for sessions waiting on a lock (advisory
// locks counted apart). PostgreSQL runs when --pg or JIT_TEST_PG_URL is set, in a throwaway schema.
// --base COMMIT runs the same scenarios on that commit's src/ too (git archive into a temp dir), side by side.
// Bounded: scenarios × trees × seconds of load, on loopback.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "200" },
    base: { type: "string" },
    pg: { type: "string", default: process.env.JIT_TEST_PG_URL },
  },
});
const SECONDS = Number(args.seconds);
const C = Number(args.concurrency);
const HERE = fileURLToPath(new URL("..", import.meta.url));
const log = (line) => process.stderr.write(`[audit-store] ${line}\n`);

const details = (i) => ({
  sql: "SELECT id, full_name, email, city FROM demo.sales.customers WHERE id = 42", tables: ["demo.sales.customers"],
  grant_id: "1", masked: { email: "hash" }, decision: { rules: ["datasets[0].access[0]"] }, email: "alice@example.com",
  groups: ["analysts"], client: { kind: "cli", version: "0.1.0" }, i,
});

/** C workers, each appending a query record then its result record until the deadline. */
async function drive(stores, seconds) {
  let appends = 0;
  let failures = 0;
  const deadline = performance.now() + seconds * 1000;
  const worker = async (store, w) => {
    for (let i = 0; performance.now() < deadline; i++) {
      try {
        const q = await store.appendAudit({ at: Date.now(), actor: "alice", actorSubject: "sub-alice", action: "query", outcome: "ok", details: details(i) });
        await store.appendAudit({ at: Date.now(), actor: "alice", actorSubject: "sub-alice", action: "query.result", outcome: "ok", details: { query_audit_id: q.id, row_count: 1, w } });
        appends += 2;
      } catch {
        failures += 1;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: C }, (_, w) => worker(stores[w % stores.length], w)));
  return { appends, failures, ms: performance.now() - started };
}

/** Samples pg_stat_activity for this schema's sessions while `fn` runs. */
async function sampleLocks(url, schema, fn) {
  const pg = (await import("pg")).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const seen = { samples: 0, lockWaits: 0, advisoryWaits: 0, maxAdvisory: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = (await client.query(
        `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS locks, count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory')::int AS advisory
         FROM pg_stat_activity WHERE application_name = $1`, [`jit-broker:${schema}`])).rows[0];
      seen.samples += 1;
      seen.lockWaits += r.locks;
      seen.advisoryWaits += r.advisory;
      seen.maxAdvisory = Math.max(seen.maxAdvisory, r.advisory);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  try {
    return { result: await fn(), locks: seen };
  } finally {
    running = false;
    await loop;
    await client.end();
  }
}

async function scenarios(tree, label) {
  const { openStore } = await import(pathToFileURL(join(tree, "src", "store", "open.ts")).href);
  const rows = [];
  const row = (name, stores, r, locks) => {
    const stats = stores.map((s) => s.auditStats?.()).filter(Boolean);
    const batches = stats.reduce((n, s) => n + s.batches, 0);
    const records = stats.reduce((n, s) => n + s.records, 0);
    rows.push({
      tree: label, name, perSecond: (r.appends / r.ms) * 1000, failures: r.failures,
      meanBatch: batches ? records / batches : null, maxBatch: stats.length ? Math.max(...stats.map((s) => s.maxBatch)) : null,
      locks,
    });
  };
  const dir = mkdtempSync(join(tmpdir(), "jit-audit-bench-"));
  try {
    const store = await openStore({ kind: "sqlite", path: join(dir, "jit.db") });
    row("SQLite, 1 store", [store], await drive([store], SECONDS));
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!args.pg) {
    log("no --pg URL and JIT_TEST_PG_URL not set: PostgreSQL scenarios skipped");
    return rows;
  }
  const pg = (await import("pg")).default;
  for (const n of [1, 2]) {
    const schema = `jit_bench_${process.pid}_${n}_${label.replace(/[^a-z0-9]/g, "")}`;
    const stores = [];
    try {
      for (let i = 0; i < n; i++) stores.push(await openStore({ kind: "postgres", url: args.pg, schema }));
      const { result, locks } = await sampleLocks(args.pg, schema, () => drive(stores, SECONDS));
      row(`PostgreSQL, ${n} ${n === 1 ? "store" : "replicas"}`, stores, result, locks);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      const admin = new pg.Client({ connectionString: args.pg });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  }
  return rows;
}

const all = [];
let baseDir;
try {
  if (args.base) {
    const commit = execFileSync("git", ["-C", HERE, "rev-parse", "--verify", `${args.base}^{commit}`], { encoding: "utf8" }).trim();
    baseDir = mkdtempSync(join(tmpdir(), "jit-audit-base-"));
    execFileSync("sh", ["-c", `git -C "${HERE}" archive --format=tar ${commit} src package.json | tar -x -C "${baseDir}"`]);
    symlinkSync(join(HERE, "node_modules"), join(baseDir, "node_modules"), "dir");
    log(`baseline ${args.base} = ${commit.slice(0, 12)}`);
    all.push(...(await scenarios(baseDir, `base ${commit.slice(0, 7)}`)));
  }
  all.push(...(await scenarios(HERE, "this tree")));
} finally {
  if (baseDir) rmSync(baseDir, { recursive: true, force: true });
}

console.log(`${C} concurrent requests (2 appends each, one after the other), ${SECONDS} s per scenario, Node ${process.version}\n`);
console.log("| tree | scenario | appends/s | failed | mean batch | max batch | lock waits / sample | advisory waits (max) |\n|---|---|---|---|---|---|---|---|");
for (const r of all) {
  const l = r.locks;
  console.log(`| ${r.tree} | ${r.name} | ${r.perSecond.toFixed(0)} | ${r.failures} | ${r.meanBatch === null ? "-" : r.meanBatch.toFixed(1)} | ${r.maxBatch ?? "-"} | ${l ? (l.lockWaits / l.samples).toFixed(1) : "-"} | ${l ? `${l.advisoryWaits} (${l.maxAdvisory})` : "-"} |`);
}
