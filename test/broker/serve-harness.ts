/** `broker serve` in-process (startBroker) from a real broker.yaml in a temp dir, against the dev IdP on its own server. */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBrokerConfig } from "../../src/broker/config.ts";
import { type RunningBroker, startBroker } from "../../src/broker/serve.ts";
import { devSignIn } from "../../src/demo/sign-in.ts";
import { writeBrokerConfig } from "../fixtures/broker-config.ts";
import { startDevIdp, type RunningIdp } from "../idp/harness.ts";

export interface ServeHarness {
  dir: string;
  idp: RunningIdp;
  broker: RunningBroker;
  policyFile: string;
  logs: string[];
  /** A fresh id_token for a demo user from the IdP. */
  token(user: string): Promise<string>;
  close(): Promise<void>;
}

/** Writes broker.yaml (demo warehouse, SQLite, the demo policy, a 0600 key) plus `extra` lines, and starts the broker. */
export async function startServeHarness(extra: string[] = [], opts: { idp?: RunningIdp; identity?: string; store?: string } = {}): Promise<ServeHarness> {
  const dir = mkdtempSync(join(tmpdir(), "jit-serve-h-"));
  mkdirSync(dir, { recursive: true });
  const idp = opts.idp ?? (await startDevIdp());
  const { config, policy: policyFile } = writeBrokerConfig(dir, { issuer: idp.issuer, identity: opts.identity, store: opts.store ?? `store: { sqlite: ${join(dir, "jit.db")} }`, extra });
  const logs: string[] = [];
  const broker = await startBroker(await loadBrokerConfig(config), { version: "test", log: (l) => logs.push(l) });
  const idpBase = idp.issuer.replace(/\/oidc$/, "");
  return {
    dir, idp, broker, policyFile, logs,
    token: async (user) => (await devSignIn(idpBase, idp.issuer, user)).idToken,
    async close() {
      await broker.close();
      if (!opts.idp) await idp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Parses Prometheus text exposition into samples: name, labels, value. */
export function parseMetrics(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, "$1");
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `where`. */
export function sample(samples: ReturnType<typeof parseMetrics>, name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}
