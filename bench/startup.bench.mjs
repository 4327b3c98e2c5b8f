// Start-up: what a person (or an agent spawning jit) waits for before anything happens, side by side with the floor.
// `jit --version` and `jit --help` against `node -e 0`; `jit query` against a bare Node fetch of the same broker
// endpoint with the same token and body. The commands run interleaved (one of each per round, order rotated), so
// load from other jobs on the machine falls on all of them alike; medians and p90 over the rounds.
// Run: . scripts/node-env.sh && npm run build && node bench/startup.bench.mjs [--runs 30]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const RUNS = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 30;
const JIT = fileURLToPath(new URL("../bin/jit.js", import.meta.url));
const SQL = "SELECT id, city FROM demo.sales.customers ORDER BY id LIMIT 10";
const dir = mkdtempSync(join(tmpdir(), "jit-bench-startup-"));

function startBroker() {
  const child = spawn(process.execPath, [JIT, "broker", "dev", "--port", "0", "--data-dir", join(dir, "broker"), "--json"], {
    env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      try {
        resolve({ url: JSON.parse(out).url, child });
      } catch {
        // not all of it yet
      }
    });
    child.on("exit", (code) => reject(new Error(`broker exited with ${code}`)));
  });
}

/** Signs alice in through the dev IdP's device-approve endpoint, with a file credential store in `home`. */
async function login(url, env) {
  const child = spawn(process.execPath, [JIT, "login", "--no-browser"], { env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  let sent = false;
  child.stderr.on("data", async (d) => {
    err += d;
    const m = /enter the code ([A-Z0-9-]+)/.exec(err);
    if (m && !sent) {
      sent = true;
      await fetch(`${url}/dev/device/approve`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user_code: m[1], username: "alice", password: "alice" }) });
    }
  });
  const code = await new Promise((r) => child.on("close", r));
  if (code !== 0) throw new Error(`login failed: ${err}`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];
const ms = (x) => `${x.toFixed(1)} ms`;

/** Wall time of one process run to its exit, in ms; a failure aborts the bench (a fast failure is no measurement). */
function time(cmd, args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  const t = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${[cmd, ...args].join(" ")} exited ${r.status}: ${r.stderr}`);
  return t;
}

const { url, child: broker } = await startBroker();
try {
  const env = { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state"), JIT_CREDENTIAL_STORE: "file", JIT_BROKER: url, NO_COLOR: "1" };
  await login(url, env);
  if (spawnSync(process.execPath, [JIT, "request", "demo.sales", "--reason", "bench"], { env }).status !== 0) throw new Error("request failed");
  const stored = JSON.parse(readFileSync(join(dir, "state", "jit", "credentials.json"), "utf8"));
  const token = JSON.parse(Object.values(stored.entries)[0]).id_token;
  // The floor for `jit query`: a Node process that POSTs the same body with the same token and prints the answer.
  const bare = `const r = await fetch(${JSON.stringify(`${url}/v1/query`)}, { method: "POST", headers: { authorization: "Bearer " + process.env.TOKEN, "content-type": "application/json" }, body: ${JSON.stringify(JSON.stringify({ sql: SQL, dry_run: false }))} }); if (!r.ok) { process.stderr.write(await r.text()); process.exit(1); } process.stdout.write(await r.text());`;
  const cases = {
    node: () => time(process.execPath, ["-e", "0"], env),
    version: () => time(process.execPath, [JIT, "--version"], env),
    help: () => time(process.execPath, [JIT, "--help"], env),
    fetch: () => time(process.execPath, ["--input-type=module", "-e", bare], { ...env, TOKEN: token }),
    query: () => time(process.execPath, [JIT, "query", "--format", "json", SQL], env),
  };
  const names = Object.keys(cases);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) cases[n](); // warm the file cache and the broker's first-query paths
  for (let round = 0; round < RUNS; round++) {
    // Rotate the order each round, so no command always runs right after the broker's busiest moment.
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + round) % names.length];
      samples[n].push(cases[n]());
    }
  }
  const m = Object.fromEntries(names.map((n) => [n, median(samples[n])]));
  const rows = [
    ["`node -e 0`", "node"],
    ["`jit --version`", "version"],
    ["`jit --help`", "help"],
    ["bare Node `fetch` of POST /v1/query", "fetch"],
    ["`jit query --format json` (same query)", "query"],
  ];
  console.log(`node ${process.version}, ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}, ${RUNS} interleaved rounds; query: ${SQL}\n`);
  console.log("| command | median | p90 | fastest |\n|---|---|---|---|");
  for (const [label, n] of rows) console.log(`| ${label} | ${ms(m[n])} | ${ms(p90(samples[n]))} | ${ms(Math.min(...samples[n]))} |`);
  const ratio = (a, b) => m[a] / m[b];
  const verdict = (r, target) => `${r.toFixed(2)}× (target ≤ ${target}×: ${r <= target ? "met" : "NOT met"})`;
  console.log(`\n\`jit --version\` / \`node -e 0\` = ${verdict(ratio("version", "node"), 1.3)}`);
  console.log(`\`jit --help\` / \`node -e 0\` = ${verdict(ratio("help", "node"), 1.3)}`);
  console.log(`\`jit query\` / bare fetch = ${verdict(ratio("query", "fetch"), 1.5)}`);
  // On a shared machine the medians move with other jobs; the fastest runs show the cost with the least noise.
  const fastest = (a, b) => (Math.min(...samples[a]) / Math.min(...samples[b])).toFixed(2);
  console.log(`fastest runs: --version ${fastest("version", "node")}×, --help ${fastest("help", "node")}×, query ${fastest("query", "fetch")}×`);
} finally {
  broker.kill("SIGTERM");
  await new Promise((r) => broker.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
