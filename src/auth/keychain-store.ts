import type { AsyncEntry } from "@napi-rs/keyring";
import { JitError } from "../errors.ts";
import type { CredentialStore } from "./credential-store.ts";

/** Keychain service name; one entry per account (the broker URL). */
export const KEYCHAIN_SERVICE = "jit";

/** The way out when no keychain is usable, shown with every keychain failure. */
export const FILE_STORE_HINT =
  "set JIT_CREDENTIAL_STORE=file to keep tokens in $XDG_STATE_HOME/jit/credentials.json (mode 0600)";

type Keyring = typeof import("@napi-rs/keyring");
let keyring: Promise<Keyring> | undefined;

/** The native module is loaded only when a command touches credentials, so `jit --help` stays fast. */
function loadKeyring(): Promise<Keyring> {
  keyring ??= import("@napi-rs/keyring");
  return keyring;
}

function keychainName(): string {
  switch (process.platform) {
    case "linux":
      return "Secret Service (D-Bus)";
    case "darwin":
      return "macOS Keychain";
    case "win32":
      return "Windows Credential Manager";
    default:
      return "OS keychain";
  }
}

function unavailable(location: string, err: unknown): JitError {
  const cause = err instanceof Error ? err.message : String(err);
  return new JitError("unauthenticated", `no usable OS keychain (${location}): ${cause.replace(/\s+/g, " ").trim()}`, {
    hint: FILE_STORE_HINT,
    cause: err,
  });
}

/** Opens the OS keychain store; nothing touches the keychain until the first get/set/delete. */
export function openKeychainStore(): CredentialStore {
  const location = keychainName();

  async function entry(account: string): Promise<AsyncEntry> {
    if (!account) throw new JitError("internal", "credential store: empty account name");
    try {
      const { AsyncEntry } = await loadKeyring();
      // Pinning the Secret Service makes the constructor throw when D-Bus or the service is missing;
      // the default would silently fall back to the kernel keyring (memory only, lost on reboot).
      // The option is ignored on macOS and Windows, which have a single store.
      return new AsyncEntry(KEYCHAIN_SERVICE, account, { linux: { store: "secret-service" } });
    } catch (err) {
      throw unavailable(location, err);
    }
  }

  return {
    kind: "keychain",
    location,
    async get(account) {
      const e = await entry(account);
      try {
        return (await e.getPassword()) ?? undefined;
      } catch (err) {
        throw unavailable(location, err);
      }
    },
    async set(account, secret) {
      // The Secret Service refuses empty values; say so rather than blame the keychain.
      if (!secret) throw new JitError("internal", "credential store: refusing to store an empty secret");
      const e = await entry(account);
      try {
        await e.setPassword(secret);
      } catch (err) {
        // A half-applied write must not leave a secret behind (nor a stale one the caller thinks replaced).
        await e.deletePassword().catch(() => false);
        throw unavailable(location, err);
      }
    },
    async delete(account) {
      const e = await entry(account);
      try {
        return await e.deletePassword();
      } catch (err) {
        throw unavailable(location, err);
      }
    },
  };
}
