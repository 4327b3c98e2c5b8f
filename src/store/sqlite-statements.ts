/**
 * Prepared statements of one SQLite connection, kept by their text: preparing is most of the cost of a small query
 * (the audit append, a grant lookup), and a store runs the same few dozen statements all day. Bounded, since a few
 * statements are built from the filters they are given.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { Lru } from "../warehouse/lru.ts";

export type Prepare = (sql: string) => StatementSync;

export function statementCache(db: DatabaseSync, max = 256): Prepare {
  const kept = new Lru<string, StatementSync>(max);
  return (sql) => {
    let stmt = kept.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      kept.set(sql, stmt);
    }
    return stmt;
  };
}
