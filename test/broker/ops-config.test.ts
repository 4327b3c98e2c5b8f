// broker.yaml keys for operations: max_in_flight, shutdown_grace, metrics_listen (src/broker/config.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { validateBrokerConfig } from "../../src/broker/config.ts";

const base = (extra: Record<string, unknown> = {}) => ({
  identity: { issuer: "https://idp.example.com", client_id: "jit-cli" },
  policy: "/etc/jit/policy.yaml",
  store: { sqlite: "/var/lib/jit/jit.db" },
  warehouse: { demo: true },
  masking: { hash_key_file: "/etc/jit/hash.key" },
  ...extra,
});
const validate = (extra: Record<string, unknown>) => validateBrokerConfig(base(extra), "/etc/jit/broker.yaml");

test("defaults: 256 requests in flight, 30 s shutdown grace, metrics on 127.0.0.1:9464", async () => {
  const { config } = await validate({});
  assert.equal(config?.maxInFlight, 256);
  assert.equal(config?.shutdownGraceMs, 30_000);
  assert.deepEqual(config?.metricsListen, { host: "127.0.0.1", port: 9464 });
});

test("the operations keys take their values", async () => {
  const { config, errors } = await validate({ max_in_flight: 8, shutdown_grace: "2m", metrics_listen: "[::1]:9100" });
  assert.deepEqual(errors, []);
  assert.equal(config?.maxInFlight, 8);
  assert.equal(config?.shutdownGraceMs, 120_000);
  assert.deepEqual(config?.metricsListen, { host: "::1", port: 9100 });
  assert.equal((await validate({ metrics_listen: "off" })).config?.metricsListen, null);
  assert.equal((await validate({ shutdown_grace: 0 })).config?.shutdownGraceMs, 0);
});

test("bad operations keys are reported at their paths", async () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ max_in_flight: 0 }, "max_in_flight", /whole number from 1 to 100000/],
    [{ max_in_flight: "lots" }, "max_in_flight", /whole number/],
    [{ max_in_flight: 2.5 }, "max_in_flight", /whole number/],
    [{ shutdown_grace: "soon" }, "shutdown_grace", /duration up to 1h/],
    [{ shutdown_grace: "2h" }, "shutdown_grace", /duration up to 1h/],
    [{ metrics_listen: "9464" }, "metrics_listen", /host:port/],
    [{ metrics_listen: "127.0.0.1:8787" }, "metrics_listen", /never served on the public listener/],
  ];
  for (const [extra, path, why] of cases) {
    const { config, errors } = await validate(extra);
    assert.equal(config, undefined, JSON.stringify(extra));
    assert.deepEqual(errors.map((e) => e.path), [path], JSON.stringify(extra));
    assert.match(errors[0]!.message, why);
  }
});

test("store.postgres_url_file: the URL read from a secret file only the broker may read", async () => {
  const { chmodSync, mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "jit-pgurl-"));
  try {
    const file = join(dir, "pg_url");
    writeFileSync(file, "postgres://jit:secret@db:5432/jit\n");
    chmodSync(file, 0o600);
    const ok = await validate({ store: { postgres_url_file: file, schema: "jit" } });
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.config?.store, { kind: "postgres", url: "postgres://jit:secret@db:5432/jit", schema: "jit" });
    chmodSync(file, 0o644);
    const loose = await validate({ store: { postgres_url_file: file } });
    assert.deepEqual(loose.errors.map((e) => e.path), ["store.postgres_url_file"]);
    assert.match(loose.errors[0]!.message, /accessible by other users; chmod 600/);
    const missing = await validate({ store: { postgres_url_file: join(dir, "nope") } });
    assert.match(missing.errors[0]!.message, /cannot read .*nope: ENOENT/);
    const both = await validate({ store: { postgres_url_file: file, sqlite: "/x.db" } });
    assert.ok(both.errors.some((e) => e.path === "store" && /name one store: sqlite or postgres_url_file/.test(e.message)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
