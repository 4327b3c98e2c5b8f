/**
 * `jit broker serve` under store faults: PostgreSQL connections killed under load, PostgreSQL gone and back, the
 * SQLite file removed or replaced, and the files' modes. Real broker process, real PostgreSQL, real SQLite files.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, Socket, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { writeBrokerConfig } from "../fixtures/broker-config.ts";
import { startDevIdp, type RunningIdp } from "../idp/harness.ts";
import { JIT_BIN, loginWith, runJit, userEnv } from "./harness.ts";

const PG_URL = process.env.JIT_TEST_PG_URL;
const PG_SKIP = "JIT_TEST_PG_URL not set: the PostgreSQL fault tests are skipped (run under .ci/run)";
const COUNT_SQL = "SELECT COUNT(*) AS n FROM demo.sales.orders";

let dir: string;
let idp: RunningIdp;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "jit-faults-"));
  idp = await startDevIdp();
});
after(async () => {
  await idp?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes broker.yaml (demo warehouse and policy, a 0600 masking key) for the given store line. */
function writeConfig(sub: string, storeLine: string): string {
  return writeBrokerConfig(sub, { issuer: idp.issuer, store: storeLine }).config;
}

interface Serve { url: string; log(): string; alive(): boolean; exited: Promise<number | null>; stop(): Promise<void> }

/** Starts `jit broker serve --config` (optionally under a umask) and resolves once it prints its URL. */
async function startServe(config: string, opts: { env?: NodeJS.ProcessEnv; umask?: string } = {}): Promise<Serve> {
  const args = [JIT_BIN, "broker", "serve", "--config", config, "--json"];
  const env = { PATH: process.env.PATH, HOME: dir, ...opts.env };
  const child = opts.umask
    ? spawn("/bin/sh", ["-c", `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, ...args], { env, stdio: ["ignore", "pipe", "pipe"] })
    : spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      try {
        resolve((JSON.parse(out) as { url: string }).url);
      } catch {
        // partial
      }
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${log}`)));
  });
  return {
    url,
    log: () => log,
    alive: () => child.exitCode === null && child.signalCode === null,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

/** Signs `user` in against the broker and returns their environment and id_token. */
async function signIn(brokerUrl: string, home: string, user: string): Promise<{ env: NodeJS.ProcessEnv; token: string }> {
  const env = userEnv(home, brokerUrl);
  const r = await loginWith(env, async (code) => void (await idp.idp.approveDevice({ user_code: code, username: user, password: user })));
  assert.equal(r.code, 0, r.stderr);
  const stored = JSON.parse(readFileSync(join(home, "state", "jit", "credentials.json"), "utf8")) as { entries: Record<string, string> };
  return { env, token: (JSON.parse(stored.entries[brokerUrl]!) as { id_token: string }).id_token };
}

const query = (url: string, token: string) =>
  fetch(`${url}/v1/query`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ sql: COUNT_SQL }),
    signal: AbortSignal.timeout(20_000),
  });

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail("timed out waiting");
}

interface Outcome { status: number; code?: string; message?: string; store?: string; auditId?: string }

async function outcome(res: Response): Promise<Outcome> {
  const body = (await res.json()) as { error?: { code: string; message: string; store?: string }; audit_id?: string };
  return { status: res.status, code: body.error?.code, message: body.error?.message, store: body.error?.store, auditId: body.audit_id };
}

