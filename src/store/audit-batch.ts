/**
 * Group commit for the audit log, shared by both stores: appends that arrive while the store is busy (or in the same
 * turn of the event loop) are numbered, hashed onto the chain and written in one transaction, so N concurrent
 * requests pay one fsync instead of N. Each caller's promise settles only when that transaction has committed; when
 * it fails, every caller in the batch gets the error and the chain head stays where it was (fail closed, no gap).
 */
import { CHECKPOINT_ACTION, GENESIS_HASH, recordHash } from "../audit/chain.ts";
import type { AuditChain, AuditRecord, AuditStats, NewAuditRecord } from "./types.ts";

export type { AuditStats };

/** The last record of a chain: where the next one links. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/** A record numbered and hashed onto the chain, with its details as the JSON text that is stored; the store numbers it across chains (`seq`). */
export type LinkedRecord = Omit<AuditRecord, "id" | "seq"> & { detailsText: string };

/** What a store provides: one atomic write of a whole batch. */
export interface BatchSink {
  /**
   * In one transaction: finds the chain's head (or trusts `known` when it is not undefined), calls `link` to number
   * and hash the records onto it, stores them all, commits. Returns the records as stored, in order. Throws, having
   * stored none of them, when it cannot.
   */
  write(known: ChainHead | null | undefined, link: (head: ChainHead | null) => LinkedRecord[]): Promise<AuditRecord[]> | AuditRecord[];
  /** Every chain with its head (for checkpoints). */
  chains(): Promise<AuditChain[]> | AuditChain[];
}

/** How often a store checkpoints the other chains' heads into its own (see AuditBatcher.checkpoint). */
export interface AuditChainOptions {
  /** Look at the other chains this often (ms; default 5000, 0: only on demand and at close). */
  checkpointMs?: number;
  /** Also look after this many of our own records (default 1000). */
  checkpointEvery?: number;
}

export interface BatcherOptions extends AuditChainOptions {
  /** The chain this writer owns: nobody else appends to it. */
  chain: number;
  /** At most this many records per transaction. */
  maxBatch?: number;
  /** See the constructor. */
  trustHead?: boolean;
}

interface Waiting {
  record: NewAuditRecord;
  detailsText: string;
  resolve(r: AuditRecord): void;
  reject(err: unknown): void;
}

/** Queues appends and writes them in batches, one transaction at a time, in arrival order. */
export class AuditBatcher {
  readonly #sink: BatchSink;
  readonly #chain: number;
  readonly #maxBatch: number;
  readonly #trustHead: boolean;
  readonly #checkpointEvery: number;
  readonly #timer: NodeJS.Timeout | null;
  /** Each other chain's head seq as last seen here: a checkpoint is due when one moved. */
  readonly #seen = new Map<number, number>();
  #sinceCheckpoint = 0;
  #checkpointing: Promise<AuditRecord | null> | null = null;
  #queue: Waiting[] = [];
  #running: Promise<void> | null = null;
  #scheduled = false;
  /** The head after the last committed batch; undefined when unknown (at start, and after a failed batch). */
  #head: ChainHead | null | undefined = undefined;
  #closed: Error | null = null;
  readonly #stats = { batches: 0, records: 0, maxBatch: 0, failedBatches: 0 };

  /**
   * `trustHead`: the sink may reuse the head this batcher saw committed last (only this writer appends to the chain),
   * saving a read per batch; it is forgotten after any failure, since a failed commit may still have landed.
   */
  constructor(sink: BatchSink, opts: BatcherOptions) {
    this.#sink = sink;
    this.#chain = opts.chain;
    this.#maxBatch = opts.maxBatch ?? 500;
    this.#trustHead = opts.trustHead ?? false;
    this.#checkpointEvery = opts.checkpointEvery ?? 1000;
    const every = opts.checkpointMs ?? 5000;
    // A failed checkpoint is only a missed one: the next append that fails says why, to its caller.
    this.#timer = every > 0 ? setInterval(() => void this.checkpoint().catch(() => {}), every).unref() : null;
  }

