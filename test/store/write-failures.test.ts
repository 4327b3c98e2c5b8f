// When the store cannot write, the refusal and the broker's log line say why (ENOSPC, EROFS, EACCES), so an operator
// can act. Real faults: a full and a read-only file system (a small tmpfs, where mounting is allowed), and a PostgreSQL
// role made read-only or stripped of a privilege.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import { appendOrRefuse, type BrokerDeps } from "../../src/broker/context.ts";
import { JitError } from "../../src/errors.ts";
import { openPostgresStore } from "../../src/store/postgres.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/types.ts";
import { auditRecord } from "./contract.ts";

/** Mounts a tmpfs of `size` at a fresh directory, or says why it cannot (not root, no CAP_SYS_ADMIN, not Linux). */
function tmpfs(size: string): { dir: string; remount(opts: string): void; done(): void } | string {
  const dir = mkdtempSync(join(tmpdir(), "jit-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${String((err as Error).message).split("\n")[0]}): the real full/read-only disk cases are skipped`;
  }
  return {
    dir,
    remount: (opts) => execFileSync("mount", ["-o", `remount,${opts}`, dir], { stdio: "pipe" }),
    done: () => {
      execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** appendOrRefuse with a recording log: the line an operator reads. */
async function refusedLine(store: Store): Promise<{ err: JitError; line: string }> {
  const lines: string[] = [];
  const deps = { store, log: (l: string) => lines.push(l) } as unknown as BrokerDeps;
  for (let i = 0; i < 10_000; i++) {
    try {
      await appendOrRefuse(deps, auditRecord(i, { details: { i, pad: randomBytes(8192).toString("hex") } }));
    } catch (err) {
      assert.ok(err instanceof JitError);
      return { err, line: lines.at(-1) ?? "" };
    }
  }
  assert.fail("the store never failed");
}

describe("SQLite store on a failing disk", () => {
  test("a full disk: the audit write fails closed and the log line says ENOSPC", async (t) => {
    const fs = tmpfs("256k");
    if (typeof fs === "string") return t.skip(fs);
    const store = openSqliteStore(join(fs.dir, "jit.db"));
    try {
      const { err, line } = await refusedLine(store);
      assert.equal(err.code, "internal");
      assert.match(line, /^audit write failed: the audit log could not record this request, so it was not carried out: ENOSPC: no space left/);
      await assert.rejects(store.ready(), /ENOSPC/, "a replica that cannot write its audit log is not ready");
    } finally {
      await store.close();
      fs.done();
    }
  });

  test("a read-only file system: opening the store says EROFS", async (t) => {
    const fs = tmpfs("1m");
    if (typeof fs === "string") return t.skip(fs);
    const path = join(fs.dir, "jit.db");
    try {
      await openSqliteStore(path).close();
      fs.remount("ro");
      assert.throws(() => openSqliteStore(path), (err: unknown) => {
        assert.ok(err instanceof JitError);
        assert.match(err.message, /cannot open the SQLite store .*EROFS/);
        assert.ok(err.hint);
        return true;
      });
    } finally {
      fs.done();
    }
  });
});

const URL_ = process.env.JIT_TEST_PG_URL;
describe("PostgreSQL store that refuses writes", () => {
  if (!URL_) {
    test("PostgreSQL write failures", (t) => t.skip("JIT_TEST_PG_URL not set: PostgreSQL tests skipped (run under .ci/run)"));
    return;
  }
  const tag = `${process.pid}_${randomBytes(3).toString("hex")}`;
  const role = `jit_limited_${tag}`;
  const schema = `jit_wf_${tag}`;
  const admin = new pg.Client({ connectionString: URL_ });
  let store: Store | undefined;
  after(async () => {
    await store?.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`DROP OWNED BY ${role}`).catch(() => {});
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  test("a role without INSERT on the audit table: EACCES (42501); a read-only database: EROFS (25006), also in readiness", async () => {
    await admin.connect();
    await (await openPostgresStore(URL_, { schema })).close(); // migrated by the owner
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role}`);
    await admin.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
    await admin.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}`);
    const url = new URL(URL_);
    url.username = role;
    store = await openPostgresStore(url.href, { schema, poolSize: 2 });
    await store.appendAudit(auditRecord(1));

    await admin.query(`REVOKE INSERT ON ${schema}.audit FROM ${role}`);
    const denied = await refusedLine(store);
    assert.equal(denied.err.code, "internal");
    assert.match(denied.line, /^audit write failed: .*EACCES \(42501\): the broker's database role lacks a privilege \(permission denied for table audit\)/);
    await admin.query(`GRANT INSERT ON ${schema}.audit TO ${role}`);

    // New sessions of the role are read-only; the old ones are ended so the pool has to open new ones.
    await admin.query(`ALTER ROLE ${role} SET default_transaction_read_only = on`);
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [role]);
    let readOnly: { err: JitError; line: string } | undefined;
    for (let i = 0; i < 20 && !readOnly; i++) {
      const r = await refusedLine(store);
      if (r.err.code !== "unreachable") readOnly = r; // the first calls may meet the terminated connections
    }
    assert.ok(readOnly);
    assert.equal(readOnly.err.code, "internal");
    assert.match(readOnly.line, /^audit write failed: .*EROFS \(25006\): the database accepts no writes/);
    await assert.rejects(store.ready(), /EROFS \(25006\)/);
  });
});
