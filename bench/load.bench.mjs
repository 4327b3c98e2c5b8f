// Load benchmark: one `jit broker dev` (SQLite store, DuckDB demo warehouse) under autocannon, POST /v1/query with
// alice's grant on a point query, against DuckDB called in-process for the same SQL. Run manually (not in npm test):
//   npm run build && node bench/load.bench.mjs [--duration 30] [--connections 200] [--rounds 3] [--tree DIR] [--json]
// --tree runs another checkout's built bin/jit.js (bench/compare.mjs uses it); --cpu-prof DIR profiles the broker.
// Everything is on 127.0.0.1 and bounded: rounds × duration seconds of load, plus a few seconds in-process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { aliceToken, demoDuckDb, procStats, startDevBroker } from "./broker-process.mjs";
import autocannon from "autocannon";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "30" },
    connections: { type: "string", default: "200" },
    rounds: { type: "string", default: "3" },
    tree: { type: "string" },
    "inproc-seconds": { type: "string", default: "5" },
    "cpu-prof": { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const ROUNDS = Number(args.rounds);
const INPROC_SECONDS = Number(args["inproc-seconds"]);
const TREE = resolve(args.tree ?? fileURLToPath(new URL("..", import.meta.url)));
const JIT = join(TREE, "bin", "jit.js");
// A point query with a masked column (email): the broker masks and writes both audit records.
const SQL = "SELECT id, full_name, email, city FROM demo.sales.customers WHERE id = 42";
const log = (line) => process.stderr.write(`[load] ${line}\n`);

function load(url, token, seconds) {
  return new Promise((done, fail) => {
    autocannon({
      url: `${url}/v1/query`, method: "POST", connections: CONNECTIONS, duration: seconds, timeout: 30,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ sql: SQL, max_rows: 10 }),
    }, (err, r) => (err ? fail(err) : done(r)));
  });
}

/**
 * DuckDB alone for the same SQL, `inFlight` at once: as a broker that dry-runs every request drives it (prepare, then
 * stream and drain), and as one that answers a repeated statement's dry run from its cache (stream and drain only).
 */
async function duckdbInProcess(seconds, inFlight, withPrepare) {
  const instance = await demoDuckDb(TREE);
  const sql = `SELECT "id", "full_name", "email", "city" FROM "demo"."sales"."customers" WHERE "id" = 42`;
  const conns = await Promise.all(Array.from({ length: inFlight }, () => instance.connect()));
  let count = 0;
  const end = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(conns.map(async (conn) => {
    while (performance.now() < end) {
      if (withPrepare) (await conn.prepare(sql)).destroySync();
      const r = await conn.stream(sql);
      for (let c = await r.fetchChunk(); c && c.rowCount > 0; c = await r.fetchChunk()) c.getRows();
      count++;
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  for (const c of conns) c.closeSync();
  instance.closeSync();
  return { queries: count, perSecond: count / elapsed, cpuMsPerQuery: (cpu.user + cpu.system) / 1000 / count };
}

const dir = mkdtempSync(join(tmpdir(), "jit-load-"));
const result = { tree: TREE, sql: SQL, connections: CONNECTIONS, duration: DURATION, rounds: [], inProcess: null };
const { url, child } = await startDevBroker(JIT, dir, args["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${resolve(args["cpu-prof"])}`] : []);
try {
  const token = await aliceToken(JIT, url, join(dir, "alice"), "load bench");
  const probe = await fetch(`${url}/v1/query`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ sql: SQL }) });
  if (probe.status !== 200) throw new Error(`probe query: HTTP ${probe.status} ${await probe.text()}`);
  await probe.arrayBuffer();
  log(`${TREE}: broker ${url}, pid ${child.pid}; ${ROUNDS} round(s) of ${DURATION} s at ${CONNECTIONS} connections`);
  for (let i = 0; i < ROUNDS; i++) {
    const before = procStats(child.pid);
    const r = await load(url, token, DURATION);
    const after = procStats(child.pid);
    const ok = r.requests.total - r.non2xx;
    const round = {
      requests: r.requests.total, perSecond: r.requests.average, ok, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
      p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max,
      cpuMsPerRequest: (after.cpuMs - before.cpuMs) / Math.max(1, r.requests.total), rssMb: after.rssMb,
    };
    result.rounds.push(round);
    log(`round ${i + 1}: ${round.perSecond.toFixed(0)} req/s, p50 ${round.p50} ms, p99 ${round.p99} ms, max ${round.max} ms, non-2xx ${round.non2xx}, errors ${round.errors}, ${round.cpuMsPerRequest.toFixed(2)} ms CPU/request, RSS ${round.rssMb.toFixed(0)} MB`);
  }
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => (child.exitCode === null ? child.once("exit", r) : r()));
  rmSync(dir, { recursive: true, force: true });
}
if (INPROC_SECONDS > 0) {
  result.inProcess = await duckdbInProcess(INPROC_SECONDS, CONNECTIONS, true);
  result.inProcessRunOnly = await duckdbInProcess(INPROC_SECONDS, CONNECTIONS, false);
  log(`DuckDB in-process (${CONNECTIONS} in flight), prepare + stream: ${result.inProcess.perSecond.toFixed(0)} queries/s, ${result.inProcess.cpuMsPerQuery.toFixed(2)} ms CPU/query`);
  log(`DuckDB in-process (${CONNECTIONS} in flight), stream only: ${result.inProcessRunOnly.perSecond.toFixed(0)} queries/s, ${result.inProcessRunOnly.cpuMsPerQuery.toFixed(2)} ms CPU/query`);
}
if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  console.log(`| round | req/s | p50 ms | p99 ms | max ms | non-2xx | errors | CPU ms/req | RSS MB |\n|---|---|---|---|---|---|---|---|---|`);
  result.rounds.forEach((r, i) => console.log(`| ${i + 1} | ${r.perSecond.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.max} | ${r.non2xx} | ${r.errors} | ${r.cpuMsPerRequest.toFixed(2)} | ${r.rssMb.toFixed(0)} |`));
  if (result.inProcess) {
    console.log(`\nDuckDB in-process, prepare + stream: ${result.inProcess.perSecond.toFixed(0)} queries/s, ${result.inProcess.cpuMsPerQuery.toFixed(2)} ms CPU/query`);
    console.log(`DuckDB in-process, stream only: ${result.inProcessRunOnly.perSecond.toFixed(0)} queries/s, ${result.inProcessRunOnly.cpuMsPerQuery.toFixed(2)} ms CPU/query`);
  }
}
