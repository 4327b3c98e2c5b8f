/** Webhook notifications: the Slack payload, config validation, and delivery against a real loopback receiver. */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { createNotifier, type NotifyEvent, retryAfterMs, slackPayload, validateNotifyConfig } from "../../src/notify/webhook.ts";

const SECRET = "T0000/B0000/XXXXsecretXXXX";

const event = (kind: NotifyEvent["kind"] = "pending", id = "12"): NotifyEvent => ({
  kind,
  request: {
    id,
    requester: "carol",
    datasets: ["demo.sales"],
    reason: "invoice audit",
    duration_seconds: 1800,
    approver_groups: ["data-owners"],
    decided_by: kind === "pending" ? null : "bob",
    decision_reason: kind === "denied" ? "use the aggregated dataset" : null,
  },
  brokerUrl: "https://jit.example.com",
});

interface Hit {
  at: number;
  body: string;
  headers: IncomingMessage["headers"];
  path: string;
}

/** A loopback receiver whose answer to the n-th request (1-based) the test chooses; `null` hangs. */
async function receiver(answer: (n: number, res: ServerResponse) => void | null = (_n, res) => void res.writeHead(200).end("ok")) {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      hits.push({ at: performance.now(), body, headers: req.headers, path: req.url ?? "" });
      answer(hits.length, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    hits,
    origin: `http://127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}/services/${SECRET}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const hang = () => null;
const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("slackPayload", () => {
  test("a pending request: text and blocks name requester, datasets, reason, duration and the commands", () => {
    const p = slackPayload(event("pending", "42"));
    const blocks = JSON.stringify(p.blocks);
    for (const part of ["carol", "demo.sales", "invoice audit", "30m", "jit approve 42"]) {
      assert.ok(p.text.includes(part), `text lacks ${part}: ${p.text}`);
      assert.ok(blocks.includes(part), `blocks lack ${part}`);
    }
    assert.match(blocks, /jit deny 42 --reason/);
    assert.match(blocks, /data-owners/);
    assert.ok(p.blocks.every((b) => typeof (b as { type: unknown }).type === "string"));
  });

  test("decisions name who decided; a denial carries its reason and no approve command", () => {
    const denied = slackPayload(event("denied"));
    assert.match(denied.text, /denied by bob/);
    assert.match(denied.text, /use the aggregated dataset/);
    assert.doesNotMatch(JSON.stringify(denied), /jit approve/);
    const revoked = slackPayload({ ...event("revoked"), grantId: "7", actor: "alice" });
    assert.match(revoked.text, /Grant #7 revoked by alice/);
    assert.match(slackPayload(event("expired")).text, /expired/);
    const withdrawn = slackPayload(event("cancelled"));
    assert.match(withdrawn.text, /withdrawn by /);
    assert.doesNotMatch(JSON.stringify(withdrawn), /jit approve/, "nothing left to approve");
  });

  test("requester-typed text cannot mention a channel or forge a link", () => {
    const e = event();
    e.request.reason = "<!channel> see <https://evil.example|jit approve 12> & more";
    e.request.sql = "SELECT 1 ```";
    const p = JSON.stringify(slackPayload(e));
    assert.doesNotMatch(p, /<!channel>|<https:/);
    assert.match(p, /&lt;!channel&gt;/);
    assert.match(p, /&amp; more/);
  });

  test("a long reason is clipped to Slack's limits", () => {
    const e = event();
    e.request.reason = "x".repeat(10_000);
    const p = slackPayload(e);
    assert.ok(p.text.length <= 3000);
    for (const b of p.blocks as Array<{ text?: { text: string } }>) assert.ok((b.text?.text.length ?? 0) <= 3000);
  });
});

