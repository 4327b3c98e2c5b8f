/** A lock file around token refresh, so two jit processes never spend the same rotating refresh token. */
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join } from "node:path";

/** Longer than any refresh takes (one HTTP round trip to the IdP, bounded by its timeouts): a lock this old is abandoned. */
const STALE_MS = 30_000;
const WAIT_MS = 20_000;
/** A breaker killed between its checks leaves its marker; one this old is ignored. */
const BREAK_STALE_MS = 5_000;

/** Where refresh locks live: beside the file credential store, in the user's state directory. */
export function defaultLockDir(env: NodeJS.ProcessEnv): string {
  const state = env.XDG_STATE_HOME?.startsWith("/") ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(state, "jit", "locks");
}

/** What a lock file says about its holder: "pid host". */
interface Holder { pid: number; host: string }

function readHolder(path: string): { holder: Holder | null; mtimeMs: number } | null {
  try {
    const mtimeMs = statSync(path).mtimeMs;
    const [pid, host] = readFileSync(path, "utf8").trim().split(/\s+/);
    const n = Number(pid);
    return { holder: Number.isSafeInteger(n) && n > 0 ? { pid: n, host: host ?? "" } : null, mtimeMs };
  } catch {
    return null;
  }
}

/** Whether a process with this pid runs here; EPERM means it runs under another user, which still counts as alive. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Abandoned: its holder was a process on this machine that no longer runs, or it is older than any refresh.
 * A lock whose content is not written yet (just created) is judged by age only.
 */
function abandoned(lock: { holder: Holder | null; mtimeMs: number }): boolean {
  if (Date.now() - lock.mtimeMs > STALE_MS) return true;
  return lock.holder !== null && lock.holder.host === hostname() && !alive(lock.holder.pid);
}

/**
 * Removes the lock at `path` when it is abandoned. Breakers take turns through a marker file and re-read the lock
 * once they hold it, so a lock just taken by a live process (after another breaker removed the dead one) is kept.
 */
function breakIfAbandoned(path: string): void {
  const first = readHolder(path);
  if (!first || !abandoned(first)) return;
  const marker = `${path}.break`;
  let fd: number;
  try {
    fd = openSync(marker, "wx", 0o600);
  } catch {
    try {
      if (Date.now() - statSync(marker).mtimeMs > BREAK_STALE_MS) unlinkSync(marker);
    } catch {
      // gone already
    }
    return;
  }
  try {
    const now = readHolder(path);
    if (now && abandoned(now)) unlinkSync(path);
  } catch {
    // removed by its holder meanwhile
  } finally {
    closeSync(fd);
    try {
      unlinkSync(marker);
    } catch {
      // removed as stale by another breaker
    }
  }
}

/** Runs fn holding the refresh lock for `key` (a broker URL); a lock whose holder died, or older than 30 s, is taken over at once. */
export async function withRefreshLock<T>(lockDir: string, key: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(lockDir, { recursive: true, mode: 0o700 });
  const path = join(lockDir, `refresh-${createHash("sha256").update(key).digest("hex").slice(0, 16)}.lock`);
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid} ${hostname()}`);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      breakIfAbandoned(path);
      // Past the wait, refresh anyway: a stuck lock must not lock the person out.
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    // Only our own lock: after a takeover past the deadline the file may be another process's.
    const mine = readHolder(path)?.holder;
    if (mine?.pid === process.pid && mine.host === hostname()) {
      try {
        unlinkSync(path);
      } catch {
        // taken over as stale by another process
      }
    }
  }
}
