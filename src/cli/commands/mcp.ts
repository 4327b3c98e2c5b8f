/** `jit mcp` (an MCP server on stdio acting as the signed-in person) and `jit mcp config --client NAME`. */
import { BrokerClient } from "../client.ts";
import type { CliContext } from "../context.ts";
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
export async function mcpConfigCommand(ctx: CliContext, server: string[], opts: { client: string }): Promise<void> {
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
  if (ctx.flags.json) return printJson(ctx, snippet);
  const { io } = ctx;
  if (snippet.command_line) {
    io.err(io.colorErr.dim("# Run this (add --scope user to use jit in every project):"));
    io.out(snippet.command_line);
    io.out();
    io.err(io.colorErr.dim("# or put this in .mcp.json at the project root:"));
  } else {
    io.err(io.colorErr.dim(`# Put this in ${snippet.file}:`));
  }
  io.out(JSON.stringify(snippet.config, null, 2));
  io.err(io.colorErr.dim("# Sign in first with: jit login   (the MCP client's config holds no credential)"));
  if (server.length) io.err(io.colorErr.dim("# The server runs under jit proxy: point its BigQuery endpoint at $BIGQUERY_EMULATOR_HOST (see docs/proxy.md)"));
}
