import { isLoopbackHost } from "../net/loopback.ts";
import { mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { JitError, usageError } from "../errors.ts";
import { writeFileAtomic } from "../auth/atomic-write.ts";

/** The CLI's config file; keys jit does not know are kept when it rewrites the file. */
export interface JitConfig {
  broker?: string;
  /** The pager for long output on a terminal; "" turns paging off. */
  pager?: string;
  [key: string]: unknown;
}

/** `$XDG_CONFIG_HOME/jit/config.json`, defaulting to `~/.config/jit/config.json`. */
export function configPath(env: NodeJS.ProcessEnv): string {
  // The XDG spec says a relative value is invalid and must be ignored.
  const base = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : undefined;
  return join(base ?? join(env.HOME || homedir(), ".config"), "jit", "config.json");
}

/** `$XDG_CACHE_HOME/jit` (default `~/.cache/jit`): the person's own caches (update check, completion answers). */
export function cacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(env.HOME || homedir(), ".cache");
  return join(base, "jit");
}

/** Reads the config file; a missing file is `{}`, an unreadable or malformed one is a usage error. */
export function loadConfig(env: NodeJS.ProcessEnv): JitConfig {
  const path = configPath(env);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new JitError("usage", `cannot read config file ${path}: ${(err as Error).message}`, {
      hint: `fix or delete ${path}`,
      cause: err,
    });
  }
  const bad = (why: string) => usageError(`config file ${path} ${why}`, `fix or delete ${path}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad("is not valid JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw bad("must hold a JSON object");
  const cfg = parsed as JitConfig;
  if (cfg.broker !== undefined && typeof cfg.broker !== "string") throw bad('has a "broker" that is not a string');
  if (cfg.pager !== undefined && typeof cfg.pager !== "string") throw bad('has a "pager" that is not a string');
  return cfg;
}

/**
 * Writes `cfg` over the keys already in the file (unknown keys survive; a key set to undefined is removed),
 * atomically, creating the directory when needed.
 */
export function saveConfig(env: NodeJS.ProcessEnv, cfg: JitConfig): void {
  const path = configPath(env);
  const merged: JitConfig = { ...loadConfig(env), ...cfg };
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, `${JSON.stringify(merged, null, 2)}\n`, 0o644);
  } catch (err) {
    throw new JitError("usage", `cannot write config file ${path}: ${(err as Error).message}`, {
      hint: `check the permissions of ${dirname(path)}`,
      cause: err,
    });
  }
}

/** The broker URL to use, normalised: the --broker flag, else JIT_BROKER, else the config file; undefined when none. */
export function resolveBrokerUrl(flag: string | undefined, env: NodeJS.ProcessEnv, cfg: JitConfig): string | undefined {
  if (flag !== undefined) return normaliseBrokerUrl(flag);
  if (env.JIT_BROKER) return normaliseBrokerUrl(env.JIT_BROKER);
  if (cfg.broker !== undefined) return normaliseBrokerUrl(cfg.broker);
  return undefined;
}

/**
 * Checks and canonicalises a broker URL: http(s), no credentials/query/fragment, no trailing slash,
 * and plain http only to a loopback host (the bearer token would otherwise travel in clear).
 */
export function normaliseBrokerUrl(raw: string): string {
  const text = raw.trim();
  const hint = "pass a broker URL such as --broker https://jit.example.com";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Name what was given, minus anything that looks like a password.
    const shown = text.replace(/\/\/[^/@]*@/, "//***@");
    throw usageError(`broker URL ${JSON.stringify(shown)} is not a valid URL`, hint);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw usageError(`broker URL scheme ${JSON.stringify(url.protocol)} is not supported; use https`, hint);
  }
  // Never echo the URL here: the userinfo part may be a password.
  if (url.username || url.password) throw usageError("broker URL must not contain a user name or password", hint);
  if (url.search || url.hash || url.href.includes("?") || url.href.includes("#")) {
    throw usageError(`broker URL ${url.origin}${url.pathname} must not have a query or fragment`, hint);
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw usageError(
      `broker URL ${url.origin} uses plain http to a non-loopback host; tokens would travel unencrypted`,
      `use https://${url.host}${url.pathname.replace(/\/+$/, "")}`,
    );
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}
