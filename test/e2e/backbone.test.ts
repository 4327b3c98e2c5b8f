/** The backbone story through the built binary: broker dev, device login, request, grants, masked query in every format, exit codes. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type DevBrokerProcess, runJit, startBroker, userEnv } from "./harness.ts";

const customersCsv = readFileSync(new URL("../../data/demo/customers.csv", import.meta.url), "utf8");
const rawSsns = [...customersCsv.matchAll(/\b\d{3}-\d{2}-\d{4}\b/g)].map((m) => m[0]);

describe("backbone end to end", { timeout: 120_000 }, () => {
  let broker: DevBrokerProcess;
  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await broker?.stop();
  });

  test("signed out: whoami exits 3 and says to run jit login", async () => {
    const r = await runJit(["whoami"], broker.env("nobody"));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /jit login/);
  });

  test("unknown flag exits 2 with a one-line message and no stack trace", async () => {
    const r = await runJit(["query", "--frobnicate"], broker.env("nobody"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  test("--json errors are one object on stderr with the SPEC code", async () => {
    const r = await runJit(["whoami", "--json"], broker.env("nobody"));
    assert.equal(r.code, 3);
    const body = JSON.parse(r.stderr.trim()) as { error: { code: string; hint: string } };
    assert.equal(body.error.code, "unauthenticated");
    assert.match(body.error.hint, /jit login/);
  });

  test("alice signs in, requests demo.sales (auto-approved) and queries with masking in every format", async () => {
    const login = await broker.login("alice");
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, /Signed in .* as alice/);

    const env = broker.env("alice");
    const who = await runJit(["whoami", "--json"], env);
    assert.equal(who.code, 0, who.stderr);
    const me = JSON.parse(who.stdout) as { username: string; groups: string[]; token_expires_at: string };
    assert.equal(me.username, "alice");
    assert.deepEqual(me.groups, ["analysts"]);
    assert.ok(Date.parse(me.token_expires_at) > Date.now());

    const sql = "SELECT full_name, ssn, card_number, email FROM demo.sales.customers LIMIT 5";
    const noGrant = await runJit(["query", sql], env);
    assert.equal(noGrant.code, 4, noGrant.stderr);
    assert.match(noGrant.stderr, /jit request demo\.sales/);

    const req = await runJit(["request", "demo.sales", "--reason", "weekly report", "--json"], env);
    assert.equal(req.code, 0, req.stderr);
    const filed = JSON.parse(req.stdout) as { request: { state: string; grant_id: string } };
    assert.equal(filed.request.state, "approved");

    const grants = JSON.parse((await runJit(["grants", "--json"], env)).stdout) as { grants: Array<{ id: string; datasets: string[]; seconds_left: number }> };
    assert.equal(grants.grants.length, 1);
    assert.deepEqual(grants.grants[0]!.datasets, ["demo.sales"]);
    // No --duration: SPEC's default of 1h (alice's rule would allow up to 8h).
    assert.ok(grants.grants[0]!.seconds_left > 3500 && grants.grants[0]!.seconds_left <= 3600);

    const json = await runJit(["query", sql, "--format", "json"], env);
    assert.equal(json.code, 0, json.stderr);
    const res = JSON.parse(json.stdout) as {
      columns: Array<{ name: string; masked: boolean; mask?: string }>;
      rows: Array<Record<string, string>>;
      row_count: number;
      masked_cells: number;
      grant_id: string;
      audit_id: string;
    };
    assert.equal(res.row_count, 5);
    assert.deepEqual(res.columns.map((c) => [c.name, c.masked]), [["full_name", false], ["ssn", true], ["card_number", true], ["email", true]]);
    assert.ok(res.masked_cells >= 15);
    assert.equal(res.grant_id, filed.request.grant_id);
    assert.ok(res.audit_id);
    for (const row of res.rows) {
      assert.ok(!rawSsns.includes(row.ssn!), `raw SSN leaked: ${row.ssn}`);
      assert.doesNotMatch(row.email!, /^[^X*][^@]*@/, `e-mail local part leaked: ${row.email}`);
      assert.doesNotMatch(row.card_number!.replace(/[\s-]/g, ""), /^\d{16}$/);
    }
    for (const ssn of rawSsns) assert.ok(!json.stdout.includes(ssn));

    const jsonl = await runJit(["query", sql, "--format", "jsonl"], env);
    assert.equal(jsonl.code, 0, jsonl.stderr);
    const lines = jsonl.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 5);
    assert.deepEqual(Object.keys(JSON.parse(lines[0]!)), ["full_name", "ssn", "card_number", "email"]);

    const csv = await runJit(["query", sql, "--format", "csv"], env);
    assert.equal(csv.code, 0, csv.stderr);
    const csvLines = csv.stdout.split("\r\n").filter(Boolean);
    assert.equal(csvLines[0], "full_name,ssn,card_number,email");
    assert.equal(csvLines.length, 6);

    const table = await runJit(["query", sql, "--format", "table"], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /ssn \(last4\)/);
    assert.match(table.stderr, /5 rows/);

    const piped = await runJit(["query"], env, { input: "SELECT COUNT(*) AS n FROM demo.sales.orders" });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal((JSON.parse(piped.stdout) as { rows: Array<{ n: number }> }).rows[0]!.n, 6000);
  });

  test("alice is refused inference on a masked column and DML, with exit 4", async () => {
    const env = broker.env("alice");
    const where = await runJit(["query", "SELECT full_name FROM demo.sales.customers WHERE ssn LIKE '1%'"], env);
    assert.equal(where.code, 4, where.stderr);
    assert.match(where.stderr, /ssn/);
    const del = await runJit(["query", "DELETE FROM demo.sales.orders WHERE true"], env);
    assert.equal(del.code, 4, del.stderr);
    const hr = await runJit(["query", "SELECT full_name FROM demo.hr.employees"], env);
    assert.equal(hr.code, 4, hr.stderr);
  });

  test("carol is told she needs approval (exit 5 pending, then exit 4 on query)", async () => {
    const login = await broker.login("carol");
    assert.equal(login.code, 0, login.stderr);
    const env = broker.env("carol");
    const req = await runJit(["request", "demo.sales", "--reason", "invoice audit"], env);
    assert.equal(req.code, 5, req.stderr);
    assert.match(req.stderr, /jit approve \d+/);
    const q = await runJit(["query", "SELECT city FROM demo.sales.customers LIMIT 1"], env);
    assert.equal(q.code, 4);
  });

  test("bad input: unreadable --file, empty SQL, bad broker URL, corrupt config, unreachable broker", async () => {
    const env = broker.env("alice");
    const file = await runJit(["query", "--file", "/nonexistent/q.sql"], env);
    assert.equal(file.code, 2);
    assert.match(file.stderr, /cannot read --file/);

    const empty = await runJit(["query"], env, { input: "" });
    assert.equal(empty.code, 2);

    const badUrl = await runJit(["whoami", "--broker", "not a url"], env);
    assert.equal(badUrl.code, 2, badUrl.stderr);

    const home = join(broker.dir, "corrupt");
    const cenv = userEnv(home, undefined);
    mkdirSync(join(home, "config", "jit"), { recursive: true });
    writeFileSync(join(home, "config", "jit", "config.json"), "{not json");
    const corrupt = await runJit(["whoami"], cenv);
    assert.equal(corrupt.code, 2, corrupt.stderr);
    assert.match(corrupt.stderr, /config\.json/);

    const down = await runJit(["login", "--no-browser", "--broker", "http://127.0.0.1:9"], env);
    assert.equal(down.code, 7, down.stderr);
    assert.match(down.stderr, /jit broker dev/);
  });

  test("a reader that closes the pipe early (jit whoami | head) ends jit quietly: no stack trace, exit 0", async () => {
    const { spawn } = await import("node:child_process");
    const { JIT_BIN } = await import("./harness.ts");
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [JIT_BIN, "whoami"], { env: broker.env("alice"), stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.stdout.destroy(); // the reader is gone before jit writes, as when head has already exited
      child.on("close", (code) => resolve({ code, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /);
  });

  test("logout deletes the tokens; the next command exits 3", async () => {
    const env = broker.env("alice");
    const out = await runJit(["logout"], env);
    assert.equal(out.code, 0, out.stderr);
    const who = await runJit(["whoami"], env);
    assert.equal(who.code, 3);
  });
});
