/**
 * Long-poll waits on a request: GET /v1/requests/:id?wait=SECONDS answers once the request leaves pending or the
 * wait elapses. A decision on this replica wakes the waiters at once (an in-process signal per store); a decision on
 * another replica sharing the store is seen by a store read every second. Nothing here writes to the audit log: the
 * front door recorded the one read this call is.
 */
import { EventEmitter } from "node:events";
import { MAX_WAIT_SECONDS } from "../api/schemas.ts";
import type { AccessRequest, Store } from "../store/types.ts";
import type { BrokerDeps } from "./context.ts";

/** How often a waiting call reads the store, for decisions made by another replica. */
const RECHECK_MS = 1000;

const signals = new WeakMap<Store, EventEmitter>();

function signalOf(store: Store): EventEmitter {
  let e = signals.get(store);
  if (!e) {
    e = new EventEmitter();
    e.setMaxListeners(0); // one listener per waiting client; the front door's connection bounds cap them
    signals.set(store, e);
  }
  return e;
}

/** Wakes the calls waiting on request `id` (after its state changed in `deps.store`). */
export function announceChange(deps: BrokerDeps, id: string): void {
  signals.get(deps.store)?.emit(id);
}

/**
 * Waits up to `seconds` for request `id` to leave pending; resolves with the request as it then is (possibly still
 * pending). `expire` lapses due requests (so a wait past a request's expiry answers "expired"), `signal` ends the
 * wait early when the client goes away.
 */
export async function waitWhilePending(
  deps: BrokerDeps,
  id: string,
  seconds: number,
  opts: { signal: AbortSignal; expire: () => Promise<void> },
): Promise<AccessRequest | null> {
  const deadline = Date.now() + Math.min(seconds, MAX_WAIT_SECONDS) * 1000;
  const events = signalOf(deps.store);
  let q = await deps.store.getRequest(id);
  while (q && q.state === "pending" && Date.now() < deadline && !opts.signal.aborted) {
    if (q.expiresAt <= deps.now()) {
      await opts.expire();
    } else {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          events.off(id, done);
          opts.signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(RECHECK_MS, Math.max(0, deadline - Date.now())));
        events.on(id, done);
        opts.signal.addEventListener("abort", done);
      });
    }
    q = await deps.store.getRequest(id);
  }
  return q;
}