  /**
   * Writes the other chains' heads into this chain when any of them moved since this writer last looked, so that
   * dropping their newest records (or this chain's, which they record in turn) shows in verification. A chain that
   * moved only by one checkpoint of its own does not count, or two idle writers would checkpoint each other forever.
   */
  checkpoint(): Promise<AuditRecord | null> {
    // One at a time; `finally` runs after the assignment even when the store throws at once.
    this.#checkpointing ??= this.#writeCheckpoint().finally(() => {
      this.#checkpointing = null;
    });
    return this.#checkpointing;
  }

  async #writeCheckpoint(): Promise<AuditRecord | null> {
    const others = (await this.#sink.chains()).filter((c) => c.id !== this.#chain && c.head);
    const moved = others.some((c) => {
      const was = this.#seen.get(c.id);
      return was === undefined || (c.head!.seq > was && !(c.head!.seq === was + 1 && c.head!.action === CHECKPOINT_ACTION));
    });
    for (const c of others) this.#seen.set(c.id, c.head!.seq);
    if (!moved) return null;
    this.#sinceCheckpoint = 0;
    const heads = Object.fromEntries(others.map((c) => [String(c.id), { seq: c.head!.seq, hash: c.head!.hash }]));
    return this.append({ at: Date.now(), actor: "broker", actorSubject: null, action: CHECKPOINT_ACTION, outcome: "ok", details: { heads } });
  }

  /** Resolves with the stored record once its transaction committed; rejects when it did not. */
  append(r: NewAuditRecord): Promise<AuditRecord> {
    if (this.#closed) return Promise.reject(this.#closed);
    let detailsText: string;
    try {
      // Hash exactly what is stored: a Date or undefined in details changes in the JSON round trip. A value JSON
      // cannot take (a BigInt, a cycle) fails this caller alone, before it can spoil a batch.
      detailsText = JSON.stringify(r.details ?? {});
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#queue.push({ record: r, detailsText, resolve, reject });
      this.#kick();
    });
  }

  /** Batch sizes so far. */
  stats(): AuditStats {
    return { chain: this.#chain, ...this.#stats, pending: this.#queue.length };
  }

  /** Writes a last checkpoint (when due), refuses new appends and waits until every queued one has been written (or failed). */
  async close(reason = "the store is closed"): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (!this.#closed) await this.checkpoint().catch(() => {});
    this.#closed ??= new Error(reason);
    await this.drain();
  }

  /** Waits until the queue is empty and no batch is being written. */
  async drain(): Promise<void> {
    while (this.#running || this.#scheduled || this.#queue.length) {
      if (!this.#running && !this.#scheduled) this.#kick();
      await (this.#running ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  #kick(): void {
    if (this.#running || this.#scheduled) return;
    this.#scheduled = true;
    // Not a microtask: appends issued by other requests handled in this turn of the event loop join the batch.
    setImmediate(() => {
      this.#scheduled = false;
      this.#running = this.#run().finally(() => {
        this.#running = null;
        if (this.#queue.length) this.#kick();
      });
    });
  }

  async #run(): Promise<void> {
    // Appends that arrive while a batch is being written wait for it, then go together in the next one.
    while (this.#queue.length) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      let linked: LinkedRecord[] = [];
      const link = (head: ChainHead | null): LinkedRecord[] => {
        let chainSeq = head?.seq ?? 0;
        let prevHash = head?.hash ?? GENESIS_HASH;
        linked = batch.map(({ record, detailsText }) => {
          chainSeq += 1;
          const rec = { ...record, details: JSON.parse(detailsText) as Record<string, unknown>, chain: this.#chain, chainSeq, prevHash };
          const hash = recordHash(rec);
          prevHash = hash;
          return { ...rec, hash, detailsText };
        });
        return linked;
      };
      try {
        const stored = await this.#sink.write(this.#trustHead ? this.#head : undefined, link);
        if (stored.length !== batch.length) throw new Error(`the store wrote ${stored.length} of ${batch.length} audit records`);
        const last = linked.at(-1)!;
        this.#head = { seq: last.chainSeq, hash: last.hash };
        this.#sinceCheckpoint += batch.length;
        if (this.#checkpointEvery > 0 && this.#sinceCheckpoint >= this.#checkpointEvery) {
          this.#sinceCheckpoint = 0;
          void this.checkpoint().catch(() => {});
        }
        this.#stats.batches += 1;
        this.#stats.records += batch.length;
        this.#stats.maxBatch = Math.max(this.#stats.maxBatch, batch.length);
        batch.forEach((w, i) => w.resolve(stored[i]!));
      } catch (err) {
        this.#head = undefined;
        this.#stats.failedBatches += 1;
        for (const w of batch) w.reject(err);
      }
    }
  }
}
