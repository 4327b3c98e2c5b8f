/** A per-address budget of refused sign-ins: past it, a caller is told to wait and their refusals are no longer audited one by one. */

export interface RateLimiter {
  /** Counts one refusal from `address`: the seconds to wait once the budget is spent (else 0), and whether this is the first refusal past it. */
  refuse(address: string): { wait: number; firstOver: boolean };
}

/**
 * Fixed windows per address: at most `max` refusals per `windowMs`. The table is bounded (oldest
 * windows dropped first), so a flood of addresses cannot grow it without limit.
 */
export function createRateLimiter(opts: { max: number; windowMs: number; now: () => number; maxAddresses?: number }): RateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  const cap = opts.maxAddresses ?? 10_000;
  const current = (address: string) => {
    const w = windows.get(address);
    if (w && opts.now() - w.start < opts.windowMs) return w;
    if (w) windows.delete(address);
    return undefined;
  };
  const wait = (w: { start: number }) => Math.max(1, Math.ceil((w.start + opts.windowMs - opts.now()) / 1000));
  return {
    refuse(address) {
      let w = current(address);
      if (!w) {
        if (windows.size >= cap) windows.delete(windows.keys().next().value!);
        w = { start: opts.now(), count: 0 };
        windows.set(address, w);
      }
      w.count++;
      return { wait: w.count > opts.max ? wait(w) : 0, firstOver: w.count === opts.max + 1 };
    },
  };
}
