import { test } from "node:test";
import assert from "node:assert/strict";
import { sanitizeLabels, timestampValue } from "../../src/warehouse/bigquery-values.ts";
import { WarehouseQueryError } from "../../src/warehouse/types.ts";

test("TIMESTAMP from int64 microseconds or float seconds, exactly, in RFC 3339 UTC", () => {
  assert.equal(timestampValue("0"), "1970-01-01T00:00:00Z");
  assert.equal(timestampValue("-1"), "1969-12-31T23:59:59.999999Z");
  assert.equal(timestampValue("253402300799999999"), "9999-12-31T23:59:59.999999Z");
  assert.equal(timestampValue("1.7E9"), "2023-11-14T22:13:20Z");
  assert.equal(timestampValue("1700000000.5"), "2023-11-14T22:13:20.500000Z");
  assert.equal(timestampValue("1.700000000123456E9"), "2023-11-14T22:13:20.123456Z");
  assert.equal(timestampValue("-1.5"), "1969-12-31T23:59:58.500000Z");
  for (const bad of ["abc", "", "1e", "1.2.3"]) assert.throws(() => timestampValue(bad), WarehouseQueryError);
});

test("labels follow BigQuery's rules: lowercase, [a-z0-9_-], at most 63 characters, keys start with a letter, 64 at most", () => {
  assert.deepEqual(sanitizeLabels({ "Jit User": "Alice Smith", "": "dropped", _x: "ÄÖ", k: "" }), { jit_user: "alice_smith", l__x: "__", k: "" });
  assert.equal(Object.keys(sanitizeLabels(Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, "v"])))).length, 64);
  assert.deepEqual(sanitizeLabels(undefined), {});
  const long = sanitizeLabels({ ["a".repeat(100)]: "b".repeat(100) });
  assert.deepEqual(Object.entries(long), [["a".repeat(63), "b".repeat(63)]]);
});
