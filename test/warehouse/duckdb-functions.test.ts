/**
 * BigQuery functions on the demo warehouse, checked against what BigQuery returns for the same demo rows
 * (expected values computed here from the CSVs, following BigQuery's function reference).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { openDemoWarehouse } from "../../src/warehouse/duckdb.ts";
import { canonicalJson } from "../../src/warehouse/duckdb-values.ts";
import type { Field, Row, Warehouse } from "../../src/warehouse/types.ts";
import { demo } from "../fixtures/demo-data.ts";

const C = "`demo.sales.customers`";
const first3 = demo.customers.slice(0, 3);

let wh: Warehouse;
before(async () => { wh = await openDemoWarehouse(); });
after(async () => { await wh?.close(); });

async function all(sql: string): Promise<{ rows: Row[]; schema: Field[] }> {
  const result = await wh.run(sql, { maxRows: 1000 });
  const rows: Row[] = [];
  for await (const row of result.rows) rows.push(row);
  return { rows, schema: result.schema };
}

const fails = (sql: string, message: RegExp) => assert.rejects(all(sql), { name: "WarehouseQueryError", message });

test("TO_JSON of a whole row is JSON with sorted keys; TO_JSON_STRING keeps the column order; JSON_OBJECT", async () => {
  const { rows, schema } = await all(`SELECT TO_JSON(c) AS j, TO_JSON_STRING(c) AS s, JSON_OBJECT('k', email, 'id', id) AS o FROM ${C} AS c ORDER BY id LIMIT 3`);
  assert.deepEqual(schema.map((f) => f.type), ["JSON", "STRING", "JSON"]);
  rows.forEach((r, i) => {
    const c = first3[i]!;
    const row = { id: Number(c.id), full_name: c.full_name, email: c.email, phone: c.phone, ssn: c.ssn, card_number: c.card_number, city: c.city, signup_date: c.signup_date };
    const sorted = Object.fromEntries(Object.entries(row).sort(([a], [b]) => (a < b ? -1 : 1)));
    assert.equal(r.j, JSON.stringify(sorted));
    assert.equal(r.s, JSON.stringify(row));
    assert.equal(r.o, JSON.stringify({ id: Number(c.id), k: c.email }));
  });
  assert.deepEqual((await all("SELECT TO_JSON(STRUCT(1 AS id, [10, 20] AS coordinates)) AS pt, JSON '{\"b\": 1.50, \"a\": [1, {\"z\": null, \"y\": 2}]}' AS lit")).rows,
    [{ pt: '{"coordinates":[10,20],"id":1}', lit: '{"a":[1,{"y":2,"z":null}],"b":1.5}' }]);
  assert.equal(canonicalJson('{"a":1,"a":2}'), '{"a":1}', "the first of duplicate keys wins");
  assert.equal(canonicalJson("not json"), "not json");
});

test("SELECT AS STRUCT in ARRAY() and scalar subqueries gives STRUCT values in query order", async () => {
  const { rows, schema } = await all(`SELECT ARRAY(SELECT AS STRUCT ssn, city AS town FROM ${C} ORDER BY id LIMIT 3) AS a,
    (SELECT AS STRUCT * FROM ${C} ORDER BY id DESC LIMIT 1) AS last`);
  assert.deepEqual(schema[0], { name: "a", type: "ARRAY", fields: [{ name: "element", type: "STRUCT", fields: [{ name: "ssn", type: "STRING" }, { name: "town", type: "STRING" }] }] });
  assert.equal(schema[1]!.type, "STRUCT");
  assert.deepEqual(rows[0]!.a, first3.map((c) => ({ ssn: c.ssn, town: c.city })));
  assert.equal((rows[0]!.last as Row).id, 600);
});

test("TO_BASE64, TO_HEX, FROM_BASE64, FROM_HEX and hashes work on BYTES, as BigQuery's do", async () => {
  const { rows, schema } = await all(`SELECT TO_BASE64(CAST(ssn AS BYTES)) AS b64, TO_HEX(CAST(card_number AS BYTES)) AS hex,
    FROM_BASE64(TO_BASE64(CAST(email AS BYTES))) AS back, SHA256(email) AS sha, TO_HEX(MD5(email)) AS md5, SHA1(CAST(email AS BYTES)) AS sha1
    FROM ${C} ORDER BY id LIMIT 3`);
  assert.deepEqual(schema.map((f) => f.type), ["STRING", "STRING", "BYTES", "BYTES", "STRING", "BYTES"]);
  rows.forEach((r, i) => {
    const c = first3[i]!;
    const hash = (alg: string) => createHash(alg).update(c.email!);
    assert.deepEqual(r, {
      b64: Buffer.from(c.ssn!).toString("base64"), hex: Buffer.from(c.card_number!).toString("hex"),
      back: Buffer.from(c.email!).toString("base64"), sha: hash("sha256").digest("base64"), md5: hash("md5").digest("hex"), sha1: hash("sha1").digest("base64"),
    });
  });
  assert.deepEqual((await all("SELECT TO_BASE64(b'\\xde\\xad\\xbe\\xef') AS a, FROM_BASE64('3q2+7w==') AS b, FROM_HEX('0AF') AS c, TO_HEX(FROM_HEX('0AF')) AS d")).rows,
    [{ a: "3q2+7w==", b: "3q2+7w==", c: "AK8=", d: "00af" }]);
  await fails("SELECT TO_BASE64('abc') AS x", /No matching signature for function TO_BASE64/);
  await fails("SELECT FROM_HEX('zz') AS x", /hex/);
});

test("FORMAT: %s, %d, %f, %t and %T print as BigQuery does, NULL rules included; wrong types fail", async () => {
  const { rows } = await all(`SELECT FORMAT('%s', ssn) AS s, FORMAT('%T', STRUCT(email)) AS t, FORMAT('%t|%T', STRUCT(id, city), [id, 7]) AS st,
    FORMAT('%05d|%-8s|%8s|%.3s|%x', id, city, signup_date_text, email, id * 255) AS mix, FORMAT('%t|%T', signup_date, signup_date) AS d
    FROM (SELECT *, CAST(signup_date AS STRING) AS signup_date_text FROM ${C}) ORDER BY id LIMIT 3`);
  rows.forEach((r, i) => {
    const c = first3[i]!;
    const pad = (s: string, w: number, left: boolean) => (s.length >= w ? s : left ? s.padEnd(w) : s.padStart(w));
    assert.deepEqual(r, {
      s: c.ssn, t: `STRUCT("${c.email}")`, st: `(${c.id}, ${c.city})|[${c.id}, 7]`,
      mix: `${c.id!.padStart(5, "0")}|${pad(c.city!, 8, true)}|${pad(c.signup_date!, 8, false)}|${c.email!.slice(0, 3)}|${(Number(c.id) * 255).toString(16)}`,
      d: `${c.signup_date}|DATE "${c.signup_date}"`,
    });
  });
  const r = (await all(`SELECT FORMAT('%t %T %s', NULL, NULL, 'x') AS null_t, FORMAT('%s!', CAST(NULL AS STRING)) AS null_s, FORMAT('%.2f|%e', 3.14159, 1234.5) AS f,
    FORMAT('%T|%T|%T', "it's", 'say "hi"', 'a\\nb') AS quoted, FORMAT('100%%') AS pct, FORMAT('%T', created_at) AS ts FROM demo.sales.orders WHERE order_id = 100001`)).rows[0]!;
  assert.deepEqual(r, {
    null_t: "NULL NULL x", null_s: null, f: "3.14|1.234500e+03", quoted: `"it's"|'say "hi"'|"a\\nb"`, pct: "100%",
    ts: `TIMESTAMP "${demo.orders[0]!.created_at!.replace("T", " ").replace("Z", "+00")}"`,
  });
  await fails("SELECT FORMAT('%s', 1) AS x", /Invalid type for argument 2 to FORMAT; Expected STRING/);
  await fails("SELECT FORMAT('%d', 1.5) AS x", /Expected INT64/);
  await fails("SELECT FORMAT('%x', -1) AS x", /Negative values are not allowed for %x/);
  await fails("SELECT FORMAT('%.2f', amount) AS x FROM demo.sales.orders", /Not supported by the demo warehouse \(DuckDB\): FORMAT %f of NUMERIC/);
  await fails("SELECT FORMAT('%t', c) AS x FROM demo.sales.customers c", /FORMAT %t\/%T of a value of DuckDB type STRUCT/);
});

test("TO_CODE_POINTS, CODE_POINTS_TO_STRING, REGEXP_EXTRACT and string helpers match BigQuery", async () => {
  const { rows } = await all(`SELECT TO_CODE_POINTS(ssn) AS cp, CODE_POINTS_TO_STRING(TO_CODE_POINTS(full_name)) AS name,
    REGEXP_EXTRACT(email, r'@(.+)$') AS domain, REGEXP_EXTRACT(email, r'^[a-z]+') AS user_part, REGEXP_EXTRACT(email, r'#') AS none,
    REGEXP_EXTRACT_ALL(phone, r'\\d+') AS digit_groups, STARTS_WITH(phone, '+1') AS plus, ENDS_WITH(email, '.com') AS com,
    LPAD(city, 12, '.') AS lp, RPAD(city, 3) AS rp, REVERSE(city) AS rev FROM ${C} ORDER BY id LIMIT 3`);
  rows.forEach((r, i) => {
    const c = first3[i]!;
    assert.deepEqual(r, {
      cp: [...c.ssn!].map((ch) => ch.codePointAt(0)), name: c.full_name, domain: c.email!.split("@")[1], user_part: /^[a-z]+/.exec(c.email!)![0],
      none: null, digit_groups: c.phone!.match(/\d+/g), plus: c.phone!.startsWith("+1"), com: c.email!.endsWith(".com"),
      lp: c.city!.length >= 12 ? c.city!.slice(0, 12) : c.city!.padStart(12, "."), rp: c.city!.slice(0, 3), rev: [...c.city!].reverse().join(""),
    });
  });
  assert.deepEqual((await all("SELECT CODE_POINTS_TO_STRING([65, 255, 513, 1024]) AS s, CODE_POINTS_TO_STRING([65, NULL]) AS n, TO_CODE_POINTS(b'AbC') AS b, TO_CODE_POINTS('') AS e")).rows,
    [{ s: "AÿȁЀ", n: null, b: [65, 98, 67], e: [] }]);
});

test("JSON_VALUE and JSON_EXTRACT_SCALAR return scalars only", async () => {
  const { rows } = await all(`SELECT JSON_VALUE(TO_JSON_STRING(c), '$.email') AS e, JSON_EXTRACT_SCALAR(TO_JSON(c), '$.id') AS id,
    JSON_VALUE(TO_JSON_STRING(c)) AS whole, JSON_VALUE(TO_JSON(STRUCT([1, 2] AS a)), '$.a[1]') AS second FROM ${C} c ORDER BY id LIMIT 1`);
  assert.deepEqual(rows, [{ e: first3[0]!.email, id: "1", whole: null, second: "2" }]);
});

test("DIV truncates and fails on zero; GENERATE_DATE_ARRAY steps by days, weeks and months", async () => {
  const { rows } = await all(`SELECT DIV(order_id, 1000) AS k, DIV(-7, 2) AS neg, DIV(NULL, 2) AS n,
    GENERATE_DATE_ARRAY(DATE(created_at), DATE_ADD(DATE(created_at), INTERVAL 2 DAY)) AS days,
    GENERATE_DATE_ARRAY('2016-01-01', '2016-12-31', INTERVAL 2 MONTH) AS months, GENERATE_DATE_ARRAY('2016-10-05', '2016-10-01', INTERVAL -3 DAY) AS down
    FROM demo.sales.orders WHERE order_id = 100001`);
  const day = demo.orders[0]!.created_at!.slice(0, 10);
  const plus = (n: number) => new Date(Date.parse(day) + n * 86_400_000).toISOString().slice(0, 10);
  assert.deepEqual(rows, [{
    k: 100, neg: -3, n: null, days: [plus(0), plus(1), plus(2)],
    months: ["2016-01-01", "2016-03-01", "2016-05-01", "2016-07-01", "2016-09-01", "2016-11-01"], down: ["2016-10-05", "2016-10-02"],
  }]);
  await fails("SELECT DIV(order_id, 0) AS x FROM demo.sales.orders WHERE order_id = 100001", /division by zero: 100001 \/ 0/);
  await fails("SELECT DIV(NUMERIC '7', 2) AS x", /DIV of DECIMAL/);
  await fails("SELECT GENERATE_DATE_ARRAY('2016-01-01', '2016-02-01', INTERVAL 0 DAY) AS x", /Sequence step cannot be 0/);
  await fails("SELECT GENERATE_DATE_ARRAY('2016-01-31', '2016-05-31', INTERVAL 1 MONTH) AS x", /stepping by months from after the 28th/);
});

test("UNNEST ... WITH OFFSET counts from 0 and keeps the element's fields", async () => {
  const { rows, schema } = await all(`SELECT c.id, part, pos FROM ${C} c, UNNEST(SPLIT(c.ssn, '-')) AS part WITH OFFSET AS pos WHERE c.id <= 2 ORDER BY c.id, pos`);
  assert.deepEqual(schema.map((f) => f.type), ["INT64", "STRING", "INT64"]);
  assert.deepEqual(rows, first3.slice(0, 2).flatMap((c) => c.ssn!.split("-").map((part, pos) => ({ id: Number(c.id), part, pos }))));
  assert.deepEqual((await all("SELECT s.k, offset FROM UNNEST([STRUCT(5 AS k), STRUCT(6 AS k)]) AS s WITH OFFSET ORDER BY offset")).rows, [{ k: 5, offset: 0 }, { k: 6, offset: 1 }]);
});
