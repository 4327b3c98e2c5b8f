/** Idle DuckDB connections kept for reuse, so a dry run and a run borrow one instead of each opening and closing its own. */
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";

/** How many idle connections stay open; beyond that a returned connection is closed. */
export const MAX_IDLE_CONNECTIONS = 32;

/** A pool without a cap on borrowed connections: one that is never returned is not waited for (the broker bounds in-flight work itself). */
export class ConnectionPool {
  readonly #instance: DuckDBInstance;
  readonly #idle: DuckDBConnection[] = [];
  readonly #maxIdle: number;
  #closed = false;
  /** Connections opened so far (tests and benchmarks read it to see reuse happen). */
  opened = 0;

  constructor(instance: DuckDBInstance, maxIdle = MAX_IDLE_CONNECTIONS) {
    this.#instance = instance;
    this.#maxIdle = maxIdle;
  }

  /** An idle connection, or a new one. */
  async acquire(): Promise<DuckDBConnection> {
    const idle = this.#idle.pop();
    if (idle) return idle;
    this.opened++;
    return this.#instance.connect();
  }

  /**
   * Gives a connection back. Only one whose statement ended normally is kept: after an error or an interrupt it is
   * closed, so no state of a failed or cancelled query (DuckDB's interrupt flag included) reaches the next one.
   */
  release(conn: DuckDBConnection, reusable: boolean): void {
    if (reusable && !this.#closed && this.#idle.length < this.#maxIdle) this.#idle.push(conn);
    else conn.closeSync();
  }

  /** Closes the idle connections; connections still borrowed are closed when they come back. */
  close(): void {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) conn.closeSync();
  }
}
