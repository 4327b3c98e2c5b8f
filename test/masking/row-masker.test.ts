import { test } from "node:test";
import assert from "node:assert/strict";
import { createRowMasker, maskErrorMessage } from "../../src/masking/row-masker.ts";

const hashKey = Buffer.from("k");

test("styled columns are masked and count one cell per non-null value", () => {
  const mask = createRowMasker({
    columns: [
      { name: "id", type: "INT64" },
      { name: "ssn", type: "STRING", style: "last4" },
      { name: "email", type: "STRING", style: "email" },
      { name: "card", type: "STRING", style: "null" },
    ],
    detectors: ["credit_card", "us_ssn", "email"],
    hashKey,
  });
  const input = { id: 7, ssn: "123-45-6789", email: "a@example.com", card: null };
  const { row, maskedCells } = mask(input);
  assert.deepEqual(row, { id: 7, ssn: "XXXXX6789", email: "XXXXX@example.com", card: null });
  assert.equal(maskedCells, 2);
  assert.equal(input.ssn, "123-45-6789", "the input row is not mutated");
});

test("detectors scan every other value, recursively through ARRAY and STRUCT", () => {
  const mask = createRowMasker({ columns: [{ name: "notes", type: "STRING" }], detectors: ["credit_card", "us_ssn", "email"], hashKey });
  const { row, maskedCells } = mask({
    notes: "card 4111 1111 1111 1111",
    tags: ["ok", "mail me at x@y.com"],
    meta: { nested: { ssn: "123-45-6789" }, n: 1 },
    clean: "hello",
    n: 42,
  });
  assert.deepEqual(row, {
    notes: "card [CREDIT_CARD]",
    tags: ["ok", "mail me at [EMAIL]"],
    meta: { nested: { ssn: "[SSN]" }, n: 1 },
    clean: "hello",
    n: 42,
  });
  assert.equal(maskedCells, 3, "one per changed cell, not per span");
});

test("JSON text is parsed, so escapes cannot hide a value; keys are scanned too", () => {
  const mask = createRowMasker({ columns: [], detectors: ["email", "us_ssn"], hashKey });
  const json = JSON.stringify({ contact: "a@b.com" }).replace("@", "\\u0040");
  const { row } = mask({ j: json, k: '{"123-45-6789": true}' });
  assert.deepEqual(JSON.parse(String(row.j)), { contact: "[EMAIL]" });
  assert.deepEqual(JSON.parse(String(row.k)), { "[SSN]": true });
});

test("numbers are scanned: a card number stored as INT64 does not slip through", () => {
  const mask = createRowMasker({ columns: [], detectors: ["credit_card"], hashKey });
  assert.deepEqual(mask({ c: 4111111111111111, d: "4111111111111111" }).row, { c: "[CREDIT_CARD]", d: "[CREDIT_CARD]" });
});

test("a styled ARRAY column masks its leaves", () => {
  const mask = createRowMasker({ columns: [{ name: "ssns", type: "ARRAY", style: "last4" }], detectors: [], hashKey });
  assert.deepEqual(mask({ ssns: ["123-45-6789", "987-65-4321"] }).row, { ssns: ["XXXXX6789", "XXXXX4321"] });
});

test("error messages always pass the card, SSN and email detectors, with strict SSNs", () => {
  const msg = "Bad int64 value: 123-45-6789; also 4111111111111111, a@b.com and 123456789";
  assert.equal(maskErrorMessage(msg, []), "Bad int64 value: [SSN]; also [CREDIT_CARD], [EMAIL] and [SSN]");
  assert.equal(maskErrorMessage("Syntax error at [1:8]", ["email"]), "Syntax error at [1:8]");
});

test("a __proto__ key is kept as data, not turned into a prototype", () => {
  const mask = createRowMasker({ columns: [], detectors: ["email"], hashKey });
  const { row } = mask({ j: '{"__proto__": {"e": "a@b.com"}}' });
  assert.deepEqual(JSON.parse(String(row.j)), JSON.parse('{"__proto__": {"e": "[EMAIL]"}}'));
});

test("JSON text after leading blanks is still parsed and masked leaf by leaf", () => {
  const mask = createRowMasker({ columns: [{ name: "j", type: "STRING" }], detectors: ["us_ssn", "email"], hashKey: Buffer.alloc(32) });
  assert.deepEqual(mask({ j: ' \n\t{"k": "078-05-1120", "e": "a\\u0040example.com"}' }).row, { j: '{"k":"[SSN]","e":"[EMAIL]"}' });
  assert.deepEqual(mask({ j: "  plain 078-05-1120" }).row, { j: "  plain [SSN]" });
});

test("detectors follow the column's type: numbers stay numbers, an INT64 is only checked as a whole card number", () => {
  const mask = createRowMasker({
    columns: [
      { name: "avg", type: "FLOAT64" }, { name: "sum", type: "NUMERIC" }, { name: "n", type: "INT64" }, { name: "card", type: "INT64" },
      { name: "s", type: "STRING" }, { name: "b", type: "BYTES" }, { name: "a", type: "ARRAY" }, { name: "d", type: "DATE" },
    ],
    detectors: ["credit_card", "us_ssn", "email"],
    hashKey,
  });
  const { row, maskedCells } = mask({
    avg: 166.4111111111111, sum: "4111111111111111.25", n: 522136041, card: "4111111111111111",
    s: "ssn 123-45-6789", b: Buffer.from("mail a@b.com").toString("base64"), a: ["x@y.com", 522136041, 4111111111111111], d: "2021-05-03",
  });
  assert.deepEqual(row, {
    avg: 166.4111111111111, sum: "4111111111111111.25", n: 522136041, card: null,
    s: "ssn [SSN]", b: Buffer.from("mail [EMAIL]").toString("base64"), a: ["[EMAIL]", 522136041, null], d: "2021-05-03",
  });
  assert.equal(maskedCells, 4);
});

test("a hashed column uses its source column's key: equal values in two columns hash apart, and a sourceless one is per masker", () => {
  const cols = [
    { name: "a", type: "STRING" as const, style: "hash" as const, source: "demo.sales.customers.ssn" },
    { name: "b", type: "STRING" as const, style: "hash" as const, source: "demo.hr.employees.ssn" },
    { name: "c", type: "STRING" as const, style: "hash" as const },
  ];
  const one = createRowMasker({ columns: cols, detectors: [], hashKey })({ a: "x", b: "x", c: "x" }).row;
  const two = createRowMasker({ columns: cols, detectors: [], hashKey })({ a: "x", b: "x", c: "x" }).row;
  assert.notEqual(one.a, one.b);
  assert.equal(one.a, two.a, "stable within a column, across queries");
  assert.notEqual(one.c, two.c, "no stable key for a value without a source column");
});
