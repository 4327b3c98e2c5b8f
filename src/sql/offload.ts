/**
 * SQL analysis off the event loop for large statements. Parsing costs about a microsecond per character on the
 * CST parser (a near-1 MB statement holds the thread for a second), so statements above INLINE_MAX_CHARS are
 * parsed and analysed in a worker thread and the broker keeps answering everyone else meanwhile; small ones, the
 * common case, stay inline where they take well under a millisecond. A job that runs too long is refused and its
 * worker replaced, so no statement can wedge analysis for the others.
 */
import { Worker } from "node:worker_threads";
import { JitError, type ErrorCode } from "../errors.ts";
import { Lru } from "../warehouse/lru.ts";
import type { TableRef } from "../warehouse/types.ts";
import { analyze, type AnalyzeOptions, type KindInfo, referencedSources, referencedTables, statementKind, type ReferencedSources } from "./analyze.ts";
import type { Analysis } from "./types.ts";

/** Statements longer than this are analysed in the worker (measured in bench/front-door.bench.mjs: ~10 ms inline at 16 KiB). */
export const INLINE_MAX_CHARS = 16 * 1024;
const JOB_TIMEOUT_MS = 10_000;

/** What the SQL alone says, before any table is looked up: the statement kind and the tables it names. */
export interface Syntax {
  kind: KindInfo;
  tables: TableRef[];
  sources: ReferencedSources;
}

/** The statement kind and the tables `sql` names (inline for small statements, in the worker for large ones). */
export function inspectSql(sql: string, defaultProject: string): Promise<Syntax> {
  if (sql.length <= INLINE_MAX_CHARS) {
    return attempt(() => remembered(inspections, `${defaultProject}\u0000${sql}`, () => inspectInline(sql, defaultProject)));
  }
  return run({ op: "inspect", sql, defaultProject }) as Promise<Syntax>;
}

/** analyze() for `sql` (inline for small statements, in the worker for large ones). */
export function analyzeSql(sql: string, opts: AnalyzeOptions): Promise<Analysis> {
  if (sql.length <= INLINE_MAX_CHARS) return attempt(() => remembered(analyses, analysisKey(sql, opts), () => analyze(sql, opts)));
  return run({ op: "analyze", sql, opts }) as Promise<Analysis>;
}

/**
 * Results of the inline inspection and analysis, kept by everything they are computed from, so a client repeating a
 * statement (and the broker's own second look at it) is not analysed again. Inspection depends on the SQL text and
 * the default project; analysis also on the schemas and wildcard matches it was given, which are part of its key, so
 * a table whose schema changed is analysed afresh. Nothing here depends on the policy or on who asks: access,
 * opacity and masking are decided on these results by the caller, every time. Failures are not kept. The values are
 * frozen: every caller shares one.
 */
const CACHED_STATEMENTS = 512;
const inspections = new Lru<string, Syntax>(CACHED_STATEMENTS);
const analyses = new Lru<string, Analysis>(CACHED_STATEMENTS);

function remembered<T>(cache: Lru<string, T>, key: string, compute: () => T): T {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const value = deepFreeze(compute());
  cache.set(key, value);
  return value;
}

function analysisKey(sql: string, opts: AnalyzeOptions): string {
  // Map order included: the key is exact, whatever analyze() makes of the order.
  const inputs = JSON.stringify([opts.defaultProject, [...opts.schemas], opts.wildcards ? [...opts.wildcards] : null]);
  return `${inputs}\u0000${sql}`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Forgets every remembered inspection and analysis (tests; nothing in the broker needs it). */
export function clearAnalysisCache(): void {
  inspections.clear();
  analyses.clear();
}

/** The synchronous inspection, as the worker runs it. */
export function inspectInline(sql: string, defaultProject: string): Syntax {
  return { kind: statementKind(sql), tables: referencedTables(sql, defaultProject), sources: referencedSources(sql, defaultProject) };
}

/** A job for the worker, and its answer: a value, or a JitError's fields. */
export type Job = { op: "inspect"; sql: string; defaultProject: string } | { op: "analyze"; sql: string; opts: AnalyzeOptions };
export type Answer = { id: number; value: unknown } | { id: number; error: { code: ErrorCode; message: string; hint?: string; details: Record<string, unknown> } };

const attempt = <T>(fn: () => T): Promise<T> => {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
};

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void; timer: NodeJS.Timeout }>();

function spawn(): Worker {
  // Tests run the TypeScript sources directly; the built CLI runs dist/*.js.
  const file = new URL(import.meta.url.endsWith(".ts") ? "./worker.ts" : "./worker.js", import.meta.url);
  const w = new Worker(file);
  w.unref(); // an idle worker never keeps the process alive
  w.on("message", (a: Answer) => {
    const job = pending.get(a.id);
    if (!job) return;
    pending.delete(a.id);
    clearTimeout(job.timer);
    if ("error" in a) job.reject(new JitError(a.error.code, a.error.message, { hint: a.error.hint, details: a.error.details }));
    else job.resolve(a.value);
  });
  const fail = (err: unknown) => {
    if (worker === w) worker = null;
    for (const [id, job] of pending) {
      clearTimeout(job.timer);
      job.reject(new JitError("internal", "SQL analysis failed", { cause: err }));
      pending.delete(id);
    }
  };
  w.on("error", fail);
  w.on("exit", (code) => fail(new Error(`analysis worker exited with ${code}`)));
  return w;
}

function run(job: Job): Promise<unknown> {
  worker ??= spawn();
  const w = worker;
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      // The worker is busy with this job for good: replace it (the jobs queued behind it fail and are retried by no one,
      // so each gets the same refusal rather than a hang).
      if (worker === w) worker = null;
      void w.terminate();
      reject(new JitError("denied", `the broker cannot analyse this SQL: analysis took longer than ${JOB_TIMEOUT_MS / 1000} s`, {
        hint: "simplify the query", details: { reason: "unanalysable" },
      }));
    }, JOB_TIMEOUT_MS);
    timer.unref();
    pending.set(id, { resolve, reject, timer });
    w.postMessage({ id, ...job });
  });
}

/** Stops the analysis worker, if one runs (tests, and a broker shutting down); the next large statement starts another. */
export async function closeAnalysisWorker(): Promise<void> {
  const w = worker;
  worker = null;
  if (w) await w.terminate();
}
