// `npm run bench`: runs every bench/*.bench.mjs (or the ones named: node bench/run.mjs startup mcp) one after another,
// prints their output, and rewrites each one's results block in bench/README.md, between
// <!-- results: NAME.bench.mjs --> and <!-- /results -->, with the output and the date, Node version and load.
// A bench that fails leaves its block as it was, and the run exits 1 after the others have run.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const README = new URL("README.md", import.meta.url);
/** Node flags a bench needs (the masking bench samples memory after forced GCs). */
const NODE_FLAGS = { "masking.bench.mjs": ["--expose-gc"] };

const wanted = process.argv.slice(2).map((a) => (a.endsWith(".bench.mjs") ? a : `${a}.bench.mjs`));
const all = readdirSync(here).filter((f) => f.endsWith(".bench.mjs")).sort();
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`no such bench: ${unknown.join(", ")} (have: ${all.join(", ")})`);
  process.exit(2);
}
const benches = wanted.length ? wanted : all;

let readme = readFileSync(README, "utf8");
let failed = 0;
for (const bench of benches) {
  console.log(`\n=== ${bench}`);
  const load = loadavg()[0];
  const started = Date.now();
  const r = spawnSync(process.execPath, [...(NODE_FLAGS[bench] ?? []), `${here}${bench}`], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  process.stdout.write(r.stdout ?? "");
  if (r.status !== 0) {
    console.error(`${bench} failed (exit ${r.status ?? r.signal}); its results in bench/README.md are left as they were`);
    failed++;
    continue;
  }
  const open = `<!-- results: ${bench} -->`;
  const close = "<!-- /results -->";
  const at = readme.indexOf(open);
  const end = at < 0 ? -1 : readme.indexOf(close, at);
  const stamp = `Last run: ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores, load ${load.toFixed(2)} at the start, ${((Date.now() - started) / 1000).toFixed(0)} s (written by npm run bench):`;
  const block = `${open}\n${stamp}\n\n${r.stdout.trim()}\n${close}`;
  if (at < 0 || end < 0) {
    readme = `${readme.trimEnd()}\n\n## ${bench}\n\n${block}\n`;
  } else {
    readme = readme.slice(0, at) + block + readme.slice(end + close.length);
  }
  writeFileSync(README, readme);
}
process.exit(failed ? 1 : 0);
