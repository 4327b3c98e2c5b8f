import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openCredentialStore } from "../../src/auth/credential-store.ts";
import { credentialsFilePath } from "../../src/auth/file-store.ts";
import { EXIT_CODES, JitError } from "../../src/errors.ts";

const CHILD = fileURLToPath(new URL("../fixtures/credential-store-child.ts", import.meta.url));
const FILE_HINT = "JIT_CREDENTIAL_STORE=file";

interface ChildResult {
  ok: boolean;
  value?: unknown;
  kind?: string;
  code?: string;
  message?: string;
  hint?: string;
  leftover?: string | null;
  ms: number;
  wallMs: number;
}

/** Runs one store operation in a fresh node process with `env` (bounded to 10 s). */
function child(op: string, account: string, env: NodeJS.ProcessEnv): Promise<ChildResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, op, account], { env, timeout: 10_000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split("\n").pop();
      if (!line) return reject(new Error(`child ${op} printed nothing: ${err?.message ?? ""} ${stderr}`));
      resolve({ ...(JSON.parse(line) as Omit<ChildResult, "wallMs">), wallMs: performance.now() - started });
    });
  });
}

function keychainEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.JIT_CREDENTIAL_STORE;
  return env;
}

const uniqueAccount = () => `https://credential-store-test.invalid/${process.pid}/${randomUUID()}`;

/** Why the real keychain cannot be tested here, or undefined when it answers. */
async function keychainUnavailable(): Promise<string | undefined> {
  if (process.platform !== "linux" && process.env.JIT_TEST_KEYCHAIN !== "1") {
    return "keychain tests touch the real OS keychain; set JIT_TEST_KEYCHAIN=1 to run them";
  }
  if (process.platform === "linux" && !process.env.DBUS_SESSION_BUS_ADDRESS) return "DBUS_SESSION_BUS_ADDRESS is not set";
  const probe = await child("get", uniqueAccount(), keychainEnv());
  return probe.ok ? undefined : `${probe.code}: ${probe.message}`;
}

const keychainReason = keychainUnavailable();

test("keychain: a secret set in one process is read in another and deleted from a third", async (t) => {
  const reason = await keychainReason;
  if (reason) {
    assert.notEqual(process.env.JIT_TEST_KEYCHAIN, "1", `JIT_TEST_KEYCHAIN=1 but no usable Secret Service: ${reason}`);
    t.diagnostic(`skipped: ${reason}`);
    t.skip("no D-Bus Secret Service: run under .ci/run");
    return;
  }
  const account = uniqueAccount();
  const secret = `s3cret-${randomUUID()}`;
  try {
    const set = await child("set", account, keychainEnv({ JIT_TEST_SECRET: secret }));
    assert.equal(set.ok, true, set.message);
    assert.equal(set.kind, "keychain");

    const got = await child("get", account, keychainEnv());
    assert.equal(got.ok, true, got.message);
    assert.equal(got.value, secret);

    const deleted = await child("delete", account, keychainEnv());
    assert.deepEqual([deleted.ok, deleted.value], [true, true]);

    const gone = await child("get", account, keychainEnv());
    assert.deepEqual([gone.ok, gone.value], [true, null]);
    const again = await child("delete", account, keychainEnv());
    assert.deepEqual([again.ok, again.value], [true, false]);
    t.diagnostic(`keychain op times in child (ms): set ${set.ms.toFixed(1)}, get ${got.ms.toFixed(1)}, delete ${deleted.ms.toFixed(1)}`);
  } finally {
    await child("delete", account, keychainEnv());
  }
});

