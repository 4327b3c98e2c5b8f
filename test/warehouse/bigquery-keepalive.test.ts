// The BigQuery client keeps its HTTP connections alive: successive REST calls reuse one socket instead of a TCP (and,
// against Google, TLS) handshake each. Checked against a real loopback server counting the connections it accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { OAuth2Client } from "google-auth-library";
import { openBigQueryWarehouse } from "../../src/warehouse/bigquery.ts";

process.env.METADATA_SERVER_DETECTION = "none";

test("successive BigQuery calls reuse one kept-alive connection", async (t) => {
  let connections = 0;
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ schema: { fields: [{ name: "id", type: "INTEGER" }] } }));
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: "t", expiry_date: Date.now() + 3600_000 });
  const wh = await openBigQueryWarehouse({ projectId: "p", apiEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, authClient: auth });
  for (let i = 0; i < 5; i++) assert.deepEqual(await wh.tableSchema({ project: "p", dataset: "d", table: `t${i}` }), [{ name: "id", type: "INT64" }]);
  assert.equal(requests, 5);
  assert.equal(connections, 1, `${connections} connections for 5 sequential calls`);
});
