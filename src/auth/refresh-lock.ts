/** A lock file around token refresh, so two jit processes never spend the same rotating refresh token. */
import { createHash } from "node:crypto";
import { mkdirSync, openSync, closeSync, statSync, unlinkSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const STALE_MS = 30_000;
const WAIT_MS = 20_000;

/** Where refresh locks live: beside the file credential store, in the user's state directory. */
export function defaultLockDir(env: NodeJS.ProcessEnv): string {
  const state = env.XDG_STATE_HOME?.startsWith("/") ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(state, "jit", "locks");
}

/** Runs fn holding the refresh lock for `key` (a broker URL); a lock older than 30 s is taken over as stale. */
export async function withRefreshLock<T>(lockDir: string, key: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(lockDir, { recursive: true, mode: 0o700 });
  const path = join(lockDir, `refresh-${createHash("sha256").update(key).digest("hex").slice(0, 16)}.lock`);
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      try {
        if (Date.now() - statSync(path).mtimeMs > STALE_MS) unlinkSync(path);
      } catch {
        // gone already: try again
      }
      // Past the wait, refresh anyway: a stuck lock must not lock the person out.
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(path);
    } catch {
      // taken over as stale by another process
    }
  }
}
