import { JitError } from "../errors.ts";
import { credentialsFilePath, openFileStore } from "./file-store.ts";
import { openKeychainStore } from "./keychain-store.ts";

/** Where the CLI keeps its tokens: one secret per account (the broker URL). */
export interface CredentialStore {
  readonly kind: "keychain" | "file";
  /** Human-readable place, e.g. "Secret Service (D-Bus)" or the credentials file path. */
  readonly location: string;
  get(account: string): Promise<string | undefined>;
  set(account: string, secret: string): Promise<void>;
  /** Resolves true when a secret was removed, false when there was none. */
  delete(account: string): Promise<boolean>;
}

/**
 * Picks the store from JIT_CREDENTIAL_STORE: unset/"keychain" → OS keychain (never a silent fallback),
 * "file" → a 0600 JSON file under $XDG_STATE_HOME/jit (warned about once, here), anything else → usage.
 */
export function openCredentialStore(env: NodeJS.ProcessEnv, opts: { warn?: (line: string) => void } = {}): CredentialStore {
  const choice = env.JIT_CREDENTIAL_STORE;
  if (choice === undefined || choice === "" || choice === "keychain") return openKeychainStore();
  if (choice === "file") {
    const path = credentialsFilePath(env);
    opts.warn?.(`warning: JIT_CREDENTIAL_STORE=file keeps tokens in a plaintext file: ${path} (mode 0600)`);
    return openFileStore(path);
  }
  throw new JitError("usage", `JIT_CREDENTIAL_STORE must be "keychain" or "file", not ${JSON.stringify(choice)}`, {
    hint: "unset JIT_CREDENTIAL_STORE to use the OS keychain, or set JIT_CREDENTIAL_STORE=file",
  });
}
