// CPU per request: one `jit broker dev` (SQLite store, DuckDB demo warehouse) answering POST /v1/query, against
// DuckDB alone running the same SQL in this process as the broker's warehouse calls it (a pooled connection,
// `stream` of the translated SQL, every chunk read). Blocks alternate broker, DuckDB, broker, ... so load from other
// jobs on the machine weighs on both alike; per block, CPU time (user + system, all threads) / requests.
//   npm run build && node bench/cpu-per-query.bench.mjs [--rounds 10] [--block 200] [--concurrency 1] [--base DIR] [--cpu-prof DIR]
// --base DIR runs a second broker from another built checkout (e.g. `git archive main | tar -x -C DIR`, node_modules
// linked, npm run build) in the same rounds, so the two trees are compared side by side.
// --perf-map starts the broker with --perf-basic-prof (for `perf record -p PID`). Broker CPU is read from /proc/PID/stat (10 ms ticks, so blocks are a few hundred requests); DuckDB's from
// process.cpuUsage(). Everything is on 127.0.0.1 and bounded by rounds × block requests per query.
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { aliceToken, demoDuckDb, procStats, startDevBroker } from "./broker-process.mjs";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "10" },
    block: { type: "string", default: "200" },
    concurrency: { type: "string", default: "1" },
    tree: { type: "string" },
    base: { type: "string" },
    "cpu-prof": { type: "string" },
    "perf-map": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const ROUNDS = Number(args.rounds);
const BLOCK = Number(args.block);
const CONCURRENCY = Number(args.concurrency);
const TREE = resolve(args.tree ?? fileURLToPath(new URL("..", import.meta.url)));
const JIT = join(TREE, "bin", "jit.js");
const log = (line) => process.stderr.write(`[cpu] ${line}\n`);

// Each query: what the client sends, and the DuckDB SQL the demo warehouse's translation of it runs.
const QUERIES = [
  {
    name: "point lookup, 1 row, email masked",
    sql: "SELECT id, full_name, email, city FROM demo.sales.customers WHERE id = 42",
    duck: `SELECT "id", "full_name", "email", "city" FROM "demo"."sales"."customers" WHERE "id" = 42`,
    maxRows: 10,
  },
  {
    name: "100 rows, ssn + email masked",
    sql: "SELECT id, full_name, ssn, email, city FROM demo.sales.customers ORDER BY id LIMIT 100",
    duck: `SELECT "id", "full_name", "ssn", "email", "city" FROM "demo"."sales"."customers" ORDER BY "id" LIMIT 100`,
    maxRows: 100,
  },
];
// The front door's own floor, for reference: no SQL, no warehouse.
const FLOORS = [
  { name: "GET /healthz (no token, no audit)", path: "/healthz" },
  { name: "GET /v1/datasets (token check, one audit record)", path: "/v1/datasets" },
];

const nodeFlags = [...(args["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${resolve(args["cpu-prof"])}`] : []), ...(args["perf-map"] ? ["--perf-basic-prof"] : [])];
const procCpuMs = (pid) => procStats(pid).cpuMs;

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
/** One POST /v1/query (or a GET of `path` when body is null); resolves with the parsed body, rejects on a non-200. */
function post(url, token, body, path = "/v1/query") {
  return new Promise((done, fail) => {
    const headers = body === null ? { authorization: `Bearer ${token}` } : { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) };
    const req = request(`${url}${path}`, { method: body === null ? "GET" : "POST", agent, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode !== 200) return fail(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
        done(JSON.parse(text));
      });
    });
    req.on("error", fail);
    req.end(body);
  });
}

/** `n` calls of `fn`, `CONCURRENCY` at a time. */
async function drive(n, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (next++ < n) await fn(); }));
}

async function brokerBlock(child, url, token, q) {
  const body = q.path ? null : JSON.stringify({ sql: q.sql, max_rows: q.maxRows });
  const before = procCpuMs(child.pid);
  const t0 = performance.now();
  await drive(BLOCK, () => post(url, token, body, q.path));
  const wall = performance.now() - t0;
  return { cpu: (procCpuMs(child.pid) - before) / BLOCK, wall: wall / BLOCK };
}

async function openDuck() {
  const instance = await demoDuckDb(TREE);
  const pool = await Promise.all(Array.from({ length: CONCURRENCY }, () => instance.connect()));
  return { instance, pool };
}

