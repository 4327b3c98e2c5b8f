import { chmodSync, closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { JitError } from "../errors.ts";
import { fsyncDir, writeFileAtomic } from "./atomic-write.ts";
import type { CredentialStore } from "./credential-store.ts";

interface CredentialsFile {
  version: 1;
  entries: Record<string, string>;
}

/** `$XDG_STATE_HOME/jit/credentials.json`, defaulting to `~/.local/state/jit/credentials.json`. */
export function credentialsFilePath(env: NodeJS.ProcessEnv): string {
  // The XDG spec says a relative value is invalid and must be ignored.
  const state = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : undefined;
  return join(state ?? join(env.HOME || homedir(), ".local", "state"), "jit", "credentials.json");
}

const POSIX = process.platform !== "win32";

function refuse(message: string, hint: string, cause?: unknown): JitError {
  return new JitError("unauthenticated", message, { hint, cause });
}

/** Reads the entries, refusing a file other users could read or swap; a missing file is empty. */
function readEntries(path: string): Record<string, string> {
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink planted at the path must not redirect where tokens are read from.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return Object.create(null);
    throw refuse(`cannot read credentials file ${path}: ${(err as Error).message}`, `delete ${path} and run jit login`, err);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refuse(`credentials file ${path} is not a regular file`, `delete ${path} and run jit login`);
    if (POSIX && typeof process.getuid === "function" && st.uid !== process.getuid()) {
      throw refuse(`credentials file ${path} is owned by another user`, `delete ${path} and run jit login`);
    }
    if (POSIX && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      throw refuse(`credentials file ${path} is accessible by other users (mode ${mode}); refusing to use it`, `chmod 600 ${path}`);
    }
    text = readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
  const corrupt = () => refuse(`credentials file ${path} is corrupt`, `delete ${path} and run jit login`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corrupt();
  }
  const file = parsed as Partial<CredentialsFile> | null;
  if (!file || typeof file !== "object" || file.version !== 1 || !file.entries || typeof file.entries !== "object") {
    throw corrupt();
  }
  // No prototype, so an account named like an Object.prototype key stays plain data.
  const entries: Record<string, string> = Object.create(null);
  for (const [account, secret] of Object.entries(file.entries)) {
    if (typeof secret !== "string") throw corrupt();
    entries[account] = secret;
  }
  return entries;
}

/** Creates the jit state directory with mode 0700, tightening it if it already exists looser. */
function ensureDir(dir: string): void {
  mkdirSync(dirname(dir), { recursive: true });
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  if (POSIX && (statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

function writeEntries(path: string, entries: Record<string, string>): void {
  try {
    ensureDir(dirname(path));
    if (Object.keys(entries).length === 0) {
      try {
        unlinkSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      fsyncDir(dirname(path));
      return;
    }
    const file: CredentialsFile = { version: 1, entries };
    writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
  } catch (err) {
    throw refuse(`cannot write credentials file ${path}: ${(err as Error).message}`, `check the permissions of ${dirname(path)}`, err);
  }
}

/** A plaintext JSON credential store (mode 0600, directory 0700) for machines with no usable keychain. */
export function openFileStore(path: string): CredentialStore {
  return {
    kind: "file",
    location: path,
    async get(account) {
      const entries = readEntries(path);
      return Object.hasOwn(entries, account) ? entries[account] : undefined;
    },
    async set(account, secret) {
      if (!account) throw new JitError("internal", "credential store: empty account name");
      if (!secret) throw new JitError("internal", "credential store: refusing to store an empty secret");
      const entries = readEntries(path);
      entries[account] = secret;
      writeEntries(path, entries);
    },
    async delete(account) {
      const entries = readEntries(path);
      if (!Object.hasOwn(entries, account)) return false;
      delete entries[account];
      writeEntries(path, entries);
      return true;
    },
  };
}
