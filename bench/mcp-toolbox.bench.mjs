// The MCP query tool's round trip, jit vs Google's MCP Toolbox for Databases (npm @toolbox-sdk/server-linux-x64, as .ci/run installs it into .tools/toolbox), on the same
// 100-row query against the same local BigQuery REST fake (test/fakes/bigquery-server.ts), interleaved in one run:
//   npm run build && node bench/mcp-toolbox.bench.mjs [--runs 40] [--no-schema-cache]
// jit: `jit mcp` (signed in, with a grant) → a broker composed as `jit broker serve` composes it (SQLite store,
// BigQuery warehouse on the fake, schemas cached unless --no-schema-cache) → the fake. Toolbox: its execute-sql tool
// → the fake, authenticated by an external_account credential whose STS endpoint is a loopback stub here.
// Everything is on 127.0.0.1; the loops are bounded by --runs. Also counts the REST calls each makes per tool call.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { OAuth2Client } from "google-auth-library";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { openCredentialStore } from "../src/auth/credential-store.ts";
import { currentToken } from "../src/auth/session.ts";
import { createBrokerHandler, listen } from "../src/broker/server.ts";
import { createTokenVerifier } from "../src/broker/verify-token.ts";
import { parsePolicy } from "../src/policy/load.ts";
import { openSqliteStore } from "../src/store/sqlite.ts";
import { openBigQueryWarehouse } from "../src/warehouse/bigquery.ts";
import { withSchemaCache } from "../src/warehouse/schema-cache.ts";
import { BROKER_TOKEN, cliEnv, DATA, defaultDryRun, defaultQuery, POLICY_YAML, PROJECT, signIn, startFakeBigQuery } from "../test/e2e/bigquery-harness.ts";
import { JIT_BIN, runJit } from "../test/e2e/harness.ts";
import { CLIENT_ID, SCOPES, startDevIdp } from "../test/idp/harness.ts";

process.env.METADATA_SERVER_DETECTION = "none";
const { values: args } = parseArgs({ options: { runs: { type: "string", default: "40" }, "no-schema-cache": { type: "boolean", default: false } } });
const RUNS = Number(args.runs);
const WARMUP = 5;
const SQL = `SELECT id, full_name, ssn, email, city FROM \`${PROJECT}.sales.customers\` LIMIT 100`;

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)];

/** The Toolbox binary where test/proxy/toolbox.test.ts looks for it: JIT_TOOLBOX_BIN, .tools/toolbox (what .ci/run installs), the project. */
function toolboxBinary() {
  const pkgName = `@toolbox-sdk/server-${process.platform}-${process.arch}`;
  const candidates = [process.env.JIT_TOOLBOX_BIN, join(import.meta.dirname, "..", ".tools", "toolbox", "node_modules", pkgName, "bin", "toolbox")];
  try {
    candidates.push(join(dirname(createRequire(import.meta.url).resolve(`${pkgName}/package.json`)), "bin", "toolbox"));
  } catch {
    // not installed in the project
  }
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) throw new Error(`no MCP Toolbox binary; install it with: npm install --prefix .tools/toolbox ${pkgName}@1.12.0`);
  return found;
}

/** A broker composed like src/broker/serve.ts's, on the BigQuery fake. */
async function startBroker(dir, idp, apiEndpoint) {
  const policy = parsePolicy(POLICY_YAML, "acme-policy.yaml");
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: BROKER_TOKEN, expiry_date: Date.now() + 3600_000 });
  const bq = await openBigQueryWarehouse({ projectId: PROJECT, apiEndpoint, authClient, retryBaseDelayMs: 1, queryTimeoutMs: 10_000 });
  const store = openSqliteStore(join(dir, "jit.db"));
  const deps = {
    policy: () => policy, store,
    warehouse: args["no-schema-cache"] ? bq : withSchemaCache(bq),
    warehouseFor: (groups, grantExpiresAt) => bq.forPrincipal({ groups, grantExpiresAt }),
    verifyToken: createTokenVerifier({ issuer: idp.issuer, audience: CLIENT_ID, groupsClaim: policy.groupsClaim }),
    loginSettings: { issuer: idp.issuer, client_id: CLIENT_ID, scopes: SCOPES, audience: CLIENT_ID },
    now: Date.now, hashKey: randomBytes(32), mode: "serve", version: "bench", log: () => {},
  };
  const { server, url } = await listen(createBrokerHandler(deps), "127.0.0.1", 0);
  return { url, async close() { server.closeAllConnections(); await new Promise((r) => server.close(r)); await store.close(); } };
}

