/** The audit hash chain: canonical form of a record and the hash that links it to the one before. */
import { createHash } from "node:crypto";
import type { AuditRecord } from "../store/types.ts";

/** The hash the first record links to. */
export const GENESIS_HASH = "0".repeat(64);

/** Deterministic JSON: object keys sorted at every depth, so the same record always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** SHA-256 over the previous hash and the record's canonical form (sequence number included, so gaps show). */
export function recordHash(r: Omit<AuditRecord, "id" | "hash">): string {
  const body = canonicalJson({
    seq: r.seq,
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
  seq: number;
  id: string;
  problem: "gap" | "prev_hash_mismatch" | "hash_mismatch";
  message: string;
}

/** Checks records in sequence order; returns the first broken link, or null when the chain holds. */
export function verifyChain(records: Iterable<AuditRecord>, start: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH }): ChainBreak | null {
  let expectedSeq = start.seq + 1;
  let prev = start.hash;
  for (const r of records) {
    if (r.seq !== expectedSeq) {
      return { seq: expectedSeq, id: r.id, problem: "gap", message: `record #${expectedSeq} is missing (next present is #${r.seq})` };
    }
    if (r.prevHash !== prev) {
      return { seq: r.seq, id: r.id, problem: "prev_hash_mismatch", message: `record #${r.seq} does not link to record #${r.seq - 1}` };
    }
    if (recordHash(r) !== r.hash) {
      return { seq: r.seq, id: r.id, problem: "hash_mismatch", message: `record #${r.seq} was altered after it was written` };
    }
    prev = r.hash;
    expectedSeq += 1;
  }
  return null;
}
