/**
 * Webhook notifications of the grant lifecycle (pending, approved, denied, expired, revoked), fire-and-forget:
 * `notify()` only enqueues, a small pool delivers with a timeout per try and retries with backoff, a full queue
 * drops (and logs) rather than grow, and `close()` gives in-flight deliveries a moment before aborting them.
 */
import { type NotifyConfig, type NotifyKind, NOTIFY_KINDS, safeOrigin } from "./config.ts";
import { type NotifyEvent, slackPayload } from "./slack.ts";

export { NOTIFY_KINDS, safeOrigin, validateNotifyConfig } from "./config.ts";
export type { NotifyConfig, NotifyIssue, NotifyKind } from "./config.ts";
export { consoleLink, slackEscape, slackPayload } from "./slack.ts";
export type { NotifyEvent } from "./slack.ts";

export interface NotifierOptions {
  log(line: string): void;
  fetch?: typeof fetch;
  /** Deliveries waiting for a free slot; beyond this, new ones are dropped. Default 500. */
  queueLimit?: number;
  /** Deliveries in flight at once. Default 4. */
  concurrency?: number;
  /** First retry delay; doubles each try. Default 500 ms. */
  backoffMs?: number;
  /** The longest wait a Retry-After header can impose. Default 30 s. */
  maxRetryAfterMs?: number;
  /** How long close() waits for in-flight and queued deliveries before aborting them. Default 3 s. */
  closeGraceMs?: number;
}

export interface Notifier {
  /** Enqueues the event for every webhook subscribed to its kind; never throws, never waits. */
  notify(e: NotifyEvent): void;
  /** Stops taking events, waits briefly for deliveries, then aborts what is left. */
  close(): Promise<void>;
}

interface Delivery {
  url: string;
  origin: string;
  body: string;
  label: string;
}

type TryOutcome = { ok: true } | { ok: false; retry: boolean; why: string; waitMs?: number };

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_RETRIES = 2;

/** Reads Retry-After (seconds or an HTTP date) as milliseconds from now. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const s = header.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Creates the broker's notifier; with no config (or no webhooks) it is a no-op. */
export function createNotifier(cfg: NotifyConfig | undefined, opts: NotifierOptions): Notifier {
  const hooks = cfg?.webhooks ?? [];
  if (hooks.length === 0) return { notify() {}, async close() {} };
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = cfg?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tries = 1 + (cfg?.retries ?? DEFAULT_RETRIES);
  const queueLimit = opts.queueLimit ?? 500;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const backoffMs = opts.backoffMs ?? 500;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 30_000;
  const closeGraceMs = opts.closeGraceMs ?? 3_000;

  const queue: Delivery[] = [];
  const running = new Set<Promise<void>>();
  const stop = new AbortController();
  let closed = false;
  let pumpScheduled = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stop.signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        stop.signal.removeEventListener("abort", done);
        resolve();
      }
      stop.signal.addEventListener("abort", done, { once: true });
    });

  async function tryOnce(d: Delivery): Promise<TryOutcome> {
    try {
      const res = await doFetch(d.url, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8", "user-agent": "jit-broker" },
        body: d.body,
        // A redirect could carry the event to a host nobody configured.
        redirect: "manual",
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(timeoutMs)]),
      });
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return { ok: true };
      const why = `HTTP ${res.status}`;
      if (res.status === 429 || res.status >= 500) return { ok: false, retry: true, why, waitMs: retryAfterMs(res.headers.get("retry-after")) };
      return { ok: false, retry: false, why };
    } catch (err) {
      // Only a code or name: an error message could quote the URL, whose path is the secret.
      const e = err as { name?: string; cause?: { code?: string } };
      const why = e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : stop.signal.aborted ? "aborted at shutdown" : (e.cause?.code ?? e.name ?? "network error");
      return { ok: false, retry: !stop.signal.aborted, why };
    }
  }

  async function deliver(d: Delivery): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const out = await tryOnce(d);
      if (out.ok) return;
      if (!out.retry || attempt >= tries || stop.signal.aborted) {
        opts.log(`notify: gave up on ${d.label} to ${d.origin} after ${attempt} ${attempt === 1 ? "try" : "tries"}: ${out.why}`);
        return;
      }
      const backoff = backoffMs * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4);
      await sleep(Math.min(out.waitMs ?? backoff, maxRetryAfterMs));
    }
  }

  function pump(): void {
    pumpScheduled = false;
    while (running.size < concurrency && queue.length > 0) {
      const d = queue.shift()!;
      const p: Promise<void> = deliver(d)
        .catch((err) => opts.log(`notify: internal error delivering ${d.label}: ${(err as Error).name}`))
        .finally(() => {
          running.delete(p);
          if (queue.length > 0) schedulePump();
        });
      running.add(p);
    }
  }

  function schedulePump(): void {
    if (pumpScheduled) return;
    pumpScheduled = true;
    // Deliveries start on a later turn so notify() costs the caller only the payload's JSON.
    setImmediate(pump);
  }

  return {
    notify(e) {
      const label = `${e?.kind} event for request ${e?.request?.id}`;
      try {
        if (closed) return void opts.log(`notify: dropped ${label}: the notifier is closed`);
        const targets = hooks.filter((h) => (h.events ?? NOTIFY_KINDS).includes(e.kind as NotifyKind));
        if (targets.length === 0) return;
        const body = JSON.stringify(slackPayload(e));
        for (const h of targets) {
          const origin = safeOrigin(h.url);
          if (queue.length >= queueLimit) {
            opts.log(`notify: queue full (${queueLimit} waiting), dropped ${label} to ${origin}`);
            continue;
          }
          queue.push({ url: h.url, origin, body, label });
        }
        schedulePump();
      } catch (err) {
        // Notifications never break the request path that raised them.
        opts.log(`notify: could not enqueue ${label}: ${(err as Error).name}`);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      const drained = (async () => {
        while (queue.length > 0 || running.size > 0 || pumpScheduled) {
          if (running.size > 0) await Promise.race(running);
          else {
            await new Promise<void>((r) => setImmediate(() => {
              if (!pumpScheduled) pump();
              r();
            }));
          }
        }
      })();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), closeGraceMs)));
      const first = await Promise.race([drained.then(() => "drained" as const), grace]);
      clearTimeout(timer);
      if (first === "timeout") {
        const left = queue.length;
        queue.length = 0;
        stop.abort();
        await Promise.allSettled([...running]);
        if (left > 0) opts.log(`notify: dropped ${left} undelivered notification${left === 1 ? "" : "s"} at shutdown`);
      }
    },
  };
}
