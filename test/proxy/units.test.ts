/** The proxy's pure parts: BigQuery's value encoding, result schemas, and the mapping of broker errors to BigQuery errors. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JitError } from "../../src/errors.ts";
import { bigQueryErrorFrom } from "../../src/proxy/errors.ts";
import { readPageToken, pageToken } from "../../src/proxy/jobs.ts";
import { encodeCell, restField, resultSchema, timestampFormat, timestampMicros } from "../../src/proxy/values.ts";

describe("BigQuery value encoding", () => {
  test("TIMESTAMP as int64 microseconds, ISO or float seconds, as the caller's format options ask", () => {
    assert.equal(timestampMicros("2024-01-01T12:18:53Z"), 1704111533000000n);
    assert.equal(timestampMicros("2024-01-01 12:18:53.123456+01:00"), 1704107933123456n);
    assert.equal(timestampMicros("1969-12-31T23:59:59.5Z"), -500000n);
    assert.equal(timestampMicros("yesterday"), undefined);
    assert.equal(encodeCell("TIMESTAMP", "2024-01-01T12:18:53.000123Z", "int64"), "1704111533000123");
    assert.equal(encodeCell("TIMESTAMP", "2024-01-01T12:18:53.000123Z", "iso"), "2024-01-01T12:18:53.000123Z");
    assert.equal(encodeCell("TIMESTAMP", "2024-01-01T12:18:53.5Z", "float"), "1704111533.5");
    assert.equal(timestampFormat({ useInt64Timestamp: "true" }), "int64");
    assert.equal(timestampFormat({ useInt64Timestamp: true }), "int64");
    assert.equal(timestampFormat({ timestampOutputFormat: "ISO8601_STRING" }), "iso");
    assert.equal(timestampFormat({}), "float", "BigQuery's default without format options");
  });

  test("every cell is a string or null; objects travel as JSON text", () => {
    assert.equal(encodeCell("INTEGER", 42, "int64"), "42");
    assert.equal(encodeCell("BOOLEAN", false, "int64"), "false");
    assert.equal(encodeCell("FLOAT", 0.5, "int64"), "0.5");
    assert.equal(encodeCell("STRING", null, "int64"), null);
    assert.equal(encodeCell("STRING", { a: [1] }, "int64"), '{"a":[1]}');
    assert.equal(encodeCell("DATETIME", "2024-01-01 10:00:00", "int64"), "2024-01-01T10:00:00");
  });

  test("REST type names; masked columns keep their type and say how they are masked", () => {
    assert.deepEqual(restField({ name: "n", type: "INT64" }), { name: "n", type: "INTEGER", mode: "NULLABLE" });
    assert.equal(restField({ name: "b", type: "BOOL" }).type, "BOOLEAN");
    const card = restField({ name: "card", type: "STRING", masked: true, mask: "last4" });
    assert.equal(card.type, "STRING");
    assert.match(card.description!, /masked by jit \(last4\).*WHERE/);
    assert.equal(restField({ name: "n", type: "INT64", masked: true, mask: "last4" }).type, "INTEGER", "masks keep the column's type");
    assert.equal(restField({ name: "salary", type: "NUMERIC", masked: true, mask: "null" }).type, "NUMERIC");
    assert.doesNotMatch(restField({ name: "e", type: "STRING", masked: true, mask: "email", inference: "allow" }).description!, /WHERE/);
    assert.equal(restField({ name: "tags", type: "ARRAY" }).type, "STRING");
  });

  test("a column whose values do not fit its type (a detector masked a number) is sent as STRING", () => {
    const cols = [{ name: "id", type: "INT64" }, { name: "card", type: "INT64" }, { name: "at", type: "TIMESTAMP" }];
    const schema = resultSchema(cols, [{ id: 1, card: "XXXXXXXXXXXX0776", at: "2024-01-01T00:00:00Z" }, { id: "9007199254740993", card: null, at: null }]);
    assert.deepEqual(schema.map((f) => f.type), ["INTEGER", "STRING", "TIMESTAMP"]);
  });

  test("page tokens are bound to their job", () => {
    assert.equal(readPageToken(pageToken("job_a", 20), "job_a"), 20);
    assert.throws(() => readPageToken(pageToken("job_a", 20), "job_b"), { status: 400, reason: "invalid" });
    assert.throws(() => readPageToken("garbage", "job_a"), { status: 400 });
  });
});

describe("broker errors as BigQuery errors", () => {
  const cases: Array<[JitError, number, string]> = [
    [new JitError("denied", "no active grant covers demo.sales", { hint: 'run: jit request demo.sales --reason "..."' }), 403, "accessDenied"],
    [new JitError("pending", "request 4 is pending"), 403, "accessDenied"],
    [new JitError("denied", "the broker cannot analyse this SQL: Syntax Error"), 400, "invalidQuery"],
    [new JitError("query_failed", "Unrecognized name: x"), 400, "invalidQuery"],
    [new JitError("usage", "there is no request 9 that you may see", { details: { status: 404 } }), 404, "notFound"],
    [new JitError("unauthenticated", "your session expired", { hint: "run: jit login --broker http://b" }), 401, "authError"],
  ];
  for (const [err, status, reason] of cases) {
    test(`${err.code}: ${err.message} → ${status} ${reason}`, () => {
      const e = bigQueryErrorFrom(err, "query");
      assert.equal(e.status, status);
      assert.equal(e.reason, reason);
      assert.notEqual(e.reason, "rateLimitExceeded");
      assert.notEqual(e.reason, "backendError");
      assert.notEqual(e.reason, "internalError");
      assert.equal(e.body().error.errors[0]!.reason, reason);
    });
  }

  test("the hint becomes part of the message a client shows", () => {
    const e = bigQueryErrorFrom(new JitError("denied", "no active grant covers demo.sales", { hint: 'run: jit request demo.sales --reason "..."' }), "query");
    assert.equal(e.message, 'jit: no active grant covers demo.sales. Run: jit request demo.sales --reason "..."');
    assert.match(bigQueryErrorFrom(new JitError("unauthenticated", "not signed in", { hint: "run: jit login" }), "metadata").message, /jit login/);
  });

  test("an outage (broker unreachable) is the one retryable answer", () => {
    assert.equal(bigQueryErrorFrom(new JitError("unreachable", "cannot reach the broker"), "query").status, 503);
  });
});

describe("jobs.cancel on a running job", () => {
  test("the job ends as stopped and the broker's late answer is dropped", async () => {
    const { createApi } = await import("../../src/proxy/api.ts");
    let release!: (v: unknown) => void;
    const broker = { post: () => new Promise((resolve) => (release = resolve)), get: async () => ({}) } as unknown as import("../../src/cli/client.ts").BrokerClient;
    const api = createApi();
    const call = (method: string, path: string, body: Record<string, unknown> = {}, query = "") =>
      api({ method, path, query: new URLSearchParams(query), body, broker }) as Promise<Record<string, any>>;
    const started = await call("POST", "/projects/demo/queries", { query: "SELECT 1 AS n", timeoutMs: 0 });
    assert.equal(started.jobComplete, false);
    const jobId = started.jobReference.jobId as string;
    assert.equal((await call("GET", `/projects/demo/jobs/${jobId}`)).status.state, "RUNNING");
    const cancelled = await call("POST", `/projects/demo/jobs/${jobId}/cancel`);
    assert.deepEqual([cancelled.job.status.state, cancelled.job.status.errorResult.reason], ["DONE", "stopped"]);
    release({ columns: [{ name: "n", type: "INT64" }], rows: [{ n: 1 }], row_count: 1, truncated: false, masked_cells: 0, bytes_processed: 0, audit_id: "1" });
    await new Promise((r) => setImmediate(r));
    await assert.rejects(call("GET", `/projects/demo/queries/${jobId}`), { status: 400, reason: "stopped" });
  });

  test("cancelling abandons the broker call, so the broker sees its client go and stops the warehouse job", async () => {
    const { createServer } = await import("node:http");
    const { createApi } = await import("../../src/proxy/api.ts");
    const { BrokerClient } = await import("../../src/cli/client.ts");
    let arrived!: () => void;
    const inFlight = new Promise<void>((r) => (arrived = r));
    let closed!: () => void;
    const gone = new Promise<void>((r) => (closed = r));
    // A broker that takes the query and never answers: only the client closing its connection ends the call.
    const server = createServer((req, res) => {
      req.resume();
      res.on("close", () => closed());
      arrived();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as import("node:net").AddressInfo;
      const broker = new BrokerClient({ baseUrl: `http://127.0.0.1:${port}`, token: async () => "t", client: { kind: "proxy", name: "test", version: "0" } });
      const api = createApi();
      const started = (await api({ method: "POST", path: "/projects/demo/queries", query: new URLSearchParams(), body: { query: "SELECT 1 AS n", timeoutMs: 0 }, broker })) as Record<string, any>;
      await inFlight;
      let stillOpen = true;
      void gone.then(() => (stillOpen = false));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(stillOpen, true, "the broker call is in flight before the cancel");
      await api({ method: "POST", path: `/projects/demo/jobs/${started.jobReference.jobId}/cancel`, query: new URLSearchParams(), body: {}, broker });
      await Promise.race([gone, new Promise((_, reject) => setTimeout(() => reject(new Error("the broker connection stayed open after jobs.cancel")), 2000))]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
