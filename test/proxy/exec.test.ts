/** `jit proxy -- COMMAND` (signals, exit status, stdout left to the command) and `jit proxy --env` (a background proxy, ssh-agent style). */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { JIT_BIN, runJit, userEnv } from "../e2e/harness.ts";
import { proxyToken } from "./harness.ts";

// No broker is needed to start the proxy: it asks the broker only when a client calls.
const home = mkdtempSync(join(tmpdir(), "jit-proxy-exec-"));
const env = userEnv(home, "http://127.0.0.1:9");

describe("jit proxy -- COMMAND and --env", { timeout: 60_000 }, () => {
  after(() => rmSync(home, { recursive: true, force: true }));

  test("forwards SIGTERM to the command and exits with its status; writes nothing to stdout", async () => {
    const script = "process.on('SIGTERM', () => { process.stdout.write('got SIGTERM'); process.exit(5); }); process.stdout.write('ready'); setInterval(() => {}, 1000);";
    const child = spawn(process.execPath, [JIT_BIN, "proxy", "--", process.execPath, "-e", script], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    await new Promise<void>((resolve) => child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("ready")) resolve();
    }));
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 5, err);
    assert.equal(out, "readygot SIGTERM");
  });

  test("a command killed by a signal gives 128 + its number; a missing command is a usage error", async () => {
    const killed = await runJit(["proxy", "--", process.execPath, "-e", "process.kill(process.pid, 'SIGKILL')"], env);
    assert.equal(killed.code, 128 + 9);
    assert.equal(killed.stdout, "");
    const missing = await runJit(["proxy", "--", "/nonexistent/jit-no-such-command"], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot run \/nonexistent\/jit-no-such-command: command not found/);
    assert.equal((await runJit(["proxy", "--env", "--", "true"], env)).code, 2, "--env takes no command");
  });

  test("--env starts a background proxy, prints export lines and returns; kill stops it and removes the file", async () => {
    const r = await runJit(["proxy", "--env", "--port", "0"], env, { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    const vars = Object.fromEntries([...r.stdout.matchAll(/^export ([A-Z_]+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    assert.deepEqual(Object.keys(vars).sort(), ["BIGQUERY_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "JIT_PROXY_PID"]);
    const pid = Number(vars.JIT_PROXY_PID);
    try {
      const token = await proxyToken(vars.GOOGLE_APPLICATION_CREDENTIALS!);
      const res = await fetch(`${vars.BIGQUERY_EMULATOR_HOST}/projects/demo/datasets`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { error: { errors: Array<{ reason: string }> } };
      assert.equal(res.status, 401, "nobody is signed in in this environment");
      assert.equal(body.error.errors[0]!.reason, "authError");
    } finally {
      process.kill(pid, "SIGTERM");
    }
    for (let i = 0; i < 50 && existsSync(vars.GOOGLE_APPLICATION_CREDENTIALS!); i++) await new Promise((res) => setTimeout(res, 100));
    assert.equal(existsSync(vars.GOOGLE_APPLICATION_CREDENTIALS!), false, "the credential file is removed when the proxy stops");
  });
});