describe("validateNotifyConfig", () => {
  test("absent: no notifier and no error", () => {
    assert.deepEqual(validateNotifyConfig(undefined, "notify"), { errors: [] });
  });

  test("https anywhere, plain http only on loopback; url_env reads the environment", () => {
    const ok = validateNotifyConfig(
      { webhooks: [{ url: `https://hooks.slack.com/services/${SECRET}`, events: ["pending", "denied"] }, "http://127.0.0.1:9/x", { url_env: "HOOK" }], timeout: "3s", retries: 4 },
      "notify",
      { HOOK: "https://example.com/hook" },
    );
    assert.deepEqual(ok.errors, []);
    assert.equal(ok.config?.webhooks.length, 3);
    assert.deepEqual(ok.config?.webhooks[0]?.events, ["pending", "denied"]);
    assert.equal(ok.config?.webhooks[2]?.url, "https://example.com/hook");
    assert.equal(ok.config?.timeoutMs, 3000);
    assert.equal(ok.config?.retries, 4);
  });

  test("every problem at once, with paths, and never the secret part of a URL", () => {
    const res = validateNotifyConfig(
      {
        webhooks: [{ url: `http://hooks.slack.com/services/${SECRET}` }, { url: `not a url ${SECRET}` }, { url: "https://x.example", events: ["aproved"] }, { url_env: "MISSING" }, { uri: "https://x" }],
        timeout: "forever",
        retries: -1,
        timout: "5s",
      },
      "notify",
      {},
    );
    assert.equal(res.config, undefined);
    const byPath = Object.fromEntries(res.errors.map((e) => [e.path, e.message]));
    assert.match(byPath["notify.webhooks[0].url"]!, /must use https/);
    assert.match(byPath["notify.webhooks[1].url"]!, /not a valid URL/);
    assert.match(byPath["notify.webhooks[2].events[0]"]!, /did you mean "approved"/);
    assert.match(byPath["notify.webhooks[3].url_env"]!, /MISSING/);
    assert.match(byPath["notify.webhooks[4].uri"]!, /unknown key/);
    assert.ok(byPath["notify.timeout"]);
    assert.ok(byPath["notify.retries"]);
    assert.match(byPath["notify.timout"]!, /did you mean "timeout"/);
    assert.doesNotMatch(JSON.stringify(res.errors), /secret/i);
  });

  test("cancelled is an event kind a webhook may subscribe to", () => {
    assert.deepEqual(validateNotifyConfig({ webhooks: [{ url: "https://hooks.example.com/x", events: ["cancelled"] }] }, "notify").config?.webhooks[0]?.events, ["cancelled"]);
  });

  test("a section that is not a mapping, or has no webhooks, is an error", () => {
    assert.equal(validateNotifyConfig("https://x", "notify").errors.length, 1);
    assert.equal(validateNotifyConfig({ webhooks: [] }, "notify").errors[0]?.path, "notify.webhooks");
  });
});

