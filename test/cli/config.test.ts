import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configPath, loadConfig, normaliseBrokerUrl, resolveBrokerUrl, saveConfig } from "../../src/cli/config.ts";
import { EXIT_CODES, JitError } from "../../src/errors.ts";

function tempEnv(): { env: NodeJS.ProcessEnv; path: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), "jit-config-"));
  const env = { XDG_CONFIG_HOME: join(dir, "cfg"), HOME: "/nonexistent-home" };
  return { env, path: join(dir, "cfg", "jit", "config.json"), [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

const isUsage = (pattern?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof JitError, String(e));
  assert.equal(e.code, "usage");
  assert.equal(EXIT_CODES[e.code], 2);
  if (pattern) assert.match(`${e.message} | ${e.hint ?? ""}`, pattern);
  return true;
};

test("configPath: XDG_CONFIG_HOME when absolute, else ~/.config", () => {
  assert.equal(configPath({ XDG_CONFIG_HOME: "/x/cfg", HOME: "/h" }), "/x/cfg/jit/config.json");
  assert.equal(configPath({ HOME: "/h" }), "/h/.config/jit/config.json");
  assert.equal(configPath({ XDG_CONFIG_HOME: "relative", HOME: "/h" }), "/h/.config/jit/config.json");
});

test("loadConfig: a missing file is empty", () => {
  using c = tempEnv();
  assert.deepEqual(loadConfig(c.env), {});
});

test("loadConfig: corrupt JSON or a wrong shape is a usage error naming the file", () => {
  using c = tempEnv();
  mkdirSync(join(c.path, ".."), { recursive: true });
  for (const text of ["{broker:", "[]", '"x"', "null", '{"broker": 42}']) {
    writeFileSync(c.path, text);
    assert.throws(() => loadConfig(c.env), isUsage(/config\.json.*fix or delete/));
  }
});

test("saveConfig: creates the directory, writes atomically, keeps unknown keys", () => {
  using c = tempEnv();
  saveConfig(c.env, { broker: "https://a.example" });
  assert.deepEqual(loadConfig(c.env), { broker: "https://a.example" });

  writeFileSync(c.path, JSON.stringify({ broker: "https://a.example", theme: "dark", nested: { k: [1, 2] } }));
  saveConfig(c.env, { broker: "https://b.example" });
  assert.deepEqual(JSON.parse(readFileSync(c.path, "utf8")), { broker: "https://b.example", theme: "dark", nested: { k: [1, 2] } });

  // load → change → save, as `jit login` does
  saveConfig(c.env, { ...loadConfig(c.env), broker: "https://c.example" });
  assert.equal(loadConfig(c.env).theme, "dark");
  saveConfig(c.env, { broker: undefined });
  assert.deepEqual(loadConfig(c.env), { theme: "dark", nested: { k: [1, 2] } });
  assert.deepEqual(readdirSync(join(c.path, "..")), ["config.json"], "no temp file left behind");
});

test("saveConfig: refuses to overwrite a corrupt file", () => {
  using c = tempEnv();
  mkdirSync(join(c.path, ".."), { recursive: true });
  writeFileSync(c.path, "{oops");
  assert.throws(() => saveConfig(c.env, { broker: "https://a.example" }), isUsage());
  assert.equal(readFileSync(c.path, "utf8"), "{oops");
});

test("resolveBrokerUrl: --broker, then JIT_BROKER, then the config file", () => {
  const cfg = { broker: "https://from-config.example/" };
  const env = { JIT_BROKER: "https://from-env.example/" };
  assert.equal(resolveBrokerUrl("https://from-flag.example/", env, cfg), "https://from-flag.example");
  assert.equal(resolveBrokerUrl(undefined, env, cfg), "https://from-env.example");
  assert.equal(resolveBrokerUrl(undefined, {}, cfg), "https://from-config.example");
  assert.equal(resolveBrokerUrl(undefined, { JIT_BROKER: "" }, cfg), "https://from-config.example");
  assert.equal(resolveBrokerUrl(undefined, {}, {}), undefined);
  // the chosen value is checked even when a lower-precedence one would be fine
  assert.throws(() => resolveBrokerUrl(undefined, { JIT_BROKER: "http://evil.example" }, cfg), isUsage(/https/));
  assert.throws(() => resolveBrokerUrl("", env, cfg), isUsage());
});

test("normaliseBrokerUrl: canonical form without a trailing slash", () => {
  const cases: Array<[string, string]> = [
    ["https://broker.example.com/", "https://broker.example.com"],
    ["https://Broker.Example.COM:443", "https://broker.example.com"],
    ["https://broker.example.com:8443/jit/", "https://broker.example.com:8443/jit"],
    ["https://broker.example.com/jit//", "https://broker.example.com/jit"],
    ["  https://broker.example.com  ", "https://broker.example.com"],
    ["http://127.0.0.1:8080/", "http://127.0.0.1:8080"],
    ["http://127.1.2.3:9", "http://127.1.2.3:9"],
    ["http://127.1:9", "http://127.0.0.1:9"],
    ["http://localhost:4000", "http://localhost:4000"],
    ["http://LOCALHOST:4000/", "http://localhost:4000"],
    ["http://[::1]:4000/", "http://[::1]:4000"],
    ["http://[0:0:0:0:0:0:0:1]:4000", "http://[::1]:4000"],
  ];
  for (const [raw, want] of cases) assert.equal(normaliseBrokerUrl(raw), want, raw);
});

test("normaliseBrokerUrl: plain http to a non-loopback host is refused", () => {
  for (const raw of [
    "http://broker.example.com",
    "http://10.0.0.1:8080",
    "http://192.168.1.10",
    "http://127.0.0.1.nip.io",
    "http://localhost.example.com",
    "http://0.0.0.0:8080",
    "http://[::2]",
  ]) {
    assert.throws(() => normaliseBrokerUrl(raw), isUsage(/https/), raw);
  }
});

test("normaliseBrokerUrl: credentials, query, fragment, other schemes and garbage are refused", () => {
  assert.throws(
    () => normaliseBrokerUrl("https://alice:hunter2@broker.example.com"),
    (e: unknown) => isUsage(/user name or password/)(e) && !(e as Error).message.includes("hunter2"),
  );
  for (const raw of ["https://b.example/?x=1", "https://b.example/?", "https://b.example/#frag", "https://b.example#"]) {
    assert.throws(() => normaliseBrokerUrl(raw), isUsage(/query or fragment/), raw);
  }
  for (const raw of ["ftp://b.example", "file:///etc/passwd", "javascript:alert(1)", "ws://127.0.0.1"]) {
    assert.throws(() => normaliseBrokerUrl(raw), isUsage(/not supported/), raw);
  }
  for (const raw of ["", "broker.example.com", "https://", "not a url", "http://[::1"]) {
    assert.throws(() => normaliseBrokerUrl(raw), isUsage(/not a valid URL/), raw);
  }
});
