import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { verifyChain } from "../../src/audit/chain.ts";
import { verifyAuditLog } from "../../src/audit/verify.ts";
import { openStore } from "../../src/store/open.ts";
import { LEGACY_AUDIT_DDL, checkLegacyLog, legacyRecords, storeContract } from "./contract.ts";

const CHILD = new URL("../fixtures/audit-append-child.ts", import.meta.url).pathname;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "jit-store-"));
}

storeContract("sqlite", async () => {
  const dir = tempDir();
  const path = join(dir, "jit.db");
  // No timer: the contract's chain tests write their checkpoints themselves, so a slow run cannot add one.
  const store = await openStore({ kind: "sqlite", path }, { checkpointMs: 0 });
  return {
    store,
    exec: async (sql) => {
      const raw = new DatabaseSync(path);
      try {
        raw.exec(sql);
      } finally {
        raw.close();
      }
    },
    spec: { kind: "sqlite", path },
    trap: {
      install: `CREATE TRIGGER audit_trap BEFORE INSERT ON audit WHEN NEW.details LIKE '%"boom"%' BEGIN SELECT RAISE(ABORT, 'trap: audit row refused'); END`,
      remove: "DROP TRIGGER audit_trap",
    },
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

interface ChildResult { ok: boolean; seqs?: number[]; ms?: number; message?: string }

/** Starts one appender; resolves `ready` once it has opened the store, `done` with its result line. */
function startChild(path: string, actor: string, n: number) {
  const child = spawn(process.execPath, [CHILD, "sqlite", path, actor, String(n)], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let onReady: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.startsWith("ready\n")) onReady();
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || !line) reject(new Error(`appender ${actor} exited ${code}: ${err || out}`));
      else resolve(JSON.parse(line) as ChildResult);
    });
  });
  return { ready, done, go: () => child.stdin.end("go\n"), kill: () => child.kill() };
}

test("two processes appending to one SQLite file each build a gap-free chain of their own, and both verify", { timeout: 20_000 }, async (t) => {
  const dir = tempDir();
  const path = join(dir, "jit.db");
  try {
    await (await openStore({ kind: "sqlite", path })).close(); // schema first, so the children only race on appends
    const children = [startChild(path, "one", 200), startChild(path, "two", 200)];
    try {
      await Promise.all(children.map((c) => c.ready));
      children.forEach((c) => c.go());
      const results = await Promise.all(children.map((c) => c.done));
      for (const r of results) assert.ok(r.ok, `an appender failed: ${r.message}`);
      t.diagnostic(`appenders took ${results.map((r) => r.ms).join(" and ")} ms`);
    } finally {
      children.forEach((c) => c.kill());
    }
    const store = await openStore({ kind: "sqlite", path });
    try {
      const all = await store.listAudit({ limit: 1000 });
      // Beside the 400: the checkpoints each writer left at close (the other's head).
      assert.deepEqual(all.map((r) => r.seq), Array.from({ length: all.length }, (_, i) => i + 1), "audit ids across chains stay gap-free on SQLite");
      assert.ok(all.filter((r) => r.action === "audit.checkpoint").length >= 1, "the writer closing last recorded the other's head");
      for (const actor of ["one", "two"]) {
        const mine = all.filter((r) => r.actor === actor);
        assert.equal(mine.length, 200);
        assert.equal(new Set(mine.map((r) => r.chain)).size, 1, `${actor} appended to one chain`);
        assert.deepEqual(mine.map((r) => r.chainSeq), Array.from({ length: 200 }, (_, i) => i + 1));
        assert.equal(verifyChain(mine), null);
      }
      assert.notEqual(all.find((r) => r.actor === "one")!.chain, all.find((r) => r.actor === "two")!.chain);
      const report = await verifyAuditLog(store);
      assert.ok(report.ok, report.broken?.message);
      assert.equal(report.checked, all.length);
      const switches = all.filter((r, i) => i > 0 && r.actor !== all[i - 1]!.actor).length;
      t.diagnostic(`the writers took turns ${switches} times in the file`);
      assert.ok(switches > 1, "the two writers never overlapped, so this run proved nothing about concurrency");
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a store written before audit chains existed migrates: its records are chain 1 and still verify", async () => {
  const dir = tempDir();
  const path = join(dir, "jit.db");
  try {
    const { inserts, head } = legacyRecords(5);
    const raw = new DatabaseSync(path);
    raw.exec(`${LEGACY_AUDIT_DDL}; ${inserts}`);
    raw.close();
    chmodSync(path, 0o600);
    const store = await openStore({ kind: "sqlite", path });
    try {
      await checkLegacyLog(store, head);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
