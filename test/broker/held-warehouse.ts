/** A warehouse wrapper whose runs wait until released (or cancelled): a query held in flight, deterministically. */
import { type RunOptions, type Warehouse, WarehouseQueryError } from "../../src/warehouse/types.ts";

export interface HeldWarehouse extends Warehouse {
  /** Resolves when the n-th run (1-based) has started and is being held. */
  started(n?: number): Promise<void>;
  /** Lets every held run (and later ones) go on. */
  release(): void;
  /** Runs whose signal fired while held. */
  readonly cancelled: number;
}

/** Wraps `inner`: run() blocks until release() or until its signal aborts (then it throws as a cancelled job does). */
export function heldWarehouse(inner: Warehouse): HeldWarehouse {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let runs = 0;
  let cancelled = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    get defaultProject() { return inner.defaultProject; },
    dryRun: (sql) => inner.dryRun(sql),
    listDatasets: () => inner.listDatasets(),
    listTables: (d) => inner.listTables(d),
    tableSchema: (t) => inner.tableSchema(t),
    close: () => inner.close(),
    async run(sql: string, opts: RunOptions) {
      runs++;
      for (const w of waiters.filter((x) => x.n <= runs)) w.resolve();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => { cancelled++; reject(new WarehouseQueryError("Query cancelled", { reason: "stopped" })); };
        if (opts.signal?.aborted) return onAbort();
        opts.signal?.addEventListener("abort", onAbort, { once: true });
        void released.then(() => { opts.signal?.removeEventListener("abort", onAbort); resolve(); });
      });
      return inner.run(sql, opts);
    },
    started(n = 1) {
      if (runs >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    release,
    get cancelled() { return cancelled; },
  };
}
