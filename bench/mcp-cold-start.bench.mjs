// `jit mcp` cold start next to the floor, in one run: `node -e 0`, then spawn → `initialize` answered and spawn →
// `tools/list` answered (what an MCP client waits for before it can call anything), one of each per round with the
// order rotated, so load from other jobs weighs on all alike; medians and p90. `--base DIR` adds another built checkout
// (bench/compare.mjs makes one) side by side; Google's MCP Toolbox joins when its binary is found (as
// bench/mcp-toolbox.bench.mjs finds it). No broker is needed: nothing before tools/list talks to one.
//   npm run build && node bench/mcp-cold-start.bench.mjs [--runs 20] [--base DIR]
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "20" }, base: { type: "string" } } });
const RUNS = Number(args.runs);
const HERE = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "jit-mcp-cold-"));
// A person's environment: file credential store, their own compile cache (warmed by the warm-up rounds).
const env = {
  PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state"), XDG_CACHE_HOME: join(dir, "cache"),
  JIT_CREDENTIAL_STORE: "file", JIT_BROKER: "http://127.0.0.1:9", NO_COLOR: "1",
};
const INIT = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } };
const INITIALIZED = { jsonrpc: "2.0", method: "notifications/initialized" };
const LIST = { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} };

/** Spawns an MCP server on stdio, sends initialize (and tools/list after it): ms until each answer arrives. */
function mcpStart(command, argv, childEnv) {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(command, argv, { env: childEnv, stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    let init = null;
    const timer = setTimeout(() => { child.kill("SIGKILL"); fail(new Error(`${command} ${argv.join(" ")}: no answer in 20 s: ${out.slice(0, 300)}`)); }, 20_000);
    child.stdout.on("data", (d) => {
      out += d;
      for (let nl = out.indexOf("\n"); nl >= 0; nl = out.indexOf("\n")) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        let msg;
        try { msg = JSON.parse(line); } catch { continue; }
        if (msg.id === 1 && init === null) {
          init = performance.now() - t0;
          child.stdin.write(`${JSON.stringify(INITIALIZED)}\n${JSON.stringify(LIST)}\n`);
        } else if (msg.id === 2) {
          const list = performance.now() - t0;
          clearTimeout(timer);
          if (!(msg.result?.tools?.length > 0)) fail(new Error(`tools/list: ${line.slice(0, 300)}`));
          child.stdin.end();
          child.kill();
          done({ init, list });
        }
      }
    });
    child.on("error", fail);
    child.stdin.write(`${JSON.stringify(INIT)}\n`);
  });
}

function nodeE0() {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
    child.on("error", fail);
    child.on("exit", () => done(performance.now() - t0));
  });
}

function toolboxBinary() {
  const pkg = `@toolbox-sdk/server-${process.platform}-${process.arch}`;
  return [process.env.JIT_TOOLBOX_BIN, join(HERE, ".tools", "toolbox", "node_modules", pkg, "bin", "toolbox")].find((c) => c && existsSync(c));
}

const cases = [["node -e 0", async () => ({ init: await nodeE0(), list: NaN })]];
cases.push(["jit mcp (this tree)", () => mcpStart(process.execPath, [join(HERE, "bin", "jit.js"), "mcp"], env)]);
if (args.base) cases.push([`jit mcp (${args.base})`, () => mcpStart(process.execPath, [join(resolve(args.base), "bin", "jit.js"), "mcp"], env)]);
const toolbox = toolboxBinary();
if (toolbox) {
  const tb = join(dir, "toolbox");
  mkdirSync(tb);
  // A BigQuery source is checked at start-up against Google's APIs; Toolbox's own prebuilt-free start with an
  // in-memory SQLite source needs nothing outside.
  writeFileSync(join(tb, "tools.yaml"), "kind: source\nname: db\ntype: sqlite\ndatabase: ':memory:'\n---\nkind: tool\nname: execute_sql\ntype: sqlite-execute-sql\nsource: db\ndescription: Run SQL.\n");
  cases.push(["MCP Toolbox (sqlite source)", () => mcpStart(toolbox, ["--config", join(tb, "tools.yaml"), "--stdio", "--disable-version-check"], { PATH: process.env.PATH, HOME: tb })]);
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)];
const load0 = loadavg()[0];
try {
  for (let i = 0; i < 3; i++) for (const [, run] of cases) await run(); // warm-up: the compile caches fill
  const times = new Map(cases.map(([name]) => [name, []]));
  for (let i = 0; i < RUNS; i++) {
    const k = i % cases.length;
    for (const [name, run] of [...cases.slice(k), ...cases.slice(0, k)]) times.get(name).push(await run());
  }
  const floor = median(times.get("node -e 0").map((t) => t.init));
  console.log(`Node ${process.version}, ${cpus().length} cores, load ${load0.toFixed(2)}; ${RUNS} rounds, order rotated\n`);
  console.log("| process | → initialize answered (median) | p90 | minus `node -e 0` | → tools/list answered (median) | p90 |");
  console.log("|---|---|---|---|---|---|");
  for (const [name, ts] of times) {
    const init = ts.map((t) => t.init);
    const list = ts.map((t) => t.list).filter((x) => !Number.isNaN(x));
    const f = (x) => `${x.toFixed(1)} ms`;
    console.log(`| ${name} | ${f(median(init))} | ${f(p90(init))} | ${name === "node -e 0" ? "-" : f(median(init) - floor)} | ${list.length ? f(median(list)) : "-"} | ${list.length ? f(p90(list)) : "-"} |`);
  }
  const jit = median(times.get("jit mcp (this tree)").map((t) => t.init));
  console.log(`\njit mcp → initialize: ${jit.toFixed(1)} ms median, ${(jit - floor).toFixed(1)} ms above node -e 0 (${floor.toFixed(1)} ms); target ≤ 100 ms: ${jit <= 100 ? "met" : "missed"}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
