// Benchmarks `jit mcp` against the dev broker: the MCP `query` round trip vs. `jit query` minus process start,
// and `jit mcp` cold start until initialize is answered. Run manually (not part of npm test):
//   npm run build && node bench/mcp.bench.mjs [--runs 20]
// Everything runs on 127.0.0.1; the loops are bounded by --runs.
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { JIT_BIN, loginAs, runJit, startBroker } from "../test/e2e/harness.ts";

const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;
const SQL = "SELECT id, full_name, ssn, email, city FROM demo.sales.customers ORDER BY id LIMIT 100";

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)];
const ms = (x) => `${x.toFixed(1)} ms`;

async function timeRuns(n, fn) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Spawns `jit mcp` and resolves with the time until the initialize response arrives on stdout. */
function coldStart(env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [JIT_BIN, "mcp"], { env, stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes('"id":1')) {
        const t = performance.now() - t0;
        child.stdin.end();
        child.once("exit", () => {
          clearTimeout(timer);
          resolve(t);
        });
      }
    });
    child.on("error", reject);
    child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } })}\n`);
  });
}

const broker = await startBroker();
try {
  const env = broker.env("alice");
  const login = await loginAs(broker, "alice");
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  const req = await runJit(["request", "demo.sales", "--reason", "bench"], env);
  if (req.code !== 0) throw new Error(`request failed: ${req.stderr}`);

  // Process start alone, then the same query through the CLI (each a new process, as an agent spawning jit pays).
  await runJit(["--version"], env);
  const start = await timeRuns(RUNS, async () => {
    const r = await runJit(["--version"], env);
    if (r.code !== 0) throw new Error(r.stderr);
  });
  const cli = await timeRuns(RUNS, async () => {
    const r = await runJit(["query", "--format", "json", SQL], env);
    if (r.code !== 0) throw new Error(r.stderr);
  });

  // One MCP session, as an MCP client keeps it; two warm-up calls load the lazily imported modules.
  const transport = new StdioClientTransport({ command: process.execPath, args: [JIT_BIN, "mcp"], env, stderr: "ignore" });
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(transport);
  const call = async () => {
    const r = await client.callTool({ name: "query", arguments: { sql: SQL, max_rows: 100 } });
    if (r.isError) throw new Error(r.content[0].text);
  };
  await call();
  await call();
  const mcp = await timeRuns(RUNS, call);
  await client.close();

  await coldStart(env);
  const cold = [];
  for (let i = 0; i < Math.min(RUNS, 10); i++) cold.push(await coldStart(env));

  const startMed = median(start);
  const cliNet = median(cli) - startMed;
  const rows = [
    ["`jit --version` (process start)", median(start), p90(start)],
    ["`jit query` (whole process)", median(cli), p90(cli)],
    ["`jit query` minus process start", cliNet, NaN],
    ["MCP `query` round trip (warm session)", median(mcp), p90(mcp)],
    ["`jit mcp` cold start → initialize answered", median(cold), p90(cold)],
  ];
  console.log(`node ${process.version}, ${RUNS} runs, query: ${SQL}\n`);
  console.log("| measurement | median | p90 |\n|---|---|---|");
  for (const [name, med, p] of rows) console.log(`| ${name} | ${ms(med)} | ${Number.isNaN(p) ? "-" : ms(p)} |`);
  const ratio = median(mcp) / cliNet;
  console.log(`\nMCP round trip / (jit query − start) = ${ratio.toFixed(2)} (target ≤ 1.5)`);
  console.log(`cold start median ${ms(median(cold))} (target < 1000 ms)`);
} finally {
  await broker.stop();
}
