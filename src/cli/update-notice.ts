/**
 * The update notice, like gh's: once a day per broker, jit asks the broker's /healthz for its version, in parallel
 * with the command, and says on stderr when this CLI is older than the broker or of another release line. It never
 * slows a command: an answer that has not arrived when the command ends is dropped (and asked for again next time).
 * Off with JIT_NO_UPDATE_NOTIFIER=1, in CI, with --json/--jq, and unless both stdout and stderr are terminals.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../auth/atomic-write.ts";
import { cacheDir } from "./config.ts";
import type { IO } from "./io.ts";

/** How often a broker's version is asked for (and so how often the notice can appear). */
export const CHECK_EVERY_MS = 24 * 60 * 60 * 1000;
/** The /healthz request gives up after this long, whatever the command does. */
const ASK_TIMEOUT_MS = 2000;

/** Commands that print their own version note, serve, feed a shell or never talk to a broker: no notice. */
const QUIET = new Set(["version", "completion", "__complete", "mcp", "broker", "proxy", "help", "demo", "config", "policy check"]);

const num = (v: string) => v.split(/[-+]/)[0]!.split(".").map((p) => Number.parseInt(p, 10) || 0);

/** -1, 0 or 1 as version a is older than, equal to or newer than b (a pre-release is older than its release). */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [num(a), num(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  const [pa, pb] = [a.includes("-"), b.includes("-")];
  return pa === pb ? 0 : pa ? -1 : 1;
}

/** "major.minor" differs (for 0.x releases; "major" from 1.0 on): the CLI and broker may disagree about the API. */
export function incompatible(cli: string, broker: string): boolean {
  const mm = (v: string) => v.split(".").slice(0, v.startsWith("0.") ? 2 : 1).join(".");
  return mm(cli) !== mm(broker);
}

/** The notice for a CLI and broker version, or undefined when there is nothing to say. */
export function noticeText(cli: string, broker: string, url: string): string | undefined {
  const order = compareVersions(cli, broker);
  if (order < 0) {
    return `A newer jit is available: the broker at ${url} runs ${broker}, this CLI is ${cli}.\n` +
      `To update: npm install -g jit-access@${broker} (in a checkout: git pull && npm ci)`;
  }
  if (order > 0 && incompatible(cli, broker)) {
    return `This CLI (${cli}) is a newer release than the broker at ${url} (${broker}) and may not match its API.\n` +
      `Ask the broker's operators to update it, or use jit ${broker}.`;
  }
  return undefined;
}

/** $XDG_CACHE_HOME/jit/update-check.json (default ~/.cache/jit/): when each broker was last asked. */
export function cacheFile(env: NodeJS.ProcessEnv): string {
  return join(cacheDir(env), "update-check.json");
}

type Checks = Record<string, { checked_at: string; version: string | null }>;

function readChecks(file: string): Checks {
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as { brokers?: Checks };
    return v && typeof v.brokers === "object" && v.brokers !== null ? v.brokers : {};
  } catch {
    return {}; // none yet, or unreadable: a cache only
  }
}

function writeCheck(file: string, url: string, version: string | null, now: number): void {
  try {
    const brokers = readChecks(file);
    brokers[url] = { checked_at: new Date(now).toISOString(), version };
    mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
    writeFileAtomic(file, `${JSON.stringify({ brokers }, null, 2)}\n`, 0o600);
  } catch {
    // A cache that cannot be written only means asking again next time.
  }
}

/** Whether the notice may run at all for this invocation (cheap: no file, no network). */
export function noticeWanted(io: IO, command: string, json: boolean): boolean {
  const off = io.env.JIT_NO_UPDATE_NOTIFIER;
  if (off !== undefined && off !== "" && off !== "0") return false;
  if (io.env.CI !== undefined && io.env.CI !== "" && io.env.CI !== "false") return false;
  // As gh: only for a person at a terminal, not for `jit query ... > out.csv` or a script reading stdout.
  return io.isStderrTTY && io.isStdoutTTY && !json && !QUIET.has(command) && !QUIET.has(command.split(" ")[0]!);
}

export interface UpdateCheck {
  /** Prints the notice if the broker's answer is in; never waits for it. */
  finish(): void;
}

/** Starts the daily check for `url`, or returns undefined when it was done in the last day. */
export function startUpdateCheck(io: IO, cliVersion: string, url: string, now: number = Date.now()): UpdateCheck | undefined {
  const file = cacheFile(io.env);
  const last = readChecks(file)[url];
  if (last && now - Date.parse(last.checked_at) < CHECK_EVERY_MS) return undefined;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ASK_TIMEOUT_MS);
  timer.unref();
  let answer: { version: string | null } | undefined;
  fetch(new URL("/healthz", `${url}/`), { headers: { accept: "application/json", "user-agent": `jit/${cliVersion}` }, signal: controller.signal })
    .then(async (res) => {
      const body = (await res.json()) as { version?: unknown };
      answer = { version: res.ok && typeof body.version === "string" ? body.version : null };
    })
    .catch(() => {
      // Unreachable or not a jit broker: the command itself says so when it matters.
    })
    .finally(() => clearTimeout(timer));
  return {
    finish() {
      if (!answer) {
        controller.abort();
        return;
      }
      writeCheck(file, url, answer.version, now);
      const text = answer.version ? noticeText(cliVersion, answer.version, url) : undefined;
      if (text) io.err(`\n${io.colorErr.yellow(text)}`);
    },
  };
}
