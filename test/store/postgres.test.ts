import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import pg from "pg";
import { verifyChain } from "../../src/audit/chain.ts";
import { verifyAuditLog } from "../../src/audit/verify.ts";
import { JitError } from "../../src/errors.ts";
import { openPostgresStore } from "../../src/store/postgres.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/types.ts";
import { LEGACY_AUDIT_DDL, T0, approval, auditRecord, checkLegacyLog, legacyRecords, newRequest, storeContract } from "./contract.ts";

const URL_ = process.env.JIT_TEST_PG_URL;
const SKIP = "JIT_TEST_PG_URL not set: PostgreSQL tests skipped (run under .ci/run)";

const freshSchema = () => `jit_test_${process.pid}_${randomBytes(4).toString("hex")}`;

/** One admin connection per run, for raw SQL and dropping the throwaway schemas. */
let admin: pg.Client | undefined;
async function raw(sql: string): Promise<void> {
  if (!admin) {
    admin = new pg.Client({ connectionString: URL_ });
    await admin.connect();
  }
  await admin.query(sql);
}
after(async () => admin?.end());

test("opening an unreachable PostgreSQL fails with unreachable, naming the host but not the password", async () => {
  const started = Date.now();
  await assert.rejects(openStore({ kind: "postgres", url: "postgres://jit:s3cret-pw@127.0.0.1:1/jitdb" }), (err: unknown) => {
    assert.ok(err instanceof JitError);
    assert.equal(err.code, "unreachable");
    assert.match(err.message, /127\.0\.0\.1:1\/jitdb/);
    assert.ok(err.hint);
    assert.doesNotMatch(JSON.stringify({ m: err.message, h: err.hint, j: err.toJSON(), s: err.stack }), /s3cret-pw/);
    return true;
  });
  assert.ok(Date.now() - started < 5000);
});

test("a schema name that would need quoting and a non-postgres URL are usage errors", async () => {
  for (const schema of ["Public", "x; DROP TABLE audit", "1abc", ""]) {
    await assert.rejects(openPostgresStore("postgres://u@127.0.0.1:1/db", { schema }), (e: unknown) => e instanceof JitError && e.code === "usage");
  }
  await assert.rejects(openPostgresStore("mysql://u:pw@127.0.0.1/db"), (e: unknown) => e instanceof JitError && e.code === "usage" && !e.message.includes("pw"));
});

