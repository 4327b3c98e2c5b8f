/** The audit hash chain: canonical form of a record and the hash that links it to the one before. */
import { createHash } from "node:crypto";
import type { AuditRecord } from "../store/types.ts";

/** The hash the first record links to. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * Deterministic JSON: object keys sorted at every depth, so the same record always hashes the same. Every stored hash
 * depends on this text, so it must never change: test/audit/canonical-json.test.ts holds it to the original
 * definition (entries without undefined values, sorted by UTF-16 code units, joined) on random values. This form
 * builds the string in one pass instead of through entry arrays, sorts the keys alone (the default sort orders
 * strings by code units, as `<` does) and quotes each distinct key once per call.
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, new Map());
}

function canonical(value: unknown, keys: Map<string, string>): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      // Array.prototype.join writes a hole, and a member whose canonical form is undefined (a function), as "".
      if (i in value) out += canonical(value[i], keys) ?? "";
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const names = Object.keys(obj).sort();
  let out = "{";
  let first = true;
  for (const k of names) {
    const v = obj[k];
    if (v === undefined) continue;
    let quoted = keys.get(k);
    if (quoted === undefined) keys.set(k, (quoted = JSON.stringify(k)));
    out += `${first ? "" : ","}${quoted}:${canonical(v, keys)}`;
    first = false;
  }
  return `${out}}`;
}

/** The action of the records that tie the chains together: each holds the heads of the other chains. */
export const CHECKPOINT_ACTION = "audit.checkpoint";

/** The chain every record written before there were several chains belongs to; its records hash as they always did. */
export const FIRST_CHAIN = 1;

/**
 * SHA-256 over the previous hash and the record's canonical form: its chain and place in it included, so gaps and
 * records moved between chains show. The first chain's records leave the chain out, so logs written before there
 * were chains still verify; every other chain's records name it.
 */
export function recordHash(r: Omit<AuditRecord, "id" | "seq" | "hash">): string {
  const body = canonicalJson({
    chain: r.chain === FIRST_CHAIN ? undefined : r.chain,
    seq: r.chainSeq,
    at: r.at,
    actor: r.actor,
    actor_subject: r.actorSubject,
    action: r.action,
    outcome: r.outcome,
    details: r.details,
    prev_hash: r.prevHash,
  });
  return createHash("sha256").update(r.prevHash).update("\n").update(body).digest("hex");
}

export interface ChainBreak {
  chain: number;
  /** The record's place in its chain. */
  seq: number;
  /** The record's audit id ("" when it is missing). */
  id: string;
  problem: "gap" | "prev_hash_mismatch" | "hash_mismatch" | "wrong_chain" | "anchor_mismatch" | "cross_link_mismatch" | "truncated" | "chain_missing";
  message: string;
}

/** "chain 2 record #7": how verification names a record. */
export const recordName = (chain: number, seq: number): string => `chain ${chain} record #${seq}`;

/**
 * Checks one chain's records in chain order; returns the first broken link, or null when the chain holds. `start` is
 * the record before the first one given (the genesis by default), so a chain can be checked a page at a time.
 */
export function verifyChain(
  records: Iterable<AuditRecord>,
  start: { chain?: number; seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH },
): ChainBreak | null {
  let chain = start.chain;
  let expectedSeq = start.seq + 1;
  let prev = start.hash;
  for (const r of records) {
    chain ??= r.chain;
    const at = (problem: ChainBreak["problem"], message: string): ChainBreak => ({ chain: chain!, seq: r.chainSeq, id: r.id, problem, message: `${recordName(chain!, r.chainSeq)} ${message} (audit id ${r.id})` });
    if (r.chain !== chain) return at("wrong_chain", `is filed under chain ${r.chain}`);
    if (r.chainSeq !== expectedSeq) {
      return { chain, seq: expectedSeq, id: "", problem: "gap", message: `${recordName(chain, expectedSeq)} is missing (next present is #${r.chainSeq}, audit id ${r.id})` };
    }
    if (r.prevHash !== prev) return at("prev_hash_mismatch", `does not link to record #${r.chainSeq - 1}`);
    if (recordHash(r) !== r.hash) return at("hash_mismatch", "was altered after it was written");
    prev = r.hash;
    expectedSeq += 1;
  }
  return null;
}
