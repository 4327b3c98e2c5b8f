import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateBigQueryConfig } from "../../src/warehouse/bigquery-config.ts";

test("reports every problem of a bigquery config at once, with its path", () => {
  const { config, errors } = validateBigQueryConfig({
    billingProject: "Bad_Project",
    keyFile: "/nonexistent/key.json",
    impersonate: { analysts: "bob@gmail.com", default: 42, "data-owners": "owner-sa@prod-data.iam.gserviceaccount.com" },
    apiEndpoint: "http://bigquery.example.com",
    queryTimeoutMs: 5,
    projectid: "typo",
  }, "warehouse.bigquery");
  assert.equal(config, undefined);
  const paths = errors.map((e) => e.path).sort();
  assert.deepEqual(paths, [
    "warehouse.bigquery.apiEndpoint", "warehouse.bigquery.billingProject", "warehouse.bigquery.impersonate.analysts",
    "warehouse.bigquery.impersonate.default", "warehouse.bigquery.keyFile", "warehouse.bigquery.projectId",
    "warehouse.bigquery.projectid", "warehouse.bigquery.queryTimeoutMs",
  ]);
  assert.match(errors.find((e) => e.path.endsWith(".keyFile"))!.message, /cannot read key file .*ENOENT/);
  assert.match(errors.find((e) => e.path.endsWith(".apiEndpoint"))!.message, /https/);
  assert.match(errors.find((e) => e.path.endsWith(".projectId"))!.message, /required/);
});

test("accepts a complete config; a key file must be a Google credentials file, and its content is never echoed", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jit-bq-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const good = join(dir, "sa.json");
  writeFileSync(good, JSON.stringify({ type: "service_account", private_key: "-----BEGIN PRIVATE KEY-----" }));
  const raw = {
    projectId: "prod-data", billingProject: "prod-billing", location: "europe-west1", keyFile: good,
    apiEndpoint: "http://127.0.0.1:9050", impersonate: { analysts: "analyst-sa@prod-data.iam.gserviceaccount.com" }, queryTimeoutMs: 60_000,
  };
  const ok = validateBigQueryConfig(raw, "bigquery");
  assert.deepEqual(ok.errors, []);
  assert.deepEqual(ok.config, raw);

  const bad = join(dir, "bad.json");
  writeFileSync(bad, "not json SECRET-MATERIAL");
  const res = validateBigQueryConfig({ projectId: "prod-data", keyFile: bad }, "bigquery");
  assert.equal(res.config, undefined);
  assert.equal(res.errors.length, 1);
  assert.doesNotMatch(res.errors[0]!.message, /SECRET/);
  assert.deepEqual(validateBigQueryConfig("prod-data", "bigquery").errors.map((e) => e.path), ["bigquery"]);
});
