// Overload: one `jit broker serve` (SQLite store, DuckDB demo warehouse) offered twice the rate it sustains. First a
// closed loop (200 connections, autocannon) finds the sustainable rate R; then 1,000 clients offer 2R between them
// (autocannon's overallRate), and each answer is timed by its status: what the broker accepts must come back within
// p99 <= 500 ms, the rest must be shed at once with 503 + Retry-After (issue 15).
//   npm run build && node bench/overload.bench.mjs [--duration 10] [--max-in-flight 256] [--factor 2]
// Everything is on 127.0.0.1 and bounded: two phases of --duration seconds, at most 1,000 sockets.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startServeBroker } from "./broker-process.mjs";
import autocannon from "autocannon";
import { devSignIn } from "../src/demo/sign-in.ts";
import { writeBrokerConfig } from "../test/fixtures/broker-config.ts";
import { startDevIdp } from "../test/idp/harness.ts";
import { JIT_BIN } from "../test/e2e/harness.ts";

const { values: args } = parseArgs({
  options: { duration: { type: "string", default: "10" }, "max-in-flight": { type: "string", default: "256" }, factor: { type: "string", default: "2" } },
});
const DURATION = Number(args.duration);
const FACTOR = Number(args.factor);
const SQL = "SELECT id, full_name, email, city FROM demo.sales.customers WHERE id = 42";
const log = (line) => process.stderr.write(`[overload] ${line}\n`);
const dir = mkdtempSync(join(tmpdir(), "jit-overload-"));

const serve = (config) => startServeBroker(JIT_BIN, config, { HOME: dir });

const pct = (xs, p) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/**
 * Offers `rate` requests a second from `connections` clients (autocannon's overallRate), each answer timed from its
 * send and kept by its status: 1,000 clients that come back at once after a 503, which is what a crowd of agents does.
 */
async function crowd(url, headers, body, rate, connections, seconds) {
  const byStatus = new Map();
  let retryAfter = 0;
  const result = await autocannon({
    url: `${url}/v1/query`, connections, overallRate: rate, duration: seconds, timeout: 30,
    requests: [{
      method: "POST", headers, body,
      setupRequest: (req, context) => { context.sent = performance.now(); return req; },
      onResponse: (status, _body, context, resHeaders) => {
        const ms = performance.now() - context.sent;
        if (!byStatus.has(status)) byStatus.set(status, []);
        byStatus.get(status).push(ms);
        const h = resHeaders ?? {};
        if (status === 503 && (h["retry-after"] ?? (Array.isArray(h) ? h[h.indexOf("retry-after") + 1] : undefined))) retryAfter++;
      },
    }],
  });
  return { byStatus, retryAfter, failed: result.errors + result.timeouts, seconds };
}

const idp = await startDevIdp();
let broker;
try {
  const { config } = writeBrokerConfig(dir, {
    issuer: idp.issuer, store: `store: { sqlite: ${join(dir, "jit.db")} }`, extra: ["metrics_listen: off", `max_in_flight: ${args["max-in-flight"]}`],
  });
  broker = await serve(config);
  const token = (await devSignIn(idp.issuer.replace(/\/oidc$/, ""), idp.issuer, "alice")).idToken;
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const granted = await fetch(`${broker.url}/v1/requests`, { method: "POST", headers, body: JSON.stringify({ datasets: ["demo.sales"], reason: "overload bench" }) });
  if (!granted.ok) throw new Error(`request failed: ${granted.status} ${await granted.text()}`);
  const body = JSON.stringify({ sql: SQL });

  log(`broker ${broker.url}, max_in_flight ${args["max-in-flight"]}; closed loop, 200 connections, ${DURATION} s`);
  const closed = await autocannon({ url: `${broker.url}/v1/query`, method: "POST", connections: 200, duration: DURATION, headers, body });
  const sustainable = closed.requests.average;
  const rate = Math.round(sustainable * FACTOR);
  log(`sustainable ${sustainable.toFixed(0)} req/s (p99 ${closed.latency.p99} ms); open loop at ${rate} req/s for ${DURATION} s`);
  const open = await crowd(broker.url, headers, body, rate, 1000, DURATION);

  const ok = open.byStatus.get(200) ?? [];
  const shed = open.byStatus.get(503) ?? [];
  const other = [...open.byStatus].filter(([s]) => s !== 200 && s !== 503).map(([s, xs]) => `${s}: ${xs.length}`);
  console.log(`Node ${process.version}, ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}; max_in_flight ${args["max-in-flight"]}, ${DURATION} s phases\n`);
  console.log("| phase | offered | answered 200 | p50 ms (200) | p99 ms (200) | shed 503 | p99 ms (503) | 503 with Retry-After | other / errors |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  console.log(`| closed loop, 200 connections | - | ${sustainable.toFixed(0)}/s | ${closed.latency.p50} | ${closed.latency.p99} | ${closed.non2xx} | - | - | ${closed.errors + closed.timeouts} |`);
  const r = (n) => `${(n / open.seconds).toFixed(0)}/s`;
  const f = (x) => (x === null ? "-" : x.toFixed(0));
  console.log(`| 1,000 clients, ${FACTOR}× | ${rate}/s | ${r(ok.length)} | ${f(pct(ok, 50))} | ${f(pct(ok, 99))} | ${r(shed.length)} | ${f(pct(shed, 99))} | ${open.retryAfter} of ${shed.length} | ${other.join(", ") || 0} / ${open.failed} |`);
  const p99 = pct(ok, 99);
  console.log(`\naccepted p99 ${f(p99)} ms (target <= 500 ms: ${p99 !== null && p99 <= 500 ? "met" : "missed"}); every 503 carried Retry-After: ${open.retryAfter === shed.length ? "yes" : "no"}`);
} finally {
  if (broker) {
    broker.child.kill("SIGTERM");
    await new Promise((r) => broker.child.once("exit", r));
  }
  await idp.close();
  rmSync(dir, { recursive: true, force: true });
}
