/**
 * canonicalJson is what every audit record's hash is taken over: a faster form must give the very same text as the
 * original definition, or logs already written stop verifying. Random JSON-like values (and the odd non-JSON member:
 * undefined, holes, a Date, integer-like and non-ASCII keys) go through both.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createHash } from "node:crypto";
import { canonicalJson, recordHash } from "../../src/audit/chain.ts";

/** The definition as first written (what the stored hashes were computed with). */
function original(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(original).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${original(v)}`).join(",")}}`;
}

/** A small deterministic PRNG, so a failure can be replayed. */
function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

const KEYS = ["a", "b", "B", "_", "10", "9", "1", "01", "é", "z\u0000", "\ud83d\ude00", "\"q\"", "email", "rows", "", "__proto__x"];

function randomValue(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth <= 0 || pick < 0.45) {
    const p = Math.floor(r() * 9);
    return [null, true, false, Math.floor(r() * 1e6) - 5e5, r() * 1e3, "text \"with\" \\ and \n", "\u2028é\ud800", undefined, Number.NaN][p];
  }
  if (pick < 0.7) {
    const arr: unknown[] = Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth - 1));
    if (r() < 0.1) arr[arr.length + 1] = 1; // a hole
    return arr;
  }
  if (pick < 0.72) return new Date(0);
  const obj: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 6); i > 0; i--) obj[KEYS[Math.floor(r() * KEYS.length)]!] = randomValue(r, depth - 1);
  return obj;
}

test("canonicalJson gives the original definition's text on random values", () => {
  const r = rng(15);
  for (let i = 0; i < 5000; i++) {
    const v = randomValue(r, 4);
    assert.equal(canonicalJson(v), original(v), `value #${i}: ${String(original(v)).slice(0, 200)}`);
  }
});

test("canonicalJson sorts keys by code unit, integer-like keys included, and drops undefined members", () => {
  assert.equal(canonicalJson({ b: 1, a: [1, undefined, { y: undefined, x: "é" }], 10: 0, 9: 0 }), '{"10":0,"9":0,"a":[1,null,{"x":"é"}],"b":1}');
});

test("a record's hash is unchanged (a known value)", () => {
  const h = recordHash({
    chain: 1, chainSeq: 3, at: 1700000000000, actor: "alice", actorSubject: "sub-1", action: "query", outcome: "ok",
    details: { sql: "SELECT 1", tables: ["demo.sales.customers"], groups: ["analysts"], client: { kind: "cli", name: "jit", version: "1", address: "127.0.0.1" } },
    prevHash: "0".repeat(64),
  });
  const body = original({
    seq: 3, at: 1700000000000, actor: "alice", actor_subject: "sub-1", action: "query", outcome: "ok",
    details: { sql: "SELECT 1", tables: ["demo.sales.customers"], groups: ["analysts"], client: { kind: "cli", name: "jit", version: "1", address: "127.0.0.1" } },
    prev_hash: "0".repeat(64),
  });
  assert.equal(h, createHash("sha256").update("0".repeat(64)).update("\n").update(body).digest("hex"));
});
