/** The audit log through the binary: verify, tampering and gaps named, survival of kill -9, no token anywhere. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, test } from "node:test";
import { type DevBrokerProcess, runJit, startBroker } from "./harness.ts";

function storedToken(broker: DevBrokerProcess, user: string): { id_token: string; refresh_token: string } {
  const file = join(broker.env(user).XDG_STATE_HOME!, "jit", "credentials.json");
  const entries = (JSON.parse(readFileSync(file, "utf8")) as { entries: Record<string, string> }).entries;
  return JSON.parse(entries[broker.url]!) as { id_token: string; refresh_token: string };
}

function withDb<T>(broker: DevBrokerProcess, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(join(broker.dir, "broker", "jit.db"));
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    return fn(db);
  } finally {
    db.close();
  }
}

describe("audit log end to end", { timeout: 150_000 }, () => {
  test("verify passes after a flow, names a tampered record and a deleted one; tokens never stored or logged", async () => {
    const broker = await startBroker();
    let brokerLog = "";
    broker.child.stderr!.on("data", (d) => (brokerLog += d));
    try {
      for (const u of ["alice", "dave"]) assert.equal((await broker.login(u)).code, 0);
      const alice = broker.env("alice");
      const dave = broker.env("dave");
      assert.equal((await runJit(["request", "demo.sales", "--reason", "audit test"], alice)).code, 0);
      for (let i = 0; i < 3; i++) assert.equal((await runJit(["query", `SELECT city FROM demo.sales.customers LIMIT ${i + 1}`], alice)).code, 0);
      assert.equal((await runJit(["query", "SELECT ssn FROM demo.sales.customers WHERE ssn = '1'"], alice)).code, 4);

      const mine = await runJit(["audit", "list", "--json"], alice);
      assert.equal(mine.code, 4, "only auditors and admins read the whole log");
      const own = JSON.parse((await runJit(["audit", "list", "--mine", "--json"], alice)).stdout) as { records: Array<{ actor: string }> };
      assert.ok(own.records.length >= 5 && own.records.every((r) => r.actor === "alice"));

      const list = JSON.parse((await runJit(["audit", "list", "--json", "--limit", "200"], dave)).stdout) as { records: Array<{ seq: number; action: string; outcome: string; details: Record<string, unknown> }> };
      const denied = list.records.find((r) => r.action === "query" && r.outcome === "denied")!;
      assert.match(JSON.stringify(denied.details), /WHERE/);
      const q = list.records.find((r) => r.action === "query" && r.outcome === "ok")!;
      assert.equal((q.details.client as { kind: string }).kind, "cli");
      assert.equal(q.details.email, "alice@example.com");
      assert.deepEqual(q.details.groups, ["analysts"]);

      const ok = await runJit(["audit", "verify"], dave);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /intact/);

      // Replay: exactly what the caller received.
      const replay = await runJit(["audit", "replay", String(q.seq), "--format", "csv"], dave);
      assert.equal(replay.code, 0, replay.stderr);
      assert.equal(replay.stdout.split("\r\n")[0], "city");

      // No token or refresh token in the store, the audit log or the broker's log.
      const tokens = [storedToken(broker, "alice"), storedToken(broker, "dave")].flatMap((t) => [t.id_token, t.refresh_token]);
      const dbBytes = readFileSync(join(broker.dir, "broker", "jit.db")).toString("latin1") + readFileSync(join(broker.dir, "broker", "jit.db-wal")).toString("latin1");
      for (const t of tokens) {
        assert.ok(!dbBytes.includes(t), "a token landed in the store");
        assert.ok(!dbBytes.includes(t.split(".")[2] ?? t), "a token signature landed in the store");
        assert.ok(!brokerLog.includes(t), "a token landed in the broker log");
      }

      // Tamper with record 3: verify exits 4 and names it.
      const original = withDb(broker, (db) => (db.prepare("SELECT details FROM audit WHERE seq = 3").get() as { details: string }).details);
      withDb(broker, (db) => db.prepare("UPDATE audit SET details = ? WHERE seq = 3").run(original.replace("alice", "mallory")));
      const tampered = await runJit(["audit", "verify", "--json"], dave);
      assert.equal(tampered.code, 4, tampered.stderr);
      assert.match(tampered.stderr, /record #3 was altered/);
      withDb(broker, (db) => db.prepare("UPDATE audit SET details = ? WHERE seq = 3").run(original));
      assert.equal((await runJit(["audit", "verify"], dave)).code, 0);

      // Anchoring: a head recorded now catches a truncated tail later, which the chain alone cannot.
      const head = JSON.parse((await runJit(["audit", "verify", "--json"], dave)).stdout) as { head: { seq: number; hash: string } };
      const anchor = `${head.head.seq}:${head.head.hash}`;
      assert.equal((await runJit(["audit", "verify", "--anchor", anchor], dave)).code, 0);
      // The chain-qualified form, repeatable (one per chain); the printed head is the one to keep.
      const both = await runJit(["audit", "verify", "--anchor", anchor, "--anchor", `1:${anchor}`], dave);
      assert.equal(both.code, 0, both.stderr);
      assert.match(both.stdout, /anchors found unchanged/);
      assert.match(both.stdout, /^Head: 1:[0-9]+:[0-9a-f]{64} /m);
      withDb(broker, (db) => db.prepare("DELETE FROM audit WHERE seq >= ?").run(head.head.seq));
      const truncated = await runJit(["audit", "verify", "--anchor", anchor], dave);
      assert.equal(truncated.code, 4, truncated.stderr);
      // The verify call itself appends a record, which takes the freed sequence number: either way the anchor no longer holds.
      assert.match(truncated.stderr, new RegExp(`record #${head.head.seq} (is gone|no longer has the anchored hash)`));
      assert.equal((await runJit(["audit", "verify", "--anchor", "12:nothex"], dave)).code, 2);

      // Delete record 5: verify names the gap.
      withDb(broker, (db) => db.prepare("DELETE FROM audit WHERE seq = 5").run());
      const gap = await runJit(["audit", "verify"], dave);
      assert.equal(gap.code, 4);
      assert.match(gap.stderr, /record #5 is missing/);
    } finally {
      await broker.stop();
    }
  });

  test("list pages newest first: following the footer's --before command visits every record once; --json carries the cursor", async () => {
    const broker = await startBroker();
    try {
      for (const u of ["alice", "dave"]) assert.equal((await broker.login(u)).code, 0);
      const alice = broker.env("alice");
      const dave = broker.env("dave");
      assert.equal((await runJit(["request", "demo.sales", "--reason", "paging test"], alice)).code, 0);
      for (let i = 0; i < 6; i++) assert.equal((await runJit(["query", `SELECT city FROM demo.sales.customers LIMIT ${i + 1}`], alice)).code, 0);

      // The table, page by page, running whatever the footer says until there is none.
      const ids = (stdout: string) => stdout.split("\n").map((l) => /^ *(\d+) /.exec(l)?.[1]).filter((x): x is string => !!x).map(Number);
      const seen: number[] = [];
      let args = ["audit", "list", "--limit", "4"];
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 100, "the footer keeps pointing at more pages");
        const r = await runJit(args, dave);
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /older records/, "the footer is not data");
        const page = ids(r.stdout);
        assert.ok(page.length >= 1 && page.length <= 4, r.stdout);
        seen.push(...page);
        const footer = /^older records: jit (audit list --before (\d+) --limit 4)$/m.exec(r.stderr);
        if (!footer) break;
        assert.equal(Number(footer[2]), page.at(-1), "the cursor is the oldest record shown");
        args = footer[1]!.split(" ");
      }
      assert.ok(seen.length > 12, `${seen.length} records seen`);
      assert.deepEqual(seen, [...seen].sort((a, b) => b - a), "newest first across pages");
      assert.equal(new Set(seen).size, seen.length, "no record repeated");
      // Each list call appends its own audit_read record: the pages hold exactly the log up to the first page's newest.
      const whole = JSON.parse((await runJit(["audit", "list", "--json", "--limit", "1000"], dave)).stdout) as { records: Array<{ seq: number; action: string }>; next_before: number | null };
      assert.equal(whole.next_before, null);
      assert.deepEqual(seen, whole.records.map((r) => r.seq).filter((s) => s <= seen[0]!), "no record skipped");
      assert.equal(seen.at(-1), 1);

      // --json: the same pages, with the cursor, and nothing on stderr.
      const first = await runJit(["audit", "list", "--json", "--limit", "3", "--before", String(seen[2])], dave);
      assert.equal(first.stderr, "");
      const page = JSON.parse(first.stdout) as { records: Array<{ seq: number }>; next_before: number | null };
      assert.deepEqual(page.records.map((r) => r.seq), seen.slice(3, 6));
      assert.equal(page.next_before, seen[5]);
      // --after alone: the records right after it, still newest first, with a footer to the newer ones.
      const newer = await runJit(["audit", "list", "--after", String(seen.at(-4)), "--limit", "2"], dave);
      assert.deepEqual(ids(newer.stdout), [seen.at(-6), seen.at(-5)]);
      assert.match(newer.stderr, new RegExp(`^newer records: jit audit list --after ${seen.at(-6)} --limit 2$`, "m"));
      // Filters and a duration are repeated in the footer, resolved, so the next page is the same query.
      const queries = await runJit(["audit", "list", "--action", "query", "--since", "1h", "--limit", "2"], dave);
      const next = /^older records: jit (audit list --before \d+ --action query --since \S+ --limit 2)$/m.exec(queries.stderr);
      assert.ok(next, queries.stderr);
      assert.match(next[1]!, /--since \d{4}-\d\d-\d\dT/);
      const rest = await runJit(next[1]!.split(" "), dave);
      assert.equal(rest.code, 0, rest.stderr);
      const restIds = ids(rest.stdout);
      assert.equal(restIds.length, 2);
      assert.ok(restIds.every((s) => s < ids(queries.stdout).at(-1)!));
      assert.deepEqual(restIds.map((s) => whole.records.find((r) => r.seq === s)?.action), ["query", "query"]);
      assert.equal((await runJit(["audit", "list", "--before", "x"], dave)).code, 2);
    } finally {
      await broker.stop();
    }
  });

  test("kill -9 during a stream of queries: after restart the chain verifies and every answered query has its record", async () => {
    let broker = await startBroker();
    const dir = broker.dir;
    try {
      assert.equal((await broker.login("alice")).code, 0);
      assert.equal((await runJit(["request", "demo.sales", "--reason", "crash test"], broker.env("alice"))).code, 0);
      const token = storedToken(broker, "alice").id_token;
      const answered: string[] = [];
      const url = broker.url;
      const stream = (async () => {
        for (let i = 0; i < 200; i++) {
          try {
            const res = await fetch(`${url}/v1/query`, {
              method: "POST",
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              body: JSON.stringify({ sql: `SELECT id, city FROM demo.sales.customers LIMIT ${(i % 7) + 1}` }),
            });
            if (res.ok) answered.push(((await res.json()) as { audit_id: string }).audit_id);
          } catch {
            return; // the broker is gone
          }
        }
      })();
      while (answered.length < 15) await new Promise((r) => setTimeout(r, 20));
      await broker.kill();
      await stream;
      assert.ok(answered.length >= 15);

      broker = await startBroker({ dir });
      assert.equal((await broker.login("dave")).code, 0);
      const dave = broker.env("dave");
      const v = await runJit(["audit", "verify", "--json"], dave);
      assert.equal(v.code, 0, v.stderr);
      const results = JSON.parse((await runJit(["audit", "list", "--json", "--action", "query.result", "--limit", "1000"], dave)).stdout) as { records: Array<{ details: { query_audit_id: string } }> };
      const recorded = new Set(results.records.map((r) => r.details.query_audit_id));
      for (const id of answered) assert.ok(recorded.has(id), `query ${id} was answered but has no result record`);
    } finally {
      await broker.stop();
    }
  });
});