/** A TCP relay in front of PostgreSQL that can drop every connection and refuse new ones, then let them through again. */
async function relay(target: URL): Promise<{ url: string; down(): void; up(): void; close(): Promise<void> }> {
  let blocked = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (blocked) return void client.destroy();
    const upstream = new Socket();
    upstream.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const via = new URL(target.href);
  via.hostname = "127.0.0.1";
  via.port = String((server.address() as AddressInfo).port);
  return {
    url: via.href,
    down() {
      blocked = true;
      for (const s of sockets) s.destroy();
    },
    up() {
      blocked = false;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("PostgreSQL store faults", { timeout: 180_000 }, () => {
  if (!PG_URL) {
    test("PostgreSQL fault tests", (t) => t.skip(PG_SKIP));
    return;
  }
  const adminUrl = PG_URL;
  // A database of its own, so that the loop can end every connection to it (as an operator would) and touch nothing else.
  const dbName = `jit_faults_${process.pid}`;
  const dbUrl = (() => {
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    return u.href;
  })();
  const admin = async <T>(fn: (c: import("pg").Client) => Promise<T>): Promise<T> => {
    const pg = (await import("pg")).default;
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  before(async () => {
    await admin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${dbName}`);
    });
  });
  after(async () => {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  });

  test("connections terminated under load (20 rounds): the broker keeps serving, failed requests are 503s naming the store, the chain verifies", async (t) => {
    const sub = join(dir, "pg-terminate");
    const broker = await startServe(writeConfig(sub, "store: { postgres_env: JIT_PG_URL, schema: terminate }"), { env: { JIT_PG_URL: dbUrl } });
    const pg = (await import("pg")).default;
    const killer = new pg.Client({ connectionString: adminUrl });
    await killer.connect();
    try {
      const alice = await signIn(broker.url, join(sub, "alice"), "alice");
      assert.equal((await runJit(["request", "demo.sales", "--reason", "fault drill"], alice.env)).code, 0);
      assert.equal((await query(broker.url, alice.token)).status, 200);

      let stop = false;
      const outcomes: Outcome[] = [];
      const stream = async () => {
        while (!stop) {
          try {
            outcomes.push(await outcome(await query(broker.url, alice.token)));
          } catch (err) {
            outcomes.push({ status: -1, message: String(err) });
            if (!broker.alive()) return;
          }
        }
      };
      const streams = [stream(), stream(), stream(), stream()];
      let terminated = 0;
      for (let round = 0; round < 20 && broker.alive(); round++) {
        const res = await killer.query("SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [dbName]);
        terminated += (res.rows[0] as { n: number }).n;
        await new Promise((r) => setTimeout(r, 150));
      }
      stop = true;
      await Promise.all(streams);

      assert.ok(broker.alive(), `the broker died under the termination loop:\n${broker.log().slice(-2000)}`);
      assert.ok(terminated > 0, "the loop terminated some of the broker's connections");
      const failed = outcomes.filter((o) => o.status !== 200);
      t.diagnostic(`${outcomes.length} queries, ${failed.length} failed while ${terminated} connections were terminated`);
      for (const o of failed) {
        assert.equal(o.status, 503, JSON.stringify(o));
        assert.equal(o.code, "unreachable");
        assert.equal(o.store, "postgres");
        assert.match(o.message!, /PostgreSQL store is unavailable \(/);
      }

      // Serves again without a restart, and reports ready.
      await waitFor(async () => (await query(broker.url, alice.token)).status === 200);
      assert.equal((await fetch(`${broker.url}/readyz`)).status, 200);

      // Nothing half-written: every answered query has its records, and the chain verifies.
      const dave = await signIn(broker.url, join(sub, "dave"), "dave");
      const verify = await runJit(["audit", "verify", "--json"], dave.env);
      assert.equal(verify.code, 0, verify.stderr);
      assert.equal((JSON.parse(verify.stdout) as { ok: boolean }).ok, true);
      const answered = outcomes.filter((o) => o.status === 200 && o.auditId);
      for (const o of answered.slice(-20)) {
        const rec = await fetch(`${broker.url}/v1/audit/${o.auditId}`, { headers: { authorization: `Bearer ${dave.token}` } });
        assert.equal(rec.status, 200, `the record of an answered query (${o.auditId}) is in the log`);
      }
    } finally {
      await killer.end();
      await broker.stop();
    }
  });

  test("PostgreSQL gone: jit query exits 7 naming the store, /readyz is 503; once it is back the same broker serves again", async () => {
    const sub = join(dir, "pg-relay");
    const link = await relay(new URL(dbUrl));
    const broker = await startServe(writeConfig(sub, "store: { postgres_env: JIT_PG_URL, schema: relay }"), { env: { JIT_PG_URL: link.url } });
    try {
      const alice = await signIn(broker.url, join(sub, "alice"), "alice");
      assert.equal((await runJit(["request", "demo.sales", "--reason", "outage drill"], alice.env)).code, 0);
      assert.equal((await runJit(["query", COUNT_SQL], alice.env)).code, 0);

      link.down();
      const r = await runJit(["query", COUNT_SQL, "--json"], alice.env);
      assert.equal(r.code, 7, r.stderr);
      const err = (JSON.parse(r.stderr) as { error: { code: string; message: string; store: string } }).error;
      assert.equal(err.code, "unreachable");
      assert.equal(err.store, "postgres");
      assert.match(err.message, /PostgreSQL store is unavailable/);
      assert.doesNotMatch(r.stderr, /127\.0\.0\.1:\d+\/|postgres:\/\//, "the database's address is not the caller's business");
      const ready = await fetch(`${broker.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(JSON.stringify(await ready.json()), /"ok":false.*PostgreSQL store is unavailable/);
      assert.ok(broker.alive());

      link.up();
      await waitFor(async () => (await fetch(`${broker.url}/readyz`)).status === 200);
      const again = await runJit(["query", COUNT_SQL, "--json"], alice.env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(broker.log(), /audit write failed: .*PostgreSQL store is unavailable \((ECONNRESET|ECONNREFUSED|08\w+|57P01)/);
    } finally {
      await broker.stop();
      await link.close();
    }
  });
});

describe("SQLite store files", { timeout: 120_000 }, () => {
  test("the store file removed under a running broker: it stops serving, says why in its log, and /readyz is 503", async () => {
    const sub = join(dir, "sqlite-removed");
    const db = join(sub, "data", "jit.db");
    const broker = await startServe(writeConfig(sub, `store: { sqlite: ${db} }`));
    try {
      const alice = await signIn(broker.url, join(sub, "alice"), "alice");
      assert.equal((await runJit(["request", "demo.sales", "--reason", "r"], alice.env)).code, 0);
      assert.equal((await query(broker.url, alice.token)).status, 200);
      for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });

      const after = await outcome(await query(broker.url, alice.token));
      assert.equal(after.status, 503, JSON.stringify(after));
      assert.equal(after.code, "unreachable");
      assert.match(after.message!, /SQLite store is unavailable \(ENOENT: the store file was removed while the broker ran/);
      // The broker's log arrives through a pipe: the line may land just after the answer does.
      const lost = new RegExp(`store lost: the store file was removed \\(${db.replaceAll("/", "\\/")}, inode \\d+ -> missing`);
      for (let i = 0; i < 50 && !lost.test(broker.log()); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(broker.log(), lost);
      assert.equal((await fetch(`${broker.url}/readyz`)).status, 503);
      const cli = await runJit(["grants"], alice.env);
      assert.equal(cli.code, 7, cli.stderr);
      assert.match(cli.stderr, /SQLite store is unavailable/);
    } finally {
      await broker.stop();
    }
  });

  test("the store file replaced under a running broker (another file moved in): refused as replaced", async () => {
    const sub = join(dir, "sqlite-replaced");
    const db = join(sub, "data", "jit.db");
    const broker = await startServe(writeConfig(sub, `store: { sqlite: ${db} }`));
    try {
      const alice = await signIn(broker.url, join(sub, "alice"), "alice");
      assert.equal((await runJit(["request", "demo.sales", "--reason", "r"], alice.env)).code, 0);
      copyFileSync(db, `${db}.copy`);
      renameSync(`${db}.copy`, db);
      const after = await outcome(await query(broker.url, alice.token));
      assert.equal(after.status, 503);
      assert.match(after.message!, /ESTALE: the store file was replaced/);
      assert.match(broker.log(), /store lost: the store file was replaced/);
    } finally {
      await broker.stop();
    }
  });

  for (const umask of ["022", "000"]) {
    test(`under umask ${umask}, the store, its WAL and SHM files are 0600 and a directory it creates is 0700`, async () => {
      const sub = join(dir, `modes-${umask}`);
      const data = join(sub, "new", "data");
      const db = join(data, "jit.db");
      const broker = await startServe(writeConfig(sub, `store: { sqlite: ${db} }`), { umask });
      try {
        const alice = await signIn(broker.url, join(sub, "alice"), "alice");
        assert.equal((await runJit(["request", "demo.sales", "--reason", "r"], alice.env)).code, 0);
        const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
        assert.deepEqual([db, `${db}-wal`, `${db}-shm`].map(mode), ["600", "600", "600"]);
        assert.deepEqual([data, join(sub, "new")].map(mode), ["700", "700"]);
      } finally {
        await broker.stop();
      }
    });
  }

  test("a store file, a masking key or a TLS key others may read is refused at start (exit 2) with the chmod to run", async () => {
    const sub = join(dir, "loose");
    const db = join(sub, "jit.db");
    const config = writeConfig(sub, `store: { sqlite: ${db} }`);
    const broker = await startServe(config);
    await broker.stop();
    for (const loose of [db, `${db}-shm`]) {
      // A clean stop may remove the -shm file; a leftover one (from a crash, or copied in) is what this checks.
      if (!existsSync(loose)) writeFileSync(loose, "");
      chmodSync(loose, 0o644);
      const r = await runJit(["broker", "serve", "--config", config], userEnv(sub, undefined));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${loose.replaceAll("/", "\\/")} is accessible by other users \\(mode 0644\\)`));
      assert.match(r.stderr, /chmod 600/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      chmodSync(loose, 0o600);
    }
    chmodSync(join(sub, "hash.key"), 0o640);
    const key = await runJit(["broker", "serve", "--config", config], userEnv(sub, undefined));
    assert.equal(key.code, 2, key.stderr);
    assert.match(key.stderr, /hash\.key is readable by others/);
    chmodSync(join(sub, "hash.key"), 0o600);

    const tlsKey = join(sub, "tls.key");
    writeFileSync(tlsKey, "not a key", { mode: 0o644 });
    chmodSync(tlsKey, 0o644);
    writeFileSync(join(sub, "tls.crt"), "not a cert");
    writeFileSync(config, `${readFileSync(config, "utf8")}\ntls: { cert_file: ${join(sub, "tls.crt")}, key_file: ${tlsKey} }\n`);
    const tls = await runJit(["broker", "serve", "--config", config], userEnv(sub, undefined));
    assert.equal(tls.code, 2, tls.stderr);
    assert.match(tls.stderr, /tls\.key_file .*tls\.key is accessible by other users \(mode 0644\)/);
  });
});
