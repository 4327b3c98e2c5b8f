// The cross-process refresh lock (src/auth/refresh-lock.ts): a lock left by a killed jit is taken over at once,
// a live holder is waited for. Holders are real child processes.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { withRefreshLock } from "../../src/auth/refresh-lock.ts";

const LOCK_MODULE = new URL("../../src/auth/refresh-lock.ts", import.meta.url).href;
const KEY = "https://jit.example.com";
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const lockDir = () => {
  const d = mkdtempSync(join(tmpdir(), "jit-lock-"));
  dirs.push(d);
  return join(d, "locks");
};

/** A jit-like process that takes the lock, prints "held", and keeps it for holdMs (forever when omitted). */
function holder(dir: string, holdMs?: number): Promise<ChildProcess> {
  const script = `import { withRefreshLock } from ${JSON.stringify(LOCK_MODULE)};
    await withRefreshLock(${JSON.stringify(dir)}, ${JSON.stringify(KEY)}, async () => {
      process.stdout.write("held\\n");
      await new Promise((r) => setTimeout(r, ${holdMs ?? 3_600_000}));
    });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("held") && resolve(child));
    child.on("exit", (code) => reject(new Error(`holder exited ${code} before taking the lock`)));
  });
}

const timed = async (dir: string): Promise<number> => {
  const started = Date.now();
  await withRefreshLock(dir, KEY, async () => {});
  return Date.now() - started;
};

test("a lock left by a killed jit is taken over at once, not after the 20 s wait", { timeout: 15_000 }, async () => {
  const dir = lockDir();
  const child = await holder(dir);
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  assert.equal(readdirSync(dir).filter((f) => f.endsWith(".lock")).length, 1, "the killed process left its lock behind");
  const ms = await timed(dir);
  assert.ok(ms < 2000, `took ${ms} ms`);
  assert.deepEqual(readdirSync(dir), [], "the lock (and any takeover marker) is gone afterwards");
});

test("a live holder is waited for, and the lock is taken as soon as it lets go", { timeout: 15_000 }, async () => {
  const dir = lockDir();
  const child = await holder(dir, 800);
  const exited = new Promise((r) => child.once("exit", r));
  const ms = await timed(dir);
  assert.ok(ms >= 500, `did not wait for the live holder (${ms} ms)`);
  assert.ok(ms < 5000, `took ${ms} ms`);
  await exited;
});

test("a lock from another machine is judged by its age: older than any refresh is taken over at once", { timeout: 15_000 }, async () => {
  const dir = lockDir();
  await withRefreshLock(dir, KEY, async () => {}); // creates the directory
  const path = join(dir, `refresh-${(await import("node:crypto")).createHash("sha256").update(KEY).digest("hex").slice(0, 16)}.lock`);
  writeFileSync(path, `1 ${hostname()}-elsewhere`);
  const old = (Date.now() - 60_000) / 1000;
  utimesSync(path, old, old);
  assert.ok((await timed(dir)) < 2000);
});

test("two waiters breaking the same dead lock never run at once", { timeout: 15_000 }, async () => {
  const dir = lockDir();
  const child = await holder(dir);
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  let inside = 0;
  let overlap = false;
  const run = () => withRefreshLock(dir, KEY, async () => {
    inside++;
    if (inside > 1) overlap = true;
    await new Promise((r) => setTimeout(r, 200));
    inside--;
  });
  // Two processes' worth of waiters in one process: the in-process guard of session.ts is not involved here.
  await Promise.all([run(), run(), run()]);
  assert.equal(overlap, false);
});
