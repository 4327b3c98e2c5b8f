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
