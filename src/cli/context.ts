/** What commands share: IO, global flags, the broker URL, the credential store and a broker client. */
import { JitError } from "../errors.ts";
import { parseDuration } from "../policy/duration.ts";
import type { CredentialStore } from "../auth/credential-store.ts";
import { BrokerClient, type ClientInfo } from "./client.ts";
import { loadConfig, normaliseBrokerUrl, resolveBrokerUrl } from "./config.ts";
import type { IO } from "./io.ts";
import type { JsonSelection } from "./json-output.ts";
import type { UpdateCheck } from "./update-notice.ts";

export interface GlobalFlags {
  json?: boolean;
  /** `--json FIELDS` (main rewrites it to the hidden --json-fields). */
  jsonFields?: string;
  jq?: string;
  broker?: string;
}

export interface CliContext {
  io: IO;
  version: string;
  /** Set by main before a command runs. */
  flags: GlobalFlags;
  /** `--json FIELDS` / `--jq`, checked before the command ran (json-output.ts); undefined for plain --json. */
  json?: JsonSelection;
  /** The daily broker version check started beside the command; main calls finish() once it is done. */
  updateCheck?: UpdateCheck;
  /** A command that exits with another program's status (`jit proxy -- COMMAND`) sets it; main returns it. */
  exitCode?: number;
  /** The broker URL from --broker, JIT_BROKER or the config file; a usage error when none is set. */
  brokerUrl(): string;
  /** The credential store; `announce` prints the plaintext-file warning (login does, other commands stay quiet). */
  credentials(opts?: { announce?: boolean }): Promise<CredentialStore>;
  /** A broker client; `timeoutMs` (default 10 s) bounds the wait for an answer: only a query may take minutes. */
  client(opts?: { auth?: boolean; info?: ClientInfo; timeoutMs?: number }): Promise<BrokerClient>;
}

/** How long a command waits for the broker's answer before saying it did not answer (a query asks for longer). */
export const ANSWER_TIMEOUT_MS = 10_000;

/** Creates the context for one CLI invocation. */
export function createContext(io: IO, version: string): CliContext {
  let store: CredentialStore | undefined;
  const ctx: CliContext = {
    io,
    version,
    flags: {},
    brokerUrl() {
      const raw = resolveBrokerUrl(ctx.flags.broker, io.env, loadConfig(io.env));
      if (!raw) {
        throw new JitError("usage", "no broker configured", {
          hint: "run: jit login --broker URL (jit broker dev prints the URL), or set JIT_BROKER",
        });
      }
      return normaliseBrokerUrl(raw);
    },
    async credentials(opts = {}) {
      if (!store) {
        const { openCredentialStore } = await import("../auth/credential-store.ts");
        // With --json, stderr carries only the error object, so the plaintext-store warning is not printed there.
        const warn = (line: string) => (opts.announce && !ctx.flags.json ? io.err(io.colorErr.yellow(line)) : undefined);
        store = openCredentialStore(io.env, { warn });
      }
      return store;
    },
    async client(opts = {}) {
      const baseUrl = ctx.brokerUrl();
      const info = opts.info ?? { kind: "cli", name: "jit", version };
      // JIT_TIMEOUT lengthens (or, in tests, shortens) the wait for an answer; a query's own longer limit stays.
      const timeoutMs = opts.timeoutMs ?? (io.env.JIT_TIMEOUT ? parseDuration(io.env.JIT_TIMEOUT) : ANSWER_TIMEOUT_MS);
      if (opts.auth === false) return new BrokerClient({ baseUrl, client: info, timeoutMs });
      const { currentToken } = await import("../auth/session.ts");
      const creds = await ctx.credentials();
      const { defaultLockDir } = await import("../auth/refresh-lock.ts");
      return new BrokerClient({ baseUrl, client: info, timeoutMs, token: () => currentToken(creds, baseUrl, { lockDir: defaultLockDir(io.env) }) });
    },
  };
  return ctx;
}
