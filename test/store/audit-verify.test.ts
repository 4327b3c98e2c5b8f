// verifyAuditLog and parseAnchors on hand-built chains (no database): the cases the store tests do not reach.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CHECKPOINT_ACTION, GENESIS_HASH, recordHash } from "../../src/audit/chain.ts";
import { parseAnchors, verifyAuditLog } from "../../src/audit/verify.ts";
import type { AuditChain, AuditQuery, AuditRecord } from "../../src/store/types.ts";

/** Builds chains from per-chain lists of details; ids are numbered in the order given. */
function build(chains: Record<number, Record<string, unknown>[]>): AuditRecord[] {
  const out: AuditRecord[] = [];
  let id = 0;
  for (const [chain, list] of Object.entries(chains)) {
    let prevHash = GENESIS_HASH;
    list.forEach((details, i) => {
      const action = details.heads ? CHECKPOINT_ACTION : "query";
      const base = { chain: Number(chain), chainSeq: i + 1, at: 1000 + i, actor: "a", actorSubject: null, action, outcome: "ok" as const, details, prevHash };
      const hash = recordHash(base);
      id += 1;
      out.push({ ...base, id: String(id), seq: id, hash });
      prevHash = hash;
    });
  }
  return out;
}

/** The two calls verifyAuditLog makes, over an array. */
function source(records: AuditRecord[], extraChains: number[] = []) {
  return {
    async listAudit(q: AuditQuery) {
      let rs = records.filter((r) => (q.chain === undefined || r.chain === q.chain) && (q.action === undefined || r.action === q.action));
      rs = rs.filter((r) => (q.afterSeq === undefined || r.seq > q.afterSeq) && (q.afterChainSeq === undefined || r.chainSeq > q.afterChainSeq));
      rs.sort((a, b) => (q.chain !== undefined ? a.chainSeq - b.chainSeq : a.seq - b.seq));
      return rs.slice(0, q.limit ?? 1000);
    },
    async auditChains(): Promise<AuditChain[]> {
      const ids = [...new Set([...records.map((r) => r.chain), ...extraChains])].sort((a, b) => a - b);
      return ids.map((id) => ({ id, writer: null, openedAt: null, closedAt: null, head: null }));
    },
  };
}

test("parseAnchors takes CHAIN:SEQ:HASH and SEQ:HASH (chain 1), comma- or space-separated, and nothing malformed", () => {
  const h = "a".repeat(64);
  assert.equal(parseAnchors(undefined), undefined);
  assert.equal(parseAnchors(""), undefined);
  assert.deepEqual(parseAnchors(`7:${h}`), [{ chain: 1, seq: 7, hash: h }]);
  assert.deepEqual(parseAnchors([`2:7:${h}, 3:9:${h}`, `1:1:${h}`]), [{ chain: 2, seq: 7, hash: h }, { chain: 3, seq: 9, hash: h }, { chain: 1, seq: 1, hash: h }]);
  for (const bad of ["12:nothex", `0:${h}`, `1:0:${h}`, `x:1:${h}`, `1:2:3:${h}`, `7:${h.toUpperCase()}`, `7:${h}0`]) assert.equal(parseAnchors(bad), null, bad);
});

test("a checkpoint naming a chain that is gone, or a record that differs, breaks verification; a sound log passes", async () => {
  const good = build({ 1: [{ i: 1 }, { i: 2 }], 2: [{ i: 1 }] });
  const head1 = good[1]!;
  const withCp = build({ 1: [{ i: 1 }, { i: 2 }], 2: [{ i: 1 }, { heads: { 1: { seq: 2, hash: head1.hash } } }] });
  const ok = await verifyAuditLog(source(withCp));
  assert.ok(ok.ok, ok.broken?.message);
  assert.deepEqual([ok.checked, ok.crossLinks, ok.head?.seq, ok.heads.map((h) => `${h.chain}:${h.seq}`)], [4, 1, 2, ["1:2", "2:2"]]);

  const gone = build({ 2: [{ heads: { 5: { seq: 1, hash: "b".repeat(64) } } }] });
  const r1 = await verifyAuditLog(source(gone));
  assert.deepEqual([r1.broken?.problem, r1.broken?.chain], ["chain_missing", 5]);

  const differs = build({ 1: [{ i: 1 }, { i: 2 }], 2: [{ heads: { 1: { seq: 2, hash: "c".repeat(64) } } }] });
  const r2 = await verifyAuditLog(source(differs));
  assert.deepEqual([r2.broken?.problem, r2.broken?.chain, r2.broken?.seq], ["cross_link_mismatch", 1, 2]);

  // A chain that exists but whose records are all gone, while a checkpoint names one of them.
  const emptied = withCp.filter((r) => r.chain !== 1);
  const r3 = await verifyAuditLog(source(emptied, [1]));
  assert.deepEqual([r3.broken?.problem, r3.broken?.chain, r3.broken?.seq], ["truncated", 1, 2]);
  assert.match(r3.broken!.message, /chain 1 ends at #0/);
  assert.ok((await verifyAuditLog(source(good))).ok);
});

test("anchors: a record gone and a record rewritten are told apart, for any chain", async () => {
  const log = build({ 1: [{ i: 1 }, { i: 2 }], 3: [{ i: 1 }] });
  const [, second, third] = log;
  assert.ok((await verifyAuditLog(source(log), [{ chain: 1, seq: 2, hash: second!.hash }, { chain: 3, seq: 1, hash: third!.hash }])).ok);
  const gone = await verifyAuditLog(source(log), [{ chain: 3, seq: 2, hash: third!.hash }]);
  assert.deepEqual([gone.broken?.problem, gone.broken?.message], ["anchor_mismatch", "chain 3 record #2 is gone: the log was truncated"]);
  const rewritten = await verifyAuditLog(source(log), [{ chain: 1, seq: 2, hash: "d".repeat(64) }]);
  assert.match(rewritten.broken!.message, /chain 1 record #2 no longer has the anchored hash/);
  const unknown = await verifyAuditLog(source(log), [{ chain: 9, seq: 1, hash: "d".repeat(64) }]);
  assert.equal(unknown.broken?.problem, "anchor_mismatch");
});