describe("delivery", { timeout: 20_000 }, () => {
  const open: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    await Promise.all(open.map((r) => r.close()));
  });
  const start = async (answer?: Parameters<typeof receiver>[0]) => {
    const r = await receiver(answer);
    open.push(r);
    return r;
  };

  test("POSTs the Slack JSON to the webhook", async () => {
    const r = await start();
    const logs: string[] = [];
    const n = createNotifier({ webhooks: [{ url: r.url }] }, { log: (l) => logs.push(l) });
    n.notify(event("pending", "5"));
    await until(() => r.hits.length === 1);
    await n.close();
    const hit = r.hits[0]!;
    assert.equal(hit.path, `/services/${SECRET}`);
    assert.match(String(hit.headers["content-type"]), /^application\/json/);
    assert.deepEqual(JSON.parse(hit.body), slackPayload(event("pending", "5")));
    assert.deepEqual(logs, []);
  });

  test("503 twice, then 200: delivered once, on the third try, after backoff", async () => {
    const r = await start((n, res) => void res.writeHead(n <= 2 ? 503 : 200).end());
    const logs: string[] = [];
    const n = createNotifier({ webhooks: [{ url: r.url }] }, { log: (l) => logs.push(l), backoffMs: 40 });
    n.notify(event());
    await until(() => r.hits.length === 3);
    await n.close();
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(r.hits.length, 3, "no fourth try after the success");
    assert.ok(r.hits[1]!.at - r.hits[0]!.at >= 30, "waited before the first retry");
    assert.ok(r.hits[2]!.at - r.hits[1]!.at >= 60, "waited longer before the second");
    assert.deepEqual(logs, []);
  });

  test("three 503s exhaust the default retries and log the origin only", async () => {
    const r = await start((_n, res) => void res.writeHead(503).end());
    const logs: string[] = [];
    const n = createNotifier({ webhooks: [{ url: r.url }] }, { log: (l) => logs.push(l), backoffMs: 5 });
    n.notify(event());
    await until(() => logs.length === 1);
    await n.close();
    assert.equal(r.hits.length, 3);
    assert.match(logs[0]!, /gave up on pending event for request 12 to http:\/\/127\.0\.0\.1:\d+ after 3 tries: HTTP 503/);
    assert.doesNotMatch(logs.join("\n"), /services|secret/i);
  });

  test("429 honours Retry-After, capped", async () => {
    const r = await start((n, res) => void (n === 1 ? res.writeHead(429, { "retry-after": "3600" }).end() : res.writeHead(200).end()));
    const n = createNotifier({ webhooks: [{ url: r.url }] }, { log: () => {}, backoffMs: 1, maxRetryAfterMs: 250 });
    n.notify(event());
    await until(() => r.hits.length === 2);
    await n.close();
    const gap = r.hits[1]!.at - r.hits[0]!.at;
    assert.ok(gap >= 200 && gap < 2000, `waited ${gap} ms: Retry-After honoured up to the 250 ms cap`);
    assert.equal(retryAfterMs("7"), 7000);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(retryAfterMs("soon"), undefined);
  });

  test("other 4xx and redirects are not retried", async () => {
    const r = await start((n, res) => void (n === 1 ? res.writeHead(404).end("no_service") : res.writeHead(302, { location: "/elsewhere" }).end()));
    const logs: string[] = [];
    const n = createNotifier({ webhooks: [{ url: r.url }] }, { log: (l) => logs.push(l), backoffMs: 1, concurrency: 1 });
    n.notify(event("pending", "1"));
    n.notify(event("pending", "2"));
    await until(() => logs.length === 2);
    await n.close();
    assert.equal(r.hits.length, 2, "one try each, and the redirect was not followed");
    assert.match(logs[0]!, /after 1 try: HTTP 404/);
    assert.match(logs[1]!, /after 1 try: HTTP 302/);
  });

  test("a receiver that hangs: notify() returns at once and the per-try timeout fires", async () => {
    const r = await start(hang);
    const logs: string[] = [];
    let fetches = 0;
    const counting: typeof fetch = (input, init) => (fetches++, fetch(input, init));
    const n = createNotifier({ webhooks: [{ url: r.url }], timeoutMs: 200, retries: 0 }, { log: (l) => logs.push(l), fetch: counting });
    const t0 = performance.now();
    // Never blocking, stated as behaviour rather than a timing: notify() returns nothing to await and starts no
    // I/O on the caller's turn; delivery begins on a later one.
    assert.equal(n.notify(event()), undefined);
    assert.equal(fetches, 0, "no delivery started on the caller's turn");
    await until(() => logs.length === 1);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 190 && elapsed < 2000, `timed out after ${elapsed} ms`);
    assert.match(logs[0]!, /no answer within 200 ms/);
    await n.close();
  });

  test("a bounded queue: beyond the limit events are dropped and logged; close() aborts what hangs", async () => {
    const r = await start(hang);
    const logs: string[] = [];
    let fetches = 0;
    const counting: typeof fetch = (input, init) => (fetches++, fetch(input, init));
    const n = createNotifier({ webhooks: [{ url: r.url }], timeoutMs: 10_000, retries: 0 }, { log: (l) => logs.push(l), queueLimit: 2, concurrency: 1, closeGraceMs: 100, fetch: counting });
    for (let i = 1; i <= 5; i++) n.notify(event("pending", String(i)));
    assert.equal(fetches, 0, "queuing five events started no delivery on the caller's turn");
    const drops = logs.filter((l) => /queue full/.test(l));
    assert.equal(drops.length, 3);
    assert.match(drops[0]!, /queue full \(2 waiting\), dropped pending event for request 3 to http:\/\/127\.0\.0\.1:\d+$/);
    await until(() => r.hits.length === 1);
    const c0 = performance.now();
    await n.close();
    assert.ok(performance.now() - c0 < 1000, "close() waits only its grace period");
    assert.equal(r.hits.length, 1, "one in flight, the queued one dropped at shutdown");
    assert.ok(logs.some((l) => /dropped 1 undelivered notification at shutdown/.test(l)), logs.join("\n"));
    assert.ok(logs.some((l) => /request 1 .*aborted at shutdown/.test(l)), logs.join("\n"));
    n.notify(event());
    assert.match(logs.at(-1)!, /notifier is closed/);
    assert.doesNotMatch(logs.join("\n"), /services|secret/i);
  });

  test("close() waits for a slow in-flight delivery to finish", async () => {
    const r = await start((_n, res) => void setTimeout(() => res.writeHead(200).end(), 150));
    const logs: string[] = [];
    const n = createNotifier({ webhooks: [{ url: r.url }] }, { log: (l) => logs.push(l) });
    n.notify(event());
    n.notify(event("approved"));
    await n.close();
    assert.equal(r.hits.length, 2);
    assert.deepEqual(logs, []);
  });

  test("each webhook gets only the events it subscribed to", async () => {
    const all = await start();
    const denials = await start();
    const n = createNotifier({ webhooks: [{ url: all.url }, { url: denials.url, events: ["denied"] }] }, { log: () => {} });
    for (const k of ["pending", "approved", "denied", "expired", "revoked"] as const) n.notify(event(k));
    await n.close();
    assert.equal(all.hits.length, 5);
    assert.equal(denials.hits.length, 1);
    assert.match(JSON.parse(denials.hits[0]!.body).text, /denied by bob/);
  });

  test("a network error never puts the URL in the log", async () => {
    const logs: string[] = [];
    const url = `https://hooks.example.com/services/${SECRET}`;
    const failing = (async (u: string | URL | Request) => {
      throw Object.assign(new TypeError(`fetch failed: ${String(u)}`), { cause: { code: "ECONNRESET" } });
    }) as typeof fetch;
    const n = createNotifier({ webhooks: [{ url }], retries: 1 }, { log: (l) => logs.push(l), fetch: failing, backoffMs: 1 });
    n.notify(event());
    await n.close();
    assert.equal(logs.length, 1);
    assert.match(logs[0]!, /to https:\/\/hooks\.example\.com after 2 tries: ECONNRESET$/);
    assert.doesNotMatch(logs[0]!, /services|secret/i);
  });

  test("no config: a no-op notifier", async () => {
    const n = createNotifier(undefined, { log: () => assert.fail("nothing to log") });
    n.notify(event());
    await n.close();
  });
});

describe("the console deep link", () => {
  test("a pending notification links to the request's console page, as a button and in the text", () => {
    const p = slackPayload(event("pending", "42"));
    const actions = p.blocks.find((b) => (b as { type: string }).type === "actions") as { elements: { url: string }[] };
    assert.equal(actions.elements[0]!.url, "https://jit.example.com/console/requests/42");
    assert.match(p.text, / Open: https:\/\/jit\.example\.com\/console\/requests\/42$/);
  });

  test("a long reason is clipped before the link, never the link itself", () => {
    const e = event("pending", "7");
    e.request.reason = "x".repeat(5000);
    const p = slackPayload(e);
    assert.ok(p.text.endsWith("Open: https://jit.example.com/console/requests/7"));
    assert.ok(p.text.length <= 2900);
  });

  test("without a public URL there is no link", () => {
    const e = event("pending", "7");
    delete e.brokerUrl;
    const p = slackPayload(e);
    assert.ok(!p.text.includes("/console/"));
    assert.ok(!p.blocks.some((b) => (b as { type: string }).type === "actions"));
  });
});
