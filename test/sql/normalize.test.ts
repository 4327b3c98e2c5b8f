import { test } from "node:test";
import assert from "node:assert/strict";
import { normalizeSql } from "../../src/sql/normalize.ts";

test("comments, whitespace and keyword case do not change the canonical text", () => {
  const a = normalizeSql("select  city ,count(*) AS n -- per city\n from   `demo.sales.customers` /* all */ group by city;");
  const b = normalizeSql("SELECT city, count(*) as n FROM `demo.sales.customers` # x\nGROUP BY city");
  assert.equal(a, b);
  assert.equal(a, "SELECT city, count(*) AS n FROM `demo.sales.customers` GROUP BY city");
});

test("identifiers keep their case and literals are kept byte for byte", () => {
  assert.notEqual(normalizeSql("SELECT City FROM t"), normalizeSql("SELECT city FROM t"));
  assert.notEqual(normalizeSql("SELECT 1 FROM t WHERE x = 'a  b'"), normalizeSql("SELECT 1 FROM t WHERE x = 'a b'"));
  assert.notEqual(normalizeSql("SELECT 1 FROM t WHERE id = 1"), normalizeSql("SELECT 1 FROM t WHERE id = 2"));
  assert.equal(normalizeSql("SELECT 'It\\'s -- not a comment' AS s"), "SELECT 'It\\'s -- not a comment' AS s");
});

test("raw, bytes and triple-quoted strings are single tokens", () => {
  assert.equal(normalizeSql("select r'a\\'b' ,  b'''x\n  y''' , \"\"\"q # z\"\"\""), "SELECT r'a\\'b', b'''x\n  y''', \"\"\"q # z\"\"\"");
});

test("comment markers inside backticks are kept", () => {
  assert.equal(normalizeSql("SELECT `a--b` FROM `p.d.t`"), "SELECT `a--b` FROM `p.d.t`");
});
