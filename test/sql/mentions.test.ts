/** What a statement could make the warehouse read (src/sql/mentions.ts): the basis for withholding byte figures. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { couldRead, mentionsOf } from "../../src/sql/mentions.ts";
import { parseSql } from "../../src/sql/parse.ts";

const masked = new Set(["email", "ssn"]);
const could = (sql: string) => couldRead(mentionsOf(parseSql(sql)), masked);

describe("couldRead: a masked column the warehouse may count", () => {
  const yes = [
    "SELECT email FROM demo.sales.customers",
    "SELECT c.EMAIL FROM demo.sales.customers c",
    "SELECT `email` FROM demo.sales.customers",
    "WITH t AS (SELECT id, email FROM demo.sales.customers) SELECT id FROM t",
    "SELECT COUNT(*) AS n FROM (SELECT c.email AS v FROM demo.sales.customers c UNION ALL SELECT c.email FROM demo.sales.customers c)",
    "SELECT COUNT(*) AS n FROM (SELECT * FROM demo.sales.customers)",
    "SELECT COUNT(*) AS n FROM (SELECT c.* FROM demo.sales.customers c)",
    "SELECT COUNT(*) AS n FROM (SELECT c FROM demo.sales.customers c)",
    "SELECT COUNT(*) AS n FROM (SELECT customers FROM demo.sales.customers)",
    "WITH t AS (SELECT id, city FROM demo.sales.customers) SELECT TO_JSON_STRING(t) AS j FROM t",
    "SELECT x.contact.email FROM demo.sales.people x",
  ];
  for (const sql of yes) test(`could: ${sql}`, () => assert.equal(could(sql), true));

  const no = [
    "SELECT id, city FROM demo.sales.customers",
    "SELECT COUNT(*) AS n FROM demo.sales.customers",
    "SELECT c.id FROM demo.sales.customers c JOIN demo.sales.orders o ON o.customer_id = c.id",
    "WITH t AS (SELECT id AS k FROM demo.sales.customers) SELECT k FROM t ORDER BY k",
    "SELECT t.id FROM demo.sales.customers AS t WHERE t.city = 'Boston'",
  ];
  for (const sql of no) test(`cannot: ${sql}`, () => assert.equal(could(sql), false));

  test("no masked column among the tables read: nothing to withhold, whatever the statement", () => {
    assert.equal(couldRead(mentionsOf(parseSql("SELECT * FROM demo.sales.orders")), new Set()), false);
  });
});