/** A loopback STS endpoint answering Google's token exchange, for Toolbox's external_account credential. */
async function startSts() {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
      access_token: "toolbox-access-token", token_type: "Bearer", expires_in: 3600, issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
    })));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/v1/token`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

const dir = mkdtempSync(join(tmpdir(), "jit-mcp-toolbox-"));
// 100 customers, so both sides return 100 rows.
DATA["sales.customers"] = Array.from({ length: 100 }, (_, i) => [String(i + 1), `Person ${i + 1}`, `p${i + 1}@example.com`, `123-45-${String(1000 + i)}`, "4111111111111111", "London"]);
const fake = await startFakeBigQuery();
// BigQuery's REST API names INT64 "INTEGER" in schemas, and Toolbox's Go client accepts only that spelling.
const restTypes = (schema) => schema?.map((f) => ({ ...f, type: f.type === "INT64" ? "INTEGER" : f.type }));
fake.query = (sql) => { const r = defaultQuery(sql); return { ...r, schema: restTypes(r.schema) }; };
fake.dryRun = (sql) => { const r = defaultDryRun(sql); return { ...r, schema: restTypes(r.schema) }; };
const idp = await startDevIdp();
const sts = await startSts();
const broker = await startBroker(dir, idp, fake.url);
const closers = [];
try {
  const env = cliEnv(dir, "alice", broker.url);
  if ((await signIn(idp, env, "alice")).code !== 0) throw new Error("sign-in failed");
  const req = await runJit(["request", `${PROJECT}.sales`, "--reason", "bench"], env);
  if (req.code !== 0) throw new Error(`request failed: ${req.stderr}`);

  const jit = new Client({ name: "bench", version: "1" });
  await jit.connect(new StdioClientTransport({ command: process.execPath, args: [JIT_BIN, "mcp"], env, stderr: "ignore" }));
  closers.push(() => jit.close());

  const tb = join(dir, "toolbox");
  mkdirSync(tb, { mode: 0o700 });
  writeFileSync(join(tb, "subject"), "bench-subject-token");
  writeFileSync(join(tb, "credential.json"), JSON.stringify({
    type: "external_account", audience: "//iam.googleapis.com/locations/global/bench", subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    token_url: sts.url, credential_source: { file: join(tb, "subject"), format: { type: "text" } },
  }));
  writeFileSync(join(tb, "tools.yaml"), `kind: source\nname: bq\ntype: bigquery\nproject: ${PROJECT}\napiEndpoint: ${fake.url}\nmaxQueryResultRows: 100\n---\nkind: tool\nname: execute_sql\ntype: bigquery-execute-sql\nsource: bq\ndescription: Run a GoogleSQL statement.\n`);
  const toolbox = new Client({ name: "bench", version: "1" });
  await toolbox.connect(new StdioClientTransport({
    command: toolboxBinary(), args: ["--config", join(tb, "tools.yaml"), "--stdio", "--disable-version-check"],
    env: { PATH: process.env.PATH, HOME: tb, GOOGLE_APPLICATION_CREDENTIALS: join(tb, "credential.json"), METADATA_SERVER_DETECTION: "none" }, stderr: "ignore",
  }));
  closers.push(() => toolbox.close());

  const rowsOf = (r) => {
    if (r.isError) throw new Error(r.content.map((c) => c.text).join("\n").slice(0, 400));
    return r.content.map((c) => c.text ?? "").join("\n");
  };
  const callJit = async () => rowsOf(await jit.callTool({ name: "query", arguments: { sql: SQL, max_rows: 100 } }));
  // The broker call `jit mcp` makes, without MCP: what is the broker's, and what the MCP server's.
  const token = await currentToken(openCredentialStore(env), broker.url);
  const callBroker = async () => {
    const res = await fetch(`${broker.url}/v1/query`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ sql: SQL, max_rows: 100 }) });
    const text = await res.text();
    if (!res.ok) throw new Error(`broker: HTTP ${res.status} ${text.slice(0, 300)}`);
    return text;
  };
  const callToolbox = async () => rowsOf(await toolbox.callTool({ name: "execute_sql", arguments: { sql: SQL } }));
  for (const [name, call] of [["jit", callJit], ["toolbox", callToolbox], ["broker", callBroker]]) {
    const text = await call();
    const rows = (text.match(/Person \d+/g) ?? []).length;
    if (rows !== 100) throw new Error(`${name}: ${rows} rows, not 100: ${text.slice(0, 200)} … ${text.slice(-200)}`);
  }
  const calls = async (fn) => { const before = fake.requests.length; await fn(); return fake.requests.length - before; };
  const restCalls = { jit: await calls(callJit), toolbox: await calls(callToolbox) };
  restCalls.broker = await calls(callBroker);
  for (let i = 0; i < WARMUP; i++) { await callJit(); await callToolbox(); await callBroker(); }
  const times = { jit: [], toolbox: [], broker: [] };
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, alternating which goes first, so drift on a shared machine hits both alike.
    const order = i % 2 ? [["toolbox", callToolbox], ["broker", callBroker], ["jit", callJit]] : [["jit", callJit], ["broker", callBroker], ["toolbox", callToolbox]];
    for (const [name, call] of order) {
      const t0 = performance.now();
      await call();
      times[name].push(performance.now() - t0);
    }
  }
  console.log(`MCP query tool round trip, ${RUNS} interleaved runs, 100 rows (${SQL}); schema cache ${args["no-schema-cache"] ? "off" : "on"}\n`);
  console.log("| server (broker: POST /v1/query alone, the call jit mcp makes) | median ms | p90 ms | REST calls per tool call |\n|---|---|---|---|");
  for (const name of ["jit", "toolbox", "broker"]) console.log(`| ${name} | ${median(times[name]).toFixed(1)} | ${p90(times[name]).toFixed(1)} | ${restCalls[name]} |`);
  console.log(`\njit / Toolbox (medians) = ${(median(times.jit) / median(times.toolbox)).toFixed(2)} (target ≤ 1.5)`);
} finally {
  for (const close of closers.reverse()) await close().catch(() => {});
  await broker.close();
  await Promise.allSettled([idp.close(), sts.close(), fake.close()]);
  rmSync(dir, { recursive: true, force: true });
}
