/** A fixed-window rate limit per key (session or address), so a console page cannot be hammered harder than the API. */
export class RateLimit {
  readonly #windows = new Map<string, { start: number; count: number }>();
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  constructor(limit: number, windowMs: number, now: () => number = Date.now) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Counts one hit; returns the seconds to wait when over the limit, else 0. */
  hit(key: string): number {
    const now = this.#now();
    let w = this.#windows.get(key);
    if (!w || now - w.start >= this.#windowMs) {
      if (this.#windows.size > 50_000) this.#windows.clear(); // bounded memory under a flood of keys
      w = { start: now, count: 0 };
      this.#windows.set(key, w);
    }
    w.count++;
    return w.count > this.#limit ? Math.ceil((w.start + this.#windowMs - now) / 1000) : 0;
  }
}
