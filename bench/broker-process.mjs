// What the benches share: a broker as a child process (`jit broker dev` or `jit broker serve`), alice signed in with a
// grant on demo.sales, and a process's CPU and memory read from /proc. Not a bench itself (run.mjs runs *.bench.mjs).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Runs `jit ARGV` from `jitBin` to its end (killed after 30 s). */
export function runJit(jitBin, argv, env) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [jitBin, ...argv], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => { clearTimeout(timer); done({ code, stdout, stderr }); });
  });
}

/** Spawns a broker that prints `{"url": ...}` on stdout (`--json`) and resolves once it has, within 20 s. */
function startJsonBroker(argv, env) {
  const child = spawn(process.execPath, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err = (err + d).slice(-4000)));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`broker did not start in 20 s: ${err}`)), 20_000);
    child.stdout.on("data", (d) => {
      out += d;
      try { const { url } = JSON.parse(out); clearTimeout(timer); done({ url, child }); } catch { /* not complete yet */ }
    });
    child.on("exit", (code) => fail(new Error(`broker exited with ${code}: ${err}`)));
  });
}

/** `jit broker dev --port 0` with its data in `dir`/broker; `nodeFlags` go to node (--cpu-prof, --perf-basic-prof). */
export function startDevBroker(jitBin, dir, nodeFlags = []) {
  return startJsonBroker([...nodeFlags, jitBin, "broker", "dev", "--port", "0", "--data-dir", join(dir, "broker"), "--json"], { PATH: process.env.PATH, HOME: dir, NO_COLOR: "1" });
}

/** `jit broker serve --config CONFIG` with `env` (HOME and anything the config names). */
export function startServeBroker(jitBin, config, env) {
  return startJsonBroker([jitBin, "broker", "serve", "--config", config, "--json"], { PATH: process.env.PATH, ...env });
}

/** Signs alice in to a dev broker through the device flow (that tree's `jit login`), files her auto-approved grant on demo.sales, returns her token. */
export async function aliceToken(jitBin, url, home, reason = "bench") {
  const env = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, "config"), XDG_STATE_HOME: join(home, "state"), JIT_CREDENTIAL_STORE: "file", NO_COLOR: "1", JIT_BROKER: url };
  await new Promise((done, fail) => {
    const child = spawn(process.execPath, [jitBin, "login", "--no-browser"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let approved = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stderr.on("data", (d) => {
      stderr += d;
      const m = /enter the code ([A-Z0-9-]+)/.exec(stderr);
      if (m && !approved) {
        approved = true;
        fetch(`${url}/dev/device/approve`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user_code: m[1], username: "alice", password: "alice" }) })
          .then((r) => { if (!r.ok) fail(new Error(`approve: HTTP ${r.status}`)); }, fail);
      }
    });
    child.on("close", (code) => { clearTimeout(timer); code === 0 ? done() : fail(new Error(`jit login exited ${code}: ${stderr}`)); });
  });
  const req = await runJit(jitBin, ["request", "demo.sales", "--reason", reason], env);
  if (req.code !== 0) throw new Error(`jit request failed: ${req.stderr}`);
  const file = JSON.parse(readFileSync(join(home, "state", "jit", "credentials.json"), "utf8"));
  for (const v of Object.values(file.entries)) {
    const token = /"id_token"\s*:\s*"([^"]+)"/.exec(v)?.[1];
    if (token) return token;
  }
  throw new Error("no token in the credentials file");
}

/** CPU time (user + system, all threads, ms) and RSS (MB) of a process, from /proc (USER_HZ is 100 on Linux). */
export function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  return { cpuMs: (ticks * 1000) / 100, rssMb: rss };
}

/** DuckDB in this process with demo.sales.customers loaded from `tree`'s CSV, as the demo warehouse holds it. */
export async function demoDuckDb(tree) {
  const duck = await import(join(tree, "node_modules", "@duckdb", "node-api", "lib", "index.js"));
  const instance = await duck.DuckDBInstance.create(":memory:");
  const setup = await instance.connect();
  await setup.run("ATTACH ':memory:' AS demo");
  await setup.run("CREATE SCHEMA demo.sales");
  await setup.run(`CREATE TABLE demo.sales.customers AS SELECT * FROM read_csv('${join(tree, "data", "demo", "customers.csv")}', header = true)`);
  setup.closeSync();
  return instance;
}
