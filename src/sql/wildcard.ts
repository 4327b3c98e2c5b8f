/**
 * BigQuery wildcard tables (`project.dataset.prefix*`): a union of every table of the dataset whose name starts with
 * the prefix, plus the `_TABLE_SUFFIX` pseudo column. The analyser does not list tables itself; the caller expands each
 * wildcard (expandWildcard over the dataset's table names) and passes the matches and their schemas to analyze().
 */
import type { TableRef } from "../warehouse/types.ts";
import { cannotAnalyse, lc } from "./parse.ts";
import { col, type Col, type Env, type RangeVar } from "./scope.ts";

/** A wildcard table as written, lower-cased. */
export interface WildcardRef {
  project: string;
  dataset: string;
  /** The table name before the `*` (may be empty: every table of the dataset). */
  prefix: string;
  /** "project.dataset.prefix*": the key of AnalyzeOptions.wildcards. */
  key: string;
}

/** True when a table path holds a `*` anywhere. */
export function isWildcardPath(parts: string[]): boolean {
  return parts.some((p) => p.includes("*"));
}

/** Validates a wildcard path: dataset-qualified, with one `*`, at the end of the table name (BigQuery's rule). */
export function resolveWildcard(parts: string[], defaultProject: string): WildcardRef {
  const p = parts.map(lc);
  const name = parts.join(".");
  const table = p[p.length - 1]!;
  const star = table.indexOf("*");
  if (p.length < 2 || p.length > 3 || p.slice(0, -1).some((x) => x === "" || x.includes("*")) || star !== table.length - 1) {
    throw cannotAnalyse(`${name} is not a valid wildcard table`, "a wildcard table is `dataset.prefix*` or `project.dataset.prefix*`, in backticks, with one * at the end");
  }
  const [project, dataset] = p.length === 3 ? [p[0]!, p[1]!] : [lc(defaultProject), p[0]!];
  const prefix = table.slice(0, -1);
  return { project, dataset, prefix, key: `${project}.${dataset}.${prefix}*` };
}

/**
 * The tables a wildcard reads, from the names of its dataset's tables (warehouse.listTables): every name that starts
 * with the prefix, case-insensitively. A superset of BigQuery's case-sensitive match, which only adds sources.
 */
export function expandWildcard(w: WildcardRef, tableNames: readonly string[]): TableRef[] {
  return tableNames
    .filter((t) => lc(t).startsWith(w.prefix) && !t.includes("."))
    .map((table) => ({ project: w.project, dataset: w.dataset, table }));
}

const SUFFIX = "_TABLE_SUFFIX";

/**
 * A wildcard's range variable. A column read through it derives from that column of every matching table that has
 * it; `*` expands to the union of the matches' columns (BigQuery uses the newest table's schema: the union covers
 * whichever that is, and a result with other columns fails the broker's shape check). `_TABLE_SUFFIX` is a table name
 * fragment, derived from no column, usable anywhere and absent from `*`.
 */
export function wildcardVar(w: WildcardRef, alias: string | null, env: Env): RangeVar {
  const matches = env.ctx.wildcards.get(w.key);
  if (!matches) {
    throw cannotAnalyse(`wildcard table ${w.key} was not expanded`, "the broker lists a wildcard's tables before analysis; report this query to the jit maintainers");
  }
  if (matches.length === 0) {
    throw cannotAnalyse(`wildcard table ${w.key} matches no table in ${w.project}.${w.dataset}`, `check the table names with: jit tables ${w.project}.${w.dataset}`);
  }
  const base = `${w.project}.${w.dataset}.`;
  const columns = new Map<string, Col>();
  for (const key of [...new Set(matches.map(lc))].sort()) {
    const table = key.slice(base.length);
    // The caller's expansion must stay inside the wildcard: anything else would read a table no grant check saw.
    if (!key.startsWith(base + w.prefix) || table.includes(".")) throw cannotAnalyse(`${key} does not match wildcard table ${w.key}`);
    const fields = env.ctx.schemas.get(key);
    if (!fields) {
      throw cannotAnalyse(`no schema for table ${key}`, `check the table name with: jit tables ${w.project}.${w.dataset}`);
    }
    env.ctx.tables.set(key, { project: w.project, dataset: w.dataset, table });
    for (const f of fields) {
      const source = `${key}.${lc(f.name)}`;
      const c = columns.get(lc(f.name));
      if (c) c.sources.add(source);
      else columns.set(lc(f.name), col(f.name, new Set([source]), true));
    }
  }
  return {
    alias: alias ?? `${w.prefix}*`,
    columns: [...columns.values()],
    opaque: null,
    pseudo: [col(SUFFIX, new Set())],
  };
}
