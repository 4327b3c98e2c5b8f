/** A broker that cannot be reached says so plainly (exit 7): refused connections and a broker that never answers. */
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { makeIO } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";

function run(argv: string[], env: NodeJS.ProcessEnv) {
  const stderr = new PassThrough();
  let err = "";
  stderr.on("data", (d) => (err += d));
  const io = makeIO({ stdout: new PassThrough(), stderr, stdin: new PassThrough(), env: { NO_COLOR: "1", HOME: "/nonexistent", ...env }, isStdoutTTY: false, isStderrTTY: false, isStdinTTY: false });
  return main(argv, io).then((code) => ({ code, err }));
}

test("a closed port is 'connection refused', exit 7, not (TypeError)", async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r)); // nothing listens there now
  const r = await run(["version", "--json"], {}); // the control: version never needs a broker
  assert.equal(r.code, 0);
  const login = await run(["login", "--no-browser", "--broker", `http://127.0.0.1:${port}`], {});
  assert.equal(login.code, 7);
  assert.match(login.err, new RegExp(`cannot reach the broker at http://127\\.0\\.0\\.1:${port}: connection refused`));
  assert.doesNotMatch(login.err, /TypeError|fetch failed/);
});

test("a broker that accepts connections but never answers: 'did not answer' after the timeout, exit 7", async () => {
  const sockets: Socket[] = [];
  const server = createServer((s) => void sockets.push(s)); // accepts, reads nothing, answers nothing
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const started = Date.now();
    const r = await run(["login", "--no-browser", "--broker", url, "--json"], { JIT_TIMEOUT: "1s" });
    const took = Date.now() - started;
    assert.equal(r.code, 7);
    const body = JSON.parse(r.err) as { error: { code: string; message: string; reason: string } };
    assert.equal(body.error.code, "unreachable");
    assert.equal(body.error.reason, "timeout");
    assert.equal(body.error.message, `the broker at ${url} did not answer within 1s`);
    assert.ok(took >= 900 && took < 5000, `took ${took} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});
