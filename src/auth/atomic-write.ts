import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

/**
 * Replaces `path` with `data` so that readers see either the old or the new file, never a partial one:
 * a temp file beside it (created exclusively with `mode`), fsync, rename, fsync of the directory.
 */
export function writeFileAtomic(path: string, data: string, mode: number): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  // "wx" refuses to follow or reuse anything already at the temp name.
  const fd = openSync(tmp, "wx", mode);
  try {
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never written; nothing to clean
    }
    throw err;
  }
  fsyncDir(dir);
}

/** Makes a rename or unlink in `dir` durable; best effort where directories cannot be opened (Windows). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // not supported on this platform; the rename itself is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
