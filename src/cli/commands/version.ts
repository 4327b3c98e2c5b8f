/** `jit version`: the CLI's version and, when a broker is configured, the broker's (from its /healthz). */
import type { CliContext } from "../context.ts";
import { incompatible } from "../update-notice.ts";
import { printJson } from "./util.ts";

export { incompatible } from "../update-notice.ts";

/** Prints the versions; an unreachable broker is reported, not an error (the CLI's version is still the answer). */
export async function versionCommand(ctx: CliContext): Promise<void> {
  let url: string | undefined;
  let broker: { version?: string; error?: string } | undefined;
  try {
    url = ctx.brokerUrl();
  } catch {
    url = undefined;
  }
  if (url) {
    try {
      const client = await ctx.client({ auth: false, timeoutMs: 3000 });
      const health = await client.get<{ version?: string }>("/healthz", { auth: false });
      broker = { version: health.version };
    } catch (err) {
      broker = { error: (err as Error).message };
    }
  }
  if (ctx.flags.json) return printJson(ctx, { cli: ctx.version, node: process.versions.node, broker: url ? { url, ...broker } : null });
  const { io } = ctx;
  io.out(`jit ${ctx.version} (node ${process.versions.node})`);
  if (!url) return io.out("broker: none configured (jit login --broker URL)");
  if (broker?.version) io.out(`broker ${broker.version} at ${url}`);
  else io.out(`broker at ${url}: ${broker?.error ?? "no version reported"}`);
  if (broker?.version && incompatible(ctx.version, broker.version)) {
    io.err(io.colorErr.yellow(`note: this CLI (${ctx.version}) and the broker (${broker.version}) are different releases; update the older one`));
  }
}
