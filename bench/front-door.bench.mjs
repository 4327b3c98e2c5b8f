// Benchmarks how long /healthz waits behind large statements posted to /v1/query on an in-process dev broker:
// statements past the size/complexity caps (refused by src/sql/limits.ts before any parse) and the largest
// ones the caps let through (parsed and analysed on the event loop). Run manually (not part of npm test):
//   . scripts/node-env.sh && node bench/front-door.bench.mjs [--rounds 5]
// Everything runs on 127.0.0.1; the loops are bounded by --rounds.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startDevBroker } from "../src/broker/dev.ts";
import { devSignIn } from "../src/demo/sign-in.ts";
import { MAX_COMMENT_CHARS, MAX_FILLER_CHARS, MAX_TOKENS } from "../src/sql/limits.ts";

const roundsArg = process.argv.indexOf("--rounds");
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 5;
const orChain = (n) => "SELECT order_id FROM demo.sales.orders WHERE " + Array.from({ length: n }, (_, i) => `order_id = ${i}`).join(" OR ");

const shapes = [
  ["refused: 1 MB + 1 byte literal", `SELECT '${"x".repeat(1_000_001)}' AS s`],
  ["refused: 1 MB comment", `SELECT 1 /* ${"a".repeat(999_000)} */ FROM demo.sales.orders`],
  ["refused: 1 MB whitespace", `SELECT 1 ${" ".repeat(999_000)} FROM demo.sales.orders`],
  ["refused: 10,000-term OR chain", orChain(10_000)],
  ["accepted: 1 MB literal", `SELECT '${"x".repeat(999_000)}' AS s FROM demo.sales.orders LIMIT 1`],
  [`accepted: ${MAX_COMMENT_CHARS / 1024} KiB comment`, `SELECT order_id /* ${"a".repeat(MAX_COMMENT_CHARS - 200)} */ FROM demo.sales.orders LIMIT 1`],
  [`accepted: ${MAX_FILLER_CHARS / 1024} KiB whitespace`, `SELECT order_id ${" ".repeat(MAX_FILLER_CHARS - 200)} FROM demo.sales.orders LIMIT 1`],
  ["accepted: a typical analytics query", "SELECT c.city, COUNT(*) AS n, SUM(o.amount) AS total FROM demo.sales.orders o JOIN demo.sales.customers c ON c.id = o.customer_id WHERE o.status = 'paid' GROUP BY c.city ORDER BY total DESC LIMIT 10"],
  [`accepted: OR chain near ${MAX_TOKENS} tokens`, orChain(Math.floor(MAX_TOKENS / 4) - 10)],
];

const dir = mkdtempSync(join(tmpdir(), "jit-bench-front-"));
const broker = await startDevBroker({ port: 0, dataDir: dir });
try {
  const token = (await devSignIn(broker.url, broker.issuer, "alice")).idToken;
  await fetch(`${broker.url}/v1/requests`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ datasets: ["demo.sales"], reason: "bench" }) });
  const healthz = async () => {
    const t0 = performance.now();
    await (await fetch(`${broker.url}/healthz`)).text();
    return performance.now() - t0;
  };
  const idle = [];
  for (let i = 0; i < 20; i++) idle.push(await healthz());
  console.log(`| statement | status | answer ms (median) | worst /healthz wait ms (max over ${ROUNDS}) |`);
  console.log("|---|---|---|---|");
  console.log(`| (none: idle) | - | - | ${Math.max(...idle).toFixed(1)} |`);
  for (const [name, sql] of shapes) {
    const answers = [];
    let worst = 0;
    let status = 0;
    for (let r = 0; r < ROUNDS; r++) {
      let done = false;
      const probe = (async () => { while (!done) worst = Math.max(worst, await healthz()); })();
      const t0 = performance.now();
      const res = await fetch(`${broker.url}/v1/query`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ sql, dry_run: true }) });
      await res.text();
      answers.push(performance.now() - t0);
      status = res.status;
      done = true;
      await probe;
    }
    answers.sort((a, b) => a - b);
    console.log(`| ${name} | ${status} | ${answers[Math.floor(answers.length / 2)].toFixed(1)} | ${worst.toFixed(1)} |`);
  }
} finally {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}
