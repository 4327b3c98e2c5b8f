/** The SQLite store's files on disk: created private whatever the umask, refused when others may read them, and identified by inode. */
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { JitError } from "../errors.ts";

/** The suffixes SQLite adds beside the database in WAL mode; they hold the same rows (SQL text, e-mails) as the file. */
const COMPANIONS = ["", "-wal", "-shm"];

/** Which file a path names right now (a replaced file has another inode). */
export interface FileIdentity { dev: number; ino: number }

const identity = (path: string): FileIdentity | null => {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
};

/** The database file and its write-ahead log as they are now (null for a file that is not there). */
export function storeIdentity(path: string): { db: FileIdentity | null; wal: FileIdentity | null } {
  return { db: identity(path), wal: identity(`${path}-wal`) };
}

const modeOf = (m: number) => (m & 0o777).toString(8).padStart(4, "0");

/**
 * Makes the directory (0700, set explicitly: the umask must not loosen or tighten it), creates the database file
 * 0600 before SQLite does (SQLite gives its -wal and -shm files the database file's mode), and refuses any of the
 * three files when others may read or write it, as `jit login` does for the credentials file.
 */
export function prepareStoreFiles(path: string): void {
  const dir = dirname(path);
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (created) for (let d = dir; d.length >= created.length && d !== dirname(d); d = dirname(d)) chmodSync(d, 0o700);
  for (const suffix of COMPANIONS) {
    const file = `${path}${suffix}`;
    let mode: number;
    try {
      mode = statSync(file).mode;
    } catch {
      continue;
    }
    if ((mode & 0o077) !== 0) {
      const all = COMPANIONS.map((s) => `${path}${s}`).join(" ");
      throw new JitError("usage", `the SQLite store file ${file} is accessible by other users (mode ${modeOf(mode)}); refusing to use it`, {
        hint: `it holds SQL text and e-mail addresses: chmod 600 ${all} (the files that exist), then start the broker again`,
      });
    }
  }
  // "a": create if missing, never truncate; mode applies only on creation, so set it explicitly on the new file.
  const fd = openSync(path, "a", 0o600);
  try {
    if (fstatSync(fd).size === 0) chmodSync(path, 0o600);
  } finally {
    closeSync(fd);
  }
}