for (const [name, bus] of [
  ["points at a missing socket", `unix:path=${join(tmpdir(), `no-such-bus-${randomUUID()}`)}`],
  ["is unset", undefined],
] as const) {
  test(`keychain: fails fast with the file-store hint when DBUS_SESSION_BUS_ADDRESS ${name}`, { skip: process.platform !== "linux" }, async (t) => {
    const state = mkdtempSync(join(tmpdir(), "jit-nodbus-"));
    try {
      const env = keychainEnv({ XDG_STATE_HOME: state, JIT_TEST_SECRET: "must-not-land" });
      delete env.DBUS_SESSION_BUS_ADDRESS;
      delete env.XDG_RUNTIME_DIR; // libdbus would find $XDG_RUNTIME_DIR/bus on its own
      if (bus) env.DBUS_SESSION_BUS_ADDRESS = bus;
      const account = uniqueAccount();
      // Each op before and after the failed set: none may quietly use another store.
      for (const op of ["get", "delete", "set", "get", "delete"]) {
        const r = await child(op, account, env);
        assert.equal(r.ok, false, `${op} succeeded without a Secret Service`);
        assert.equal(r.code, "unauthenticated", r.message);
        assert.match(r.message ?? "", /keychain.*D-?Bus/i);
        assert.ok(r.hint?.includes(FILE_HINT), r.hint);
        assert.ok(r.wallMs < 2000, `${op} took ${r.wallMs} ms`);
        if (op === "set") {
          assert.equal(r.leftover, null, "a failed set left something in the kernel keyring");
          t.diagnostic(`set failed in ${r.ms.toFixed(1)} ms in the child, ${r.wallMs.toFixed(0)} ms with node start`);
        }
      }
      assert.deepEqual(readdirSync(state), [], "nothing may be written to the state dir");
      if (!(await keychainReason)) {
        const real = await child("get", account, keychainEnv());
        assert.deepEqual([real.ok, real.value], [true, null], "the secret reached the real keychain");
      }
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
}

test("JIT_CREDENTIAL_STORE: keychain is the default, other values are usage errors", () => {
  assert.equal(openCredentialStore({}).kind, "keychain");
  assert.equal(openCredentialStore({ JIT_CREDENTIAL_STORE: "keychain" }).kind, "keychain");
  for (const value of ["vault", "FILE", "memory"]) {
    assert.throws(
      () => openCredentialStore({ JIT_CREDENTIAL_STORE: value }),
      (e: unknown) => e instanceof JitError && e.code === "usage" && EXIT_CODES[e.code] === 2,
    );
  }
});

function fileEnv(): { env: NodeJS.ProcessEnv; state: string; path: string; [Symbol.dispose](): void } {
  const state = mkdtempSync(join(tmpdir(), "jit-filestore-"));
  const env = { JIT_CREDENTIAL_STORE: "file", XDG_STATE_HOME: state, HOME: "/nonexistent-home" };
  return { env, state, path: join(state, "jit", "credentials.json"), [Symbol.dispose]: () => rmSync(state, { recursive: true, force: true }) };
}

const mode = (p: string) => statSync(p).mode & 0o777;

test("file store: round trip with a 0600 file in a 0700 directory, warned about once", async () => {
  using f = fileEnv();
  const warnings: string[] = [];
  const store = openCredentialStore(f.env, { warn: (l) => warnings.push(l) });
  assert.equal(store.kind, "file");
  assert.equal(store.location, f.path);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? "", /plaintext/);
  assert.ok(warnings[0]?.includes(f.path));

  assert.equal(await store.get("https://a.example"), undefined);
  await store.set("https://a.example", "tok-a");
  await store.set("https://b.example", "tok-b");
  await store.set("__proto__", "tok-proto");
  assert.equal(mode(f.path), 0o600);
  assert.equal(mode(join(f.state, "jit")), 0o700);
  assert.deepEqual(readdirSync(join(f.state, "jit")), ["credentials.json"], "no temp file left behind");

  const other = openCredentialStore(f.env); // a fresh instance reads what the first wrote
  assert.equal(await other.get("https://a.example"), "tok-a");
  assert.equal(await other.get("__proto__"), "tok-proto");
  assert.equal(await other.get("toString"), undefined);
  await store.set("https://a.example", "tok-a2");
  assert.equal(await other.get("https://a.example"), "tok-a2");

  assert.equal(await store.delete("https://a.example"), true);
  assert.equal(await store.delete("https://a.example"), false);
  assert.equal(await store.get("https://a.example"), undefined);
  assert.equal(await store.get("https://b.example"), "tok-b");
  await store.delete("https://b.example");
  await store.delete("__proto__");
  assert.equal(existsSync(f.path), false, "an empty store removes its file");
  await assert.rejects(store.set("acct", ""), (e: unknown) => e instanceof JitError && e.code === "internal");
  assert.equal(warnings.length, 1);
});

test("file store: tightens an existing looser directory to 0700", async () => {
  using f = fileEnv();
  mkdirSync(join(f.state, "jit"), { mode: 0o755 });
  chmodSync(join(f.state, "jit"), 0o755);
  await openCredentialStore(f.env).set("acct", "x");
  assert.equal(mode(join(f.state, "jit")), 0o700);
});

async function assertRefused(p: Promise<unknown>, hint: RegExp, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof JitError);
    assert.equal(e.code, "unauthenticated");
    assert.equal(EXIT_CODES[e.code], 3);
    assert.match(e.hint ?? "", hint);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test("file store: refuses a file other users can read", { skip: process.platform === "win32" }, async () => {
  using f = fileEnv();
  const store = openCredentialStore(f.env);
  await store.set("acct", "x");
  for (const m of [0o644, 0o640, 0o604, 0o620]) {
    chmodSync(f.path, m);
    await assertRefused(store.get("acct"), /chmod 600/, /other users/);
    await assertRefused(store.set("acct", "y"), /chmod 600/);
  }
  chmodSync(f.path, 0o600);
  assert.equal(await store.get("acct"), "x", "the secret is untouched by the refused writes");
});

test("file store: a corrupt or misshapen file names the file and the fix", async () => {
  using f = fileEnv();
  const store = openCredentialStore(f.env);
  mkdirSync(join(f.state, "jit"), { mode: 0o700 });
  for (const text of ["{not json", "[]", "null", '{"version":2,"entries":{}}', '{"version":1,"entries":{"a":1}}']) {
    writeFileSync(f.path, text, { mode: 0o600 });
    await assertRefused(store.get("a"), /delete .*credentials\.json and run jit login/, /corrupt/);
    await assertRefused(store.set("a", "b"), /jit login/);
  }
});

test("file store: refuses a symlink in place of the file", { skip: process.platform === "win32" }, async () => {
  using f = fileEnv();
  const target = join(f.state, "elsewhere.json");
  writeFileSync(target, '{"version":1,"entries":{"a":"planted"}}', { mode: 0o600 });
  mkdirSync(join(f.state, "jit"), { mode: 0o700 });
  symlinkSync(target, f.path);
  await assertRefused(openCredentialStore(f.env).get("a"), /delete/);
});

test("file store path: XDG_STATE_HOME when absolute, else ~/.local/state", () => {
  assert.equal(credentialsFilePath({ XDG_STATE_HOME: "/x/state", HOME: "/h" }), "/x/state/jit/credentials.json");
  assert.equal(credentialsFilePath({ HOME: "/h" }), "/h/.local/state/jit/credentials.json");
  assert.equal(credentialsFilePath({ XDG_STATE_HOME: "rel/state", HOME: "/h" }), "/h/.local/state/jit/credentials.json");
});
