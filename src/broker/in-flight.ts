/**
 * The count of requests in progress, bounded: past the cap a request is refused at once (503 + Retry-After)
 * instead of waiting unread in a socket buffer for seconds; while the broker drains, every new request is.
 * Shutdown waits on it (idle) and cancels what is left (abortAll).
 */
import { JitError } from "../errors.ts";

/**
 * The default `max_in_flight`. By Little's law a cap is latency x throughput: one broker on two cores answers
 * 700-850 requests/s (bench/README.md), so 256 in progress is about a third of a second of queued work, the most a
 * caller should wait before being told to come back. It also stays above the 200 closed-loop connections of the load bench,
 * which must see no refusals; an open-ended flood (thousands of sockets) is what gets shed.
 */
export const DEFAULT_MAX_IN_FLIGHT = 256;

export type ShedReason = "overloaded" | "draining";

export interface InFlightGate {
  /** Counts one request in, or says why it is refused. */
  enter(): ShedReason | null;
  /** Counts one request out (once per successful enter). */
  leave(): void;
  readonly count: number;
  readonly max: number;
  readonly draining: boolean;
  /** From now on every new request is refused with "draining". */
  drain(): void;
  /** Fires when drain() is called. */
  readonly drainSignal: AbortSignal;
  /** Fires when shutdown gives up waiting: in-flight requests cancel their warehouse jobs. */
  readonly signal: AbortSignal;
  abortAll(): void;
  /** Resolves once nothing is in flight, or after `timeoutMs`; true when idle. */
  idle(timeoutMs: number): Promise<boolean>;
}

/** A gate admitting at most `max` requests at once. */
export function createInFlightGate(max: number = DEFAULT_MAX_IN_FLIGHT): InFlightGate {
  let count = 0;
  let draining = false;
  const aborter = new AbortController();
  const drainer = new AbortController();
  const waiters = new Set<() => void>();
  return {
    enter() {
      if (draining) return "draining";
      if (count >= max) return "overloaded";
      count++;
      return null;
    },
    leave() {
      count = Math.max(0, count - 1);
      if (count === 0) for (const w of [...waiters]) w();
    },
    get count() { return count; },
    max,
    get draining() { return draining; },
    drain() {
      draining = true;
      drainer.abort(new Error("the broker is draining"));
    },
    drainSignal: drainer.signal,
    signal: aborter.signal,
    abortAll() { aborter.abort(new Error("the broker is shutting down")); },
    idle(timeoutMs) {
      if (count === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer);
          waiters.delete(onIdle);
          resolve(ok);
        };
        const onIdle = () => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(onIdle);
      });
    },
  };
}

/** How long a refused caller should wait, in seconds. */
export const SHED_RETRY_AFTER_S = 1;

/** The refusal for a shed request: 503, Retry-After, a body naming the reason (exit 7 in the CLI). */
export function shedError(reason: ShedReason, max: number): JitError {
  const wait = SHED_RETRY_AFTER_S;
  const message = reason === "draining"
    ? `the broker is shutting down and takes no new requests; retry in ${wait} s (another replica, or this one once restarted, will answer)`
    : `the broker is at capacity (${max} requests in progress); retry in ${wait} s`;
  const hint = reason === "draining"
    ? `retry in ${wait} s`
    : `retry in ${wait} s; if this persists, the broker's operators must add replicas or raise max_in_flight`;
  return new JitError("unreachable", message, {
    hint,
    details: { status: 503, reason, retry_after_s: wait, headers: { "retry-after": String(wait) } },
  });
}

/** The answer to a request that shutdown cancelled after its grace period (its warehouse job is stopped, its audit record written). */
export function cancelledByShutdownError(): JitError {
  const wait = SHED_RETRY_AFTER_S;
  return new JitError("unreachable", `the broker shut down before this request finished; it was cancelled (nothing was returned); retry in ${wait} s`, {
    hint: `retry in ${wait} s`,
    details: { status: 503, reason: "shutdown", retry_after_s: wait, headers: { "retry-after": String(wait) } },
  });
}
