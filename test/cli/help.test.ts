/** Every command's --help shows examples and exits 0; usage errors name the command's own --help. */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import type { Command } from "commander";
import { createContext } from "../../src/cli/context.ts";
import { makeIO } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { buildProgram } from "../../src/cli/program.ts";

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const value = makeIO({ stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: "1" }, isStdoutTTY: false, isStderrTTY: false, isStdinTTY: false });
  return { io: value, out: () => out, err: () => err };
}

function paths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);
}

test("every command's --help exits 0 and shows examples", async () => {
  const all = paths(buildProgram(createContext(io().io, "0")));
  assert.ok(all.length >= 25);
  for (const p of all) {
    const t = io();
    const code = await main([...p, "--help"], t.io);
    assert.equal(code, 0, p.join(" "));
    assert.match(t.out(), /Examples:\n {2}\$ jit /, `jit ${p.join(" ")} --help has no examples`);
  }
});

test("a usage error names the command's own --help and exits 2", async () => {
  const t = io();
  assert.equal(await main(["audit", "list", "--bogus"], t.io), 2);
  assert.match(t.err(), /unknown option '--bogus'/);
  assert.match(t.err(), /hint: see jit audit list --help/);
});

test("jit help TOPIC prints the topic; jit help COMMAND the command's help; an unknown one is a usage error", async () => {
  for (const [topic, says] of [["environment", /JIT_DEBUG +set to 1/], ["exit-codes", /130 +interrupted/], ["formatting", /--json .*cannot be combined/s], ["policy", /max_bytes_processed/]] as const) {
    const t = io();
    assert.equal(await main(["help", topic], t.io), 0, topic);
    assert.match(t.out(), says, topic);
  }
  const q = io();
  assert.equal(await main(["help", "audit", "list"], q.io), 0);
  assert.match(q.out(), /Usage: jit audit list/);
  const top = io();
  assert.equal(await main(["help"], top.io), 0);
  assert.match(top.out(), /Help topics: jit help environment \| exit-codes \| formatting \| policy/);
  const bad = io();
  assert.equal(await main(["help", "nonsense"], bad.io), 2);
  assert.match(bad.err(), /no help topic or command "nonsense"/);
});

test("-v, -V, --version and jit version print the version", async () => {
  for (const argv of [["-v"], ["-V"], ["--version"]]) {
    const t = io();
    assert.equal(await main(argv, t.io), 0);
    assert.match(t.out(), /^\d+\.\d+\.\d+\n$/);
  }
  const t = io();
  assert.equal(await main(["version", "--json"], t.io), 0);
  const v = JSON.parse(t.out()) as { cli: string; broker: unknown };
  assert.match(v.cli, /^\d+\.\d+\.\d+$/);
  assert.equal(v.broker, null, "no broker configured in this environment");
});

test("the fast path of jit --help is commander's own help", async () => {
  const fast = io();
  assert.equal(await main(["--help"], fast.io), 0);
  const full = io();
  assert.equal(await main(["help"], full.io), 0);
  assert.equal(fast.out(), full.out());
});

test("the binary answers --version, -v and --help itself with what main() prints", async () => {
  const { execFileSync } = await import("node:child_process");
  const { JIT_BIN } = await import("../e2e/harness.ts");
  const run = (arg: string) => execFileSync(process.execPath, [JIT_BIN, arg], { encoding: "utf8", env: { PATH: process.env.PATH } });
  for (const arg of ["--version", "-v", "--help", "-h"]) {
    const t = io();
    assert.equal(await main([arg], t.io), 0);
    assert.equal(run(arg), t.out(), `jit ${arg}`);
  }
});
