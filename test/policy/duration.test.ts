import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../../src/policy/duration.ts";
import { tryParseBytes } from "../../src/policy/bytes.ts";
import { JitError } from "../../src/errors.ts";

test("parseDuration reads d, h, m, s and their combinations", () => {
  assert.equal(parseDuration("45s"), 45_000);
  assert.equal(parseDuration("90m"), 5_400_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("8h"), 28_800_000);
  assert.equal(parseDuration("2d"), 172_800_000);
  assert.equal(parseDuration("1d12h30m15s"), 131_415_000);
});

test("parseDuration refuses anything else with a usage error that shows a valid example", () => {
  for (const bad of ["90x", "0m", "0s", "-5m", "", " ", "1.5h", "h", "30m1h", "1h1h", "8 hours", "10"]) {
    assert.throws(() => parseDuration(bad), (e: unknown) => {
      assert.ok(e instanceof JitError, `${bad} should throw a JitError`);
      assert.equal(e.code, "usage");
      assert.match(e.message, /1h30m/);
      assert.match(e.message, new RegExp(JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
      return true;
    }, `"${bad}" should be refused`);
  }
});

test("formatDuration writes what parseDuration reads", () => {
  assert.equal(formatDuration(5_400_000), "1h30m");
  assert.equal(formatDuration(28_800_000), "8h");
  assert.equal(formatDuration(172_800_000), "2d");
  assert.equal(formatDuration(45_000), "45s");
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(999), "0s");
  assert.equal(formatDuration(-60_000), "-1m");
  for (const s of ["1d12h30m15s", "90m", "3h5s"]) assert.equal(parseDuration(formatDuration(parseDuration(s))), parseDuration(s));
});

test("byte sizes: decimal KB..PB, binary KiB..PiB, plain numbers; nothing else", () => {
  assert.equal(tryParseBytes("10GB"), 10e9);
  assert.equal(tryParseBytes("500MB"), 500e6);
  assert.equal(tryParseBytes("1TiB"), 2 ** 40);
  assert.equal(tryParseBytes("1.5 GiB"), 1.5 * 2 ** 30);
  assert.equal(tryParseBytes(1024), 1024);
  assert.equal(tryParseBytes("1024"), 1024);
  for (const bad of ["10XB", "0GB", "-1GB", "GB", "", 0, -5, 1.5]) assert.equal(tryParseBytes(bad), undefined, String(bad));
});
