// Console sessions in the store, the same contract on SQLite and PostgreSQL: each test gets a fresh, empty store,
// and a second store instance on the same database stands in for another replica (or the broker after a restart).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import pg from "pg";
import { openStore, type StoreSpec } from "../../src/store/open.ts";
import type { Store, StoredConsoleSession } from "../../src/store/types.ts";

const T0 = 1_700_000_000_000;
const MIN = 60_000;
const IDLE = 15 * MIN;
const rules = (now: number) => ({ now, idleMs: IDLE, touchEveryMs: MIN });

const session = (key: string, over: Partial<StoredConsoleSession> = {}): StoredConsoleSession => ({
  key, principal: { subject: "sub-bob", username: "bob", email: "bob@example.com", groups: ["data-owners", "é"] }, csrf: `csrf-${key}`,
  sealedRefreshToken: `sealed-${key}`, idTokenExpiresAt: T0 + 60 * MIN, createdAt: T0, lastSeen: T0, expiresAt: T0 + 12 * 60 * MIN, ...over,
});

interface Opened {
  store: Store;
  /** Another store instance on the same database: a second replica, or the broker started again. */
  another(): Promise<Store>;
  count(table: string): Promise<number>;
  cleanup(): Promise<void>;
}

function sqlite(): () => Promise<Opened> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "jit-csess-"));
    const spec: StoreSpec = { kind: "sqlite", path: join(dir, "jit.db") };
    const opened: Store[] = [await openStore(spec, { checkpointMs: 0 })];
    return {
      store: opened[0]!,
      another: async () => (opened.push(await openStore(spec, { checkpointMs: 0 })), opened.at(-1)!),
      count: async (table) => {
        const { DatabaseSync } = await import("node:sqlite");
        const raw = new DatabaseSync(spec.path);
        try {
          return Number((raw.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
        } finally {
          raw.close();
        }
      },
      cleanup: async () => {
        for (const s of opened) await s.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

function postgres(url: string): () => Promise<Opened> {
  return async () => {
    const schema = `jit_test_${process.pid}_${randomBytes(4).toString("hex")}`;
    const spec: StoreSpec = { kind: "postgres", url, schema };
    const opened: Store[] = [await openStore(spec, { checkpointMs: 0 })];
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    return {
      store: opened[0]!,
      another: async () => (opened.push(await openStore(spec, { checkpointMs: 0 })), opened.at(-1)!),
      count: async (table) => Number((await admin.query(`SELECT count(*) AS n FROM ${schema}.${table}`)).rows[0].n),
      cleanup: async () => {
        for (const s of opened) await s.close();
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.end();
      },
    };
  };
}

function contract(name: string, open: () => Promise<Opened>): void {
  describe(`${name} console sessions`, () => {
    let o: Opened;
    let store: Store;
    beforeEach(async () => {
      o = await open();
      store = o.store;
    });
    afterEach(async () => o.cleanup());

    test("a session round-trips every field, and a touch within a minute of the last writes nothing", async () => {
      await store.createConsoleSession(session("k1"), { now: T0, idleMs: IDLE, max: 100 });
      assert.deepEqual(await store.touchConsoleSession("k1", rules(T0 + 1000)), session("k1"));
      assert.equal((await store.touchConsoleSession("k1", rules(T0 + MIN - 1)))?.lastSeen, T0, "not yet a minute: last_seen stays");
      assert.equal((await store.touchConsoleSession("k1", rules(T0 + MIN)))?.lastSeen, T0 + MIN, "a minute on: it moves");
      assert.equal((await store.touchConsoleSession("k1", rules(T0 + MIN + 1)))?.lastSeen, T0 + MIN, "and was stored");
      assert.equal(await store.touchConsoleSession("nope", rules(T0)), null);
    });

    test("a session unused for longer than the idle time is over, and its row is gone", async () => {
      await store.createConsoleSession(session("k1"), { now: T0, idleMs: IDLE, max: 100 });
      assert.ok(await store.touchConsoleSession("k1", rules(T0 + IDLE)), "exactly the idle time is still alive");
      assert.equal((await store.touchConsoleSession("k1", rules(T0 + IDLE)))?.lastSeen, T0 + IDLE);
      assert.equal(await store.touchConsoleSession("k1", rules(T0 + 2 * IDLE + 1)), null);
      assert.equal(await o.count("console_sessions"), 0);
      assert.equal(await store.touchConsoleSession("k1", rules(T0 + IDLE)), null, "deleted, not merely refused at that time");
    });

    test("a session in steady use still ends at its absolute end", async () => {
      await store.createConsoleSession(session("k1", { expiresAt: T0 + 40 * MIN }), { now: T0, idleMs: IDLE, max: 100 });
      for (let t = T0; t < T0 + 40 * MIN; t += 10 * MIN) assert.ok(await store.touchConsoleSession("k1", rules(t)), `alive at +${(t - T0) / MIN} min`);
      assert.equal(await store.touchConsoleSession("k1", rules(T0 + 40 * MIN)), null);
      assert.equal(await o.count("console_sessions"), 0);
    });

    test("ending a session deletes it; an update after that finds nothing", async () => {
      await store.createConsoleSession(session("k1"), { now: T0, idleMs: IDLE, max: 100 });
      const principal = { subject: "sub-bob", username: "bob", groups: ["auditors"] };
      assert.equal(await store.updateConsoleSession("k1", { principal, sealedRefreshToken: "sealed-2", idTokenExpiresAt: T0 + 120 * MIN }), true);
      assert.deepEqual(await store.touchConsoleSession("k1", rules(T0)), session("k1", { principal, sealedRefreshToken: "sealed-2", idTokenExpiresAt: T0 + 120 * MIN }));
      assert.equal(await store.endConsoleSession("k1"), true);
      assert.equal(await store.endConsoleSession("k1"), false);
      assert.equal(await store.touchConsoleSession("k1", rules(T0)), null);
      assert.equal(await store.updateConsoleSession("k1", { principal, sealedRefreshToken: null, idTokenExpiresAt: T0 }), false);
    });

    test("another store instance on the same database (a replica, a restart) sees the session, and its end", async () => {
      await store.createConsoleSession(session("k1"), { now: T0, idleMs: IDLE, max: 100 });
      const other = await o.another();
      assert.deepEqual(await other.touchConsoleSession("k1", rules(T0 + 2 * MIN)), session("k1", { lastSeen: T0 + 2 * MIN }));
      assert.equal((await store.touchConsoleSession("k1", rules(T0 + 2 * MIN + 1)))?.lastSeen, T0 + 2 * MIN, "the touch is shared too");
      assert.equal(await other.endConsoleSession("k1"), true);
      assert.equal(await store.touchConsoleSession("k1", rules(T0 + 3 * MIN)), null);
    });

    test("creating a session sweeps ones that are over and keeps at most max, dropping the least recently seen", async () => {
      await store.createConsoleSession(session("old", { expiresAt: T0 + MIN }), { now: T0, idleMs: IDLE, max: 100 });
      await store.createConsoleSession(session("idle"), { now: T0, idleMs: IDLE, max: 100 });
      await store.createConsoleSession(session("live", { lastSeen: T0 + IDLE }), { now: T0 + IDLE, idleMs: IDLE, max: 100 });
      const later = T0 + 2 * IDLE;
      await store.createConsoleSession(session("s0", { createdAt: later, lastSeen: later, expiresAt: later + 60 * MIN }), { now: later, idleMs: IDLE, max: 100 });
      assert.equal(await o.count("console_sessions"), 2, "the one past its end and the idle one were swept, the live one kept");
      for (let i = 1; i < 5; i++) {
        await store.createConsoleSession(session(`s${i}`, { createdAt: later + i, lastSeen: later + i, expiresAt: later + 60 * MIN }), { now: later + i, idleMs: IDLE, max: 3 });
      }
      assert.equal(await o.count("console_sessions"), 3);
      const alive = [];
      for (const k of ["old", "idle", "live", "s0", "s1", "s2", "s3", "s4"]) if (await store.touchConsoleSession(k, rules(later + 10))) alive.push(k);
      assert.deepEqual(alive, ["s2", "s3", "s4"]);
    });

    test("a sign-in is taken once, by one of two replicas; a lapsed one is nobody's; old ones are swept and bounded", async () => {
      const other = await o.another();
      await store.startConsoleSignIn({ key: "p1", sealed: "x1", createdAt: T0, expiresAt: T0 + 10 * MIN }, { now: T0, max: 100 });
      const both = await Promise.all([store.takeConsoleSignIn("p1", T0 + 1), other.takeConsoleSignIn("p1", T0 + 1)]);
      assert.deepEqual(both.filter(Boolean), [{ key: "p1", sealed: "x1", createdAt: T0, expiresAt: T0 + 10 * MIN }]);
      await store.startConsoleSignIn({ key: "p2", sealed: "x2", createdAt: T0, expiresAt: T0 + 10 * MIN }, { now: T0, max: 100 });
      assert.equal(await other.takeConsoleSignIn("p2", T0 + 10 * MIN), null);
      assert.equal(await o.count("console_sign_ins"), 0, "taken even when lapsed: a cookie is good for one try");
      await store.startConsoleSignIn({ key: "p3", sealed: "x3", createdAt: T0, expiresAt: T0 + 10 * MIN }, { now: T0, max: 100 });
      const later = T0 + 11 * MIN;
      for (let i = 0; i < 4; i++) await store.startConsoleSignIn({ key: `q${i}`, sealed: "y", createdAt: later + i, expiresAt: later + 10 * MIN }, { now: later + i, max: 2 });
      assert.equal(await o.count("console_sign_ins"), 2);
      assert.equal(await store.takeConsoleSignIn("p3", later), null);
      assert.ok(await store.takeConsoleSignIn("q3", later + 5));
    });
  });
}

contract("sqlite", sqlite());
if (process.env.JIT_TEST_PG_URL) contract("postgres", postgres(process.env.JIT_TEST_PG_URL));
else test("postgres console sessions", (t) => t.skip("JIT_TEST_PG_URL not set"));
