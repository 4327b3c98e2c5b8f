// Benchmarks `jit proxy`: a warm BigQuery jobs.query through the proxy vs. the same query as the broker call
// `jit query` makes (POST /v1/query with the person's token), side by side, interleaved. Run manually:
//   npm run build && node bench/proxy.bench.mjs [--runs 30]
// Everything runs on 127.0.0.1 against `jit broker dev`; the loops are bounded by --runs.
import { performance } from "node:perf_hooks";
import { openCredentialStore } from "../src/auth/credential-store.ts";
import { currentToken } from "../src/auth/session.ts";
import { loginAs, runJit, startBroker } from "../test/e2e/harness.ts";
import { proxyToken, startProxy } from "../test/proxy/harness.ts";

process.env.METADATA_SERVER_DETECTION = "none";
const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30;
const WARMUP = 5;
const SQL = "SELECT id, full_name, ssn, email, city FROM demo.sales.customers ORDER BY id LIMIT 100";

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)];
const ms = (x) => `${x.toFixed(1)} ms`;

async function post(url, token, body) {
  const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}

const broker = await startBroker();
let proxy;
try {
  const env = broker.env("alice");
  const login = await loginAs(broker, "alice");
  if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`);
  if ((await runJit(["request", "demo.sales", "--reason", "bench"], env)).code !== 0) throw new Error("request failed");
  const brokerToken = await currentToken(openCredentialStore(env), broker.url);
  proxy = await startProxy(env);
  const pToken = await proxyToken(proxy.credentials);
  const { BigQuery } = await import("@google-cloud/bigquery");
  const bq = new BigQuery({ projectId: "demo", apiEndpoint: proxy.url, keyFilename: proxy.credentials });

  const direct = () => post(`${broker.url}/v1/query`, brokerToken, { sql: SQL, dry_run: false });
  const viaProxy = () => post(`${proxy.url}/bigquery/v2/projects/demo/queries`, pToken, { query: SQL, useLegacySql: false, formatOptions: { useInt64Timestamp: true } });
  const viaClient = () => bq.query(SQL);
  const check = await viaProxy();
  if (check.totalRows !== "100" || !check.jobComplete) throw new Error(`unexpected proxy answer: ${JSON.stringify(check).slice(0, 300)}`);

  for (let i = 0; i < WARMUP; i++) {
    await direct();
    await viaProxy();
    await viaClient();
  }
  const times = { direct: [], proxy: [], client: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const [k, fn] of [["direct", direct], ["proxy", viaProxy], ["client", viaClient]]) {
      const t0 = performance.now();
      await fn();
      times[k].push(performance.now() - t0);
    }
  }
  const ratio = median(times.proxy) / median(times.direct);
  console.log(`jit proxy bench: ${RUNS} interleaved runs after ${WARMUP} warm-up, Node ${process.version}`);
  console.log(`| measurement | median | p90 |`);
  console.log(`|---|---|---|`);
  console.log(`| broker POST /v1/query (what jit query sends) | ${ms(median(times.direct))} | ${ms(p90(times.direct))} |`);
  console.log(`| proxy jobs.query (raw HTTP) | ${ms(median(times.proxy))} | ${ms(p90(times.proxy))} |`);
  console.log(`| proxy via @google-cloud/bigquery query() | ${ms(median(times.client))} | ${ms(p90(times.client))} |`);
  console.log(`proxy / broker = ${ratio.toFixed(2)} (target <= 1.5)`);
  if (ratio > 1.5) process.exitCode = 1;
} finally {
  await proxy?.stop();
  await broker.stop();
}