async function duckBlock(duck, q) {
  const free = [...duck.pool];
  let rows = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await drive(BLOCK, async () => {
    const conn = free.pop();
    const r = await conn.stream(q.duck);
    for (let c = await r.fetchChunk(); c && c.rowCount > 0; c = await r.fetchChunk()) rows += c.getRows().length;
    free.push(conn);
  });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (rows === 0) throw new Error(`DuckDB returned no rows for ${q.duck}`);
  return { cpu: (cpu.user + cpu.system) / 1000 / BLOCK, wall: wall / BLOCK };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

const dir = mkdtempSync(join(tmpdir(), "jit-cpu-"));
const results = [];
const floors = [];
const load0 = loadavg()[0];
const brokers = [];
const duck = await openDuck();
try {
  const trees = [["this tree", JIT], ...(args.base ? [[`base ${args.base}`, join(resolve(args.base), "bin", "jit.js")]] : [])];
  for (const [name, bin] of trees) {
    const sub = join(dir, String(brokers.length));
    const { url, child } = await startDevBroker(bin, sub, nodeFlags);
    brokers.push({ name, url, child, token: null });
    brokers.at(-1).token = await aliceToken(JIT, url, join(sub, "alice"), "cpu bench");
    log(`${name}: broker ${url}, pid ${child.pid}`);
  }
  for (const q of QUERIES) {
    const body = JSON.stringify({ sql: q.sql, max_rows: q.maxRows });
    let rows = 0;
    for (const b of brokers) {
      rows = (await post(b.url, b.token, body)).row_count;
      if (!(rows > 0)) throw new Error(`probe: no rows for ${q.sql}`);
      await drive(100, () => post(b.url, b.token, body)); // warm-up: JIT compilation, caches, the pool
    }
    await duckBlock(duck, q);
    const blocks = new Map([...brokers.map((b) => [b.name, []]), ["DuckDB", []]]);
    const sides = [...brokers.map((b) => [b.name, () => brokerBlock(b.child, b.url, b.token, q)]), ["DuckDB", () => duckBlock(duck, q)]];
    for (let i = 0; i < ROUNDS; i++) {
      // Order rotated every round, so a slow moment on the machine does not always land on the same side.
      const k = i % sides.length;
      for (const [name, run] of [...sides.slice(k), ...sides.slice(0, k)]) blocks.get(name).push(await run());
    }
    const alone = blocks.get("DuckDB");
    const r = { name: q.name, sql: q.sql, rows, duckCpu: median(alone.map((b) => b.cpu)), duckWall: median(alone.map((b) => b.wall)), brokers: [] };
    for (const b of brokers) {
      const bs = blocks.get(b.name);
      // The difference round by round, so a slow moment lands on both sides of one pair.
      r.brokers.push({ name: b.name, cpu: median(bs.map((x) => x.cpu)), wall: median(bs.map((x) => x.wall)), above: median(bs.map((x, k) => x.cpu - alone[k].cpu)) });
    }
    results.push(r);
    log(`${q.name}: ${r.brokers.map((b) => `${b.name} ${b.cpu.toFixed(3)} ms CPU/request (${b.above.toFixed(3)} above)`).join(", ")}, DuckDB ${r.duckCpu.toFixed(3)} ms`);
  }
  for (const f of FLOORS) {
    for (const b of brokers) await drive(100, () => post(b.url, b.token, null, f.path));
    const per = new Map(brokers.map((b) => [b.name, []]));
    for (let i = 0; i < Math.max(2, Math.ceil(ROUNDS / 2)); i++) for (const b of i % 2 ? [...brokers].reverse() : brokers) per.get(b.name).push(await brokerBlock(b.child, b.url, b.token, f));
    floors.push({ name: f.name, brokers: brokers.map((b) => ({ name: b.name, cpu: median(per.get(b.name).map((x) => x.cpu)) })) });
  }
} finally {
  for (const b of brokers) {
    b.child.kill("SIGTERM");
    await new Promise((r) => (b.child.exitCode === null ? b.child.once("exit", r) : r()));
  }
  for (const c of duck.pool) c.closeSync();
  duck.instance.closeSync();
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
}
if (args.json) process.stdout.write(`${JSON.stringify({ tree: TREE, base: args.base ?? null, rounds: ROUNDS, block: BLOCK, concurrency: CONCURRENCY, results, floors })}\n`);
else {
  console.log(`Node ${process.version}, ${cpus().length} cores, load ${load0.toFixed(2)}; ${ROUNDS} rounds of ${BLOCK} requests per side, order rotated, ${CONCURRENCY} in flight; medians of per-block CPU (user + system, all threads) per request\n`);
  console.log("| query | rows | side | CPU ms per request | minus DuckDB alone (per round) | wall ms per request |");
  console.log("|---|---|---|---|---|---|");
  for (const r of results) {
    for (const b of r.brokers) console.log(`| ${r.name} | ${r.rows} | broker, ${b.name} | ${b.cpu.toFixed(3)} | ${b.above.toFixed(3)} | ${b.wall.toFixed(2)} |`);
    console.log(`| ${r.name} | ${r.rows} | DuckDB alone | ${r.duckCpu.toFixed(3)} | - | ${r.duckWall.toFixed(2)} |`);
  }
  for (const f of floors) for (const b of f.brokers) console.log(`| ${f.name} | - | broker, ${b.name} | ${b.cpu.toFixed(3)} | - | - |`);
  const worst = Math.max(...results.map((r) => r.brokers[0].above));
  console.log(`\nthis tree's broker CPU above DuckDB's own, worst query: ${worst.toFixed(3)} ms (target ≤ 1 ms: ${worst <= 1 ? "met" : "missed"})`);
}
