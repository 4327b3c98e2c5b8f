/**
 * The update notice: once a day, on a terminal's stderr only, when the CLI is older than the broker (or of another
 * release line); JIT_NO_UPDATE_NOTIFIER turns it off; a broker that does not answer /healthz never slows the command.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { compareVersions, incompatible, noticeText } from "../../src/cli/update-notice.ts";
import { JIT_BIN, runJit } from "../e2e/harness.ts";

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

test("versions compare numerically, a pre-release before its release; 0.x lines differ by minor", () => {
  assert.equal(compareVersions("0.1.0", "0.2.0"), -1);
  assert.equal(compareVersions("0.10.0", "0.9.9"), 1);
  assert.equal(compareVersions("1.2.3", "1.2.3"), 0);
  assert.equal(compareVersions("1.0.0-rc.1", "1.0.0"), -1);
  assert.ok(incompatible("0.1.0", "0.2.0"));
  assert.ok(!incompatible("1.1.0", "1.4.0"));
  assert.match(noticeText("0.1.0", "0.1.3", "http://b")!, /A newer jit is available: the broker at http:\/\/b runs 0\.1\.3, this CLI is 0\.1\.0/);
  assert.match(noticeText("0.3.0", "0.2.0", "http://b")!, /newer release than the broker/);
  assert.equal(noticeText("0.2.1", "0.2.0", "http://b"), undefined, "a newer patch of the same line says nothing");
  assert.equal(noticeText("0.2.0", "0.2.0", "http://b"), undefined);
});

const hasScript = spawnSync("sh", ["-c", "command -v script"]).status === 0;
const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Runs jit on a pseudo-terminal; resolves with everything it printed and how long it took. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv, opts: { pipeStdout?: boolean } = {}): Promise<{ out: string; code: number; ms: number }> {
  const started = Date.now();
  const cmd = `${shq(process.execPath)} ${shq(JIT_BIN)} ${args.map(shq).join(" ")}`;
  return new Promise((resolve) => {
    const child = spawn("script", ["-qefc", `stty cols 100 rows 30; ${opts.pipeStdout ? `${cmd} | cat` : `exec ${cmd}`}`, "/dev/null"], {
      env: { ...env, TERM: "xterm-256color" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (code) => {
      clearTimeout(kill);
      resolve({ out: out.replaceAll("\r", ""), code: code ?? -1, ms: Date.now() - started });
    });
  });
}

describe("the update notice on a terminal", { skip: hasScript ? false : "util-linux `script` is not installed: no pseudo-terminal to test in", timeout: 90_000 }, () => {
  let server: Server;
  let url: string;
  let brokerVersion = "";
  let healthzHangs = false;
  let healthzCalls = 0;
  const home = mkdtempSync(join(tmpdir(), "jit-notice-"));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_STATE_HOME: join(home, "state"),
    XDG_CACHE_HOME: join(home, "cache"),
    JIT_CREDENTIAL_STORE: "file",
    NO_COLOR: "1",
  };
  const cache = join(home, "cache", "jit", "update-check.json");

  before(async () => {
    // A stand-in broker: /healthz says its version; /v1/datasets answers after 300 ms, so the check has time to come back.
    server = createServer((req, res) => {
      if (req.url === "/healthz") {
        healthzCalls++;
        if (healthzHangs) return; // accepts, never answers
        res.setHeader("content-type", "application/json");
        return res.end(JSON.stringify({ ok: true, version: brokerVersion, mode: "dev", store: "sqlite" }));
      }
      setTimeout(() => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ datasets: [] }));
      }, 300);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    env.JIT_BROKER = url;
    // A signed-in session for the stand-in (the broker would verify the token; this one does not look).
    const dir = join(home, "state", "jit");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const session = { version: 1, issuer: `${url}/oidc`, client_id: "jit-cli", id_token: "e30.e30.x", expires_at: Math.floor(Date.now() / 1000) + 3600 };
    writeFileSync(join(dir, "credentials.json"), JSON.stringify({ version: 1, entries: { [url]: JSON.stringify(session) } }), { mode: 0o600 });
  });
  after(() => {
    server?.closeAllConnections();
    server?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test("a CLI older than the broker says so once a day, on stderr, after the command's own output", async () => {
    const [maj, min] = VERSION.split(".").map(Number) as [number, number];
    brokerVersion = `${maj}.${min + 1}.0`;
    rmSync(cache, { force: true });
    const first = await onTerminal(["datasets"], env);
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, new RegExp(`A newer jit is available: the broker at ${url} runs ${brokerVersion}, this CLI is ${VERSION}`));
    assert.ok(first.out.indexOf("No datasets") < first.out.indexOf("A newer jit"), "the notice comes after the command's output");
    const saved = JSON.parse(readFileSync(cache, "utf8")) as { brokers: Record<string, { version: string }> };
    assert.equal(saved.brokers[url]!.version, brokerVersion);
    const calls = healthzCalls;
    const second = await onTerminal(["datasets"], env);
    assert.doesNotMatch(second.out, /newer jit/, "once a day");
    assert.equal(healthzCalls, calls, "the broker is not asked again within the day");
  });

  test("not when the versions match, not with JIT_NO_UPDATE_NOTIFIER=1, not with --json, not on a pipe", async () => {
    brokerVersion = VERSION;
    rmSync(cache, { force: true });
    assert.doesNotMatch((await onTerminal(["datasets"], env)).out, /jit is available|newer release/);
    brokerVersion = "99.0.0";
    rmSync(cache, { force: true });
    const calls = healthzCalls;
    assert.doesNotMatch((await onTerminal(["datasets"], { ...env, JIT_NO_UPDATE_NOTIFIER: "1" })).out, /newer jit/);
    assert.doesNotMatch((await onTerminal(["datasets", "--json"], env)).out, /newer jit/);
    const stdoutPiped = await onTerminal(["datasets"], env, { pipeStdout: true });
    assert.match(stdoutPiped.out, /No datasets/);
    assert.doesNotMatch(stdoutPiped.out, /newer jit/, "stdout into a pipe: a script, not a person");
    const piped = await runJit(["datasets"], env);
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stderr + piped.stdout, /newer jit/);
    assert.equal(healthzCalls, calls, "none of these asked the broker for its version");
    assert.equal(existsSync(cache), false);
  });

  test("a broker that never answers /healthz does not slow the command, and is asked again next time", async () => {
    healthzHangs = true;
    brokerVersion = "99.0.0";
    rmSync(cache, { force: true });
    const quiet = await onTerminal(["datasets"], { ...env, JIT_NO_UPDATE_NOTIFIER: "1" });
    const hung = await onTerminal(["datasets"], env);
    assert.equal(hung.code, 0, hung.out);
    assert.doesNotMatch(hung.out, /newer jit/);
    // The check gives up after 2 s; the command must not wait for it.
    assert.ok(hung.ms < quiet.ms + 1000, `with a silent /healthz ${hung.ms} ms, without the check ${quiet.ms} ms`);
    assert.equal(existsSync(cache), false, "no answer, nothing cached: the next command asks again");
    healthzHangs = false;
  });
});
