import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { columnHashKey, keyedHash, maskValue, REDACTED } from "../../src/masking/styles.ts";
import type { MaskStyle } from "../../src/policy/types.ts";

const hashKey = Buffer.from("broker-secret");
const opts = { hashKey };
const hmac = (s: string) => createHmac("sha256", hashKey).update(s).digest("hex");

test("NULL stays NULL under every style", () => {
  for (const style of ["redact", "null", "default", "last4", "first4", "hash", "sha256", "email", "year"] as MaskStyle[]) {
    assert.equal(maskValue(style, null, "STRING", opts), null, style);
    assert.equal(maskValue(style, undefined, "DATE", opts), null, style);
  }
});

test("last4 and first4 keep four characters and add XXXXX, as BigQuery does", () => {
  assert.equal(maskValue("last4", "123-45-6789", "STRING", opts), "XXXXX6789");
  assert.equal(maskValue("first4", "4111111111111111", "STRING", opts), "4111XXXXX");
  assert.equal(maskValue("last4", "ab🙂cd🙂", "STRING", opts), "XXXXX🙂cd🙂", "characters, not UTF-16 units");
});

test("values of 4 characters or fewer are hashed, with the broker key", () => {
  assert.equal(maskValue("last4", "1234", "STRING", opts), hmac("1234"));
  assert.equal(maskValue("first4", "ab", "STRING", opts), hmac("ab"));
  assert.notEqual(maskValue("last4", "1234", "STRING", opts), createHash("sha256").update("1234").digest("hex"));
});

test("a masked value keeps its column's type: where a style does not fit the type, BigQuery's default value", () => {
  assert.equal(maskValue("last4", 4111111111111111, "INT64", opts), 0);
  assert.equal(maskValue("hash", 42, "INT64", opts), 0);
  assert.equal(maskValue("email", "2021-05-03", "DATE", opts), "1970-01-01");
  assert.equal(maskValue("redact", "166.50", "NUMERIC", opts), "0");
  assert.equal(maskValue("hash", Buffer.from("abc").toString("base64"), "BYTES", opts), createHmac("sha256", hashKey).update("abc").digest("base64"));
});

test("email keeps the domain; a non-email is hashed", () => {
  assert.equal(maskValue("email", "cloudysanfrancisco@gmail.com", "STRING", opts), "XXXXX@gmail.com");
  assert.equal(maskValue("email", "not an email", "STRING", opts), hmac("not an email"));
  assert.equal(maskValue("email", "a@localhost", "STRING", opts), hmac("a@localhost"));
});

test("hash is HMAC-SHA256 hex with the key: stable, keyed, not plain SHA-256", () => {
  assert.equal(maskValue("hash", "123-45-6789", "STRING", opts), keyedHash("123-45-6789", hashKey));
  assert.notEqual(maskValue("hash", "x", "STRING", opts), maskValue("hash", "x", "STRING", { hashKey: Buffer.from("other") }));
  assert.match(String(maskValue("hash", "x", "STRING", opts)), /^[0-9a-f]{64}$/);
});

test("sha256 is the plain digest: hex for STRING, base64 bytes for BYTES", () => {
  assert.equal(maskValue("sha256", "abc", "STRING", opts), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(maskValue("sha256", Buffer.from("abc").toString("base64"), "BYTES", opts), createHash("sha256").update("abc").digest("base64"));
});

test("default gives BigQuery's default masking value per type", () => {
  const cases: Array<[string, unknown]> = [
    ["STRING", ""], ["BYTES", ""], ["INT64", 0], ["FLOAT64", 0], ["NUMERIC", "0"], ["BIGNUMERIC", "0"], ["BOOL", false],
    ["DATE", "1970-01-01"], ["DATETIME", "1970-01-01T00:00:00"], ["TIME", "00:00:00"], ["TIMESTAMP", "1970-01-01T00:00:00Z"],
    ["GEOGRAPHY", "POINT(0 0)"], ["JSON", null], ["ARRAY", []], ["STRUCT", null],
  ];
  for (const [type, expected] of cases) assert.deepEqual(maskValue("default", "x", type as never, opts), expected, type);
});

test("year truncates DATE, DATETIME and TIMESTAMP (in UTC) to the start of the year", () => {
  assert.equal(maskValue("year", "2021-05-03", "DATE", opts), "2021-01-01");
  assert.equal(maskValue("year", "2021-05-03T10:11:12.5", "DATETIME", opts), "2021-01-01T00:00:00");
  assert.equal(maskValue("year", "2021-06-01T10:00:00.000Z", "TIMESTAMP", opts), "2021-01-01T00:00:00Z");
  assert.equal(maskValue("year", "2021-01-01T02:00:00+05:00", "TIMESTAMP", opts), "2020-01-01T00:00:00Z");
  assert.equal(maskValue("year", "2021-06-01 10:00:00 UTC", "TIMESTAMP", opts), "2021-01-01T00:00:00Z");
  assert.equal(maskValue("year", "not a date", "STRING", opts), null);
  assert.equal(maskValue("year", 12345, "INT64", opts), 0);
});

test("null and redact replace the value; redact is text on STRING and the type's default elsewhere", () => {
  assert.equal(maskValue("null", "x", "STRING", opts), null);
  assert.equal(maskValue("redact", "x", "STRING", opts), REDACTED);
  assert.equal(maskValue("redact", 5, "INT64", opts), 0);
  assert.deepEqual(maskValue("redact", ["a", "b"], "ARRAY", opts), []);
});

test("ARRAY, STRUCT and JSON values are masked leaf by leaf, keeping their shape", () => {
  assert.deepEqual(maskValue("last4", ["123-45-6789", null, { n: "4111111111111111" }], "ARRAY", opts), ["XXXXX6789", null, { n: "XXXXX1111" }]);
  assert.deepEqual(maskValue("email", { a: "x@y.com", b: ["q@r.org"] }, "STRUCT", opts), { a: "XXXXX@y.com", b: ["XXXXX@r.org"] });
  assert.deepEqual(maskValue("default", ["a"], "ARRAY", opts), []);
});

test("each column hashes with its own key, derived from the broker's: no value hashed for one matches another's", () => {
  const ssn = columnHashKey(hashKey, "demo.sales.customers.ssn");
  const email = columnHashKey(hashKey, "demo.sales.customers.email");
  assert.notDeepEqual(ssn, email);
  assert.deepEqual(ssn, columnHashKey(hashKey, "DEMO.sales.customers.SSN"), "column names are case-insensitive");
  assert.notDeepEqual(ssn, columnHashKey(Buffer.from("another broker"), "demo.sales.customers.ssn"));
  assert.notEqual(maskValue("hash", "x", "STRING", { hashKey: ssn }), maskValue("hash", "x", "STRING", { hashKey: email }));
});
