/**
 * Graceful shutdown (SIGTERM, SIGINT): stop accepting work, report not ready, let in-flight requests finish within the
 * grace period, then cancel what is left (their warehouse jobs are stopped and their audit records written by the
 * query pipeline), wait briefly for those records, and only then close the store. The listener stays open while
 * draining so that a request still routed here (a load balancer has not yet seen /readyz go 503) is answered 503
 * with Retry-After at once rather than with a refused connection; it closes once nothing is in flight.
 */
import type { Server } from "node:http";
import type { InFlightGate } from "./in-flight.ts";

/** After cancelling, how long the cancelled requests get to write their audit records and answer. */
const CANCEL_WAIT_MS = 10_000;

export interface ShutdownReport {
  /** Requests still in flight when the grace period ended, which were cancelled. */
  cancelled: number;
  /** Requests that had not finished even after being cancelled. */
  abandoned: number;
  waitedMs: number;
}

/** Drains `servers` through `gate`; the caller closes the store and warehouse afterwards. */
export async function drain(opts: { servers: Server[]; gate: InFlightGate; graceMs: number; log(line: string): void }): Promise<ShutdownReport> {
  const started = performance.now();
  const { gate, log } = opts;
  gate.drain(); // /readyz answers 503 from now on; new requests are refused with Retry-After
  for (const s of opts.servers) s.closeIdleConnections();
  const inFlight = gate.count;
  if (inFlight > 0) log(JSON.stringify({ msg: "draining", in_flight: inFlight, grace_ms: opts.graceMs }));
  let cancelled = 0;
  if (!(await gate.idle(opts.graceMs))) {
    cancelled = gate.count;
    log(JSON.stringify({ msg: "shutdown grace period over; cancelling in-flight requests", cancelled }));
    gate.abortAll();
    await gate.idle(CANCEL_WAIT_MS);
  }
  const abandoned = gate.count;
  if (abandoned > 0) log(JSON.stringify({ msg: "requests did not finish after cancelling; closing anyway", abandoned }));
  const closed = opts.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
  for (const s of opts.servers) s.closeAllConnections();
  await Promise.all(closed);
  return { cancelled, abandoned, waitedMs: Math.round(performance.now() - started) };
}
