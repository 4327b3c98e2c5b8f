// Appends audit records as fast as it can from several concurrent "requests", printing "SEQ HASH" for each record
// whose append resolved, until it is killed. Usage: node audit-kill-child.ts STORE_SPEC_JSON [CONCURRENCY].
// Linux writes to a pipe synchronously, so a line the parent read is a record the child was told is durable.
import { openStore, type StoreSpec } from "../../src/store/open.ts";

const spec = JSON.parse(process.argv[2] ?? "null") as StoreSpec | null;
if (!spec) throw new Error("usage: audit-kill-child.ts STORE_SPEC_JSON [CONCURRENCY]");
const concurrency = Number(process.argv[3] ?? 20);

const store = await openStore(spec);
process.stdout.write("ready\n");
let i = 0;
await Promise.all(Array.from({ length: concurrency }, async () => {
  for (;;) {
    const r = await store.appendAudit({ at: Date.now(), actor: "child", actorSubject: "sub-child", action: "query", outcome: "ok", details: { i: i++ } });
    process.stdout.write(`${r.seq} ${r.hash}\n`);
  }
}));
