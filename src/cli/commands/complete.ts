/**
 * `jit __complete KIND [WORD]`: values for the shell completion scripts, asked of the broker as the signed-in person
 * (so a person is offered only what the broker lets them see). One line each, "value<TAB>description". Built to be
 * called on every Tab: about a second at most, answers kept 60 s in $XDG_CACHE_HOME/jit/complete, never a refresh
 * of the session (an interrupted refresh could spend the rotating refresh token), never a message: no answer, no lines.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../auth/atomic-write.ts";
import { BrokerClient } from "../client.ts";
import { cacheDir } from "../config.ts";
import type { CliContext } from "../context.ts";
import { humanRelative } from "../human.ts";

/** What `jit __complete` can list. */
export const COMPLETION_KINDS = ["datasets", "tables", "requests", "grants"] as const;
export type CompletionKind = (typeof COMPLETION_KINDS)[number];

/** The broker is given this long for the whole answer; a completion that waits longer is worse than none. */
const DEADLINE_MS = 1000;
/** How long an answer is reused: Tab pressed again and again asks the broker once. */
export const CACHE_TTL_MS = 60_000;
/** A prefix such as "demo.sales." narrows tables to one dataset; without one, at most this many datasets are listed. */
const MAX_DATASETS = 20;

type Line = [value: string, description: string];

function cached(file: string, now: number): Line[] | undefined {
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as { at: number; lines: Line[] };
    return now - v.at < CACHE_TTL_MS && now >= v.at ? v.lines : undefined;
  } catch {
    return undefined;
  }
}

function store(dir: string, file: string, lines: Line[], now: number): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(file, JSON.stringify({ at: now, lines }), 0o600);
  } catch {
    // only a cache
  }
}

/** A client that sends the stored token as it is: expired or about to be, and there is nothing to complete. */
async function client(ctx: CliContext): Promise<BrokerClient> {
  const baseUrl = ctx.brokerUrl();
  const { loadSession } = await import("../../auth/session.ts");
  const session = await loadSession(await ctx.credentials(), baseUrl);
  if (!session || session.expires_at - 30 < Date.now() / 1000) throw new Error("no live session");
  return new BrokerClient({ baseUrl, client: { kind: "cli", name: "jit-complete", version: ctx.version }, timeoutMs: DEADLINE_MS, token: async () => session.id_token });
}

async function lines(c: BrokerClient, kind: CompletionKind, word: string): Promise<Line[]> {
  switch (kind) {
    case "datasets": {
      const { datasets } = await c.get<{ datasets: Array<{ dataset: string; access: string; grant_expires_at: string | null }> }>("/v1/datasets");
      return datasets.map((d) => [d.dataset, d.grant_expires_at ? `granted, expires ${humanRelative(d.grant_expires_at)}` : d.access.replace("_", " ")]);
    }
    case "tables": {
      const one = /^([\w-]+\.[\w-]+)\./.exec(word)?.[1];
      const sets = one ? [one] : (await c.get<{ datasets: Array<{ dataset: string }> }>("/v1/datasets")).datasets.map((d) => d.dataset).slice(0, MAX_DATASETS);
      const lists = await Promise.allSettled(sets.map((d) => c.get<{ tables: Array<{ table: string }> }>(`/v1/datasets/${encodeURIComponent(d)}/tables`)));
      return lists.flatMap((l) => (l.status === "fulfilled" ? l.value.tables.map((t): Line => [t.table, "table"]) : []));
    }
    case "requests": {
      const { requests } = await c.get<{ requests: Array<{ id: string; requester: string; datasets: string[]; reason: string }> }>("/v1/requests?pending=1");
      return requests.map((r) => [r.id, `${r.requester}: ${r.datasets.join(", ")}${r.reason ? ` (${r.reason.slice(0, 40)})` : ""}`]);
    }
    case "grants": {
      const { grants } = await c.get<{ grants: Array<{ id: string; datasets: string[]; expires_at: string }> }>("/v1/grants");
      return grants.map((g) => [g.id, `${g.datasets.join(", ")}, expires ${humanRelative(g.expires_at)}`]);
    }
  }
}

/** Prints the completion values of `kind`; prints nothing (exit 0) when it cannot know them in time. */
export async function completeCommand(ctx: CliContext, kind: string, word: string | undefined): Promise<void> {
  if (!(COMPLETION_KINDS as readonly string[]).includes(kind)) return;
  const now = Date.now();
  let broker: string;
  try {
    broker = ctx.brokerUrl();
  } catch {
    return;
  }
  const scope = kind === "tables" ? (/^([\w-]+\.[\w-]+)\./.exec(word ?? "")?.[1] ?? "*") : "";
  const dir = join(cacheDir(ctx.io.env), "complete");
  const file = join(dir, `${createHash("sha256").update(`${broker}\n${kind}\n${scope}`).digest("hex").slice(0, 32)}.json`);
  let found = cached(file, now);
  if (!found) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), DEADLINE_MS);
    });
    found = await Promise.race([client(ctx).then((c) => lines(c, kind as CompletionKind, word ?? "")).catch(() => undefined), late]);
    clearTimeout(timer);
    if (found) store(dir, file, found, now);
  }
  // Tabs and newlines inside a value or description would break the shell's reading of the lines.
  const clean = (s: string) => s.replace(/[\t\r\n]+/g, " ");
  for (const [value, description] of found ?? []) ctx.io.out(`${clean(value)}\t${clean(description)}`);
}
