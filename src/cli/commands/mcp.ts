/** `jit mcp` (an MCP server on stdio acting as the signed-in person) and `jit mcp config --client NAME`. */
import { BrokerClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import type { ClientSnippet } from "../../mcp/config-snippet.ts";
import { printJson } from "./util.ts";

/** Serves MCP on stdin/stdout until the client goes away; stdout carries only the protocol, everything else goes to stderr. */
export async function mcpCommand(ctx: CliContext): Promise<void> {
  const [{ serveStdio }, { tokenSuppliers }] = await Promise.all([import("../../mcp/server.ts"), import("../../mcp/token.ts")]);
  const tokenFor = tokenSuppliers(() => ctx.credentials());
  await serveStdio({
    version: ctx.version,
    // A fresh client per call: the broker URL and the credential store are read every time, so a later `jit login` just works.
    // Built here rather than with ctx.client() so that parallel tool calls share one token refresh.
    client: async (info) => {
      const baseUrl = ctx.brokerUrl();
      return new BrokerClient({ baseUrl, client: info, token: tokenFor(baseUrl) });
    },
    log: (line) => ctx.io.err(line),
    stdin: ctx.io.stdin,
    stdout: ctx.io.stdout,
    stop: ctx.io.untilShutdown(),
  });
}

/** Prints the config snippet that adds jit to an MCP client, with this installation's absolute paths. */
export async function mcpConfigCommand(ctx: CliContext, server: string[], opts: { client: string; merge?: string }): Promise<void> {
  const { MCP_CLIENTS, clientSnippet, jitBinPath, jitLaunch } = await import("../../mcp/config-snippet.ts");
  const name = MCP_CLIENTS.find((c) => c === opts.client);
  if (!name) {
    const { JitError } = await import("../../errors.ts");
    throw new JitError("usage", `unknown MCP client "${opts.client}"`, { hint: `use one of: ${MCP_CLIENTS.join(", ")}` });
  }
  const launch = jitLaunch({
    nodePath: process.execPath,
    binPath: jitBinPath(),
    broker: ctx.flags.broker ?? ctx.io.env.JIT_BROKER,
    env: ctx.io.env,
    proxied: server,
  });
  const snippet = clientSnippet(name, launch);
  if (opts.merge !== undefined) return mergeInto(ctx, opts.merge, snippet);
  if (ctx.flags.json) return printJson(ctx, snippet);
  const { io } = ctx;
  if (snippet.command_line) {
    // stdout carries the command alone, so `jit mcp config --client claude-code | sh` runs it; the JSON form goes to stderr.
    io.err(io.colorErr.dim("# Run this (add --scope user to use jit in every project):"));
    io.out(snippet.command_line);
    io.err(io.colorErr.dim("# or put this in .mcp.json at the project root (or: --merge .mcp.json):"));
    io.err(JSON.stringify(snippet.config, null, 2));
  } else {
    io.err(io.colorErr.dim(`# Put this in ${snippet.file} (or: --merge FILE):`));
    io.out(JSON.stringify(snippet.config, null, 2));
  }
  io.err(io.colorErr.dim("# Sign in first with: jit login   (the MCP client's config holds no credential)"));
  if (server.length) io.err(io.colorErr.dim("# The server runs under jit proxy: point its BigQuery endpoint at $BIGQUERY_EMULATOR_HOST (see docs/proxy.md)"));
}

/** `--merge FILE`: adds jit's server to an existing client config (created when missing), keeping every other server. */
async function mergeInto(ctx: CliContext, file: string, snippet: ClientSnippet): Promise<void> {
  const [{ mkdirSync, readFileSync, statSync }, { dirname, resolve }, { writeFileAtomic }, { MergeError, mergeConfig }, { JitError }] = await Promise.all([
    import("node:fs"), import("node:path"), import("../../auth/atomic-write.ts"), import("../../mcp/config-snippet.ts"), import("../../errors.ts"),
  ]);
  const path = resolve(file);
  let existing: string | undefined;
  let mode = 0o644;
  try {
    existing = readFileSync(path, "utf8");
    mode = statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new JitError("usage", `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  let merged;
  try {
    merged = mergeConfig(existing, snippet);
  } catch (err) {
    if (err instanceof MergeError) {
      throw new JitError("usage", `cannot merge into ${file}: ${err.message}`, { hint: `jit mcp config --client ${snippet.client} prints the entry to add` });
    }
    throw err;
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, merged.text, mode);
  } catch (err) {
    throw new JitError("usage", `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const name = Object.keys(Object.values(snippet.config)[0] as object)[0]!;
  if (ctx.flags.json) return printJson(ctx, { file: path, server: name, action: merged.action, kept: merged.kept });
  const kept = merged.kept.length ? ` (kept ${merged.kept.join(", ")})` : "";
  ctx.io.err(`${merged.action === "added" ? `Added ${name} to` : `Updated ${name} in`} ${file}${kept}.`);
  ctx.io.err(ctx.io.colorErr.dim("# Sign in first with: jit login   (the MCP client's config holds no credential)"));
}
