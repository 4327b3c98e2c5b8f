/** `jit config get|set|list`: settings in the config file, checked on the way in, with where each value comes from. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, test } from "node:test";
import { makeIO } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";

const home = mkdtempSync(join(tmpdir(), "jit-config-"));
after(() => rmSync(home, { recursive: true, force: true }));

async function jit(argv: string[], extra: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const io = makeIO({ stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: "1", HOME: home, XDG_CONFIG_HOME: join(home, "config"), ...extra }, isStdoutTTY: false, isStderrTTY: false, isStdinTTY: false });
  return { code: await main(argv, io), out, err };
}

test("set, get and list a setting; the broker URL is normalised and checked", async () => {
  assert.equal((await jit(["config", "set", "broker", "https://jit.example.com/"])).code, 0);
  assert.equal((await jit(["config", "get", "broker"])).out, "https://jit.example.com\n");
  const file = JSON.parse(readFileSync(join(home, "config", "jit", "config.json"), "utf8")) as Record<string, string>;
  assert.equal(file.broker, "https://jit.example.com");
  const refused = await jit(["config", "set", "broker", "http://jit.example.com"]);
  assert.equal(refused.code, 2);
  assert.match(refused.err, /plain http to a non-loopback host/);
  assert.equal((await jit(["config", "set", "pager", "less -S"])).code, 0);
  const list = JSON.parse((await jit(["config", "list", "--json"], { JIT_PAGER: "more" })).out) as { settings: Array<{ key: string; value: string; source: string }> };
  assert.deepEqual(list.settings.map((s) => [s.key, s.value, s.source]), [["broker", "https://jit.example.com", "config file"], ["pager", "more", "$JIT_PAGER"]]);
  assert.equal((await jit(["config", "set", "broker", ""])).code, 0);
  assert.equal((await jit(["config", "get", "broker"])).out, "");
});

test("an unknown setting is a usage error naming the known ones", async () => {
  const r = await jit(["config", "get", "colour"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown setting "colour"/);
  assert.match(r.err, /settings: broker, pager/);
});
