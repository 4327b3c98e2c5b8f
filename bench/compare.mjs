// Runs bench/load.bench.mjs against a baseline commit and the current tree in one run, so both see the same machine:
//   npm run build && node bench/compare.mjs [--base main] [--duration 30] [--connections 200] [--rounds 2] [--passes 1] [--install]
// The baseline is exported with `git archive` into a temp directory (no worktree registered, nothing in the repository
// changes), shares this tree's node_modules when that has every package it names (else, or with --install, installs its own), and is
// built with its own tsconfig. Passes alternate the order (base first, then current first) against drift on a shared
// machine. Everything is loopback and bounded: 2 × passes × rounds × duration seconds of load.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    base: { type: "string", default: "main" },
    duration: { type: "string", default: "30" },
    connections: { type: "string", default: "200" },
    rounds: { type: "string", default: "2" },
    passes: { type: "string", default: "1" },
    install: { type: "boolean", default: false },
  },
});
const HERE = fileURLToPath(new URL("..", import.meta.url));
const LOAD = join(HERE, "bench", "load.bench.mjs");
const log = (line) => process.stderr.write(`[compare] ${line}\n`);
const git = (...a) => execFileSync("git", ["-C", HERE, ...a], { encoding: "utf8" }).trim();

const commit = git("rev-parse", "--verify", `${args.base}^{commit}`);
const head = git("rev-parse", "HEAD");
const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
const dir = mkdtempSync(join(tmpdir(), "jit-base-"));

function run(cmd, argv, cwd) {
  return new Promise((done, fail) => {
    let out = "";
    const child = spawn(cmd, argv, { cwd, stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.on("data", (d) => (out += d));
    child.on("error", fail);
    child.on("close", (code) => (code === 0 ? done(out) : fail(new Error(`${cmd} ${argv.join(" ")} exited ${code}`))));
  });
}

try {
  log(`baseline ${args.base} = ${commit.slice(0, 12)} → ${dir}`);
  execFileSync("sh", ["-c", `git -C "${HERE}" archive --format=tar ${commit} | tar -x -C "${dir}"`]);
  // Share this tree's node_modules when the lock files agree, or when every package the baseline names is installed
  // here (a baseline from before a dependency was added); --install makes the baseline install its own.
  const basePkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const names = Object.keys({ ...basePkg.dependencies, ...basePkg.devDependencies });
  const sameLock = existsSync(join(dir, "package-lock.json")) && readFileSync(join(dir, "package-lock.json"), "utf8") === readFileSync(join(HERE, "package-lock.json"), "utf8");
  const covered = names.every((n) => existsSync(join(HERE, "node_modules", n, "package.json")));
  if (!args.install && (sameLock || covered)) {
    if (!sameLock) log("baseline package-lock.json differs; every package it names is installed here, so it shares this tree's node_modules");
    symlinkSync(join(HERE, "node_modules"), join(dir, "node_modules"), "dir");
  } else {
    log("installing the baseline's own dependencies");
    const flags = ["--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts"];
    // A lock file npm ci calls out of sync (optional platform packages, an older npm) still installs with npm install.
    await run("npm", ["ci", ...flags], dir).catch(() => run("npm", ["install", ...flags], dir));
  }
  log("building the baseline");
  await run(process.execPath, [join(dir, "node_modules", "typescript", "bin", "tsc"), "-p", join(dir, "tsconfig.json")], dir);

  const common = ["--duration", args.duration, "--connections", args.connections, "--rounds", args.rounds, "--json"];
  const sides = { base: [], current: [] };
  let inProcess = null;
  for (let pass = 0; pass < Number(args.passes); pass++) {
    const order = pass % 2 === 0 ? ["base", "current"] : ["current", "base"];
    for (const side of order) {
      const tree = side === "base" ? dir : HERE;
      const measureDuck = side === "current" && inProcess === null;
      const out = await run(process.execPath, [LOAD, ...common, "--tree", tree, "--inproc-seconds", measureDuck ? "5" : "0"], HERE);
      const result = JSON.parse(out.trim().split("\n").at(-1));
      sides[side].push(...result.rounds);
      if (measureDuck) inProcess = { both: result.inProcess, runOnly: result.inProcessRunOnly };
    }
  }

  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  console.log(`baseline ${args.base} (${commit.slice(0, 12)}) vs current ${head.slice(0, 12)}${dirty ? " + uncommitted changes" : ""}; ${args.connections} connections, ${args.duration} s rounds\n`);
  console.log("| tree | round | req/s | p50 ms | p99 ms | max ms | non-2xx | errors | CPU ms/req | RSS MB |\n|---|---|---|---|---|---|---|---|---|---|");
  for (const side of ["base", "current"]) {
    sides[side].forEach((r, i) => console.log(`| ${side} | ${i + 1} | ${r.perSecond.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.max} | ${r.non2xx} | ${r.errors} | ${r.cpuMsPerRequest.toFixed(2)} | ${r.rssMb.toFixed(0)} |`));
  }
  const rate = (s) => median(sides[s].map((r) => r.perSecond));
  const cpu = (s) => median(sides[s].map((r) => r.cpuMsPerRequest));
  console.log(`\nmedian throughput: base ${rate("base").toFixed(0)} req/s, current ${rate("current").toFixed(0)} req/s (× ${(rate("current") / rate("base")).toFixed(2)})`);
  console.log(`median broker CPU per request: base ${cpu("base").toFixed(2)} ms, current ${cpu("current").toFixed(2)} ms`);
  if (inProcess) {
    for (const [what, r] of [["prepare + stream", inProcess.both], ["stream only", inProcess.runOnly]]) {
      console.log(`DuckDB in-process, same SQL (${what}), ${args.connections} in flight: ${r.perSecond.toFixed(0)} queries/s, ${r.cpuMsPerQuery.toFixed(2)} ms CPU/query`);
    }
    console.log(`broker CPU above DuckDB's own (prepare + stream): base ${(cpu("base") - inProcess.both.cpuMsPerQuery).toFixed(2)} ms, current ${(cpu("current") - inProcess.both.cpuMsPerQuery).toFixed(2)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
