/** Through `jit mcp`, carol (no rule for demo.hr) learns nothing about its tables: describe_table and the schema resource answer alike for what exists and what does not. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type DevBrokerProcess, JIT_BIN, loginAs, startBroker } from "../e2e/harness.ts";

let broker: DevBrokerProcess;
let client: Client;

before(async () => {
  broker = await startBroker();
  const login = await loginAs(broker, "carol");
  assert.equal(login.code, 0, login.stderr);
  const transport = new StdioClientTransport({ command: process.execPath, args: [JIT_BIN, "mcp"], env: broker.env("carol") as Record<string, string>, stderr: "pipe" });
  client = new Client({ name: "probe", version: "1" });
  await client.connect(transport);
});
after(async () => {
  await client?.close();
  await broker?.stop();
});

const COLUMNS = /employee_id|full_name|salary|department|ssn|email/i;
const GROUPS = /data-owners|analysts|access\[/;

test("describe_table on demo.hr: an existing and a missing table give the same tool error, naming no column and no group", async () => {
  const texts: string[] = [];
  for (const table of ["demo.hr.employees", "demo.hr.nosuch"]) {
    const r = (await client.callTool({ name: "describe_table", arguments: { table } })) as CallToolResult;
    assert.equal(r.isError, true);
    texts.push(r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n"));
  }
  assert.equal(texts[0], texts[1]);
  assert.match(texts[0]!, /no rule of the policy gives you access to demo\.hr/);
  assert.doesNotMatch(texts[0]!, COLUMNS);
  assert.doesNotMatch(texts[0]!, GROUPS);
});

test("the schema resource of a demo.hr table: the same refusal for an existing and a missing table", async () => {
  const errors: string[] = [];
  for (const uri of ["bigquery://demo/hr/employees", "bigquery://demo/hr/nosuch"]) {
    await client.readResource({ uri }).then(() => assert.fail(`${uri} was readable`), (err: Error) => errors.push(err.message));
  }
  assert.equal(errors[0], errors[1]);
  assert.match(errors[0]!, /no rule of the policy gives you access to demo\.hr/);
  assert.doesNotMatch(errors[0]!, COLUMNS);
});