if (!URL_) {
  test("postgres store contract", (t) => t.skip(SKIP));
} else {
  const url = URL_;

  storeContract("postgres", async () => {
    const schema = freshSchema();
    // No timer: the contract's chain tests write their checkpoints themselves, so a slow run cannot add one.
    const store = await openStore({ kind: "postgres", url, schema }, { checkpointMs: 0 });
    return {
      store,
      exec: (sql) => raw(`SET search_path TO ${schema}; ${sql}; RESET search_path`),
      spec: { kind: "postgres", url, schema },
      trap: {
        install: `CREATE FUNCTION audit_trap() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.details LIKE '%"boom"%' THEN RAISE EXCEPTION 'trap: audit row refused'; END IF; RETURN NEW; END $$;
          CREATE TRIGGER audit_trap BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_trap()`,
        remove: "DROP TRIGGER audit_trap ON audit",
      },
      cleanup: async () => {
        await store.close();
        await raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  });

  test("a store written before audit chains existed migrates: its records are chain 1 and still verify", async () => {
    const schema = freshSchema();
    const { inserts, head } = legacyRecords(5);
    await raw(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}; ${LEGACY_AUDIT_DDL}; ${inserts}; RESET search_path`);
    const store = await openPostgresStore(url, { schema });
    try {
      await checkLegacyLog(store, head);
    } finally {
      await store.close();
      await raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  describe("postgres store with several replicas", () => {
    /** Opens n stores on one schema at once; when any fails, closes the others and drops the schema. */
    async function openAll(schema: string, n: number, poolSize: number): Promise<Store[]> {
      const opened = await Promise.allSettled(Array.from({ length: n }, () => openPostgresStore(url, { schema, poolSize, checkpointMs: 0 })));
      const failed = opened.find((o) => o.status === "rejected");
      if (!failed) return opened.map((o) => (o as PromiseFulfilledResult<Store>).value);
      await Promise.all(opened.map((o) => (o.status === "fulfilled" ? o.value.close() : undefined)));
      await raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      throw failed.reason;
    }

    /** Two stores on one schema, as two broker replicas would be. */
    async function replicas(n = 2): Promise<{ stores: Store[]; done(): Promise<void> }> {
      const schema = freshSchema();
      const stores = await openAll(schema, n, 4);
      return {
        stores,
        done: async () => {
          await Promise.all(stores.map((s) => s.close()));
          await raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        },
      };
    }

    test("replicas starting at once all migrate the same schema without failing", async () => {
      const schema = freshSchema();
      const stores = await openAll(schema, 4, 1);
      try {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        const versions = (await client.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)).rows.map((r) => r.version);
        await client.end();
        assert.deepEqual(versions, [1, 2, 3]);
        assert.equal(new Set(stores.map((s) => s.auditStats().chain)).size, 4, "replicas starting together take different chains");
        assert.equal((await stores[0]!.createRequest(newRequest())).request.id, "1");
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      }
    });

    test("two replicas approving the same request at once create exactly one grant, 20 times over", async (t) => {
      const { stores: [a, b], done } = await replicas();
      try {
        const started = performance.now();
        for (let i = 0; i < 20; i += 1) {
          const minApprovals = i % 2 === 0 ? 1 : 2;
          const { request } = await a!.createRequest(newRequest({ minApprovals }));
          const results = await Promise.all([a!.approveRequest(request.id, approval("bob"), (at) => at + 1000), b!.approveRequest(request.id, approval("carol"), (at) => at + 1000)]);
          assert.equal(results.filter((r) => r.ok && r.grant).length, 1, `request ${request.id}: one grant`);
          if (minApprovals === 1) assert.equal(results.filter((r) => !r.ok && r.reason === "not_pending").length, 1);
          else assert.ok(results.every((r) => r.ok), "both approvals count when two are needed");
          const after = await b!.getRequest(request.id);
          assert.equal(after?.state, "approved");
          assert.equal(after?.approvals.length, minApprovals);
        }
        assert.equal((await a!.listGrants({})).length, 20);
        t.diagnostic(`20 concurrent approval pairs in ${Math.round(performance.now() - started)} ms`);
      } finally {
        await done();
      }
    });

    test("2 replicas × 100 concurrent audit appends: a gap-free chain per replica, no advisory lock, both verify", async (t) => {
      const { stores, done } = await replicas();
      try {
        const started = performance.now();
        await Promise.all(stores.flatMap((s, n) => Array.from({ length: 100 }, (_, i) => s.appendAudit(auditRecord(i, { actor: `replica-${n}` })))));
        t.diagnostic(`200 appends in ${Math.round(performance.now() - started)} ms, batches ${stores.map((s) => s.auditStats().batches).join(" and ")}`);
        const all = await stores[1]!.listAudit({ limit: 1000 });
        assert.equal(new Set(all.map((r) => r.seq)).size, 200);
        for (const [n, s] of stores.entries()) {
          const mine = await s.listAudit({ chain: s.auditStats().chain, limit: 1000 });
          assert.deepEqual(mine.map((r) => r.chainSeq), Array.from({ length: 100 }, (_, i) => i + 1));
          assert.ok(mine.every((r) => r.actor === `replica-${n}`));
          assert.equal(verifyChain(mine), null);
        }
        const report = await verifyAuditLog(stores[0]!);
        assert.ok(report.ok, report.broken?.message);
        assert.equal(report.heads.length, 2);
      } finally {
        await done();
      }
    });

    test("two replicas expiring at once each expire a request only once", async () => {
      const { stores: [a, b], done } = await replicas();
      try {
        for (let i = 0; i < 10; i += 1) await a!.createRequest(newRequest({ expiresAt: T0 + 10 }));
        const [x, y] = await Promise.all([a!.expirePending(T0 + 10), b!.expirePending(T0 + 10)]);
        assert.equal(x!.length + y!.length, 10);
        assert.equal(new Set([...x!, ...y!].map((r) => r.id)).size, 10);
      } finally {
        await done();
      }
    });
  });
}
