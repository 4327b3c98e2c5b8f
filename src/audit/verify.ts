/**
 * Verifying the whole audit log: every chain link by link, every cross-link (a checkpoint's record of another
 * chain's head must still be in that chain, unchanged), and any anchors kept outside the broker. One function for
 * the API (GET /v1/audit/verify, `jit audit verify`) and the console. See docs/audit-chains.md.
 */
import type { AuditRecord, Store } from "../store/types.ts";
import { CHECKPOINT_ACTION, FIRST_CHAIN, GENESIS_HASH, recordName, verifyChain, type ChainBreak } from "./chain.ts";

/** A chain's head recorded earlier, outside the broker: CHAIN:SEQ:HASH (or SEQ:HASH for the first chain). */
export interface ChainAnchor {
  chain: number;
  seq: number;
  hash: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Records checked, in all chains. */
  checked: number;
  /** The first chain's head, as SEQ:HASH anchors name it (null when it has no records). */
  head: { seq: number; hash: string } | null;
  /** Every chain's head: keep them to anchor a later verify (CHAIN:SEQ:HASH). */
  heads: { chain: number; seq: number; hash: string }[];
  /** Cross-links (a checkpoint's entry for another chain) checked. */
  crossLinks: number;
  broken?: ChainBreak;
}

const PAGE = 1000;
const ANCHOR = /^(?:([1-9][0-9]{0,15}):)?([1-9][0-9]{0,15}):([0-9a-f]{64})$/;

/** Parses anchors separated by commas or spaces; undefined for none, null when any is malformed. */
export function parseAnchors(raw: string | readonly string[] | undefined): ChainAnchor[] | null | undefined {
  const parts = (typeof raw === "string" ? [raw] : raw ?? []).flatMap((s) => s.split(/[\s,]+/)).filter(Boolean);
  if (parts.length === 0) return undefined;
  const out: ChainAnchor[] = [];
  for (const p of parts) {
    const m = ANCHOR.exec(p);
    if (!m) return null;
    out.push({ chain: m[1] ? Number(m[1]) : FIRST_CHAIN, seq: Number(m[2]), hash: m[3]! });
  }
  return out;
}

/** What an anchor must look like, for error messages. */
export const ANCHOR_FORMAT = "CHAIN:SEQ:HASH (or SEQ:HASH for chain 1) as printed by jit audit verify";

/** A checkpoint's entry for another chain: that chain's record `seq` had `hash` when `by` was written. */
interface CrossLink {
  hash: string;
  by: { chain: number; seq: number; id: string };
}

/** The heads a checkpoint recorded, or nothing for a record that is not one (or not well-formed). */
function checkpointHeads(r: AuditRecord): [number, number, string][] {
  const heads = r.details.heads;
  if (r.action !== CHECKPOINT_ACTION || !heads || typeof heads !== "object") return [];
  return Object.entries(heads as Record<string, { seq?: unknown; hash?: unknown }>)
    .filter(([c, h]) => /^[1-9][0-9]*$/.test(c) && Number.isSafeInteger(h?.seq) && typeof h?.hash === "string")
    .map(([c, h]) => [Number(c), h.seq as number, h.hash as string]);
}

/** Checks every chain, every cross-link and every anchor; stops at the first break. */
export async function verifyAuditLog(store: Pick<Store, "listAudit" | "auditChains">, anchors: readonly ChainAnchor[] = []): Promise<VerifyReport> {
  const report = (broken: ChainBreak | undefined, checked: number, heads: VerifyReport["heads"], crossLinks: number): VerifyReport => {
    const first = heads.find((h) => h.chain === FIRST_CHAIN);
    return { ok: !broken, checked, head: first ? { seq: first.seq, hash: first.hash } : null, heads, crossLinks, ...(broken ? { broken } : {}) };
  };

  // Anchors first: a head kept outside the broker must still be there, unchanged. This catches a truncated tail or
  // a rewritten history that the chains alone cannot.
  for (const a of anchors) {
    const rec = (await store.listAudit({ chain: a.chain, afterChainSeq: a.seq - 1, limit: 1 }))[0];
    if (!rec || rec.chainSeq !== a.seq || rec.hash !== a.hash) {
      const message = rec?.chainSeq === a.seq ? `${recordName(a.chain, a.seq)} no longer has the anchored hash: history was rewritten` : `${recordName(a.chain, a.seq)} is gone: the log was truncated`;
      return report({ chain: a.chain, seq: a.seq, id: rec?.chainSeq === a.seq ? rec.id : "", problem: "anchor_mismatch", message }, 0, [], 0);
    }
  }

  // Every cross-link, from every checkpoint (each is itself checked in its own chain below).
  const links = new Map<number, Map<number, CrossLink>>();
  for (let after = 0; ;) {
    const page = await store.listAudit({ action: CHECKPOINT_ACTION, afterSeq: after, limit: PAGE });
    for (const r of page) {
      for (const [chain, seq, hash] of checkpointHeads(r)) {
        if (!links.has(chain)) links.set(chain, new Map());
        links.get(chain)!.set(seq, { hash, by: { chain: r.chain, seq: r.chainSeq, id: r.id } });
      }
    }
    if (page.length < PAGE) break;
    after = page.at(-1)!.seq;
  }
  // Listed after the checkpoints were read, so a chain one of them names (even one started meanwhile) is listed.
  const chains = (await store.auditChains()).map((c) => c.id);
  for (const [chain, at] of links) {
    if (chains.includes(chain)) continue;
    const { by } = [...at.values()][0]!;
    return report({ chain, seq: 0, id: "", problem: "chain_missing", message: `chain ${chain} is gone, but ${recordName(by.chain, by.seq)} recorded its head` }, 0, [], 0);
  }

  let checked = 0;
  let crossLinks = 0;
  const heads: VerifyReport["heads"] = [];
  for (const chain of chains) {
    const expected = links.get(chain) ?? new Map<number, CrossLink>();
    let prev = { chain, seq: 0, hash: GENESIS_HASH };
    for (;;) {
      const page = await store.listAudit({ chain, afterChainSeq: prev.seq, limit: PAGE });
      if (page.length === 0) break;
      const broken = verifyChain(page, prev);
      if (broken) return report(broken, checked, heads, crossLinks);
      for (const r of page) {
        const link = expected.get(r.chainSeq);
        if (!link) continue;
        crossLinks += 1;
        if (link.hash !== r.hash) {
          return report({
            chain, seq: r.chainSeq, id: r.id, problem: "cross_link_mismatch",
            message: `${recordName(chain, r.chainSeq)} is not the record ${recordName(link.by.chain, link.by.seq)} recorded as its head: history was rewritten`,
          }, checked, heads, crossLinks);
        }
      }
      checked += page.length;
      const last = page.at(-1)!;
      prev = { chain, seq: last.chainSeq, hash: last.hash };
    }
    const beyond = [...expected.entries()].filter(([seq]) => seq > prev.seq).sort(([a], [b]) => b - a)[0];
    if (beyond) {
      const [seq, { by }] = beyond;
      return report({
        chain, seq, id: "", problem: "truncated",
        message: `${recordName(chain, seq)} is gone: chain ${chain} ends at #${prev.seq}, but ${recordName(by.chain, by.seq)} recorded #${seq} as its head (its tail was truncated)`,
      }, checked, heads, crossLinks);
    }
    if (prev.seq > 0) heads.push({ chain, seq: prev.seq, hash: prev.hash });
  }
  return report(undefined, checked, heads, crossLinks);
}
