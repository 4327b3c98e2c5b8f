/** jit login → whoami → logout with tokens in the real OS keychain (gnome-keyring over D-Bus in CI), and the clear error without one. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { approveDeviceCode, loginWith, runJit, startBroker } from "./harness.ts";

function keychainEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // The user's own session bus and home, so the Secret Service is the one CI unlocked; config stays private.
  const out: NodeJS.ProcessEnv = { ...env, HOME: process.env.HOME, DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR, XDG_DATA_HOME: process.env.XDG_DATA_HOME };
  delete out.JIT_CREDENTIAL_STORE;
  return out;
}

test("login stores tokens in the OS keychain, whoami reads them from another process, logout deletes them", { timeout: 60_000 }, async (t) => {
  if (process.platform === "linux" && !process.env.DBUS_SESSION_BUS_ADDRESS) {
    if (process.env.JIT_TEST_KEYCHAIN === "1") assert.fail("JIT_TEST_KEYCHAIN=1 but there is no D-Bus session");
    t.skip("no D-Bus Secret Service: run under .ci/run");
    return;
  }
  const broker = await startBroker();
  try {
    const env = keychainEnv(broker.env("alice"));
    const { code } = await loginWith(env, (userCode) => approveDeviceCode(broker.url, userCode, "alice"));
    assert.equal(code, 0);
    const who = await runJit(["whoami", "--json"], env);
    assert.equal(who.code, 0, who.stderr);
    assert.equal((JSON.parse(who.stdout) as { username: string }).username, "alice");
    assert.equal((await runJit(["logout"], env)).code, 0);
    const after = await runJit(["whoami"], env);
    assert.equal(after.code, 3, after.stderr);
  } finally {
    await broker.stop();
  }
});

test("with no keychain at all, login says how to opt into the file store (exit 3)", { timeout: 30_000 }, async () => {
  const broker = await startBroker();
  try {
    const env: NodeJS.ProcessEnv = { ...broker.env("nokeychain"), DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(broker.dir, "no-such-bus")}` };
    delete env.JIT_CREDENTIAL_STORE;
    const r = await runJit(["login", "--no-browser"], env);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /JIT_CREDENTIAL_STORE=file/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  } finally {
    await broker.stop();
  }
});
